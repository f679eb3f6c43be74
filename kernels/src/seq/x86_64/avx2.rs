//! AVX2: 32 packed bytes → 64 bases per step; in-lane unpacks put right by two lane permutes.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
    /// Decodes `out.len()` bases from `packed`.
    ///
    /// # Panics
    /// If `packed.len() < out.len().div_ceil(2)`.
    pub fn decode(self, packed: &[u8], out: &mut [u8]) {
        assert!(
            packed.len() >= out.len().div_ceil(2),
            "packed sequence too short"
        );
        // SAFETY: `self` proves AVX2 is present.
        unsafe { decode(packed, out) }
    }
}

/// # Safety
/// The CPU must have AVX2; `packed.len() >= out.len().div_ceil(2)`.
pub(crate) unsafe fn entry(packed: &[u8], out: &mut [u8]) {
    // SAFETY: forwarded from the caller.
    unsafe { decode(packed, out) }
}

#[target_feature(enable = "avx2")]
fn decode(packed: &[u8], out: &mut [u8]) {
    // SAFETY: CODES is 16 bytes.
    let t128 = unsafe { _mm_loadu_si128(super::super::CODES.as_ptr().cast()) };
    let table = _mm256_broadcastsi128_si256(t128);
    let mask = _mm256_set1_epi8(0x0f);
    let steps = out.len() / 64;
    for (src, dst) in packed
        .chunks_exact(32)
        .zip(out.chunks_exact_mut(64))
        .take(steps)
    {
        // SAFETY: `src` has 32 bytes.
        let x = unsafe { _mm256_loadu_si256(src.as_ptr().cast()) };
        let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), mask);
        let lo = _mm256_and_si256(x, mask);
        // Lane 0 holds input bytes 0-7 / 8-15, lane 1 bytes 16-23 / 24-31.
        let a = _mm256_shuffle_epi8(table, _mm256_unpacklo_epi8(hi, lo));
        let b = _mm256_shuffle_epi8(table, _mm256_unpackhi_epi8(hi, lo));
        let first = _mm256_permute2x128_si256(a, b, 0x20);
        let second = _mm256_permute2x128_si256(a, b, 0x31);
        // SAFETY: `dst` has 64 bytes.
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), first) };
        // SAFETY: `dst[32..]` has 32 bytes.
        unsafe { _mm256_storeu_si256(dst[32..].as_mut_ptr().cast(), second) };
    }
    super::super::scalar::decode(&packed[steps * 32..], &mut out[steps * 64..]);
}
