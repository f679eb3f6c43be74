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
//! // An order-0 stream of five 'a's: header (order 0, 20 bytes follow, 5 out), the table
//! // ('a' owns all 4096 slots; 0 ends it), and four states that never need a byte.
//! let mut stream = vec![0, 20, 0, 0, 0, 5, 0, 0, 0, b'a', 0x90, 0x00, 0];
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
pub(crate) mod transform;
// The tokens are `pub` by the macro that declares them; their methods are the crate's own.
#[cfg(target_arch = "x86_64")]
#[allow(unreachable_pub)]
mod x86_64;

use crate::cpu::{self, Level};

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

/// Decoding tables and intermediate buffers, kept between calls so that a decoder allocates
/// nothing per block, and the kernel level the decoders may use.
pub struct Scratch {
    /// Order-1 decoding tables, 4096 slots per context (`ctx * 4096 + slot`, 4 MiB in all):
    /// each slot's [`entry`].
    pub(crate) o1: Vec<u32>,
    /// rANS Nx16's intermediate streams: RLE metadata, entropy-coded literals, expanded runs
    /// before unpacking, a compressed order-1 table.
    pub(crate) meta: Vec<u8>,
    pub(crate) literals: Vec<u8>,
    pub(crate) expanded: Vec<u8>,
    pub(crate) table: Vec<u8>,
    /// The highest kernel level the decoders use ([`cpu::level`] unless capped lower).
    pub(crate) level: Level,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    /// Allocates the tables (once per decoding thread); the decoders use the best kernels
    /// [`cpu::level`] allows.
    pub fn new() -> Self {
        Self::with_level(Level::Avx512)
    }

    /// As [`Scratch::new`], with the kernels capped at `level` (and at [`cpu::level`]): tests
    /// and benchmarks compare every level's output in one process.
    pub fn with_level(level: Level) -> Self {
        Self {
            o1: vec![0; 256 * 4096],
            meta: Vec::new(),
            literals: Vec::new(),
            expanded: Vec::new(),
            table: Vec::new(),
            level: level.min(cpu::level()),
        }
    }

    /// The kernel level the decoders use.
    pub fn level(&self) -> Level {
        self.level
    }
}

/// A decoding table's slot: its symbol (bits 0–7), the slot's offset within the symbol's
/// range (bits 8–19) and the symbol's frequency − 1 (bits 20–31), so that one load decodes a
/// state (the SIMD kernels gather it for 8 or 16 states at once).
#[inline]
pub(crate) fn entry(sym: u8, offset: u32, freq: u32) -> u32 {
    // An offset equal to the frequency: slot 4095 of a 4x8 table of total 4095, which htslib
    // gives the last symbol.
    debug_assert!(offset <= freq && (1..=4096).contains(&freq) && offset < 4096);
    u32::from(sym) | (offset << 8) | ((freq - 1) << 20)
}

/// A state's next value from its slot's [`entry`] (before renormalisation):
/// `freq × (x >> shift) + offset`.
#[inline]
pub(crate) fn advance(e: u32, x: u32, shift: u32) -> u32 {
    ((e >> 20) + 1) * (x >> shift) + ((e >> 8) & 0xfff)
}

/// Fills `slots` (a table's first `total` slots) for the symbols of `list` with the
/// frequencies `f`; `Err` when they sum past `total`; returns their sum.
pub(crate) fn fill_slots(
    f: &[u32; 256],
    list: &[u8],
    total: u32,
    slots: &mut [u32],
) -> Result<u32, RansError> {
    let mut run = 0u32;
    for &s in list {
        let v = f[usize::from(s)];
        if v > total - run {
            return Err(RansError::BadFrequencies);
        }
        for (j, e) in slots[run as usize..(run + v) as usize]
            .iter_mut()
            .enumerate()
        {
            *e = entry(s, j as u32, v);
        }
        run += v;
    }
    Ok(run)
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
