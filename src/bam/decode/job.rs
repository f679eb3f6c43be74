//! A batch job of the BAM reader: records framed on the calling thread into runs (a run is
//! consecutive whole records of one chunk: its byte range, its first record's index and
//! virtual offset, how many), then on a worker expanded into one reference per record (where
//! its bytes are and where it was in the file), validated, filtered and decoded into a batch.
//! In a whole-file read the worker that inflated a chunk has noted where its records start
//! ([`mark_records`](crate::bam::frame::mark_records)), so the calling thread takes runs of marked
//! records with a binary search per chunk and job, without reading them; otherwise (byte
//! ranges, regions, index chunks, a record carried across chunks, a chunk the worker found no
//! start in) its work per record is a 4-byte hop and extending the current run.

use std::sync::Arc;

use arrow_array::RecordBatch;

use super::batch::{BatchBuilder, DecodeError};
use crate::bam::error::{Error, ErrorKind};
use crate::bam::filter::Filter;
use crate::bam::frame::{Located, Raw, Records};
use crate::bgzf::{Chunk, VirtualOffsets};

/// A record of a decode job: where its bytes are, and where it was in the file.
pub(in crate::bam) struct RecRef {
    /// Index into the job's chunks, or `None` for bytes in the job's `owned` buffer.
    chunk: Option<u32>,
    range: std::ops::Range<usize>,
    at: Located,
    /// The region it must overlap (an index into the reader's regions), or [`NO_REGION`].
    region: u32,
}

/// [`RecRef::region`] of a record read without regions.
pub(in crate::bam) const NO_REGION: u32 = u32::MAX;

/// Consecutive whole records framed from one chunk (or one record carried across chunks).
struct Run {
    /// Index into the job's chunks, or `None` for one record's body in the job's `owned`.
    chunk: Option<u32>,
    /// The records' bytes, each with its 4-byte `block_size` (a carried record: its body).
    range: std::ops::Range<usize>,
    /// The first record's index and virtual offset.
    first: Located,
    count: u32,
    /// The region its records must overlap, or [`NO_REGION`].
    region: u32,
}

/// One batch's worth of framed records, decoded on a worker.
pub(in crate::bam) struct Job {
    chunks: Vec<Arc<Chunk>>,
    runs: Vec<Run>,
    /// One reference per record, filled on the worker from the runs.
    recs: Vec<RecRef>,
    owned: Vec<u8>,
    /// Records and their bytes framed so far.
    count: usize,
    bytes: usize,
}

impl Job {
    /// Empties a handed-back job for reuse, giving up its chunks.
    pub(in crate::bam) fn clear(&mut self) -> std::vec::Drain<'_, Arc<Chunk>> {
        self.runs.clear();
        self.recs.clear();
        self.owned.clear();
        self.count = 0;
        self.bytes = 0;
        self.chunks.drain(..)
    }

    pub(in crate::bam) fn new() -> Self {
        Self {
            chunks: Vec::new(),
            runs: Vec::new(),
            recs: Vec::new(),
            owned: Vec::new(),
            count: 0,
            bytes: 0,
        }
    }

    /// Whether no record was framed into it.
    pub(in crate::bam) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds a framed record: extends the last run when it continues it.
    fn push(
        &mut self,
        chunk: Option<u32>,
        range: std::ops::Range<usize>,
        at: Located,
        region: u32,
    ) {
        self.count += 1;
        self.bytes += range.len();
        if let (Some(c), Some(last)) = (chunk, self.runs.last_mut()) {
            if last.chunk == Some(c) && last.region == region && last.range.end + 4 == range.start {
                last.range.end = range.end;
                last.count += 1;
                return;
            }
        }
        let range = match chunk {
            Some(_) => range.start - 4..range.end,
            None => range,
        };
        self.runs.push(Run {
            chunk,
            range,
            first: at,
            count: 1,
            region,
        });
    }

    /// Adds `count` whole records of chunk `chunk` framed together: `range` holds them, each with
    /// its `block_size` field, and `body` bytes of their bodies; the first is at `first`.
    fn push_run(
        &mut self,
        chunk: u32,
        range: std::ops::Range<usize>,
        first: Located,
        count: usize,
        body: usize,
    ) {
        self.count += count;
        self.bytes += body;
        self.runs.push(Run {
            chunk: Some(chunk),
            range,
            first,
            count: count as u32,
            region: NO_REGION,
        });
    }

    /// One reference per record, from the runs (on the worker): each record's body by its
    /// `block_size`, its index counted from the run's first, its virtual offset from the
    /// chunk's blocks.
    fn expand(&mut self) {
        self.recs.clear();
        self.recs.reserve(self.count);
        for run in &self.runs {
            let Some(c) = run.chunk else {
                self.recs.push(RecRef {
                    chunk: None,
                    range: run.range.clone(),
                    at: run.first,
                    region: run.region,
                });
                continue;
            };
            let chunk = &self.chunks[c as usize];
            let data = chunk.data();
            let mut voffsets = VirtualOffsets::new(chunk);
            // The record starts the inflating worker marked, when the run is theirs (a run
            // framed from the marks): no hop.
            let (marks, marks_end) = chunk.marks();
            let end_of = |k: usize| marks.get(k).map_or(marks_end, |&m| m as usize);
            let count = run.count as usize;
            let marked = u32::try_from(run.range.start)
                .ok()
                .and_then(|s| marks.binary_search(&s).ok())
                .filter(|&i| i + count <= marks.len() && end_of(i + count) == run.range.end);
            if let Some(i) = marked {
                for k in 0..count {
                    let pos = marks[i + k] as usize;
                    self.recs.push(RecRef {
                        chunk: Some(c),
                        range: pos + 4..end_of(i + k + 1),
                        at: Located {
                            index: run.first.index + k as u64,
                            voffset: voffsets.at(pos),
                        },
                        region: run.region,
                    });
                }
                continue;
            }
            // Hopping from record to record is a chain of dependent loads, one cache miss each
            // when the chunk has left the cache; a sequential sweep over the run first (loads
            // the hardware overlaps and prefetches) brings it into cache for the hop.
            crate::bam::frame::mark::touch_lines(&data[run.range.clone()]);
            let mut pos = run.range.start;
            for k in 0..u64::from(run.count) {
                let bs =
                    u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
                let body = pos + 4..pos + 4 + bs as usize;
                self.recs.push(RecRef {
                    chunk: Some(c),
                    range: body.clone(),
                    at: Located {
                        index: run.first.index + k,
                        voffset: voffsets.at(pos),
                    },
                    region: run.region,
                });
                pos = body.end;
            }
            debug_assert_eq!(pos, run.range.end, "a run holds whole records");
        }
    }
}

/// A decoded batch, and the job handed back so its chunks and record list can be reused (a
/// fresh list per job is megabytes of pages to fault in and unmap again, on the calling
/// thread).
pub(in crate::bam) type Decoded = (Result<RecordBatch, Error>, Job);

/// Frames records of `records` into `job` until it holds `rows` records or `bytes` bytes, the
/// limit is reached, or `records` has no more; returns the framing error that ended it, if any.
pub(in crate::bam) fn frame_job(
    job: &mut Job,
    records: &mut Records,
    current: &mut Option<(Arc<Chunk>, usize)>,
    framed: &mut u64,
    rows: usize,
    bytes: usize,
    limit: Option<u64>,
) -> Option<Error> {
    let first = job.count;
    let mut error = None;
    let left = limit.map_or(u64::MAX, |l| (l - *framed).saturating_add(first as u64));
    while job.count < rows && job.bytes < bytes && (job.count as u64) < left {
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
        // A whole-file read takes the records its inflating worker marked, without a step per
        // record here. What the marks leave is framed record by record: a record carried in
        // from earlier chunks (then the marks are tried again after it), a record crossing the
        // chunk's end, a bad `block_size`, a chunk the worker found no start in.
        let full = |job: &Job| job.count >= rows || job.bytes >= bytes || job.count as u64 >= left;
        let mut pos = start;
        let stop = loop {
            let room = usize::try_from(left.saturating_sub(job.count as u64))
                .unwrap_or(usize::MAX)
                .min(rows - job.count);
            if let Some((end, n, body)) =
                records.take_marked(&chunk, pos, room, bytes.saturating_sub(job.bytes))
            {
                if n > 0 {
                    let first = Located {
                        index: records.count() - n as u64,
                        voffset: VirtualOffsets::new(&chunk).at(pos),
                    };
                    job.push_run(index, pos..end, first, n, body);
                    used = true;
                    pos = end;
                }
            }
            if full(job) {
                break Ok(pos);
            }
            let mut carried = false;
            let framed = records.frame_chunk(&chunk, pos, |raw, at| {
                match raw {
                    Raw::InChunk(range) => {
                        used = true;
                        job.push(Some(index), range, at, region);
                    }
                    Raw::Carried(body) => {
                        let from = job.owned.len();
                        job.owned.extend_from_slice(body);
                        let range = from..job.owned.len();
                        job.push(None, range, at, region);
                        carried = true;
                    }
                }
                Ok(!carried && job.count < rows && job.bytes < bytes && (job.count as u64) < left)
            });
            match framed {
                Ok(p) if carried && p < chunk.data().len() && !full(job) => pos = p,
                other => break other,
            }
        };
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
    *framed += (job.count - first) as u64;
    error
}

/// Validates and decodes a job's records into one batch (on a worker), handing its chunks back.
pub(in crate::bam) fn decode_job(
    b: &mut BatchBuilder,
    mut job: Job,
    n_refs: usize,
    filter: Filter,
    regions: &[crate::bam::Region],
    path: &Arc<std::path::Path>,
    repairs: &crate::bam::frame::NameRepairs,
) -> Decoded {
    job.expand();
    let batch = decode_records(b, &job, n_refs, filter, regions, path, repairs);
    (batch, job)
}

fn decode_records(
    b: &mut BatchBuilder,
    job: &Job,
    n_refs: usize,
    filter: Filter,
    regions: &[crate::bam::Region],
    path: &Arc<std::path::Path>,
    repairs: &crate::bam::frame::NameRepairs,
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
        let window = filter.window_region();
        for i in 0..job.recs.len() {
            let parsed = || crate::bam::Record::parse_with(body(i), n_refs, false);
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
            let overlaps = |r: &crate::bam::index::region::Region| {
                parsed().map_or(true, |rec| r.overlaps(&rec))
            };
            if region.is_none_or(overlaps) && window.as_ref().is_none_or(overlaps) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgzf::{Marker, Options};

    type Framed = Vec<Vec<(u64, crate::bgzf::VirtualPosition, Vec<u8>)>>;

    /// Every record of the sample, job by job: index, virtual offset and bytes.
    fn framed(marker: Option<Marker>, rows: usize, bytes: usize) -> Framed {
        framed_range(marker, None, rows, bytes)
    }

    /// [`framed`] for the whole sample or the byte range `range` of it.
    fn framed_range(
        marker: Option<Marker>,
        range: Option<(u64, u64)>,
        rows: usize,
        bytes: usize,
    ) -> Framed {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
        let input = crate::io::Input::open(path).expect("sample");
        // Small chunks: many chunk borders, records carried across them.
        let opts = Options::default().threads(2).chunk_bytes(20_000);
        let mut records = match range {
            None => Records::new_marked(input, opts, marker),
            Some((start, end)) => Records::split_marked(input, opts, start, end, marker),
        }
        .expect("header");
        let (mut current, mut count) = (None, 0);
        let mut jobs = Vec::new();
        loop {
            let mut job = Job::new();
            let error = frame_job(
                &mut job,
                &mut records,
                &mut current,
                &mut count,
                rows,
                bytes,
                None,
            );
            assert!(error.is_none(), "{error:?}");
            if job.is_empty() {
                break;
            }
            job.expand();
            let body = |r: &RecRef| match r.chunk {
                Some(c) => job.chunks[c as usize].data()[r.range.clone()].to_vec(),
                None => job.owned[r.range.clone()].to_vec(),
            };
            jobs.push(
                job.recs
                    .iter()
                    .map(|r| (r.at.index, r.at.voffset, body(r)))
                    .collect(),
            );
        }
        jobs
    }

    /// A marker that hops from a fixed offset, whatever is there: a chain of wrong starts.
    fn from_offset(at: usize) -> Marker {
        Arc::new(move |data: &[u8], marks: &mut Vec<u32>| {
            let mut pos = at;
            while let Some(b) = data.get(pos..pos + 4) {
                let bs = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                if bs < 32 || data.len() - pos - 4 < bs {
                    break;
                }
                marks.push(pos as u32);
                pos += 4 + bs;
            }
            pos
        })
    }

    /// The worker's marks, cut short: the calling thread frames the rest of each chunk.
    fn truncated() -> Marker {
        Arc::new(|data: &[u8], marks: &mut Vec<u32>| {
            let end = crate::bam::frame::mark::mark_records(data, marks);
            let keep = marks.len() / 2;
            let end = marks.get(keep).map_or(end, |&m| m as usize);
            marks.truncate(keep);
            end
        })
    }

    #[test]
    fn records_marked_on_the_workers_frame_exactly_like_the_calling_thread() {
        for (rows, bytes) in [
            (1000, usize::MAX),
            (7, usize::MAX),
            (100_000, 30_000),
            (1, 1),
        ] {
            let plain = framed(None, rows, bytes);
            assert_eq!(
                plain.iter().map(Vec::len).sum::<usize>(),
                4000,
                "sample records"
            );
            let markers: [(&str, Marker); 4] = [
                (
                    "mark_records",
                    Arc::new(crate::bam::frame::mark::mark_records),
                ),
                ("wrong start", from_offset(3)),
                ("wrong start 0", from_offset(0)),
                ("cut short", truncated()),
            ];
            for (name, marker) in markers {
                assert!(
                    framed(Some(marker), rows, bytes) == plain,
                    "{name}: rows {rows}, bytes {bytes}"
                );
            }
        }
    }

    #[test]
    fn byte_ranges_end_where_the_calling_thread_ends_them_with_or_without_marks() {
        let size = std::fs::metadata(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/sample.bam"
        ))
        .expect("sample")
        .len();
        // Cuts inside blocks, at a block's first byte (72,774) and one past another's (109,428),
        // and a byte before the end.
        let cuts = [
            0,
            1,
            60_000,
            72_774,
            109_428,
            250_000,
            390_001,
            size - 1,
            size,
        ];
        for (rows, bytes) in [(1000, usize::MAX), (7, usize::MAX), (100_000, 9_000)] {
            let mut total = 0;
            for w in cuts.windows(2) {
                let range = Some((w[0], w[1]));
                let plain = framed_range(None, range, rows, bytes);
                total += plain.iter().map(Vec::len).sum::<usize>();
                let markers: [(&str, Marker); 3] = [
                    (
                        "mark_records",
                        Arc::new(crate::bam::frame::mark::mark_records),
                    ),
                    ("wrong start", from_offset(3)),
                    ("cut short", truncated()),
                ];
                for (name, marker) in markers {
                    assert!(
                        framed_range(Some(marker), range, rows, bytes) == plain,
                        "{name}: range {range:?}, rows {rows}, bytes {bytes}"
                    );
                }
            }
            // The ranges partition the file: every record once.
            assert_eq!(total, 4000, "rows {rows}, bytes {bytes}");
        }
    }
}
