//! AVX-512 VBMI: 32 packed bytes → 64 bases per step. `vpermb` duplicates each input byte into
//! the two output positions, a shift and a blend pick the nibble, and a second `vpermb` is the
//! table lookup. The tail uses masked loads and stores: no scalar loop.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F/BW/VL/VBMI.
    Avx512,
    crate::cpu::has_avx512
);

impl Avx512 {
    /// Decodes `out.len()` bases from `packed`.
    ///
    /// # Panics
    /// If `packed.len() < out.len().div_ceil(2)`.
    pub fn decode(self, packed: &[u8], out: &mut [u8]) {
        assert!(
            packed.len() >= out.len().div_ceil(2),
            "packed sequence too short"
        );
        // SAFETY: `self` proves the AVX-512 features are present.
        unsafe { decode(packed, out) }
    }
}

/// # Safety
/// The CPU must have AVX-512 F/BW/VL/VBMI; `packed.len() >= out.len().div_ceil(2)`.
pub(crate) unsafe fn entry(packed: &[u8], out: &mut [u8]) {
    // SAFETY: forwarded from the caller.
    unsafe { decode(packed, out) }
}

const fn dup_index() -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = (i / 2) as u8;
        i += 1;
    }
    t
}
static DUP: [u8; 64] = dup_index();

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn step(x: __m512i, dup: __m512i, table: __m512i, nib: __m512i) -> __m512i {
    let d = _mm512_permutexvar_epi8(dup, x);
    // Even output bytes take the high nibble (byte >> 4), odd ones the low nibble.
    let shifted = _mm512_srli_epi16(d, 4);
    let picked = _mm512_mask_blend_epi8(0xAAAA_AAAA_AAAA_AAAA, shifted, d);
    _mm512_permutexvar_epi8(_mm512_and_si512(picked, nib), table)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn decode(packed: &[u8], out: &mut [u8]) {
    // SAFETY: DUP is 64 bytes.
    let dup = unsafe { _mm512_loadu_si512(DUP.as_ptr().cast()) };
    // SAFETY: CODES is 16 bytes.
    let t128 = unsafe { _mm_loadu_si128(super::super::CODES.as_ptr().cast()) };
    let table = _mm512_broadcast_i32x4(t128);
    let nib = _mm512_set1_epi8(0x0f);
    let steps = out.len() / 64;
    for (src, dst) in packed
        .chunks_exact(32)
        .zip(out.chunks_exact_mut(64))
        .take(steps)
    {
        // SAFETY: `src` has 32 bytes.
        let x = unsafe { _mm256_loadu_si256(src.as_ptr().cast()) };
        let v = step(_mm512_castsi256_si512(x), dup, table, nib);
        // SAFETY: `dst` has 64 bytes.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), v) };
    }
    let out = &mut out[steps * 64..];
    if out.is_empty() {
        return;
    }
    let packed = &packed[steps * 32..];
    let n_in = out.len().div_ceil(2);
    // n_in <= 32 and out.len() < 64 here.
    let load_mask = ((1u64 << n_in) - 1) as __mmask32;
    let store_mask: __mmask64 = (1u64 << out.len()) - 1;
    // SAFETY: only the first `n_in` bytes are read (masked lanes do not fault) and
    // `packed.len() >= n_in`.
    let x = unsafe { _mm256_maskz_loadu_epi8(load_mask, packed.as_ptr().cast()) };
    let v = step(_mm512_castsi256_si512(x), dup, table, nib);
    // SAFETY: only the first `out.len()` bytes are written.
    unsafe { _mm512_mask_storeu_epi8(out.as_mut_ptr().cast(), store_mask, v) };
}
