//! AVX-512 F: eight values per step with the native `u32` → `f64` conversion; the tail
//! is one masked step.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F (no BW, VL or VBMI needed).
    Avx512,
    crate::cpu::has_avx512f
);

impl Avx512 {
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

#[target_feature(enable = "avx512f")]
fn affine<const SQUARE: bool>(src: &[u32], a: f64, b: f64, out: &mut [f64]) {
    let va = _mm512_set1_pd(a);
    let vb = _mm512_set1_pd(b);
    let f = |x: __m512d| {
        let x = _mm512_add_pd(va, _mm512_mul_pd(vb, x));
        if SQUARE {
            _mm512_mul_pd(x, x)
        } else {
            x
        }
    };
    let steps = src.len() / 8;
    for (s, o) in src.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
        // SAFETY: `s` has 8 values.
        let v = unsafe { _mm256_loadu_si256(s.as_ptr().cast()) };
        let y = f(_mm512_cvtepu32_pd(v));
        // SAFETY: `o` has 8 values.
        unsafe { _mm512_storeu_pd(o.as_mut_ptr(), y) };
    }
    let rest = src.len() - steps * 8;
    if rest > 0 {
        // rest < 8; a 512-bit masked load (AVX-512 F: the 256-bit form needs VL).
        let mask = ((1u32 << rest) - 1) as __mmask8;
        // SAFETY: masked lanes are not read; `rest` values remain.
        let v = unsafe {
            _mm512_maskz_loadu_epi32(__mmask16::from(mask), src[steps * 8..].as_ptr().cast())
        };
        let y = f(_mm512_cvtepu32_pd(_mm512_castsi512_si256(v)));
        // SAFETY: only `rest` values are written.
        unsafe { _mm512_mask_storeu_pd(out[steps * 8..].as_mut_ptr(), mask, y) };
    }
}
