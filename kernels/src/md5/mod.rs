//! MD5 (RFC 1321) of many messages at once: CRAM checks each slice's reference span against
//! the MD5 its header states, and a file read whole hashes every span (on a sparse file, most
//! of the reference). One MD5 is a chain of 64 dependent steps per 64-byte block, bound by
//! latency (about 5 cycles a byte on any core); independent messages are not, so the SIMD
//! implementations hash one message per 32-bit lane (AVX2: 8, AVX-512: 16), each lane taking
//! the next message as its own ends.
//!
//! ```
//! let msgs: [&[u8]; 2] = [b"", b"abc"];
//! let mut out = [[0u8; 16]; 2];
//! rawarrow_kernels::md5::digest_many(&msgs, &mut out);
//! assert_eq!(out[1], rawarrow_kernels::md5::scalar::digest(b"abc"));
//! assert_eq!(out[0][..4], [0xd4, 0x1d, 0x8c, 0xd9]);
//! ```

pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

/// The initial state (A, B, C, D).
pub(crate) const IV: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

/// The naive reference's table: `K[i] = floor(|sin(i + 1)| · 2³²)`.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// The naive reference's rotations, by step.
const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/// The naive reference: RFC 1321's loop, one step at a time from the tables.
pub fn naive(msg: &[u8]) -> [u8; 16] {
    let mut padded = msg.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&((msg.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut h = IV;
    for block in padded.chunks_exact(64) {
        let m: Vec<u32> = block
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let t = d;
            d = c;
            c = b;
            b = b.wrapping_add(
                a.wrapping_add(f)
                    .wrapping_add(K[i])
                    .wrapping_add(m[g])
                    .rotate_left(S[i]),
            );
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    words_to_digest(&h)
}

/// The digest's bytes: the state's words, little-endian.
pub(crate) fn words_to_digest(h: &[u32; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// The 64 steps of one block, unrolled: `$f`..`$i` are the four rounds' step functions
/// (`step::<S, 32 - S>(a, b, c, d, m, k)` → the new `a`), `$m` the block's 16 words. Shared by
/// every implementation so each writes only its step functions.
macro_rules! md5_steps {
    ($f:ident, $g:ident, $h:ident, $i:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr) => {
        // Round 1.
        $a = $f::<7, 25>($a, $b, $c, $d, $m[0], 0xd76aa478);
        $d = $f::<12, 20>($d, $a, $b, $c, $m[1], 0xe8c7b756);
        $c = $f::<17, 15>($c, $d, $a, $b, $m[2], 0x242070db);
        $b = $f::<22, 10>($b, $c, $d, $a, $m[3], 0xc1bdceee);
        $a = $f::<7, 25>($a, $b, $c, $d, $m[4], 0xf57c0faf);
        $d = $f::<12, 20>($d, $a, $b, $c, $m[5], 0x4787c62a);
        $c = $f::<17, 15>($c, $d, $a, $b, $m[6], 0xa8304613);
        $b = $f::<22, 10>($b, $c, $d, $a, $m[7], 0xfd469501);
        $a = $f::<7, 25>($a, $b, $c, $d, $m[8], 0x698098d8);
        $d = $f::<12, 20>($d, $a, $b, $c, $m[9], 0x8b44f7af);
        $c = $f::<17, 15>($c, $d, $a, $b, $m[10], 0xffff5bb1);
        $b = $f::<22, 10>($b, $c, $d, $a, $m[11], 0x895cd7be);
        $a = $f::<7, 25>($a, $b, $c, $d, $m[12], 0x6b901122);
        $d = $f::<12, 20>($d, $a, $b, $c, $m[13], 0xfd987193);
        $c = $f::<17, 15>($c, $d, $a, $b, $m[14], 0xa679438e);
        $b = $f::<22, 10>($b, $c, $d, $a, $m[15], 0x49b40821);
        // Round 2.
        $a = $g::<5, 27>($a, $b, $c, $d, $m[1], 0xf61e2562);
        $d = $g::<9, 23>($d, $a, $b, $c, $m[6], 0xc040b340);
        $c = $g::<14, 18>($c, $d, $a, $b, $m[11], 0x265e5a51);
        $b = $g::<20, 12>($b, $c, $d, $a, $m[0], 0xe9b6c7aa);
        $a = $g::<5, 27>($a, $b, $c, $d, $m[5], 0xd62f105d);
        $d = $g::<9, 23>($d, $a, $b, $c, $m[10], 0x02441453);
        $c = $g::<14, 18>($c, $d, $a, $b, $m[15], 0xd8a1e681);
        $b = $g::<20, 12>($b, $c, $d, $a, $m[4], 0xe7d3fbc8);
        $a = $g::<5, 27>($a, $b, $c, $d, $m[9], 0x21e1cde6);
        $d = $g::<9, 23>($d, $a, $b, $c, $m[14], 0xc33707d6);
        $c = $g::<14, 18>($c, $d, $a, $b, $m[3], 0xf4d50d87);
        $b = $g::<20, 12>($b, $c, $d, $a, $m[8], 0x455a14ed);
        $a = $g::<5, 27>($a, $b, $c, $d, $m[13], 0xa9e3e905);
        $d = $g::<9, 23>($d, $a, $b, $c, $m[2], 0xfcefa3f8);
        $c = $g::<14, 18>($c, $d, $a, $b, $m[7], 0x676f02d9);
        $b = $g::<20, 12>($b, $c, $d, $a, $m[12], 0x8d2a4c8a);
        // Round 3.
        $a = $h::<4, 28>($a, $b, $c, $d, $m[5], 0xfffa3942);
        $d = $h::<11, 21>($d, $a, $b, $c, $m[8], 0x8771f681);
        $c = $h::<16, 16>($c, $d, $a, $b, $m[11], 0x6d9d6122);
        $b = $h::<23, 9>($b, $c, $d, $a, $m[14], 0xfde5380c);
        $a = $h::<4, 28>($a, $b, $c, $d, $m[1], 0xa4beea44);
        $d = $h::<11, 21>($d, $a, $b, $c, $m[4], 0x4bdecfa9);
        $c = $h::<16, 16>($c, $d, $a, $b, $m[7], 0xf6bb4b60);
        $b = $h::<23, 9>($b, $c, $d, $a, $m[10], 0xbebfbc70);
        $a = $h::<4, 28>($a, $b, $c, $d, $m[13], 0x289b7ec6);
        $d = $h::<11, 21>($d, $a, $b, $c, $m[0], 0xeaa127fa);
        $c = $h::<16, 16>($c, $d, $a, $b, $m[3], 0xd4ef3085);
        $b = $h::<23, 9>($b, $c, $d, $a, $m[6], 0x04881d05);
        $a = $h::<4, 28>($a, $b, $c, $d, $m[9], 0xd9d4d039);
        $d = $h::<11, 21>($d, $a, $b, $c, $m[12], 0xe6db99e5);
        $c = $h::<16, 16>($c, $d, $a, $b, $m[15], 0x1fa27cf8);
        $b = $h::<23, 9>($b, $c, $d, $a, $m[2], 0xc4ac5665);
        // Round 4.
        $a = $i::<6, 26>($a, $b, $c, $d, $m[0], 0xf4292244);
        $d = $i::<10, 22>($d, $a, $b, $c, $m[7], 0x432aff97);
        $c = $i::<15, 17>($c, $d, $a, $b, $m[14], 0xab9423a7);
        $b = $i::<21, 11>($b, $c, $d, $a, $m[5], 0xfc93a039);
        $a = $i::<6, 26>($a, $b, $c, $d, $m[12], 0x655b59c3);
        $d = $i::<10, 22>($d, $a, $b, $c, $m[3], 0x8f0ccc92);
        $c = $i::<15, 17>($c, $d, $a, $b, $m[10], 0xffeff47d);
        $b = $i::<21, 11>($b, $c, $d, $a, $m[1], 0x85845dd1);
        $a = $i::<6, 26>($a, $b, $c, $d, $m[8], 0x6fa87e4f);
        $d = $i::<10, 22>($d, $a, $b, $c, $m[15], 0xfe2ce6e0);
        $c = $i::<15, 17>($c, $d, $a, $b, $m[6], 0xa3014314);
        $b = $i::<21, 11>($b, $c, $d, $a, $m[13], 0x4e0811a1);
        $a = $i::<6, 26>($a, $b, $c, $d, $m[4], 0xf7537e82);
        $d = $i::<10, 22>($d, $a, $b, $c, $m[11], 0xbd3af235);
        $c = $i::<15, 17>($c, $d, $a, $b, $m[2], 0x2ad7d2bb);
        $b = $i::<21, 11>($b, $c, $d, $a, $m[9], 0xeb86d391);
    };
}
pub(crate) use md5_steps;

/// The MD5 of `msg` with the best single-message implementation (scalar: one message has no
/// lanes to spread over).
pub fn digest(msg: &[u8]) -> [u8; 16] {
    scalar::digest(msg)
}

/// The MD5 of each message (`out[i]` of `msgs[i]`) with the best implementation for this CPU.
///
/// # Panics
/// If `out.len() != msgs.len()`.
pub fn digest_many(msgs: &[&[u8]], out: &mut [[u8; 16]]) {
    assert_eq!(msgs.len(), out.len(), "one digest per message");
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if msgs.len() > 1 {
            if level() >= Level::Avx512F {
                if let Some(k) = x86_64::avx512::Avx512::new() {
                    return k.digest_many(msgs, out);
                }
            }
            if level() >= Level::Avx2 {
                if let Some(k) = x86_64::avx2::Avx2::new() {
                    return k.digest_many(msgs, out);
                }
            }
        }
    }
    scalar::digest_many(msgs, out)
}

/// Spreads messages over `N` lanes: each lane hashes one message's whole blocks, with
/// `blocks(state, lanes)` advancing every lane's state (`state[w][lane]`, w = A..D) over the
/// lanes' slices (all of one length, a multiple of 64); a lane whose message has no whole block
/// left finishes on the scalar code and takes the next message. Lanes without a message hash a
/// copy of another lane's bytes and are ignored. Once fewer than two lanes are busy, the rest
/// finishes on the scalar code.
#[cfg(target_arch = "x86_64")]
pub(crate) fn lanes<const N: usize>(
    msgs: &[&[u8]],
    out: &mut [[u8; 16]],
    mut blocks: impl FnMut(&mut [[u32; N]; 4], [&[u8]; N]),
) {
    assert_eq!(msgs.len(), out.len(), "one digest per message");
    let mut state = [[0u32; N]; 4];
    // Each lane's message and how far into it the lane is.
    let mut lane: [Option<(usize, usize)>; N] = [None; N];
    let mut next = 0;
    loop {
        // Fill idle lanes (a message without a whole block is finished at once).
        for (l, slot) in lane.iter_mut().enumerate() {
            while slot.is_none() && next < msgs.len() {
                if msgs[next].len() >= 64 {
                    *slot = Some((next, 0));
                    for (w, s) in state.iter_mut().enumerate() {
                        s[l] = IV[w];
                    }
                } else {
                    out[next] = scalar::digest(msgs[next]);
                }
                next += 1;
            }
        }
        let busy = lane.iter().flatten().count();
        if busy < 2 {
            for (l, slot) in lane.iter().enumerate() {
                if let Some((m, at)) = *slot {
                    let mut h = [state[0][l], state[1][l], state[2][l], state[3][l]];
                    out[m] = scalar::finish(&mut h, &msgs[m][at..], msgs[m].len());
                }
            }
            return;
        }
        // Every busy lane has a whole block left; run them all for the fewest any has.
        let n = lane
            .iter()
            .flatten()
            .map(|&(m, at)| (msgs[m].len() - at) / 64)
            .min()
            .expect("a busy lane");
        let (m0, at0) = lane.iter().flatten().next().copied().expect("a busy lane");
        let filler = &msgs[m0][at0..at0 + 64 * n];
        let slices: [&[u8]; N] = std::array::from_fn(|l| match lane[l] {
            Some((m, at)) => &msgs[m][at..at + 64 * n],
            None => filler,
        });
        blocks(&mut state, slices);
        for (l, slot) in lane.iter_mut().enumerate() {
            let Some((m, at)) = slot else { continue };
            *at += 64 * n;
            if msgs[*m].len() - *at < 64 {
                let mut h = [state[0][l], state[1][l], state[2][l], state[3][l]];
                out[*m] = scalar::finish(&mut h, &msgs[*m][*at..], msgs[*m].len());
                *slot = None;
            }
        }
    }
}
