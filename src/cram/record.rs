//! CRAM records: each decoded from the data series (as htslib's `cram_decode_slice` reads
//! them), its bases and CIGAR rebuilt from read features and the reference (with MD and NM
//! regenerated where htslib regenerates them), mates resolved within the slice, and written
//! out as a BAM record.

use super::compression::CompressionHeader;
use super::error::Cause;
use super::series::{Array, Blocks, Series};
use super::slice::SliceHeader;
use super::Context;

/// The reference bases a slice's records are read against: `bases[i]` is 0-based position
/// `lo + i`; htslib's slice extent ends (exclusive) at `end`; `len` is the sequence's length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefView<'a> {
    pub(crate) bases: &'a [u8],
    pub(crate) lo: i64,
    pub(crate) end: i64,
    pub(crate) len: i64,
}

impl RefView<'_> {
    #[inline]
    fn at(&self, pos: i64) -> Result<u8, Cause> {
        usize::try_from(pos - self.lo)
            .ok()
            .and_then(|i| self.bases.get(i).copied())
            .ok_or_else(beyond)
    }

    fn range(&self, pos: i64, n: i64) -> Result<&[u8], Cause> {
        let a = usize::try_from(pos - self.lo).map_err(|_| beyond())?;
        let n = usize::try_from(n).map_err(|_| beyond())?;
        self.bases.get(a..a + n).ok_or_else(beyond)
    }
}

fn beyond() -> Cause {
    Cause::Record("a record's alignment extends beyond the slice's reference extent".into())
}

fn bad(what: &str) -> Cause {
    Cause::Record(what.to_string())
}

/// A decoded record, its variable-length parts in the slice's [`Buffers`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Rec {
    flags: u32,
    ref_id: i32,
    len: usize,
    /// 1-based position and alignment end (inclusive).
    apos: i64,
    aend: i64,
    rg: i32,
    name: (usize, usize),
    mate_flags: i32,
    mate_ref: i32,
    mate_pos: i64,
    tlen: i64,
    mate_line: i64,
    /// A template length stored for a record whose mate is in the slice (CF 0x10), which
    /// replaces the computed one.
    explicit_tlen: i64,
    mapq: u8,
    seq: usize,
    qual: usize,
    cigar: (usize, usize),
    aux: (usize, usize),
}

/// The slice's names, bases, qualities, CIGAR operations and aux bytes.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    names: Vec<u8>,
    seq: Vec<u8>,
    qual: Vec<u8>,
    cigar: Vec<u32>,
    aux: Vec<u8>,
    scratch: Vec<u8>,
}

const UNSET: i64 = i64::MIN;
const BAM_FPAIRED: u32 = 0x1;
const BAM_FUNMAP: u32 = 0x4;
const BAM_FMUNMAP: u32 = 0x8;
const BAM_FREVERSE: u32 = 0x10;
const BAM_FMREVERSE: u32 = 0x20;
const BAM_FREAD1: u32 = 0x40;
const CF_QUAL: u32 = 0x1;
const CF_DETACHED: u32 = 0x2;
const CF_DOWNSTREAM: u32 = 0x4;
const CF_NO_SEQ: u32 = 0x8;
const CF_EXPLICIT_TLEN: u32 = 0x10;

const M: u32 = 0;
const I: u32 = 1;
const D: u32 = 2;
const N: u32 = 3;
const S: u32 = 4;
const H: u32 = 5;
const P: u32 = 6;

/// What decodes a slice's records.
pub(crate) struct Decoder<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) comp: &'a CompressionHeader,
    pub(crate) series: &'a Series,
    pub(crate) slice: &'a SliceHeader,
    pub(crate) reference: Option<RefView<'a>>,
    /// For a multi-reference slice whose bases need the reference: each sequence read whole
    /// from the reference file when a record first needs it (as htslib does).
    pub(crate) multi:
        Option<std::cell::RefCell<std::collections::HashMap<i32, std::sync::Arc<Vec<u8>>>>>,
}

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

fn push_uint(out: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

impl Decoder<'_> {
    pub(crate) fn records(
        &self,
        b: &mut Blocks<'_>,
        recs: &mut Vec<Rec>,
        bufs: &mut Buffers,
    ) -> Result<(), Cause> {
        recs.clear();
        bufs.names.clear();
        bufs.seq.clear();
        bufs.qual.clear();
        bufs.cigar.clear();
        bufs.aux.clear();
        let mut last_apos = self.slice.start;
        for rec in 0..self.slice.records {
            self.record(b, rec, &mut last_apos, recs, bufs)
                .map_err(|c| Cause::AtRecord(rec, Box::new(c)))?;
        }
        Ok(())
    }

    /// Decodes record `rec` of the slice.
    fn record(
        &self,
        b: &mut Blocks<'_>,
        rec: usize,
        last_apos: &mut i64,
        recs: &mut Vec<Rec>,
        bufs: &mut Buffers,
    ) -> Result<(), Cause> {
        let n_refs = self.ctx.header.references.len() as i32;
        let unknown_rg = self.ctx.unknown_rg;
        let s = self.series;
        {
            let bf = s.bf.int(b)? as u32;
            let cf = s.cf.int(b)? as u32;
            let ref_id = if self.slice.reference == -2 {
                s.ri.int(b)?
            } else {
                self.slice.reference
            };
            if ref_id < -1 || ref_id >= n_refs {
                return Err(bad(&format!(
                    "a record's reference id {ref_id} is not in the header"
                )));
            }
            let len = s.rl.int(b)?;
            let len =
                usize::try_from(len).map_err(|_| bad("a record's read length is negative"))?;
            if len > 1 << 28 {
                return Err(Cause::TooLarge("read length", len as u64));
            }
            let mut apos = i64::from(s.ap.int(b)?);
            if self.comp.delta_positions {
                apos += *last_apos;
            }
            *last_apos = apos;
            let mut rg = s.rg.int(b)?;
            if rg == unknown_rg {
                rg = -1;
            }
            let mut r = Rec {
                flags: bf,
                ref_id,
                len,
                apos,
                rg,
                mate_ref: -1,
                tlen: UNSET,
                mate_line: -1,
                explicit_tlen: UNSET,
                ..Rec::default()
            };
            if self.comp.read_names {
                r.name = read_name(&s.rn, b, &mut bufs.names)?;
            }
            let mut explicit_tlen = UNSET;
            if cf & CF_DETACHED != 0 {
                r.mate_flags = s.mf.int(b)?;
                if !self.comp.read_names {
                    r.name = read_name(&s.rn, b, &mut bufs.names)?;
                }
                r.mate_ref = s.ns.int(b)?;
                r.mate_pos = s.np.int(b)?.into();
                r.tlen = s.ts.int(b)?.into();
            } else if cf & CF_DOWNSTREAM != 0 {
                r.mate_line = i64::from(s.nf.int(b)?) + rec as i64 + 1;
                if cf & CF_EXPLICIT_TLEN != 0 {
                    explicit_tlen = s.ts.int(b)?.into();
                }
            } else if cf & CF_EXPLICIT_TLEN != 0 {
                explicit_tlen = s.ts.int(b)?.into();
            }
            // Tags, in the order of the record's tag line.
            let (has_md, has_nm) = self.tags(b, &mut r, bufs)?;
            // Bases and qualities.
            r.seq = bufs.seq.len();
            r.qual = bufs.qual.len();
            let fill = if self.reference.is_some() { b'N' } else { b'=' };
            bufs.seq.resize(r.seq + len, fill);
            bufs.qual.resize(r.qual + len, 0xff);
            if bf & BAM_FUNMAP == 0 {
                if apos <= 0 {
                    return Err(bad(&format!(
                        "a record has alignment position {apos} but no unmapped flag"
                    )));
                }
                let whole;
                let refv = match &self.multi {
                    Some(cache) if ref_id >= 0 => {
                        whole = self.whole_reference(cache, ref_id)?;
                        Some(RefView {
                            bases: &whole,
                            lo: 0,
                            end: whole.len() as i64,
                            len: self.ctx.header.references[ref_id as usize].1 as i64,
                        })
                    }
                    _ => self.reference.filter(|_| ref_id >= 0),
                };
                self.sequence(b, &mut r, cf, bufs, has_md, has_nm, refv)?;
            } else {
                r.aend = r.apos;
                r.mapq = 0;
                r.cigar = (bufs.cigar.len(), bufs.cigar.len());
                if len > 0 {
                    let at = r.seq;
                    bufs.scratch.clear();
                    s.ba.bytes(b, len, &mut bufs.scratch)?;
                    bufs.seq[at..at + len].copy_from_slice(&bufs.scratch);
                }
                if cf & CF_QUAL != 0 {
                    bufs.scratch.clear();
                    s.qs.bytes(b, len, &mut bufs.scratch)?;
                    bufs.qual[r.qual..r.qual + len].copy_from_slice(&bufs.scratch);
                }
                r.aux.1 = bufs.aux.len();
            }
            r.explicit_tlen = explicit_tlen;
            recs.push(r);
        }
        Ok(())
    }

    /// Sequence `ref_id` of the reference, whole, loaded once per slice.
    fn whole_reference(
        &self,
        cache: &std::cell::RefCell<std::collections::HashMap<i32, std::sync::Arc<Vec<u8>>>>,
        ref_id: i32,
    ) -> Result<std::sync::Arc<Vec<u8>>, Cause> {
        if let Some(v) = cache.borrow().get(&ref_id) {
            return Ok(v.clone());
        }
        let (name, len) = &self.ctx.header.references[ref_id as usize];
        let mut bases = Vec::new();
        self.ctx.reference(name, 0, *len, &[0; 16], &mut bases)?;
        let bases = std::sync::Arc::new(bases);
        cache.borrow_mut().insert(ref_id, bases.clone());
        Ok(bases)
    }

    /// Appends the record's tags (its tag line's, each through its encoding); returns whether
    /// MD and NM were among them (or are not to be generated).
    fn tags(
        &self,
        b: &mut Blocks<'_>,
        r: &mut Rec,
        bufs: &mut Buffers,
    ) -> Result<(bool, bool), Cause> {
        let tl = self.series.tl.int(b)?;
        let line = usize::try_from(tl)
            .ok()
            .and_then(|i| self.comp.tag_lines.get(i))
            .ok_or_else(|| {
                bad(&format!(
                    "a record's tag line {tl} is not in the tag dictionary"
                ))
            })?;
        let start = bufs.aux.len();
        let (mut has_md, mut has_nm) = (false, false);
        for t in line {
            if t[0] == b'M' && t[1] == b'D' {
                has_md = true;
            }
            if t[0] == b'N' && t[1] == b'M' {
                has_nm = true;
            }
            let key = (i32::from(t[0]) << 16) | (i32::from(t[1]) << 8) | i32::from(t[2]);
            let enc = self.series.tags.get(&key).ok_or_else(|| {
                Cause::NoEncoding(format!(
                    "tag {}{}:{}",
                    t[0] as char, t[1] as char, t[2] as char
                ))
            })?;
            let at = bufs.aux.len();
            bufs.aux.extend_from_slice(t);
            let n = enc.read(b, &mut bufs.aux)?;
            if t == b"cFC" && n == 1 {
                // htslib's flag tag: 1 = MD was absent, 2 = NM was absent (not to be generated).
                let cf = bufs.aux[at + 3];
                bufs.aux.truncate(at);
                has_md |= cf & 1 != 0;
                has_nm |= cf & 2 != 0;
            }
        }
        r.aux = (start, bufs.aux.len());
        Ok((has_md, has_nm))
    }

    /// A mapped record's features, bases, CIGAR, mapping quality and qualities (htslib's
    /// `cram_decode_seq`), and MD/NM where they are generated.
    #[allow(clippy::too_many_arguments)]
    fn sequence(
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
                        if decode_md || decode_nm {
                            for (i, &base) in bases.iter().enumerate() {
                                if base == b'N' {
                                    if decode_md {
                                        push_uint(aux, md_dist);
                                        aux.push(b'N');
                                        md_dist = 0;
                                    }
                                    nm += 1;
                                } else {
                                    md_dist += 1;
                                }
                                seq[at + i] = base;
                            }
                        } else {
                            seq[at..at + gap as usize].copy_from_slice(bases);
                        }
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
                    if (decode_md || decode_nm) && bases.contains(&b'N') {
                        for (i, &base) in bases.iter().enumerate() {
                            if base == b'N' {
                                if decode_md {
                                    push_uint(aux, md_dist);
                                    aux.push(b'N');
                                    md_dist = 0;
                                }
                                nm += 1;
                            } else {
                                md_dist += 1;
                            }
                            seq[at + i] = base;
                        }
                    } else {
                        seq[at..at + rest as usize].copy_from_slice(bases);
                        if decode_md || decode_nm {
                            md_dist += rest;
                        }
                    }
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

fn read_name(rn: &Array, b: &mut Blocks<'_>, names: &mut Vec<u8>) -> Result<(usize, usize), Cause> {
    let start = names.len();
    rn.read(b, names)?;
    // A name stored with its NUL (byte-array-len codings) ends there.
    if let Some(z) = memchr::memchr(0, &names[start..]) {
        names.truncate(start + z);
    }
    Ok((start, names.len()))
}

/// Mates within the slice (htslib's `cram_decode_slice_xref`): pairs and their template
/// lengths, mate positions and mate flags.
pub(crate) fn resolve_mates(recs: &mut [Rec]) -> Result<(), Cause> {
    let n = recs.len() as i64;
    for rec in 0..recs.len() {
        if recs[rec].mate_line >= 0 {
            if recs[rec].mate_line >= n {
                return Err(bad(&format!(
                    "a record's mate line {} is outside its slice",
                    recs[rec].mate_line
                )));
            }
            if recs[rec].tlen == UNSET {
                let (id1, mut id2) = (rec, rec);
                let (mut aleft, mut aright) = (recs[rec].apos, recs[rec].aend);
                let mut reference = recs[rec].ref_id;
                let mut left_cnt = 0;
                let mut steps = 0;
                loop {
                    let c = &recs[id2];
                    if aleft > c.apos {
                        aleft = c.apos;
                        left_cnt = 1;
                    } else if aleft == c.apos {
                        left_cnt += 1;
                    }
                    aright = aright.max(c.aend);
                    if c.mate_line == -1 {
                        recs[id2].mate_line = rec as i64;
                        break;
                    }
                    if c.mate_line <= id2 as i64 || c.mate_line >= n {
                        return Err(bad("a record's mate chain does not go forward"));
                    }
                    id2 = c.mate_line as usize;
                    if recs[id2].ref_id != reference {
                        reference = -1;
                    }
                    steps += 1;
                    if id2 == id1 || steps > recs.len() {
                        break;
                    }
                }
                let tlen = aright - aleft + 1;
                let mut id = id1;
                loop {
                    let c = &mut recs[id];
                    c.tlen = if reference == -1 {
                        0
                    } else if c.apos == aleft && (left_cnt == 1 || c.flags & BAM_FREAD1 != 0) {
                        tlen
                    } else {
                        -tlen
                    };
                    id = c.mate_line as usize;
                    if id == id1 {
                        break;
                    }
                }
            }
            let m = recs[rec].mate_line as usize;
            let (mpos, mref, mflags) = (recs[m].apos, recs[m].ref_id, recs[m].flags);
            let c = &mut recs[rec];
            c.mate_pos = mpos;
            c.mate_ref = mref;
            c.flags |= BAM_FPAIRED;
            if mflags & BAM_FUNMAP != 0 {
                c.flags |= BAM_FMUNMAP;
                c.tlen = 0;
            }
            if c.flags & BAM_FUNMAP != 0 {
                c.tlen = 0;
            }
            if mflags & BAM_FREVERSE != 0 {
                c.flags |= BAM_FMREVERSE;
            }
        } else {
            let c = &mut recs[rec];
            if c.mate_flags & 1 != 0 {
                c.flags |= BAM_FPAIRED | BAM_FMREVERSE;
            }
            if c.mate_flags & 2 != 0 {
                c.flags |= BAM_FMUNMAP;
            }
            if c.flags & BAM_FPAIRED == 0 {
                c.mate_ref = -1;
            }
        }
        if recs[rec].tlen == UNSET {
            recs[rec].tlen = 0;
        }
    }
    for r in recs.iter_mut().filter(|r| r.explicit_tlen != UNSET) {
        r.tlen = r.explicit_tlen;
    }
    Ok(())
}

/// The BAM bin of `[beg, end)` (0-based), as `hts_reg2bin(beg, end, 14, 5)`.
fn reg2bin(beg: i64, end: i64) -> u16 {
    let end = end - 1;
    let mut s = 14;
    let mut t = ((1i64 << 15) - 1) / 7;
    for l in (1..=5).rev() {
        if beg >> s == end >> s {
            return (t + (beg >> s)) as u16;
        }
        s += 3;
        t -= 1 << (3 * (l - 1));
    }
    0
}

/// The 4-bit code of a base, as htslib's `seq_nt16_table`.
fn nt16(b: u8) -> u8 {
    match b {
        b'=' => 0,
        b'A' | b'a' => 1,
        b'C' | b'c' => 2,
        b'M' | b'm' => 3,
        b'G' | b'g' => 4,
        b'R' | b'r' => 5,
        b'S' | b's' => 6,
        b'V' | b'v' => 7,
        b'T' | b't' | b'U' | b'u' => 8,
        b'W' | b'w' => 9,
        b'Y' | b'y' => 10,
        b'H' | b'h' => 11,
        b'K' | b'k' => 12,
        b'D' | b'd' => 13,
        b'B' | b'b' => 14,
        _ => 15,
    }
}

/// Writes the slice's records as BAM records (`block_size` first) to `out`.
pub(crate) fn write_bam(
    ctx: &Context,
    sh: &SliceHeader,
    recs: &[Rec],
    bufs: &Buffers,
    out: &mut Vec<u8>,
) -> Result<(), Cause> {
    let mut generated = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        // The name: stored, the mate's, or generated from the file name and record counter.
        let name: &[u8] = if r.name.1 > r.name.0 {
            &bufs.names[r.name.0..r.name.1]
        } else {
            let ml = r.mate_line;
            if ml >= 0
                && (ml as usize) < recs.len()
                && recs[ml as usize].name.1 > recs[ml as usize].name.0
            {
                let m = &recs[ml as usize];
                &bufs.names[m.name.0..m.name.1]
            } else {
                generated.clear();
                generated.extend_from_slice(ctx.prefix.as_bytes());
                generated.push(b':');
                let k = if ml >= 0 && (ml as usize) < i {
                    ml
                } else {
                    i as i64
                };
                push_uint(&mut generated, sh.counter + k + 1);
                &generated
            }
        };
        if name.len() > 254 {
            return Err(bad("a read name longer than 254 bytes"));
        }
        let cigar = &bufs.cigar[r.cigar.0..r.cigar.1];
        if cigar.len() > 0xffff {
            return Err(Cause::TooLarge("CIGAR operation count", cigar.len() as u64));
        }
        let mut rlen: i64 = 0;
        if r.flags & BAM_FUNMAP == 0 {
            for &c in cigar {
                if matches!(c & 0xf, 0 | 2 | 3 | 7 | 8) {
                    rlen += i64::from(c >> 4);
                }
            }
        }
        let rlen = if rlen == 0 { 1 } else { rlen };
        let pos = r.apos - 1;
        let aux = &bufs.aux[r.aux.0..r.aux.1];
        let rg: Option<&[u8]> = if r.rg >= 0 {
            Some(ctx.read_groups.get(r.rg as usize).ok_or_else(|| {
                bad(&format!(
                    "a record's read group {} is not in the header",
                    r.rg
                ))
            })?)
        } else if r.rg < -1 {
            return Err(bad(&format!(
                "a record's read group {} is not in the header",
                r.rg
            )));
        } else {
            None
        };
        let l_seq = r.len;
        let size = 32
            + name.len()
            + 1
            + 4 * cigar.len()
            + l_seq.div_ceil(2)
            + l_seq
            + aux.len()
            + rg.map_or(0, |g| g.len() + 4);
        let size = u32::try_from(size).map_err(|_| Cause::TooLarge("record", size as u64))?;
        let to_i32 = |v: i64, what: &str| {
            i32::try_from(v).map_err(|_| bad(&format!("a record's {what} is out of range")))
        };
        out.reserve(size as usize + 4);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&r.ref_id.to_le_bytes());
        out.extend_from_slice(&to_i32(pos, "position")?.to_le_bytes());
        out.push(name.len() as u8 + 1);
        out.push(r.mapq);
        out.extend_from_slice(&reg2bin(pos, pos + rlen).to_le_bytes());
        out.extend_from_slice(&(cigar.len() as u16).to_le_bytes());
        out.extend_from_slice(&(r.flags as u16).to_le_bytes());
        out.extend_from_slice(&(l_seq as u32).to_le_bytes());
        out.extend_from_slice(&r.mate_ref.to_le_bytes());
        out.extend_from_slice(&to_i32(r.mate_pos - 1, "mate position")?.to_le_bytes());
        out.extend_from_slice(&to_i32(r.tlen, "template length")?.to_le_bytes());
        out.extend_from_slice(name);
        out.push(0);
        for &c in cigar {
            out.extend_from_slice(&c.to_le_bytes());
        }
        let seq = &bufs.seq[r.seq..r.seq + l_seq];
        for pair in seq.chunks(2) {
            let hi = nt16(pair[0]) << 4;
            let lo = pair.get(1).map_or(0, |&b| nt16(b));
            out.push(hi | lo);
        }
        out.extend_from_slice(&bufs.qual[r.qual..r.qual + l_seq]);
        out.extend_from_slice(aux);
        if let Some(g) = rg {
            out.extend_from_slice(b"RGZ");
            out.extend_from_slice(g);
            out.push(0);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_as_htslib() {
        assert_eq!(reg2bin(-1, 0), 4680);
        assert_eq!(reg2bin(0, 1), 4681);
        assert_eq!(reg2bin(16383, 16385), 585);
        assert_eq!(reg2bin(0, 1 << 29), 0);
    }
}
