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

    /// Values `from..` split alternately into `even` and `odd` (see [`super::super::pairs`]).
    ///
    /// # Panics
    /// As [`super::super::pairs`].
    pub fn pairs(self, planes: &[u8], from: usize, even: &mut [u32], odd: &mut [u32]) {
        super::super::check_pairs(planes, from, even, odd);
        // SAFETY: `self` proves the features are present.
        unsafe { pairs(planes, from, even, odd) }
    }
}

/// Values `i..i + 32` in order, 8 per vector.
///
/// # Safety
/// Each plane must have at least `i + 32` bytes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn words32(planes: [&[u8]; 4], i: usize) -> [__m256i; 4] {
    // The bounds-checked slice start is free next to the loads (`i` is in range).
    // SAFETY: the caller guarantees 32 bytes from `i` in each plane.
    let [a, b, c, d] = planes.map(|p| unsafe { _mm256_loadu_si256(p[i..].as_ptr().cast()) });
    let ab_lo = _mm256_unpacklo_epi8(a, b);
    let ab_hi = _mm256_unpackhi_epi8(a, b);
    let cd_lo = _mm256_unpacklo_epi8(c, d);
    let cd_hi = _mm256_unpackhi_epi8(c, d);
    // Lane 0 of v0..v3 holds values 0-3, 4-7, 8-11, 12-15; lane 1 the same plus 16.
    let v0 = _mm256_unpacklo_epi16(ab_lo, cd_lo);
    let v1 = _mm256_unpackhi_epi16(ab_lo, cd_lo);
    let v2 = _mm256_unpacklo_epi16(ab_hi, cd_hi);
    let v3 = _mm256_unpackhi_epi16(ab_hi, cd_hi);
    [
        _mm256_permute2x128_si256(v0, v1, 0x20),
        _mm256_permute2x128_si256(v2, v3, 0x20),
        _mm256_permute2x128_si256(v0, v1, 0x31),
        _mm256_permute2x128_si256(v2, v3, 0x31),
    ]
}

#[target_feature(enable = "avx2")]
fn unshuffle(planes: &[u8], out: &mut [u32]) {
    let n = out.len();
    let p = super::super::split(planes, n);
    let steps = n / 32;
    for s in 0..steps {
        let i = s * 32;
        // SAFETY: each plane has `n >= i + 32` bytes.
        let vals = unsafe { words32(p, i) };
        let dst = &mut out[i..i + 32];
        for (k, v) in vals.into_iter().enumerate() {
            // SAFETY: `dst[8k..]` has at least 8 values.
            unsafe { _mm256_storeu_si256(dst[8 * k..].as_mut_ptr().cast(), v) };
        }
    }
    super::super::tail(planes, out, steps * 32);
}

#[target_feature(enable = "avx2")]
fn pairs(planes: &[u8], from: usize, even: &mut [u32], odd: &mut [u32]) {
    let n = planes.len() / 4;
    let p = super::super::split(planes, n);
    // Within a vector: the even values to the low lane, the odd ones to the high lane.
    let split_lanes = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    // 32 values = 16 pairs per step.
    let steps = even.len() / 16;
    for s in 0..steps {
        let (i, k) = (from + 32 * s, 16 * s);
        // SAFETY: `from + 2·even.len() == n`, so each plane has `n >= i + 32` bytes.
        let v = unsafe { words32(p, i) };
        for h in 0..2 {
            let lo = _mm256_permutevar8x32_epi32(v[2 * h], split_lanes);
            let hi = _mm256_permutevar8x32_epi32(v[2 * h + 1], split_lanes);
            let at = k + 8 * h;
            let e = _mm256_permute2x128_si256(lo, hi, 0x20);
            let o = _mm256_permute2x128_si256(lo, hi, 0x31);
            // SAFETY: `even[at..]` has 8 values (`at + 8 <= 16·steps`).
            unsafe { _mm256_storeu_si256(even[at..].as_mut_ptr().cast(), e) };
            // SAFETY: as above, for `odd`.
            unsafe { _mm256_storeu_si256(odd[at..].as_mut_ptr().cast(), o) };
        }
    }
    super::super::pairs_tail(planes, from, even, odd, steps * 16);
}
