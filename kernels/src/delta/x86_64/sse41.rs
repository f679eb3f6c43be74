//! SSE4.1: prefix sums four lanes at a time (two shifted adds), carry broadcast.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has SSSE3 and SSE4.1.
    Sse41,
    crate::cpu::has_simd128
);

impl Sse41 {
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

#[target_feature(enable = "ssse3,sse4.1")]
fn decode(deltas: &[u32], scan_peaks: &[u32], out: &mut [u32]) {
    let mut at = 0;
    for &n in scan_peaks {
        let end = at + n as usize;
        scan(&deltas[at..end], &mut out[at..end]);
        at = end;
    }
}

#[inline]
#[target_feature(enable = "ssse3,sse4.1")]
fn scan(d: &[u32], o: &mut [u32]) {
    let one = _mm_set1_epi32(1);
    let mut carry = _mm_setzero_si128();
    let steps = d.len() / 4;
    for (src, dst) in d.chunks_exact(4).zip(o.chunks_exact_mut(4)) {
        // SAFETY: `src` has 4 values.
        let mut x = unsafe { _mm_loadu_si128(src.as_ptr().cast()) };
        x = _mm_add_epi32(x, _mm_slli_si128(x, 4));
        x = _mm_add_epi32(x, _mm_slli_si128(x, 8));
        x = _mm_add_epi32(x, carry);
        carry = _mm_shuffle_epi32(x, 0xff);
        let y = _mm_sub_epi32(x, one);
        // SAFETY: `dst` has 4 values.
        unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), y) };
    }
    let mut sum = _mm_cvtsi128_si32(carry) as u32;
    for (o, &d) in o[steps * 4..].iter_mut().zip(&d[steps * 4..]) {
        sum = sum.wrapping_add(d);
        *o = sum.wrapping_sub(1);
    }
}
