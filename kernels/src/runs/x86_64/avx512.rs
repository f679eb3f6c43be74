//! AVX-512 F: one broadcast per run, 64-byte stores from the run's start (the last may spill
//! into the next run, which overwrites it); a masked store at the end of the output.

use core::arch::x86_64::*;

use super::super::Lane;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F (no BW, VL or VBMI needed).
    Avx512,
    crate::cpu::has_avx512f
);

impl Avx512 {
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

#[target_feature(enable = "avx512f")]
fn expand<T: Lane>(counts: &[u32], values: &[T], out: &mut [T]) {
    let len = out.len();
    let base = out.as_mut_ptr();
    let lanes = if T::WIDE { 8 } else { 16 };
    let mut at = 0;
    for (&c, &v) in counts.iter().zip(values) {
        if c == 0 {
            continue;
        }
        let end = at + c as usize; // <= len: the counts sum to len
        let x = if T::WIDE {
            _mm512_set1_epi64(v.bits() as i64)
        } else {
            _mm512_set1_epi32(v.bits() as u32 as i32)
        };
        let mut i = at;
        loop {
            let p = base.wrapping_add(i).cast::<u8>();
            if i + lanes > len {
                // The end of `out`: only the `len - i` slots that exist.
                let rest = len - i; // 1..lanes
                if T::WIDE {
                    // SAFETY: only the `rest` lanes inside `out` are written (masked-off lanes
                    // are neither written nor faulted); `T` is valid for any bits.
                    unsafe { _mm512_mask_storeu_epi64(p.cast(), ((1u32 << rest) - 1) as u8, x) };
                } else {
                    // SAFETY: as above.
                    unsafe { _mm512_mask_storeu_epi32(p.cast(), ((1u32 << rest) - 1) as u16, x) };
                }
                break;
            }
            // SAFETY: `i + lanes <= len`: the 64 bytes lie inside `out`; `T` is valid for any
            // bits. Slots past `end` are rewritten by the following runs, which start at `end`.
            unsafe { _mm512_storeu_si512(p.cast(), x) };
            i += lanes;
            if i >= end {
                break;
            }
        }
        at = end;
    }
}
