//! Bruker timsTOF `.d` folders → Arrow: one row per peak with SDK-exact m/z and 1/K0.
//!
//! A `.d` folder holds `analysis.tdf` (SQLite: frames, calibrations, isolation windows; read by
//! the internal `meta` module) and `analysis.tdf_bin` (one zstd-compressed blob per frame;
//! decoded by `frame` with the kernels' byte-plane unshuffle and per-scan delta decode). `calib`
//! converts TOF indices and scan numbers with the instrument's own models ([`Calibration`]:
//! `Bruker`, default when the tables exist) or timsrust's boundary models (`Estimate`). [`Reader`] decodes frames in parallel on the pinned
//! pool into arena-backed batches, in frame order.
//!
//! Columns (docs/SCHEMAS.md): `frame`, `scan`, `tof`, `intensity` (UInt32), `mz`, `mobility` (1/K0),
//! `rt` (Float64, seconds), `ms_level` (UInt8: 1, 2, or 0 for an unknown MsMsType),
//! `window_group` (UInt32, DIA), `isolation_mz`, `isolation_width` (Float64) and `precursor`
//! (UInt32, ddaPASEF): the isolation window whose scan range holds the peak's scan in its
//! frame, null for MS1 peaks and for scans outside every window.

mod blobs;
mod builder;
pub(crate) mod calib;
pub(crate) mod frame;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod meta;
pub(crate) mod mgf;
mod peaks;
mod reader;
mod run;
mod slice;
mod spectra;
pub(crate) mod stream;
pub mod synth;
mod tables;

use std::fmt;
use std::path::PathBuf;

pub use builder::ReaderBuilder;
pub(crate) use peaks::{schema, COLUMNS};
pub use reader::{Calibration, Reader};
pub use tables::Table;

/// An error of the timsTOF reader: what kind, where (the file; for frame data the frame id
/// and the byte offset in `analysis.tdf_bin`), the message, and the cause underneath (SQLite's
/// error, the operating system's) as [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
    frame: Option<u32>,
    offset: Option<u64>,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// What kind of failure a timsTOF [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The `.d` folder or one of its files cannot be opened, or (in an object store) its
    /// bytes cannot be fetched.
    Open,
    /// `analysis.tdf` is missing a table, a column or a value, or holds one out of range.
    Metadata,
    /// A frame blob is corrupt or disagrees with its `Frames` row.
    Frame,
    /// A bad option (unknown column, empty slice, ...).
    Options,
    /// A worker thread failed (a bug; reported instead of hanging).
    Worker,
    /// `analysis.tdf_bin` shrank while it was read (another process truncated it).
    Shrunk,
}

impl Error {
    fn new(kind: ErrorKind, path: Option<PathBuf>, message: String) -> Self {
        Self {
            kind,
            path,
            frame: None,
            offset: None,
            message,
            source: None,
        }
    }

    pub(crate) fn open(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Open, Some(path.into()), message.into())
    }

    /// The bytes of `path` from `offset` could not be read (a fetch that failed).
    pub(crate) fn read(path: impl Into<PathBuf>, offset: u64, message: impl Into<String>) -> Self {
        Self {
            offset: Some(offset),
            ..Self::new(ErrorKind::Open, Some(path.into()), message.into())
        }
    }

    pub(crate) fn metadata(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Metadata, Some(path.into()), message.into())
    }

    pub(crate) fn frame_data(
        path: impl Into<PathBuf>,
        frame: u32,
        offset: u64,
        message: impl Into<String>,
    ) -> Self {
        Self {
            frame: Some(frame),
            offset: Some(offset),
            ..Self::new(ErrorKind::Frame, Some(path.into()), message.into())
        }
    }

    /// `analysis.tdf_bin` shrank while it was read: its bytes from `cut.offset()` were gone.
    pub(crate) fn shrunk(cut: crate::io::Shrunk) -> Self {
        Self {
            offset: Some(cut.offset()),
            ..Self::new(ErrorKind::Shrunk, Some(cut.path().into()), cut.reason())
        }
        .caused_by(cut)
    }

    pub(crate) fn options(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Options, None, message.into())
    }

    pub(crate) fn worker() -> Self {
        Self::new(ErrorKind::Worker, None, "a worker thread panicked".into())
    }

    /// Worker threads could not be started.
    pub(crate) fn threads(e: std::io::Error) -> Self {
        let message = format!("cannot start worker threads: {e}");
        Self::new(ErrorKind::Worker, None, message).caused_by(e)
    }

    /// The same error caused by `source`.
    pub(crate) fn caused_by(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The file or folder at fault (none for options and worker failures).
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// The frame id, for frame data.
    pub(crate) fn frame(&self) -> Option<u32> {
        self.frame
    }

    /// The byte offset in `analysis.tdf_bin`, for frame data.
    pub(crate) fn offset(&self) -> Option<u64> {
        self.offset
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.frame, self.offset) {
            (Some(path), Some(frame), Some(offset)) => write!(
                f,
                "{}: frame {frame} at offset {offset}: {}",
                path.display(),
                self.message
            ),
            (Some(path), ..) => write!(f, "{}: {}", path.display(), self.message),
            (None, ..) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for arrow_schema::ArrowError {
    fn from(e: Error) -> Self {
        arrow_schema::ArrowError::ExternalError(Box::new(e))
    }
}
