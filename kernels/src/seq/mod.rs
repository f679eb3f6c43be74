//! BAM 4-bit sequence codes → ASCII bases.
//!
//! BAM packs two bases per byte, high nibble first, coded `=ACMGRSVTWYHKDBN` (SAM spec §4.2.3).
//! [`decode`] writes `out.len()` bases from `packed`, which must hold at least
//! `out.len().div_ceil(2)` bytes; an odd count ignores the last low nibble. Every nibble value is
//! valid, so there is no error case.
//!
//! ```
//! let mut out = [0u8; 5];
//! rawarrow_kernels::seq::decode(&[0x12, 0x48, 0xf0], &mut out);
//! assert_eq!(&out, b"ACGTN");
//! ```

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

/// The 16 base codes, indexed by nibble.
pub const CODES: &[u8; 16] = b"=ACMGRSVTWYHKDBN";

/// The naive reference: one base at a time, straight from the definition.
pub fn naive(packed: &[u8], out: &mut [u8]) {
    for (i, o) in out.iter_mut().enumerate() {
        let byte = packed[i / 2];
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
        *o = CODES[usize::from(nibble)];
    }
}

/// Decodes `out.len()` bases from `packed` with the best implementation for this CPU.
///
/// # Panics
/// If `packed` is shorter than `out.len().div_ceil(2)`.
#[inline]
pub fn decode(packed: &[u8], out: &mut [u8]) {
    assert!(
        packed.len() >= out.len().div_ceil(2),
        "packed sequence too short"
    );
    // SAFETY: the length precondition of every implementation was checked above.
    unsafe { decode_unchecked(packed, out) }
}

/// # Safety
/// `packed.len() >= out.len().div_ceil(2)`, and the function is only reached through [`decode`].
unsafe fn decode_unchecked(packed: &[u8], out: &mut [u8]) {
    crate::ifunc!(unsafe fn(packed: &[u8], out: &mut [u8]), resolve())
}

pub(crate) fn resolve() -> unsafe fn(&[u8], &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if level() >= Level::Avx512 {
            return x86_64::avx512::entry;
        }
        if level() >= Level::Avx2 {
            return x86_64::avx2::entry;
        }
        if level() >= Level::Simd128 {
            return x86_64::ssse3::entry;
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
unsafe fn scalar_entry(packed: &[u8], out: &mut [u8]) {
    scalar::decode(packed, out)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod dispatch_tests {
    use crate::cpu::{level, Level};

    /// Sequence nibbles need VBMI for the 512-bit table lookup: AVX-512 only at the full level,
    /// AVX2 from AVX2 up to AVX-512 F/BW.
    #[test]
    fn dispatches_by_its_own_features() {
        type Seq = unsafe fn(&[u8], &mut [u8]);
        let got = super::resolve() as usize;
        let avx512 = super::x86_64::avx512::entry as Seq as usize;
        let avx2 = super::x86_64::avx2::entry as Seq as usize;
        match level() {
            Level::Avx512 => assert_eq!(got, avx512),
            Level::Avx512Bw | Level::Avx512F | Level::Avx2 => assert_eq!(got, avx2),
            _ => assert!(got != avx512 && got != avx2),
        }
    }
}
