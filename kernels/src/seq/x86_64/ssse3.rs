//! SSSE3: 16 packed bytes → 32 bases per step with `pshufb` as the 16-entry table.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has SSSE3 and SSE4.1.
    Ssse3,
    crate::cpu::has_simd128
);

impl Ssse3 {
    /// Decodes `out.len()` bases from `packed`.
    ///
    /// # Panics
    /// If `packed.len() < out.len().div_ceil(2)`.
    pub fn decode(self, packed: &[u8], out: &mut [u8]) {
        assert!(
            packed.len() >= out.len().div_ceil(2),
            "packed sequence too short"
        );
        // SAFETY: `self` proves SSSE3/SSE4.1 are present.
        unsafe { decode(packed, out) }
    }
}

/// # Safety
/// The CPU must have SSSE3; `packed.len() >= out.len().div_ceil(2)`.
pub(crate) unsafe fn entry(packed: &[u8], out: &mut [u8]) {
    // SAFETY: forwarded from the caller.
    unsafe { decode(packed, out) }
}

#[target_feature(enable = "ssse3,sse4.1")]
fn decode(packed: &[u8], out: &mut [u8]) {
    // SAFETY: CODES is 16 bytes.
    let table = unsafe { _mm_loadu_si128(super::super::CODES.as_ptr().cast()) };
    let mask = _mm_set1_epi8(0x0f);
    let steps = out.len() / 32;
    for (src, dst) in packed
        .chunks_exact(16)
        .zip(out.chunks_exact_mut(32))
        .take(steps)
    {
        // SAFETY: `src` has 16 bytes.
        let x = unsafe { _mm_loadu_si128(src.as_ptr().cast()) };
        let hi = _mm_and_si128(_mm_srli_epi16(x, 4), mask);
        let lo = _mm_and_si128(x, mask);
        let a = _mm_shuffle_epi8(table, _mm_unpacklo_epi8(hi, lo));
        let b = _mm_shuffle_epi8(table, _mm_unpackhi_epi8(hi, lo));
        // SAFETY: `dst` has 32 bytes.
        unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), a) };
        // SAFETY: `dst[16..]` has 16 bytes.
        unsafe { _mm_storeu_si128(dst[16..].as_mut_ptr().cast(), b) };
    }
    super::super::scalar::decode(&packed[steps * 16..], &mut out[steps * 32..]);
}
