//! `bam::Reader`: BAM records as Arrow record batches.

use std::sync::Arc;

use std::collections::BTreeMap;

use arrow_array::{Array, RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{ArrowError, SchemaRef};

use super::batch::{BatchBuilder, DecodeError};
use super::columns::Projection;
use super::error::{Error, ErrorKind};
use super::filter::Filter;
use super::frame::{Located, Raw, Records};
use super::header::Header;
use crate::arrow::arena::ArenaPool;
use crate::bgzf::Chunk;
use crate::bgzf::Options;
use crate::io::Input;
use crate::runtime::Pool;

/// Settings for a [`Reader`]; see [`Reader::builder`].
#[derive(Debug, Clone)]
pub struct ReaderBuilder {
    opts: Options,
    projection: Projection,
    batch_rows: usize,
    batch_bytes: usize,
    limit: Option<u64>,
    dictionary: Option<Arc<arrow_array::StringArray>>,
    tags: Vec<([u8; 2], Option<super::TagKind>)>,
    byte_range: Option<(u64, u64)>,
    filter: Filter,
    regions: Vec<String>,
    index: Option<std::path::PathBuf>,
}

impl Default for ReaderBuilder {
    fn default() -> Self {
        Self {
            opts: Options::default(),
            projection: Projection::default(),
            batch_rows: 64 * 1024,
            batch_bytes: 256 << 20,
            limit: None,
            dictionary: None,
            tags: Vec::new(),
            byte_range: None,
            filter: Filter::default(),
            regions: Vec::new(),
            index: None,
        }
    }
}

impl ReaderBuilder {
    /// Worker threads for inflating (default: the cores this process may use).
    pub fn threads(mut self, n: usize) -> Self {
        self.opts = self.opts.threads(n);
        self
    }

    /// BGZF pipeline settings (threads, chunk size, pinning).
    pub fn bgzf_options(mut self, opts: Options) -> Self {
        self.opts = opts;
        self
    }

    /// Decode only these columns (names from [`COLUMNS`](super::COLUMNS)); skipped columns cost
    /// nothing.
    pub fn columns<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, Error> {
        self.projection = Projection::of(names)
            .map_err(|m| Error::new(ErrorKind::Arrow(ArrowError::InvalidArgumentError(m))))?;
        Ok(self)
    }

    /// Rows per batch (default 65,536; at least 1).
    pub fn batch_rows(mut self, n: usize) -> Self {
        self.batch_rows = n.max(1);
        self
    }

    /// Approximate cap on the bytes of one batch (default 256 MiB); a batch ends at whichever
    /// limit comes first.
    pub fn batch_bytes(mut self, n: usize) -> Self {
        self.batch_bytes = n.max(1);
        self
    }

    /// Adds one typed column per tag, after the default columns, named by the tag: `"NM"`, or
    /// `"NM:i"` with an explicit type (`i` → Int64, `f` → Float32, `Z` → Utf8, `B` → List of
    /// Int64, `B:f` → List of Float32). Without a type, the type is that of the tag's first
    /// occurrence in the first records (Utf8, the SAM text of the value, if it is not seen
    /// there). Null where a record lacks the tag; a record whose value does not fit the column's
    /// type is an error naming the record.
    pub fn tags<S: AsRef<str>>(mut self, specs: &[S]) -> Result<Self, Error> {
        for spec in specs {
            let parsed = super::parse_tag_spec(spec.as_ref())
                .map_err(|m| Error::new(ErrorKind::Arrow(ArrowError::InvalidArgumentError(m))))?;
            if !self.tags.iter().any(|(t, _)| *t == parsed.0) {
                self.tags.push(parsed);
            }
        }
        Ok(self)
    }

    /// Keep only the records `filter` keeps (MAPQ and FLAG, as `samtools view -q/-f/-F`); the
    /// others are checked but not decoded. A [`limit`](Self::limit) counts kept records.
    ///
    /// ```
    /// use rawarrow::bam::{parse_flags, Filter, Reader};
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
    /// let reader = Reader::builder()
    ///     .filter(Filter::default().min_mapq(30).exclude_flags(parse_flags("UNMAP")?))
    ///     .build(rawarrow::io::Input::open(path)?)?;
    /// let rows: usize = reader.map(|b| b.map(|b| b.num_rows())).sum::<Result<_, _>>()?;
    /// assert!(rows > 0 && rows < 4000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Read only the records overlapping these regions (samtools' syntax, see [`Region`](super::Region)), in
    /// the order given (a record in two regions comes twice, as `samtools view` without `-M`
    /// prints it), through the file's BAI or CSI index: only the index's chunks for each region
    /// are inflated. The index is the one [`index`](Self::index) names, else the first of
    /// [`index_candidates`](super::index_candidates) that exists. An index older than the
    /// file gives a warning ([`Reader::warnings`]). A [`limit`](Self::limit) counts records
    /// kept.
    ///
    /// ```
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
    /// let input = rawarrow::io::Input::open(path)?;
    /// let index = rawarrow::bam::Index::build(input, rawarrow::bam::IndexFormat::Bai, Default::default())?;
    /// let dir = tempfile::tempdir()?;
    /// let bai = dir.path().join("sample.bam.bai");
    /// std::fs::write(&bai, index.to_bytes())?;
    /// let reader = rawarrow::bam::Reader::builder()
    ///     .regions(&["chrS1:1,001-2,000"])
    ///     .index(&bai)
    ///     .columns(&["pos"])?
    ///     .build(rawarrow::io::Input::open(path)?)?;
    /// let rows: usize = reader.map(|b| b.map(|b| b.num_rows())).sum::<Result<_, _>>()?;
    /// assert!(rows > 0 && rows < 4000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn regions<S: AsRef<str>>(mut self, regions: &[S]) -> Self {
        self.regions = regions.iter().map(|r| r.as_ref().to_owned()).collect();
        self
    }

    /// The BAI or CSI index for [`regions`](Self::regions) (default: found beside the file).
    pub fn index(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.index = Some(path.into());
        self
    }

    /// Stop after this many records.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Reuse the reference-name dictionary of another reader (so batches of several files with
    /// the same references share one dictionary, as the IPC file format requires). `build`
    /// fails if this file's references differ.
    pub fn dictionary(mut self, dictionary: Arc<arrow_array::StringArray>) -> Self {
        self.dictionary = Some(dictionary);
        self
    }

    /// Read only the records whose `block_size` field begins in a BGZF block whose compressed
    /// offset lies in `[start, end)`: the splits of any partition of the file's bytes give every
    /// record once, so separate readers (threads, processes, machines) can share one file
    /// without an index. The header is read from the start of the file; the split's first
    /// record is found by checking a chain of records at each candidate offset (the rule and
    /// why it makes no false starts: [`SPLIT_CHAIN`](super::SPLIT_CHAIN)); a record that
    /// begins in the range is read to its end even past `end`. Record indices in errors count
    /// from the split's first record. Tag types without an explicit `:TYPE` are taken from the
    /// first records of the file, so every split of a file has the same schema.
    ///
    /// ```
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
    /// let len = std::fs::metadata(path)?.len();
    /// let mut rows = 0;
    /// for start in (0..len).step_by(100_000) {
    ///     let reader = rawarrow::bam::Reader::builder()
    ///         .threads(1)
    ///         .byte_range(start, start + 100_000)
    ///         .build(rawarrow::io::Input::open(path)?)?;
    ///     rows += reader.map(|b| b.map(|b| b.num_rows())).sum::<Result<usize, _>>()?;
    /// }
    /// assert_eq!(rows, 4000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn byte_range(mut self, start: u64, end: u64) -> Self {
        self.byte_range = Some((start, end));
        self
    }

    /// Opens `input` and reads its header.
    pub fn build(self, input: impl Into<Arc<Input>>) -> Result<Reader, Error> {
        let input = input.into();
        let path: Arc<std::path::Path> = input.path().into();
        let (mut threads, pin) = (self.opts.thread_count(), self.opts.pins());
        // Tag types come from the first records of the file, for a split too.
        let wanted: Vec<[u8; 2]> = self.tags.iter().map(|(t, _)| *t).collect();
        let usage = |m: String| {
            Error::new(ErrorKind::Arrow(ArrowError::InvalidArgumentError(m)))
                .with_path(path.clone())
        };
        if !self.regions.is_empty() && self.byte_range.is_some() {
            return Err(usage("regions and a byte range cannot be combined".into()));
        }
        let (mut warnings, mut regions) = (Vec::new(), Vec::new());
        let (records, seen) = match self.byte_range {
            None if !self.regions.is_empty() => {
                // The header, a block at a time; a full first chunk only when tag types are
                // inferred from it (so a region query infers what a whole-file read does).
                let infer = self.tags.iter().any(|(_, kind)| kind.is_none());
                let first = Options::default().threads(1);
                let first = if infer { first } else { first.chunk_bytes(1) };
                let records = Records::new(input.clone(), first)?;
                let seen = records.peek_tag_kinds(&wanted);
                let header = records.header().clone();
                let plan = plan_regions(
                    &path,
                    &header,
                    records.header_end(),
                    &self.regions,
                    self.index.as_deref(),
                )?;
                let header_end = records.header_end();
                // A small query is read on the calling thread: starting workers and inflating
                // ahead costs more than the few blocks it needs.
                let opts = if plan.is_small() {
                    threads = 1;
                    self.opts.clone().threads(1)
                } else {
                    self.opts.clone()
                };
                (regions, warnings) = (plan.regions, plan.warnings);
                let spans = Records::spans(input.clone(), opts, header, header_end, plan.spans)?;
                (spans, seen)
            }
            None => {
                let records = Records::new(input.clone(), self.opts.clone())?;
                let seen = records.peek_tag_kinds(&wanted);
                (records, seen)
            }
            Some((start, end)) => {
                let seen = if self.tags.iter().any(|(_, kind)| kind.is_none()) {
                    let first = Options::default().threads(1);
                    Records::new(input.clone(), first)?.peek_tag_kinds(&wanted)
                } else {
                    vec![None; wanted.len()]
                };
                (
                    Records::split(input.clone(), self.opts.clone(), start, end)?,
                    seen,
                )
            }
        };
        if let Some(at) = records.header().text_not_utf8_at() {
            warnings.push(format!(
                "{}: the SAM header text is not UTF-8 from uncompressed offset {at}: the Arrow \
                 metadata holds it with U+FFFD replacements (`bam view -h` prints it as stored)",
                path.display()
            ));
        }
        if let Some((n, first)) = records.header().reference_names_not_utf8() {
            warnings.push(format!(
                "{}: {n} reference name(s) in the BAM header are not UTF-8, the first is \
                 reference {first}: the rname/rnext dictionary holds them with U+FFFD \
                 replacements (`bam view` prints them as stored)",
                path.display()
            ));
        }
        let dictionary = match self.dictionary {
            None => records.header().dictionary(),
            Some(d) => {
                let same = d.len() == records.header().references.len()
                    && d.iter()
                        .zip(&records.header().references)
                        .all(|(a, b)| a == Some(b.name.as_str()));
                if !same {
                    let msg = "its reference sequences differ from the first input's (write one output per input)";
                    return Err(
                        Error::new(ErrorKind::Arrow(ArrowError::InvalidArgumentError(
                            msg.into(),
                        )))
                        .with_path(path),
                    );
                }
                d
            }
        };
        let typed: Vec<([u8; 2], super::TagKind)> = self
            .tags
            .iter()
            .zip(seen)
            .map(|(&(tag, kind), seen)| (tag, kind.or(seen).unwrap_or(super::TagKind::Text)))
            .collect();
        // Batches being decoded, waiting in order, and consumed, plus a spare.
        let arenas = ArenaPool::new(2 * threads + 4);
        let metadata = records.header().metadata();
        let builder = BatchBuilder::new(self.projection, &typed, dictionary, metadata, arenas);
        let (schema, dictionary) = (builder.schema(), builder.dictionary());
        let decode = if threads > 1 {
            let n_refs = records.n_refs();
            let wpath = path.clone();
            let filter = self.filter;
            let wregions = regions.clone();
            let repairs = records.name_repairs();
            let pool = Pool::spawn_named(
                "decode",
                threads,
                pin,
                move |_| builder.clone_empty(),
                move |b: &mut BatchBuilder, job: Job| {
                    decode_job(b, job, n_refs, filter, &wregions, &wpath, &repairs)
                },
            )
            .map_err(|e| Error::from(e).with_path(path.clone()))?;
            Decode::Parallel {
                pool,
                threads,
                next_seq: 0,
                next_out: 0,
                ready: BTreeMap::new(),
            }
        } else {
            Decode::Inline(Box::new(builder))
        };
        Ok(Reader {
            records,
            schema,
            dictionary,
            decode,
            current: None,
            framed: 0,
            framing_done: false,
            pending: None,
            batch_rows: self.batch_rows,
            batch_bytes: self.batch_bytes,
            limit: self.limit,
            filter: self.filter,
            regions,
            warnings,
            rows: 0,
            done: false,
        })
    }
}

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
    decode: Decode,
    /// The chunk being framed and where its unread bytes start.
    current: Option<(Arc<Chunk>, usize)>,
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

/// Where batches are decoded.
enum Decode {
    /// On the calling thread (one thread).
    Inline(Box<BatchBuilder>),
    /// On pinned workers, a bounded number of jobs in flight, handed out in file order.
    Parallel {
        pool: Pool<Job, Decoded>,
        threads: usize,
        next_seq: u64,
        next_out: u64,
        ready: BTreeMap<u64, Result<RecordBatch, Error>>,
    },
    /// Finished (the workers are stopped).
    Done,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("records", &self.records)
            .field("rows", &self.rows)
            .finish()
    }
}

impl Reader {
    /// A builder with the defaults: all columns, 65,536 rows per batch, all threads.
    pub fn builder() -> ReaderBuilder {
        ReaderBuilder::default()
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        self.records.header()
    }

    /// The shared reference-name dictionary of the `rname` and `rnext` columns.
    pub fn dictionary(&self) -> Arc<arrow_array::StringArray> {
        self.dictionary.clone()
    }

    /// Warnings known when the reader was built (an index older than the file).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
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

    /// Records returned so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Compressed bytes scanned so far (for progress reporting).
    pub fn compressed_position(&self) -> u64 {
        self.records.chunks().compressed_position()
    }

    /// Whether the file ended with the BGZF EOF marker (`None` until the end is reached).
    pub fn eof_marker(&self) -> Option<bool> {
        self.records.chunks().eof_marker()
    }

    /// The next batch, `Ok(None)` at the end.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        if self.done {
            return Ok(None);
        }
        let mut out = loop {
            let out = match self.decode {
                Decode::Inline(_) => self.next_batch_inline(),
                Decode::Parallel { .. } => self.next_batch_parallel(),
                Decode::Done => Ok(None),
            };
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
                self.decode = Decode::Done;
            }
        }
        match &out {
            Ok(Some(b)) => self.rows += b.num_rows() as u64,
            Ok(None) | Err(_) => {
                self.done = true;
                self.decode = Decode::Done; // stops the decode workers
            }
        }
        out
    }

    /// Frames the next job unless framing is over; a framing error is kept in `pending`.
    fn next_job(&mut self) -> Option<Job> {
        if self.framing_done {
            return None;
        }
        let mut job = Job::new(self.batch_rows);
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
        if error.is_some() || job.recs.is_empty() {
            self.framing_done = true;
            self.pending = error;
        }
        (!job.recs.is_empty()).then_some(job)
    }

    /// Gives a decoded job's chunks back to the inflater (those no other job holds).
    fn give_back(&mut self, chunks: Vec<Arc<Chunk>>) {
        for c in chunks {
            if let Ok(c) = Arc::try_unwrap(c) {
                self.records.recycle(c);
            }
        }
    }

    fn next_batch_inline(&mut self) -> Result<Option<RecordBatch>, Error> {
        let Some(job) = self.next_job() else {
            return self.pending.take().map_or(Ok(None), Err);
        };
        let (n_refs, path) = (self.records.n_refs(), self.records.path());
        let Decode::Inline(b) = &mut self.decode else {
            unreachable!("inline decoding")
        };
        let repairs = self.records.name_repairs();
        let (out, chunks) = decode_job(b, job, n_refs, self.filter, &self.regions, &path, &repairs);
        self.give_back(chunks);
        out.map(Some)
    }

    /// The calling thread frames records (a 4-byte hop each) into batch jobs; pinned workers
    /// validate and decode each job into a record batch; batches are handed out in file order
    /// with a bounded number of jobs in flight.
    fn next_batch_parallel(&mut self) -> Result<Option<RecordBatch>, Error> {
        loop {
            let Decode::Parallel {
                threads,
                next_seq,
                next_out,
                ready,
                ..
            } = &mut self.decode
            else {
                unreachable!("parallel decoding")
            };
            if let Some(out) = ready.remove(next_out) {
                *next_out += 1;
                return out.map(Some);
            }
            let in_flight = *next_seq - *next_out;
            if !self.framing_done && in_flight < *threads as u64 + 1 {
                let job = self.next_job();
                let pending = self.pending.take();
                let Decode::Parallel {
                    pool,
                    next_seq,
                    ready,
                    ..
                } = &mut self.decode
                else {
                    unreachable!("parallel decoding")
                };
                if let Some(job) = job {
                    pool.submit(*next_seq, job);
                    *next_seq += 1;
                }
                if let Some(e) = pending {
                    // After the records framed before it, which may hold an earlier error.
                    ready.insert(*next_seq, Err(e));
                    *next_seq += 1;
                }
                continue;
            }
            if *next_out == *next_seq {
                return Ok(None);
            }
            let Decode::Parallel { pool, ready, .. } = &mut self.decode else {
                unreachable!("parallel decoding")
            };
            match pool.recv() {
                Some((seq, Ok((out, chunks)))) => {
                    ready.insert(seq, out);
                    self.give_back(chunks);
                }
                Some((_, Err(_))) | None => {
                    let e = Error::new(ErrorKind::Io(std::io::Error::other(
                        "a decode worker thread failed",
                    )));
                    return Err(e.with_path(self.records.path()));
                }
            }
        }
    }
}

/// A record of a decode job: where its bytes are, and where it was in the file.
struct RecRef {
    /// Index into the job's chunks, or `None` for bytes in the job's `owned` buffer.
    chunk: Option<u32>,
    range: std::ops::Range<usize>,
    at: Located,
    /// The region it must overlap (an index into the reader's regions), or [`NO_REGION`].
    region: u32,
}

/// [`RecRef::region`] of a record read without regions.
const NO_REGION: u32 = u32::MAX;

/// One batch's worth of framed records, decoded on a worker.
struct Job {
    chunks: Vec<Arc<Chunk>>,
    recs: Vec<RecRef>,
    owned: Vec<u8>,
    /// Bytes of the records framed so far.
    bytes: usize,
}

impl Job {
    fn new(rows: usize) -> Self {
        Self {
            chunks: Vec::new(),
            recs: Vec::with_capacity(rows.min(1 << 16)),
            owned: Vec::new(),
            bytes: 0,
        }
    }
}

/// A decoded batch, and the job's chunks handed back so their buffers can be reused.
type Decoded = (Result<RecordBatch, Error>, Vec<Arc<Chunk>>);

/// Frames records of `records` into `job` until it holds `rows` records or `bytes` bytes, the
/// limit is reached, or `records` has no more; returns the framing error that ended it, if any.
fn frame_job(
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
fn decode_job(
    b: &mut BatchBuilder,
    job: Job,
    n_refs: usize,
    filter: Filter,
    regions: &[super::Region],
    path: &Arc<std::path::Path>,
    repairs: &super::frame::NameRepairs,
) -> Decoded {
    let batch = decode_records(b, &job, n_refs, filter, regions, path, repairs);
    (batch, job.chunks)
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

impl Iterator for Reader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))
            .transpose()
    }
}

impl RecordBatchReader for Reader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// What a region query reads: the regions parsed, the index chunks of each (virtual offsets
/// `[start, end)` and the region's number), in the order given, and warnings about the index.
pub(crate) struct RegionPlan {
    pub(crate) regions: Vec<super::Region>,
    pub(crate) spans: Vec<super::frame::Span>,
    pub(crate) warnings: Vec<String>,
}

/// Parses `texts` against `header` and looks each region up in the index (`index`, or the one
/// beside `bam`). Bad region text is a usage error.
pub(crate) fn plan_regions(
    bam: &Arc<std::path::Path>,
    header: &Header,
    header_end: u64,
    texts: &[String],
    index: Option<&std::path::Path>,
) -> Result<RegionPlan, Error> {
    let mut regions = Vec::with_capacity(texts.len());
    for text in texts {
        let r = super::Region::parse(text, header).map_err(|m| {
            Error::new(ErrorKind::Arrow(ArrowError::InvalidArgumentError(m))).with_path(bam.clone())
        })?;
        regions.push(r);
    }
    // Only the references the regions name are parsed (all of them for `*`, which needs
    // every reference's end offset).
    let all = regions.iter().any(|r| r.tid.is_none());
    let wanted: std::collections::HashSet<usize> = regions.iter().filter_map(|r| r.tid).collect();
    let keep = |r: usize| all || wanted.contains(&r);
    let (index, index_path) = find_index(bam, index, &keep)?;
    let mut warnings = Vec::new();
    if is_older(&index_path, bam) {
        warnings.push(format!(
            "the index file is older than the data file: {}",
            index_path.display()
        ));
    }
    let mut spans = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        let chunks = match r.tid {
            Some(tid) => index.chunks(tid, r.beg, r.end),
            None => vec![(index.no_coor_offset().max(header_end), u64::MAX)],
        };
        // On sorted data the region ends at the first record past it (as htslib's iterator).
        let stop_past = r.tid.map(|t| (t as i32, r.end));
        spans.extend(chunks.into_iter().map(|(start, end)| super::frame::Span {
            start,
            end,
            region: i,
            stop_past,
        }));
    }
    Ok(RegionPlan {
        regions,
        spans,
        warnings,
    })
}

impl RegionPlan {
    /// Whether the index chunks span less than 16 MiB of compressed data (counting a typical
    /// 32 KiB block for each chunk's last block).
    pub(crate) fn is_small(&self) -> bool {
        let bytes: u64 = self
            .spans
            .iter()
            .map(|s| (s.end >> 16).saturating_sub(s.start >> 16) + (32 << 10))
            .fold(0, u64::saturating_add);
        bytes < 16 << 20
    }
}

/// The index for region queries, and where it was found.
fn find_index(
    bam: &Arc<std::path::Path>,
    explicit: Option<&std::path::Path>,
    keep: &dyn Fn(usize) -> bool,
) -> Result<(super::Index, std::path::PathBuf), Error> {
    let candidates = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => super::index_candidates(bam),
    };
    for c in &candidates {
        if explicit.is_some() || c.is_file() {
            return Ok((super::Index::open_refs(c, keep)?, c.clone()));
        }
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(Error::new(ErrorKind::Index(format!(
        "no index for region queries (looked for {}); make one with `rawarrow bam index {}`",
        tried.join(", "),
        bam.display()
    )))
    .with_path(bam.clone()))
}

/// Whether `index` was modified before `data` (htslib warns then).
fn is_older(index: &std::path::Path, data: &std::path::Path) -> bool {
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(index), modified(data)), (Some(i), Some(d)) if i < d)
}
