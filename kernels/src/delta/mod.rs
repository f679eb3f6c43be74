//! Per-scan delta decoding (timsTOF): TOF indices are stored as differences that restart at each
//! scan; the value is the running sum within the scan minus one.
//!
//! [`decode`] takes the deltas of a whole frame and the number of peaks in each scan, and writes
//! `out[i] = (deltas[start..=i].sum() − 1)` where `start` is the first peak of `i`'s scan. Sums
//! wrap modulo 2³² (hostile input cannot panic); real TOF indices never come near the limit.
//!
//! ```
//! let deltas = [5, 1, 2, 7, 3];
//! let mut out = [0u32; 5];
//! rawarrow_kernels::delta::decode(&deltas, &[2, 0, 3], &mut out);
//! assert_eq!(out, [4, 5, 1, 8, 11]);
//! ```

pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[allow(clippy::needless_range_loop)] // deliberately the textbook loop
/// The naive reference.
pub fn naive(deltas: &[u32], scan_peaks: &[u32], out: &mut [u32]) {
    let mut i = 0;
    for &n in scan_peaks {
        let mut sum = 0u32;
        for _ in 0..n {
            sum = sum.wrapping_add(deltas[i]);
            out[i] = sum.wrapping_sub(1);
            i += 1;
        }
    }
}

/// Checks the shared preconditions: equal lengths and scan counts summing to that length.
///
/// # Panics
/// If they do not hold.
#[inline]
pub(crate) fn check(deltas: &[u32], scan_peaks: &[u32], out: &[u32]) {
    assert_eq!(deltas.len(), out.len(), "delta output length");
    let total: u64 = scan_peaks.iter().map(|&n| u64::from(n)).sum();
    assert_eq!(
        total,
        deltas.len() as u64,
        "scan peak counts must sum to the number of deltas"
    );
}

/// Decodes a frame's TOF deltas with the best implementation for this CPU.
///
/// # Panics
/// If `out.len() != deltas.len()` or the scan counts do not sum to `deltas.len()`.
pub fn decode(deltas: &[u32], scan_peaks: &[u32], out: &mut [u32]) {
    // Every implementation checks the preconditions itself.
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if let Some(k) = avx512() {
            return k.decode(deltas, scan_peaks, out);
        }
        if level() >= Level::Avx2 {
            if let Some(k) = x86_64::avx2::Avx2::new() {
                return k.decode(deltas, scan_peaks, out);
            }
        }
        if level() >= Level::Simd128 {
            if let Some(k) = x86_64::sse41::Sse41::new() {
                return k.decode(deltas, scan_peaks, out);
            }
        }
    }
    scalar::decode(deltas, scan_peaks, out)
}

/// The AVX-512 implementation, when dispatch may use it: it needs AVX-512 F alone (32- and
/// 64-bit lanes), so it runs from [`Level::Avx512F`](crate::cpu::Level::Avx512F) up.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512() -> Option<x86_64::avx512::Avx512> {
    use crate::cpu::{level, Level};
    (level() >= Level::Avx512F)
        .then(x86_64::avx512::Avx512::new)
        .flatten()
}

#[cfg(all(test, target_arch = "x86_64"))]
mod dispatch_tests {
    use crate::cpu::{level, Level};

    /// 32-bit lanes need AVX-512 F alone: the AVX-512 code from the F level up.
    #[test]
    fn dispatches_by_its_own_features() {
        assert_eq!(super::avx512().is_some(), level() >= Level::Avx512F);
        assert_eq!(
            super::x86_64::avx512::Avx512::new().is_some(),
            crate::cpu::has_avx512f()
        );
    }
}
