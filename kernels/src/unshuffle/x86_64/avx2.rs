//! AVX2: 32 values per step; in-lane unpacks put in order by lane permutes.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
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

#[target_feature(enable = "avx2")]
fn unshuffle(planes: &[u8], out: &mut [u32]) {
    let n = out.len();
    let [p0, p1, p2, p3] = super::super::split(planes, n);
    let steps = n / 32;
    for s in 0..steps {
        let i = s * 32;
        // SAFETY: each plane has `n >= i + 32` bytes.
        let a = unsafe { _mm256_loadu_si256(p0[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let b = unsafe { _mm256_loadu_si256(p1[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let c = unsafe { _mm256_loadu_si256(p2[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let d = unsafe { _mm256_loadu_si256(p3[i..].as_ptr().cast()) };
        let ab_lo = _mm256_unpacklo_epi8(a, b);
        let ab_hi = _mm256_unpackhi_epi8(a, b);
        let cd_lo = _mm256_unpacklo_epi8(c, d);
        let cd_hi = _mm256_unpackhi_epi8(c, d);
        // Lane 0 of v0..v3 holds values 0-3, 4-7, 8-11, 12-15; lane 1 the same plus 16.
        let v0 = _mm256_unpacklo_epi16(ab_lo, cd_lo);
        let v1 = _mm256_unpackhi_epi16(ab_lo, cd_lo);
        let v2 = _mm256_unpacklo_epi16(ab_hi, cd_hi);
        let v3 = _mm256_unpackhi_epi16(ab_hi, cd_hi);
        let dst = &mut out[i..i + 32];
        let vals = [
            _mm256_permute2x128_si256(v0, v1, 0x20),
            _mm256_permute2x128_si256(v2, v3, 0x20),
            _mm256_permute2x128_si256(v0, v1, 0x31),
            _mm256_permute2x128_si256(v2, v3, 0x31),
        ];
        for (k, v) in vals.into_iter().enumerate() {
            // SAFETY: `dst[8k..]` has at least 8 values.
            unsafe { _mm256_storeu_si256(dst[8 * k..].as_mut_ptr().cast(), v) };
        }
    }
    super::super::tail(planes, out, steps * 32);
}
