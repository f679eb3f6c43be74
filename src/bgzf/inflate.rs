//! Inflating one block with libdeflate, verifying ISIZE and CRC32.

use super::{BlockInfo, Error, ErrorKind};

/// A reusable libdeflate decompressor for BGZF blocks (one per worker thread).
pub struct BlockInflater {
    inner: libdeflater::Decompressor,
}

impl std::fmt::Debug for BlockInflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockInflater")
    }
}

impl Default for BlockInflater {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockInflater {
    /// A new decompressor.
    pub fn new() -> Self {
        Self {
            inner: libdeflater::Decompressor::new(),
        }
    }

    /// Inflates `block` of `file` into `out`, whose length must be the block's ISIZE, and checks
    /// that the deflate stream produced exactly ISIZE bytes whose CRC32 matches the trailer.
    pub fn inflate(&mut self, file: &[u8], block: &BlockInfo, out: &mut [u8]) -> Result<(), Error> {
        debug_assert_eq!(out.len(), block.isize as usize);
        let err = |kind| Error::new(block.offset, kind);
        let (deflate, crc, isize) = block.parts(file);
        match self.inner.deflate_decompress(deflate, out) {
            Ok(n) if n == isize as usize => {}
            Ok(n) => {
                return Err(err(ErrorKind::IsizeMismatch {
                    expected: isize,
                    actual: Some(n as u32),
                }))
            }
            Err(libdeflater::DecompressionError::InsufficientSpace) => {
                return Err(err(ErrorKind::IsizeMismatch {
                    expected: isize,
                    actual: None,
                }))
            }
            Err(libdeflater::DecompressionError::BadData) => return Err(err(ErrorKind::Inflate)),
        }
        let actual = libdeflater::crc32(out);
        if actual != crc {
            return Err(err(ErrorKind::CrcMismatch {
                expected: crc,
                actual,
            }));
        }
        Ok(())
    }
}

/// Inflates one block into a new vector (convenience; the pipeline reuses buffers instead).
///
/// ```
/// let file = rawarrow::bgzf::compress_for_tests(b"abc");
/// let block = rawarrow::bgzf::parse_block(&file, 0)?;
/// assert_eq!(rawarrow::bgzf::inflate_block(&file, &block)?, b"abc");
/// # Ok::<(), rawarrow::bgzf::Error>(())
/// ```
pub fn inflate_block(file: &[u8], block: &BlockInfo) -> Result<Vec<u8>, Error> {
    let mut out = vec![0; block.isize as usize];
    BlockInflater::new().inflate(file, block, &mut out)?;
    Ok(out)
}
