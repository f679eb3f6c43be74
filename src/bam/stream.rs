//! BAM as a format of the stream: its options, its inputs one after the other as one
//! [`Source`] (the same columns for every input, one reference dictionary, the `file` column),
//! its splits, and its registration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::SchemaRef;

use crate::bam;
use crate::format::{at_least_one, kernels_env, Format, Kind, Progress, Source, Split};
use crate::io::Input;
use crate::Error;

/// BAM's registration: BGZF or gzip input (the header decides); splits of compressed bytes.
pub(crate) const FORMAT: Format = Format {
    name: "bam",
    reads: |kind| kind == Kind::Gzip || kind == Kind::Cram,
    plan,
};

/// Options of [`BatchStream::bam`](crate::stream::BatchStream::bam); the default reads every column on every core.
#[derive(Debug, Clone, Default)]
pub struct BamOptions {
    /// Columns to decode, in schema order whatever order they are given in
    /// (`None`: all of [`COLUMNS`](super::COLUMNS)).
    pub columns: Option<Vec<String>>,
    /// Typed tag columns: `NM`, or `NM:TYPE` (see [`ReaderBuilder::tags`](super::ReaderBuilder::tags)).
    pub tags: Vec<String>,
    /// Threads in all, each inflating or decoding (`None`: the cores this process may use; see
    /// [`ReaderBuilder::threads`](super::ReaderBuilder::threads)).
    pub threads: Option<usize>,
    /// Rows per batch (`None`: 65,536).
    pub batch_rows: Option<usize>,
    /// Stop after this many records of each input.
    pub limit: Option<u64>,
    /// Only the records that begin in BGZF blocks at compressed offsets `start..end` (one
    /// input only; see [`ReaderBuilder::byte_range`](super::ReaderBuilder::byte_range)).
    pub byte_range: Option<(u64, u64)>,
    /// Only the records these keep (MAPQ and FLAG, as `samtools view -q/-f/-F`).
    pub filter: super::Filter,
    /// Only the records overlapping these regions (samtools' syntax), through each input's
    /// index (see [`ReaderBuilder::regions`](super::ReaderBuilder::regions)).
    pub regions: Vec<String>,
    /// The index for `regions` (one input only; default: the one beside each input).
    pub index: Option<std::path::PathBuf>,
    /// Add a `file` column (Dictionary(Int32, Utf8): the input's path) saying where each row
    /// came from.
    pub with_file: bool,
    /// Settings of inputs given as URLs (`s3://`, `gs://`, `az://`, `https://`), `(key,
    /// value)`: credentials, endpoint, region, timeouts, as `object_store` names them, and
    /// rawarrow's `fetch_bytes`, `fetch_concurrency`, `retries` (docs/REMOTE.md). The
    /// environment is read first; these win.
    pub storage_options: Vec<(String, String)>,
    /// The reference FASTA of CRAM inputs whose bases are stored as differences from one
    /// (with its `.fai` beside it, or an index built in memory); not needed for BAM, for CRAM
    /// written without a reference (`no_ref`) or with it embedded.
    pub reference: Option<std::path::PathBuf>,
}

/// Opens BAM files as one chain (see [`BatchStream::bam`](crate::stream::BatchStream::bam)).
pub(crate) fn open<P: AsRef<Path>>(paths: &[P], options: &BamOptions) -> Result<BamChain, Error> {
    let options = checked(paths.len(), options)?;
    let inputs = paths
        .iter()
        .map(|p| Input::open_or_stdin(p, &options.storage_options).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    chain(inputs, options)
}

/// Opens inputs already made (streams among them) as one chain (see
/// [`BatchStream::bam_inputs`](crate::stream::BatchStream::bam_inputs)).
pub(crate) fn open_inputs(inputs: Vec<Input>, options: &BamOptions) -> Result<BamChain, Error> {
    let options = checked(inputs.len(), options)?;
    chain(inputs.into_iter().map(Arc::new).collect(), options)
}

/// The options for `n` inputs, checked, with their defaults filled in.
fn checked(n: usize, options: &BamOptions) -> Result<BamOptions, Error> {
    kernels_env()?;
    if n == 0 {
        return Err(Error::usage("no input BAM files"));
    }
    let mut options = options.clone();
    if let Some((start, end)) = options.byte_range {
        if n != 1 {
            return Err(Error::usage(
                "byte_range reads one input; give exactly one path",
            ));
        }
        if start > end {
            return Err(Error::usage(format!(
                "byte_range ({start}, {end}): the start is after the end"
            )));
        }
    }
    if options.index.is_some() && n != 1 {
        return Err(Error::usage(
            "an index file serves one input; give exactly one path (or none: each input's own)",
        ));
    }
    if !options.regions.is_empty() && options.byte_range.is_some() {
        return Err(Error::usage("regions and byte_range cannot be combined"));
    }
    options.threads = at_least_one("threads", options.threads)?;
    options.batch_rows = at_least_one("batch_rows", options.batch_rows)?;
    Ok(options)
}

/// The chain over `inputs`, opened on its first.
fn chain(inputs: Vec<Arc<Input>>, options: BamOptions) -> Result<BamChain, Error> {
    let files = options.with_file.then(|| {
        Arc::new(arrow_array::StringArray::from_iter_values(
            inputs.iter().map(|i| i.path().display().to_string()),
        ))
    });
    // Progress counts the compressed bytes of the inputs, or of the split.
    let sizes = inputs
        .iter()
        .map(|i| match options.byte_range {
            Some((start, end)) => end.min(i.len() as u64).saturating_sub(start),
            None => i.len() as u64,
        })
        .collect();
    let mut chain = BamChain {
        options,
        inputs,
        sizes,
        next: 0,
        reader: None,
        dictionary: None,
        schema: Arc::new(arrow_schema::Schema::empty()),
        done_bytes: 0,
        done_blocks: 0,
        rows: 0,
        warnings: Vec::new(),
        files,
    };
    chain.open()?;
    Ok(chain)
}

/// BAM inputs one after the other, one reader at a time.
pub(crate) struct BamChain {
    options: BamOptions,
    inputs: Vec<Arc<Input>>,
    sizes: Vec<u64>,
    next: usize,
    reader: Option<bam::Reader>,
    dictionary: Option<Arc<arrow_array::StringArray>>,
    schema: SchemaRef,
    done_bytes: u64,
    /// Blocks read from the inputs finished.
    done_blocks: u64,
    rows: u64,
    warnings: Vec<String>,
    /// The input paths, for the `file` column.
    files: Option<Arc<arrow_array::StringArray>>,
}

impl BamChain {
    /// The schema of every batch.
    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn open(&mut self) -> Result<Option<&mut bam::Reader>, Error> {
        if self.reader.is_none() {
            let Some(input) = self.inputs.get(self.next).cloned() else {
                return Ok(None);
            };
            let mut b = bam::Reader::builder();
            if let Some(t) = self.options.threads {
                b = b.threads(t);
            }
            if let Some(n) = self.options.batch_rows {
                b = b.batch_rows(n);
            }
            if let Some(cols) = &self.options.columns {
                b = b.columns(cols)?;
            }
            if !self.options.tags.is_empty() {
                b = b.tags(&self.options.tags)?;
            }
            if let Some(l) = self.options.limit {
                b = b.limit(l);
            }
            if let Some(d) = &self.dictionary {
                b = b.dictionary(d.clone());
            }
            if let Some((start, end)) = self.options.byte_range {
                b = b.byte_range(start, end);
            }
            b = b.filter(self.options.filter).regions(&self.options.regions);
            if let Some(ix) = &self.options.index {
                b = b.index(ix);
            }
            if let Some(r) = &self.options.reference {
                b = b.reference(r);
            }
            let path = input.path().to_path_buf();
            let mut reader = b.build(input)?;
            self.warnings.extend(reader.take_warnings());
            let schema = match &self.files {
                Some(_) => bam::with_file_field(&reader.schema()),
                None => reader.schema(),
            };
            // Columns must agree; the schema metadata (the header) is the first input's.
            if self.next > 0 && schema.fields() != self.schema.fields() {
                return Err(Error::usage(format!(
                    "{}: its tag columns get other types than in the first input's first \
                     records; give each tag's type (NM:i, XF:f, ...)",
                    path.display()
                ))
                .at(Some(&path), crate::Location::File));
            }
            if self.next == 0 {
                self.schema = schema;
            }
            self.dictionary.get_or_insert_with(|| reader.dictionary());
            self.reader = Some(reader);
        }
        Ok(self.reader.as_mut())
    }

    fn next_chain_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        // (A byte range does not own the end of the file: no warning for a split.)
        let whole = self.options.limit.is_none()
            && self.options.byte_range.is_none()
            && self.options.regions.is_empty();
        while let Some(reader) = self.open()? {
            if let Some(batch) = reader.next_batch()? {
                self.rows += batch.num_rows() as u64;
                return Ok(Some(match &self.files {
                    Some(names) => bam::with_file_column(&batch, self.next, names)?,
                    None => batch,
                }));
            }
            let late = reader.take_warnings();
            let blocks = reader.blocks_read();
            let no_marker = reader.eof_marker() == Some(false);
            let cram = reader.is_cram();
            if whole && no_marker {
                let path = self.inputs[self.next].path();
                self.warnings.push(bam::no_eof_marker(path, cram));
            }
            self.warnings.extend(late);
            self.done_bytes += self.sizes[self.next];
            self.done_blocks += blocks;
            self.next += 1;
            self.reader = None;
        }
        Ok(None)
    }
}

impl Source for BamChain {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        self.next_chain_batch()
    }

    fn progress(&self) -> Progress {
        let total = self.sizes.iter().sum();
        let (from, at) = (
            self.options.byte_range.map_or(0, |r| r.0),
            self.reader.as_ref().map_or(0, |r| r.compressed_position()),
        );
        Progress {
            rows: self.rows,
            done: (self.done_bytes + at.saturating_sub(from)).min(total),
            total,
            unit: "bytes",
            blocks: self.done_blocks + self.reader.as_ref().map_or(0, |r| r.blocks_read()),
        }
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn inputs(&self) -> Vec<PathBuf> {
        self.inputs.iter().map(|i| i.path().to_path_buf()).collect()
    }

    fn table(&self) -> &'static str {
        "records"
    }

    fn run_path(&self) -> Option<PathBuf> {
        self.inputs.first().map(|i| i.path().to_path_buf())
    }

    fn summary_line(&self, seconds: f64, input_bytes: u64) -> String {
        let secs = seconds.max(1e-9);
        format!(
            "{} records in {seconds:.3} s: {:.0} records/s, {:.1} MB/s of BAM",
            self.rows,
            self.rows as f64 / secs,
            input_bytes as f64 / secs / 1e6
        )
    }
}

/// Byte ranges of `split_bytes` over every BAM file (at least one per file, so an empty or
/// broken file still reports its error when read). A URL ending in `/` is every `.bam` and
/// `.cram` object under that prefix; objects are sized by listing or `HEAD`, never read.
fn plan(
    paths: &[PathBuf],
    split_bytes: u64,
    storage: &[(String, String)],
) -> Result<Vec<Split>, Error> {
    if split_bytes == 0 {
        return Err(Error::usage("split_bytes must be at least 1"));
    }
    let mut sized = Vec::new();
    for path in paths {
        let text = path.to_str().unwrap_or_default();
        if crate::io::is_url(path) && text.ends_with('/') {
            sized.extend(crate::io::list_objects(text, storage, &[".bam", ".cram"])?);
        } else {
            let size = Input::open_with(path, storage)?.len() as u64;
            sized.push((path.clone(), size));
        }
    }
    let mut out = Vec::new();
    for (path, size) in sized {
        let mut start = 0;
        loop {
            let end = (start + split_bytes).min(size.max(1));
            out.push(Split::Bam {
                path: path.to_path_buf(),
                start,
                end,
            });
            start = end;
            if start >= size {
                break;
            }
        }
    }
    Ok(out)
}
