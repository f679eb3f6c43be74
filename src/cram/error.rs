//! What was wrong with a CRAM file, and where: the container's byte offset, and the slice and
//! record in it when the fault is inside one.

use std::fmt;

/// An error decoding a CRAM file: the offset of the container (or of the file's start for the
/// file definition), the slice (0-based within its container) when known, and the cause (which
/// names the record within the slice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    pub(crate) container: u64,
    pub(crate) slice: Option<usize>,
    pub(crate) cause: Box<Cause>,
}

impl Error {
    pub(crate) fn new(container: u64, cause: Cause) -> Self {
        Self {
            container,
            slice: None,
            cause: Box::new(cause),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CRAM container at byte {}", self.container)?;
        if let Some(s) = self.slice {
            write!(f, ", slice {s}")?;
        }
        write!(f, ": {}", self.cause)
    }
}

impl std::error::Error for Error {}

/// Why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The bytes end inside the named structure.
    Truncated(&'static str),
    /// A count or size that must not be negative is.
    Negative(&'static str, i64),
    /// A size larger than the bytes that hold it, or than CRAM allows.
    TooLarge(&'static str, u64),
    /// A major version rawarrow does not read.
    Version(u8, u8),
    /// A CRC32 stored in the file differs from that of the bytes it covers.
    Crc {
        what: &'static str,
        stored: u32,
        computed: u32,
    },
    /// A block compression method that does not exist.
    UnknownMethod(u8),
    /// A compressed block would not decompress.
    Decompress {
        method: &'static str,
        reason: String,
    },
    /// A block decompressed to another size than it states.
    BlockSize { stated: usize, actual: usize },
    /// The rANS decoder's complaint.
    Rans(&'static str, rawarrow_kernels::rans::RansError),
    /// A structure's content is inconsistent.
    Invalid(&'static str),
    /// A data series or tag has no encoding in the compression header.
    NoEncoding(String),
    /// An encoding id that does not exist, or does not suit its data series.
    BadEncoding { series: String, id: i32 },
    /// A data series read past the end of its block.
    Exhausted(String),
    /// A block a slice refers to is not in it.
    MissingBlock(i32),
    /// The reference a slice needs could not be found.
    NoReference(String),
    /// The reference's bases disagree with the MD5 the slice states.
    ReferenceMd5 {
        name: String,
        start: i64,
        end: i64,
        stated: String,
        computed: String,
    },
    /// A record's field is out of range.
    Record(String),
    /// The cause, in this record of the slice (0-based).
    AtRecord(usize, Box<Cause>),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated(what) => write!(f, "the data ends inside the {what}"),
            Self::Negative(what, v) => write!(f, "the {what} is negative ({v})"),
            Self::TooLarge(what, v) => write!(f, "the {what} ({v}) is larger than possible"),
            Self::Version(major, minor) => write!(
                f,
                "CRAM version {major}.{minor}: rawarrow reads CRAM 2.1, 3.0 and 3.1"
            ),
            Self::Crc {
                what,
                stored,
                computed,
            } => write!(
                f,
                "the {what}'s CRC32 is {computed:#010x} but {stored:#010x} is stored (corrupt \
                 data)"
            ),
            Self::UnknownMethod(m) => write!(f, "unknown block compression method {m}"),
            Self::Decompress { method, reason } => {
                write!(f, "a {method} block does not decompress: {reason}")
            }
            Self::BlockSize { stated, actual } => write!(
                f,
                "a block decompresses to {actual} bytes where its header states {stated}"
            ),
            Self::Rans(method, e) => write!(f, "a {method} block does not decode: {e}"),
            Self::Invalid(what) => write!(f, "invalid {what}"),
            Self::NoEncoding(what) => {
                write!(
                    f,
                    "{what} is needed but the compression header has no encoding for it"
                )
            }
            Self::BadEncoding { series, id } => {
                write!(f, "encoding {id} cannot encode {series}")
            }
            Self::Exhausted(what) => write!(f, "{what} reads past the end of its block"),
            Self::MissingBlock(id) => write!(f, "the slice has no block with content id {id}"),
            Self::NoReference(what) => write!(f, "{what}"),
            Self::ReferenceMd5 {
                name,
                start,
                end,
                stated,
                computed,
            } => write!(
                f,
                "the reference {name}:{start}-{end} has MD5 {computed} but the slice states \
                 {stated} (a different reference sequence)"
            ),
            Self::Record(what) => write!(f, "{what}"),
            Self::AtRecord(n, cause) => write!(f, "record {n} of the slice: {cause}"),
        }
    }
}
