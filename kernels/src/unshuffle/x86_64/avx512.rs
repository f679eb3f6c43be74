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

/// The permute tables, loaded once per call.
#[derive(Clone, Copy)]
struct Tables {
    bytes: [__m512i; 2],
    words: [__m512i; 2],
}

impl Tables {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
    fn load() -> Self {
        Self {
            // SAFETY: each table is 64 bytes.
            bytes: BYTES.map(|t| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }),
            // SAFETY: each table is 64 bytes.
            words: WORDS.map(|t| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }),
        }
    }
}

/// Values `i..i + 64` in order, 16 per vector.
///
/// # Safety
/// Each plane must have at least `i + 64` bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn words64(planes: [&[u8]; 4], i: usize, t: Tables) -> [__m512i; 4] {
    // The bounds-checked slice start is free next to the loads (`i` is in range).
    // SAFETY: the caller guarantees 64 bytes from `i` in each plane.
    let [a, b, c, d] = planes.map(|p| unsafe { _mm512_loadu_si512(p[i..].as_ptr().cast()) });
    // ab[h] = a b byte pairs of values 32h..32h+32, likewise cd[h].
    let ab = [
        _mm512_permutex2var_epi8(a, t.bytes[0], b),
        _mm512_permutex2var_epi8(a, t.bytes[1], b),
    ];
    let cd = [
        _mm512_permutex2var_epi8(c, t.bytes[0], d),
        _mm512_permutex2var_epi8(c, t.bytes[1], d),
    ];
    [
        _mm512_permutex2var_epi16(ab[0], t.words[0], cd[0]),
        _mm512_permutex2var_epi16(ab[0], t.words[1], cd[0]),
        _mm512_permutex2var_epi16(ab[1], t.words[0], cd[1]),
        _mm512_permutex2var_epi16(ab[1], t.words[1], cd[1]),
    ]
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn unshuffle(planes: &[u8], out: &mut [u32]) {
    let n = out.len();
    let p = super::super::split(planes, n);
    let t = Tables::load();
    let steps = n / 64;
    for s in 0..steps {
        let i = s * 64;
        // SAFETY: each plane has `n >= i + 64` bytes.
        let v = unsafe { words64(p, i, t) };
        let dst = &mut out[i..i + 64];
        for (q, v) in v.into_iter().enumerate() {
            // SAFETY: `dst[16q..]` has 16 values.
            unsafe { _mm512_storeu_si512(dst[16 * q..].as_mut_ptr().cast(), v) };
        }
    }
    super::super::tail(planes, out, steps * 64);
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn pairs(planes: &[u8], from: usize, even: &mut [u32], odd: &mut [u32]) {
    let n = planes.len() / 4;
    let p = super::super::split(planes, n);
    let t = Tables::load();
    let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // 64 values = 32 pairs per step.
    let steps = even.len() / 32;
    for s in 0..steps {
        let (i, k) = (from + 64 * s, 32 * s);
        // SAFETY: `from + 2·even.len() == n`, so each plane has `n >= i + 64` bytes.
        let v = unsafe { words64(p, i, t) };
        for h in 0..2 {
            let (lo, hi) = (v[2 * h], v[2 * h + 1]);
            let at = k + 16 * h;
            let e = _mm512_permutex2var_epi32(lo, evens, hi);
            let o = _mm512_permutex2var_epi32(lo, odds, hi);
            // SAFETY: `even[at..]` has 16 values (`at + 16 <= 32·steps`).
            unsafe { _mm512_storeu_si512(even[at..].as_mut_ptr().cast(), e) };
            // SAFETY: as above, for `odd`.
            unsafe { _mm512_storeu_si512(odd[at..].as_mut_ptr().cast(), o) };
        }
    }
    super::super::pairs_tail(planes, from, even, odd, steps * 32);
}
