//! AVX2: eight messages, one per 32-bit lane. A block's words arrive as two 32-byte loads per
//! lane and two 8 × 8 transposes; rotations are two shifts and an OR (AVX2 has no rotate).

use core::arch::x86_64::*;

use super::super::md5_steps;

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

impl Avx2 {
    /// The MD5 of each message (`out[i]` of `msgs[i]`).
    ///
    /// # Panics
    /// If `out.len() != msgs.len()`.
    pub fn digest_many(self, msgs: &[&[u8]], out: &mut [[u8; 16]]) {
        super::super::lanes::<8>(msgs, out, |state, lanes| {
            // SAFETY: `self` proves the features are present.
            unsafe { blocks(state, &lanes) }
        });
    }
}

#[inline]
#[target_feature(enable = "avx2")]
fn rol<const S: i32, const R: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_slli_epi32::<S>(x), _mm256_srli_epi32::<R>(x))
}

/// One step: `b + rotl(a + m + k + fx, S)`, `fx` the round's function of `b, c, d`.
#[inline]
#[target_feature(enable = "avx2")]
fn step<const S: i32, const R: i32>(
    a: __m256i,
    b: __m256i,
    m: __m256i,
    k: u32,
    fx: __m256i,
) -> __m256i {
    let t = _mm256_add_epi32(a, _mm256_add_epi32(m, _mm256_set1_epi32(k as i32)));
    _mm256_add_epi32(rol::<S, R>(_mm256_add_epi32(t, fx)), b)
}

/// The four rounds' steps, each with its boolean function of `b, c, d`.
macro_rules! rounds {
    ($($name:ident: |$b:ident, $c:ident, $d:ident| $fx:expr;)*) => {$(
        #[inline]
        #[target_feature(enable = "avx2")]
        fn $name<const S: i32, const R: i32>(
            a: __m256i,
            $b: __m256i,
            $c: __m256i,
            $d: __m256i,
            m: __m256i,
            k: u32,
        ) -> __m256i {
            step::<S, R>(a, $b, m, k, $fx)
        }
    )*};
}
rounds! {
    // d ^ (b & (c ^ d))
    f: |b, c, d| _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)));
    // (b & d) | (c & !d): the terms share no bit, so OR is addition.
    g: |b, c, d| _mm256_or_si256(_mm256_and_si256(b, d), _mm256_andnot_si256(d, c));
    h: |b, c, d| _mm256_xor_si256(_mm256_xor_si256(b, c), d);
    // c ^ (b | !d)
    i: |b, c, d| _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, _mm256_set1_epi32(-1))));
}

/// Transposes eight rows of eight words: `out[w]` holds every row's word `w`.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    let t: [__m256i; 8] = core::array::from_fn(|p| {
        let (x, y) = (r[2 * (p / 2)], r[2 * (p / 2) + 1]);
        if p % 2 == 0 {
            _mm256_unpacklo_epi32(x, y)
        } else {
            _mm256_unpackhi_epi32(x, y)
        }
    });
    // u[4q + j]: rows 4q..4q + 4, word j of each 128-bit lane.
    let u: [__m256i; 8] = core::array::from_fn(|n| {
        let (q, j) = (n / 4, n % 4);
        let (x, y) = (t[4 * q + j / 2], t[4 * q + 2 + j / 2]);
        if j % 2 == 0 {
            _mm256_unpacklo_epi64(x, y)
        } else {
            _mm256_unpackhi_epi64(x, y)
        }
    });
    core::array::from_fn(|w| {
        if w < 4 {
            _mm256_permute2x128_si256::<0x20>(u[w], u[4 + w])
        } else {
            _mm256_permute2x128_si256::<0x31>(u[w - 4], u[w])
        }
    })
}

/// Advances the eight lanes' states over their slices (of one length, whole blocks).
#[target_feature(enable = "avx2")]
fn blocks(state: &mut [[u32; 8]; 4], lanes: &[&[u8]; 8]) {
    let len = lanes[0].len();
    assert!(len.is_multiple_of(64) && lanes.iter().all(|l| l.len() == len));
    // SAFETY: `state[w]` is 8 `u32`s, read unaligned.
    let load = |w: &[u32; 8]| unsafe { _mm256_loadu_si256(w.as_ptr().cast()) };
    let (mut a, mut b, mut c, mut d) = (
        load(&state[0]),
        load(&state[1]),
        load(&state[2]),
        load(&state[3]),
    );
    let mut at = 0;
    while at < len {
        // SAFETY: the 32 bytes are in the lane (the index checks it).
        let half = |l: usize, o: usize| unsafe {
            _mm256_loadu_si256(lanes[l][at + o..at + o + 32].as_ptr().cast())
        };
        let lo = transpose(core::array::from_fn(|l| half(l, 0)));
        let hi = transpose(core::array::from_fn(|l| half(l, 32)));
        let m: [__m256i; 16] = core::array::from_fn(|w| if w < 8 { lo[w] } else { hi[w - 8] });
        let (a0, b0, c0, d0) = (a, b, c, d);
        md5_steps!(f, g, h, i, a, b, c, d, m);
        a = _mm256_add_epi32(a, a0);
        b = _mm256_add_epi32(b, b0);
        c = _mm256_add_epi32(c, c0);
        d = _mm256_add_epi32(d, d0);
        at += 64;
    }
    for (w, v) in state.iter_mut().zip([a, b, c, d]) {
        // SAFETY: `w` is 8 `u32`s.
        unsafe { _mm256_storeu_si256(w.as_mut_ptr().cast(), v) };
    }
}
