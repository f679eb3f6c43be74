//! The readers' option structs as the stream takes them, and their checks.

use crate::Error;
use crate::{bam, midi, tdf};

/// An invalid `RAWARROW_KERNELS` is a usage error when a stream opens.
pub(super) fn kernels_env() -> Result<(), Error> {
    rawarrow_kernels::cpu::check_env().map_err(Error::usage)
}

pub(super) fn threads(n: Option<usize>) -> Result<Option<usize>, Error> {
    match n {
        Some(0) => Err(Error::usage("threads must be at least 1")),
        n => Ok(n),
    }
}

pub(super) fn batch_rows(n: Option<usize>) -> Result<Option<usize>, Error> {
    match n {
        Some(0) => Err(Error::usage("batch_rows must be at least 1")),
        n => Ok(n),
    }
}

/// Options of [`BatchStream::bam`]; the default reads every column on every core.
#[derive(Debug, Clone, Default)]
pub struct BamOptions {
    /// Columns to decode, in schema order whatever order they are given in
    /// (`None`: all of [`bam::COLUMNS`]).
    pub columns: Option<Vec<String>>,
    /// Typed tag columns: `NM`, or `NM:TYPE` (see [`bam::ReaderBuilder::tags`]).
    pub tags: Vec<String>,
    /// Threads in all, each inflating or decoding (`None`: the cores this process may use; see
    /// [`bam::ReaderBuilder::threads`]).
    pub threads: Option<usize>,
    /// Rows per batch (`None`: 65,536).
    pub batch_rows: Option<usize>,
    /// Stop after this many records of each input.
    pub limit: Option<u64>,
    /// Only the records that begin in BGZF blocks at compressed offsets `start..end` (one
    /// input only; see [`bam::ReaderBuilder::byte_range`]).
    pub byte_range: Option<(u64, u64)>,
    /// Only the records these keep (MAPQ and FLAG, as `samtools view -q/-f/-F`).
    pub filter: bam::Filter,
    /// Only the records overlapping these regions (samtools' syntax), through each input's
    /// index (see [`bam::ReaderBuilder::regions`]).
    pub regions: Vec<String>,
    /// The index for `regions` (one input only; default: the one beside each input).
    pub index: Option<std::path::PathBuf>,
    /// Add a `file` column (Dictionary(Int32, Utf8): the input's path) saying where each row
    /// came from.
    pub with_file: bool,
}

/// Options of [`BatchStream::tdf`].
#[derive(Debug, Clone, Default)]
pub struct TdfOptions {
    /// Only frames of this MS level (1 or 2).
    pub ms_level: Option<u8>,
    /// Only frames with ids in `first..=last`.
    pub frames: Option<(u32, u32)>,
    /// The m/z and 1/K0 models.
    pub calibration: tdf::Calibration,
    /// Only these columns, kept in schema order (`None`: all of [`tdf::COLUMNS`]).
    pub columns: Option<Vec<String>>,
    /// Worker threads (`None`: the cores this process may use).
    pub threads: Option<usize>,
    /// Target rows per batch, whole frames (`None`: 262,144).
    pub batch_rows: Option<usize>,
    /// The table: peaks, precursors, spectra or windows.
    pub table: tdf::Table,
    /// Only frames (peaks) or precursors with rt in `[lo, hi]` seconds.
    pub rt: Option<(f64, f64)>,
    /// Only scans (peaks) or precursors with 1/K0 in `[lo, hi]`.
    pub mobility: Option<(f64, f64)>,
    /// Only peaks or precursors with m/z in `[lo, hi]`.
    pub mz: Option<(f64, f64)>,
    /// Spectra smoothed and centroided over this many TOF indices (timsrust's rule).
    pub centroid: Option<u32>,
}

/// The table a MIDI stream yields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MidiTable {
    /// One row per note ([`midi::notes_schema`]).
    #[default]
    Notes,
    /// One row per file ([`midi::files_schema`]), yielded as one batch once every file is read.
    Files,
}

impl std::str::FromStr for MidiTable {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "notes" => Ok(Self::Notes),
            "files" => Ok(Self::Files),
            _ => Err(Error::usage(format!(
                "unknown MIDI table {s:?}; the tables are notes, files"
            ))),
        }
    }
}

impl std::str::FromStr for tdf::Calibration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(Self::Auto),
            "bruker" => Ok(Self::Bruker),
            "estimate" => Ok(Self::Estimate),
            _ => Err(Error::usage(format!(
                "unknown calibration {s:?}; expected auto, bruker or estimate"
            ))),
        }
    }
}

/// Options of [`BatchStream::midi`].
#[derive(Debug, Clone)]
pub struct MidiOptions {
    /// The table to yield.
    pub table: MidiTable,
    /// Worker threads (`None`: the cores this process may use).
    pub threads: Option<usize>,
    /// Files per job and per `notes` batch (`None`: 256).
    pub files_per_batch: Option<usize>,
    /// Onset detection: notes with velocity at or below this are ignored.
    pub velocity_threshold: u8,
    /// Onset detection: notes within this many milliseconds of an onset join it.
    pub merge_window_ms: f64,
    /// Key profile of `files.key_estimate`.
    pub key_profile: midi::KeyProfile,
}

impl Default for MidiOptions {
    fn default() -> Self {
        let onsets = midi::OnsetOptions::default();
        Self {
            table: MidiTable::Notes,
            threads: None,
            files_per_batch: None,
            velocity_threshold: onsets.velocity_threshold,
            merge_window_ms: onsets.merge_window_s * 1000.0,
            key_profile: midi::KeyProfile::default(),
        }
    }
}

/// How far a stream has got, in the input's own unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Rows yielded so far.
    pub rows: u64,
    /// Work done so far, in `unit`.
    pub done: u64,
    /// All the work, in `unit`.
    pub total: u64,
    /// `"bytes"` (compressed BAM bytes), `"rows"` (timsTOF: peaks, precursors, spectra or windows) or `"files"` (MIDI).
    pub unit: &'static str,
}
