//! Fast portable version: `slice::fill` per run.

/// Expands the runs into `out`.
///
/// # Panics
/// If `counts` and `values` differ in length or the counts do not sum to `out.len()`.
pub fn expand<T: Copy>(counts: &[u32], values: &[T], out: &mut [T]) {
    super::check(counts, values, out);
    let mut at = 0;
    for (&c, &v) in counts.iter().zip(values) {
        let end = at + c as usize;
        out[at..end].fill(v);
        at = end;
    }
}
