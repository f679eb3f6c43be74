//! MD5, one message at a time: the 64 steps unrolled with the usual rewrites (round 1's
//! `d ^ (b & (c ^ d))`, round 2's two additions of disjoint terms, which shorten the chain).

use super::{md5_steps, words_to_digest, IV};

#[inline(always)]
fn f<const S: u32, const R: u32>(a: u32, b: u32, c: u32, d: u32, m: u32, k: u32) -> u32 {
    let t = a
        .wrapping_add(m.wrapping_add(k))
        .wrapping_add(d ^ (b & (c ^ d)));
    t.rotate_left(S).wrapping_add(b)
}

#[inline(always)]
fn g<const S: u32, const R: u32>(a: u32, b: u32, c: u32, d: u32, m: u32, k: u32) -> u32 {
    // (b & d) | (c & !d): the two terms share no bit, so they add.
    let t = a
        .wrapping_add(m.wrapping_add(k))
        .wrapping_add(c & !d)
        .wrapping_add(b & d);
    t.rotate_left(S).wrapping_add(b)
}

#[inline(always)]
fn h<const S: u32, const R: u32>(a: u32, b: u32, c: u32, d: u32, m: u32, k: u32) -> u32 {
    let t = a.wrapping_add(m.wrapping_add(k)).wrapping_add(b ^ c ^ d);
    t.rotate_left(S).wrapping_add(b)
}

#[inline(always)]
fn i<const S: u32, const R: u32>(a: u32, b: u32, c: u32, d: u32, m: u32, k: u32) -> u32 {
    let t = a.wrapping_add(m.wrapping_add(k)).wrapping_add(c ^ (b | !d));
    t.rotate_left(S).wrapping_add(b)
}

/// Advances `state` over `data`'s whole 64-byte blocks (a remainder is ignored).
pub(crate) fn compress(state: &mut [u32; 4], data: &[u8]) {
    let [mut a, mut b, mut c, mut d] = *state;
    for block in data.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (w, bytes) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let (a0, b0, c0, d0) = (a, b, c, d);
        md5_steps!(f, g, h, i, a, b, c, d, m);
        a = a.wrapping_add(a0);
        b = b.wrapping_add(b0);
        c = c.wrapping_add(c0);
        d = d.wrapping_add(d0);
    }
    *state = [a, b, c, d];
}

/// Finishes a message from `state` (its whole blocks before `tail` hashed): `tail` is what is
/// left (fewer than 64 bytes hash as they are; more is hashed first), `len` the message's whole
/// length in bytes.
pub(crate) fn finish(state: &mut [u32; 4], tail: &[u8], len: usize) -> [u8; 16] {
    let whole = tail.len() & !63;
    compress(state, &tail[..whole]);
    let rest = &tail[whole..];
    let mut last = [0u8; 128];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] = 0x80;
    let end = if rest.len() < 56 { 64 } else { 128 };
    last[end - 8..end].copy_from_slice(&(len as u64).wrapping_mul(8).to_le_bytes());
    compress(state, &last[..end]);
    words_to_digest(state)
}

/// The MD5 of `msg`.
pub fn digest(msg: &[u8]) -> [u8; 16] {
    finish(&mut IV.clone(), msg, msg.len())
}

/// The MD5 of each message, one after another.
///
/// # Panics
/// If `out.len() != msgs.len()`.
pub fn digest_many(msgs: &[&[u8]], out: &mut [[u8; 16]]) {
    assert_eq!(msgs.len(), out.len(), "one digest per message");
    for (o, m) in out.iter_mut().zip(msgs) {
        *o = digest(m);
    }
}
