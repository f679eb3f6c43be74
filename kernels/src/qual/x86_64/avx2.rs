//! AVX2: 32 qualities per step.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
    /// Writes `min(q, 93) + 33` for every byte; returns whether any byte exceeded 93.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn add33(self, qual: &[u8], out: &mut [u8]) -> bool {
        assert_eq!(qual.len(), out.len(), "quality output length");
        // SAFETY: `self` proves the features are present.
        unsafe { add33(qual, out) }
    }
}

/// # Safety
/// The CPU must have AVX2; `qual.len() == out.len()`.
pub(crate) unsafe fn entry(qual: &[u8], out: &mut [u8]) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { add33(qual, out) }
}

#[target_feature(enable = "avx2")]
fn add33(qual: &[u8], out: &mut [u8]) -> bool {
    let max = _mm256_set1_epi8(super::super::MAX_PRINTABLE as i8);
    let offset = _mm256_set1_epi8(33);
    let mut over = _mm256_setzero_si256();
    let steps = qual.len() / 32;
    for (src, dst) in qual.chunks_exact(32).zip(out.chunks_exact_mut(32)) {
        // SAFETY: `src` has 32 bytes.
        let q = unsafe { _mm256_loadu_si256(src.as_ptr().cast()) };
        over = _mm256_or_si256(over, _mm256_subs_epu8(q, max));
        let v = _mm256_add_epi8(_mm256_min_epu8(q, max), offset);
        // SAFETY: `dst` has 32 bytes.
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) };
    }
    let tail = super::super::scalar::add33(&qual[steps * 32..], &mut out[steps * 32..]);
    tail || _mm256_testz_si256(over, over) == 0
}
