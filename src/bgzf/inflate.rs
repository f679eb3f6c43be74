//! Inflating one block with libdeflate, verifying its CRC32.

use super::{BlockInfo, Error, ErrorKind, MAX_BLOCK_SIZE};

/// A reusable libdeflate decompressor for BGZF blocks (one per worker thread).
pub(crate) struct BlockInflater {
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
    pub(crate) fn new() -> Self {
        Self {
            inner: libdeflater::Decompressor::new(),
        }
    }

    /// Inflates `block` of `file` into `out` and checks the CRC32 of what it produced;
    /// returns the inflated length. `out` should hold [`MAX_BLOCK_SIZE`] bytes: the trailer's
    /// ISIZE is not trusted (htslib ignores it too), only the 64 KiB limit of a block is.
    pub(crate) fn inflate(
        &mut self,
        file: &[u8],
        block: &BlockInfo,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let err = |kind| Error::new(block.offset, kind);
        let (deflate, crc, _) = block.parts(file);
        let room = out.len().min(MAX_BLOCK_SIZE);
        let out = &mut out[..room];
        let n = match self.inner.deflate_decompress(deflate, out) {
            Ok(n) => n,
            Err(libdeflater::DecompressionError::InsufficientSpace) => {
                return Err(err(if out.len() == MAX_BLOCK_SIZE {
                    ErrorKind::BlockTooLarge
                } else {
                    ErrorKind::Inflate
                }))
            }
            Err(libdeflater::DecompressionError::BadData) => return Err(err(ErrorKind::Inflate)),
        };
        let actual = libdeflater::crc32(&out[..n]);
        if actual != crc {
            return Err(err(ErrorKind::CrcMismatch {
                expected: crc,
                actual,
            }));
        }
        Ok(n)
    }
}

/// Inflates one block into a new vector (convenience; the pipeline reuses buffers instead).
pub(crate) fn inflate_block(file: &[u8], block: &BlockInfo) -> Result<Vec<u8>, Error> {
    let mut out = vec![0; MAX_BLOCK_SIZE];
    let n = BlockInflater::new().inflate(file, block, &mut out)?;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn inflate_one_block() -> Result<(), Box<dyn std::error::Error>> {
        let file = crate::bgzf::compress_for_tests(b"abc");
        let block = crate::bgzf::parse_block(&file, 0)?;
        assert_eq!(crate::bgzf::inflate_block(&file, &block)?, b"abc");
        Ok(())
    }
}
