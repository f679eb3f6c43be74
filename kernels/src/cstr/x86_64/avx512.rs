//! AVX-512 BW: 64 bytes per step; the last step (fewer than 64 bytes left in `src` or `dst`)
//! with a masked load and store, so nothing past `src` is read and nothing past `dst` written.

use core::arch::x86_64::*;

use super::super::Copied;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F/BW/VL (no VBMI needed).
    Avx512,
    crate::cpu::has_avx512bw
);

impl Avx512 {
    /// Copies the bytes of `src` before its first NUL to the start of `dst`.
    ///
    /// # Panics
    /// If `dst` is shorter than the string.
    pub fn copy(self, src: &[u8], dst: &mut [u8]) -> Option<Copied> {
        // SAFETY: `self` proves the features are present.
        unsafe { copy(src, dst) }
    }
}

/// # Safety
/// The CPU must have AVX-512 F/BW/VL.
pub(crate) unsafe fn entry(src: &[u8], dst: &mut [u8]) -> Option<Copied> {
    // SAFETY: forwarded from the caller.
    unsafe { copy(src, dst) }
}

/// The low `n` bits set (`n` ≤ 64).
fn low(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,bmi1")]
fn copy(src: &[u8], dst: &mut [u8]) -> Option<Copied> {
    let zero = _mm512_setzero_si512();
    let (mut i, mut high) = (0usize, 0u64);
    // Whole vectors while 64 bytes are left on both sides (the store may run past the string
    // inside `dst`), then one masked step.
    while let (Some(s), Some(d)) = (src.get(i..i + 64), dst.get_mut(i..i + 64)) {
        // SAFETY: `s` has 64 bytes.
        let v = unsafe { _mm512_loadu_si512(s.as_ptr().cast()) };
        // SAFETY: `d` has 64 bytes.
        unsafe { _mm512_storeu_si512(d.as_mut_ptr().cast(), v) };
        let nul = _mm512_cmpeq_epi8_mask(v, zero);
        let hi = _mm512_movepi8_mask(v);
        if nul != 0 {
            let k = nul.trailing_zeros() as usize;
            high |= hi & low(k);
            return Some(Copied {
                len: i + k,
                ascii: high == 0,
            });
        }
        high |= hi;
        i += 64;
    }
    loop {
        let n = (src.len() - i).min(64);
        let mask = low(n);
        // SAFETY: only the first `n` bytes from `i` are read, and they are inside `src`
        // (masked lanes are not accessed).
        let v = unsafe { _mm512_maskz_loadu_epi8(mask, src[i..].as_ptr().cast()) };
        let nul = _mm512_mask_cmpeq_epi8_mask(mask, v, zero);
        let k = if nul != 0 {
            nul.trailing_zeros() as usize
        } else {
            n
        };
        let room = dst.len().saturating_sub(i);
        if k > room {
            // Longer than `dst`: an error if it ends (as in the reference), `None` if it does not.
            assert!(
                nul == 0 && !src[i..].contains(&0),
                "string of at least {} bytes into {}",
                i + k,
                dst.len()
            );
            return None;
        }
        let keep = low(k);
        // SAFETY: only the first `k` bytes from `i` are written, and `k <= dst.len() - i`.
        unsafe { _mm512_mask_storeu_epi8(dst[i..].as_mut_ptr().cast(), keep, v) };
        high |= _mm512_movepi8_mask(v) & keep;
        i += k;
        if nul != 0 {
            return Some(Copied {
                len: i,
                ascii: high == 0,
            });
        }
        if n < 64 {
            return None;
        }
    }
}
