use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::bgzf;

/// An error reading a BAM file: the BGZF layer below, the header, or one record.
#[derive(Debug)]
pub struct Error {
    path: Option<Arc<Path>>,
    kind: ErrorKind,
    /// For header errors: the offset in the uncompressed stream.
    offset: Option<u64>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The compressed layer failed (it names its own compressed offset).
    Bgzf(bgzf::Error),
    /// The file could not be opened or mapped.
    Open(crate::io::OpenError),
    /// The header is malformed.
    Header(HeaderError),
    /// A record is malformed.
    Record {
        /// 0-based index of the record in the file.
        index: u64,
        /// Virtual position of the record's `block_size` field.
        voffset: bgzf::VirtualPosition,
        /// What was wrong.
        error: RecordError,
    },
    /// The file ends inside a record.
    TruncatedRecord {
        /// 0-based index of the record.
        index: u64,
        /// Virtual position where it starts.
        voffset: bgzf::VirtualPosition,
        /// Bytes the record needs (with its `block_size` field).
        needed: u64,
        /// Bytes present before the end of the file.
        available: u64,
    },
    /// The stream ends inside the header.
    TruncatedHeader,
    /// A BAI/CSI index is malformed, or cannot be built (an unsorted file).
    Index(String),
    /// The input is not BAM at all: what it is instead (SAM text, CRAM, plain gzip, empty).
    NotBam(&'static str),
    /// Writing output failed.
    Io(std::io::Error),
    /// Arrow rejected a batch or the output (a bug or an I/O failure underneath).
    Arrow(arrow_schema::ArrowError),
    /// An option or input the reader refuses (an unknown column, a bad region, inputs that
    /// cannot share one output): the caller's mistake, not the file's.
    Usage(String),
    /// A worker thread panicked while decoding (a bug in rawarrow, reported instead of a hang).
    Worker,
}

/// What is wrong with the header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The first four bytes are not `BAM\1`.
    BadMagic([u8; 4]),
    /// A negative length field.
    NegativeLength(&'static str),
    /// A reference's `l_name` is 0.
    BadReferenceName(u32),
}

/// What is wrong with a record (the checks htslib's `bam_read1` makes, and the aux fields).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// `block_size` below the 32 bytes of fixed fields.
    BlockSizeTooSmall(u32),
    /// `l_read_name` is 0.
    EmptyReadName,
    /// The read name does not end with NUL.
    ReadNameNotTerminated,
    /// The read name, CIGAR, sequence and quality do not fit in `block_size`.
    FieldsOverrun {
        /// Bytes the variable-length fields need.
        needed: u64,
        /// Bytes the record has for them.
        available: u64,
    },
    /// `l_seq` is negative.
    NegativeSequenceLength(i32),
    /// `refID` is neither -1 nor a reference of the header.
    RefIdOutOfRange(i32),
    /// `next_refID` is neither -1 nor a reference of the header.
    NextRefIdOutOfRange(i32),
    /// `pos` or `next_pos` is 2³¹ − 1 (0-based): its 1-based value does not fit the Int32
    /// `pos`/`pnext` column (SAM text prints it, as htslib does). Values below -1 are kept.
    PositionOutOfRange {
        /// `"pos"` or `"next_pos"`.
        field: &'static str,
        /// The 0-based value.
        value: i32,
    },
    /// The CIGAR's query length differs from `l_seq` on a mapped read.
    CigarSeqMismatch {
        /// Query bases the CIGAR consumes.
        cigar: u64,
        /// `l_seq`.
        seq: u64,
    },
    /// An aux field is malformed.
    Aux {
        /// Byte offset of the field within the aux data.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The read name is not UTF-8 (the `qname` column is Utf8).
    ReadNameNotUtf8,
    /// A string column of the batch would exceed 2 GiB (Arrow `Utf8` offsets are 32-bit).
    BatchTextOverflow,
    /// A tag requested as a typed column has a value of another type in this record.
    TagType {
        /// The tag.
        tag: [u8; 2],
        /// The column's type.
        expected: &'static str,
        /// The record's type code.
        found: u8,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self {
            path: None,
            kind,
            offset: None,
        }
    }

    /// A header error at `offset` of the uncompressed stream.
    pub(crate) fn header(error: HeaderError, offset: u64) -> Self {
        Self {
            path: None,
            kind: ErrorKind::Header(error),
            offset: Some(offset),
        }
    }

    /// The file ended inside the header after `available` uncompressed bytes.
    pub(crate) fn truncated_header(available: u64) -> Self {
        Self {
            path: None,
            kind: ErrorKind::TruncatedHeader,
            offset: Some(available),
        }
    }

    pub(crate) fn with_path(mut self, path: Arc<Path>) -> Self {
        if self.path.is_none() {
            self.path = Some(path);
        }
        self
    }

    /// The file, when known.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl From<bgzf::Error> for Error {
    fn from(e: bgzf::Error) -> Self {
        Self::new(ErrorKind::Bgzf(e))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::new(ErrorKind::Io(e))
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Self::new(ErrorKind::Arrow(e))
    }
}

impl From<crate::io::OpenError> for Error {
    fn from(e: crate::io::OpenError) -> Self {
        Self::new(ErrorKind::Open(e))
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(m) if m[0] == b'@' => write!(
                f,
                "not a BAM file: gzip-compressed SAM text (magic {m:02x?}, expected \"BAM\\1\"; convert it with `samtools view -b`)"
            ),
            Self::BadMagic(m) => write!(f, "not a BAM file: magic {m:02x?}, expected \"BAM\\1\""),
            Self::NegativeLength(what) => write!(f, "negative {what} in the BAM header"),
            Self::BadReferenceName(i) => {
                write!(
                    f,
                    "reference {i}: l_name is 0"
                )
            }
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BlockSizeTooSmall(n) => {
                write!(f, "block_size {n} is below the 32 bytes of fixed fields")
            }
            Self::EmptyReadName => f.write_str("l_read_name is 0"),
            Self::ReadNameNotTerminated => f.write_str("read name is not NUL-terminated"),
            Self::FieldsOverrun { needed, available } => write!(
                f,
                "read name, CIGAR, sequence and quality need {needed} bytes, record has {available}"
            ),
            Self::NegativeSequenceLength(n) => write!(f, "negative l_seq {n}"),
            Self::RefIdOutOfRange(id) => write!(f, "refID {id} is not a reference of the header"),
            Self::PositionOutOfRange { field, value } => write!(
                f,
                "{field} {value} (0-based) does not fit the Int32 column as a 1-based position"
            ),
            Self::NextRefIdOutOfRange(id) => {
                write!(f, "next_refID {id} is not a reference of the header")
            }
            Self::CigarSeqMismatch { cigar, seq } => write!(
                f,
                "CIGAR and query sequence lengths differ ({cigar} vs {seq})"
            ),
            Self::Aux { at, reason } => write!(f, "aux data at byte {at}: {reason}"),
            Self::ReadNameNotUtf8 => f.write_str("read name is not UTF-8"),
            Self::TagType { tag, expected, found } => write!(
                f,
                "tag {}{} has type '{}' here, but its column holds {expected} (request it as text: --tag {}{}:Z)",
                char::from(tag[0]),
                char::from(tag[1]),
                char::from(*found),
                char::from(tag[0]),
                char::from(tag[1])
            ),
            Self::BatchTextOverflow => {
                f.write_str("a string column would exceed 2 GiB in one batch: lower the batch size")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.as_deref().map(|p| p.display().to_string());
        let prefix = |f: &mut fmt::Formatter<'_>| match &path {
            Some(p) => write!(f, "{p}: "),
            None => Ok(()),
        };
        match &self.kind {
            ErrorKind::Bgzf(e) if e.path().is_some() => write!(f, "{e}"),
            ErrorKind::Bgzf(e) => {
                prefix(f)?;
                write!(f, "{e}")
            }
            ErrorKind::Open(e) => write!(f, "{e}"),
            ErrorKind::Header(e) => {
                prefix(f)?;
                match self.offset {
                    Some(o) => write!(f, "BAM header at uncompressed offset {o}: {e}"),
                    None => write!(f, "BAM header: {e}"),
                }
            }
            ErrorKind::Record {
                index,
                voffset,
                error,
            } => {
                prefix(f)?;
                write!(
                    f,
                    "record {index} at virtual offset {voffset} (compressed offset {}, offset {} in block): {error}",
                    voffset.compressed(),
                    voffset.uncompressed()
                )
            }
            ErrorKind::TruncatedRecord {
                index,
                voffset,
                needed,
                available,
            } => {
                prefix(f)?;
                write!(
                    f,
                    "record {index} at virtual offset {voffset} (compressed offset {}) is truncated: needs {needed} bytes, the file ends after {available}",
                    voffset.compressed()
                )
            }
            ErrorKind::TruncatedHeader => {
                prefix(f)?;
                match self.offset {
                    Some(o) => write!(
                        f,
                        "BAM header at uncompressed offset {o}: the file ends inside the \
                         BAM header"
                    ),
                    None => f.write_str("the file ends inside the BAM header"),
                }
            }
            ErrorKind::Index(m) => {
                prefix(f)?;
                write!(f, "index: {m}")
            }
            ErrorKind::NotBam(what) => {
                prefix(f)?;
                write!(f, "offset 0: not a BAM file: {what}")
            }
            ErrorKind::Io(e) => {
                prefix(f)?;
                write!(f, "{e}")
            }
            ErrorKind::Arrow(e) => {
                prefix(f)?;
                write!(f, "Arrow: {e}")
            }
            ErrorKind::Usage(m) => {
                prefix(f)?;
                f.write_str(m)
            }
            ErrorKind::Worker => {
                prefix(f)?;
                write!(f, "internal error: a decode worker thread panicked (a bug)")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Bgzf(e) => Some(e),
            ErrorKind::Open(e) => Some(e),
            ErrorKind::Io(e) => Some(e),
            ErrorKind::Arrow(e) => Some(e),
            ErrorKind::Header(e) => Some(e),
            ErrorKind::Record { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl std::error::Error for RecordError {}
impl std::error::Error for HeaderError {}
