//! AVX2: 32 bytes per step (compare with zero, move masks for the NUL and the high bits); the
//! last bytes, when fewer than 32 are left in `src` or `dst`, by the scalar version.

use core::arch::x86_64::*;

use super::super::{scalar, Copied};

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
    /// Copies the bytes of `src` before its first NUL to the start of `dst`.
    ///
    /// # Panics
    /// If `dst` is shorter than the string.
    pub fn copy(self, src: &[u8], dst: &mut [u8]) -> Option<Copied> {
        // SAFETY: `self` proves the features are present.
        unsafe { copy(src, dst) }
    }
}

/// # Safety
/// The CPU must have AVX2.
pub(crate) unsafe fn entry(src: &[u8], dst: &mut [u8]) -> Option<Copied> {
    // SAFETY: forwarded from the caller.
    unsafe { copy(src, dst) }
}

#[target_feature(enable = "avx2,bmi1")]
fn copy(src: &[u8], dst: &mut [u8]) -> Option<Copied> {
    let zero = _mm256_setzero_si256();
    let (mut i, mut high) = (0usize, 0u32);
    while let (Some(s), Some(d)) = (src.get(i..i + 32), dst.get_mut(i..i + 32)) {
        // SAFETY: `s` has 32 bytes.
        let v = unsafe { _mm256_loadu_si256(s.as_ptr().cast()) };
        // SAFETY: `d` has 32 bytes.
        unsafe { _mm256_storeu_si256(d.as_mut_ptr().cast(), v) };
        let nul = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, zero)) as u32;
        let hi = _mm256_movemask_epi8(v) as u32;
        if nul != 0 {
            let k = nul.trailing_zeros();
            high |= hi & ((1u32 << k) - 1);
            return Some(Copied {
                len: i + k as usize,
                ascii: high == 0,
            });
        }
        high |= hi;
        i += 32;
    }
    let rest = scalar::copy(&src[i..], &mut dst[i..])?;
    Some(Copied {
        len: i + rest.len,
        ascii: high == 0 && rest.ascii,
    })
}
