//! A mapped record's read features turned into its bases, CIGAR and qualities against the
//! reference, with MD and NM regenerated where htslib regenerates them (htslib's
//! `cram_decode_seq`, step for step: the same CIGAR merging, the same MD text, the same NM).

use super::decoded::*;
use super::error::Cause;
use super::series::{Array, Blocks};

/// The reference's index of a base (A, C, G, T; anything else is N).
#[inline]
fn base_code(b: u8) -> usize {
    match b {
        b'A' | b'a' => 0,
        b'C' | b'c' => 1,
        b'G' | b'g' => 2,
        b'T' | b't' => 3,
        _ => 4,
    }
}

impl Decoder<'_> {
    /// A mapped record's features, bases, CIGAR, mapping quality and qualities (htslib's
    /// `cram_decode_seq`), and MD/NM where they are generated.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sequence(
        &self,
        b: &mut Blocks<'_>,
        r: &mut Rec,
        cf: u32,
        bufs: &mut Buffers,
        has_md: bool,
        has_nm: bool,
        refv: Option<RefView<'_>>,
    ) -> Result<(), Cause> {
        let s = self.series;
        let len = r.len as i64;
        let mut decode_md = refv.is_some() && !has_md;
        let mut decode_nm = refv.is_some() && !has_nm;
        if cf & CF_NO_SEQ != 0 {
            decode_md = false;
            decode_nm = false;
        }
        let (seq0, qual0) = (r.seq, r.qual);
        let Buffers {
            seq,
            qual,
            cigar,
            aux,
            scratch,
            ..
        } = bufs;
        if decode_md {
            aux.extend_from_slice(b"MDZ");
        }
        let cigar0 = cigar.len();
        let mut nm: i64 = 0;
        let mut md_dist: i64 = 0;
        let mut seq_pos: i64 = 1;
        let mut ref_pos: i64 = r.apos - 1;
        let mut prev_pos: i64 = 0;
        let (mut cig_op, mut cig_len) = (M, 0i64);
        let push = |cigar: &mut Vec<u32>, l: i64, op: u32| -> Result<(), Cause> {
            let l = u32::try_from(l)
                .ok()
                .filter(|&l| l < 1 << 28)
                .ok_or_else(|| bad("a CIGAR operation's length is out of range"))?;
            cigar.push((l << 4) | op);
            Ok(())
        };
        let fn_ = s.fn_.int(b)?;
        for _ in 0..fn_.max(0) {
            let op = s.fc.byte(b)?;
            let mut pos = i64::from(s.fp.int(b)?);
            pos += prev_pos;
            if pos <= 0 {
                return Err(bad(&format!(
                    "a read feature at position {pos}, before the read's start"
                )));
            }
            if pos > seq_pos {
                if pos > len + 1 {
                    return Err(bad("a read feature lies past the read's end"));
                }
                let gap = pos - seq_pos;
                let at = seq0 + (seq_pos - 1) as usize;
                if let Some(rf) = refv {
                    if ref_pos + gap > rf.len {
                        let rlen = rf.len - ref_pos;
                        if rlen > 0 {
                            if ref_pos + rlen > rf.end {
                                return Err(beyond());
                            }
                            seq[at..at + rlen as usize].copy_from_slice(rf.range(ref_pos, rlen)?);
                            if gap - rlen > 0 {
                                seq[at + rlen as usize..at + gap as usize].fill(b'N');
                            }
                        } else {
                            seq[at..seq0 + r.len].fill(b'N');
                        }
                        if md_dist >= 0 {
                            md_dist += gap;
                        }
                    } else {
                        if ref_pos + gap > rf.end {
                            return Err(beyond());
                        }
                        let bases = rf.range(ref_pos, gap)?;
                        let dst = &mut seq[at..at + gap as usize];
                        let md = decode_md.then_some(&mut *aux);
                        matched(bases, dst, md, decode_nm, &mut md_dist, &mut nm);
                    }
                }
                if cig_len > 0 && cig_op != M {
                    push(cigar, cig_len, cig_op)?;
                    cig_len = 0;
                }
                cig_op = M;
                cig_len += gap;
                ref_pos += gap;
                seq_pos = pos;
            }
            prev_pos = pos;
            let at = seq0 + (pos - 1) as usize;
            let in_read = pos - 1 < len;
            match op {
                b'S' => {
                    if cig_len > 0 {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    scratch.clear();
                    let n = match &s.sc {
                        Array::Absent(_) => {
                            scratch.push(b'N');
                            1
                        }
                        a => a.read(b, scratch)?,
                    };
                    copy_into(seq, at, seq0 + r.len, scratch, r.len)?;
                    push(cigar, n as i64, S)?;
                    cig_op = S;
                    seq_pos += n as i64;
                }
                b'X' => {
                    if cig_len > 0 && cig_op != M {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    let code = usize::from(s.bs.byte(b)?);
                    if code > 3 {
                        return Err(bad("a substitution code above 3"));
                    }
                    match refv.filter(|rf| ref_pos < rf.len) {
                        None => {
                            if in_read {
                                seq[at] = self.comp.substitutions[4][code];
                            }
                            if decode_md || decode_nm {
                                if md_dist >= 0 && decode_md {
                                    push_uint(aux, md_dist);
                                }
                                md_dist = -1;
                                nm -= 1;
                            }
                        }
                        Some(rf) => {
                            let ref_call = if ref_pos < rf.end {
                                rf.at(ref_pos)?
                            } else {
                                b'N'
                            };
                            if in_read {
                                seq[at] = self.comp.substitutions[base_code(ref_call)][code];
                            }
                            if decode_md {
                                push_uint(aux, md_dist);
                                aux.push(ref_call);
                                md_dist = 0;
                            }
                        }
                    }
                    cig_op = M;
                    nm += 1;
                    cig_len += 1;
                    seq_pos += 1;
                    ref_pos += 1;
                }
                b'D' => {
                    if cig_len > 0 && cig_op != D {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    let n = i64::from(s.dl.int(b)?);
                    if n < 0 {
                        return Err(bad("a negative deletion length"));
                    }
                    if decode_md || decode_nm {
                        let rf = refv.expect("MD/NM are generated only with a reference");
                        if ref_pos + n > rf.end {
                            return Err(beyond());
                        }
                        if md_dist >= 0 && decode_md {
                            push_uint(aux, md_dist);
                        }
                        if ref_pos + n <= rf.len {
                            if decode_md {
                                aux.push(b'^');
                                aux.extend_from_slice(rf.range(ref_pos, n)?);
                                md_dist = 0;
                            }
                            nm += n;
                        } else {
                            if rf.len >= ref_pos {
                                if decode_md {
                                    aux.push(b'^');
                                    aux.extend_from_slice(rf.range(ref_pos, rf.len - ref_pos)?);
                                    aux.push(b'0');
                                }
                                nm += rf.len - ref_pos;
                            }
                            md_dist = -1;
                        }
                    }
                    cig_op = D;
                    cig_len += n;
                    ref_pos += n;
                }
                b'I' => {
                    if cig_len > 0 && cig_op != I {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    scratch.clear();
                    let n = s.in_.read(b, scratch)? as i64;
                    copy_into(seq, at, seq0 + r.len, scratch, r.len)?;
                    cig_op = I;
                    cig_len += n;
                    seq_pos += n;
                    nm += n;
                }
                b'i' => {
                    if cig_len > 0 && cig_op != I {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    let base = s.ba.byte(b)?;
                    if r.len > 0 {
                        *seq.get_mut(at)
                            .filter(|_| in_read)
                            .ok_or_else(|| bad("a read feature lies past the read's end"))? = base;
                    }
                    cig_op = I;
                    cig_len += 1;
                    seq_pos += 1;
                    nm += 1;
                }
                b'b' => {
                    if cig_len > 0 && cig_op != M {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    scratch.clear();
                    let n = s.bb.read(b, scratch)? as i64;
                    copy_into(seq, at, seq0 + r.len, scratch, r.len)?;
                    if decode_md || decode_nm {
                        let rf = refv.expect("MD/NM are generated only with a reference");
                        if md_dist >= 0 && decode_md {
                            push_uint(aux, md_dist);
                        }
                        let mut x = 0;
                        while x < n {
                            if x > 0 && decode_md {
                                aux.push(b'0');
                            }
                            if ref_pos + x >= rf.len {
                                // (htslib marks the distance unknown here, then resets it
                                // to 0 below all the same.)
                                break;
                            }
                            if decode_md {
                                aux.push(rf.at(ref_pos + x)?);
                            }
                            x += 1;
                        }
                        nm += x;
                        md_dist = 0;
                    }
                    cig_op = M;
                    cig_len += n;
                    seq_pos += n;
                    ref_pos += n;
                }
                b'q' => {
                    if cig_len > 0 && cig_op != M {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    if cf & CF_QUAL == 0 && r.len > 0 && qual[qual0] == 0xff {
                        qual[qual0..qual0 + r.len].fill(30);
                    }
                    scratch.clear();
                    s.qq.read(b, scratch)?;
                    copy_into(
                        qual,
                        qual0 + (pos - 1) as usize,
                        qual0 + r.len,
                        scratch,
                        r.len,
                    )?;
                    cig_op = M;
                }
                b'B' => {
                    if cig_len > 0 && cig_op != M {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    let base = s.ba.byte(b)?;
                    if r.len > 0 {
                        *seq.get_mut(at)
                            .filter(|_| in_read)
                            .ok_or_else(|| bad("a read feature lies past the read's end"))? = base;
                    }
                    if decode_md || decode_nm {
                        let rf = refv.expect("MD/NM are generated only with a reference");
                        if md_dist >= 0 && decode_md {
                            push_uint(aux, md_dist);
                        }
                        if ref_pos >= rf.len {
                            md_dist = -1;
                        } else {
                            if decode_md {
                                aux.push(rf.at(ref_pos)?);
                            }
                            nm += 1;
                            md_dist = 0;
                        }
                    }
                    let q = s.qs.byte(b)?;
                    set_qual(qual, qual0, r.len, pos, cf, q)?;
                    cig_op = M;
                    cig_len += 1;
                    seq_pos += 1;
                    ref_pos += 1;
                }
                b'Q' => {
                    let q = s.qs.byte(b)?;
                    set_qual(qual, qual0, r.len, pos, cf, q)?;
                }
                b'H' | b'P' | b'N' => {
                    let (code, series) = match op {
                        b'H' => (H, &s.hc),
                        b'P' => (P, &s.pd),
                        _ => (N, &s.rs),
                    };
                    if cig_len > 0 && cig_op != code {
                        push(cigar, cig_len, cig_op)?;
                        cig_len = 0;
                    }
                    let n = i64::from(series.int(b)?);
                    if n < 0 {
                        return Err(bad("a negative CIGAR length in a read feature"));
                    }
                    cig_op = code;
                    cig_len += n;
                    if code == N {
                        ref_pos += n;
                    }
                }
                other => {
                    return Err(bad(&format!(
                        "unknown read feature code {:?}",
                        other as char
                    )));
                }
            }
        }
        // The bases after the last feature match the reference.
        if len >= seq_pos {
            let rest = len - seq_pos + 1;
            let at = seq0 + (seq_pos - 1) as usize;
            if let Some(rf) = refv {
                if ref_pos + rest > rf.len {
                    let rlen = rf.len - ref_pos;
                    if rlen > 0 {
                        if seq_pos - 1 + rlen < len {
                            seq[at..at + rlen as usize].copy_from_slice(rf.range(ref_pos, rlen)?);
                        }
                        if rest - rlen > 0 {
                            seq[at + rlen as usize..at + rest as usize].fill(b'N');
                        }
                    } else {
                        seq[at..at + rest as usize].fill(b'N');
                    }
                    if md_dist >= 0 {
                        md_dist += rest;
                    }
                } else {
                    if ref_pos + rest > rf.end {
                        return Err(beyond());
                    }
                    let bases = rf.range(ref_pos, rest)?;
                    let dst = &mut seq[at..at + rest as usize];
                    let md = decode_md.then_some(&mut *aux);
                    matched(bases, dst, md, decode_nm, &mut md_dist, &mut nm);
                    ref_pos += rest;
                }
            } else if r.ref_id >= 0 {
                ref_pos += rest;
            }
            if cig_len > 0 && cig_op != M {
                push(cigar, cig_len, cig_op)?;
                cig_len = 0;
            }
            cig_op = M;
            cig_len += rest;
        }
        if decode_md && md_dist >= 0 {
            push_uint(aux, md_dist);
        }
        if cig_len > 0 {
            push(cigar, cig_len, cig_op)?;
        }
        r.cigar = (cigar0, cigar.len());
        r.aend = ref_pos.max(r.apos);
        r.mapq = s.mq.int(b)? as u8;
        if cf & CF_QUAL != 0 {
            scratch.clear();
            s.qs.bytes(b, r.len, scratch)?;
            qual[qual0..qual0 + r.len].copy_from_slice(scratch);
        }
        if cf & CF_NO_SEQ != 0 {
            r.len = 0;
        }
        if decode_md {
            aux.push(0);
        }
        if decode_nm {
            let nm = nm as u32;
            if nm <= 0xff {
                aux.extend_from_slice(&[b'N', b'M', b'C', nm as u8]);
            } else if nm <= 0xffff {
                aux.extend_from_slice(b"NMS");
                aux.extend_from_slice(&(nm as u16).to_le_bytes());
            } else {
                aux.extend_from_slice(b"NMI");
                aux.extend_from_slice(&nm.to_le_bytes());
            }
        }
        r.aux.1 = aux.len();
        Ok(())
    }
}

/// Read bases that match the reference: copied into the read; for MD and NM (`md`: the aux
/// bytes MD is written to, when it is generated) a reference `N` is a mismatch, as htslib
/// counts it, and any other base extends the current match.
fn matched(
    bases: &[u8],
    dst: &mut [u8],
    md: Option<&mut Vec<u8>>,
    decode_nm: bool,
    md_dist: &mut i64,
    nm: &mut i64,
) {
    dst.copy_from_slice(bases);
    if md.is_none() && !decode_nm {
        return;
    }
    if !bases.contains(&b'N') {
        *md_dist += bases.len() as i64;
        return;
    }
    let mut md = md;
    for &base in bases {
        if base == b'N' {
            if let Some(aux) = md.as_deref_mut() {
                push_uint(aux, *md_dist);
                aux.push(b'N');
                *md_dist = 0;
            }
            *nm += 1;
        } else {
            *md_dist += 1;
        }
    }
}

/// Copies a feature's bytes into the read at `at` (an error when they would run past its end,
/// which htslib does not check).
fn copy_into(dst: &mut [u8], at: usize, end: usize, src: &[u8], len: usize) -> Result<(), Cause> {
    if len == 0 {
        return Ok(());
    }
    if at + src.len() > end {
        return Err(bad("a read feature's bases run past the read's end"));
    }
    dst[at..at + src.len()].copy_from_slice(src);
    Ok(())
}

/// A quality from a read feature; without stored qualities the others become 30 first.
fn set_qual(
    qual: &mut [u8],
    qual0: usize,
    len: usize,
    pos: i64,
    cf: u32,
    q: u8,
) -> Result<(), Cause> {
    if len == 0 {
        return Ok(());
    }
    if cf & CF_QUAL == 0 && qual[qual0] == 0xff {
        qual[qual0..qual0 + len].fill(30);
    }
    let i = (pos - 1) as usize;
    if i >= len {
        return Err(bad("a read feature's quality lies past the read's end"));
    }
    qual[qual0 + i] = q;
    Ok(())
}
