//! AVX2: 32 values per compare; each 8-bit slice of the mask selects a row of a 256-entry table of
//! packed positions, widened to `u32` and offset in one step (the LUT form of a compress).

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX2 (with BMI and POPCNT).
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
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

/// Row `m`: the positions of the set bits of `m`, packed to the front.
static POSITIONS: [[u8; 8]; 256] = {
    let mut t = [[0u8; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let mut k = 0;
        let mut bit = 0;
        while bit < 8 {
            if m & (1 << bit) != 0 {
                t[m][k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        m += 1;
    }
    t
};

#[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
fn gate(values: &[u8], threshold: u8, out: &mut [u32]) -> usize {
    if threshold == u8::MAX {
        return 0;
    }
    // v > t  <=>  max(v, t + 1) == v
    let above = _mm256_set1_epi8((threshold + 1) as i8);
    let mut n = 0usize;
    let steps = values.len() / 32;
    for s in 0..steps {
        let base = s * 32;
        // SAFETY: `values[base..]` has at least 32 bytes.
        let v = unsafe { _mm256_loadu_si256(values[base..].as_ptr().cast()) };
        let hit = _mm256_cmpeq_epi8(_mm256_max_epu8(v, above), v);
        let mut mask = _mm256_movemask_epi8(hit) as u32;
        for k in 0..4 {
            let m = (mask & 0xff) as usize;
            mask >>= 8;
            // SAFETY: each row is 8 bytes.
            let pos = unsafe { _mm_loadl_epi64(POSITIONS[m].as_ptr().cast()) };
            let idx = _mm256_add_epi32(
                _mm256_cvtepu8_epi32(pos),
                _mm256_set1_epi32((base + 8 * k) as i32),
            );
            // n <= base + 8k, so n + 8 <= base + 8k + 8 <= values.len() <= out.len().
            let dst = &mut out[n..n + 8];
            // SAFETY: `dst` has 8 values; lanes past the count are overwritten later or ignored.
            unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), idx) };
            n += m.count_ones() as usize;
        }
    }
    super::super::scalar::gate_from(values, threshold, out, steps * 32, n)
}
