//! SAM text for records, exactly as `samtools view` prints them.

use rawarrow_kernels::{cigar, qual, seq};

use crate::bam::header::Header;
use crate::bam::record::aux;
use crate::bam::record::tagtext;
use crate::bam::record::Record;

fn push_int(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn push_ref(id: i32, header: &Header, out: &mut Vec<u8>) {
    match usize::try_from(id) {
        Ok(i) => out.extend_from_slice(header.reference_name_bytes(i)),
        Err(_) => out.push(b'*'),
    }
}

/// Grows `out` by `n` bytes and returns them for a kernel to fill.
fn grow(out: &mut Vec<u8>, n: usize) -> &mut [u8] {
    let at = out.len();
    out.resize(at + n, 0);
    &mut out[at..]
}

/// Appends the SAM text of `r`: the 11 mandatory fields and the tags, tab-separated, and a
/// newline. Qualities above 93 are written as samtools writes them, the byte q + 33 (wrapping);
/// only the Arrow `qual` column caps them at `~`.
pub fn push_record(r: &Record<'_>, header: &Header, out: &mut Vec<u8>) {
    push_mandatory(r, header, out);
    for f in r.tags() {
        out.push(b'\t');
        aux::push_sam(&f, out);
    }
    out.push(b'\n');
}

/// [`push_record`] for a record parsed without checking its aux fields
/// ([`Record::parse_with`]): they are checked as they are written, and the first bad one is the
/// error (the line is then incomplete). Behind [`crate::bam::push_sam_checked`].
pub(crate) fn push_record_checked(
    r: &Record<'_>,
    header: &Header,
    out: &mut Vec<u8>,
) -> Result<(), crate::bam::RecordError> {
    push_mandatory(r, header, out);
    if !r.aux().is_empty() {
        let at = out.len();
        out.resize(at + 1 + tagtext::room_for(r.aux().len()), 0);
        out[at] = b'\t';
        let n = tagtext::render(r.aux(), r.cg_range(), false, &mut out[at + 1..]);
        // Nothing at all when only the CG tag was there (it is not printed).
        out.truncate(match n {
            Ok(0) | Err(_) => at,
            Ok(n) => at + 1 + n,
        });
        n?;
    }
    out.push(b'\n');
    Ok(())
}

/// The 11 mandatory fields, tab-separated.
fn push_mandatory(r: &Record<'_>, header: &Header, out: &mut Vec<u8>) {
    out.extend_from_slice(r.name());
    out.push(b'\t');
    push_int(i64::from(r.flag()), out);
    out.push(b'\t');
    push_ref(r.ref_id(), header, out);
    out.push(b'\t');
    push_int(i64::from(r.pos()) + 1, out);
    out.push(b'\t');
    push_int(i64::from(r.mapq()), out);
    out.push(b'\t');
    let ops = r.cigar_raw();
    if ops.is_empty() {
        out.push(b'*');
    } else {
        let buf = grow(out, ops.len() / 4 * cigar::MAX_TEXT_PER_OP);
        let n = cigar::to_text(ops, buf).text_len;
        let keep = out.len() - (ops.len() / 4 * cigar::MAX_TEXT_PER_OP - n);
        out.truncate(keep);
    }
    out.push(b'\t');
    if r.next_ref_id() < 0 {
        out.push(b'*');
    } else if r.next_ref_id() == r.ref_id() {
        out.push(b'=');
    } else {
        push_ref(r.next_ref_id(), header, out);
    }
    out.push(b'\t');
    push_int(i64::from(r.next_pos()) + 1, out);
    out.push(b'\t');
    push_int(i64::from(r.tlen()), out);
    out.push(b'\t');
    let n = r.seq_len();
    if n == 0 {
        out.extend_from_slice(b"*\t*");
    } else {
        seq::decode(r.seq_packed(), grow(out, n));
        out.push(b'\t');
        let raw = r.qual_raw();
        if raw[0] == 0xff {
            out.push(b'*');
        } else {
            let text = grow(out, n);
            if let qual::Qual::Present { saturated: true } = qual::encode(raw, text) {
                // samtools prints every quality as the byte q + 33 (wrapping), printable or not.
                for (t, &q) in text.iter_mut().zip(raw) {
                    *t = q.wrapping_add(33);
                }
            }
        }
    }
}
