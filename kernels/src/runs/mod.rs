//! Run-length expansion: `out` is `values[0]` repeated `counts[0]` times, then `values[1]`
//! repeated `counts[1]` times, and so on. timsTOF rows are peaks, but the scan number, 1/K0 and
//! isolation window are constant over a scan's peaks and the frame number and retention time over
//! a frame's: [`expand`] writes such columns from one value per run, [`fill`] one value
//! everywhere.
//!
//! The SIMD versions store whole vectors from the start of each run, letting the last vector
//! spill past the run's end: the next non-empty run starts at or before the spill and its first
//! vector covers it. Only the end of `out` is never crossed (masked stores there). Values are
//! copied as bits, so NaN payloads and signed zeros come out exactly as they went in.
//!
//! ```
//! let mut out = [0u32; 6];
//! rawarrow_kernels::runs::expand(&[2, 0, 3, 1], &[7, 8, 9, 10], &mut out);
//! assert_eq!(out, [7, 7, 9, 9, 9, 10]);
//! ```

pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

/// Element types the kernels copy as 4- or 8-byte lanes: every bit pattern is a valid value.
pub trait Lane: Copy + sealed::Sealed {
    /// 8 bytes wide (else 4).
    const WIDE: bool;
    /// The value's bits, zero-extended to 64.
    fn bits(self) -> u64;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! lane {
    ($($t:ty => $wide:expr, $bits:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Lane for $t {
            const WIDE: bool = $wide;
            #[inline]
            fn bits(self) -> u64 {
                let f: fn($t) -> u64 = $bits;
                f(self)
            }
        }
    )*};
}

lane! {
    u32 => false, u64::from;
    i32 => false, |v| u64::from(v as u32);
    f32 => false, |v| u64::from(v.to_bits());
    u64 => true, |v| v;
    i64 => true, |v| v as u64;
    f64 => true, f64::to_bits;
}

/// The naive reference.
pub fn naive<T: Copy>(counts: &[u32], values: &[T], out: &mut [T]) {
    let mut i = 0;
    for (&c, &v) in counts.iter().zip(values) {
        for _ in 0..c {
            out[i] = v;
            i += 1;
        }
    }
}

/// Checks the shared preconditions: one value per count, counts summing to `out.len()`.
///
/// # Panics
/// If they do not hold.
#[inline]
pub(crate) fn check<T>(counts: &[u32], values: &[T], out: &[T]) {
    assert_eq!(counts.len(), values.len(), "one value per run");
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    assert_eq!(
        total,
        out.len() as u64,
        "run lengths must sum to the output length"
    );
}

/// Expands the runs into `out` with the best implementation for this CPU.
///
/// # Panics
/// If `counts` and `values` differ in length or the counts do not sum to `out.len()`.
pub fn expand<T: Lane>(counts: &[u32], values: &[T], out: &mut [T]) {
    // Every implementation checks the preconditions itself.
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if let Some(k) = avx512() {
            return k.expand(counts, values, out);
        }
        if level() >= Level::Avx2 {
            if let Some(k) = x86_64::avx2::Avx2::new() {
                return k.expand(counts, values, out);
            }
        }
    }
    scalar::expand(counts, values, out)
}

/// Writes `value` into every slot of `out` (one run), with the best implementation for this CPU.
pub fn fill<T: Lane>(value: T, out: &mut [T]) {
    let Ok(n) = u32::try_from(out.len()) else {
        // Larger than one run can say: in runs of u32::MAX.
        for chunk in out.chunks_mut(u32::MAX as usize) {
            fill(value, chunk);
        }
        return;
    };
    expand(&[n], &[value], out)
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

    /// 64-bit lanes need AVX-512 F alone: the AVX-512 code from the F level up.
    #[test]
    fn dispatches_by_its_own_features() {
        assert_eq!(super::avx512().is_some(), level() >= Level::Avx512F);
    }
}
