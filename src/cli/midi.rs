//! `rawarrow midi ...`

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{progress_bar, Result};
use crate::midi::{list_inputs, read_list, OnsetOptions, Reader};
use crate::stats::Phase;

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
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the files table (one row per input file) to this Arrow IPC file.
    #[arg(long)]
    files: Option<PathBuf>,
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
    crate::convert::check_output(&args.output, &paths)?;
    args.ipc.format(&args.output)?;
    if let Some(f) = &args.files {
        crate::convert::check_output(f, &paths)?;
        args.ipc.format(f)?;
    }
    let total = paths.len() as u64;
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
    let mut stats = args.ipc.recorder();
    let input_bytes: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let mut reader = builder.build_paths(paths)?;
    let mut notes = args
        .ipc
        .sink(&args.output, &crate::midi::notes_schema(), args.threads)?;
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
    stats.phase(Phase::Read);
    while let Some(batch) = reader.next_batch()? {
        stats.phase(Phase::Write);
        super::check_signal()?;
        notes.write(&batch)?;
        if let Some(bar) = &bar {
            let s = reader.summary();
            bar.set_position(s.files);
            bar.set_message(format!("{} notes, {} failed", s.notes, s.failed));
        }
        stats.sample();
        stats.phase(Phase::Read);
    }
    stats.phase(Phase::Finish);
    if let Some(f) = &mut files {
        f.write(&reader.files())?;
    }
    notes.finish()?;
    if let Some(f) = files {
        f.finish()?;
    }
    let rows = reader.summary().notes;
    let path = args.ipc.stats.clone();
    stats.write(path.as_deref(), rows, input_bytes, &args.output)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
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
    if s.failed == s.files {
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
