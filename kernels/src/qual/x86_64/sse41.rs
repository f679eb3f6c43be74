//! SSE4.1: 16 qualities per step (`pminub`, `paddb`, saturating subtract for the flag).

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has SSSE3 and SSE4.1.
    Sse41,
    crate::cpu::has_simd128
);

impl Sse41 {
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
/// The CPU must have SSSE3 and SSE4.1; `qual.len() == out.len()`.
pub(crate) unsafe fn entry(qual: &[u8], out: &mut [u8]) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { add33(qual, out) }
}

#[target_feature(enable = "ssse3,sse4.1")]
fn add33(qual: &[u8], out: &mut [u8]) -> bool {
    let max = _mm_set1_epi8(super::super::MAX_PRINTABLE as i8);
    let offset = _mm_set1_epi8(33);
    let mut over = _mm_setzero_si128();
    let steps = qual.len() / 16;
    for (src, dst) in qual.chunks_exact(16).zip(out.chunks_exact_mut(16)) {
        // SAFETY: `src` has 16 bytes.
        let q = unsafe { _mm_loadu_si128(src.as_ptr().cast()) };
        over = _mm_or_si128(over, _mm_subs_epu8(q, max));
        let v = _mm_add_epi8(_mm_min_epu8(q, max), offset);
        // SAFETY: `dst` has 16 bytes.
        unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), v) };
    }
    let tail = super::super::scalar::add33(&qual[steps * 16..], &mut out[steps * 16..]);
    tail || _mm_testz_si128(over, over) == 0
}
