use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// An error reading a BGZF file: what went wrong, at which compressed offset, in which file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    path: Option<Arc<Path>>,
    offset: u64,
    kind: ErrorKind,
}

/// What was wrong with a BGZF block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not a gzip member (no `1f 8b` magic).
    BadMagic {
        /// The first bytes found (up to two).
        found: Vec<u8>,
    },
    /// A gzip member without a well-formed BGZF `BC` extra subfield: plain gzip, not BGZF.
    /// Readers inflate such members sequentially, as htslib does; block-level APIs ([`scan`],
    /// split discovery, byte ranges and index queries) refuse them.
    ///
    /// [`scan`]: super::scan
    NotBgzf,
    /// A plain gzip member (read sequentially) is corrupt, truncated or fails its CRC32/ISIZE
    /// check.
    Gzip {
        /// What the gzip decoder reported.
        reason: String,
    },
    /// A gzip header field BGZF relies on is wrong.
    BadHeader {
        /// Which field, and how.
        reason: &'static str,
    },
    /// The block size in the `BC` subfield cannot hold a gzip header, a deflate stream and the
    /// 8-byte trailer.
    BadBlockSize {
        /// The total block size (`BSIZE + 1`).
        size: u32,
    },
    /// The block runs past the end of the file.
    Truncated {
        /// Bytes the block needs from its start.
        needed: u64,
        /// Bytes left in the file from the block's start.
        available: u64,
    },
    /// The deflate stream is corrupt.
    Inflate,
    /// The inflated bytes' CRC32 differs from the trailer's.
    CrcMismatch {
        /// CRC32 stored in the trailer.
        expected: u32,
        /// CRC32 of the inflated bytes.
        actual: u32,
    },
    /// The deflate stream inflates to more than the 65,536 bytes a BGZF block may hold (a
    /// trailer's ISIZE that merely disagrees with the data is ignored, as htslib ignores it).
    BlockTooLarge,
    /// Bytes after the final EOF-marker block that are not a BGZF block.
    TrailingBytes {
        /// How many bytes follow the last block.
        len: u64,
    },
    /// A worker thread failed unexpectedly (a bug, reported instead of hanging).
    WorkerFailed,
    /// A stream (standard input, a pipe) could not be read.
    Read {
        /// What the operating system said.
        reason: String,
    },
    /// The file shrank while it was read (another process truncated it): its bytes from the
    /// error's offset on were gone when they were reached.
    Shrunk {
        /// Its length when it was opened.
        len: u64,
    },
    /// A CRAM input (read through the same engine) is corrupt or cannot be decoded; the
    /// error's offset is the container's.
    Cram {
        /// The slice (0-based in its container), when the fault is in one.
        slice: Option<usize>,
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn new(offset: u64, kind: ErrorKind) -> Self {
        Self {
            path: None,
            offset,
            kind,
        }
    }

    /// A CRAM decoding error, at its container.
    pub(crate) fn cram(e: crate::cram::Error) -> Self {
        let kind = ErrorKind::Cram {
            slice: e.slice,
            reason: e.cause.to_string(),
        };
        Self::new(e.container, kind)
    }

    /// The cut of an input that shrank while it was read.
    pub(crate) fn shrunk(cut: &crate::io::Shrunk) -> Self {
        Self::new(cut.offset(), ErrorKind::Shrunk { len: cut.len() }).with_path(cut.path().into())
    }

    /// Attaches the file path shown in messages.
    pub(crate) fn with_path(mut self, path: Arc<Path>) -> Self {
        self.path = Some(path);
        self
    }

    /// The file, when known.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Compressed byte offset of the offending block (or of the trailing bytes).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What was wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic { found } => {
                write!(
                    f,
                    "not a gzip/BGZF block (found bytes {found:02x?}, expected [1f, 8b])"
                )
            }
            Self::NotBgzf => f.write_str(
                "gzip member without a valid BGZF 'BC' extra field: plain gzip, not BGZF \
                 (recompress with bgzip)",
            ),
            Self::Gzip { reason } => write!(f, "plain gzip member: {reason}"),
            Self::BadHeader { reason } => write!(f, "bad BGZF block header: {reason}"),
            Self::BadBlockSize { size } => write!(
                f,
                "bad BGZF block size {size} (BSIZE {}): too small for header, data and trailer",
                size.saturating_sub(1)
            ),
            Self::Truncated { needed, available } => write!(
                f,
                "truncated BGZF block: needs {needed} bytes, only {available} left in the file"
            ),
            Self::Inflate => f.write_str("corrupt deflate data"),
            Self::CrcMismatch { expected, actual } => write!(
                f,
                "CRC32 mismatch: trailer says {expected:08x}, data has {actual:08x}"
            ),
            Self::BlockTooLarge => {
                f.write_str("the block inflates to more than 65536 bytes, the BGZF maximum")
            }
            Self::TrailingBytes { len } => {
                write!(
                    f,
                    "{len} trailing bytes after the EOF marker are not a BGZF block"
                )
            }
            Self::WorkerFailed => f.write_str("an inflate worker thread failed"),
            Self::Read { reason } => write!(f, "cannot read the stream: {reason}"),
            Self::Cram { slice, reason } => {
                f.write_str("CRAM container")?;
                if let Some(s) = slice {
                    write!(f, ", slice {s}")?;
                }
                write!(f, ": {reason}")
            }
            Self::Shrunk { len } => write!(
                f,
                "the file shrank while it was read: its bytes from here on are gone (it had \
                 {len} bytes when it was opened)"
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        write!(f, "compressed offset {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}
