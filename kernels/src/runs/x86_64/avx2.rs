//! AVX2: one broadcast per run, 32-byte stores from the run's start (the last may spill into the
//! next run, which overwrites it); a masked store at the end of the output.

use core::arch::x86_64::*;

use super::super::Lane;

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
    /// Expands the runs into `out`.
    ///
    /// # Panics
    /// If `counts` and `values` differ in length or the counts do not sum to `out.len()`.
    pub fn expand<T: Lane>(self, counts: &[u32], values: &[T], out: &mut [T]) {
        super::super::check(counts, values, out);
        // SAFETY: `self` proves the features are present.
        unsafe { expand(counts, values, out) }
    }
}

#[target_feature(enable = "avx2")]
fn expand<T: Lane>(counts: &[u32], values: &[T], out: &mut [T]) {
    let len = out.len();
    let base = out.as_mut_ptr();
    let lanes = if T::WIDE { 4 } else { 8 };
    let lane_index = if T::WIDE {
        _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)
    } else {
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
    };
    let mut at = 0;
    for (&c, &v) in counts.iter().zip(values) {
        if c == 0 {
            continue;
        }
        let end = at + c as usize; // <= len: the counts sum to len
        let x = if T::WIDE {
            _mm256_set1_epi64x(v.bits() as i64)
        } else {
            _mm256_set1_epi32(v.bits() as u32 as i32)
        };
        let mut i = at;
        loop {
            let p = base.wrapping_add(i).cast::<u8>();
            if i + lanes > len {
                // The end of `out`: only the `len - i` slots that exist (all-ones 32-bit mask
                // lanes; a 64-bit lane's mask is its upper half, set alike).
                let rest = (len - i) as i32; // 1..lanes
                let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), lane_index);
                // SAFETY: only the lanes inside `out` are written (masked-off lanes are neither
                // written nor faulted); `T` is valid for any bits.
                unsafe { _mm256_maskstore_epi32(p.cast(), mask, x) };
                break;
            }
            // SAFETY: `i + lanes <= len`: the 32 bytes lie inside `out`; `T` is valid for any
            // bits. Slots past `end` are rewritten by the following runs, which start at `end`.
            unsafe { _mm256_storeu_si256(p.cast(), x) };
            i += lanes;
            if i >= end {
                break;
            }
        }
        at = end;
    }
}
