//! NEON: 16 values per step; `st4` interleaves the four planes as it stores.

use core::arch::aarch64::*;

crate::isa_token!(
    /// Proof that the CPU has NEON.
    Neon,
    crate::cpu::has_simd128
);

impl Neon {
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
        // SAFETY: `self` proves NEON is present.
        unsafe { unshuffle(planes, out) }
    }
}

#[target_feature(enable = "neon")]
fn unshuffle(planes: &[u8], out: &mut [u32]) {
    let n = out.len();
    let [p0, p1, p2, p3] = super::super::split(planes, n);
    let steps = n / 16;
    for s in 0..steps {
        let i = s * 16;
        // SAFETY: each plane has `n >= i + 16` bytes.
        let v = unsafe {
            uint8x16x4_t(
                vld1q_u8(p0[i..].as_ptr()),
                vld1q_u8(p1[i..].as_ptr()),
                vld1q_u8(p2[i..].as_ptr()),
                vld1q_u8(p3[i..].as_ptr()),
            )
        };
        // SAFETY: `out[i..]` has at least 16 values = 64 bytes.
        unsafe { vst4q_u8(out[i..].as_mut_ptr().cast(), v) };
    }
    super::super::tail(planes, out, steps * 16);
}
