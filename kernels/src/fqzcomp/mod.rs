//! CRAM 3.1's fqzcomp quality codec (block method 7, htscodecs' `fqzcomp_qual`): qualities
//! modelled in a 16-bit context of the previous qualities, the position in the read, the
//! number of changes so far and a selector, coded by the arithmetic coder's range decoder and
//! adaptive models. The stream states its output length, each record's length, whether a
//! record repeats the previous one and which reads were reversed before coding (undone here),
//! so the output is the QS data series as CRAM defines it. Like the name tokeniser, this
//! decoder allocates its models.
//!
//! ```
//! // An empty block.
//! let mut out = Vec::new();
//! rawarrow_kernels::fqzcomp::decode(&[0], &mut out, 0)?;
//! assert!(out.is_empty());
//! # Ok::<(), rawarrow_kernels::rans::RansError>(())
//! ```

use crate::arith::{Model, RangeDecoder};
use crate::rans::{Bytes, RansError};

const VERSION: u8 = 5;
const MULTI_PARAM: u8 = 1;
const HAVE_STAB: u8 = 2;
const DO_REV: u8 = 4;

const DO_DEDUP: u8 = 2;
const FIXED_LEN: u8 = 4;
const DO_SEL: u8 = 8;
const HAVE_QMAP: u8 = 16;
const HAVE_PTAB: u8 = 32;
const HAVE_DTAB: u8 = 64;
const HAVE_QTAB: u8 = 128;

/// One parameter block.
#[derive(Debug, Clone)]
struct Params {
    context: u32,
    pflags: u8,
    max_sym: u32,
    qshift: u32,
    qloc: u32,
    sloc: u32,
    qmask: u32,
    qmap: [u8; 256],
    qtab: Vec<u32>,
    /// Pre-shifted by their locations.
    ptab: Vec<u32>,
    dtab: Vec<u32>,
}

/// The stated output length of a stream.
pub fn stated_len(stream: &[u8]) -> Result<usize, RansError> {
    Ok(Bytes::new(stream).u7()? as usize)
}

/// Decodes `stream` into `out` (emptied first); a stream stating more than `max_len` bytes
/// is refused before anything is allocated.
pub fn decode(stream: &[u8], out: &mut Vec<u8>, max_len: usize) -> Result<(), RansError> {
    out.clear();
    let mut b = Bytes::new(stream);
    let len = b.u7()? as usize;
    if len == 0 {
        return Ok(());
    }
    if len > max_len {
        return Err(RansError::WrongLength {
            stated: len,
            expected: max_len,
        });
    }
    // Parameters.
    if b.rest().len() < 10 {
        return Err(RansError::Truncated);
    }
    if b.u8()? != VERSION {
        return Err(RansError::BadOrder(VERSION));
    }
    let gflags = b.u8()?;
    let nparam = if gflags & MULTI_PARAM != 0 {
        usize::from(b.u8()?)
    } else {
        1
    };
    if nparam == 0 {
        return Err(RansError::BadFrequencies);
    }
    let mut max_sel = if nparam > 1 { nparam } else { 0 };
    let mut stab = [0u32; 256];
    if gflags & HAVE_STAB != 0 {
        max_sel = usize::from(b.u8()?);
        read_array(&mut b, &mut stab)?;
    } else {
        for (i, s) in stab.iter_mut().enumerate() {
            *s = i.min(nparam - 1) as u32;
        }
    }
    let mut params = Vec::with_capacity(nparam);
    for _ in 0..nparam {
        let p = read_params(&mut b)?;
        if p.pflags & DO_SEL != 0 && max_sel == 0 {
            return Err(RansError::BadFrequencies);
        }
        params.push(p);
    }
    let gmax_sym = params.iter().map(|p| p.max_sym).max().unwrap_or(0) as usize;
    // Models.
    let mut r = RangeDecoder::new(b.rest())?;
    let mut quals: Vec<Option<Model>> = vec![None; 1 << 16];
    let mut lens: [Model; 4] = std::array::from_fn(|_| Model::new(256));
    let mut revcomp = Model::new(2);
    let mut dup = Model::new(2);
    let mut sel = (max_sel > 0).then(|| Model::new(max_sel + 1));
    out.resize(len, 0);
    let p0 = &params[0];
    let (mut p, mut delta, mut prevq, mut qctx, mut s) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let (mut first_len, mut last_len) = (true, 0u32);
    let mut last = 0usize;
    let mut i = 0usize;
    let mut records: Vec<(bool, usize)> = Vec::new();
    while i < len {
        if p == 0 {
            // A new record.
            s = match (&mut sel, p0.pflags & DO_SEL != 0) {
                (Some(m), true) => u32::from(m.decode(&mut r)?),
                _ => 0,
            };
            let x = if gflags & HAVE_STAB != 0 {
                stab[(s as usize).min(255)] as usize
            } else {
                s as usize
            };
            let px = params.get(x).ok_or(RansError::BadState)?;
            let rlen = if px.pflags & FIXED_LEN == 0 || first_len {
                let mut v = 0u32;
                for (k, m) in lens.iter_mut().enumerate() {
                    v |= u32::from(m.decode(&mut r)?) << (8 * k);
                }
                first_len = false;
                last_len = v;
                v
            } else {
                last_len
            };
            let rlen = rlen as usize;
            if rlen == 0 || rlen > len - i {
                return Err(RansError::WrongLength {
                    stated: i + rlen,
                    expected: len,
                });
            }
            let rev = gflags & DO_REV != 0 && revcomp.decode(&mut r)? == 1;
            if gflags & DO_REV != 0 {
                records.push((rev, rlen));
            }
            if px.pflags & DO_DEDUP != 0 && dup.decode(&mut r)? == 1 {
                if rlen > i {
                    return Err(RansError::BadState);
                }
                out.copy_within(i - rlen..i, i);
                i += rlen;
                p = 0;
                continue;
            }
            p = rlen as u32;
            delta = 0;
            prevq = 0;
            qctx = 0;
            last = (px.context & 0xffff) as usize;
        }
        loop {
            let m = quals[last].get_or_insert_with(|| Model::new(gmax_sym + 1));
            let q = u32::from(m.decode(&mut r)?);
            // The next context, from block 0's tables (as htscodecs computes it).
            qctx = (qctx << p0.qshift).wrapping_add(*p0.qtab.get(q as usize).unwrap_or(&q));
            let mut c = (qctx & p0.qmask) << p0.qloc;
            c = c.wrapping_add(p0.ptab[(p as usize).min(1023)]);
            c = c.wrapping_add(p0.dtab[(delta as usize).min(255)]);
            c = c.wrapping_add(s << p0.sloc);
            delta += u32::from(prevq != q);
            prevq = q;
            p -= 1;
            last = (c & 0xffff) as usize;
            out[i] = p0.qmap[q as usize & 255];
            i += 1;
            if p == 0 || i >= len {
                break;
            }
        }
    }
    r.finish()?;
    // Reads reversed before coding, back in their orientation.
    let mut at = 0;
    for (rev, rlen) in records {
        if at >= len {
            break;
        }
        let end = (at + rlen).min(len);
        if rev {
            out[at..end].reverse();
        }
        at += rlen;
    }
    Ok(())
}

fn read_params(b: &mut Bytes<'_>) -> Result<Params, RansError> {
    if b.rest().len() < 7 {
        return Err(RansError::Truncated);
    }
    let context = u32::from(b.u8()?) | (u32::from(b.u8()?) << 8);
    let pflags = b.u8()?;
    let max_sym = u32::from(b.u8()?);
    let x = b.u8()?;
    let (qbits, qshift) = (u32::from(x >> 4), u32::from(x & 15));
    let x = b.u8()?;
    let (qloc, sloc) = (u32::from(x >> 4), u32::from(x & 15));
    let x = b.u8()?;
    let (ploc, dloc) = (u32::from(x >> 4), u32::from(x & 15));
    let mut qmap = [0u8; 256];
    if pflags & HAVE_QMAP != 0 {
        let m = b.bytes(max_sym as usize)?;
        qmap.fill(0xff);
        qmap[..m.len()].copy_from_slice(m);
    } else {
        for (j, v) in qmap.iter_mut().enumerate() {
            *v = j as u8;
        }
    }
    let mut qtab = Vec::new();
    if qbits > 0 {
        qtab = vec![0u32; 256];
        if pflags & HAVE_QTAB != 0 {
            read_array(b, &mut qtab)?;
        } else {
            for (j, v) in qtab.iter_mut().enumerate() {
                *v = j as u32;
            }
        }
    }
    let mut ptab = vec![0u32; 1024];
    if pflags & HAVE_PTAB != 0 {
        read_array(b, &mut ptab)?;
    }
    let mut dtab = vec![0u32; 256];
    if pflags & HAVE_DTAB != 0 {
        read_array(b, &mut dtab)?;
    }
    for v in &mut ptab {
        *v = v.wrapping_shl(ploc);
    }
    for v in &mut dtab {
        *v = v.wrapping_shl(dloc);
    }
    Ok(Params {
        context,
        pflags,
        max_sym,
        qshift,
        qloc,
        sloc,
        qmask: (1u32 << qbits) - 1,
        qmap,
        qtab,
        ptab,
        dtab,
    })
}

/// A table stored as two levels of run lengths: runs of equal bytes (a byte repeated after
/// itself is followed by a count of further copies), then those bytes as run lengths (split
/// at 255) of the values 0, 1, 2, ...
fn read_array(b: &mut Bytes<'_>, array: &mut [u32]) -> Result<(), RansError> {
    let size = array.len().min(1024);
    let mut runs = [0u8; 1024];
    let (mut j, mut z) = (0usize, 0usize);
    let mut last: i32 = -1;
    while z < size {
        let run = b.u8()?;
        runs[j] = run;
        j += 1;
        z += usize::from(run);
        if i32::from(run) == last {
            let mut copy = b.u8()?;
            z += usize::from(run) * usize::from(copy);
            while copy > 0 && z <= size && j < 1024 {
                runs[j] = run;
                j += 1;
                copy -= 1;
            }
        }
        if j >= 1024 {
            return Err(RansError::BadFrequencies);
        }
        last = i32::from(run);
    }
    let r_max = j;
    let (mut i, mut j, mut z) = (0u32, 0usize, 0usize);
    while j < size {
        if z >= r_max {
            return Err(RansError::BadFrequencies);
        }
        let mut run_len = 0usize;
        let mut part;
        loop {
            part = runs[z];
            z += 1;
            run_len += usize::from(part);
            if part != 255 || z >= r_max {
                break;
            }
        }
        if part == 255 {
            return Err(RansError::BadFrequencies);
        }
        while run_len > 0 && j < size {
            array[j] = i;
            j += 1;
            run_len -= 1;
        }
        i += 1;
    }
    Ok(())
}
