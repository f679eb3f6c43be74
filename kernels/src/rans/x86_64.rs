//! rANS Nx16's 32-state rounds with AVX2 (four vectors of 8 states) and AVX-512 F (two of 16).
//!
//! A round decodes one symbol per state: the states' slots are gathered from the decoding
//! table in one instruction per vector (each slot's [`entry`](super::entry) holds the symbol,
//! its frequency and the slot's offset), the states advance with a 32-bit multiply, and the
//! states that fell below 2¹⁵ take the stream's next 16-bit words in state order: AVX2 spreads
//! the words over those lanes with a permutation looked up by the lanes' mask, AVX-512 with
//! `vpexpandd`. The kernels run whole rounds while the stream holds a round's worst case (64
//! bytes, 16 bits per state), so no load passes the stream's end; the scalar decoder goes on
//! from the states they leave, and decodes the stream's last rounds.

use core::arch::x86_64::*;

use super::RansError;

crate::isa_token!(
    /// Proof that the CPU has AVX2.
    Avx2,
    crate::cpu::has_avx2
);

crate::isa_token!(
    /// Proof that the CPU has AVX-512 F.
    Avx512,
    crate::cpu::has_avx512f
);

/// The most bytes a round of 32 states reads (16 bits each).
const ROUND_BYTES: usize = 64;

/// Entries of an order-1 table: 4096 slots for each of 256 contexts.
const O1_SLOTS: usize = 256 * 4096;

/// For each mask of 8 lanes, the word each lane takes: the k-th lane in the mask the k-th.
static SPREAD: [[u32; 8]; 256] = spread();

const fn spread() -> [[u32; 8]; 256] {
    let mut t = [[0u32; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let mut k = 0;
        let mut j = 0;
        while j < 8 {
            if (m >> j) & 1 == 1 {
                t[m][j] = k;
                k += 1;
            }
            j += 1;
        }
        m += 1;
    }
    t
}

impl Avx2 {
    /// Order-0 rounds (symbol `i` from state `i % 32`): returns the bytes of `out` written
    /// (whole rounds) and the bytes of `src` read.
    pub(crate) fn order0(
        self,
        table: &[u32; 4096],
        r: &mut [u32; 32],
        src: &[u8],
        out: &mut [u8],
    ) -> (usize, usize) {
        // SAFETY: `self` proves AVX2 is present.
        unsafe { order0_avx2(table, r, src, out) }
    }

    /// Order-1 rounds (state `z` writes `out[z * q + i]` in round `i`, `q = out.len() / 32`,
    /// its context the symbol before): returns the rounds decoded and the bytes of `src`
    /// read; a state in a context of `unused` (a 256-bit set) is a corrupt stream.
    ///
    /// # Panics
    /// If `o1` holds fewer than 256 × 4096 slots or `shift` is neither 10 nor 12.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn order1(
        self,
        o1: &[u32],
        shift: u32,
        unused: &[u32; 8],
        r: &mut [u32; 32],
        ctx: &mut [u8; 32],
        src: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), RansError> {
        assert!(o1.len() >= O1_SLOTS, "order-1 table size");
        // SAFETY: `self` proves AVX2 is present; `o1` holds every index a context (< 256)
        // and a masked slot (< 4096) make.
        match shift {
            // SAFETY: as above.
            12 => unsafe { order1_avx2::<12>(o1, unused, r, ctx, src, out) },
            // SAFETY: as above.
            10 => unsafe { order1_avx2::<10>(o1, unused, r, ctx, src, out) },
            _ => panic!("order-1 shift {shift}"),
        }
    }
}

impl Avx512 {
    /// As [`Avx2::order0`].
    pub(crate) fn order0(
        self,
        table: &[u32; 4096],
        r: &mut [u32; 32],
        src: &[u8],
        out: &mut [u8],
    ) -> (usize, usize) {
        // SAFETY: `self` proves AVX-512 F is present.
        unsafe { order0_avx512(table, r, src, out) }
    }

    /// As [`Avx2::order1`].
    ///
    /// # Panics
    /// If `o1` holds fewer than 256 × 4096 slots or `shift` is neither 10 nor 12.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn order1(
        self,
        o1: &[u32],
        shift: u32,
        unused: &[u32; 8],
        r: &mut [u32; 32],
        ctx: &mut [u8; 32],
        src: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), RansError> {
        assert!(o1.len() >= O1_SLOTS, "order-1 table size");
        // SAFETY: `self` proves AVX-512 F is present; `o1` holds every index a context
        // (< 256) and a masked slot (< 4096) make.
        match shift {
            // SAFETY: as above.
            12 => unsafe { order1_avx512::<12>(o1, unused, r, ctx, src, out) },
            // SAFETY: as above.
            10 => unsafe { order1_avx512::<10>(o1, unused, r, ctx, src, out) },
            _ => panic!("order-1 shift {shift}"),
        }
    }
}

/// Advances 8 states by their gathered entries and renormalises those below 2¹⁵ from
/// `src[*pos..]`, in lane order.
///
/// # Panics
/// If `src` holds fewer than 16 bytes from `*pos` (callers keep a round's 64 bytes).
#[inline]
#[target_feature(enable = "avx2")]
fn step_avx2<const SHIFT: i32>(x: __m256i, e: __m256i, src: &[u8], pos: &mut usize) -> __m256i {
    let low = _mm256_set1_epi32(0xfff);
    let f = _mm256_add_epi32(_mm256_srli_epi32::<20>(e), _mm256_set1_epi32(1));
    let off = _mm256_and_si256(_mm256_srli_epi32::<8>(e), low);
    let x = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srli_epi32::<SHIFT>(x)), off);
    // x ≤ 0x7fff, unsigned (a hostile first state may have its top bit set).
    let need = _mm256_cmpeq_epi32(_mm256_min_epu32(x, _mm256_set1_epi32(0x7fff)), x);
    let bits = _mm256_movemask_ps(_mm256_castsi256_ps(need)) as usize;
    let next = &src[*pos..*pos + 16];
    // SAFETY: `next` holds the 16 bytes read.
    let words = _mm256_cvtepu16_epi32(unsafe { _mm_loadu_si128(next.as_ptr().cast()) });
    // SAFETY: a row of SPREAD is 8 u32, the size of the vector.
    let idx = unsafe { core::mem::transmute::<[u32; 8], __m256i>(SPREAD[bits]) };
    let grown = _mm256_or_si256(
        _mm256_slli_epi32::<16>(x),
        _mm256_permutevar8x32_epi32(words, idx),
    );
    *pos += 2 * bits.count_ones() as usize;
    _mm256_blendv_epi8(x, grown, need)
}

#[target_feature(enable = "avx2")]
fn order0_avx2(
    table: &[u32; 4096],
    r: &mut [u32; 32],
    src: &[u8],
    out: &mut [u8],
) -> (usize, usize) {
    let rounds = out.len() / 32;
    let low = _mm256_set1_epi32(0xfff);
    let byte = _mm256_set1_epi32(0xff);
    // Dword order after the two packs: [s0 0–3, s1 0–3, s2 0–3, s3 0–3, s0 4–7, ...].
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    // SAFETY: 32 u32 are 4 vectors of 8, byte for byte.
    let mut x = unsafe { core::mem::transmute::<[u32; 32], [__m256i; 4]>(*r) };
    let (mut n, mut pos) = (0, 0);
    while n < rounds && src.len() - pos >= ROUND_BYTES {
        let mut e = [_mm256_setzero_si256(); 4];
        for v in 0..4 {
            let m = _mm256_and_si256(x[v], low);
            // SAFETY: indices are masked to 12 bits: below the table's 4096 slots.
            e[v] = unsafe { _mm256_i32gather_epi32::<4>(table.as_ptr().cast(), m) };
        }
        for v in 0..4 {
            // Each vector reads at most 16 bytes: vector v starts at most 16 × v bytes into
            // the round, whose start had 64 bytes left.
            x[v] = step_avx2::<12>(x[v], e[v], src, &mut pos);
        }
        let s = |v: usize| _mm256_and_si256(e[v], byte);
        let bytes = _mm256_packus_epi16(
            _mm256_packus_epi32(s(0), s(1)),
            _mm256_packus_epi32(s(2), s(3)),
        );
        let bytes = _mm256_permutevar8x32_epi32(bytes, order);
        let dst = &mut out[32 * n..32 * n + 32];
        // SAFETY: `dst` holds the 32 bytes written.
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), bytes) };
        n += 1;
    }
    // SAFETY: 4 vectors of 8 u32 are 32 u32, byte for byte.
    *r = unsafe { core::mem::transmute::<[__m256i; 4], [u32; 32]>(x) };
    (32 * n, pos)
}

/// `o1` must hold 256 × 4096 slots (checked by the caller).
#[target_feature(enable = "avx2")]
fn order1_avx2<const SHIFT: i32>(
    o1: &[u32],
    unused: &[u32; 8],
    r: &mut [u32; 32],
    ctx: &mut [u8; 32],
    src: &[u8],
    out: &mut [u8],
) -> Result<(usize, usize), RansError> {
    let q = out.len() / 32;
    let slot = _mm256_set1_epi32((1 << SHIFT) - 1);
    let byte = _mm256_set1_epi32(0xff);
    let five = _mm256_set1_epi32(31);
    // SAFETY: 8 u32 are one vector, byte for byte.
    let unused = unsafe { core::mem::transmute::<[u32; 8], __m256i>(*unused) };
    // SAFETY: 32 u32 are 4 vectors of 8, byte for byte.
    let mut x = unsafe { core::mem::transmute::<[u32; 32], [__m256i; 4]>(*r) };
    // SAFETY: 32 bytes are one vector, byte for byte.
    let bytes = unsafe { core::mem::transmute::<[u8; 32], __m256i>(*ctx) };
    let (lo, hi) = (
        _mm256_castsi256_si128(bytes),
        _mm256_extracti128_si256::<1>(bytes),
    );
    let mut c = [
        _mm256_cvtepu8_epi32(lo),
        _mm256_cvtepu8_epi32(_mm_srli_si128::<8>(lo)),
        _mm256_cvtepu8_epi32(hi),
        _mm256_cvtepu8_epi32(_mm_srli_si128::<8>(hi)),
    ];
    let mut bad = _mm256_setzero_si256();
    let (mut i, mut pos) = (0, 0);
    while i < q && src.len() - pos >= ROUND_BYTES {
        let mut e = [_mm256_setzero_si256(); 4];
        for v in 0..4 {
            // The context's bit in the set of contexts without a table.
            let word = _mm256_permutevar8x32_epi32(unused, _mm256_srli_epi32::<5>(c[v]));
            bad = _mm256_or_si256(bad, _mm256_srlv_epi32(word, _mm256_and_si256(c[v], five)));
            let idx = _mm256_or_si256(_mm256_slli_epi32::<12>(c[v]), _mm256_and_si256(x[v], slot));
            // SAFETY: context < 256 and slot < 4096: below `o1`'s 256 × 4096 slots.
            e[v] = unsafe { _mm256_i32gather_epi32::<4>(o1.as_ptr().cast(), idx) };
        }
        for v in 0..4 {
            // As in `order0_avx2`: 16 bytes from each vector's start.
            x[v] = step_avx2::<SHIFT>(x[v], e[v], src, &mut pos);
            c[v] = _mm256_and_si256(e[v], byte);
        }
        // SAFETY: 4 vectors of 8 u32 are 32 u32, byte for byte.
        let syms = unsafe { core::mem::transmute::<[__m256i; 4], [u32; 32]>(c) };
        for (z, &s) in syms.iter().enumerate() {
            out[z * q + i] = s as u8;
        }
        i += 1;
    }
    let bad = _mm256_and_si256(bad, _mm256_set1_epi32(1));
    if _mm256_testz_si256(bad, bad) == 0 {
        return Err(RansError::BadState);
    }
    // SAFETY: 4 vectors of 8 u32 are 32 u32, byte for byte.
    *r = unsafe { core::mem::transmute::<[__m256i; 4], [u32; 32]>(x) };
    // SAFETY: as above.
    let syms = unsafe { core::mem::transmute::<[__m256i; 4], [u32; 32]>(c) };
    for (c, &s) in ctx.iter_mut().zip(&syms) {
        *c = s as u8;
    }
    Ok((i, pos))
}

/// Advances 16 states by their gathered entries and renormalises those below 2¹⁵ from
/// `src[*pos..]`, in lane order.
///
/// # Panics
/// If `src` holds fewer than 32 bytes from `*pos` (callers keep a round's 64 bytes).
#[inline]
#[target_feature(enable = "avx512f")]
fn step_avx512<const SHIFT: u32>(x: __m512i, e: __m512i, src: &[u8], pos: &mut usize) -> __m512i {
    let f = _mm512_add_epi32(_mm512_srli_epi32::<20>(e), _mm512_set1_epi32(1));
    let off = _mm512_and_si512(_mm512_srli_epi32::<8>(e), _mm512_set1_epi32(0xfff));
    let x = _mm512_add_epi32(_mm512_mullo_epi32(f, _mm512_srli_epi32::<SHIFT>(x)), off);
    let need = _mm512_cmplt_epu32_mask(x, _mm512_set1_epi32(0x8000));
    let next = &src[*pos..*pos + 32];
    // SAFETY: `next` holds the 32 bytes read.
    let words = _mm512_cvtepu16_epi32(unsafe { _mm256_loadu_si256(next.as_ptr().cast()) });
    *pos += 2 * need.count_ones() as usize;
    _mm512_mask_or_epi32(
        x,
        need,
        _mm512_slli_epi32::<16>(x),
        _mm512_maskz_expand_epi32(need, words),
    )
}

#[target_feature(enable = "avx512f")]
fn order0_avx512(
    table: &[u32; 4096],
    r: &mut [u32; 32],
    src: &[u8],
    out: &mut [u8],
) -> (usize, usize) {
    let rounds = out.len() / 32;
    let low = _mm512_set1_epi32(0xfff);
    // SAFETY: 32 u32 are 2 vectors of 16, byte for byte.
    let mut x = unsafe { core::mem::transmute::<[u32; 32], [__m512i; 2]>(*r) };
    let (mut n, mut pos) = (0, 0);
    while n < rounds && src.len() - pos >= ROUND_BYTES {
        let mut e = [_mm512_setzero_si512(); 2];
        for v in 0..2 {
            let m = _mm512_and_si512(x[v], low);
            // SAFETY: indices are masked to 12 bits: below the table's 4096 slots.
            e[v] = unsafe { _mm512_i32gather_epi32::<4>(m, table.as_ptr().cast()) };
        }
        for v in 0..2 {
            // Each vector reads at most 32 bytes: the second starts at most 32 bytes into
            // the round, whose start had 64 bytes left.
            x[v] = step_avx512::<12>(x[v], e[v], src, &mut pos);
            let dst = &mut out[32 * n + 16 * v..32 * n + 16 * v + 16];
            let bytes = _mm512_cvtepi32_epi8(e[v]);
            // SAFETY: `dst` holds the 16 bytes written.
            unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), bytes) };
        }
        n += 1;
    }
    // SAFETY: 2 vectors of 16 u32 are 32 u32, byte for byte.
    *r = unsafe { core::mem::transmute::<[__m512i; 2], [u32; 32]>(x) };
    (32 * n, pos)
}

/// `o1` must hold 256 × 4096 slots (checked by the caller).
#[target_feature(enable = "avx512f")]
fn order1_avx512<const SHIFT: u32>(
    o1: &[u32],
    unused: &[u32; 8],
    r: &mut [u32; 32],
    ctx: &mut [u8; 32],
    src: &[u8],
    out: &mut [u8],
) -> Result<(usize, usize), RansError> {
    let q = out.len() / 32;
    let slot = _mm512_set1_epi32((1 << SHIFT) - 1);
    let byte = _mm512_set1_epi32(0xff);
    let one = _mm512_set1_epi32(1);
    // SAFETY: 8 u32 are one 256-bit vector, byte for byte (the upper half stays zero).
    let unused =
        _mm512_zextsi256_si512(unsafe { core::mem::transmute::<[u32; 8], __m256i>(*unused) });
    // SAFETY: 32 u32 are 2 vectors of 16, byte for byte.
    let mut x = unsafe { core::mem::transmute::<[u32; 32], [__m512i; 2]>(*r) };
    // SAFETY: 32 bytes are 2 vectors of 16, byte for byte.
    let bytes = unsafe { core::mem::transmute::<[u8; 32], [__m128i; 2]>(*ctx) };
    let mut c = [
        _mm512_cvtepu8_epi32(bytes[0]),
        _mm512_cvtepu8_epi32(bytes[1]),
    ];
    let mut bad: __mmask16 = 0;
    let (mut i, mut pos) = (0, 0);
    while i < q && src.len() - pos >= ROUND_BYTES {
        let mut e = [_mm512_setzero_si512(); 2];
        for v in 0..2 {
            let word = _mm512_permutexvar_epi32(_mm512_srli_epi32::<5>(c[v]), unused);
            let bit = _mm512_srlv_epi32(word, _mm512_and_si512(c[v], _mm512_set1_epi32(31)));
            bad |= _mm512_test_epi32_mask(bit, one);
            let idx = _mm512_or_si512(_mm512_slli_epi32::<12>(c[v]), _mm512_and_si512(x[v], slot));
            // SAFETY: context < 256 and slot < 4096: below `o1`'s 256 × 4096 slots.
            e[v] = unsafe { _mm512_i32gather_epi32::<4>(idx, o1.as_ptr().cast()) };
        }
        for v in 0..2 {
            // As in `order0_avx512`: 32 bytes from each vector's start.
            x[v] = step_avx512::<SHIFT>(x[v], e[v], src, &mut pos);
            c[v] = _mm512_and_si512(e[v], byte);
        }
        // SAFETY: 2 vectors of 16 u32 are 32 u32, byte for byte.
        let syms = unsafe { core::mem::transmute::<[__m512i; 2], [u32; 32]>(c) };
        for (z, &s) in syms.iter().enumerate() {
            out[z * q + i] = s as u8;
        }
        i += 1;
    }
    if bad != 0 {
        return Err(RansError::BadState);
    }
    // SAFETY: 2 vectors of 16 u32 are 32 u32, byte for byte.
    *r = unsafe { core::mem::transmute::<[__m512i; 2], [u32; 32]>(x) };
    // SAFETY: as above.
    let syms = unsafe { core::mem::transmute::<[__m512i; 2], [u32; 32]>(c) };
    for (c, &s) in ctx.iter_mut().zip(&syms) {
        *c = s as u8;
    }
    Ok((i, pos))
}
