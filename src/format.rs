//! The format seam: what every format hands the stream, and how a format registers.
//!
//! A format is its folder (`bam/`, `tdf/`, `midi/`) plus one [`Format`] in the registry
//! (`stream::registry::FORMATS`): its name, how its inputs are recognised, and how its inputs
//! are cut into splits; its options are declared once in `crate::options`, and its stream
//! module (`bam::stream`, ...) holds its option struct and opens a [`Source`] from it; [`BatchStream`](crate::stream::BatchStream), conversions, the
//! planning of splits, Python and C reach every format through these two types. Recognising
//! inputs by their first bytes ([`Kind::of`]) lives here, once, for every format.
//!
//! This module sits below the formats and the stream (it imports neither), so neither imports
//! the other through it.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use crate::Error;

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
    /// Pieces of input decompressed so far: BGZF blocks (BAM; a CRAM container counts as one),
    /// frames (timsTOF peaks) or files (MIDI). What a pushed-down region or slice saves shows
    /// here.
    pub blocks: u64,
}

/// Pieces of input that readers on different machines read independently, as a cluster engine
/// plans them (the Python package's `rawarrow.ray`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// The records of a BAM file that begin in blocks at compressed offsets `start..end`
    /// ([`BamOptions::byte_range`](crate::stream::BamOptions::byte_range)).
    Bam {
        /// The file.
        path: PathBuf,
        /// First compressed offset of the range.
        start: u64,
        /// End of the range (exclusive).
        end: u64,
    },
    /// The frames `first..=last` of a timsTOF run ([`TdfOptions::frames`](crate::stream::TdfOptions::frames)).
    Tdf {
        /// The `.d` folder.
        path: PathBuf,
        /// First frame id.
        first: u32,
        /// Last frame id (inclusive).
        last: u32,
        /// Peaks the frames declare.
        peaks: u64,
    },
    /// A list of MIDI files.
    Midi {
        /// The files.
        paths: Vec<PathBuf>,
        /// Their size in bytes.
        bytes: u64,
    },
}

/// What a format's reader hands the stream: batches, and what the stream reports about them.
pub(crate) trait Source: Send {
    /// The next batch, `Ok(None)` at the end.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error>;

    /// Rows yielded and work done so far.
    fn progress(&self) -> Progress;

    /// Warnings since the last call, as the CLI prints them.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// The files read, so that an output is never written over one of them.
    fn inputs(&self) -> Vec<PathBuf>;

    /// The table's name: a PostgreSQL output's default table.
    fn table(&self) -> &'static str;

    /// The input that names the run (MGF titles): the first file, or the folder.
    fn run_path(&self) -> Option<PathBuf>;

    /// One line saying what was read in `seconds`, as the CLI prints it after a conversion.
    fn summary_line(&self, seconds: f64, input_bytes: u64) -> String;

    /// The rows of a companion table for the batches yielded since the last call (MIDI: the
    /// `files` rows of the files whose notes were yielded): what a sink that commits both
    /// tables together per job needs. Kept from the first call on; empty by default.
    fn take_job_files(&mut self) -> Vec<RecordBatch> {
        Vec::new()
    }

    /// The companion table of every input read so far (MIDI: `files`); `None` by default.
    fn companion(&self) -> Option<RecordBatch> {
        None
    }
}

/// How a format plans splits: inputs, about how many units per split, storage options.
pub(crate) type Planner = fn(&[PathBuf], u64, &[(String, String)]) -> Result<Vec<Split>, Error>;

/// One format, registered once.
pub(crate) struct Format {
    /// Its name: the CLI command, the Python function suffix, the registry key.
    pub(crate) name: &'static str,
    /// Whether an input of this [`Kind`] is this format.
    pub(crate) reads: fn(Kind) -> bool,
    /// Cuts `paths` into splits of about `size` units (bytes, peaks, files).
    pub(crate) plan: Planner,
}

/// What an input is, from its first bytes (or, for a folder, from what it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// BGZF blocks, or plain gzip (the BAM reader inflates either; its header decides).
    Gzip,
    /// A CRAM file (`CRAM` magic).
    Cram,
    /// SAM text (a header line or a tab-separated record).
    Sam,
    /// A Standard MIDI File (`MThd`, or the `RIFF`/`RMID` wrapper).
    Smf,
    /// A folder holding `analysis.tdf`: a timsTOF `.d` run.
    TimsTof,
    /// A folder without `analysis.tdf` (the MIDI reader walks folders).
    Folder,
    /// An empty file.
    Empty,
    /// None of the above.
    Unknown,
}

impl Kind {
    /// The kind of a file from its first bytes (at least the first 4 KiB where the file has
    /// them).
    pub(crate) fn of(head: &[u8]) -> Self {
        if head.is_empty() {
            return Self::Empty;
        }
        if head.starts_with(b"CRAM") {
            return Self::Cram;
        }
        if head.starts_with(&[0x1f, 0x8b]) {
            return Self::Gzip;
        }
        if head.starts_with(b"MThd")
            || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"RMID"))
        {
            return Self::Smf;
        }
        let head = &head[..head.len().min(4096)];
        let line = head.split(|&c| c == b'\n').next().unwrap_or(head);
        let text = line
            .iter()
            .all(|&c| c == b'\t' || c == b'\r' || (b' '..=b'~').contains(&c));
        if text && (line.starts_with(b"@") || line.contains(&b'\t')) {
            return Self::Sam;
        }
        Self::Unknown
    }

    /// The kind of the file or folder at `path`.
    pub(crate) fn of_path(path: &Path) -> Result<Self, Error> {
        if path.is_dir() {
            return Ok(if path.join("analysis.tdf").is_file() {
                Self::TimsTof
            } else {
                Self::Folder
            });
        }
        let input = crate::io::Input::open(path)?;
        let kind = Self::of(&input.head(4096)?);
        input.check()?;
        Ok(kind)
    }

    /// What the input is, for an error saying it is not the format expected.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Empty => "the file is empty",
            Self::Cram => {
                "it is a CRAM file (rawarrow reads CRAM as BAM: `rawarrow bam`, `read_bam`)"
            }
            Self::Sam => "it is SAM text (rawarrow reads BAM; convert it with `samtools view -b`)",
            Self::Gzip => "it is gzip data",
            Self::Smf => "it is a Standard MIDI File",
            Self::TimsTof => "it is a timsTOF .d folder",
            Self::Folder => "it is a folder",
            Self::Unknown => {
                "its first bytes are not those of a format rawarrow reads (BAM, a timsTOF .d \
                 folder, a Standard MIDI File)"
            }
        }
    }
}

/// An invalid `RAWARROW_KERNELS` is a usage error when a stream opens.
pub(crate) fn kernels_env() -> Result<(), Error> {
    rawarrow_kernels::cpu::check_env().map_err(Error::usage)
}

/// A count option of a stream: `Some(0)` is a usage error naming it.
pub(crate) fn at_least_one(name: &str, n: Option<usize>) -> Result<Option<usize>, Error> {
    match n {
        Some(0) => Err(Error::usage(format!("{name} must be at least 1"))),
        n => Ok(n),
    }
}
