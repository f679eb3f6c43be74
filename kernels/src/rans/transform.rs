//! rANS Nx16's transforms around the entropy decoder: run-length expansion (RLE), unpacking of
//! 2, 4 or 16 symbols per byte (PACK) and the byte-interleaved sub-streams (STRIPE).

use super::{Bytes, RansError};

/// Nested STRIPE streams deeper than this are refused (real streams nest once at most).
pub(super) const MAX_DEPTH: u32 = 4;

pub(super) fn check_len(stated: usize, expected: usize) -> Result<(), RansError> {
    if stated != expected {
        return Err(RansError::WrongLength { stated, expected });
    }
    Ok(())
}

/// Expands run-length coded literals: a literal in the run set is followed by its run
/// (the count of further copies) from the metadata's runs.
pub(super) fn unrle(
    literals: &[u8],
    meta: &[u8],
    target: usize,
    out: &mut Vec<u8>,
) -> Result<(), RansError> {
    let mut m = Bytes::new(meta);
    let nsym = match m.u8()? {
        0 => 256,
        n => usize::from(n),
    };
    let mut set = [false; 256];
    for &s in m.bytes(nsym)? {
        set[usize::from(s)] = true;
    }
    out.reserve(target);
    for &l in literals {
        if set[usize::from(l)] {
            let run = m.u7()? as usize + 1;
            if out.len() + run > target {
                return Err(RansError::WrongLength {
                    stated: out.len() + run,
                    expected: target,
                });
            }
            out.resize(out.len() + run, l);
        } else {
            if out.len() == target {
                return Err(RansError::WrongLength {
                    stated: target + 1,
                    expected: target,
                });
            }
            out.push(l);
        }
    }
    check_len(out.len(), target)
}

/// PACK metadata: the symbol count, the symbol map and the packed length (at most `osz`).
/// A count above 16 (0 stands for 256) packs nothing: no map follows, and the bytes are
/// stored as they are (htscodecs writes this for data of many symbols).
pub(crate) fn pack_meta(
    b: &mut Bytes<'_>,
    osz: usize,
) -> Result<(usize, [u8; 16], usize), RansError> {
    let nsym = match b.u8()? {
        0 => 256,
        n => usize::from(n),
    };
    let mut map = [0u8; 16];
    if nsym <= 16 {
        map[..nsym].copy_from_slice(b.bytes(nsym)?);
    }
    // htscodecs reads this length up to the end of the input when that cuts it short (a
    // one-symbol PACK needs no bytes after it).
    let packed = b.u7_to_end()? as usize;
    if packed > osz {
        return Err(RansError::BadFrequencies);
    }
    Ok((nsym, map, packed))
}

/// Unpacks 1, 2 or 4 bits per symbol (low bits first) through the symbol map.
pub(crate) fn unpack(
    packed: &[u8],
    nsym: usize,
    map: &[u8; 16],
    out: &mut [u8],
) -> Result<(), RansError> {
    let bits = match nsym {
        0..=1 => 0,
        2 => 1,
        3..=4 => 2,
        5..=16 => 4,
        _ => {
            // Not packed: the bytes as they are.
            if packed.len() != out.len() {
                return Err(RansError::WrongLength {
                    stated: packed.len(),
                    expected: out.len(),
                });
            }
            out.copy_from_slice(packed);
            return Ok(());
        }
    };
    if bits == 0 {
        out.fill(map[0]);
        return Ok(());
    }
    let per = 8 / bits;
    if packed.len() < out.len().div_ceil(per) {
        return Err(RansError::Truncated);
    }
    let mask = (1u8 << bits) - 1;
    for (i, o) in out.iter_mut().enumerate() {
        let v = (packed[i / per] >> ((i % per) * bits)) & mask;
        if usize::from(v) >= nsym {
            return Err(RansError::BadState);
        }
        *o = map[usize::from(v)];
    }
    Ok(())
}

/// Decodes a STRIPE sub-stream (its bytes, its output, its nesting depth).
pub(crate) type SubStream<'a> = dyn FnMut(&[u8], &mut [u8], u32) -> Result<(), RansError> + 'a;

/// STRIPE: N sub-streams, each decoded by `sub` (a whole stream of the same codec, one level
/// deeper), interleaved byte by byte.
pub(crate) fn stripe_with(
    b: &mut Bytes<'_>,
    out: &mut [u8],
    depth: u32,
    sub: &mut SubStream<'_>,
) -> Result<(), RansError> {
    if depth >= MAX_DEPTH {
        return Err(RansError::BadFrequencies);
    }
    let ulen = b.u7()? as usize;
    check_len(ulen, out.len())?;
    let n = usize::from(b.u8()?);
    if n == 0 {
        return Err(RansError::BadFrequencies);
    }
    let mut clen = Vec::with_capacity(n);
    for _ in 0..n {
        clen.push(b.u7()? as usize);
    }
    let mut part = Vec::new();
    for (j, &c) in clen.iter().enumerate() {
        let stream = b.bytes(c)?;
        let len = ulen / n + usize::from(ulen % n > j);
        part.clear();
        part.resize(len, 0);
        sub(stream, &mut part, depth + 1)?;
        for (i, &v) in part.iter().enumerate() {
            out[i * n + j] = v;
        }
    }
    Ok(())
}
