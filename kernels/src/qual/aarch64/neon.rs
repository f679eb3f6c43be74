//! NEON: 16 qualities per step.

use core::arch::aarch64::*;

crate::isa_token!(
    /// Proof that the CPU has NEON.
    Neon,
    crate::cpu::has_simd128
);

impl Neon {
    /// Writes `min(q, 93) + 33` for every byte; returns whether any byte exceeded 93.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn add33(self, qual: &[u8], out: &mut [u8]) -> bool {
        assert_eq!(qual.len(), out.len(), "quality output length");
        // SAFETY: `self` proves NEON is present.
        unsafe { add33(qual, out) }
    }
}

/// # Safety
/// The CPU must have NEON; `qual.len() == out.len()`.
pub(crate) unsafe fn entry(qual: &[u8], out: &mut [u8]) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { add33(qual, out) }
}

#[target_feature(enable = "neon")]
fn add33(qual: &[u8], out: &mut [u8]) -> bool {
    let max = vdupq_n_u8(super::super::MAX_PRINTABLE);
    let offset = vdupq_n_u8(33);
    let mut over = vdupq_n_u8(0);
    let steps = qual.len() / 16;
    for (src, dst) in qual.chunks_exact(16).zip(out.chunks_exact_mut(16)) {
        // SAFETY: `src` has 16 bytes.
        let q = unsafe { vld1q_u8(src.as_ptr()) };
        over = vorrq_u8(over, vqsubq_u8(q, max));
        // SAFETY: `dst` has 16 bytes.
        unsafe { vst1q_u8(dst.as_mut_ptr(), vaddq_u8(vminq_u8(q, max), offset)) };
    }
    let tail = super::super::scalar::add33(&qual[steps * 16..], &mut out[steps * 16..]);
    tail || vmaxvq_u8(over) != 0
}
