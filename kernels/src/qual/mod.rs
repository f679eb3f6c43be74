//! BAM base qualities → SAM text (phred+33).
//!
//! A BAM record whose quality is absent stores `0xFF` bytes (SAM spec §4.2.3: QUAL `*`); only the
//! first byte is tested, as htslib does, and nothing is written. Otherwise every byte `q` becomes
//! `min(q, 93) + 33`: qualities above 93 **saturate at `~`** instead of wrapping into
//! non-printable or non-ASCII bytes (which would also make the Arrow `Utf8` column invalid), and
//! the result says so, so callers can warn or reject.
//!
//! ```
//! use rawarrow_kernels::qual::{encode, Qual};
//! let mut out = [0u8; 3];
//! assert_eq!(encode(&[0, 30, 40], &mut out), Qual::Present { saturated: false });
//! assert_eq!(&out, b"!?I");
//! assert_eq!(encode(&[0xff, 0xff, 0xff], &mut out), Qual::Absent);
//! assert_eq!(encode(&[94, 1, 2], &mut out), Qual::Present { saturated: true });
//! assert_eq!(&out, b"~\"#");
//! ```

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

/// Highest quality that prints as itself (`~`).
pub const MAX_PRINTABLE: u8 = 93;

/// What [`encode`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qual {
    /// The record has no quality (first byte `0xFF`); nothing was written.
    Absent,
    /// Written; `saturated` when some quality was above 93 and was written as `~`.
    Present {
        /// Whether any quality exceeded 93.
        saturated: bool,
    },
}

#[allow(clippy::needless_range_loop)] // deliberately the textbook loop
/// The naive reference.
pub fn naive(qual: &[u8], out: &mut [u8]) -> Qual {
    if qual.first() == Some(&0xff) {
        return Qual::Absent;
    }
    let mut saturated = false;
    for i in 0..qual.len() {
        let q = qual[i];
        if q > MAX_PRINTABLE {
            saturated = true;
            out[i] = MAX_PRINTABLE + 33;
        } else {
            out[i] = q + 33;
        }
    }
    Qual::Present { saturated }
}

/// Encodes `qual` into `out` (same length) with the best implementation for this CPU.
///
/// # Panics
/// If `out.len() != qual.len()`.
#[inline]
pub fn encode(qual: &[u8], out: &mut [u8]) -> Qual {
    assert_eq!(qual.len(), out.len(), "quality output length");
    if qual.first() == Some(&0xff) {
        return Qual::Absent;
    }
    // SAFETY: lengths checked above.
    let saturated = unsafe { encode_unchecked(qual, out) };
    Qual::Present { saturated }
}

/// # Safety
/// `qual.len() == out.len()`.
unsafe fn encode_unchecked(qual: &[u8], out: &mut [u8]) -> bool {
    crate::ifunc!(unsafe fn(qual: &[u8], out: &mut [u8]) -> bool, resolve())
}

pub(crate) fn resolve() -> unsafe fn(&[u8], &mut [u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if level() >= Level::Avx512Bw {
            return x86_64::avx512::entry;
        }
        if level() >= Level::Avx2 {
            return x86_64::avx2::entry;
        }
        if level() >= Level::Simd128 {
            return x86_64::sse41::entry;
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use crate::cpu::{level, Level};
        if level() >= Level::Simd128 {
            return aarch64::neon::entry;
        }
    }
    scalar_entry
}

/// # Safety
/// Always safe; `unsafe` only to share the dispatch pointer type.
unsafe fn scalar_entry(qual: &[u8], out: &mut [u8]) -> bool {
    scalar::add33(qual, out)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod dispatch_tests {
    use crate::cpu::{level, Level};

    /// Qualities need AVX-512 BW for byte lanes: AVX-512 from the F/BW level, else AVX2.
    #[test]
    fn dispatches_by_its_own_features() {
        type Qual = unsafe fn(&[u8], &mut [u8]) -> bool;
        let got = super::resolve() as usize;
        let avx512 = super::x86_64::avx512::entry as Qual as usize;
        let avx2 = super::x86_64::avx2::entry as Qual as usize;
        match level() {
            Level::Avx512 | Level::Avx512Bw => assert_eq!(got, avx512),
            Level::Avx512F | Level::Avx2 => assert_eq!(got, avx2),
            _ => assert!(got != avx512 && got != avx2),
        }
    }
}
