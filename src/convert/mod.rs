//! The one conversion path: a stream written to a sink, with progress reports, warnings, a way
//! to stop and run statistics. The CLI, the Python package's `convert_*` functions and the C
//! ABI's `rawarrow_convert` all call [`run`] (or [`convert`] with a stream they opened).
//!
//! A file output is written under a temporary name beside the destination and renamed only
//! when everything was written: an error, or a stop asked for by the hook, leaves nothing. A
//! PostgreSQL output commits as [`crate::sink::postgres`] says.
//!
//! ```
//! use rawarrow::convert::{run, Input, Output};
//! use rawarrow::stream::BamOptions;
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
//! let dir = tempfile::tempdir()?;
//! let out = dir.path().join("sample.arrow");
//! let input = Input::Bam { paths: vec![path.into()], options: BamOptions::default() };
//! let summary = run(&input, &Output::new(&out), &mut |_progress, _warnings| Ok(()))?;
//! assert_eq!(summary.rows, 4000);
//! assert!(out.exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::RecordBatch;

pub use crate::arrow::Compression;
use crate::arrow::SinkOptions;
use crate::sink::postgres::{Key, PgSink};
use crate::sink::{FileSink, Format, MgfSink, SamSink, Sink, WriterSink};
use crate::stats::Phase;
use crate::stream::{BamOptions, BatchStream, MidiOptions, Progress, TdfOptions};
use crate::Error;

mod output;

use output::Shared;
pub use output::{Output, Target};

/// What to read: a format, its inputs and its options — what [`run`] opens.
#[derive(Debug, Clone)]
pub enum Input {
    /// BAM files, one after the other ([`BatchStream::bam`]).
    Bam {
        /// The files (`-`: standard input).
        paths: Vec<PathBuf>,
        /// The reader's options.
        options: BamOptions,
    },
    /// A timsTOF `.d` folder ([`BatchStream::tdf`]).
    Tdf {
        /// The folder.
        path: PathBuf,
        /// The reader's options.
        options: TdfOptions,
    },
    /// MIDI files and folders ([`BatchStream::midi`]).
    Midi {
        /// Files and folders (walked recursively).
        paths: Vec<PathBuf>,
        /// Also the files listed in this file, one path per line (`-`: standard input); a
        /// listed file that cannot be read is a `files` row with `error` set.
        list: Option<PathBuf>,
        /// The reader's options.
        options: MidiOptions,
    },
}

impl Input {
    fn open_after(&self, done: &crate::sink::postgres::Committed) -> Result<BatchStream, Error> {
        match self {
            Self::Bam { paths, options } => BatchStream::bam(paths, options),
            Self::Tdf { path, options } => {
                let mut options = options.clone();
                if let Some(last) = done.last_frame {
                    let (first, end) = options.frames.unwrap_or((1, u32::MAX));
                    let first = first.max(last.saturating_add(1));
                    // Everything committed: a range past the run's last frame reads nothing.
                    options.frames = Some((first, end.max(first)));
                }
                BatchStream::tdf(path, &options)
            }
            Self::Midi {
                paths,
                list,
                options,
            } => {
                let mut files = midi_paths(paths, list.as_deref(), &options.storage_options)?;
                if !done.files.is_empty() {
                    files.retain(|p| {
                        let (size, mtime) = crate::sink::postgres::stamp(p);
                        !done
                            .files
                            .contains(&(p.to_string_lossy().into_owned(), size, mtime))
                    });
                }
                BatchStream::midi_listed(files, options)
            }
        }
    }

    /// The table a PostgreSQL output writes by default, and its natural key.
    fn table(&self) -> (&'static str, Key) {
        match self {
            Self::Bam { .. } => ("records", Key::None),
            Self::Tdf { options, .. } => match options.table {
                crate::tdf::Table::Peaks => ("peaks", Key::Frame),
                t => (t.name(), Key::None),
            },
            Self::Midi { options, .. } => match options.table {
                crate::stream::MidiTable::Notes => ("notes", Key::Files),
                crate::stream::MidiTable::Files => ("files", Key::None),
            },
        }
    }
}

/// The MIDI files of `inputs` (folders walked) and of the list file, sorted, once each.
fn midi_paths(
    inputs: &[PathBuf],
    list: Option<&Path>,
    storage: &[(String, String)],
) -> Result<Vec<PathBuf>, Error> {
    let mut paths = crate::midi::reader::list(inputs, storage)?;
    if let Some(list) = list {
        let listed = if list.as_os_str() == "-" {
            crate::midi::read_list(std::io::stdin().lock())
        } else {
            std::fs::File::open(list)
                .and_then(|f| crate::midi::read_list(std::io::BufReader::new(f)))
        }
        .map_err(|e| {
            let message = format!("{}: cannot read the list of files: {e}", list.display());
            Error::from(e).named(list, message)
        })?;
        paths.extend(listed);
        paths.sort();
        paths.dedup();
    }
    if paths.is_empty() {
        let mut names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        names.extend(list.map(|p| p.display().to_string()));
        // Nothing to read where the caller pointed: like a missing file (exit 1), not a usage
        // error.
        return Err(Error::new(
            crate::ErrorKind::Io,
            format!(
                "no MIDI files ({}) in {}",
                crate::midi::EXTENSIONS
                    .iter()
                    .map(|e| format!(".{e}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                names.join(", ")
            ),
        ));
    }
    Ok(paths)
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
    /// Every warning of the stream (also handed to the hook as they came).
    pub warnings: Vec<String>,
    /// What was written, as the summary line names it.
    pub(crate) output: String,
    /// One line saying what was read and how fast, as the CLI prints it.
    pub line: String,
    /// For a MIDI stream: the `files` table (one row per file read, `error` set where one
    /// failed).
    pub midi_files: Option<RecordBatch>,
    /// Phases, CPU per thread, bytes and memory, when [`Output::stats`] asked for them.
    pub(crate) stats: Option<crate::stats::Stats>,
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
                return Err(Error::usage(format!(
                    "{}: the output is the input {}; choose another output name",
                    output.display(),
                    input.display()
                )));
            }
        }
    }
    Ok(())
}

/// The progress hook: called with the progress and the warnings since the last call, once
/// before the first batch and after every batch; an error it returns (such as
/// [`Error::interrupted`]) stops the conversion and is returned.
pub type Hook<'a> = dyn FnMut(Progress, &[String]) -> Result<(), Error> + 'a;

/// Opens `input` and writes it to `output`: the PostgreSQL connection first (a bad URL stops
/// before anything is read), then the stream (resumed after what an earlier run committed,
/// with [`Postgres::resume`](crate::sink::postgres::Postgres::resume)), then the sink.
pub fn run(input: &Input, output: &Output, hook: &mut Hook<'_>) -> Result<Summary, Error> {
    let mut rec = output.stats.as_ref().map(|_| crate::stats::Recorder::new());
    let (table, key) = input.table();
    let mut client = None;
    let mut done = Default::default();
    if let Target::Postgres(pg) = &output.target {
        let mut c = crate::sink::postgres::connect(&pg.url)?;
        if pg.resume {
            if key == Key::None {
                return Err(Error::usage(format!(
                    "resume: the {table} table has no natural key to continue from (MIDI \
                     notes and timsTOF peaks have one); it is written in one transaction, so \
                     an interrupted run left nothing: run it again without resume"
                )));
            }
            let name = pg.table.as_deref().unwrap_or(table);
            done = crate::sink::postgres::committed(&mut c, pg, name, key)?;
        }
        client = Some(c);
    }
    let mut stream = input.open_after(&done)?;
    pump(&mut stream, output, client, key, &mut rec, hook)
}

/// Writes every batch of an open `stream` to `output` (see [`run`]; without resume).
pub fn convert(
    stream: &mut BatchStream,
    output: &Output,
    hook: &mut Hook<'_>,
) -> Result<Summary, Error> {
    let mut rec = output.stats.as_ref().map(|_| crate::stats::Recorder::new());
    let client = match &output.target {
        Target::Postgres(pg) if pg.resume => {
            return Err(Error::usage(format!(
                "resume: a {} stream opened by the caller is written from its start;                  continuing a stopped run needs its inputs by name (convert::run)",
                stream.default_table()
            )))
        }
        Target::Postgres(pg) => Some(crate::sink::postgres::connect(&pg.url)?),
        Target::Path(_) | Target::Writer(_) => None,
    };
    let key = match (stream.midi_files(), stream.default_table()) {
        (Some(_), "notes") => Key::Files,
        (_, "peaks") => Key::Frame,
        _ => Key::None,
    };
    pump(stream, output, client, key, &mut rec, hook)
}

/// The sink `output` describes for `stream`.
fn open_sink(
    stream: &BatchStream,
    output: &Output,
    client: Option<postgres::Client>,
    key: Key,
) -> Result<Box<dyn Sink>, Error> {
    let schema = stream.schema();
    match (&output.target, client) {
        (Target::Postgres(pg), Some(client)) => {
            if output.midi_files.is_some() {
                return Err(Error::usage(
                    "a PostgreSQL output writes the MIDI files table itself (table files); \
                     give no separate files output",
                ));
            }
            let table = pg.table.as_deref().unwrap_or(stream.default_table());
            Ok(Box::new(PgSink::create(client, pg, table, &schema, key)?))
        }
        (Target::Path(path), _) => {
            check_output(path, &stream.inputs())?;
            Ok(match Format::of(path, output.format.as_deref())? {
                Format::Arrow(format) => Box::new(FileSink::create(
                    path,
                    &schema,
                    &SinkOptions {
                        format,
                        compression: output.compression,
                        threads: output.threads,
                        ..Default::default()
                    },
                )?),
                Format::Mgf => {
                    if output.compression.is_some() {
                        return Err(Error::usage("MGF is text: it takes no compression"));
                    }
                    Box::new(MgfSink::create(path, &schema, &stream.run_name())?)
                }
                Format::Sam => {
                    if output.compression.is_some() {
                        return Err(Error::usage("SAM is text: it takes no compression"));
                    }
                    Box::new(SamSink::create(path, &schema)?)
                }
            })
        }
        (Target::Writer(w), _) => match Format::of(Path::new("-"), output.format.as_deref())? {
            Format::Arrow(format) => Ok(Box::new(WriterSink::new(
                Shared(w.clone()),
                "the output writer",
                &schema,
                format,
                output.compression,
            )?)),
            text => Err(Error::usage(format!(
                "{} goes to a file (a path), not to a writer",
                text.extension().to_uppercase()
            ))),
        },
        (Target::Postgres(_), None) => unreachable!("connected before the stream was opened"),
    }
}

fn files_sink(stream: &BatchStream, output: &Output) -> Result<Option<FileSink>, Error> {
    let Some(path) = &output.midi_files else {
        return Ok(None);
    };
    if stream.midi_files().is_none() || stream.default_table() != "notes" {
        return Err(Error::usage(format!(
            "{}: a files table is only written for a MIDI notes stream",
            path.display()
        )));
    }
    check_output(path, &stream.inputs())?;
    let format = match Format::of(path, output.format.as_deref())? {
        Format::Arrow(f) => f,
        text @ (Format::Mgf | Format::Sam) => {
            return Err(Error::usage(format!(
                "{}: the MIDI files table cannot be {}",
                path.display(),
                text.extension().to_uppercase()
            )))
        }
    };
    let options = SinkOptions {
        format,
        compression: output.compression,
        threads: output.threads,
        ..Default::default()
    };
    Ok(Some(FileSink::create(
        path,
        &crate::midi::files_schema(),
        &options,
    )?))
}

/// The loop every conversion runs.
fn pump(
    stream: &mut BatchStream,
    output: &Output,
    client: Option<postgres::Client>,
    key: Key,
    rec: &mut Option<crate::stats::Recorder>,
    hook: &mut Hook<'_>,
) -> Result<Summary, Error> {
    let started = Instant::now();
    let mut warnings = Vec::new();
    let mut report = |stream: &mut BatchStream, hook: &mut Hook<'_>| {
        let new = stream.take_warnings();
        warnings.extend(new.iter().cloned());
        hook(stream.progress(), &new)
    };
    let files = files_sink(stream, output)?;
    let mut sink = open_sink(stream, output, client, key)?;
    let jobs = key == Key::Files;
    if jobs {
        // Starts keeping each job's files rows (nothing is read yet).
        let _ = stream.take_job_files();
    }
    let phase = |rec: &mut Option<crate::stats::Recorder>, p| {
        if let Some(r) = rec {
            r.phase(p);
        }
    };
    let (mut rows, mut batches) = (0u64, 0u64);
    report(stream, hook)?;
    phase(rec, Phase::Read);
    loop {
        let batch = match stream.next_batch() {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                // The warnings that came before the error are part of its story.
                let _ = report(stream, hook);
                return Err(e);
            }
        };
        phase(rec, Phase::Write);
        if jobs {
            sink.write_job(&batch, &stream.take_job_files())?;
        } else {
            sink.write(&batch)?;
        }
        rows += batch.num_rows() as u64;
        batches += 1;
        drop(batch);
        if let Some(r) = rec {
            r.sample();
        }
        report(stream, hook)?;
        phase(rec, Phase::Read);
    }
    phase(rec, Phase::Finish);
    if jobs {
        let rest = stream.take_job_files();
        if !rest.is_empty() {
            let empty = RecordBatch::new_empty(stream.schema());
            sink.write_job(&empty, &rest)?;
        }
    }
    let midi_files = stream.midi_files();
    let mut files = files;
    if let (Some(s), Some(table)) = (&mut files, &midi_files) {
        s.write(table)?;
    }
    let described = sink.describe();
    sink.finish()?;
    if let Some(s) = files {
        Box::new(s).finish()?;
    }
    // Warnings of the end (a BAM without its EOF marker block) are reported too.
    let late = stream.take_warnings();
    if !late.is_empty() {
        warnings.extend(late.iter().cloned());
        hook(stream.progress(), &late)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let input_bytes = stream
        .inputs()
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let stats = match rec.take() {
        Some(r) => {
            let stats = r.finish(rows, input_bytes, output.path());
            if let Some(path) = &output.stats {
                write_stats(path, &stats)?;
            }
            Some(stats)
        }
        None => None,
    };
    Ok(Summary {
        rows,
        batches,
        seconds,
        progress: stream.progress(),
        warnings,
        line: stream.summary_line(seconds, input_bytes),
        output: described,
        midi_files,
        stats,
    })
}

/// Writes the statistics' JSON to `path` (under a temporary name, renamed when complete).
fn write_stats(path: &Path, stats: &crate::stats::Stats) -> Result<(), Error> {
    use std::io::Write;
    let fail = |e: std::io::Error| {
        let message = format!("{}: {e}", path.display());
        Error::from(e).named(path, message)
    };
    let (mut file, pending) = crate::io::create_output(path).map_err(fail)?;
    file.write_all(stats.to_json().as_bytes()).map_err(fail)?;
    pending.commit(&file).map_err(fail)
}
