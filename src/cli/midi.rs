//! `rawarrow midi ...`

use std::path::PathBuf;

use clap::Args;

use super::Result;

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
    #[arg(long, conflicts_with_all = ["postgres", "table"])]
    files: Option<PathBuf>,
    /// The table to write: notes (one row per note), or files (one row per file, written
    /// once every file is read).
    #[arg(long, default_value = "notes", value_name = "notes|files")]
    table: rawarrow::stream::MidiTable,
    #[command(flatten)]
    pg: super::PgArgs,
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
    key_profile: rawarrow::midi::KeyProfile,
    #[command(flatten)]
    storage: super::StorageArgs,
    #[command(flatten)]
    ipc: super::IpcOptions,
}

pub(super) fn run(args: Midi) -> Result {
    let options = rawarrow::stream::MidiOptions {
        table: args.table,
        threads: args.threads,
        files_per_batch: Some(args.files_per_batch),
        velocity_threshold: args.velocity_threshold,
        merge_window_ms: args.merge_window_ms,
        key_profile: args.key_profile,
        storage_options: args.storage.options.clone(),
    };
    let input = rawarrow::convert::Input::Midi {
        paths: args.inputs.clone(),
        list: args.from_list.clone(),
        options,
    };
    let mut output = args
        .ipc
        .output(args.pg.target(args.output.as_deref()), args.threads);
    output.midi_files = args.files.clone();
    let summary = super::convert(&input, &output, args.ipc.quiet)?;
    let Some(files) = &summary.midi_files else {
        return Ok(());
    };
    let (total, failed) = failures(files);
    if failed > 0 {
        report_failures(files, failed);
    }
    if failed == total && total > 0 {
        return Err(format!("every one of the {total} files failed to parse").into());
    }
    Ok(())
}

/// Files in the files table, and how many failed.
fn failures(files: &arrow_array::RecordBatch) -> (u64, u64) {
    use arrow_array::Array;
    let failed = files
        .column_by_name("error")
        .map_or(0, |e| e.len() - e.null_count());
    (files.num_rows() as u64, failed as u64)
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
