//! AVX-512: 64 values per compare into a mask register; `vpcompressd` packs the indices of each
//! 16-bit slice of the mask. Not used by dispatch: on AMD Zen 4 `vpcompressd` is microcoded and
//! this version is half the speed of the AVX2 lookup table; it pays on CPUs with a fast compress.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F/BW/VL (no VBMI needed).
    Avx512,
    crate::cpu::has_avx512bw
);

impl Avx512 {
    /// Gates `values`.
    ///
    /// # Panics
    /// If `out.len() < values.len()` or `values.len() > u32::MAX`.
    pub fn gate(self, values: &[u8], threshold: u8, out: &mut [u32]) -> usize {
        super::super::check(values, out);
        // SAFETY: `self` proves the features are present.
        unsafe { gate(values, threshold, out) }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn gate(values: &[u8], threshold: u8, out: &mut [u32]) -> usize {
    let t = _mm512_set1_epi8(threshold as i8);
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut n = 0usize;
    let steps = values.len() / 64;
    for s in 0..steps {
        let base = s * 64;
        // SAFETY: `values[base..]` has at least 64 bytes.
        let v = unsafe { _mm512_loadu_si512(values[base..].as_ptr().cast()) };
        let mut mask = _mm512_cmpgt_epu8_mask(v, t);
        for k in 0..4 {
            let m = (mask & 0xffff) as __mmask16;
            mask >>= 16;
            let idx = _mm512_add_epi32(lanes, _mm512_set1_epi32((base + 16 * k) as i32));
            // n <= base + 16k, so n + 16 <= values.len() <= out.len().
            let dst = &mut out[n..n + 16];
            let packed = _mm512_maskz_compress_epi32(m, idx);
            // SAFETY: `dst` has 16 values; lanes past the count are overwritten later or ignored.
            unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), packed) };
            n += m.count_ones() as usize;
        }
    }
    super::super::scalar::gate_from(values, threshold, out, steps * 64, n)
}
