//! NEON: 16 packed bytes → 32 bases per step; `tbl` lookups and an interleaving `st2` store.

use core::arch::aarch64::*;

crate::isa_token!(
    /// Proof that the CPU has NEON.
    Neon,
    crate::cpu::has_simd128
);

impl Neon {
    /// Decodes `out.len()` bases from `packed`.
    ///
    /// # Panics
    /// If `packed.len() < out.len().div_ceil(2)`.
    pub fn decode(self, packed: &[u8], out: &mut [u8]) {
        assert!(
            packed.len() >= out.len().div_ceil(2),
            "packed sequence too short"
        );
        // SAFETY: `self` proves NEON is present.
        unsafe { decode(packed, out) }
    }
}

/// # Safety
/// The CPU must have NEON; `packed.len() >= out.len().div_ceil(2)`.
pub(crate) unsafe fn entry(packed: &[u8], out: &mut [u8]) {
    // SAFETY: forwarded from the caller.
    unsafe { decode(packed, out) }
}

#[target_feature(enable = "neon")]
fn decode(packed: &[u8], out: &mut [u8]) {
    // SAFETY: CODES is 16 bytes.
    let table = unsafe { vld1q_u8(super::super::CODES.as_ptr()) };
    let mask = vdupq_n_u8(0x0f);
    let steps = out.len() / 32;
    for (src, dst) in packed
        .chunks_exact(16)
        .zip(out.chunks_exact_mut(32))
        .take(steps)
    {
        // SAFETY: `src` has 16 bytes.
        let x = unsafe { vld1q_u8(src.as_ptr()) };
        let hi = vqtbl1q_u8(table, vshrq_n_u8::<4>(x));
        let lo = vqtbl1q_u8(table, vandq_u8(x, mask));
        // SAFETY: `dst` has 32 bytes; st2 interleaves hi/lo pairs.
        unsafe { vst2q_u8(dst.as_mut_ptr(), uint8x16x2_t(hi, lo)) };
    }
    super::super::scalar::decode(&packed[steps * 16..], &mut out[steps * 32..]);
}
