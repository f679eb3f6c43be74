//! TOF index → m/z and scan → 1/K0.
//!
//! **`bruker`** — the instrument's own models from `MzCalibration` and `TimsCalibration`, per
//! frame (these reproduce Bruker's SDK to the last digits):
//!
//! * m/z: `t = i·DigitizerTimebase + DigitizerDelay`; the frame's temperatures correct the
//!   coefficients, `β = 1 + [dC1·(T1ref − T1) + dC2·(T2ref − T2)]/10⁶`, `C1′ = C1·β`,
//!   `C2′ = C2/β`; the curve `t = C0 + √(10¹²/C1′)·s + C2′·s² + C3·s³`, `s = √(m + C4)`, is
//!   inverted: closed form when `C2 = C3 = 0` (then `m = (a + b·i)² − C4`, the kernels' form),
//!   the stable quadratic root when only `C3 = 0`, Newton's method otherwise. ModelType 2 has
//!   C0..C14: C3 and C4 repeat C0 and C2 (ignored), C5/C6 are an m/z window, C7 the number of
//!   correction coefficients C8.., and `m = m_base − Σₖ C₈₊ₖ·m_baseᵏ`.
//! * 1/K0 (ModelType 2): `V = C2 + (C3 − C2)/C1 · (scan − C4 − C0)`, clamped to `[C8, C9]`,
//!   `1/K0 = 1/(C6 + C7/V)`.
//!
//! **`estimate`** — timsrust's boundary models, for comparison and for files without the tables:
//! `m/z = (√lower + i·(√upper − √lower)/DigitizerNumSamples)²` over the acquisition range (widened
//! by 5 on each side for otofControl files) and 1/K0 linear from the upper to the lower bound of
//! the 1/K0 range over the largest `NumScans`.

use std::path::{Path, PathBuf};

use rawarrow_kernels::calib;

use super::meta::{FrameRow, Metadata};
use super::Error;

/// How m/z of one frame is computed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MzModel {
    /// `m = (a + b·i)² − c4` (ModelType 1 with C2 = C3 = 0, and the estimate with c4 = 0).
    Linear {
        /// Intercept.
        a: f64,
        /// Slope.
        b: f64,
        /// Subtracted after squaring.
        c4: f64,
    },
    /// The general curve (ModelType 1 with C2 or C3, and ModelType 2).
    Curve(Curve),
}

/// The general Bruker curve for one frame (temperature correction applied).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Curve {
    timebase: f64,
    delay: f64,
    c0: f64,
    /// √(10¹²/C1′)
    k: f64,
    c2: f64,
    c3: f64,
    c4: f64,
    /// ModelType 2 polynomial correction C8.. (empty for ModelType 1).
    poly: Vec<f64>,
}

impl Curve {
    /// m/z at TOF time `t` (not index).
    pub(crate) fn mz_at_time(&self, t: f64) -> f64 {
        let d = t - self.c0;
        let s = if self.c3 == 0.0 {
            if self.c2 == 0.0 {
                d / self.k
            } else {
                // c2·s² + k·s − d = 0, root without cancellation.
                let disc = self.k * self.k + 4.0 * self.c2 * d;
                2.0 * d / (self.k + disc.max(0.0).sqrt())
            }
        } else {
            // Newton from the linear guess; the curve is monotone over the calibrated range.
            let mut s = d / self.k;
            for _ in 0..50 {
                let f = self.k * s + self.c2 * s * s + self.c3 * s * s * s - d;
                let df = self.k + 2.0 * self.c2 * s + 3.0 * self.c3 * s * s;
                let step = f / df;
                s -= step;
                if step.abs() <= 1e-15 * s.abs() {
                    break;
                }
            }
            s
        };
        let base = s * s - self.c4;
        if self.poly.is_empty() {
            return base;
        }
        let mut corr = 0.0;
        for &c in self.poly.iter().rev() {
            corr = corr * base + c;
        }
        base - corr
    }

    /// m/z at TOF index `i`.
    pub(crate) fn mz(&self, i: u32) -> f64 {
        self.mz_at_time(f64::from(i) * self.timebase + self.delay)
    }
}

impl MzModel {
    /// Builds the model of a frame from an `MzCalibration` row (ModelType, DigitizerTimebase,
    /// DigitizerDelay, T1, T2, dC1, dC2, C0..) and the frame's T1/T2.
    pub(crate) fn bruker(row: &[f64], t1: f64, t2: f64) -> Result<Self, String> {
        if row.len() < 12 {
            return Err("MzCalibration row too short".into());
        }
        let model = row[0];
        let (timebase, delay, t1_ref, t2_ref, dc1, dc2) =
            (row[1], row[2], row[3], row[4], row[5], row[6]);
        let c = &row[7..];
        let beta = 1.0 + (dc1 * (t1_ref - t1) + dc2 * (t2_ref - t2)) / 1e6;
        let c1 = c[1] * beta;
        if !(c1 > 0.0 && c1.is_finite() && timebase.is_finite() && delay.is_finite()) {
            return Err(format!("MzCalibration C1 = {} gives no model", c[1]));
        }
        let k = (1e12 / c1).sqrt();
        let (c2, c3, c4, poly) = if model == 1.0 {
            (c[2] / beta, c[3], c[4], Vec::new())
        } else if model == 2.0 {
            if c.len() < 8 {
                return Err("MzCalibration ModelType 2 needs C0..C7".into());
            }
            let n = c[7];
            if !(0.0..=7.0).contains(&n) || n.fract() != 0.0 || c.len() < 8 + n as usize {
                return Err(format!("MzCalibration ModelType 2 with C7 = {n}"));
            }
            (c[2] / beta, 0.0, 0.0, c[8..8 + n as usize].to_vec())
        } else {
            return Err(format!("MzCalibration ModelType {model} is not supported"));
        };
        if c2 == 0.0 && c3 == 0.0 && poly.is_empty() {
            // m = ((t − C0)/k)² − C4 = (a + b·i)² − C4
            return Ok(Self::Linear {
                a: (delay - c[0]) / k,
                b: timebase / k,
                c4,
            });
        }
        Ok(Self::Curve(Curve {
            timebase,
            delay,
            c0: c[0],
            k,
            c2,
            c3,
            c4,
            poly,
        }))
    }

    /// timsrust's boundary model.
    pub(crate) fn estimate(mz_lower: f64, mz_upper: f64, num_samples: u32) -> Self {
        let a = mz_lower.sqrt();
        Self::Linear {
            a,
            b: (mz_upper.sqrt() - a) / f64::from(num_samples),
            c4: 0.0,
        }
    }

    /// m/z of every TOF index in `tof` into `out`.
    pub(crate) fn convert(&self, tof: &[u32], out: &mut [f64]) {
        match self {
            Self::Linear { a, b, c4 } => {
                calib::tof_to_mz(tof, *a, *b, out);
                if *c4 != 0.0 {
                    out.iter_mut().for_each(|m| *m -= c4);
                }
            }
            Self::Curve(c) => {
                for (o, &i) in out.iter_mut().zip(tof) {
                    *o = c.mz(i);
                }
            }
        }
    }

    /// m/z of one TOF index.
    pub(crate) fn mz(&self, i: u32) -> f64 {
        match self {
            Self::Linear { a, b, c4 } => {
                let x = a + b * f64::from(i);
                x * x - c4
            }
            Self::Curve(c) => c.mz(i),
        }
    }

    /// Whether m/z rises over TOF indices `0..=last` with no dip between the samples checked:
    /// the root `s = √(m + C4)` of the curve must not change sign inside the range (a square
    /// then falls before it rises), and 257 evenly spaced indices (both ends included) must give
    /// strictly rising values.
    pub(crate) fn rises_over(&self, last: u32) -> bool {
        let root_keeps_sign = match self {
            Self::Linear { a, b, .. } => *a >= 0.0 && a + b * f64::from(last) >= 0.0,
            Self::Curve(c) => c.delay - c.c0 >= 0.0 && c.timebase > 0.0,
        };
        let mut prev = f64::NEG_INFINITY;
        root_keeps_sign
            && (0..=256u64).all(|k| {
                let m = self.mz((u64::from(last) * k / 256) as u32);
                let up = m > prev || (k > 0 && last < 256 && m == prev);
                prev = m;
                up
            })
    }
}

/// How 1/K0 is computed from the scan number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ImModel {
    /// `c + d·scan` (the estimate).
    Linear {
        /// Intercept.
        c: f64,
        /// Slope.
        d: f64,
    },
    /// `TimsCalibration` ModelType 2: C0..C9.
    Bruker([f64; 10]),
}

impl ImModel {
    /// From a `TimsCalibration` row (ModelType, C0..C9).
    pub(crate) fn bruker(row: &[f64]) -> Result<Self, String> {
        if row.len() < 11 {
            return Err("TimsCalibration row too short".into());
        }
        if row[0] != 2.0 {
            return Err(format!(
                "TimsCalibration ModelType {} is not supported",
                row[0]
            ));
        }
        let mut c = [0.0; 10];
        c.copy_from_slice(&row[1..11]);
        if c[1] == 0.0 {
            return Err("TimsCalibration C1 = 0".into());
        }
        Ok(Self::Bruker(c))
    }

    /// timsrust's boundary model.
    pub(crate) fn estimate(im_lower: f64, im_upper: f64, max_scans: u32) -> Self {
        Self::Linear {
            c: im_upper,
            d: (im_lower - im_upper) / f64::from(max_scans),
        }
    }

    /// 1/K0 at a (possibly fractional) scan number.
    pub(crate) fn im(&self, scan: f64) -> f64 {
        match *self {
            Self::Linear { c, d } => c + d * scan,
            Self::Bruker(c) => {
                let v = c[2] + (c[3] - c[2]) / c[1] * (scan - c[4] - c[0]);
                let v = v.max(c[8]).min(c[9]);
                1.0 / (c[6] + c[7] / v)
            }
        }
    }

    /// 1/K0 of scans `0..n` into `out`.
    pub(crate) fn per_scan(&self, n: u32, out: &mut Vec<f64>) {
        // Once per scan, not per peak: a plain loop (the kernels' batch form would need a 0..n
        // index array per frame).
        out.clear();
        out.extend((0..n).map(|s| self.im(f64::from(s))));
    }
}

/// The m/z and 1/K0 models of frames: the run's estimate, or each frame's calibration rows.
pub(crate) struct Models {
    pub(crate) estimate: Option<(MzModel, ImModel)>,
    pub(crate) samples: Option<u32>,
    pub(crate) tdf: PathBuf,
}

impl Models {
    pub(crate) fn of(&self, meta: &Metadata, f: &FrameRow) -> Result<(MzModel, ImModel), Error> {
        if let Some((mz, im)) = &self.estimate {
            return Ok((mz.clone(), *im));
        }
        let bad = |m: String| Error::metadata(self.tdf.clone(), format!("frame {}: {m}", f.id));
        let (cal, t1, t2) = f
            .mz_calibration
            .ok_or_else(|| bad("no MzCalibration (use --calibration estimate)".into()))?;
        let row = meta
            .mz_calibrations
            .get(&cal)
            .ok_or_else(|| bad(format!("MzCalibration {cal} does not exist")))?;
        let tims = f.tims_calibration.unwrap_or(-1);
        let trow = meta
            .tims_calibrations
            .get(&tims)
            .ok_or_else(|| bad(format!("TimsCalibration {tims} does not exist")))?;
        let (mz, im) = (
            MzModel::bruker(row, t1, t2).map_err(bad)?,
            ImModel::bruker(trow).map_err(bad)?,
        );
        plausible(&mz, &im, self.samples, f.num_scans)
            .map_err(|m| bad(format!("MzCalibration {cal}/TimsCalibration {tims}: {m}")))?;
        Ok((mz, im))
    }
}

/// `GlobalMetadata` DigitizerNumSamples (`None` when absent): a positive integer.
pub(crate) fn digitizer_samples(meta: &Metadata, tdf: &Path) -> Result<Option<u32>, Error> {
    if !meta.global.contains_key("DigitizerNumSamples") {
        return Ok(None);
    }
    let n: u32 = meta.global_value(tdf, "DigitizerNumSamples")?;
    if n == 0 {
        return Err(Error::metadata(
            tdf.to_path_buf(),
            "GlobalMetadata DigitizerNumSamples = 0",
        ));
    }
    Ok(Some(n))
}

/// Plausible m/z (0 to 100,000 over the digitizer's range, rising) and 1/K0 (0 to 10 over the
/// frame's scans) from a frame's models: a damaged calibration row is an error, not a column of
/// NaN, infinities or 1e305.
pub(crate) fn plausible(
    mz: &MzModel,
    im: &ImModel,
    samples: Option<u32>,
    scans: u32,
) -> Result<(), String> {
    let last = samples.map_or(400_000, |n| n - 1);
    let (a, b) = (mz.mz(0), mz.mz(last));
    let ok = |v: f64| v.is_finite() && v > 0.0 && v < 100_000.0;
    if !(ok(a) && ok(b) && a < b && mz.rises_over(last)) {
        return Err(format!(
            "m/z {a} at TOF index 0 and {b} at {last} is not a plausible calibration \
             (expected rising values between 0 and 100,000)"
        ));
    }
    let (c, d) = (im.im(0.0), im.im(f64::from(scans)));
    let ok = |v: f64| v.is_finite() && v > 0.0 && v < 10.0;
    if !(ok(c) && ok(d)) {
        return Err(format!(
            "1/K0 {c} at scan 0 and {d} at scan {scans} is not a plausible calibration \
             (expected values between 0 and 10)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors of the issue (verified against Bruker's SDK output).
    #[test]
    fn model_type_1_vector() {
        let row = [
            1.0,
            1.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            317.864171402383,
            153159.143753129,
            0.0,
            0.0,
            0.0,
        ];
        let m = MzModel::bruker(&row, 0.0, 0.0).expect("model");
        let t = 64046.383323019574;
        // Timebase 1, delay 0: index = t is not an integer, so evaluate the linear form at t.
        let MzModel::Linear { a, b, c4 } = m else {
            panic!("closed form expected")
        };
        let x = a + b * t;
        let got = x * x - c4;
        assert!((got / 622.0289298169029 - 1.0).abs() < 1e-14, "{got}");
    }

    #[test]
    fn model_type_2_vector() {
        // opentims_test.d's MzCalibration, β = 1.
        let c = [
            319.7503329247901,
            154829.60678941052,
            -0.001040750146883009,
            319.7503329247901,
            -0.001040750146883009,
            225.951491,
            1519.712539,
            7.0,
            -0.0043683204947120545,
            0.00012177064496731006,
            -7.730837368063309e-07,
            1.9667556408381262e-09,
            -2.3445026756938558e-12,
            1.3101290806617338e-15,
            -2.770441001766999e-19,
        ];
        let mut row = vec![2.0, 0.2, 18290.0, 25.0, 26.0, 20.0, 0.0];
        row.extend(c);
        let MzModel::Curve(curve) = MzModel::bruker(&row, 25.0, 26.0).expect("model") else {
            panic!("curve expected")
        };
        let got = curve.mz_at_time(38605.54659793814);
        assert!((got / 226.9514077649847 - 1.0).abs() < 1e-14, "{got}");
    }

    #[test]
    fn tims_model_2_vector() {
        let row = [
            2.0,
            1.0,
            1537.0,
            173.77261506050363,
            91.09081367147019,
            33.333333333333336,
            1.0,
            0.01211464733299413,
            131.56604840664343,
            13.059915876294479,
            2205.4837699871955,
        ];
        let m = ImModel::bruker(&row).expect("model");
        let got = m.im(370.76797385620915);
        assert!((got - 1.1665195795397985).abs() < 1e-15, "{got}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// m → t → m over the calibrated range, for the quadratic (ModelType 1 with C2 and
        /// ModelType 2's base curve) and cubic (Newton) inversions, any frame temperatures.
        #[test]
        fn inversion_round_trips_everywhere(
            m in 20.0f64..3000.0,
            c2 in -0.003f64..0.003,
            c3 in -2e-7f64..2e-7,
            t1 in 24.0f64..27.0,
        ) {
            let mut row = vec![1.0, 0.2, 25000.0, 25.5, 26.5, 20.0, 3.0];
            row.extend([320.0, 155000.0, c2, c3, 0.0]);
            let MzModel::Curve(c) = MzModel::bruker(&row, t1, 26.0).expect("model") else {
                panic!("curve")
            };
            let s = m.sqrt();
            let t = c.c0 + c.k * s + c.c2 * s * s + c.c3 * s * s * s;
            let back = c.mz_at_time(t);
            proptest::prop_assert!((back / m - 1.0).abs() < 1e-11, "{} -> {}", m, back);
        }
    }

    #[test]
    fn inversion_round_trips() {
        // Forward curve t(m) for a cubic model, then invert.
        let mut row = vec![1.0, 0.2, 25000.0, 25.0, 26.0, 20.0, 3.0];
        row.extend([320.0, 155000.0, -0.002, 1e-7, 0.5]);
        let MzModel::Curve(c) = MzModel::bruker(&row, 25.5, 26.5).expect("model") else {
            panic!("curve")
        };
        for m in [50.0, 100.0, 622.0, 1234.5, 1700.0, 3000.0] {
            let s = f64::sqrt(m + c.c4);
            let t = c.c0 + c.k * s + c.c2 * s * s + c.c3 * s * s * s;
            let back = c.mz_at_time(t);
            assert!((back / m - 1.0).abs() < 1e-12, "{m} -> {back}");
        }
    }
}
