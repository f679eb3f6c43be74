//! AVX-512 VBMI: 64 values per step; two-source byte and word permutes interleave
//! the planes directly in order.

use core::arch::x86_64::*;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F/BW/VL/VBMI.
    Avx512,
    crate::cpu::has_avx512
);

impl Avx512 {
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
}

const fn byte_index(half: usize) -> [u8; 64] {
    // Output byte j of the pair interleave: even j from the first source, odd from the second.
    let mut t = [0u8; 64];
    let mut j = 0;
    while j < 64 {
        t[j] = ((j / 2) + 32 * half + if j % 2 == 1 { 64 } else { 0 }) as u8;
        j += 1;
    }
    t
}

const fn word_index(quarter: usize) -> [u16; 32] {
    // Output word w: even w from the first source (ab pair), odd from the second (cd pair).
    let mut t = [0u16; 32];
    let mut w = 0;
    while w < 32 {
        t[w] = ((w / 2) + 16 * quarter + if w % 2 == 1 { 32 } else { 0 }) as u16;
        w += 1;
    }
    t
}

static BYTES: [[u8; 64]; 2] = [byte_index(0), byte_index(1)];
static WORDS: [[u16; 32]; 2] = [word_index(0), word_index(1)];

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn unshuffle(planes: &[u8], out: &mut [u32]) {
    let n = out.len();
    let [p0, p1, p2, p3] = super::super::split(planes, n);
    // SAFETY: each table is 64 bytes.
    let bi = BYTES.map(|t| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) });
    // SAFETY: each table is 64 bytes.
    let wi = WORDS.map(|t| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) });
    let steps = n / 64;
    for s in 0..steps {
        let i = s * 64;
        // SAFETY: each plane has `n >= i + 64` bytes.
        let a = unsafe { _mm512_loadu_si512(p0[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let b = unsafe { _mm512_loadu_si512(p1[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let c = unsafe { _mm512_loadu_si512(p2[i..].as_ptr().cast()) };
        // SAFETY: as above.
        let d = unsafe { _mm512_loadu_si512(p3[i..].as_ptr().cast()) };
        // ab[h] = a b byte pairs of values 32h..32h+32, likewise cd[h].
        let ab = [
            _mm512_permutex2var_epi8(a, bi[0], b),
            _mm512_permutex2var_epi8(a, bi[1], b),
        ];
        let cd = [
            _mm512_permutex2var_epi8(c, bi[0], d),
            _mm512_permutex2var_epi8(c, bi[1], d),
        ];
        let dst = &mut out[i..i + 64];
        for (h, (&ab, &cd)) in ab.iter().zip(&cd).enumerate() {
            for (q, &wi) in wi.iter().enumerate() {
                let v = _mm512_permutex2var_epi16(ab, wi, cd);
                let at = 32 * h + 16 * q;
                // SAFETY: `dst[at..]` has at least 16 values.
                unsafe { _mm512_storeu_si512(dst[at..].as_mut_ptr().cast(), v) };
            }
        }
    }
    super::super::tail(planes, out, steps * 64);
}
