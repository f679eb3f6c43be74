//! `rawarrow midi ...`

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{progress_bar, Result};
use crate::midi::{list_inputs, read_list, OnsetOptions, Reader};

/// Reads Standard MIDI Files (named, or found in folders by extension: .mid .midi .kar .rmi
/// .smf) in parallel; writes one `notes` table in sorted path order and, with --files, a
/// `files` table (one row per file; corrupt files get `error` set instead of stopping the run).
#[derive(Debug, Args)]
pub(super) struct Midi {
    /// Files and folders (folders are walked recursively).
    #[arg(required_unless_present = "from_list")]
    inputs: Vec<PathBuf>,
    /// Also read the files listed in FILE, one path per line (`-`: standard input); a listed
    /// file that cannot be read is a `files` row with `error` set, not a stop.
    #[arg(long, value_name = "FILE")]
    from_list: Option<PathBuf>,
    /// Output Arrow IPC file for the notes table (`-` for standard output).
    #[arg(
        short,
        long,
        required_unless_present = "postgres",
        conflicts_with = "postgres"
    )]
    output: Option<PathBuf>,
    /// Also write the files table (one row per input file) to this Arrow IPC file.
    #[arg(long, conflicts_with = "postgres")]
    files: Option<PathBuf>,
    /// Write the `notes` and `files` tables into PostgreSQL instead (created if missing, else
    /// appended to), each job's files and notes in one transaction: an interrupted run loses at
    /// most the job in flight. `files` gains `size` and `mtime_ns`. URL:
    /// `postgresql://user@host/db` or `host=/run/postgresql dbname=db`.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// The PostgreSQL schema of the tables.
    #[arg(long, default_value = "public", requires = "postgres")]
    schema: String,
    /// Skip the files whose path, size and modification time already have a `files` row, so a
    /// rerun continues where an interrupted one stopped.
    #[arg(long, requires = "postgres")]
    resume: bool,
    /// Worker threads for reading and for encoding the output (with more than one, a writer
    /// thread writes it; default: the cores available).
    #[arg(short, long, value_parser = super::at_least_one)]
    threads: Option<usize>,
    /// Files per job and per notes batch.
    #[arg(long, default_value_t = 256, value_parser = super::at_least_one)]
    files_per_batch: usize,
    /// Onset detection: notes with velocity at or below this are ignored.
    #[arg(long, default_value_t = 0)]
    velocity_threshold: u8,
    /// Onset detection: notes within this many milliseconds of an onset join it.
    #[arg(long, default_value_t = 30.0)]
    merge_window_ms: f64,
    /// Key profile for `files.key_estimate`: krumhansl (Krumhansl–Kessler, as music21's
    /// `analyze('krumhansl')`), aarden (Aarden–Essen, music21's default `analyze('key')`) or
    /// temperley (Kostka–Payne).
    #[arg(long, default_value = "krumhansl")]
    key_profile: crate::midi::KeyProfile,
    #[command(flatten)]
    ipc: super::IpcOptions,
}

pub(super) fn run(args: Midi) -> Result {
    let started = Instant::now();
    if !(args.merge_window_ms >= 0.0 && args.merge_window_ms.is_finite()) {
        return Err("--merge-window-ms must be a finite number >= 0".into());
    }
    // The database first: a bad URL or a refused connection stops before any file is read.
    let mut db = match &args.postgres {
        Some(url) => Some(Db::open(url, &args.schema)?),
        None => None,
    };
    let mut paths = list_inputs(&args.inputs)?;
    if let Some(list) = &args.from_list {
        let listed = if list.as_os_str() == "-" {
            read_list(std::io::stdin().lock())
        } else {
            std::fs::File::open(list).and_then(|f| read_list(std::io::BufReader::new(f)))
        }
        .map_err(|e| format!("{}: cannot read the list of files: {e}", list.display()))?;
        paths.extend(listed);
        paths.sort();
        paths.dedup();
    }
    if paths.is_empty() {
        let mut names: Vec<String> = args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        names.extend(args.from_list.iter().map(|p| p.display().to_string()));
        return Err(format!(
            "no MIDI files (.mid .midi .kar .rmi .smf) in {}",
            names.join(", ")
        )
        .into());
    }
    if let Some(db) = &mut db {
        if args.resume {
            let before = paths.len();
            paths = db.not_done(paths)?;
            if !args.ipc.quiet {
                eprintln!(
                    "rawarrow: resuming: {} of {before} files already in {}",
                    before - paths.len(),
                    db.files.name()
                );
            }
        }
        return to_postgres(db, &args, paths, started);
    }
    let output = args
        .output
        .clone()
        .expect("clap requires --output without --postgres");
    crate::convert::check_output(&output, &paths)?;
    args.ipc.format(&output)?;
    if let Some(f) = &args.files {
        crate::convert::check_output(f, &paths)?;
        args.ipc.format(f)?;
    }
    let total = paths.len() as u64;
    let builder = reader_builder(&args);
    let mut stats = args.ipc.recorder();
    let input_bytes: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let mut reader = builder.build_paths(paths)?;
    let mut notes = args
        .ipc
        .sink(&output, &crate::midi::notes_schema(), args.threads)?;
    let mut files = match &args.files {
        Some(p) => Some(
            args.ipc
                .sink(p, &crate::midi::files_schema(), args.threads)?,
        ),
        None => None,
    };
    let bar = progress_bar(
        total,
        "{bar:40} {pos}/{len} files {per_sec} ETA {eta} {msg}",
        args.ipc.quiet,
    );
    stats.pump(
        &mut reader,
        |r| Ok(r.next_batch()?),
        |r, batch| {
            notes.write(&batch)?;
            if let Some(bar) = &bar {
                let s = r.summary();
                bar.set_position(s.files);
                bar.set_message(format!("{} notes, {} failed", s.notes, s.failed));
            }
            Ok(())
        },
    )?;
    if let Some(f) = &mut files {
        f.write(&reader.files())?;
    }
    notes.finish()?;
    if let Some(f) = files {
        f.finish()?;
    }
    let rows = reader.summary().notes;
    let path = args.ipc.stats.clone();
    stats.write(path.as_deref(), rows, input_bytes, &output)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    finish(&reader, &args, started)
}

fn reader_builder(args: &Midi) -> crate::midi::ReaderBuilder {
    let mut builder = Reader::builder()
        .files_per_batch(args.files_per_batch)
        .onsets(OnsetOptions {
            velocity_threshold: args.velocity_threshold,
            merge_window_s: args.merge_window_ms / 1000.0,
        })
        .key_profile(args.key_profile);
    if let Some(t) = args.threads {
        builder = builder.threads(t);
    }
    builder
}

/// The summary line, the first failures, and a failure when every file failed.
fn finish(reader: &Reader, args: &Midi, started: Instant) -> Result {
    if !args.ipc.quiet {
        let s = reader.summary();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "rawarrow: {} files ({} failed, {} with warnings), {} notes in {secs:.3} s: \
             {:.0} files/s, {:.0} notes/s",
            s.files,
            s.failed,
            s.warned,
            s.notes,
            s.files as f64 / secs,
            s.notes as f64 / secs
        );
    }
    let s = reader.summary();
    if s.failed > 0 {
        report_failures(&reader.files(), s.failed);
    }
    if s.failed == s.files && s.files > 0 {
        return Err(format!("every one of the {} files failed to parse", s.files).into());
    }
    Ok(())
}

/// The first failed files and why, on stderr (all of them are in the files table).
fn report_failures(files: &arrow_array::RecordBatch, failed: u64) {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    const SHOWN: usize = 5;
    let (Some(file), Some(error)) = (files.column_by_name("file"), files.column_by_name("error"))
    else {
        return;
    };
    let file = file.as_dictionary::<arrow_array::types::Int32Type>();
    let names = file.values().as_string::<i32>();
    let error = error.as_string::<i32>();
    let mut shown = 0;
    for i in 0..files.num_rows() {
        if error.is_valid(i) && shown < SHOWN {
            let name = names.value(file.keys().value(i) as usize);
            eprintln!("rawarrow: failed: {name}: {}", error.value(i));
            shown += 1;
        }
    }
    if failed > SHOWN as u64 {
        eprintln!(
            "rawarrow: ... and {} more failed files (the files table lists every one)",
            failed - SHOWN as u64
        );
    }
}

/// The PostgreSQL tables of a run.
struct Db {
    client: postgres::Client,
    notes: crate::pg::PgTable,
    files: crate::pg::PgTable,
}

/// The `files` table as stored in PostgreSQL: the Arrow `files` table, then the file's size and
/// modification time (what `--resume` compares).
fn pg_files_schema() -> arrow_schema::SchemaRef {
    use arrow_schema::{DataType, Field, Schema};
    let base = crate::midi::files_schema();
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("size", DataType::Int64, true));
    fields.push(Field::new("mtime_ns", DataType::Int64, true));
    std::sync::Arc::new(Schema::new(fields))
}

/// A file's size and modification time in nanoseconds since the epoch.
fn stamp(path: &std::path::Path) -> (Option<i64>, Option<i64>) {
    let Ok(m) = std::fs::metadata(path) else {
        return (None, None);
    };
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok());
    (i64::try_from(m.len()).ok(), mtime)
}

impl Db {
    fn open(url: &str, schema: &str) -> Result<Self> {
        let mut client = crate::pg::connect(url)?;
        let notes =
            crate::pg::PgTable::create(&mut client, schema, "notes", &crate::midi::notes_schema())?;
        let files = crate::pg::PgTable::create(&mut client, schema, "files", &pg_files_schema())?;
        Ok(Self {
            client,
            notes,
            files,
        })
    }

    /// The paths without a `files` row of the same path, size and modification time.
    fn not_done(&mut self, paths: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
        let query = format!("SELECT file, size, mtime_ns FROM {}", self.files.name());
        let rows = self
            .client
            .query(query.as_str(), &[])
            .map_err(|e| format!("postgres: reading {}: {e}", self.files.name()))?;
        let mut done = std::collections::HashSet::with_capacity(rows.len());
        for r in rows {
            let (file, size, mtime): (String, Option<i64>, Option<i64>) =
                (r.get(0), r.get(1), r.get(2));
            done.insert((file, size, mtime));
        }
        Ok(paths
            .into_iter()
            .filter(|p| {
                let (size, mtime) = stamp(p);
                !done.contains(&(p.to_string_lossy().into_owned(), size, mtime))
            })
            .collect())
    }
}

/// Reads `paths` and commits each job's notes and files rows in one transaction.
fn to_postgres(db: &mut Db, args: &Midi, paths: Vec<PathBuf>, started: Instant) -> Result {
    use arrow_array::cast::AsArray;
    let total = paths.len() as u64;
    let bar = progress_bar(
        total,
        "{bar:40} {pos}/{len} files {per_sec} ETA {eta} {msg}",
        args.ipc.quiet,
    );
    let mut reader = reader_builder(args).build_paths(paths)?;
    let schema = pg_files_schema();
    while let Some((notes, files)) = reader.next_job()? {
        super::check_signal_then(
            "the jobs committed so far are kept (--resume continues from them)",
        )?;
        let keys = files
            .column(0)
            .as_dictionary::<arrow_array::types::Int32Type>()
            .keys()
            .clone();
        let stamps: Vec<(Option<i64>, Option<i64>)> = keys
            .values()
            .iter()
            .map(|&k| stamp(&reader.paths()[k as usize]))
            .collect();
        let mut columns = files.columns().to_vec();
        columns.push(std::sync::Arc::new(
            stamps
                .iter()
                .map(|s| s.0)
                .collect::<arrow_array::Int64Array>(),
        ));
        columns.push(std::sync::Arc::new(
            stamps
                .iter()
                .map(|s| s.1)
                .collect::<arrow_array::Int64Array>(),
        ));
        let files = arrow_array::RecordBatch::try_new(schema.clone(), columns)?;
        let mut tx = db
            .client
            .transaction()
            .map_err(|e| format!("postgres: starting a transaction: {e}"))?;
        if notes.num_rows() > 0 {
            db.notes.copy(&mut tx, &notes)?;
        }
        db.files.copy(&mut tx, &files)?;
        tx.commit()
            .map_err(|e| format!("postgres: committing a job: {e}"))?;
        if let Some(bar) = &bar {
            let s = reader.summary();
            bar.set_position(s.files);
            bar.set_message(format!("{} notes, {} failed", s.notes, s.failed));
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    finish(&reader, args, started)
}
