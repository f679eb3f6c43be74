//! The adaptive arithmetic coder of CRAM 3.1 (block method 6): a byte-wise range decoder over
//! adaptive frequency models ([`Model`]), order 0 or 1, optionally with run-length models, and
//! the STRIPE, PACK and CAT transforms shared with rANS Nx16 (bzip2 inside, flag 0x04, is
//! the caller's: it needs no kernel). The range decoder and models are also the entropy layer
//! of the name tokeniser's and fqzcomp's streams.
//!
//! ```
//! // A stored (CAT) stream of 3 bytes.
//! let stream = [0x20, 3, b'a', b'b', b'c'];
//! let mut out = [0u8; 3];
//! rawarrow_kernels::arith::decode(&stream, &mut out, None)?;
//! assert_eq!(&out, b"abc");
//! # Ok::<(), rawarrow_kernels::rans::RansError>(())
//! ```

mod model;
mod range;

pub use model::Model;
pub use range::RangeDecoder;

use crate::rans::{Bytes, RansError};

const ORDER: u8 = 0x03;
const EXT: u8 = 0x04;
const STRIPE: u8 = 0x08;
const NOSZ: u8 = 0x10;
const CAT: u8 = 0x20;
const RLE: u8 = 0x40;
const PACK: u8 = 0x80;

/// Decompresses the bzip2 stream of an EXT-flagged block into exactly `out`.
pub type Bzip2 = fn(&[u8], &mut [u8]) -> Result<(), RansError>;

/// The uncompressed length a stream states (`None` for a stream without one).
pub fn stated_len(stream: &[u8]) -> Result<Option<usize>, RansError> {
    crate::rans::nx16::stated_len(stream)
}

/// Decodes `stream` into `out` (its stated length, or the length the caller knows for a
/// stream without one). `bzip2` decodes EXT streams; without it they are an error.
pub fn decode(stream: &[u8], out: &mut [u8], bzip2: Option<Bzip2>) -> Result<(), RansError> {
    decode_at(stream, out, bzip2, 0)
}

fn decode_at(
    stream: &[u8],
    out: &mut [u8],
    bzip2: Option<Bzip2>,
    depth: u32,
) -> Result<(), RansError> {
    let mut b = Bytes::new(stream);
    let flags = b.u8()?;
    if flags & STRIPE != 0 {
        return crate::rans::transform::stripe_with(&mut b, out, depth, &mut |sub, part, depth| {
            decode_at(sub, part, bzip2, depth)
        });
    }
    let osz = if flags & NOSZ != 0 {
        out.len()
    } else {
        b.u7()? as usize
    };
    if osz != out.len() {
        return Err(RansError::WrongLength {
            stated: osz,
            expected: out.len(),
        });
    }
    let mut n = osz;
    let mut pack = None;
    if flags & PACK != 0 {
        let (nsym, map, packed) = crate::rans::transform::pack_meta(&mut b, osz)?;
        pack = Some((nsym, map));
        // With no bytes after the metadata, htscodecs decodes none, whatever count the
        // metadata states (a one-symbol PACK needs none).
        n = if b.rest().is_empty() { 0 } else { packed };
    }
    let mut packed_buf = Vec::new();
    let dest: &mut [u8] = if pack.is_some() {
        packed_buf.resize(n, 0);
        &mut packed_buf
    } else {
        &mut *out
    };
    let rest = b.rest();
    if rest.is_empty() {
        if n != 0 {
            return Err(RansError::Truncated);
        }
    } else if flags & CAT != 0 {
        dest.copy_from_slice(rest.get(..n).ok_or(RansError::Truncated)?);
    } else if flags & EXT != 0 {
        let f = bzip2.ok_or(RansError::BadOrder(flags))?;
        f(rest, dest)?;
    } else {
        let order1 = flags & ORDER == 1;
        match (flags & RLE != 0, order1) {
            (false, false) => order0(rest, dest)?,
            (false, true) => order1_(rest, dest)?,
            (true, o1) => rle(rest, dest, o1)?,
        }
    }
    if let Some((nsym, map)) = pack {
        crate::rans::transform::unpack(&packed_buf, nsym, &map, out)?;
    }
    Ok(())
}

fn max_sym(rest: &[u8]) -> Result<(usize, &[u8]), RansError> {
    let (&m, rc) = rest.split_first().ok_or(RansError::Truncated)?;
    Ok((if m == 0 { 256 } else { usize::from(m) }, rc))
}

fn order0(rest: &[u8], out: &mut [u8]) -> Result<(), RansError> {
    let (m, rc) = max_sym(rest)?;
    let mut model = Model::new(m);
    let mut r = RangeDecoder::new(rc)?;
    for o in out.iter_mut() {
        *o = model.decode(&mut r)? as u8;
    }
    r.finish()
}

fn order1_(rest: &[u8], out: &mut [u8]) -> Result<(), RansError> {
    let (m, rc) = max_sym(rest)?;
    let mut models: Vec<Model> = (0..256).map(|_| Model::new(m)).collect();
    let mut r = RangeDecoder::new(rc)?;
    let mut last = 0usize;
    for o in out.iter_mut() {
        let s = models[last].decode(&mut r)? as u8;
        *o = s;
        last = usize::from(s);
    }
    r.finish()
}

fn rle(rest: &[u8], out: &mut [u8], o1: bool) -> Result<(), RansError> {
    let (m, rc) = max_sym(rest)?;
    let mut lits: Vec<Model> = (0..if o1 { 256 } else { 1 })
        .map(|_| Model::new(m))
        .collect();
    let mut runs: Vec<Model> = (0..258).map(|_| Model::new(4)).collect();
    let mut r = RangeDecoder::new(rc)?;
    let n = out.len();
    let mut i = 0;
    let mut last = 0usize;
    while i < n {
        let lit = lits[if o1 { last } else { 0 }].decode(&mut r)? as u8;
        out[i] = lit;
        last = usize::from(lit);
        let mut rctx = usize::from(lit);
        let mut run = 0usize;
        loop {
            let part = runs[rctx].decode(&mut r)? as usize;
            rctx = if rctx == usize::from(lit) { 256 } else { 257 };
            run += part;
            if part != 3 || run >= n {
                break;
            }
        }
        for _ in 0..run {
            if i + 1 >= n {
                break;
            }
            i += 1;
            out[i] = lit;
        }
        i += 1;
    }
    r.finish()
}
