//! `bam::Reader`: BAM records as Arrow record batches.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{ArrowError, SchemaRef};

use super::error::{Error, ErrorKind};
use super::filter::Filter;
use super::frame::Records;
use super::header::Header;
use crate::arrow::arena::ArenaPool;
use crate::bam::decode::batch::BatchBuilder;
use crate::bam::decode::job::{decode_job, frame_job, Decoded, Job};
use crate::bgzf::Chunk;
use crate::runtime::{jobs_ahead, Crew, Ordered, Pool, WorkerPanicked};

/// Reads a BAM file as Arrow record batches (the schema of docs/SCHEMAS.md), in file order.
///
/// An iterator of `Result<RecordBatch, Error>` through [`Reader::next_batch`], and an
/// [`arrow_array::RecordBatchReader`] (its errors wrap [`Error`]).
///
/// ```
/// use arrow_array::cast::AsArray;
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
/// let mut reader = rawarrow::bam::Reader::builder()
///     .threads(2)
///     .columns(&["qname", "pos", "cigar"])?
///     .batch_rows(1000)
///     .build(rawarrow::io::Input::open(path)?)?;
/// let mut rows = 0;
/// while let Some(batch) = reader.next_batch()? {
///     assert_eq!(batch.num_columns(), 3);
///     rows += batch.num_rows();
/// }
/// assert_eq!(rows, 4000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader {
    records: Records,
    schema: SchemaRef,
    dictionary: Arc<StringArray>,
    /// Batch jobs decoded on the workers that also inflate (inline with one thread), handed
    /// out in file order; `None` once finished.
    decode: Option<Ordered<Job, Decoded>>,
    /// The chunk being framed and where its unread bytes start.
    current: Option<(Arc<Chunk>, usize)>,
    /// Decoded jobs kept for their record lists.
    spare_jobs: Vec<Job>,
    /// Records framed into jobs so far.
    framed: u64,
    framing_done: bool,
    /// An error found while framing, returned after the batch of the records framed before it.
    pending: Option<Error>,
    batch_rows: usize,
    batch_bytes: usize,
    limit: Option<u64>,
    filter: Filter,
    /// The regions of a region query (records say which one they are read for).
    regions: Vec<super::Region>,
    warnings: Vec<String>,
    rows: u64,
    done: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("records", &self.records)
            .field("rows", &self.rows)
            .finish()
    }
}

/// An opened input and the settings of its pipeline (from [`crate::bam::ReaderBuilder::build`]).
pub(super) struct Start {
    pub(super) records: Records,
    /// Decodes batches (cloned for each worker, with an arena pool per NUMA node as large as
    /// this one's).
    pub(super) builder: BatchBuilder,
    /// The workers that inflate the input, to decode on too (none: decode on the calling
    /// thread).
    pub(super) crew: Option<Arc<Crew>>,
    /// How many of the crew's workers decoding keeps busy: the window of batches in flight is
    /// sized for them.
    pub(super) decoders: usize,
    pub(super) path: Arc<std::path::Path>,
    pub(super) filter: Filter,
    pub(super) regions: Vec<super::Region>,
    pub(super) warnings: Vec<String>,
    pub(super) batch_rows: usize,
    pub(super) batch_bytes: usize,
    pub(super) limit: Option<u64>,
}

impl Reader {
    /// Starts the decode workers (none for one thread).
    pub(super) fn start(s: Start) -> Result<Self, Error> {
        let Start {
            records,
            builder,
            crew,
            decoders,
            path,
            regions,
            warnings,
            ..
        } = s;
        let (schema, dictionary) = (builder.schema(), builder.dictionary());
        let n_refs = records.n_refs();
        let wpath = path.clone();
        let filter = s.filter;
        let wregions = regions.clone();
        let repairs = records.name_repairs();
        // One arena pool per NUMA node of the workers (one in all on most machines): a batch's
        // memory goes back to the workers of the node that first touched it.
        let nodes = crew.as_ref().map_or(vec![0], |c| c.nodes().to_vec());
        let mut pools: std::collections::BTreeMap<usize, ArenaPool> = Default::default();
        let by_worker: Vec<ArenaPool> = nodes
            .iter()
            .map(|n| {
                pools
                    .entry(*n)
                    .or_insert_with(|| builder.arenas().empty_like())
                    .clone()
            })
            .collect();
        let init = move |i: usize| builder.clone_with(by_worker[i].clone());
        let work = move |b: &mut BatchBuilder, job: Job| {
            crate::runtime::panic_if_asked("bam-decode");
            decode_job(b, job, n_refs, filter, &wregions, &wpath, &repairs)
        };
        let decode = match &crew {
            Some(crew) => Ordered::new(Pool::on(crew, "decode", init, work), jobs_ahead(decoders)),
            None => Ordered::spawn_named("decode", 1, false, jobs_ahead(0), init, work)
                .map_err(|e| Error::from(e).with_path(path.clone()))?,
        };
        Ok(Reader {
            records,
            schema,
            dictionary,
            decode: Some(decode),
            current: None,
            spare_jobs: Vec::new(),
            framed: 0,
            framing_done: false,
            pending: None,
            batch_rows: s.batch_rows,
            batch_bytes: s.batch_bytes,
            limit: s.limit,
            filter: s.filter,
            regions,
            warnings,
            rows: 0,
            done: false,
        })
    }
}

impl Reader {
    /// The file's header.
    pub fn header(&self) -> &Header {
        self.records.header()
    }

    /// The shared reference-name dictionary of the `rname` and `rnext` columns.
    pub fn dictionary(&self) -> Arc<arrow_array::StringArray> {
        self.dictionary.clone()
    }

    /// Every warning not taken yet: those of [`warnings`](Self::warnings), then what was read
    /// leniently so far, as htslib reads it (plain gzip members, BGZF blocks whose ISIZE
    /// disagrees with the data, read names without their NUL), one line per kind. Call it
    /// after the last batch for the whole file's.
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.warnings);
        out.extend(self.records.take_warnings());
        out
    }

    /// Compressed bytes scanned so far (for progress reporting).
    pub(crate) fn compressed_position(&self) -> u64 {
        self.records.chunks().compressed_position()
    }

    /// BGZF blocks (CRAM containers) inflated and handed to the decoders so far.
    pub(crate) fn blocks_read(&self) -> u64 {
        self.records.chunks().pieces()
    }

    /// Whether the input is CRAM (its containers decoded into BAM records).
    pub(crate) fn is_cram(&self) -> bool {
        self.records.is_cram()
    }

    /// Whether the file ended with the BGZF EOF marker (`None` until the end is reached).
    pub(crate) fn eof_marker(&self) -> Option<bool> {
        self.records.chunks().eof_marker()
    }

    /// The next batch, `Ok(None)` at the end. The error's source is the [`Error`] saying
    /// what was wrong.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, crate::Error> {
        self.next_typed().map_err(crate::Error::from)
    }

    fn next_typed(&mut self) -> Result<Option<RecordBatch>, Error> {
        if self.done {
            return Ok(None);
        }
        let mut out = loop {
            let out = self.decode_next();
            // A batch whose records the filter all dropped is not handed out.
            if !matches!(&out, Ok(Some(b)) if b.num_rows() == 0) {
                break out;
            }
        };
        if let (Ok(Some(b)), Some(limit)) = (&mut out, self.limit) {
            // With a filter, framing does not know how many records are kept.
            let left = usize::try_from(limit - self.rows).unwrap_or(usize::MAX);
            if b.num_rows() >= left {
                *b = b.slice(0, left);
                self.framing_done = true;
                self.decode = None;
            }
        }
        match &out {
            Ok(Some(b)) => self.rows += b.num_rows() as u64,
            Ok(None) | Err(_) => {
                self.done = true;
                self.decode = None; // stops the decode workers
            }
        }
        out
    }

    /// Frames the next job unless framing is over; a framing error is kept in `pending`.
    fn next_job(&mut self) -> Option<Job> {
        if self.framing_done {
            return None;
        }
        let mut job = self.spare_jobs.pop().unwrap_or_else(Job::new);
        let exact = self.filter.is_all() && self.regions.is_empty();
        let error = frame_job(
            &mut job,
            &mut self.records,
            &mut self.current,
            &mut self.framed,
            self.batch_rows,
            self.batch_bytes,
            self.limit.filter(|_| exact),
        );
        if error.is_some() || job.is_empty() {
            self.framing_done = true;
            self.pending = error;
        }
        (!job.is_empty()).then_some(job)
    }

    /// Gives a decoded job's chunks back to the inflater (those no other job holds) and keeps
    /// the job for reuse.
    fn give_back(&mut self, mut job: Job) {
        for c in job.clear() {
            if let Ok(c) = Arc::try_unwrap(c) {
                self.records.recycle(c);
            }
        }
        self.spare_jobs.push(job);
    }

    /// The next decoded batch in file order: the calling thread frames records (runs the
    /// inflating workers marked, or a 4-byte hop each) into batch jobs while there is room in
    /// the window, the workers validate and decode them, and a framing error takes its place
    /// after the jobs framed before it.
    fn decode_next(&mut self) -> Result<Option<RecordBatch>, Error> {
        while !self.framing_done && self.decode.as_ref().is_some_and(Ordered::has_room) {
            let job = self.next_job();
            let pending = self.pending.take();
            let Some(decode) = &mut self.decode else {
                break;
            };
            if let Some(job) = job {
                decode.submit(job);
            }
            if let Some(e) = pending {
                // After the records framed before it, which may hold an earlier error.
                decode.submit_done((Err(e), Job::new()));
            }
        }
        let Some(decode) = &mut self.decode else {
            return Ok(None);
        };
        match decode.next_result() {
            None => Ok(None),
            Some(Ok((out, job))) => {
                self.give_back(job);
                out.map(Some)
            }
            Some(Err(WorkerPanicked)) => {
                Err(Error::new(ErrorKind::Worker).with_path(self.records.path()))
            }
        }
    }
}

impl Iterator for Reader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().map_err(ArrowError::from).transpose()
    }
}

impl RecordBatchReader for Reader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
