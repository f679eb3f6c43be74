//! A slice's records resolved and written out: mates within the slice (htslib's
//! `cram_decode_slice_xref`), then each record as BAM bytes (htslib's `cram_to_bam` and
//! `bam_set1`: names, bins, the RG tag last).

use super::container::SliceHeader;
use super::decoded::*;
use super::error::Cause;
use super::Context;

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

/// The 4-bit code of a base, as the `seq_nt16_table` of htslib 1.16 (the samtools the tests
/// compare with): `U` is not one of BAM's sixteen codes and becomes `N` (later htslib reads
/// it as `T`).
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
        b'T' | b't' => 8,
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
