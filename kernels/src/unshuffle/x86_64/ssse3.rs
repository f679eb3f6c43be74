//! SSSE3/SSE2: 16 values per step by two rounds of unpacks.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has SSSE3 and SSE4.1.
    Ssse3,
    crate::cpu::has_simd128
);

impl Ssse3 {
    /// Rebuilds `out.len()` values from `planes`.
    ///
    /// # Panics
    /// If `planes.len() != 4 * out.len()`.
    pub fn unshuffle(self, planes: &[u8], out: &mut [u32]) {
        assert_eq!(
            planes.len(),
            4 * out.len(),
            "byte planes must hold 4 bytes per value"
        );
        // SAFETY: `self` proves the features are present.
        unsafe { unshuffle(planes, out) }
    }
}

#[target_feature(enable = "ssse3,sse4.1")]
fn unshuffle(planes: &[u8], out: &mut [u32]) {
    let n = out.len();
    let [p0, p1, p2, p3] = super::super::split(planes, n);
    let steps = n / 16;
    for s in 0..steps {
        let i = s * 16;
        // SAFETY: each plane has `n >= i + 16` bytes.
        let a = unsafe { _mm_loadu_si128(p0[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let b = unsafe { _mm_loadu_si128(p1[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let c = unsafe { _mm_loadu_si128(p2[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let d = unsafe { _mm_loadu_si128(p3[i..].as_ptr().cast()) };
        let ab_lo = _mm_unpacklo_epi8(a, b);
        let ab_hi = _mm_unpackhi_epi8(a, b);
        let cd_lo = _mm_unpacklo_epi8(c, d);
        let cd_hi = _mm_unpackhi_epi8(c, d);
        let dst = &mut out[i..i + 16];
        let vals = [
            _mm_unpacklo_epi16(ab_lo, cd_lo),
            _mm_unpackhi_epi16(ab_lo, cd_lo),
            _mm_unpacklo_epi16(ab_hi, cd_hi),
            _mm_unpackhi_epi16(ab_hi, cd_hi),
        ];
        for (k, v) in vals.into_iter().enumerate() {
            // SAFETY: `dst[4k..]` has at least 4 values.
            unsafe { _mm_storeu_si128(dst[4 * k..].as_mut_ptr().cast(), v) };
        }
    }
    super::super::tail(planes, out, steps * 16);
}
