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

mod registry;

pub use crate::bam::stream::BamOptions;
pub use crate::format::{Progress, Split};
pub use crate::midi::stream::{MidiOptions, MidiTable};
pub use crate::tdf::stream::TdfOptions;
pub use registry::{detect, plan};

use std::fmt;
use std::path::{Path, PathBuf};

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};

use crate::format::Source;
use crate::{bam, midi, tdf};
use crate::{Error, ErrorKind};

/// Arrow record batches from one of the readers, with its options checked and its errors as
/// [`Error`]. An `Iterator` of `Result<RecordBatch, ArrowError>` (the errors wrap [`Error`])
/// and a `Send` [`RecordBatchReader`].
pub struct BatchStream {
    source: Box<dyn Source>,
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
        let chain = bam::stream::open(paths, options)?;
        let schema = chain.schema();
        Ok(Self::new(Box::new(chain), schema))
    }

    /// BAM inputs already made ([`Input::stream`](crate::io::Input::stream): a Python file
    /// object, a socket, any [`Read`](std::io::Read); or opened files), as one chain as
    /// [`bam`](Self::bam) reads paths. A stream is read once, front to back: regions and byte
    /// ranges on it are usage errors.
    pub fn bam_inputs(inputs: Vec<crate::io::Input>, options: &BamOptions) -> Result<Self, Error> {
        let chain = bam::stream::open_inputs(inputs, options)?;
        let schema = chain.schema();
        Ok(Self::new(Box::new(chain), schema))
    }

    /// A timsTOF `.d` folder ([`tdf::Reader`]).
    pub fn tdf(path: impl AsRef<Path>, options: &TdfOptions) -> Result<Self, Error> {
        let source = tdf::stream::open(path.as_ref(), options)?;
        let schema = source.schema();
        Ok(Self::new(Box::new(source), schema))
    }

    /// MIDI files and folders (walked recursively for [`midi::EXTENSIONS`]), in sorted path
    /// order ([`midi::Reader`]). A file that cannot be parsed is a `files` row with `error` set,
    /// not an error of the stream.
    pub fn midi<P: AsRef<Path>>(paths: &[P], options: &MidiOptions) -> Result<Self, Error> {
        if paths.is_empty() {
            return Err(Error::usage("no input MIDI files or folders"));
        }
        Self::midi_listed(
            midi::reader::list(paths, &options.storage_options)?,
            options,
        )
    }

    /// MIDI files the caller opened (each a [`crate::io::Input`]: a stream such as a Python
    /// file object, read whole by the worker that parses it; a file; bytes in memory), in this
    /// order, named by their paths. A file that cannot be read or parsed is a `files` row with
    /// `error` set.
    pub fn midi_inputs(
        inputs: Vec<crate::io::Input>,
        options: &MidiOptions,
    ) -> Result<Self, Error> {
        if inputs.is_empty() {
            return Err(Error::usage("no input MIDI files"));
        }
        let source = midi::stream::open_inputs(inputs, options)?;
        let schema = source.schema();
        Ok(Self::new(Box::new(source), schema))
    }

    /// Exactly these MIDI files, in this order (no folder is walked; a file that cannot be
    /// read is a `files` row with `error` set).
    pub(crate) fn midi_listed(paths: Vec<PathBuf>, options: &MidiOptions) -> Result<Self, Error> {
        let source = midi::stream::open(paths, options)?;
        let schema = source.schema();
        Ok(Self::new(Box::new(source), schema))
    }

    fn new(source: Box<dyn Source>, schema: SchemaRef) -> Self {
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
        let out =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.source.next_batch()))
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

    /// Rows yielded and work done so far.
    pub fn progress(&self) -> Progress {
        self.source.progress()
    }

    /// Warnings since the last call (a BAM without its EOF marker block, ...), as the CLI
    /// prints them.
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.source.take_warnings()
    }

    /// The files this stream reads (for a timsTOF run, its `analysis.tdf` and
    /// `analysis.tdf_bin`), so that an output is never written over one of them.
    pub(crate) fn inputs(&self) -> Vec<PathBuf> {
        self.source.inputs()
    }

    /// For a MIDI `notes` stream, the `files` rows of the files read since the last call (the
    /// files of the notes batches yielded since, and of files without notes): what a sink that
    /// commits a job's notes and files together needs. Rows are kept from the first call on
    /// (call it once before reading); empty for other streams.
    pub(crate) fn take_job_files(&mut self) -> Vec<RecordBatch> {
        self.source.take_job_files()
    }

    /// The table's name: `records` (BAM), `peaks`, `precursors`, `spectra` or `windows`
    /// (timsTOF), `notes` or `files` (MIDI); a PostgreSQL output's default table.
    pub(crate) fn default_table(&self) -> &'static str {
        self.source.table()
    }

    /// The run's name, as MGF titles name it: the input's file name.
    pub(crate) fn run_name(&self) -> String {
        self.source
            .run_path()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "run".into())
    }

    /// One line saying what was read in `seconds`, as the CLI prints it after a conversion.
    pub(crate) fn summary_line(&self, seconds: f64, input_bytes: u64) -> String {
        self.source.summary_line(seconds, input_bytes)
    }

    /// The MIDI `files` table of the files read so far (every file once a `notes` stream is
    /// exhausted); `None` for other formats.
    pub(crate) fn midi_files(&self) -> Option<RecordBatch> {
        self.source.companion()
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
