//! A batch job of the BAM reader: records framed on the calling thread (where each record's
//! bytes are, in which chunk, and where it was in the file), then validated, filtered and
//! decoded into one batch on a worker.

use std::sync::Arc;

use arrow_array::RecordBatch;

use super::batch::{BatchBuilder, DecodeError};
use super::error::{Error, ErrorKind};
use super::filter::Filter;
use super::frame::{Located, Raw, Records};
use crate::bgzf::Chunk;

/// A record of a decode job: where its bytes are, and where it was in the file.
pub(super) struct RecRef {
    /// Index into the job's chunks, or `None` for bytes in the job's `owned` buffer.
    chunk: Option<u32>,
    range: std::ops::Range<usize>,
    at: Located,
    /// The region it must overlap (an index into the reader's regions), or [`NO_REGION`].
    region: u32,
}

/// [`RecRef::region`] of a record read without regions.
pub(super) const NO_REGION: u32 = u32::MAX;

/// One batch's worth of framed records, decoded on a worker.
pub(super) struct Job {
    chunks: Vec<Arc<Chunk>>,
    pub(super) recs: Vec<RecRef>,
    owned: Vec<u8>,
    /// Bytes of the records framed so far.
    bytes: usize,
}

impl Job {
    /// Empties a handed-back job for reuse, giving up its chunks.
    pub(super) fn clear(&mut self) -> std::vec::Drain<'_, Arc<Chunk>> {
        self.recs.clear();
        self.owned.clear();
        self.bytes = 0;
        self.chunks.drain(..)
    }

    pub(super) fn new(rows: usize) -> Self {
        Self {
            chunks: Vec::new(),
            recs: Vec::with_capacity(rows.min(1 << 16)),
            owned: Vec::new(),
            bytes: 0,
        }
    }
}

/// A decoded batch, and the job handed back so its chunks and record list can be reused (a
/// fresh list per job is megabytes of pages to fault in and unmap again, on the calling
/// thread).
pub(super) type Decoded = (Result<RecordBatch, Error>, Job);

/// Frames records of `records` into `job` until it holds `rows` records or `bytes` bytes, the
/// limit is reached, or `records` has no more; returns the framing error that ended it, if any.
pub(super) fn frame_job(
    job: &mut Job,
    records: &mut Records,
    current: &mut Option<(Arc<Chunk>, usize)>,
    framed: &mut u64,
    rows: usize,
    bytes: usize,
    limit: Option<u64>,
) -> Option<Error> {
    let first = job.recs.len();
    let mut job_bytes = job.bytes;
    let mut error = None;
    let left = limit.map_or(u64::MAX, |l| (l - *framed).saturating_add(first as u64));
    while job.recs.len() < rows && job_bytes < bytes && (job.recs.len() as u64) < left {
        let (chunk, start) = match current.take() {
            Some(c) => c,
            None => match records.next_raw_chunk() {
                Ok(Some((c, start))) => (Arc::new(c), start),
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            },
        };
        let index = job.chunks.len() as u32;
        let region = records.region().map_or(NO_REGION, |r| r as u32);
        let mut used = false;
        let stop = records.frame_chunk(&chunk, start, |raw, at| {
            let (chunk_ref, range) = match raw {
                Raw::InChunk(range) => {
                    used = true;
                    (Some(index), range)
                }
                Raw::Carried(body) => {
                    let from = job.owned.len();
                    job.owned.extend_from_slice(body);
                    (None, from..job.owned.len())
                }
            };
            job_bytes += range.len();
            job.recs.push(RecRef {
                chunk: chunk_ref,
                range,
                at,
                region,
            });
            Ok(job.recs.len() < rows && job_bytes < bytes && (job.recs.len() as u64) < left)
        });
        if used {
            job.chunks.push(chunk.clone());
        }
        match stop {
            Ok(stop) if stop < chunk.data().len() => *current = Some((chunk, stop)),
            Ok(_) => {}
            Err(e) => {
                // The records framed before the error are still decoded (and may fail first).
                error = Some(e);
                break;
            }
        }
    }
    *framed += (job.recs.len() - first) as u64;
    job.bytes = job_bytes;
    error
}

/// Validates and decodes a job's records into one batch (on a worker), handing its chunks back.
pub(super) fn decode_job(
    b: &mut BatchBuilder,
    job: Job,
    n_refs: usize,
    filter: Filter,
    regions: &[super::Region],
    path: &Arc<std::path::Path>,
    repairs: &super::frame::NameRepairs,
) -> Decoded {
    let batch = decode_records(b, &job, n_refs, filter, regions, path, repairs);
    (batch, job)
}

fn decode_records(
    b: &mut BatchBuilder,
    job: &Job,
    n_refs: usize,
    filter: Filter,
    regions: &[super::Region],
    path: &Arc<std::path::Path>,
    repairs: &super::frame::NameRepairs,
) -> Result<RecordBatch, Error> {
    let body = |i: usize| {
        let r = &job.recs[i];
        match r.chunk {
            Some(c) => &job.chunks[c as usize].data()[r.range.clone()],
            None => &job.owned[r.range.clone()],
        }
    };
    let record_error = |i: usize, error| {
        let at = job.recs[i].at;
        Error::new(ErrorKind::Record {
            index: at.index,
            voffset: at.voffset,
            error,
        })
        .with_path(path.clone())
    };
    if !filter.is_all() || !regions.is_empty() {
        // Dropped records are still checked (not their aux fields), so a filter never hides
        // a malformed record; the first error in file order is the one returned.
        let mut kept = Vec::with_capacity(job.recs.len());
        let mut dropped_error = None;
        for i in 0..job.recs.len() {
            let parsed = || super::Record::parse_with(body(i), n_refs, false);
            if !filter.keeps_raw(body(i)) {
                if let Err(e) = parsed() {
                    dropped_error = Some((i, e));
                    break;
                }
                continue;
            }
            // The alignment end needs the CIGAR (the real one when a CG tag holds it); a
            // record that does not parse is kept, so decoding reports its error in order.
            let region = regions.get(job.recs[i].region as usize);
            if region.is_none_or(|r| parsed().map_or(true, |rec| r.overlaps(&rec))) {
                kept.push(i);
            }
        }
        let out = b.build(kept.len(), |k| body(kept[k]), n_refs);
        for &k in &b.unterminated {
            repairs.note(job.recs[kept[k]].at.index);
        }
        return match (out, dropped_error) {
            (Err(DecodeError::Record(k, error)), _) => Err(record_error(kept[k], error)),
            (Err(DecodeError::Arrow(e)), _) => {
                Err(Error::new(ErrorKind::Arrow(e)).with_path(path.clone()))
            }
            (Ok(_), Some((i, error))) => Err(record_error(i, error)),
            (Ok(batch), None) => Ok(batch),
        };
    }
    let out = b.build(job.recs.len(), body, n_refs);
    for &i in &b.unterminated {
        repairs.note(job.recs[i].at.index);
    }
    out.map_err(|e| match e {
        DecodeError::Record(i, error) => record_error(i, error),
        DecodeError::Arrow(e) => Error::new(ErrorKind::Arrow(e)).with_path(path.clone()),
    })
}
