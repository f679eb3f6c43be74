//! CRAM 3.1's name tokeniser (block method 8, htscodecs' `tokenise_name3`): read names split
//! into tokens (strings, characters, numbers with and without leading zeros, deltas, matches
//! against an earlier name), each token position and type a byte stream of its own, compressed
//! with rANS Nx16 or the adaptive arithmetic coder. Decoding rebuilds the names, each followed
//! by a NUL. Unlike the entropy kernels this one allocates: its token streams, and the output.
//!
//! ```
//! // Three names, the streams stored (CAT) by rANS Nx16.
//! let stream = [
//!     0x18, 0, 0, 0, 3, 0, 0, 0, 0, // 24 bytes out, 3 names, rANS
//!     0x80, 0x07, 0xa0, 0x03, 0x02, 0x05, 0x06, 0x01, 0x05, // pos 0 types: DIFF, DUP, DIFF
//!     0x05, 0x06, 0x20, 0x04, 0x01, 0, 0, 0, // DUP distances: 1
//!     0x06, 0x0a, 0x20, 0x08, 0, 0, 0, 0, 1, 0, 0, 0, // DIFF distances: 0, 1
//!     0x82, 0x03, 0x20, 0x01, b'r', // pos 1: the character 'r'
//!     0x80, 0x07, 0xa0, 0x02, 0x02, 0x03, 0x09, 0x01, 0x02, // pos 2: DIGITS0, DELTA0
//!     0x03, 0x06, 0x20, 0x04, 7, 0, 0, 0, 0x04, 0x03, 0x20, 0x01, 3, // 7, width 3
//!     0x09, 0x05, 0xa0, 0x01, 0x01, 0x01, 0x00, // delta 1
//!     0x82, 0x03, 0x20, 0x01, b':', // pos 3: ':'
//!     0xc0, 0x02, 0x00, 0x43, 0x00, 0x05, 0x04, 0x03, 0x20, 0x01, 2, 0x49, 0x02, 0x09,
//!     0x80, 0x05, 0xa0, 0x02, 0x01, 0x0c, 0x00, // pos 5: END
//! ];
//! let mut out = Vec::new();
//! let mut scratch = rawarrow_kernels::rans::Scratch::new();
//! rawarrow_kernels::tok3::decode(&stream, &mut out, 24, &mut scratch, None)?;
//! assert_eq!(out, b"r007:01\0r007:01\0r008:02\0");
//! # Ok::<(), rawarrow_kernels::rans::RansError>(())
//! ```

use crate::arith::{self, Bzip2};
use crate::rans::{nx16, Bytes, RansError, Scratch};

const TYPE: u8 = 0;
const ALPHA: u8 = 1;
const CHAR: u8 = 2;
const DIGITS0: u8 = 3;
const DZLEN: u8 = 4;
const DUP: u8 = 5;
const DIFF: u8 = 6;
const DIGITS: u8 = 7;
const DELTA: u8 = 8;
const DELTA0: u8 = 9;
const MATCH: u8 = 10;
const NOP: u8 = 11;

const MAX_TOKENS: usize = 128;
/// More names than this in one block is refused (htscodecs' own limit).
const MAX_NAMES: usize = 10_000_000;

/// A decoded token stream and its read position.
#[derive(Debug, Clone, Default)]
struct Stream {
    data: Vec<u8>,
    pos: usize,
}

impl Stream {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.data.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A token as later names refer to it: its resolved type (a delta is a number, a match what it
/// matched) and values (CHAR: the byte; ALPHA: length and offset in its name; DIGITS: value;
/// DIGITS0: value and width).
#[derive(Debug, Clone, Copy, Default)]
struct Token {
    ty: u8,
    ival: u32,
    sval: u32,
}

/// The stated output length (names and their NULs) of a stream.
pub fn stated_len(stream: &[u8]) -> Result<usize, RansError> {
    let mut b = Bytes::new(stream);
    Ok(b.u32le()? as usize)
}

/// Decodes the names of `stream` into `out` (emptied first): each name, then a NUL. A stream
/// stating more than `max_len` bytes is refused before anything is allocated. `bzip2` decodes
/// the arithmetic coder's bzip2 streams (without it they are an error).
pub fn decode(
    stream: &[u8],
    out: &mut Vec<u8>,
    max_len: usize,
    scratch: &mut Scratch,
    bzip2: Option<Bzip2>,
) -> Result<(), RansError> {
    out.clear();
    let mut b = Bytes::new(stream);
    let ulen = b.u32le()? as usize;
    let nnames = b.u32le()? as usize;
    let use_arith = b.u8()? != 0;
    if ulen > max_len {
        return Err(RansError::WrongLength {
            stated: ulen,
            expected: max_len,
        });
    }
    if nnames == 0 || nnames > MAX_NAMES || nnames > ulen {
        return Err(RansError::BadFrequencies);
    }
    // The stream table.
    let mut streams: Vec<Option<Stream>> = vec![None; MAX_TOKENS * 16];
    let mut pos: isize = -1;
    let mut max_tok = 1usize;
    while !b.rest().is_empty() {
        let tt = b.u8()?;
        let ty = tt & 15;
        if tt & 0x80 != 0 {
            pos += 1;
            if pos as usize >= MAX_TOKENS {
                return Err(RansError::BadFrequencies);
            }
            max_tok = pos as usize + 1;
            let p = pos as usize * 16;
            streams[p..p + 16].fill(None);
            if ty != TYPE {
                let mut data = vec![MATCH; nnames];
                data[0] = ty;
                streams[p] = Some(Stream { data, pos: 0 });
            }
        }
        if pos < 0 {
            return Err(RansError::BadFrequencies);
        }
        let i = pos as usize * 16 + usize::from(ty);
        if tt & 0x40 != 0 {
            let j = usize::from(b.u8()?) * 16 + usize::from(b.u8()?);
            let src = (j < i).then(|| streams[j].as_ref()).flatten();
            let data = src.ok_or(RansError::BadFrequencies)?.data.clone();
            streams[i] = Some(Stream { data, pos: 0 });
            continue;
        }
        let clen = b.u7()? as usize;
        let sub = b.bytes(clen)?;
        let data = inner(sub, use_arith, ulen, scratch, bzip2)?;
        streams[i] = Some(Stream { data, pos: 0 });
    }
    // The names.
    out.reserve(ulen);
    let mut starts: Vec<usize> = Vec::with_capacity(nnames);
    let mut ntoks: Vec<usize> = Vec::with_capacity(nnames);
    let mut tok_at: Vec<usize> = Vec::with_capacity(nnames);
    let mut toks: Vec<Token> = Vec::new();
    let mut n = 0usize;
    loop {
        let t0 = match streams[0].as_mut().and_then(Stream::u8) {
            Some(t) if usize::from(t) < max_tok * 16 => t,
            _ => break,
        };
        if n >= nnames {
            return Err(RansError::WrongLength {
                stated: n + 1,
                expected: nnames,
            });
        }
        if t0 != DUP && t0 != DIFF {
            return Err(RansError::BadState);
        }
        let dist = streams[usize::from(t0)]
            .as_mut()
            .and_then(Stream::u32)
            .ok_or(RansError::Truncated)? as usize;
        if dist > n {
            return Err(RansError::BadState);
        }
        let p = n - dist;
        let start = out.len();
        if t0 == DUP {
            if p == n {
                return Err(RansError::BadState);
            }
            let end = out[starts[p]..]
                .iter()
                .position(|&c| c == 0)
                .map_or(out.len(), |z| starts[p] + z);
            if out.len() + (end - starts[p]) + 1 > ulen {
                return Err(RansError::WrongLength {
                    stated: out.len() + (end - starts[p]) + 1,
                    expected: ulen,
                });
            }
            out.extend_from_within(starts[p]..end);
            out.push(0);
            starts.push(start);
            ntoks.push(ntoks[p]);
            tok_at.push(tok_at[p]);
            n += 1;
            continue;
        }
        // DIFF: tokens against name p (none of its own tokens yet when p == n).
        let (p_ntok, p_at) = if p == n {
            (0, 0)
        } else {
            (ntoks[p], tok_at[p])
        };
        let my_at = toks.len();
        let mut ended = false;
        for t in 1..max_tok.min(MAX_TOKENS) {
            let ty = streams[t * 16].as_mut().and_then(Stream::u8);
            let prior = |toks: &Vec<Token>| -> Result<Token, RansError> {
                if t >= p_ntok {
                    return Err(RansError::BadState);
                }
                Ok(toks[p_at + t - 1])
            };
            macro_rules! value {
                ($k:expr) => {
                    streams[t * 16 + usize::from($k)].as_mut()
                };
            }
            let tok = match ty {
                Some(CHAR) => {
                    let c = value!(CHAR)
                        .and_then(Stream::u8)
                        .ok_or(RansError::Truncated)?;
                    out.push(c);
                    Token {
                        ty: CHAR,
                        ival: u32::from(c),
                        sval: 0,
                    }
                }
                Some(ALPHA) => {
                    let s = value!(ALPHA).ok_or(RansError::Truncated)?;
                    let rest = s.data.get(s.pos..).unwrap_or_default();
                    let z = rest
                        .iter()
                        .position(|&c| c == 0)
                        .ok_or(RansError::Truncated)?;
                    let at = out.len() - start;
                    out.extend_from_slice(&rest[..z]);
                    s.pos += z + 1;
                    Token {
                        ty: ALPHA,
                        ival: z as u32,
                        sval: at as u32,
                    }
                }
                Some(DIGITS0) => {
                    let w = value!(DZLEN)
                        .and_then(Stream::u8)
                        .ok_or(RansError::Truncated)?;
                    let v = value!(DIGITS0)
                        .and_then(Stream::u32)
                        .ok_or(RansError::Truncated)?;
                    fixed(out, v, u32::from(w))?;
                    Token {
                        ty: DIGITS0,
                        ival: v,
                        sval: u32::from(w),
                    }
                }
                Some(DELTA0) => {
                    let q = prior(&toks)?;
                    if q.ty != DIGITS0 {
                        return Err(RansError::BadState);
                    }
                    let d = value!(DELTA0)
                        .and_then(Stream::u8)
                        .ok_or(RansError::Truncated)?;
                    let v = q.ival.wrapping_add(u32::from(d));
                    fixed(out, v, q.sval)?;
                    Token {
                        ty: DIGITS0,
                        ival: v,
                        sval: q.sval,
                    }
                }
                Some(DIGITS) => {
                    let v = value!(DIGITS)
                        .and_then(Stream::u32)
                        .ok_or(RansError::Truncated)?;
                    var(out, v);
                    Token {
                        ty: DIGITS,
                        ival: v,
                        sval: 0,
                    }
                }
                Some(DELTA) => {
                    let q = prior(&toks)?;
                    if q.ty != DIGITS {
                        return Err(RansError::BadState);
                    }
                    let d = value!(DELTA)
                        .and_then(Stream::u8)
                        .ok_or(RansError::Truncated)?;
                    let v = q.ival.wrapping_add(u32::from(d));
                    var(out, v);
                    Token {
                        ty: DIGITS,
                        ival: v,
                        sval: 0,
                    }
                }
                Some(NOP) => Token {
                    ty: NOP,
                    ival: 0,
                    sval: 0,
                },
                Some(MATCH) => {
                    let q = prior(&toks)?;
                    match q.ty {
                        CHAR => {
                            out.push(q.ival as u8);
                            q
                        }
                        ALPHA => {
                            let a = starts[p] + q.sval as usize;
                            let at = out.len() - start;
                            out.extend_from_within(a..a + q.ival as usize);
                            Token {
                                ty: ALPHA,
                                ival: q.ival,
                                sval: at as u32,
                            }
                        }
                        DIGITS => {
                            var(out, q.ival);
                            q
                        }
                        DIGITS0 => {
                            fixed(out, q.ival, q.sval)?;
                            q
                        }
                        _ => return Err(RansError::BadState),
                    }
                }
                // END (12), and what htscodecs takes for an elided one: a missing or spent
                // type stream.
                _ => {
                    out.push(0);
                    starts.push(start);
                    ntoks.push(t);
                    tok_at.push(my_at);
                    ended = true;
                    break;
                }
            };
            toks.push(tok);
            if out.len() > ulen {
                return Err(RansError::WrongLength {
                    stated: out.len(),
                    expected: ulen,
                });
            }
        }
        if !ended {
            return Err(RansError::BadState);
        }
        if out.len() > ulen {
            return Err(RansError::WrongLength {
                stated: out.len(),
                expected: ulen,
            });
        }
        n += 1;
    }
    if n != nnames || out.len() != ulen {
        return Err(RansError::WrongLength {
            stated: out.len(),
            expected: ulen,
        });
    }
    Ok(())
}

/// One token stream, whole: rANS Nx16 or arithmetic-coded, its size stated in it.
fn inner(
    sub: &[u8],
    use_arith: bool,
    limit: usize,
    scratch: &mut Scratch,
    bzip2: Option<Bzip2>,
) -> Result<Vec<u8>, RansError> {
    let len = nx16::stated_len(sub)?.ok_or(RansError::BadFrequencies)?;
    // A token stream holds at most a few bytes per output byte (4-byte numbers for 1-byte
    // digits at worst).
    if len > limit.saturating_mul(4).saturating_add(64) {
        return Err(RansError::BadFrequencies);
    }
    let mut data = vec![0; len];
    if use_arith {
        arith::decode(sub, &mut data, bzip2)?;
    } else {
        nx16::decode(sub, &mut data, scratch)?;
    }
    Ok(data)
}

/// A number without leading zeros (0 is written as nothing, as htscodecs writes it).
fn var(out: &mut Vec<u8>, v: u32) {
    if v == 0 {
        return;
    }
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut x = v;
    while x > 0 {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    out.extend_from_slice(&buf[i..]);
}

/// A number in exactly `w` digits (leading zeros); `w` above 9 or a value of more digits is a
/// corrupt stream.
fn fixed(out: &mut Vec<u8>, v: u32, w: u32) -> Result<(), RansError> {
    if w > 9 || u64::from(v) >= 10u64.pow(w) {
        return Err(RansError::BadState);
    }
    let mut x = v;
    let at = out.len();
    out.resize(at + w as usize, b'0');
    for i in (0..w as usize).rev() {
        out[at + i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    Ok(())
}
