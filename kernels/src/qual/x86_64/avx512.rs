//! AVX-512 BW: 64 qualities per step; the tail uses masked loads and stores.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F/BW/VL (no VBMI needed).
    Avx512,
    crate::cpu::has_avx512bw
);

impl Avx512 {
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
/// The CPU must have AVX-512 F/BW/VL; `qual.len() == out.len()`.
pub(crate) unsafe fn entry(qual: &[u8], out: &mut [u8]) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { add33(qual, out) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn add33(qual: &[u8], out: &mut [u8]) -> bool {
    let max = _mm512_set1_epi8(super::super::MAX_PRINTABLE as i8);
    let offset = _mm512_set1_epi8(33);
    let mut over = _mm512_setzero_si512();
    let steps = qual.len() / 64;
    for (src, dst) in qual.chunks_exact(64).zip(out.chunks_exact_mut(64)) {
        // SAFETY: `src` has 64 bytes.
        let q = unsafe { _mm512_loadu_si512(src.as_ptr().cast()) };
        over = _mm512_or_si512(over, _mm512_subs_epu8(q, max));
        let v = _mm512_add_epi8(_mm512_min_epu8(q, max), offset);
        // SAFETY: `dst` has 64 bytes.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), v) };
    }
    let (qual, out) = (&qual[steps * 64..], &mut out[steps * 64..]);
    if !qual.is_empty() {
        // Fewer than 64 left.
        let mask: __mmask64 = (1u64 << qual.len()) - 1;
        // SAFETY: masked lanes are not read; the first `qual.len()` bytes exist.
        let q = unsafe { _mm512_maskz_loadu_epi8(mask, qual.as_ptr().cast()) };
        over = _mm512_or_si512(over, _mm512_subs_epu8(q, max));
        let v = _mm512_add_epi8(_mm512_min_epu8(q, max), offset);
        // SAFETY: only the first `out.len()` (= `qual.len()`) bytes are written.
        unsafe { _mm512_mask_storeu_epi8(out.as_mut_ptr().cast(), mask, v) };
    }
    _mm512_test_epi8_mask(over, over) != 0
}
