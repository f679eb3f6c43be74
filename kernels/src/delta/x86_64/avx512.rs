//! AVX-512 F: prefix sums sixteen lanes at a time (four masked lane-shift adds);\n//! the tail is one masked step.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F (no BW, VL or VBMI needed).
    Avx512,
    crate::cpu::has_avx512f
);

impl Avx512 {
    /// Decodes a frame's TOF deltas.
    ///
    /// # Panics
    /// If `out.len() != deltas.len()` or the scan counts do not sum to `deltas.len()`.
    pub fn decode(self, deltas: &[u32], scan_peaks: &[u32], out: &mut [u32]) {
        super::super::check(deltas, scan_peaks, out);
        // SAFETY: `self` proves the features are present.
        unsafe { decode(deltas, scan_peaks, out) }
    }
}

#[target_feature(enable = "avx512f")]
fn decode(deltas: &[u32], scan_peaks: &[u32], out: &mut [u32]) {
    let mut at = 0;
    for &n in scan_peaks {
        let end = at + n as usize;
        scan(&deltas[at..end], &mut out[at..end]);
        at = end;
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn step(mut x: __m512i, carry: __m512i) -> __m512i {
    // Shift by k lanes: lane i takes lane i - k (zero below k).
    let idx = _mm512_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    x = _mm512_add_epi32(x, _mm512_maskz_permutexvar_epi32(0xfffe, idx, x));
    let idx = _mm512_setr_epi32(0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13);
    x = _mm512_add_epi32(x, _mm512_maskz_permutexvar_epi32(0xfffc, idx, x));
    let idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    x = _mm512_add_epi32(x, _mm512_maskz_permutexvar_epi32(0xfff0, idx, x));
    let idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7);
    x = _mm512_add_epi32(x, _mm512_maskz_permutexvar_epi32(0xff00, idx, x));
    _mm512_add_epi32(x, carry)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn scan(d: &[u32], o: &mut [u32]) {
    let one = _mm512_set1_epi32(1);
    let last = _mm512_set1_epi32(15);
    let mut carry = _mm512_setzero_si512();
    let steps = d.len() / 16;
    for (src, dst) in d.chunks_exact(16).zip(o.chunks_exact_mut(16)) {
        // SAFETY: `src` has 16 values.
        let x = step(unsafe { _mm512_loadu_si512(src.as_ptr().cast()) }, carry);
        carry = _mm512_permutexvar_epi32(last, x);
        let y = _mm512_sub_epi32(x, one);
        // SAFETY: `dst` has 16 values.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), y) };
    }
    let rest = d.len() - steps * 16;
    if rest > 0 {
        // rest < 16
        let mask = ((1u32 << rest) - 1) as __mmask16;
        // SAFETY: masked lanes are not read; `rest` values remain.
        let x = unsafe { _mm512_maskz_loadu_epi32(mask, d[steps * 16..].as_ptr().cast()) };
        let y = _mm512_sub_epi32(step(x, carry), one);
        // SAFETY: only `rest` values are written, and `o` has them.
        unsafe { _mm512_mask_storeu_epi32(o[steps * 16..].as_mut_ptr().cast(), mask, y) };
    }
}
