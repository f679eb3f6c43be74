//! rANS Nx16 (CRAM 3.1 block method 5), scalar: a flags byte, the uncompressed size as a
//! 7-bit varint, optional PACK and RLE metadata, then an order-0 or order-1 stream of 4 or 32
//! interleaved 32-bit states renormalised 16 bits at a time below 2¹⁵ (or the bytes as they
//! are, CAT), or N byte-interleaved sub-streams (STRIPE). Transforms are undone in the order
//! entropy decoding → run-length expansion → unpacking.

use super::transform::{check_len, pack_meta, stripe_with, unpack, unrle};
use super::{advance, fill_slots, Bytes, RansError, Scratch};
use crate::cpu::Level;

const ORDER: u8 = 0x01;
const X32: u8 = 0x04;
const STRIPE: u8 = 0x08;
const NOSZ: u8 = 0x10;
const CAT: u8 = 0x20;
const RLE: u8 = 0x40;
const PACK: u8 = 0x80;

/// Renormalisation bound: a state below it takes 16 more bits.
const LOWER: u32 = 1 << 15;

/// The uncompressed length a stream states (`None` for a stream without one, whose length
/// the caller knows).
pub fn stated_len(stream: &[u8]) -> Result<Option<usize>, RansError> {
    let mut b = Bytes::new(stream);
    let flags = b.u8()?;
    if flags & NOSZ != 0 && flags & STRIPE == 0 {
        return Ok(None);
    }
    Ok(Some(b.u7()? as usize))
}

/// Decodes `stream` into `out`, whose length must be the stated uncompressed length (or, for
/// a stream without one, the length the caller knows).
pub fn decode(stream: &[u8], out: &mut [u8], scratch: &mut Scratch) -> Result<(), RansError> {
    decode_at(stream, out, scratch, 0)
}

impl Bytes<'_> {
    /// A 7-bit big-endian varint (at most 5 bytes, at most `u32::MAX`).
    pub(crate) fn u7(&mut self) -> Result<u32, RansError> {
        let mut v: u64 = 0;
        for _ in 0..5 {
            let b = self.u8()?;
            v = (v << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| RansError::BadFrequencies);
            }
        }
        Err(RansError::BadFrequencies)
    }

    /// A uint7 as htscodecs reads the PACK map's length: cut short by the end of the input,
    /// the value of the bytes there (0 for none).
    pub(crate) fn u7_to_end(&mut self) -> Result<u32, RansError> {
        let mut v: u64 = 0;
        for _ in 0..5 {
            let Some(&b) = self.buf.get(self.pos) else {
                break;
            };
            self.pos += 1;
            v = (v << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        u32::try_from(v).map_err(|_| RansError::BadFrequencies)
    }

    pub(crate) fn u16le(&mut self) -> Result<u32, RansError> {
        let b = self
            .buf
            .get(self.pos..self.pos + 2)
            .ok_or(RansError::Truncated)?;
        self.pos += 2;
        Ok(u32::from(b[0]) | (u32::from(b[1]) << 8))
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&[u8], RansError> {
        let end = self.pos.checked_add(n).ok_or(RansError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(RansError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn rest(&self) -> &[u8] {
        &self.buf[self.pos.min(self.buf.len())..]
    }
}

fn decode_at(
    stream: &[u8],
    out: &mut [u8],
    scratch: &mut Scratch,
    depth: u32,
) -> Result<(), RansError> {
    let mut b = Bytes::new(stream);
    let flags = b.u8()?;
    if flags & STRIPE != 0 {
        return stripe(&mut b, out, scratch, depth);
    }
    let osz = if flags & NOSZ != 0 {
        out.len()
    } else {
        b.u7()? as usize
    };
    check_len(osz, out.len())?;
    let mut n = osz;
    // PACK metadata: the symbol map and the packed length.
    let mut pack: Option<(usize, [u8; 16])> = None;
    if flags & PACK != 0 {
        let (nsym, map, packed) = pack_meta(&mut b, osz)?;
        pack = Some((nsym, map));
        n = packed;
    }
    // RLE metadata: the run symbols and their run lengths; `n` literals are entropy coded.
    let mut rle = false;
    let mut rle_target = 0;
    let mut meta = std::mem::take(&mut scratch.meta);
    if flags & RLE != 0 {
        let a = b.u7()? as usize;
        let literals = b.u7()? as usize;
        if literals > n {
            return Err(RansError::BadFrequencies);
        }
        meta.clear();
        if a & 1 == 1 {
            meta.extend_from_slice(b.bytes(a / 2)?);
        } else {
            let c = b.u7()? as usize;
            let sub = b.bytes(c)?;
            meta.resize(a / 2, 0);
            let states = if flags & X32 != 0 { 32 } else { 4 };
            order0(&mut Bytes::new(sub), &mut meta, states, scratch.level)?;
        }
        rle = true;
        rle_target = n;
        n = literals;
    }
    // The entropy-coded (or stored) bytes: straight into `out` when nothing follows.
    let mut lit = std::mem::take(&mut scratch.literals);
    let direct = !rle && pack.is_none();
    // With no bytes after the metadata, htscodecs decodes no literals, whatever count the
    // metadata states (a one-symbol PACK needs none); so does this decoder.
    if !direct && b.rest().is_empty() {
        n = 0;
    }
    let result = (|| {
        let dest: &mut [u8] = if direct {
            &mut *out
        } else {
            lit.clear();
            lit.resize(n, 0);
            &mut lit
        };
        let rest = b.rest();
        if rest.is_empty() {
            if n != 0 {
                return Err(RansError::Truncated);
            }
        } else if flags & CAT != 0 {
            dest.copy_from_slice(rest.get(..n).ok_or(RansError::Truncated)?);
        } else {
            let states = if flags & X32 != 0 { 32 } else { 4 };
            let mut s = Bytes::new(rest);
            if flags & ORDER != 0 {
                order1(&mut s, dest, states, scratch)?;
            } else {
                order0(&mut s, dest, states, scratch.level)?;
            }
        }
        if rle {
            // Runs expanded, then unpacked when packed too.
            let mut expanded = std::mem::take(&mut scratch.expanded);
            expanded.clear();
            let r = unrle(&lit, &meta, rle_target, &mut expanded).and_then(|()| match pack {
                Some((nsym, map)) => unpack(&expanded, nsym, &map, out),
                None => {
                    out.copy_from_slice(&expanded);
                    Ok(())
                }
            });
            scratch.expanded = expanded;
            return r;
        }
        if let Some((nsym, map)) = pack {
            return unpack(&lit, nsym, &map, out);
        }
        Ok(())
    })();
    scratch.meta = meta;
    scratch.literals = lit;
    result
}

/// A pure symbol list (0.3 of the codec description): ascending, runs after two consecutive
/// symbols, 0 ends it.
fn stripe(
    b: &mut Bytes<'_>,
    out: &mut [u8],
    scratch: &mut Scratch,
    depth: u32,
) -> Result<(), RansError> {
    stripe_with(b, out, depth, &mut |sub, part, depth| {
        decode_at(sub, part, scratch, depth)
    })
}

fn alphabet(b: &mut Bytes<'_>) -> Result<([bool; 256], Vec<u8>), RansError> {
    let mut present = [false; 256];
    let mut list = Vec::new();
    let mut rle = 0u8;
    let mut j = b.u8()?;
    loop {
        if present[usize::from(j)] {
            return Err(RansError::BadFrequencies);
        }
        present[usize::from(j)] = true;
        list.push(j);
        if rle == 0 && u16::from(j) + 1 == u16::from(b.peek()?) {
            j = b.u8()?;
            rle = b.u8()?;
        } else if rle > 0 {
            rle -= 1;
            j = j.checked_add(1).ok_or(RansError::BadFrequencies)?;
        } else {
            j = b.u8()?;
        }
        if j == 0 {
            return Ok((present, list));
        }
    }
}

/// Scales frequencies summing to a power of two up to `total`, then checks they sum to it,
/// and fills the table's first `total` slots.
fn finish_table(
    f: &mut [u32; 256],
    list: &[u8],
    total: u32,
    slots: &mut [u32],
) -> Result<(), RansError> {
    let sum: u64 = list.iter().map(|&s| u64::from(f[usize::from(s)])).sum();
    if sum != 0 && sum != u64::from(total) {
        let mut shift = 0;
        while (sum << shift) < u64::from(total) {
            shift += 1;
        }
        for &s in list {
            f[usize::from(s)] <<= shift;
        }
    }
    if fill_slots(f, list, total, slots)? != total {
        return Err(RansError::BadFrequencies);
    }
    Ok(())
}

/// Renormalises as htslib does: 16 bits below 2¹⁵, none once fewer than two bytes are left
/// (a stream's last states may end below the bound).
#[inline]
fn renorm(x: &mut u32, b: &mut Bytes<'_>) {
    if *x < LOWER {
        if let Ok(w) = b.u16le() {
            *x = (*x << 16) | w;
        }
    }
}

fn read_states(b: &mut Bytes<'_>, r: &mut [u32]) -> Result<(), RansError> {
    for x in r.iter_mut() {
        *x = b.u32le()?;
        if *x < LOWER {
            return Err(RansError::BadState);
        }
    }
    Ok(())
}

fn order0(b: &mut Bytes<'_>, out: &mut [u8], states: usize, level: Level) -> Result<(), RansError> {
    let (_, list) = alphabet(b)?;
    let mut f = [0u32; 256];
    for &s in &list {
        f[usize::from(s)] = b.u7()?;
    }
    let mut table = [0u32; 4096];
    finish_table(&mut f, &list, 4096, &mut table)?;
    let mut r = [0u32; 32];
    read_states(b, &mut r[..states])?;
    // Whole rounds of 32 states by the SIMD kernels while the stream holds a round's worst
    // case; the scalar loop goes on from there with the same states.
    let mut done = 0;
    if states == 32 {
        done = simd_order0(level, &table, &mut r, b, out);
    }
    for round in out[done..].chunks_mut(states) {
        for (x, o) in r.iter_mut().zip(round) {
            let e = table[(*x & 0xfff) as usize];
            *o = e as u8;
            *x = advance(e, *x, 12);
            renorm(x, b);
        }
    }
    Ok(())
}

/// Order-0 rounds of 32 states by the best SIMD kernel `level` allows: the bytes decoded
/// (whole rounds), the stream advanced past what they read.
#[allow(unused_variables)]
fn simd_order0(
    level: Level,
    table: &[u32; 4096],
    r: &mut [u32; 32],
    b: &mut Bytes<'_>,
    out: &mut [u8],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let (done, used) = if level >= Level::Avx512F {
            match super::x86_64::Avx512::new() {
                Some(k) => k.order0(table, r, b.rest(), out),
                None => (0, 0),
            }
        } else if level >= Level::Avx2 {
            match super::x86_64::Avx2::new() {
                Some(k) => k.order0(table, r, b.rest(), out),
                None => (0, 0),
            }
        } else {
            (0, 0)
        };
        b.pos += used;
        done
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

/// Reads the order-1 tables (one alphabet for contexts and symbols; zero runs) into the
/// scratch tables; returns which contexts have a row.
fn o1_tables(tb: &mut Bytes<'_>, total: u32, o1: &mut [u32]) -> Result<[bool; 256], RansError> {
    let mut used = [false; 256];
    let (_, list) = alphabet(tb)?;
    for &i in &list {
        let mut f = [0u32; 256];
        let mut dz = 0u8;
        for &j in &list {
            if dz > 0 {
                dz -= 1;
                continue;
            }
            let v = tb.u7()?;
            f[usize::from(j)] = v;
            if v == 0 {
                dz = tb.u8()?;
            }
        }
        let c = usize::from(i);
        if list.iter().all(|&j| f[usize::from(j)] == 0) {
            continue;
        }
        finish_table(&mut f, &list, total, &mut o1[c * 4096..][..total as usize])?;
        used[c] = true;
    }
    Ok(used)
}

fn order1(
    b: &mut Bytes<'_>,
    out: &mut [u8],
    states: usize,
    scratch: &mut Scratch,
) -> Result<(), RansError> {
    let head = b.u8()?;
    let shift = u32::from(head >> 4);
    if shift != 10 && shift != 12 {
        return Err(RansError::BadFrequencies);
    }
    let total = 1u32 << shift;
    let Scratch {
        o1, table, level, ..
    } = scratch;
    let used = if head & 1 == 1 {
        // The tables are themselves an order-0 stream (always 4 states).
        let u = b.u7()? as usize;
        let c = b.u7()? as usize;
        let sub = b.bytes(c)?;
        table.clear();
        table.resize(u, 0);
        order0(&mut Bytes::new(sub), table, 4, *level)?;
        o1_tables(&mut Bytes::new(table), total, o1)?
    } else {
        o1_tables(b, total, o1)?
    };
    let mut r = [0u32; 32];
    read_states(b, &mut r[..states])?;
    let q = out.len() / states;
    let mut ctx = [0u8; 32];
    let mask = total - 1;
    let mut start = 0;
    if states == 32 && q > 0 {
        start = simd_order1(*level, o1, shift, &used, &mut r, &mut ctx, b, out)?;
    }
    let o1 = &**o1;
    let step = |z: usize, ctx: &mut [u8; 32], r: &mut [u32], b: &mut Bytes<'_>| {
        let c = usize::from(ctx[z]);
        if !used[c] {
            return Err(RansError::BadState);
        }
        let x = r[z];
        let e = o1[c * 4096 + (x & mask) as usize];
        r[z] = advance(e, x, shift);
        renorm(&mut r[z], b);
        ctx[z] = e as u8;
        Ok(e as u8)
    };
    let table: &[u32; 1 << 20] = o1[..1 << 20]
        .try_into()
        .map_err(|_| RansError::BadFrequencies)?;
    let rounds = (start, q);
    match (states, shift) {
        (4, 12) => o1_rounds::<4, 12>(table, &used, &mut r, &mut ctx, b, out, rounds)?,
        (4, _) => o1_rounds::<4, 10>(table, &used, &mut r, &mut ctx, b, out, rounds)?,
        (_, 12) => o1_rounds::<32, 12>(table, &used, &mut r, &mut ctx, b, out, rounds)?,
        _ => o1_rounds::<32, 10>(table, &used, &mut r, &mut ctx, b, out, rounds)?,
    }
    for o in &mut out[states * q..] {
        *o = step(states - 1, &mut ctx, &mut r[..states], b)?;
    }
    Ok(())
}

/// Order-1 rounds `rounds.0..rounds.1` of `N` states (state `z` writes `out[z * q + i]` in
/// round `i`), scalar, the states and contexts held in registers for the constant `N` and
/// table bits `SHIFT`.
#[allow(clippy::too_many_arguments)]
fn o1_rounds<const N: usize, const SHIFT: u32>(
    table: &[u32; 1 << 20],
    used: &[bool; 256],
    r: &mut [u32; 32],
    ctx: &mut [u8; 32],
    b: &mut Bytes<'_>,
    out: &mut [u8],
    (start, q): (usize, usize),
) -> Result<(), RansError> {
    if start >= q {
        return Ok(());
    }
    let mut x = [0u32; N];
    let mut c = [0u8; N];
    x.copy_from_slice(&r[..N]);
    c.copy_from_slice(&ctx[..N]);
    // Each state's part of the output from round `start` on (bounds checked once, here).
    let mut parts = out.chunks_exact_mut(q);
    let part: [&mut [u8]; N] =
        std::array::from_fn(|_| &mut parts.next().expect("a part per state")[start..q]);
    #[allow(clippy::needless_range_loop)] // round `i` indexes every state's part
    for i in 0..q - start {
        for z in 0..N {
            if !used[usize::from(c[z])] {
                return Err(RansError::BadState);
            }
            let slot = (usize::from(c[z]) << 12) | (x[z] & ((1 << SHIFT) - 1)) as usize;
            let e = table[slot];
            part[z][i] = e as u8;
            x[z] = advance(e, x[z], SHIFT);
            renorm(&mut x[z], b);
            c[z] = e as u8;
        }
    }
    r[..N].copy_from_slice(&x);
    ctx[..N].copy_from_slice(&c);
    Ok(())
}

/// Order-1 rounds of 32 states (one symbol of each state's part of the output per round) by
/// the best SIMD kernel `level` allows: the rounds decoded, the stream advanced past what
/// they read. A state entering a context without a table is a corrupt stream.
#[allow(clippy::too_many_arguments, unused_variables)]
fn simd_order1(
    level: Level,
    o1: &[u32],
    shift: u32,
    used: &[bool; 256],
    r: &mut [u32; 32],
    ctx: &mut [u8; 32],
    b: &mut Bytes<'_>,
    out: &mut [u8],
) -> Result<usize, RansError> {
    #[cfg(target_arch = "x86_64")]
    {
        // The contexts without a table, as a 256-bit set.
        let mut unused = [0u32; 8];
        for (c, &u) in used.iter().enumerate() {
            if !u {
                unused[c / 32] |= 1 << (c % 32);
            }
        }
        let run = if level >= Level::Avx512F {
            super::x86_64::Avx512::new()
                .map(|k| k.order1(o1, shift, &unused, r, ctx, b.rest(), out))
        } else if level >= Level::Avx2 {
            super::x86_64::Avx2::new().map(|k| k.order1(o1, shift, &unused, r, ctx, b.rest(), out))
        } else {
            None
        };
        let Some(run) = run else { return Ok(0) };
        let (rounds, used_bytes) = run?;
        b.pos += used_bytes;
        Ok(rounds)
    }
    #[cfg(not(target_arch = "x86_64"))]
    Ok(0)
}
