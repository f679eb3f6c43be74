//! The byte-wise range decoder of htscodecs' `c_range_coder.h` (32-bit, renormalised below
//! 2²⁴, the first of its 5 initial bytes shifted out).

use crate::rans::RansError;

/// Renormalisation bound.
const TOP: u32 = 1 << 24;

/// A range decoder over a byte stream.
#[derive(Debug, Clone)]
pub struct RangeDecoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    range: u32,
    code: u32,
    /// A renormalisation ran out of bytes (reported by [`RangeDecoder::finish`] or the next
    /// symbol).
    short: bool,
}

impl<'a> RangeDecoder<'a> {
    /// Starts decoding `bytes` (at least 5).
    pub fn new(bytes: &'a [u8]) -> Result<Self, RansError> {
        if bytes.len() < 5 {
            return Err(RansError::Truncated);
        }
        let mut code = 0u32;
        for &b in &bytes[..5] {
            code = (code << 8) | u32::from(b);
        }
        Ok(Self {
            bytes,
            pos: 5,
            range: u32::MAX,
            code,
            short: false,
        })
    }

    /// The cumulative frequency the code points at, of a model whose frequencies sum to
    /// `total`.
    #[inline]
    pub fn freq(&mut self, total: u32) -> Result<u32, RansError> {
        if self.short {
            return Err(RansError::Truncated);
        }
        if total == 0 || self.range < total {
            return Err(RansError::BadState);
        }
        self.range /= total;
        Ok(self.code / self.range)
    }

    /// Consumes the symbol at `[cum, cum + f)`.
    #[inline]
    pub fn take(&mut self, cum: u32, f: u32) {
        self.code = self.code.wrapping_sub(cum.wrapping_mul(self.range));
        self.range = self.range.wrapping_mul(f);
        while self.range < TOP {
            match self.bytes.get(self.pos) {
                Some(&b) => {
                    self.code = (self.code << 8) | u32::from(b);
                    self.range <<= 8;
                    self.pos += 1;
                }
                None => {
                    self.short = true;
                    return;
                }
            }
        }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// An error when the stream ran out of bytes.
    pub fn finish(&self) -> Result<(), RansError> {
        if self.short {
            return Err(RansError::Truncated);
        }
        Ok(())
    }
}
