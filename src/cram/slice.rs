//! A slice: its header, its blocks, the reference its bases are differences from, and its
//! records decoded and written out as BAM records.

use std::sync::Arc;

use super::codec::Codecs;
use super::compression::CompressionHeader;
use super::container::{block, content};
use super::container::{slice_header, SliceHeader};
use super::decoded::{Decoder, Rec, RefView};
use super::encoding::Bits;
use super::error::Cause;
use super::series::{Blocks, External, Series};
use super::verify::{span_range, Ahead};
use super::Context;

/// A worker's buffers for decoding slices, reused from slice to slice.
#[derive(Default)]
pub(crate) struct SliceBuffers {
    pub(crate) codecs: Codecs,
    core: Vec<u8>,
    ext: Vec<External>,
    reference: Vec<u8>,
    pub(crate) recs: Vec<Rec>,
    pub(crate) bufs: super::decoded::Buffers,
}

/// Decodes the slice whose header block starts `bytes`, appending its records as BAM records
/// to `out`.
pub(crate) fn decode(
    ctx: &Context,
    comp: &CompressionHeader,
    bytes: &[u8],
    ahead: Ahead<'_>,
    w: &mut SliceBuffers,
    out: &mut Vec<u8>,
) -> Result<(), Cause> {
    let major = ctx.header.major;
    let mut src = bytes;
    let head = block(&mut src, major)?;
    if head.content_type != content::SLICE_HEADER {
        return Err(Cause::Invalid(
            "slice (its first block is not a slice header)",
        ));
    }
    let mut data = Vec::new();
    w.codecs.decompress(&head, &mut data)?;
    let sh = slice_header(&data, major)?;
    // The slice's blocks: the core block and the external ones.
    let mut spare: Vec<External> = std::mem::take(&mut w.ext);
    let mut ext: Vec<External> = Vec::with_capacity(sh.blocks);
    let mut core_seen = false;
    for _ in 0..sh.blocks {
        let raw = block(&mut src, major)?;
        let mut e = spare.pop().unwrap_or(External {
            id: 0,
            data: Vec::new(),
            pos: 0,
        });
        match raw.content_type {
            content::CORE => {
                w.codecs.decompress(&raw, &mut w.core)?;
                core_seen = true;
                spare.push(e);
            }
            content::EXTERNAL => {
                w.codecs.decompress(&raw, &mut e.data)?;
                e.id = raw.content_id;
                e.pos = 0;
                ext.push(e);
            }
            _ => return Err(Cause::Invalid("slice block content type")),
        }
    }
    if !core_seen {
        w.core.clear();
    }
    let result = decode_records(ctx, comp, &sh, ahead, w, &mut ext, out);
    ext.append(&mut spare);
    w.ext = ext;
    result
}

fn decode_records(
    ctx: &Context,
    comp: &CompressionHeader,
    sh: &SliceHeader,
    ahead: Ahead<'_>,
    w: &mut SliceBuffers,
    ext: &mut [External],
    out: &mut Vec<u8>,
) -> Result<(), Cause> {
    let series = Series::bind(&comp.series, &comp.tags, ext)?;
    // The reference: embedded in the slice, the sequence from the reference file, or none
    // (bases stored).
    let mut reference = std::mem::take(&mut w.reference);
    reference.clear();
    let whole: Arc<Vec<u8>>;
    let mut view: Option<RefView<'_>> = None;
    // The reference file's span to check once the records are decoded.
    let mut check: Option<(String, std::ops::Range<usize>, Arc<Vec<u8>>)> = None;
    let lo = (sh.start - 1).max(0);
    if sh.reference >= 0 {
        let (name, len) = ctx
            .header
            .references
            .get(sh.reference as usize)
            .ok_or(Cause::Invalid("slice reference id (not in the header)"))?
            .clone();
        if sh.embedded >= 0 {
            let e = ext
                .iter()
                .find(|e| e.id == sh.embedded)
                .ok_or(Cause::MissingBlock(sh.embedded))?;
            if (e.data.len() as i64) < sh.span {
                return Err(Cause::Invalid(
                    "embedded reference (shorter than the slice)",
                ));
            }
            reference.extend_from_slice(&e.data);
            if sh.md5 != [0; 16] {
                let len = (sh.span.max(0) as usize).min(reference.len());
                compare(&name, sh, rawarrow_kernels::md5::digest(&reference[..len]))?;
            }
            // htslib's slice extent for an embedded reference: its span.
            view = Some(RefView {
                bases: &reference,
                lo,
                end: lo + sh.span,
                len: len as i64,
            });
        } else if comp.reference_required {
            whole = ctx.sequence(&name, &sh.md5)?;
            // The slice's extent, clipped to the sequence's end (as htslib loads it).
            let end = (lo + sh.span).min(whole.len() as i64);
            if sh.md5 != [0; 16] {
                check = Some((name, span_range(whole.len(), sh), Arc::clone(&whole)));
            }
            view = Some(RefView {
                bases: &whole,
                lo: 0,
                end,
                len: len as i64,
            });
        }
    }
    // A multi-reference slice reads each record's sequence whole from the reference file.
    let multi = (sh.reference == -2 && comp.reference_required).then(Default::default);
    let mut blocks = Blocks {
        core: Bits::new(&w.core),
        ext,
    };
    let dec = Decoder {
        ctx,
        comp,
        series: &series,
        slice: sh,
        reference: view,
        multi,
    };
    let result = dec.records(&mut blocks, &mut w.recs, &mut w.bufs);
    // The MD5 after the records (a batch another worker hashes has time to finish); a
    // mismatch is the error even when the records failed too.
    if let Some((name, span, whole)) = check {
        let d = ctx
            .md5
            .digest(ahead, &mut w.codecs, sh.reference, &whole, span);
        if let Err(e) = compare(&name, sh, d) {
            w.reference = reference;
            return Err(e);
        }
    }
    let result = result.and_then(|()| {
        super::emit::resolve_mates(&mut w.recs)?;
        super::emit::write_bam(ctx, sh, &w.recs, &w.bufs, out)
    });
    w.reference = reference;
    result
}

/// The slice's MD5 must be that of the reference bases it covers (`digest`).
fn compare(name: &str, sh: &SliceHeader, digest: [u8; 16]) -> Result<(), Cause> {
    if digest != sh.md5 {
        return Err(Cause::ReferenceMd5 {
            name: name.to_string(),
            start: sh.start,
            end: sh.start + sh.span - 1,
            stated: hex(&sh.md5),
            computed: hex(&digest),
        });
    }
    Ok(())
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
