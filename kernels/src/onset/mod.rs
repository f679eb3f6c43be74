//! Onset gate: the indices of the `u8` values (note velocities, onset strengths) above a
//! threshold, in order.
//!
//! [`gate`] writes the indices `i` with `values[i] > threshold` to the front of `out` and returns
//! their count. `out` must have room for `values.len()` indices, the most there can be: that lets
//! the SIMD versions store whole vectors without a bounds check per index. Entries of `out` past
//! the returned count are unspecified.
//!
//! ```
//! let mut out = [0u32; 6];
//! let n = rawarrow_kernels::onset::gate(&[10, 90, 64, 65, 0, 127], 64, &mut out);
//! assert_eq!(&out[..n], &[1, 3, 5]);
//! ```

pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[allow(clippy::needless_range_loop)] // deliberately the textbook loop
/// The naive reference.
pub fn naive(values: &[u8], threshold: u8, out: &mut [u32]) -> usize {
    let mut n = 0;
    for i in 0..values.len() {
        if values[i] > threshold {
            out[n] = i as u32;
            n += 1;
        }
    }
    n
}

/// Gates `values` with the best implementation for this CPU.
///
/// # Panics
/// If `out.len() < values.len()` or `values.len() > u32::MAX`.
pub fn gate(values: &[u8], threshold: u8, out: &mut [u32]) -> usize {
    check(values, out);
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        // The AVX2 lookup-table compress also serves the AVX-512 level: `vpcompressd` is
        // microcoded on AMD Zen 4, where the AVX-512 version measured 2x slower
        // (docs/benchmarks-history.md).
        // `x86_64::avx512::Avx512` stays available for CPUs with a fast compress.
        if level() >= Level::Avx2 {
            if let Some(k) = x86_64::avx2::Avx2::new() {
                return k.gate(values, threshold, out);
            }
        }
    }
    scalar::gate(values, threshold, out)
}

#[inline]
pub(crate) fn check(values: &[u8], out: &[u32]) {
    assert!(
        out.len() >= values.len(),
        "onset output needs room for every index"
    );
    assert!(
        u32::try_from(values.len()).is_ok(),
        "more than u32::MAX values"
    );
}
