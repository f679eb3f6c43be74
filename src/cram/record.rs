//! CRAM records, each decoded from the data series as htslib's `cram_decode_slice` reads them:
//! fixed fields, mate fields, tags; the bases and CIGAR of mapped records are
//! [`super::features`]'s, mates and BAM bytes [`super::emit`]'s.

use super::decoded::*;
use super::error::Cause;
use super::series::{Array, Blocks};

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

    /// Sequence `ref_id` of the reference, whole (the context's, kept per slice).
    fn whole_reference(
        &self,
        cache: &std::cell::RefCell<std::collections::HashMap<i32, std::sync::Arc<Vec<u8>>>>,
        ref_id: i32,
    ) -> Result<std::sync::Arc<Vec<u8>>, Cause> {
        if let Some(v) = cache.borrow().get(&ref_id) {
            return Ok(v.clone());
        }
        let (name, _) = &self.ctx.header.references[ref_id as usize];
        let bases = self.ctx.sequence(name, &[0; 16])?;
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
}

pub(crate) fn read_name(
    rn: &Array,
    b: &mut Blocks<'_>,
    names: &mut Vec<u8>,
) -> Result<(usize, usize), Cause> {
    let start = names.len();
    rn.read(b, names)?;
    // A name stored with its NUL (byte-array-len codings) ends there.
    if let Some(z) = memchr::memchr(0, &names[start..]) {
        names.truncate(start + z);
    }
    Ok((start, names.len()))
}
