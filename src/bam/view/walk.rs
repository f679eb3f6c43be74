//! Records one at a time, as `samtools view` walks them: every record in file order, or the
//! records overlapping each region in turn through the index — for callers that want the raw
//! records (SAM text, counting) rather than Arrow batches. Region planning is
//! [`crate::bam::index::region`]'s, the same the [`crate::bam::Reader`] uses.

use std::path::Path;
use std::sync::Arc;

use crate::bam::error::{Error, ErrorKind};
use crate::bam::frame::{Located, Records};
use crate::bam::record::Record;
use crate::bgzf::Options;
use crate::io::Input;

fn options(threads: Option<usize>, reference: Option<&Path>) -> Options {
    let mut opts = Options::default();
    opts.reference = reference.map(Into::into);
    match threads {
        Some(t) => opts.threads(t),
        None => opts,
    }
}

/// Calls `f` with every record of `input`, or, with `regions` (samtools' syntax), with the
/// records overlapping each region in turn, read through `index` (default: the one beside the
/// input). Aux fields are not checked here: a caller that renders them checks them as
/// [`push_sam_checked`] does (a count does not look at them, as `samtools view -c`). `header` is called once with the file's header
/// before any record (`Ok(false)`: no records are wanted); the input is opened once, so a
/// stream (standard input, a pipe) is read once. `check` runs between chunks of records; its
/// error (a stop) ends the walk. Regions on a stream are a usage error. Returns the warnings: what the region planning noticed (an
/// index older than its file), what was read leniently, a missing EOF marker.
#[allow(clippy::too_many_arguments)]
pub fn walk(
    input: Arc<Input>,
    regions: &[String],
    index: Option<&Path>,
    reference: Option<&Path>,
    threads: Option<usize>,
    check: &mut dyn FnMut() -> Result<(), crate::Error>,
    header: &mut dyn FnMut(&crate::bam::Header) -> Result<bool, crate::Error>,
    mut f: impl FnMut(&Record<'_>, Located) -> Result<(), crate::Error>,
) -> Result<Vec<String>, crate::Error> {
    // `f`'s error stops the walk (the records' own errors are `Error`s).
    let mut failed = None;
    let mut f = |r: &Record<'_>, at: Located| match f(r, at) {
        Ok(()) => true,
        Err(e) => {
            failed.get_or_insert(e);
            false
        }
    };
    let out = walk_records(
        input, regions, index, reference, threads, check, header, &mut f,
    );
    match failed {
        Some(e) => Err(e),
        None => out,
    }
}

#[allow(clippy::too_many_arguments)]
fn walk_records(
    input: Arc<Input>,
    regions: &[String],
    index: Option<&Path>,
    reference: Option<&Path>,
    threads: Option<usize>,
    check: &mut dyn FnMut() -> Result<(), crate::Error>,
    header: &mut dyn FnMut(&crate::bam::Header) -> Result<bool, crate::Error>,
    f: &mut dyn FnMut(&Record<'_>, Located) -> bool,
) -> Result<Vec<String>, crate::Error> {
    let path = input.path().to_path_buf();
    let mut warnings = Vec::new();
    if !regions.is_empty() && input.is_stream() {
        let e = crate::Error::usage(format!(
            "{}: {}",
            path.display(),
            crate::io::STREAM_RANDOM_ACCESS
        ));
        return Err(e.at(Some(&path), crate::Location::File));
    }
    if regions.is_empty() {
        let mut records = Records::new(input.clone(), options(threads, reference))?;
        if !header(records.header())? {
            return Ok(warnings);
        }
        loop {
            check()?;
            if !records.next_chunk_with(false, |r, at| Ok(f(r, at)))? {
                break;
            }
        }
        if records.chunks().eof_marker() == Some(false) {
            warnings.push(crate::bam::no_eof_marker(&path, records.is_cram()));
        }
        warnings.extend(records.take_warnings());
        return Ok(warnings);
    }
    // The header a block at a time, then the index chunks of every region.
    let records = Records::new(input.clone(), Options::default().threads(1).chunk_bytes(1))?;
    let header_end = records.header_end();
    if !header(records.header())? {
        return Ok(warnings);
    }
    let header = records.header().clone();
    let cram = records.is_cram();
    let plan =
        crate::bam::index::region::plan_regions(&input, &header, header_end, regions, index, cram)?;
    warnings.extend(plan.warnings.iter().cloned());
    drop(records);
    let threads = if plan.is_small() { Some(1) } else { threads };
    let mut spans = Records::spans(
        input,
        options(threads, reference),
        header,
        header_end,
        plan.spans,
        cram,
    )?;
    loop {
        check()?;
        let more = spans.next_chunk_in(false, |r, at, region| {
            Ok(region.is_some_and(|g| !plan.regions[g].overlaps(r)) || f(r, at))
        })?;
        if !more {
            break;
        }
    }
    warnings.extend(spans.take_warnings());
    Ok(warnings)
}

/// Appends `record` as one line of SAM text, byte for byte as `samtools view` prints it,
/// checking its aux fields as they are written: a bad one is the error, naming the record
/// (`at`) and `path`.
pub fn push_sam_checked(
    record: &Record<'_>,
    header: &crate::bam::Header,
    at: Located,
    path: &Arc<Path>,
    out: &mut Vec<u8>,
) -> Result<(), crate::Error> {
    super::sam::push_record_checked(record, header, out).map_err(|error| {
        Error::new(ErrorKind::Record {
            index: at.index,
            voffset: at.voffset,
            error,
        })
        .with_path(path.clone())
        .into()
    })
}
