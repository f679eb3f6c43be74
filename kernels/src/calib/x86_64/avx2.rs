//! AVX2: eight values per step (two 4-lane halves). `u32` → `f64` is exact via the signed
//! conversion of `v − 2³¹` plus 2³¹.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
    /// `out[i] = (a + b·tof[i])²`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn tof_to_mz(self, tof: &[u32], a: f64, b: f64, out: &mut [f64]) {
        assert_eq!(tof.len(), out.len(), "m/z output length");
        // SAFETY: `self` proves the features are present.
        unsafe { affine::<true>(tof, a, b, out) }
    }

    /// `out[i] = c + d·scan[i]`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn scan_to_im(self, scan: &[u32], c: f64, d: f64, out: &mut [f64]) {
        assert_eq!(scan.len(), out.len(), "1/K0 output length");
        // SAFETY: `self` proves the features are present.
        unsafe { affine::<false>(scan, c, d, out) }
    }
}

#[target_feature(enable = "avx2")]
fn affine<const SQUARE: bool>(src: &[u32], a: f64, b: f64, out: &mut [f64]) {
    let va = _mm256_set1_pd(a);
    let vb = _mm256_set1_pd(b);
    let flip = _mm_set1_epi32(i32::MIN);
    let two31 = _mm256_set1_pd(2_147_483_648.0);
    let steps = src.len() / 4;
    for (s, o) in src.chunks_exact(4).zip(out.chunks_exact_mut(4)) {
        // SAFETY: `s` has 4 values.
        let v = unsafe { _mm_loadu_si128(s.as_ptr().cast()) };
        let f = _mm256_add_pd(_mm256_cvtepi32_pd(_mm_xor_si128(v, flip)), two31);
        let x = _mm256_add_pd(va, _mm256_mul_pd(vb, f));
        let y = if SQUARE { _mm256_mul_pd(x, x) } else { x };
        // SAFETY: `o` has 4 values.
        unsafe { _mm256_storeu_pd(o.as_mut_ptr(), y) };
    }
    let (src, out) = (&src[steps * 4..], &mut out[steps * 4..]);
    if SQUARE {
        super::super::scalar::tof_to_mz(src, a, b, out)
    } else {
        super::super::scalar::scan_to_im(src, a, b, out)
    }
}
