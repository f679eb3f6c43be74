//! `read_midi`, `convert_midi` and the Ray datasource's MIDI plan.

use std::path::PathBuf;

use pyo3::prelude::*;
use rawarrow::stream::{BatchStream as Stream, MidiOptions, MidiTable};
use rawarrow::Error;

use crate::*;

pub(crate) fn midi_options(
    table: &str,
    threads: Option<usize>,
    files_per_batch: Option<usize>,
    velocity_threshold: u8,
    merge_window_ms: f64,
    key_profile: &str,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> Result<MidiOptions, Error> {
    Ok(MidiOptions {
        table: table.parse::<MidiTable>()?,
        threads,
        files_per_batch,
        velocity_threshold,
        merge_window_ms,
        key_profile: key_profile.parse().map_err(Error::usage)?,
        storage_options: storage_options.unwrap_or_default().into_iter().collect(),
    })
}

/// Reads Standard MIDI Files as a stream of Arrow record batches, in sorted path order.
///
/// Args:
///     paths: files and folders (folders are walked recursively for .mid .midi .kar .rmi .smf),
///         or URLs; or a binary file object, or a sequence of them (each read whole, named
///         by its `name`).
///     table: "notes" (one row per note) or "files" (one row per file, one batch at the end).
///     threads: worker threads (default: the cores this process may use).
///     files_per_batch: files per job and per notes batch (default 256).
///     velocity_threshold: onset detection ignores notes at or below this velocity.
///     merge_window_ms: onset detection merges notes within this many milliseconds.
///     key_profile: "krumhansl" (music21's analyze('krumhansl')), "aarden" or "temperley".
///     storage_options: settings of paths given as URLs, as for read_bam; a URL ending in "/"
///         is every MIDI object under that prefix (s3://, gs://, az://), other URLs are files
///         (https:// too), each fetched whole.
///
/// notes: file Dictionary(Int32, Utf8), track UInt16, channel, pitch, velocity UInt8,
/// onset_tick, offset_tick UInt64, onset_s, duration_s Float64, program UInt8 (the channel's
/// program at the onset, per track as pretty_midi keeps it), is_drum Boolean (channel 10).
/// files: file, format, ppq (null for SMPTE), tracks, notes, duration_s, tempo_bpm_meta,
/// tempo_bpm_estimate, error (null when parsed), warnings (null when nothing was odd),
/// key_estimate ("E- major", as music21 spells keys), key_confidence (the correlation),
/// key_signature_meta, time_signature ("3/4", the first), time_signature_changes,
/// programs List<UInt8>, has_drums, pitch_min, pitch_max, note_density (notes/s),
/// max_polyphony.
/// A corrupt file is a files row with error set; it never stops the stream.
#[pyfunction]
#[pyo3(signature = (paths, *, table="notes", threads=None, files_per_batch=None, velocity_threshold=0, merge_window_ms=30.0, key_profile="krumhansl", storage_options=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_midi(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    table: &str,
    threads: Option<usize>,
    files_per_batch: Option<usize>,
    velocity_threshold: u8,
    merge_window_ms: f64,
    key_profile: &str,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<PyBatchStream> {
    let objects = file_objects(paths)?;
    let paths = match objects {
        Some(_) => Vec::new(),
        None => self::paths(paths)?,
    };
    let options = midi_options(
        table,
        threads,
        files_per_batch,
        velocity_threshold,
        merge_window_ms,
        key_profile,
        storage_options,
    )
    .map_err(|e| py_err(py, e))?;
    match objects {
        Some(inputs) => open(py, move || Stream::midi_inputs(inputs, &options)),
        None => open(py, || Stream::midi(&paths, &options)),
    }
}

/// Converts MIDI files and folders to an Arrow IPC notes table in process, as `rawarrow midi`
/// does.
///
/// Args:
///     inputs: files and folders (or file objects, as for read_midi).
///     output: the notes table's destination; format, compression, postgres, schema,
///         pg_table, resume, stats and progress as for convert_bam (progress reports (notes,
///         files done, files)); into PostgreSQL, the files table goes to table "files".
///     files: also write the files table (one row per file) to this path.
///     table: "notes" (default) or "files": the table `output` gets.
///     threads, files_per_batch, velocity_threshold, merge_window_ms, key_profile,
///         storage_options: as for read_midi.
///
/// Returns (notes written, seconds).
#[pyfunction]
#[pyo3(signature = (inputs, output=None, *, files=None, format=None, compression=None, postgres=None, schema=None, pg_table=None, resume=false, stats=None, table="notes", threads=None, files_per_batch=None, velocity_threshold=0, merge_window_ms=30.0, key_profile="krumhansl", progress=None, storage_options=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn convert_midi(
    py: Python<'_>,
    inputs: &Bound<'_, PyAny>,
    output: Option<&Bound<'_, PyAny>>,
    files: Option<PathBuf>,
    format: Option<String>,
    compression: Option<&str>,
    postgres: Option<String>,
    schema: Option<String>,
    pg_table: Option<String>,
    resume: bool,
    stats: Option<PathBuf>,
    table: &str,
    threads: Option<usize>,
    files_per_batch: Option<usize>,
    velocity_threshold: u8,
    merge_window_ms: f64,
    key_profile: &str,
    progress: Option<&Bound<'_, PyAny>>,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<(u64, f64)> {
    let objects = file_objects(inputs)?;
    let paths = match objects {
        Some(_) => Vec::new(),
        None => self::paths(inputs)?,
    };
    let options = midi_options(
        table,
        threads,
        files_per_batch,
        velocity_threshold,
        merge_window_ms,
        key_profile,
        storage_options,
    )
    .map_err(|e| py_err(py, e))?;
    let pg = Pg {
        postgres,
        schema,
        pg_table,
        resume,
        stats,
    };
    let out = self::output(dest(output)?, pg, format, compression, files, threads)
        .map_err(|e| py_err(py, e))?;
    let s = match objects {
        Some(inputs) => {
            let open = move || Stream::midi_inputs(inputs, &options);
            run_convert(
                py,
                crate::convert::Conversion::Stream(Box::new(open)),
                out,
                progress,
            )?
        }
        None => {
            let input = rawarrow::convert::Input::Midi {
                paths,
                list: None,
                options,
            };
            run_convert(py, input, out, progress)?
        }
    };
    Ok((s.rows, s.seconds))
}

/// Plans file-list splits of MIDI inputs: [(paths, bytes)] (used by rawarrow.ray).
#[pyfunction]
#[pyo3(signature = (paths, files_per_split, storage_options=None))]
pub(crate) fn _plan_midi(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    files_per_split: usize,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<Vec<(Vec<String>, u64)>> {
    let paths = self::paths(paths)?;
    let storage: Vec<(String, String)> = storage_options.unwrap_or_default().into_iter().collect();
    let splits = py
        .detach(|| rawarrow::stream::plan("midi", &paths, files_per_split as u64, &storage))
        .map_err(|e| py_err(py, e))?;
    Ok(splits
        .into_iter()
        .filter_map(|s| match s {
            rawarrow::stream::Split::Midi { paths, bytes } => {
                Some((paths.iter().map(|p| text(p)).collect(), bytes))
            }
            _ => None,
        })
        .collect())
}
