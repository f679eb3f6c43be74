//! [`VirtualPosition`]: where a byte of the uncompressed stream is, as BGZF indexes name it.

use std::fmt;

/// A BGZF virtual position (SAM/BAM spec §4.1.1): the compressed offset of a block in the file
/// (48 bits) and an offset in that block's uncompressed data (16 bits), packed as
/// `compressed << 16 | uncompressed`. Ordered as the bytes of the uncompressed stream are; shown
/// as the packed number, as BAI/CSI files and htslib's `bgzf_tell` give it.
///
/// ```
/// use rawarrow::bgzf::VirtualPosition;
/// let at = VirtualPosition::from(1_234 << 16 | 56);
/// assert_eq!((at.compressed(), at.uncompressed()), (1_234, 56));
/// assert!(at < VirtualPosition::from(1_235 << 16));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtualPosition(u64);

impl VirtualPosition {
    /// Byte `uncompressed` of the block at compressed offset `compressed` (below 2⁴⁸, as every
    /// block of a file is: called once per record, it does not check).
    pub(crate) const fn new(compressed: u64, uncompressed: u16) -> Self {
        Self(compressed << 16 | uncompressed as u64)
    }

    /// The start of the block at compressed offset `compressed`; offsets past 2⁴⁸ − 1 (a range
    /// read "to the end", `u64::MAX`) are taken as 2⁴⁸ − 1: a position after every block.
    pub(crate) const fn block(compressed: u64) -> Self {
        const LAST: u64 = (1 << 48) - 1;
        Self::new(if compressed > LAST { LAST } else { compressed }, 0)
    }

    /// The compressed offset of the block in the file.
    pub const fn compressed(self) -> u64 {
        self.0 >> 16
    }

    /// The offset in the block's uncompressed data.
    pub const fn uncompressed(self) -> u16 {
        self.0 as u16
    }

    /// The compressed end of the blocks a range ending (exclusively) at this position needs:
    /// this block's offset when the position is its first byte (none of it is needed), else one
    /// past it (the block is read).
    pub(crate) const fn block_end(self) -> u64 {
        if self.uncompressed() == 0 {
            self.compressed()
        } else {
            self.compressed() + 1
        }
    }
}

impl From<u64> for VirtualPosition {
    fn from(packed: u64) -> Self {
        Self(packed)
    }
}

impl From<VirtualPosition> for u64 {
    fn from(at: VirtualPosition) -> Self {
        at.0
    }
}

impl fmt::Display for VirtualPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
