//! rANS 4x8 (CRAM 3.0 block method 4), scalar: a 9-byte header (order byte, compressed and
//! uncompressed sizes as `u32` LE), a frequency table (order 0: one; order 1: one per
//! preceding symbol) with 12-bit frequencies, then four 32-bit states renormalised a byte at a
//! time below 2²³. Order 0 interleaves the states over consecutive symbols; order 1 gives each
//! state a quarter of the output (the last state also the remainder), each with its own
//! preceding-symbol context.

use super::{advance, entry, Bytes, RansError, Scratch};

/// Total of a frequency table (12 bits).
const TOTFREQ: u32 = 4096;
/// Renormalisation bound: a state below it takes another byte.
const LOWER: u32 = 1 << 23;

/// The order (0 or 1) and the uncompressed length a stream states.
pub fn sizes(stream: &[u8]) -> Result<(u8, usize), RansError> {
    let mut b = Bytes::new(stream);
    let order = b.u8()?;
    if order > 1 {
        return Err(RansError::BadOrder(order));
    }
    let _compressed = b.u32le()?;
    let out = b.u32le()?;
    Ok((order, out as usize))
}

/// Decodes `stream` into `out`, whose length must be the stated uncompressed length.
pub fn decode(stream: &[u8], out: &mut [u8], scratch: &mut Scratch) -> Result<(), RansError> {
    let (order, len) = sizes(stream)?;
    if len != out.len() {
        return Err(RansError::WrongLength {
            stated: len,
            expected: out.len(),
        });
    }
    // The stated compressed size is the rest of the stream exactly (htslib checks it too): a
    // cut stream is an error here, not a shorter renormalisation at its end.
    let mut b = Bytes::new(stream);
    b.pos = 1;
    let compressed = b.u32le()? as usize;
    if compressed != stream.len() - 9 {
        return Err(RansError::Truncated);
    }
    b.pos = 9;
    if out.is_empty() {
        return Ok(());
    }
    match order {
        0 => order0(&mut b, out),
        _ => order1(&mut b, out, scratch),
    }
}

/// A frequency (1 or 2 bytes: a first byte ≥ 128 carries the high 7 bits).
#[inline]
fn freq(b: &mut Bytes<'_>) -> Result<u32, RansError> {
    let f = u32::from(b.u8()?);
    if f >= 128 {
        return Ok(((f & 0x7f) << 8) | u32::from(b.u8()?));
    }
    Ok(f)
}

/// Walks a symbol list as htscodecs writes it: symbols in increasing order, a symbol followed by
/// its successor starting a run whose length (beyond those two) is the next byte; 0 ends the
/// list (after at least one symbol). Calls `each` for each symbol, in order.
fn symbols(
    b: &mut Bytes<'_>,
    mut each: impl FnMut(&mut Bytes<'_>, u8) -> Result<(), RansError>,
) -> Result<(), RansError> {
    let mut rle = 0u8;
    let mut j = b.u8()?;
    loop {
        each(b, j)?;
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
            return Ok(());
        }
    }
}

/// Reads one frequency table into `slots` (4096 [`entry`](super::entry) slots). Its total
/// must be 4096 or 4095 (htscodecs writes 4095); slot 4095 of a table of 4095 belongs to the
/// last symbol, one past its range, as htslib decodes it.
fn table(b: &mut Bytes<'_>, slots: &mut [u32], zero_is_total: bool) -> Result<(), RansError> {
    let mut total = 0u32;
    let mut last = (0u8, 0u32);
    symbols(b, |b, s| {
        let mut f = freq(b)?;
        if f == 0 && zero_is_total {
            // Order-1 tables write a whole row's 4096 as 0.
            f = TOTFREQ;
        }
        if total + f > TOTFREQ {
            return Err(RansError::BadFrequencies);
        }
        for (j, e) in slots[total as usize..(total + f) as usize]
            .iter_mut()
            .enumerate()
        {
            *e = entry(s, j as u32, f);
        }
        total += f;
        if f > 0 {
            last = (s, f);
        }
        Ok(())
    })?;
    match total {
        TOTFREQ => Ok(()),
        4095 => {
            slots[4095] = entry(last.0, last.1, last.1);
            Ok(())
        }
        _ => Err(RansError::BadFrequencies),
    }
}

/// One decoding step of a state: its symbol and its next value (before renormalisation).
#[inline]
fn step(x: u32, slots: &[u32; 4096]) -> (u8, u32) {
    let e = slots[(x & (TOTFREQ - 1)) as usize];
    (e as u8, advance(e, x, 12))
}

/// Renormalises as htslib does: a byte at a time below 2²³, at most two (a state that starts
/// at 2²³ or above never falls below 2¹¹), and no more once the stream is used up.
#[inline]
fn renorm(x: &mut u32, b: &mut Bytes<'_>) {
    for _ in 0..2 {
        if *x >= LOWER {
            return;
        }
        let Ok(byte) = b.u8() else { return };
        *x = (*x << 8) | u32::from(byte);
    }
}

/// The four states; each must be at least 2²³.
fn states(b: &mut Bytes<'_>) -> Result<[u32; 4], RansError> {
    let r = [b.u32le()?, b.u32le()?, b.u32le()?, b.u32le()?];
    if r.iter().any(|&x| x < LOWER) {
        return Err(RansError::BadState);
    }
    Ok(r)
}

fn order0(b: &mut Bytes<'_>, out: &mut [u8]) -> Result<(), RansError> {
    let mut slots = [0u32; TOTFREQ as usize];
    table(b, &mut slots, false)?;
    let mut r = states(b)?;
    let whole = out.len() & !3;
    for quad in out[..whole].chunks_exact_mut(4) {
        for (j, o) in quad.iter_mut().enumerate() {
            let (s, x) = step(r[j], &slots);
            *o = s;
            r[j] = x;
        }
        for x in &mut r {
            renorm(x, b);
        }
    }
    // The last one to three symbols, one from each of the first states (their final step).
    for (j, o) in out[whole..].iter_mut().enumerate() {
        *o = step(r[j], &slots).0;
    }
    Ok(())
}

fn order1(b: &mut Bytes<'_>, out: &mut [u8], scratch: &mut Scratch) -> Result<(), RansError> {
    let o1 = &mut scratch.o1;
    // Which contexts have a table.
    let mut used = [false; 256];
    // Contexts listed as symbols are: a list of contexts, each followed by its table.
    {
        let mut rle = 0u8;
        let mut i = b.u8()?;
        loop {
            let c = usize::from(i);
            table(b, &mut o1[c * 4096..][..4096], true)?;
            used[c] = true;
            if rle == 0 && u16::from(i) + 1 == u16::from(b.peek()?) {
                i = b.u8()?;
                rle = b.u8()?;
            } else if rle > 0 {
                rle -= 1;
                i = i.checked_add(1).ok_or(RansError::BadFrequencies)?;
            } else {
                i = b.u8()?;
            }
            if i == 0 {
                break;
            }
        }
    }
    let mut r = states(b)?;
    let quarter = out.len() / 4;
    let mut ctx = [0u8; 4];
    let tables: &[[u32; 4096]; 256] = o1
        .as_chunks::<4096>()
        .0
        .try_into()
        .expect("256 order-1 tables");
    let get = |ctx: u8, x: u32| -> Result<(u8, u32), RansError> {
        let c = usize::from(ctx);
        if !used[c] {
            return Err(RansError::BadState);
        }
        Ok(step(x, &tables[c]))
    };
    let (q0, rest) = out.split_at_mut(quarter);
    let (q1, rest) = rest.split_at_mut(quarter);
    let (q2, q3) = rest.split_at_mut(quarter);
    for (((o0, o1), o2), o3) in q0
        .iter_mut()
        .zip(q1.iter_mut())
        .zip(q2.iter_mut())
        .zip(q3.iter_mut())
    {
        // Any context used must have a table (a corrupt stream may point at one it lacks).
        if !(used[usize::from(ctx[0])]
            & used[usize::from(ctx[1])]
            & used[usize::from(ctx[2])]
            & used[usize::from(ctx[3])])
        {
            return Err(RansError::BadState);
        }
        for (j, o) in [o0, o1, o2, o3].into_iter().enumerate() {
            let t = &tables[usize::from(ctx[j])];
            let (s, x) = step(r[j], t);
            *o = s;
            ctx[j] = s;
            r[j] = x;
        }
        for x in &mut r {
            renorm(x, b);
        }
    }
    // The remainder, by the last state.
    for o in &mut out[4 * quarter..] {
        let (s, x) = get(ctx[3], r[3])?;
        *o = s;
        ctx[3] = s;
        r[3] = x;
        renorm(&mut r[3], b);
    }
    Ok(())
}
