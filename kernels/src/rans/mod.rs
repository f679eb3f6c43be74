//! rANS entropy decoders of CRAM's external blocks: [`r4x8`] (CRAM 3.0, block method 4: order-0
//! and order-1 static models, 4 interleaved states with byte-wise renormalisation) and [`nx16`]
//! (CRAM 3.1, method 5: 4 or 32 states with 16-bit renormalisation, and the STRIPE, PACK, RLE
//! and CAT transforms).
//!
//! Decoders never trust a stream: every table index, frequency sum and read past the input is
//! checked and reported as a [`RansError`], whatever the bytes; on a valid stream the output is
//! byte-identical to htscodecs'. No decoder allocates: the caller passes the output (its length
//! is stated in the stream's header, [`r4x8::sizes`]) and a reusable [`Scratch`] for the
//! order-1 tables.
//!
//! ```
//! // An order-0 stream of five 'a's: header (order 0, 27 bytes follow, 5 out), the table
//! // ('a' owns all 4096 slots; 0 ends it), and four states that never need a byte.
//! let mut stream = vec![0, 27, 0, 0, 0, 5, 0, 0, 0, b'a', 0x90, 0x00, 0];
//! for _ in 0..4 {
//!     stream.extend_from_slice(&(1u32 << 23).to_le_bytes());
//! }
//! let (order, len) = rawarrow_kernels::rans::r4x8::sizes(&stream)?;
//! assert_eq!((order, len), (0, 5));
//! let mut out = vec![0; len];
//! let mut scratch = rawarrow_kernels::rans::Scratch::new();
//! rawarrow_kernels::rans::r4x8::decode(&stream, &mut out, &mut scratch)?;
//! assert_eq!(&out, b"aaaaa");
//! # Ok::<(), rawarrow_kernels::rans::RansError>(())
//! ```

pub mod nx16;
pub mod r4x8;

/// Why a stream could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RansError {
    /// The stream ends before what its header or tables need.
    Truncated,
    /// The order byte is neither 0 nor 1.
    BadOrder(u8),
    /// A frequency table sums past the model's total (or to nothing for a used context).
    BadFrequencies,
    /// The output length disagrees with the stream's header.
    WrongLength {
        /// What the header states.
        stated: usize,
        /// What the caller expected.
        expected: usize,
    },
    /// A state points at a slot no symbol owns (a corrupt stream).
    BadState,
}

impl std::fmt::Display for RansError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Truncated => f.write_str("the rANS stream is truncated"),
            Self::BadOrder(o) => write!(f, "rANS order byte {o} (expected 0 or 1)"),
            Self::BadFrequencies => f.write_str("a rANS frequency table is inconsistent"),
            Self::WrongLength { stated, expected } => write!(
                f,
                "the rANS stream holds {stated} bytes where {expected} were expected"
            ),
            Self::BadState => f.write_str("a rANS state decodes to no symbol (corrupt stream)"),
        }
    }
}

impl std::error::Error for RansError {}

/// Order-1 decoding tables (one symbol lookup of 4096 slots per context, 1 MiB in all), kept
/// between calls so that a decoder allocates nothing per block.
pub struct Scratch {
    /// Slot → symbol, per context (`ctx * 4096 + slot`).
    pub(crate) lookup: Vec<u8>,
    /// Frequency and cumulative frequency of each symbol, per context (`ctx * 256 + sym`).
    pub(crate) freq: Vec<u16>,
    pub(crate) cum: Vec<u16>,
    /// rANS Nx16's intermediate streams: RLE metadata, entropy-coded literals, expanded runs
    /// before unpacking, a compressed order-1 table.
    pub(crate) meta: Vec<u8>,
    pub(crate) literals: Vec<u8>,
    pub(crate) expanded: Vec<u8>,
    pub(crate) table: Vec<u8>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    /// Allocates the tables (once per decoding thread).
    pub fn new() -> Self {
        Self {
            lookup: vec![0; 256 * 4096],
            freq: vec![0; 256 * 256],
            cum: vec![0; 256 * 256],
            meta: Vec::new(),
            literals: Vec::new(),
            expanded: Vec::new(),
            table: Vec::new(),
        }
    }
}

/// A cursor over the stream with checked reads.
pub(crate) struct Bytes<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, RansError> {
        let b = *self.buf.get(self.pos).ok_or(RansError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn peek(&self) -> Result<u8, RansError> {
        self.buf.get(self.pos).copied().ok_or(RansError::Truncated)
    }

    pub(crate) fn u32le(&mut self) -> Result<u32, RansError> {
        let b = self
            .buf
            .get(self.pos..self.pos + 4)
            .ok_or(RansError::Truncated)?;
        self.pos += 4;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}
