//! `rawarrow midi ...`

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{progress_bar, Result};
use crate::midi::{list_inputs, OnsetOptions, Reader};

/// Reads Standard MIDI Files (named, or found in folders by extension: .mid .midi .kar .rmi
/// .smf) in parallel; writes one `notes` table in sorted path order and, with --files, a
/// `files` table (one row per file; corrupt files get `error` set instead of stopping the run).
#[derive(Debug, Args)]
pub(super) struct Midi {
    /// Files and folders (folders are walked recursively).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output Arrow IPC file for the notes table (`-` for standard output).
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the files table (one row per input file) to this Arrow IPC file.
    #[arg(long)]
    files: Option<PathBuf>,
    /// Worker threads (default: the cores available).
    #[arg(short, long)]
    threads: Option<usize>,
    /// Files per job and per notes batch.
    #[arg(long, default_value_t = 256)]
    files_per_batch: usize,
    /// Onset detection: notes with velocity at or below this are ignored.
    #[arg(long, default_value_t = 0)]
    velocity_threshold: u8,
    /// Onset detection: notes within this many milliseconds of an onset join it.
    #[arg(long, default_value_t = 30.0)]
    merge_window_ms: f64,
    #[command(flatten)]
    ipc: super::IpcOptions,
}

pub(super) fn run(args: Midi) -> Result {
    let started = Instant::now();
    if !(args.merge_window_ms >= 0.0 && args.merge_window_ms.is_finite()) {
        return Err("--merge-window-ms must be a finite number >= 0".into());
    }
    let paths = list_inputs(&args.inputs)?;
    let total = paths.len() as u64;
    let mut builder = Reader::builder()
        .files_per_batch(args.files_per_batch)
        .onsets(OnsetOptions {
            velocity_threshold: args.velocity_threshold,
            merge_window_s: args.merge_window_ms / 1000.0,
        });
    if let Some(t) = args.threads {
        builder = builder.threads(t);
    }
    let mut reader = builder.build_paths(paths)?;
    let mut notes = args.ipc.sink(&args.output, &crate::midi::notes_schema())?;
    let mut files = match &args.files {
        Some(p) => Some(args.ipc.sink(p, &crate::midi::files_schema())?),
        None => None,
    };
    let bar = progress_bar(
        total,
        "{bar:40} {pos}/{len} files {per_sec} ETA {eta} {msg}",
        args.ipc.quiet,
    );
    while let Some(batch) = reader.next_batch()? {
        notes.write(&batch)?;
        if let Some(bar) = &bar {
            let s = reader.summary();
            bar.set_position(s.files);
            bar.set_message(format!("{} notes, {} failed", s.notes, s.failed));
        }
    }
    if let Some(f) = &mut files {
        f.write(&reader.files())?;
    }
    notes.finish()?;
    if let Some(f) = files {
        f.finish()?;
    }
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
    Ok(())
}
