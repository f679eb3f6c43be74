//! Where a conversion's batches go: one [`Sink`] trait, implemented by the Arrow IPC file and
//! stream and Parquet ([`FileSink`]), MGF ([`MgfSink`]), SAM text ([`SamSink`]), PostgreSQL
//! ([`postgres::PgSink`]) and any [`std::io::Write`] ([`WriterSink`]).
//!
//! A sink is opened for a stream's schema, takes batches in order ([`Sink::write`]), and is
//! either finished ([`Sink::finish`]: the output becomes visible whole) or dropped (the abort:
//! a file sink deletes its temporary file, the PostgreSQL sink rolls back what it has not
//! committed). [`crate::convert`] opens the sink an [`crate::convert::Output`] describes and
//! drives it; temporary names, signals, progress and `--stats` live there, once.
//!
//! ```
//! use rawarrow::sink::{OutputFormat, Sink, WriterSink};
//! use rawarrow::stream::{BamOptions, BatchStream};
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
//! let mut stream = BatchStream::bam(&[path], &BamOptions::default())?;
//! // Parquet into memory (any std::io::Write: a socket, a pipe, a file object).
//! let mut sink = WriterSink::new(Vec::new(), "memory", &stream.schema(), OutputFormat::Parquet, None)?;
//! while let Some(batch) = stream.next_batch()? {
//!     sink.write(&batch)?;
//! }
//! let bytes = sink.into_inner()?;
//! assert_eq!(&bytes[..4], b"PAR1");
//! # Ok::<(), rawarrow::Error>(())
//! ```
#![forbid(unsafe_code)]

mod file;
mod mgf;
pub mod postgres;
mod sam;

use std::path::Path;

use arrow_array::RecordBatch;

pub use crate::arrow::OutputFormat;
pub(crate) use file::FileSink;
pub use file::WriterSink;
pub(crate) use mgf::MgfSink;
pub(crate) use sam::SamSink;

use crate::{Error, ErrorKind};

/// A destination of record batches.
pub trait Sink: Send {
    /// Writes one batch of the stream's table.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error>;

    /// Writes a batch of a MIDI `notes` stream together with the `files` rows of the files the
    /// batch's notes come from (and of any file without notes read since the last batch).
    /// Sinks that hold both tables commit them together (PostgreSQL: one transaction, so an
    /// interrupted run can be resumed); the others write the batch alone and take the whole
    /// `files` table elsewhere.
    fn write_job(&mut self, batch: &RecordBatch, files: &[RecordBatch]) -> Result<(), Error> {
        let _ = files;
        self.write(batch)
    }

    /// Completes the output: the file's footer and rename, the last commit.
    fn finish(self: Box<Self>) -> Result<(), Error>;

    /// What the output is, as the summary line names it (`out.arrow`, `postgres table
    /// "public"."notes"`).
    fn describe(&self) -> String;
}

/// The format of a file output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An Arrow IPC file, IPC stream or Parquet file.
    Arrow(crate::arrow::OutputFormat),
    /// Mascot Generic Format: the timsTOF spectra table as text ([`crate::tdf::mgf`]).
    Mgf,
    /// SAM text: BAM records as `samtools view -h` prints them ([`SamSink`]).
    Sam,
}

impl Format {
    /// The format by name (`ipc`/`arrow`/`feather`/`file`, `stream`/`arrows`, `parquet`,
    /// `mgf`, `sam`), else by `path`'s extension (`.arrow`, `.feather`, `.ipc` → IPC file;
    /// `.arrows` → IPC stream; `.parquet` → Parquet; `.mgf` → MGF; `.sam` → SAM). Standard output (`-`) and devices or
    /// pipes default to the IPC file format; any other name needs the explicit format.
    pub fn of(path: &Path, explicit: Option<&str>) -> Result<Self, Error> {
        use crate::arrow::OutputFormat as F;
        if let Some(name) = explicit {
            return match name.to_ascii_lowercase().as_str() {
                "ipc" | "arrow" | "feather" | "file" => Ok(Self::Arrow(F::IpcFile)),
                "stream" | "arrows" => Ok(Self::Arrow(F::IpcStream)),
                "parquet" => Ok(Self::Arrow(F::Parquet)),
                "mgf" => Ok(Self::Mgf),
                "sam" => Ok(Self::Sam),
                _ => Err(Error::usage(format!(
                    "unknown output format {name:?}; expected ipc, stream, parquet, mgf or sam"
                ))),
            };
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("arrow" | "feather" | "ipc") => Ok(Self::Arrow(F::IpcFile)),
            Some("arrows") => Ok(Self::Arrow(F::IpcStream)),
            Some("parquet") => Ok(Self::Arrow(F::Parquet)),
            Some("mgf") => Ok(Self::Mgf),
            Some("sam") => Ok(Self::Sam),
            _ if path == Path::new("-")
                || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) =>
            {
                Ok(Self::Arrow(F::IpcFile))
            }
            _ => Err(Error::usage(format!(
                "{}: cannot tell the output format from the name; name it .arrow, .arrows, \
                 .parquet, .mgf or .sam, or give the format (ipc, stream, parquet, mgf, sam)",
                path.display()
            ))),
        }
    }

    /// The file name extension of this format.
    pub fn extension(self) -> &'static str {
        use crate::arrow::OutputFormat as F;
        match self {
            Self::Arrow(F::IpcFile) => "arrow",
            Self::Arrow(F::IpcStream) => "arrows",
            Self::Arrow(F::Parquet) => "parquet",
            Self::Mgf => "mgf",
            Self::Sam => "sam",
        }
    }
}

/// An output failure about `path` (the destination, not the temporary file).
pub(crate) fn output_error(path: &Path, e: arrow_schema::ArrowError) -> Error {
    use arrow_schema::ArrowError;
    let named = |m: &str| {
        if m.starts_with(&*path.to_string_lossy()) {
            m.to_string()
        } else {
            format!("{}: {m}", path.display())
        }
    };
    match e {
        ArrowError::IoError(m, io) => Error::from(io).named(path, named(&m)),
        ArrowError::InvalidArgumentError(m) => Error::usage(String::new()).named(path, named(&m)),
        other => Error::new(ErrorKind::Io, String::new()).named(path, named(&other.to_string())),
    }
}
