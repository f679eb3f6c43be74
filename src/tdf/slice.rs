//! Slices of a run: inclusive rt, 1/K0 and m/z ranges, and the per-frame work that applies the
//! 1/K0 and m/z ones to the peaks of a frame just decoded, before anything is converted.

use super::calib::{ImModel, MzModel};
use super::Error;

/// An inclusive range `[lo, hi]` of a slice option.
pub(crate) type Bounds = Option<(f64, f64)>;

/// Whether `v` lies in `b` (always, without a range).
pub(crate) fn inside(b: Bounds, v: f64) -> bool {
    b.is_none_or(|(lo, hi)| lo <= v && v <= hi)
}

/// A checked slice range.
pub(crate) fn bounds(what: &str, lo: f64, hi: f64) -> Result<Bounds, Error> {
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(Error::options(format!(
            "{what} {lo}:{hi}: expected LOW:HIGH with LOW <= HIGH"
        )));
    }
    Ok(Some((lo, hi)))
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Slice {
    pub(crate) mobility: Bounds,
    pub(crate) mz: Bounds,
}

impl Slice {
    pub(crate) fn any(&self) -> bool {
        self.mobility.is_some() || self.mz.is_some()
    }
}

/// The TOF indices `[lo, hi]` whose m/z lies in `[a, b]` under a model that rises over
/// `0..=last`, found by bisection; indices past `last` are tested one by one.
fn tof_bounds(mz: &MzModel, (a, b): (f64, f64), last: u32) -> (u32, u32) {
    // First index in 0..=last+1 whose m/z satisfies `above`.
    let first = |above: &dyn Fn(f64) -> bool| {
        let (mut lo, mut hi) = (0u64, u64::from(last) + 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if above(mz.mz(mid as u32)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    };
    let lo = first(&|m| m >= a);
    let hi_excl = first(&|m| m > b);
    if lo >= hi_excl {
        return (1, 0);
    }
    (lo as u32, (hi_excl - 1) as u32)
}

/// Keeps the peaks of the frame just decoded (`tof`/`intensity`, counts per scan in
/// `scan_peaks`) whose scan's 1/K0 and whose m/z lie in the slice; returns how many remain
/// (moved to the front, `scan_peaks` updated).
pub(crate) fn slice_frame(
    slice: &Slice,
    mz: &MzModel,
    im: &ImModel,
    samples: Option<u32>,
    scan_peaks: &mut [u32],
    tof: &mut [u32],
    intensity: &mut [u32],
) -> usize {
    let last = samples.map_or(399_999, |n| n - 1);
    let tofs = slice.mz.map(|b| (tof_bounds(mz, b, last), b));
    let tof_ok = |t: u32| match tofs {
        None => true,
        Some(((lo, hi), (a, b))) if t > last => {
            let m = mz.mz(t);
            lo <= hi && a <= m && m <= b
        }
        Some(((lo, hi), _)) => lo <= t && t <= hi,
    };
    let (mut from, mut to) = (0usize, 0usize);
    for (scan, count) in scan_peaks.iter_mut().enumerate() {
        let c = *count as usize;
        let scan_ok = slice.mobility.is_none_or(|(a, b)| {
            let v = im.im(scan as f64);
            a <= v && v <= b
        });
        let start = to;
        if scan_ok {
            match tofs {
                None => {
                    tof.copy_within(from..from + c, to);
                    intensity.copy_within(from..from + c, to);
                    to += c;
                }
                // Every index is at most `last` (checked against DigitizerNumSamples): keep
                // without a branch per peak.
                Some(((lo, hi), _)) if samples.is_some() => {
                    for p in from..from + c {
                        let t = tof[p];
                        tof[to] = t;
                        intensity[to] = intensity[p];
                        to += usize::from(lo <= t && t <= hi);
                    }
                }
                Some(_) => {
                    for p in from..from + c {
                        if tof_ok(tof[p]) {
                            tof[to] = tof[p];
                            intensity[to] = intensity[p];
                            to += 1;
                        }
                    }
                }
            }
        }
        from += c;
        *count = (to - start) as u32;
    }
    to
}
