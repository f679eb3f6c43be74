//! Fast portable version: slices per scan, no per-element index checks.

/// Prefix sums minus one over one scan.
#[inline]
pub(crate) fn scan(d: &[u32], o: &mut [u32]) {
    let mut sum = 0u32;
    for (o, &d) in o.iter_mut().zip(d) {
        sum = sum.wrapping_add(d);
        *o = sum.wrapping_sub(1);
    }
}

/// Decodes a frame's TOF deltas.
///
/// # Panics
/// If `out.len() != deltas.len()` or the scan counts do not sum to `deltas.len()`.
pub fn decode(deltas: &[u32], scan_peaks: &[u32], out: &mut [u32]) {
    super::check(deltas, scan_peaks, out);
    let mut at = 0;
    for &n in scan_peaks {
        let end = at + n as usize;
        scan(&deltas[at..end], &mut out[at..end]);
        at = end;
    }
}
