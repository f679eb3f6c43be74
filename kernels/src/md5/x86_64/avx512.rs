//! AVX-512 F: sixteen messages, one per 32-bit lane. Each round's boolean function is one
//! `vpternlogd`, each rotation one `vprold`; a block's sixteen words arrive as one 64-byte load
//! per lane and a 16 × 16 transpose (four shuffle stages).

use core::arch::x86_64::*;

use super::super::md5_steps;

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F.
    Avx512,
    crate::cpu::has_avx512f
);

impl Avx512 {
    /// The MD5 of each message (`out[i]` of `msgs[i]`).
    ///
    /// # Panics
    /// If `out.len() != msgs.len()`.
    pub fn digest_many(self, msgs: &[&[u8]], out: &mut [[u8; 16]]) {
        super::super::lanes::<16>(msgs, out, |state, lanes| {
            // SAFETY: `self` proves the features are present.
            unsafe { blocks(state, &lanes) }
        });
    }
}

/// One step: `b + rotl(a + m + k + fx, S)`, `fx` the round's function of `b, c, d`.
#[inline]
#[target_feature(enable = "avx512f")]
fn step<const S: i32>(a: __m512i, b: __m512i, m: __m512i, k: u32, fx: __m512i) -> __m512i {
    let t = _mm512_add_epi32(a, _mm512_add_epi32(m, _mm512_set1_epi32(k as i32)));
    _mm512_add_epi32(_mm512_rol_epi32::<S>(_mm512_add_epi32(t, fx)), b)
}

/// The four rounds' steps (`R`, the right shift, is for the implementations without a rotate).
/// Each round function is one `vpternlogd`: F = b ? c : d, G = d ? b : c, H = b ^ c ^ d,
/// I = c ^ (b | !d).
macro_rules! rounds {
    ($($name:ident: $imm:literal |$b:ident, $c:ident, $d:ident| ($x:ident, $y:ident, $z:ident);)*) => {$(
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn $name<const S: i32, const R: i32>(
            a: __m512i,
            $b: __m512i,
            $c: __m512i,
            $d: __m512i,
            m: __m512i,
            k: u32,
        ) -> __m512i {
            step::<S>(a, $b, m, k, _mm512_ternarylogic_epi32::<$imm>($x, $y, $z))
        }
    )*};
}
rounds! {
    f: 0xca |b, c, d| (b, c, d);
    g: 0xca |b, c, d| (d, b, c);
    h: 0x96 |b, c, d| (b, c, d);
    i: 0x39 |b, c, d| (b, c, d);
}

/// Transposes four rows' 16 words into four vectors per 128-bit lane: `out[j]`'s lane `k`
/// holds the four rows' word `4k + j`.
#[inline]
#[target_feature(enable = "avx512f")]
fn quad(r: [__m512i; 4]) -> [__m512i; 4] {
    {
        let t0 = _mm512_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm512_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm512_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm512_unpackhi_epi32(r[2], r[3]);
        [
            _mm512_unpacklo_epi64(t0, t2),
            _mm512_unpackhi_epi64(t0, t2),
            _mm512_unpacklo_epi64(t1, t3),
            _mm512_unpackhi_epi64(t1, t3),
        ]
    }
}

/// Advances the sixteen lanes' states over their slices (of one length, whole blocks).
#[target_feature(enable = "avx512f")]
fn blocks(state: &mut [[u32; 16]; 4], lanes: &[&[u8]; 16]) {
    let len = lanes[0].len();
    assert!(len.is_multiple_of(64) && lanes.iter().all(|l| l.len() == len));
    // SAFETY: `state[w]` is 16 `u32`s, read and written unaligned.
    let load = |w: &[u32; 16]| unsafe { _mm512_loadu_si512(w.as_ptr().cast()) };
    let (mut a, mut b, mut c, mut d) = (
        load(&state[0]),
        load(&state[1]),
        load(&state[2]),
        load(&state[3]),
    );
    let mut at = 0;
    while at < len {
        // SAFETY: the 64 bytes are in the lane (the index checks it).
        let row = |l: usize| unsafe { _mm512_loadu_si512(lanes[l][at..at + 64].as_ptr().cast()) };
        let rows: [[__m512i; 4]; 4] = core::array::from_fn(|q| {
            quad([row(4 * q), row(4 * q + 1), row(4 * q + 2), row(4 * q + 3)])
        });
        // Word 4k + j of every lane: lane k of g[0..4][j], gathered by two 128-bit shuffles.
        let mut m = [_mm512_setzero_si512(); 16];
        for j in 0..4 {
            let v0 = _mm512_shuffle_i32x4::<0x44>(rows[0][j], rows[1][j]);
            let v1 = _mm512_shuffle_i32x4::<0xee>(rows[0][j], rows[1][j]);
            let v2 = _mm512_shuffle_i32x4::<0x44>(rows[2][j], rows[3][j]);
            let v3 = _mm512_shuffle_i32x4::<0xee>(rows[2][j], rows[3][j]);
            m[j] = _mm512_shuffle_i32x4::<0x88>(v0, v2);
            m[4 + j] = _mm512_shuffle_i32x4::<0xdd>(v0, v2);
            m[8 + j] = _mm512_shuffle_i32x4::<0x88>(v1, v3);
            m[12 + j] = _mm512_shuffle_i32x4::<0xdd>(v1, v3);
        }
        let (a0, b0, c0, d0) = (a, b, c, d);
        md5_steps!(f, g, h, i, a, b, c, d, m);
        a = _mm512_add_epi32(a, a0);
        b = _mm512_add_epi32(b, b0);
        c = _mm512_add_epi32(c, c0);
        d = _mm512_add_epi32(d, d0);
        at += 64;
    }
    for (w, v) in state.iter_mut().zip([a, b, c, d]) {
        // SAFETY: `w` is 16 `u32`s.
        unsafe { _mm512_storeu_si512(w.as_mut_ptr().cast(), v) };
    }
}
