//! One entry point per format for callers that are not Rust: options as plain values, one
//! stream type, one error type.
//!
//! The Python package and the C ABI are thin translations of this module: every option is
//! checked here, every error is a [`Error`] with a [`ErrorKind`], the file, the byte offset and
//! the record (or frame, or file) index where the input was bad, and the message the CLI prints.
//! A [`BatchStream`] is an iterator of Arrow record batches and an
//! [`arrow_array::RecordBatchReader`] (`Send`), so it can be exported through the Arrow C stream
//! interface (`arrow_array::ffi_stream::FFI_ArrowArrayStream::new`) without copying: the
//! batches' buffers are the readers' arenas, given back when the consumer drops the last one.
//!
//! ```
//! use rawarrow::stream::{BamOptions, BatchStream};
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
//! let options = BamOptions { columns: Some(vec!["qname".into(), "pos".into()]), ..Default::default() };
//! let mut stream = BatchStream::bam(&[path], &options)?;
//! let mut rows = 0;
//! while let Some(batch) = stream.next_batch()? {
//!     assert_eq!(batch.num_columns(), 2);
//!     rows += batch.num_rows();
//! }
//! assert_eq!(rows, 4000);
//! assert_eq!(stream.progress().done, stream.progress().total);
//! # Ok::<(), rawarrow::Error>(())
//! ```
#![forbid(unsafe_code)]

mod bam_chain;
mod options;
mod plan;

pub use options::{BamOptions, MidiOptions, MidiTable, Progress, TdfOptions};
pub use plan::{plan_bam, plan_midi, plan_tdf, Split};

use bam_chain::BamChain;
use options::{batch_rows, kernels_env, threads};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};

use crate::io::Input;
use crate::{midi, tdf};
use crate::{Error, ErrorKind};

enum Source {
    Bam(Box<BamChain>),
    Tdf(Box<tdf::Reader>, tdf::Table),
    Midi {
        reader: Box<midi::Reader>,
        table: MidiTable,
        files_done: bool,
        /// The `files` rows of the jobs read since the last [`BatchStream::take_job_files`],
        /// kept once it was first called.
        jobs: Option<Vec<RecordBatch>>,
    },
}

/// Arrow record batches from one of the readers, with its options checked and its errors as
/// [`Error`]. An `Iterator` of `Result<RecordBatch, ArrowError>` (the errors wrap [`Error`])
/// and a `Send` [`RecordBatchReader`].
pub struct BatchStream {
    source: Source,
    schema: SchemaRef,
    failed: bool,
}

impl fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchStream")
            .field("progress", &self.progress())
            .finish()
    }
}

impl BatchStream {
    /// BAM files as one stream (batches of [`bam::Reader`], inputs one after the other). Every
    /// input must have the same references (the `rname` dictionary is shared).
    pub fn bam<P: AsRef<Path>>(paths: &[P], options: &BamOptions) -> Result<Self, Error> {
        kernels_env()?;
        if paths.is_empty() {
            return Err(Error::usage("no input BAM files"));
        }
        let mut options = options.clone();
        if let Some((start, end)) = options.byte_range {
            if paths.len() != 1 {
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
        if options.index.is_some() && paths.len() != 1 {
            return Err(Error::usage(
                "an index file serves one input; give exactly one path (or none: each input's own)",
            ));
        }
        if !options.regions.is_empty() && options.byte_range.is_some() {
            return Err(Error::usage("regions and byte_range cannot be combined"));
        }
        options.threads = threads(options.threads)?;
        options.batch_rows = batch_rows(options.batch_rows)?;
        let files = options.with_file.then(|| {
            Arc::new(arrow_array::StringArray::from_iter_values(
                paths.iter().map(|p| p.as_ref().display().to_string()),
            ))
        });
        let inputs = paths
            .iter()
            .map(|p| Input::open_or_stdin(p).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
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
            rows: 0,
            warnings: Vec::new(),
            files,
        };
        chain.open()?;
        let schema = chain.schema.clone();
        Ok(Self::new(Source::Bam(Box::new(chain)), schema))
    }

    /// A timsTOF `.d` folder ([`tdf::Reader`]).
    pub fn tdf(path: impl AsRef<Path>, options: &TdfOptions) -> Result<Self, Error> {
        kernels_env()?;
        let mut b = tdf::Reader::builder().calibration(options.calibration);
        if let Some(t) = threads(options.threads)? {
            b = b.threads(t);
        }
        if let Some(n) = batch_rows(options.batch_rows)? {
            b = b.batch_rows(n);
        }
        if let Some(level) = options.ms_level {
            if !(1..=2).contains(&level) {
                return Err(Error::usage(format!("ms_level {level}: expected 1 or 2")));
            }
            b = b.ms_level(level);
        }
        if let Some((first, last)) = options.frames {
            if first > last {
                return Err(Error::usage(format!(
                    "frames {first}:{last}: the first frame id is after the last"
                )));
            }
            b = b.frame_range(first, last);
        }
        if let Some(cols) = &options.columns {
            b = b.columns(cols)?;
        }
        b = b.table(options.table);
        if let Some((lo, hi)) = options.rt {
            b = b.rt(lo, hi)?;
        }
        if let Some((lo, hi)) = options.mobility {
            b = b.mobility(lo, hi)?;
        }
        if let Some((lo, hi)) = options.mz {
            b = b.mz(lo, hi)?;
        }
        if let Some(w) = options.centroid {
            if options.table != tdf::Table::Spectra {
                return Err(Error::usage("centroid applies to the spectra table"));
            }
            b = b.centroid(w);
        }
        let reader = b.build(path)?;
        let schema = reader.schema();
        Ok(Self::new(
            Source::Tdf(Box::new(reader), options.table),
            schema,
        ))
    }

    /// MIDI files and folders (walked recursively for [`midi::EXTENSIONS`]), in sorted path
    /// order ([`midi::Reader`]). A file that cannot be parsed is a `files` row with `error` set,
    /// not an error of the stream.
    pub fn midi<P: AsRef<Path>>(paths: &[P], options: &MidiOptions) -> Result<Self, Error> {
        if paths.is_empty() {
            return Err(Error::usage("no input MIDI files or folders"));
        }
        Self::midi_listed(midi::list_inputs(paths)?, options)
    }

    /// Exactly these MIDI files, in this order (no folder is walked; a file that cannot be
    /// read is a `files` row with `error` set).
    pub(crate) fn midi_listed(paths: Vec<PathBuf>, options: &MidiOptions) -> Result<Self, Error> {
        kernels_env()?;
        let ms = options.merge_window_ms;
        if !(ms.is_finite() && ms >= 0.0) {
            return Err(Error::usage(format!(
                "merge_window_ms {ms}: expected a finite number >= 0"
            )));
        }
        let mut b = midi::Reader::builder()
            .onsets(midi::OnsetOptions {
                velocity_threshold: options.velocity_threshold,
                merge_window_s: ms / 1000.0,
            })
            .key_profile(options.key_profile);
        if let Some(t) = threads(options.threads)? {
            b = b.threads(t);
        }
        if let Some(n) = options.files_per_batch {
            if n == 0 {
                return Err(Error::usage("files_per_batch must be at least 1"));
            }
            b = b.files_per_batch(n);
        }
        let reader = b.build_paths(paths)?;
        let schema = match options.table {
            MidiTable::Notes => midi::notes_schema(),
            MidiTable::Files => midi::files_schema(),
        };
        let source = Source::Midi {
            reader: Box::new(reader),
            table: options.table,
            files_done: false,
            jobs: None,
        };
        Ok(Self::new(source, schema))
    }

    fn new(source: Source, schema: SchemaRef) -> Self {
        Self {
            source,
            schema,
            failed: false,
        }
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch, `Ok(None)` at the end; after an error the stream ends.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        if self.failed {
            return Ok(None);
        }
        // A panic is a bug, but it must not unwind into a C or Python caller (through the Arrow
        // C stream it would abort the process): it ends the stream with an error.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.next_inner()))
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Worker,
                    "internal error: the reader panicked (a bug)",
                ))
            });
        if out.is_err() {
            self.failed = true;
        }
        out
    }

    fn next_inner(&mut self) -> Result<Option<RecordBatch>, Error> {
        match &mut self.source {
            Source::Bam(chain) => chain.next_batch(),
            Source::Tdf(reader, _) => Ok(reader.next_batch()?),
            Source::Midi {
                reader,
                table: MidiTable::Notes,
                jobs: Some(jobs),
                ..
            } => {
                while let Some((notes, files)) = reader.next_job()? {
                    jobs.push(files);
                    if notes.num_rows() > 0 {
                        return Ok(Some(notes));
                    }
                }
                Ok(None)
            }
            Source::Midi {
                reader,
                table: MidiTable::Notes,
                ..
            } => Ok(reader.next_batch()?),
            Source::Midi {
                reader,
                table: MidiTable::Files,
                files_done,
                ..
            } => {
                if *files_done {
                    return Ok(None);
                }
                while reader.next_batch()?.is_some() {}
                *files_done = true;
                Ok(Some(reader.files()))
            }
        }
    }

    /// Rows yielded and work done so far.
    pub fn progress(&self) -> Progress {
        match &self.source {
            Source::Bam(c) => {
                let total = c.sizes.iter().sum();
                let (from, at) = (
                    c.options.byte_range.map_or(0, |r| r.0),
                    c.reader.as_ref().map_or(0, |r| r.compressed_position()),
                );
                Progress {
                    rows: c.rows,
                    done: (c.done_bytes + at.saturating_sub(from)).min(total),
                    total,
                    unit: "bytes",
                }
            }
            Source::Tdf(r, _) => Progress {
                rows: r.rows(),
                done: r.rows(),
                total: r.expected_rows(),
                unit: "rows",
            },
            Source::Midi { reader, table, .. } => {
                let s = reader.summary();
                Progress {
                    rows: match table {
                        MidiTable::Notes => s.notes,
                        MidiTable::Files => s.files,
                    },
                    done: s.files,
                    total: reader.paths().len() as u64,
                    unit: "files",
                }
            }
        }
    }

    /// Warnings since the last call (a BAM without its EOF marker block, ...), as the CLI
    /// prints them.
    pub fn take_warnings(&mut self) -> Vec<String> {
        match &mut self.source {
            Source::Bam(chain) => std::mem::take(&mut chain.warnings),
            Source::Tdf(r, _) => {
                let folder = r.folder().display().to_string();
                r.take_warnings()
                    .into_iter()
                    .map(|w| format!("{folder}: {w}"))
                    .collect()
            }
            Source::Midi { .. } => Vec::new(),
        }
    }

    /// The files this stream reads (for a timsTOF run, its `analysis.tdf` and
    /// `analysis.tdf_bin`), so that an output is never written over one of them.
    pub(crate) fn inputs(&self) -> Vec<PathBuf> {
        match &self.source {
            Source::Bam(c) => c.inputs.iter().map(|i| i.path().to_path_buf()).collect(),
            Source::Tdf(r, _) => {
                let dir = r.folder();
                vec![dir.join("analysis.tdf"), dir.join("analysis.tdf_bin")]
            }
            Source::Midi { reader, .. } => reader.paths().to_vec(),
        }
    }

    /// For a MIDI `notes` stream, the `files` rows of the files read since the last call (the
    /// files of the notes batches yielded since, and of files without notes): what a sink that
    /// commits a job's notes and files together needs. Rows are kept from the first call on
    /// (call it once before reading); empty for other streams.
    pub(crate) fn take_job_files(&mut self) -> Vec<RecordBatch> {
        match &mut self.source {
            Source::Midi {
                table: MidiTable::Notes,
                jobs,
                ..
            } => std::mem::take(jobs.get_or_insert_with(Vec::new)),
            _ => Vec::new(),
        }
    }

    /// The table's name: `records` (BAM), `peaks`, `precursors`, `spectra` or `windows`
    /// (timsTOF), `notes` or `files` (MIDI); a PostgreSQL output's default table.
    pub(crate) fn default_table(&self) -> &'static str {
        match &self.source {
            Source::Bam(_) => "records",
            Source::Tdf(_, table) => table.name(),
            Source::Midi { table, .. } => match table {
                MidiTable::Notes => "notes",
                MidiTable::Files => "files",
            },
        }
    }

    /// The run's name, as MGF titles name it: the input's file name.
    pub(crate) fn run_name(&self) -> String {
        let path = match &self.source {
            Source::Bam(c) => c.inputs.first().map(|i| i.path().to_path_buf()),
            Source::Tdf(r, _) => Some(r.folder().to_path_buf()),
            Source::Midi { reader, .. } => reader.paths().first().cloned(),
        };
        path.and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "run".into())
    }

    /// One line saying what was read in `seconds`, as the CLI prints it after a conversion.
    pub(crate) fn summary_line(&self, seconds: f64, input_bytes: u64) -> String {
        let secs = seconds.max(1e-9);
        match &self.source {
            Source::Bam(c) => format!(
                "{} records in {seconds:.3} s: {:.0} records/s, {:.1} MB/s of BAM",
                c.rows,
                c.rows as f64 / secs,
                input_bytes as f64 / secs / 1e6
            ),
            Source::Tdf(r, tdf::Table::Peaks) => format!(
                "{} frames, {} peaks in {seconds:.3} s: {:.0} peaks/s ({:?} calibration)",
                r.frames(),
                r.rows(),
                r.rows() as f64 / secs,
                r.calibration()
            ),
            Source::Tdf(r, table) => format!(
                "{} {} rows in {seconds:.3} s ({:?} calibration)",
                r.rows(),
                table.name(),
                r.calibration()
            ),
            Source::Midi { reader, .. } => {
                let s = reader.summary();
                format!(
                    "{} files ({} failed, {} with warnings), {} notes in {seconds:.3} s: \
                     {:.0} files/s, {:.0} notes/s",
                    s.files,
                    s.failed,
                    s.warned,
                    s.notes,
                    s.files as f64 / secs,
                    s.notes as f64 / secs
                )
            }
        }
    }

    /// The MIDI `files` table of the files read so far (every file once a `notes` stream is
    /// exhausted); `None` for other formats.
    pub(crate) fn midi_files(&self) -> Option<RecordBatch> {
        match &self.source {
            Source::Midi { reader, .. } => Some(reader.files()),
            _ => None,
        }
    }
}

impl Iterator for BatchStream {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().map_err(ArrowError::from).transpose()
    }
}

impl RecordBatchReader for BatchStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
