//! A whole conversion in process: a [`BatchStream`] written to an output file, with progress
//! reports and a way to stop, as the CLI converts and as the Python package's `convert_*`
//! functions call it.
//!
//! The output is written under a temporary name beside the destination and renamed only when
//! everything was written: an error, or a stop asked for by the progress hook, leaves nothing.
//!
//! ```
//! use rawarrow::convert::{convert, Output};
//! use rawarrow::stream::{BamOptions, BatchStream};
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
//! let dir = tempfile::tempdir()?;
//! let out = dir.path().join("sample.arrow");
//! let mut stream = BatchStream::bam(&[path], &BamOptions::default())?;
//! let summary = convert(&mut stream, &Output::new(&out), &mut |_progress| Ok(()))?;
//! assert_eq!(summary.rows, 4000);
//! assert!(out.exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_schema::ArrowError;

use crate::arrow::{Compression, OutputFormat, Sink, SinkOptions};
use crate::stats::Phase;
use crate::stream::{BatchStream, Error, ErrorKind, Progress};

/// Where and how a conversion writes.
#[derive(Debug, Clone)]
pub struct Output {
    /// The destination (`-` for standard output).
    pub path: PathBuf,
    /// The format by name (see [`format()`]); `None`: from the file name's extension.
    pub format: Option<String>,
    /// Compression (`None`: none for IPC, zstd for Parquet).
    pub compression: Option<Compression>,
    /// For a MIDI `notes` stream: also write the `files` table to this path (same format).
    pub midi_files: Option<PathBuf>,
    /// Threads encoding and writing the output (see [`crate::arrow::SinkOptions::threads`]);
    /// `None`: the cores this process may use.
    pub threads: Option<usize>,
}

impl Output {
    /// An output to `path`, format from its name, the format's default compression.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            format: None,
            compression: None,
            midi_files: None,
            threads: None,
        }
    }
}

/// What a conversion did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Rows written to the main output.
    pub rows: u64,
    /// Batches written.
    pub batches: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The stream's final progress.
    pub progress: Progress,
    /// Phases, CPU per thread, bytes and memory of the conversion (the stream was opened
    /// before, so `open` covers only the outputs).
    pub stats: crate::stats::Stats,
}

/// Compression by name: `none` (or `uncompressed`), `lz4`, `zstd`.
pub fn compression(name: &str) -> Result<Compression, Error> {
    match name {
        "none" | "uncompressed" => Ok(Compression::None),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        _ => Err(Error::new(
            ErrorKind::Usage,
            format!("unknown compression {name:?}; expected none, lz4 or zstd"),
        )),
    }
}

/// The output format for `path`: by the explicit name (`ipc`/`arrow`/`feather`/`file`,
/// `stream`/`arrows`, `parquet`), else by the file name's extension (`.arrow`, `.feather`,
/// `.ipc` → IPC file; `.arrows` → IPC stream; `.parquet` → Parquet). Standard output (`-`) and
/// devices or pipes default to the IPC file format; any other name needs the explicit format.
pub fn format(path: &Path, explicit: Option<&str>) -> Result<OutputFormat, Error> {
    let usage = |m: String| Error::new(ErrorKind::Usage, m);
    if let Some(name) = explicit {
        return match name.to_ascii_lowercase().as_str() {
            "ipc" | "arrow" | "feather" | "file" => Ok(OutputFormat::IpcFile),
            "stream" | "arrows" => Ok(OutputFormat::IpcStream),
            "parquet" => Ok(OutputFormat::Parquet),
            _ => Err(usage(format!(
                "unknown output format {name:?}; expected ipc, stream or parquet"
            ))),
        };
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("arrow" | "feather" | "ipc") => Ok(OutputFormat::IpcFile),
        Some("arrows") => Ok(OutputFormat::IpcStream),
        Some("parquet") => Ok(OutputFormat::Parquet),
        _ if path == Path::new("-")
            || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) =>
        {
            Ok(OutputFormat::IpcFile)
        }
        _ => Err(usage(format!(
            "{}: cannot tell the output format from the name; name it .arrow, .arrows or \
             .parquet, or give the format (ipc, stream, parquet)",
            path.display()
        ))),
    }
}

/// Refuses an output that is one of the inputs (the same file, also through a symbolic or
/// hard link), before anything is written.
pub fn check_output(output: &Path, inputs: &[PathBuf]) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let Ok(out) = std::fs::metadata(output) else {
        return Ok(()); // not there yet: it cannot be an input
    };
    if !out.is_file() {
        return Ok(()); // standard output, a device or a pipe
    }
    for input in inputs {
        if let Ok(m) = std::fs::metadata(input) {
            if (m.dev(), m.ino()) == (out.dev(), out.ino()) {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!(
                        "{}: the output is the input {}; choose another output name",
                        output.display(),
                        input.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn sink(path: &Path, schema: &arrow_schema::SchemaRef, output: &Output) -> Result<Sink, Error> {
    let options = SinkOptions {
        format: format(path, output.format.as_deref())?,
        compression: output.compression,
        threads: output.threads,
        ..Default::default()
    };
    Sink::with_options(path, schema, &options).map_err(|e| output_error(path, e))
}

/// An output failure, naming the destination (not the temporary file).
pub(crate) fn output_error(path: &Path, e: ArrowError) -> Error {
    let named = |m: &str| {
        if m.starts_with(&*path.to_string_lossy()) {
            m.to_string()
        } else {
            format!("{}: {m}", path.display())
        }
    };
    match e {
        ArrowError::IoError(m, io) => Error::from(io).named(path, named(&m)),
        other => Error::new(ErrorKind::Io, String::new()).named(path, named(&other.to_string())),
    }
}

/// Writes every batch of `stream` to `output`. `hook` is called after every batch with the
/// progress so far; an error it returns (such as [`Error::interrupted`]) stops the conversion,
/// removes the temporary file and is returned.
pub fn convert(
    stream: &mut BatchStream,
    output: &Output,
    hook: &mut dyn FnMut(Progress) -> Result<(), Error>,
) -> Result<Summary, Error> {
    let started = Instant::now();
    let files = match (&output.midi_files, stream.midi_files()) {
        (Some(p), Some(_)) => Some(p.clone()),
        (Some(p), None) => {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "{}: a files table is only written for a MIDI notes stream",
                    p.display()
                ),
            ))
        }
        (None, _) => None,
    };
    let inputs = stream.inputs();
    check_output(&output.path, &inputs)?;
    if let Some(p) = &files {
        check_output(p, &inputs)?;
    }
    let mut main = sink(&output.path, &stream.schema(), output)?;
    let mut files_sink = match &files {
        Some(p) => Some(sink(p, &crate::midi::files_schema(), output)?),
        None => None,
    };
    let (mut rows, mut batches) = (0u64, 0u64);
    hook(stream.progress())?;
    let mut rec = crate::stats::Recorder::new();
    rec.phase(Phase::Read);
    while let Some(batch) = stream.next_batch()? {
        rec.phase(Phase::Write);
        main.write(&batch)
            .map_err(|e| output_error(&output.path, e))?;
        rows += batch.num_rows() as u64;
        batches += 1;
        drop(batch);
        rec.sample();
        hook(stream.progress())?;
        rec.phase(Phase::Read);
    }
    rec.phase(Phase::Finish);
    if let (Some(s), Some(p)) = (&mut files_sink, &files) {
        let table = stream
            .midi_files()
            .expect("checked to be a MIDI stream above");
        s.write(&table).map_err(|e| output_error(p, e))?;
    }
    main.finish().map_err(|e| output_error(&output.path, e))?;
    if let (Some(s), Some(p)) = (files_sink, &files) {
        s.finish().map_err(|e| output_error(p, e))?;
    }
    let input_bytes = stream
        .inputs()
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    Ok(Summary {
        rows,
        batches,
        seconds: started.elapsed().as_secs_f64(),
        progress: stream.progress(),
        stats: rec.finish(rows, input_bytes, Some(&output.path)),
    })
}
