//! Bruker timsTOF `.d` folders → Arrow: one row per peak with SDK-exact m/z and 1/K0.
//!
//! A `.d` folder holds `analysis.tdf` (SQLite: frames, calibrations, isolation windows; read by
//! [`meta`]) and `analysis.tdf_bin` (one zstd-compressed blob per frame; decoded by [`frame`] with
//! the kernels' byte-plane unshuffle and per-scan delta decode). [`calib`] converts TOF indices and
//! scan numbers with the instrument's own models (`bruker`, default when the tables exist) or
//! timsrust's boundary models (`estimate`). [`Reader`] decodes frames in parallel on the pinned
//! pool into arena-backed batches, in frame order.
//!
//! Columns (docs/SCHEMAS.md): `frame`, `scan`, `tof`, `intensity` (UInt32), `mz`, `mobility` (1/K0),
//! `rt` (Float64, seconds), `ms_level` (UInt8: 1, 2, or 0 for an unknown MsMsType),
//! `window_group` (UInt32, DIA), `isolation_mz`, `isolation_width` (Float64) and `precursor`
//! (UInt32, ddaPASEF): the isolation window whose scan range holds the peak's scan in its
//! frame, null for MS1 peaks and for scans outside every window.

pub mod calib;
pub mod frame;
pub mod meta;
pub mod mgf;
mod reader;
mod slice;
pub mod synth;
mod tables;

use std::fmt;
use std::path::PathBuf;

pub use reader::{schema, Calibration, Reader, ReaderBuilder, COLUMNS};
pub use tables::{
    precursors_schema, spectra_schema, windows_schema, Table, PRECURSOR_COLUMNS, SPECTRUM_COLUMNS,
    WINDOW_COLUMNS,
};

/// Errors of the timsTOF reader; each names the file and, for frame data, the frame id and the
/// byte offset in `analysis.tdf_bin`.
#[derive(Debug)]
pub enum Error {
    /// The `.d` folder or one of its files cannot be opened.
    Open {
        /// The path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// `analysis.tdf` is missing a table, a column or a value, or holds one out of range.
    Metadata {
        /// `analysis.tdf`.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A frame blob is corrupt or disagrees with its `Frames` row.
    Frame {
        /// `analysis.tdf_bin`.
        path: PathBuf,
        /// Frame id.
        frame: u32,
        /// Byte offset in `analysis.tdf_bin`.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A bad option (unknown column, ...).
    Options(String),
    /// A worker thread panicked (a bug; reported instead of hanging).
    Worker,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, message } | Self::Metadata { path, message } => {
                write!(f, "{}: {message}", path.display())
            }
            Self::Frame {
                path,
                frame,
                offset,
                message,
            } => write!(
                f,
                "{}: frame {frame} at offset {offset}: {message}",
                path.display()
            ),
            Self::Options(m) => f.write_str(m),
            Self::Worker => f.write_str("a worker thread panicked"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for arrow_schema::ArrowError {
    fn from(e: Error) -> Self {
        arrow_schema::ArrowError::ExternalError(Box::new(e))
    }
}
