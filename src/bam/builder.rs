//! `bam::ReaderBuilder`: a reader's settings, and opening the input (header, region plan or
//! byte range, tag types, the reference dictionary) before the pipeline starts.

use std::sync::Arc;

use arrow_array::Array;

use super::error::{Error, ErrorKind};
use super::filter::Filter;
use super::frame::Records;
use super::reader::{Reader, Start};
use crate::arrow::arena::ArenaPool;
use crate::bam::decode::batch::BatchBuilder;
use crate::bam::decode::columns::Projection;
use crate::bam::index::region::plan_regions;
use crate::bgzf::Options;
use crate::io::Input;
use crate::runtime::{arenas_per_pool, share_of, Crew};

/// The share of the CPU a BAM reader's workers spend decoding (the rest inflating): decoding
/// every column took 0.6 CPU seconds and inflating 1.1 on the 313 MB benchmark BAM
/// (docs/benchmarks-history.md). It sizes the window of batches in flight, not who does what:
/// the workers take whichever job is queued first.
const DECODE_SHARE: f64 = 0.4;

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
    /// Threads in all (default: the cores this process may use): one crew of workers, each
    /// inflating or decoding, whichever job is queued first; 1 runs both on the calling thread
    /// (0 is refused when the reader is built).
    pub fn threads(mut self, n: usize) -> Self {
        self.opts = self.opts.threads(n);
        self
    }

    /// BGZF pipeline settings (threads, chunk size, pinning).
    pub fn bgzf_options(mut self, opts: Options) -> Self {
        let reference = self.opts.reference.take();
        self.opts = opts;
        self.opts.reference = self.opts.reference.take().or(reference);
        self
    }

    /// The reference FASTA of a CRAM input (see
    /// [`BamOptions::reference`](crate::stream::BamOptions::reference)).
    pub(crate) fn reference(mut self, path: &std::path::Path) -> Self {
        self.opts.reference = Some(path.into());
        self
    }

    /// Decode only these columns (names from [`COLUMNS`](super::COLUMNS)); skipped columns cost
    /// nothing.
    pub fn columns<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, crate::Error> {
        self.projection = Projection::parse(names).map_err(crate::Error::usage)?;
        Ok(self)
    }

    /// Rows per batch (default 65,536; 0 is refused when the reader is built).
    pub fn batch_rows(mut self, n: usize) -> Self {
        self.batch_rows = n;
        self
    }

    /// Adds one typed column per tag, after the default columns, named by the tag: `"NM"`, or
    /// `"NM:i"` with an explicit type (`i` → Int64, `f` → Float32, `Z` → Utf8, `B` → List of
    /// Int64, `B:f` → List of Float32). Without a type, the type is that of the tag's first
    /// occurrence in the first records (Utf8, the SAM text of the value, if it is not seen
    /// there). Null where a record lacks the tag; a record whose value does not fit the column's
    /// type is an error naming the record.
    pub fn tags<S: AsRef<str>>(mut self, specs: &[S]) -> Result<Self, crate::Error> {
        for spec in specs {
            let parsed = super::parse_tag_spec(spec.as_ref()).map_err(crate::Error::usage)?;
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
    pub fn build(self, input: impl Into<Arc<Input>>) -> Result<Reader, crate::Error> {
        self.open(input.into()).map_err(crate::Error::from)
    }

    fn open(self, input: Arc<Input>) -> Result<Reader, Error> {
        let path: Arc<std::path::Path> = input.path().into();
        let usage = |m: String| Error::new(ErrorKind::Usage(m)).with_path(path.clone());
        self.opts.check().map_err(usage)?;
        if self.batch_rows == 0 {
            return Err(usage("batch_rows must be at least 1".into()));
        }
        let (mut threads, pin) = (self.opts.thread_count(), self.opts.pins());
        // `threads` workers in all, each inflating or decoding, whichever job is queued first
        // (one crew for both stages, so neither idles while the other has work); one thread
        // runs both on the calling thread.
        let staged = |n: usize| -> Result<(Options, Option<Arc<Crew>>), Error> {
            let opts = self.opts.clone().threads(n);
            if n <= 1 {
                return Ok((opts, None));
            }
            let crew =
                Crew::spawn("bam", n, pin).map_err(|e| Error::from(e).with_path(path.clone()))?;
            Ok((opts.on_crew(crew.clone()), Some(crew)))
        };
        // Tag types come from the first records of the file, for a split too.
        let wanted: Vec<[u8; 2]> = self.tags.iter().map(|(t, _)| *t).collect();
        if !self.regions.is_empty() && self.byte_range.is_some() {
            return Err(usage("regions and a byte range cannot be combined".into()));
        }
        if input.is_stream() && (!self.regions.is_empty() || self.byte_range.is_some()) {
            return Err(usage(crate::io::STREAM_RANDOM_ACCESS.into()));
        }
        let (mut warnings, mut regions) = (Vec::new(), Vec::new());
        let (records, seen, crew) = match self.byte_range {
            None if !self.regions.is_empty() => {
                // The header, a block at a time; a full first chunk only when tag types are
                // inferred from it (so a region query infers what a whole-file read does).
                let infer = self.tags.iter().any(|(_, kind)| kind.is_none());
                let first = Options::default().threads(1);
                let first = if infer { first } else { first.chunk_bytes(1) };
                let records = Records::new_marked(input.clone(), first, None)?;
                let seen = records.peek_tag_kinds(&wanted);
                let header = records.header().clone();
                let plan = plan_regions(
                    &input,
                    &header,
                    records.header_end(),
                    &self.regions,
                    self.index.as_deref(),
                    records.is_cram(),
                )?;
                let header_end = records.header_end();
                // A small query is read on the calling thread: starting workers and inflating
                // ahead costs more than the few blocks it needs.
                if plan.is_small() {
                    threads = 1;
                }
                let (opts, crew) = staged(threads)?;
                (regions, warnings) = (plan.regions, plan.warnings);
                let spans = Records::spans(
                    input.clone(),
                    opts,
                    header,
                    header_end,
                    plan.spans,
                    plan.containers,
                )?;
                (spans, seen, crew)
            }
            None => {
                let (opts, crew) = staged(threads)?;
                // Record starts marked on the inflating workers, taken by the batch framing.
                let marker: crate::bgzf::Marker = Arc::new(super::frame::mark_records);
                let records = Records::new_marked(input.clone(), opts, Some(marker))?;
                let seen = records.peek_tag_kinds(&wanted);
                (records, seen, crew)
            }
            Some((start, end)) => {
                let seen = if self.tags.iter().any(|(_, kind)| kind.is_none()) {
                    let first = Options::default().threads(1);
                    Records::new_marked(input.clone(), first, None)?.peek_tag_kinds(&wanted)
                } else {
                    vec![None; wanted.len()]
                };
                let (opts, crew) = staged(threads)?;
                let marker: crate::bgzf::Marker = Arc::new(super::frame::mark_records);
                let records = Records::split_marked(input.clone(), opts, start, end, Some(marker))?;
                (records, seen, crew)
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
                    return Err(Error::new(ErrorKind::Usage(msg.into())).with_path(path));
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
        let workers = crew.as_ref().map_or(0, |c| c.threads());
        let decoders = if workers == 0 {
            0
        } else {
            share_of(workers, DECODE_SHARE)
        };
        // One arena pool per NUMA node of the crew (made in `Reader::start`), each this size.
        let nodes = crew.as_ref().map_or(1, |c| c.node_count());
        let arenas = ArenaPool::new(arenas_per_pool(decoders, nodes));
        let metadata = records.header().metadata();
        let builder = BatchBuilder::new(self.projection, &typed, dictionary, metadata, arenas);
        Reader::start(Start {
            records,
            builder,
            crew,
            decoders,
            path,
            filter: self.filter,
            regions,
            warnings,
            batch_rows: self.batch_rows,
            batch_bytes: self.batch_bytes,
            limit: self.limit,
        })
    }
}

impl Reader {
    /// A builder with the defaults: all columns, 65,536 rows per batch, all threads.
    pub fn builder() -> ReaderBuilder {
        ReaderBuilder::default()
    }
}
