//! Fast portable version: branch-free (always store, advance by the comparison).

/// Gates `values`.
///
/// # Panics
/// If `out.len() < values.len()` or `values.len() > u32::MAX`.
pub fn gate(values: &[u8], threshold: u8, out: &mut [u32]) -> usize {
    super::check(values, out);
    gate_from(values, threshold, out, 0, 0)
}

/// Gates `values[start..]`, appending after the first `n` outputs; returns the new count.
#[inline]
pub(crate) fn gate_from(
    values: &[u8],
    threshold: u8,
    out: &mut [u32],
    start: usize,
    mut n: usize,
) -> usize {
    for (i, &v) in values.iter().enumerate().skip(start) {
        // n <= i < values.len() <= out.len()
        out[n] = i as u32;
        n += usize::from(v > threshold);
    }
    n
}
