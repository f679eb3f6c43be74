//! [`Error`]: the one error of the stream, conversions, the CLI and the bindings — a kind, the
//! file and the [`Location`] in it, and the reader's own error as its source.

use std::fmt;
use std::path::{Path, PathBuf};

use arrow_schema::ArrowError;

use crate::bgzf::VirtualPosition;
use crate::{bam, midi, tdf};

// POSIX error numbers (the same on Linux and macOS) for causes found without a system call.
const ENOENT: i32 = 2;
const EACCES: i32 = 13;
const EEXIST: i32 = 17;
const ENOTDIR: i32 = 20;
const EISDIR: i32 = 21;

/// The error number of an I/O error that carries only its kind (a message wrapped around an
/// OS error), for the kinds that have exactly one.
fn errno(kind: std::io::ErrorKind) -> Option<i32> {
    use std::io::ErrorKind as K;
    match kind {
        K::NotFound => Some(ENOENT),
        K::PermissionDenied => Some(EACCES),
        K::AlreadyExists => Some(EEXIST),
        K::NotADirectory => Some(ENOTDIR),
        K::IsADirectory => Some(EISDIR),
        _ => None,
    }
}

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An option makes no sense (unknown column, zero threads, ...): the caller's mistake.
    Usage,
    /// The operating system refused (missing file, a folder where a file was expected,
    /// permission denied, a full disk).
    Io,
    /// The input is not what its format says it must be (the message names the file, the byte
    /// offset and the cause).
    Format,
    /// The caller asked the work to stop (an interrupt).
    Interrupted,
    /// A worker thread failed (a bug; reported instead of hanging).
    Worker,
}

/// Where in its file an [`Error`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The whole file, or no one place in it (a missing file, a rejected option, a BAM header
    /// field: the message gives its offset in the uncompressed stream).
    #[default]
    File,
    /// A byte offset in the file: the compressed offset of a BGZF block, a byte of an SMF.
    Offset(u64),
    /// A BAM record.
    Record {
        /// Its 0-based index in the file (in the region query, for a region's records).
        index: u64,
        /// The virtual position of its `block_size` field.
        position: VirtualPosition,
    },
    /// A timsTOF frame.
    Frame {
        /// Its id (`Frames.Id`).
        id: u32,
        /// The offset of its blob in `analysis.tdf_bin`, for frame data.
        offset: Option<u64>,
    },
}

/// An error of a [`BatchStream`](crate::stream::BatchStream) or of a conversion: its kind, where in which file, and the
/// message the CLI prints for it.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
    location: Location,
    io: Option<std::io::ErrorKind>,
    errno: Option<i32>,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` with this message and nothing else known.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            path: None,
            location: Location::File,
            io: None,
            errno: None,
            message: message.into(),
            source: None,
        }
    }

    /// A usage error (a rejected option) with this message.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// The stop requested through a conversion's progress hook.
    pub fn interrupted() -> Self {
        Self::new(ErrorKind::Interrupted, "interrupted")
    }

    /// The same error about `path`, with `message` when it is not empty.
    pub(crate) fn named(mut self, path: &Path, message: String) -> Self {
        self.path = Some(path.to_path_buf());
        if !message.is_empty() {
            self.message = message;
        }
        self
    }

    fn set_open_cause(&mut self, kind: &crate::io::OpenErrorKind) {
        use crate::io::OpenErrorKind;
        match kind {
            OpenErrorKind::Io(io) => {
                self.io = Some(io.kind());
                // A remote object that is not there has no OS error: ENOENT, as a missing
                // file (Python raises FileNotFoundError for both).
                let missing = io.kind() == std::io::ErrorKind::NotFound;
                self.errno = io.raw_os_error().or(missing.then_some(ENOENT));
            }
            OpenErrorKind::IsDirectory => {
                self.io = Some(std::io::ErrorKind::IsADirectory);
                self.errno = Some(EISDIR);
            }
            OpenErrorKind::Usage(_) => {}
        }
    }

    fn with_source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }

    pub(crate) fn at(mut self, path: Option<&Path>, location: Location) -> Self {
        self.path = path.map(Path::to_path_buf);
        self.location = location;
        self
    }

    fn from_io(path: Option<&Path>, e: std::io::Error, message: String) -> Self {
        let mut out = Self::new(ErrorKind::Io, message).at(path, Location::File);
        out.io = Some(e.kind());
        out.errno = e.raw_os_error().or_else(|| errno(e.kind()));
        out.with_source(e)
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The file the error is about, when known.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Where in the file the error is.
    pub fn location(&self) -> Location {
        self.location
    }

    /// Byte offset in that file where the bad data starts, from the [`location`](Self::location):
    /// the compressed offset of the BGZF block for BAM (a record's block), the offset in
    /// `analysis.tdf_bin` for a timsTOF frame, the offset in the file for an SMF.
    pub fn offset(&self) -> Option<u64> {
        match self.location {
            Location::File => None,
            Location::Offset(at) => Some(at),
            Location::Record { position, .. } => Some(position.compressed()),
            Location::Frame { offset, .. } => offset,
        }
    }

    /// 0-based index of the bad record (BAM), the frame id (timsTOF), or `None`.
    pub fn index(&self) -> Option<u64> {
        match self.location {
            Location::Record { index, .. } => Some(index),
            Location::Frame { id, .. } => Some(u64::from(id)),
            _ => None,
        }
    }

    /// The first error of type `T` in the chain of causes (this error's own source, its source,
    /// ...): the reader's typed error, such as a [`bam::RecordError`] or a
    /// [`bgzf::Error`](crate::bgzf::Error).
    ///
    /// ```
    /// let e = rawarrow::midi::read(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
    ///     .expect_err("not a MIDI file");
    /// assert_eq!(e.kind(), rawarrow::ErrorKind::Format);
    /// assert!(e.cause::<rawarrow::midi::ParseError>().is_some());
    /// ```
    pub fn cause<T: std::error::Error + 'static>(&self) -> Option<&T> {
        let mut at = std::error::Error::source(self);
        while let Some(e) = at {
            if let Some(found) = e.downcast_ref::<T>() {
                return Some(found);
            }
            at = e.source();
        }
        None
    }

    /// For an [`ErrorKind::Io`] error, what the operating system said.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        self.io
    }

    /// For an [`ErrorKind::Io`] error, the OS error number when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.errno
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let message = e.to_string();
        Self::from_io(None, e, message)
    }
}

impl From<crate::io::OpenError> for Error {
    fn from(e: crate::io::OpenError) -> Self {
        let message = e.to_string();
        let path = e.path().to_path_buf();
        let kind = match e.kind() {
            crate::io::OpenErrorKind::Usage(_) => ErrorKind::Usage,
            _ => ErrorKind::Io,
        };
        let mut out = Self::new(kind, message).at(Some(&path), Location::File);
        out.set_open_cause(e.kind());
        out.with_source(e)
    }
}

impl From<crate::bgzf::Error> for Error {
    fn from(e: crate::bgzf::Error) -> Self {
        let kind = match e.kind() {
            crate::bgzf::ErrorKind::WorkerFailed => ErrorKind::Worker,
            crate::bgzf::ErrorKind::Shrunk { .. } | crate::bgzf::ErrorKind::Read { .. } => {
                ErrorKind::Io
            }
            _ => ErrorKind::Format,
        };
        let path = e.path().map(Path::to_path_buf);
        let mut out =
            Self::new(kind, e.to_string()).at(path.as_deref(), Location::Offset(e.offset()));
        if let crate::bgzf::ErrorKind::Shrunk { .. } = e.kind() {
            out.io = Some(std::io::ErrorKind::UnexpectedEof);
        }
        out.with_source(e)
    }
}

impl From<crate::io::Shrunk> for Error {
    fn from(e: crate::io::Shrunk) -> Self {
        let mut out = Self::new(ErrorKind::Io, e.to_string())
            .at(Some(e.path()), Location::Offset(e.offset()));
        out.io = Some(std::io::ErrorKind::UnexpectedEof);
        out.with_source(e)
    }
}

impl From<bam::Error> for Error {
    fn from(e: bam::Error) -> Self {
        if let bam::ErrorKind::Open(o) = e.kind() {
            let mut out =
                Self::new(ErrorKind::Io, e.to_string()).at(Some(o.path()), Location::File);
            out.set_open_cause(o.kind());
            return out.with_source(e);
        }
        let message = e.to_string();
        let path = e.path().map(Path::to_path_buf);
        let (kind, location) = match e.kind() {
            bam::ErrorKind::Io(io) => {
                let mut out = Self::new(ErrorKind::Io, message).at(path.as_deref(), Location::File);
                out.io = Some(io.kind());
                out.errno = io.raw_os_error();
                return out.with_source(e);
            }
            bam::ErrorKind::Bgzf(b) => match b.kind() {
                crate::bgzf::ErrorKind::WorkerFailed => (ErrorKind::Worker, Location::File),
                crate::bgzf::ErrorKind::Shrunk { .. } | crate::bgzf::ErrorKind::Read { .. } => {
                    let mut out = Self::new(ErrorKind::Io, message)
                        .at(path.as_deref(), Location::Offset(b.offset()));
                    if let crate::bgzf::ErrorKind::Shrunk { .. } = b.kind() {
                        out.io = Some(std::io::ErrorKind::UnexpectedEof);
                    }
                    return out.with_source(e);
                }
                _ => (ErrorKind::Format, Location::Offset(b.offset())),
            },
            bam::ErrorKind::Record { index, voffset, .. }
            | bam::ErrorKind::TruncatedRecord { index, voffset, .. } => (
                ErrorKind::Format,
                Location::Record {
                    index: *index,
                    position: *voffset,
                },
            ),
            bam::ErrorKind::Worker => (ErrorKind::Worker, Location::File),
            // What the input is instead, from its first bytes.
            bam::ErrorKind::NotBam(_) => (ErrorKind::Format, Location::Offset(0)),
            // Rejected options and inputs that cannot share one output: the reason alone.
            bam::ErrorKind::Usage(_) => {
                return Self::usage(message)
                    .at(path.as_deref(), Location::File)
                    .with_source(e);
            }
            _ => (ErrorKind::Format, Location::File),
        };
        Self::new(kind, message)
            .at(path.as_deref(), location)
            .with_source(e)
    }
}

impl From<tdf::Error> for Error {
    fn from(e: tdf::Error) -> Self {
        let message = e.to_string();
        let path = e.path().map(Path::to_path_buf);
        let out = match e.kind() {
            tdf::ErrorKind::Open => {
                let location = e.offset().map_or(Location::File, Location::Offset);
                let mut out = Self::new(ErrorKind::Io, message).at(path.as_deref(), location);
                let source = std::error::Error::source(&e);
                if let Some(o) = source.and_then(|s| s.downcast_ref::<crate::io::OpenError>()) {
                    // An input that could not be opened (a remote object: its own cause).
                    if let crate::io::OpenErrorKind::Usage(_) = o.kind() {
                        out.kind = ErrorKind::Usage;
                    }
                    out.set_open_cause(o.kind());
                } else if let Some(io) = source.and_then(|s| s.downcast_ref::<std::io::Error>()) {
                    // A fetch that failed.
                    out.io = Some(io.kind());
                    out.errno = io.raw_os_error().or_else(|| errno(io.kind()));
                } else {
                    // The reader names a path that is missing, or a file where a folder belongs.
                    let (io, errno) = if path.as_deref().is_some_and(Path::exists) {
                        (std::io::ErrorKind::NotADirectory, ENOTDIR)
                    } else {
                        (std::io::ErrorKind::NotFound, ENOENT)
                    };
                    out.io = Some(io);
                    out.errno = Some(errno);
                }
                out
            }
            tdf::ErrorKind::Options => Self::usage(message),
            tdf::ErrorKind::Shrunk => {
                let mut out = Self::new(ErrorKind::Io, message).at(
                    path.as_deref(),
                    e.offset().map_or(Location::File, Location::Offset),
                );
                out.io = Some(std::io::ErrorKind::UnexpectedEof);
                out
            }
            tdf::ErrorKind::Worker => Self::new(ErrorKind::Worker, message),
            _ => {
                let location = match e.frame() {
                    Some(id) => Location::Frame {
                        id,
                        offset: e.offset(),
                    },
                    None => e.offset().map_or(Location::File, Location::Offset),
                };
                Self::new(ErrorKind::Format, message).at(path.as_deref(), location)
            }
        };
        out.with_source(e)
    }
}

impl From<midi::Error> for Error {
    fn from(e: midi::Error) -> Self {
        let message = e.to_string();
        let path = e.path().map(Path::to_path_buf);
        let out = match e.kind() {
            midi::ErrorKind::Open(o) => {
                let mut out = Self::new(ErrorKind::Io, message).at(path.as_deref(), Location::File);
                out.set_open_cause(o.kind());
                out
            }
            midi::ErrorKind::Walk(io) => {
                let mut out = Self::new(ErrorKind::Io, message).at(path.as_deref(), Location::File);
                out.io = Some(io.kind());
                out.errno = io.raw_os_error().or_else(|| errno(io.kind()));
                out
            }
            midi::ErrorKind::Parse(p) => Self::new(ErrorKind::Format, message)
                .at(path.as_deref(), Location::Offset(p.offset)),
            midi::ErrorKind::Usage(_) => Self::usage(message),
            _ => Self::new(ErrorKind::Worker, message),
        };
        out.with_source(e)
    }
}

impl From<crate::sink::postgres::Error> for Error {
    fn from(e: crate::sink::postgres::Error) -> Self {
        let mut out = Self::new(ErrorKind::Io, e.to_string());
        out.io = e.io_kind();
        out.with_source(e)
    }
}

impl From<ArrowError> for Error {
    fn from(e: ArrowError) -> Self {
        match e {
            ArrowError::IoError(message, io) => Self::from_io(None, io, message),
            ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => Self::new(ErrorKind::Format, other.to_string()),
            },
            other => Self::new(ErrorKind::Format, format!("Arrow: {other}")),
        }
    }
}

impl From<Error> for ArrowError {
    fn from(mut e: Error) -> Self {
        // The Arrow C stream hands messages over as C strings.
        if e.message.contains('\0') {
            e.message = e.message.replace('\0', "\\0");
        }
        ArrowError::ExternalError(Box::new(e))
    }
}
