//! AVX2: prefix sums eight lanes at a time: in-lane shifted adds, then lane 0's total\n//! added to lane 1, carry broadcast.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
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

#[target_feature(enable = "avx2")]
fn decode(deltas: &[u32], scan_peaks: &[u32], out: &mut [u32]) {
    let mut at = 0;
    for &n in scan_peaks {
        let end = at + n as usize;
        scan(&deltas[at..end], &mut out[at..end]);
        at = end;
    }
}

#[inline]
#[target_feature(enable = "avx2")]
fn scan(d: &[u32], o: &mut [u32]) {
    let one = _mm256_set1_epi32(1);
    let last = _mm256_set1_epi32(7);
    let mut carry = _mm256_setzero_si256();
    let steps = d.len() / 8;
    for (src, dst) in d.chunks_exact(8).zip(o.chunks_exact_mut(8)) {
        // SAFETY: `src` has 8 values.
        let mut x = unsafe { _mm256_loadu_si256(src.as_ptr().cast()) };
        x = _mm256_add_epi32(x, _mm256_slli_si256(x, 4));
        x = _mm256_add_epi32(x, _mm256_slli_si256(x, 8));
        // Lane 1 += total of lane 0 (element 3 broadcast into the upper lane).
        let low_total = _mm256_shuffle_epi32(x, 0xff);
        x = _mm256_add_epi32(x, _mm256_permute2x128_si256(low_total, low_total, 0x08));
        x = _mm256_add_epi32(x, carry);
        carry = _mm256_permutevar8x32_epi32(x, last);
        let y = _mm256_sub_epi32(x, one);
        // SAFETY: `dst` has 8 values.
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), y) };
    }
    let mut sum = _mm256_cvtsi256_si32(carry) as u32;
    for (o, &d) in o[steps * 8..].iter_mut().zip(&d[steps * 8..]) {
        sum = sum.wrapping_add(d);
        *o = sum.wrapping_sub(1);
    }
}
