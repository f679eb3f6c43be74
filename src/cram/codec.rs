//! Block decompression: raw, gzip (libdeflate), bzip2, lzma (xz), rANS 4x8, rANS Nx16, the
//! adaptive arithmetic coder, the name tokeniser and fqzcomp (rawarrow-kernels). Each worker keeps one [`Codecs`] (decompressor
//! state and rANS tables).

use std::io::Read;

use rawarrow_kernels::rans;

use super::container::RawBlock;
use super::error::Cause;

/// A block's method, by name (for messages).
pub(crate) fn method_name(method: u8) -> &'static str {
    match method {
        0 => "raw",
        1 => "gzip",
        2 => "bzip2",
        3 => "lzma",
        4 => "rANS 4x8",
        5 => "rANS Nx16",
        6 => "adaptive arithmetic",
        7 => "fqzcomp",
        8 => "name tokeniser",
        _ => "unknown",
    }
}

/// bzip2 inside an arithmetic-coder block: exactly `out.len()` bytes.
fn bzip2_exact(input: &[u8], out: &mut [u8]) -> Result<(), rans::RansError> {
    bzip2::read::BzDecoder::new(input)
        .read_exact(out)
        .map_err(|_| rans::RansError::Truncated)
}

/// Per-worker decoder state.
pub(crate) struct Codecs {
    inflater: libdeflater::Decompressor,
    scratch: rans::Scratch,
}

impl Default for Codecs {
    fn default() -> Self {
        Self {
            inflater: libdeflater::Decompressor::new(),
            scratch: rans::Scratch::new(),
        }
    }
}

/// The largest block rawarrow decompresses (CRAM blocks are a few MiB; a size past this is
/// a corrupt header, not a reason to allocate).
const MAX_BLOCK: usize = 1 << 30;

impl Codecs {
    /// Decompresses `block` into `out` (cleared first).
    pub(crate) fn decompress(
        &mut self,
        block: &RawBlock<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Cause> {
        out.clear();
        let size = block.raw_size;
        if size > MAX_BLOCK {
            return Err(Cause::TooLarge("block's uncompressed size", size as u64));
        }
        if size == 0 {
            // An empty block is empty whatever its method says (htslib reads it so; htsjdk
            // writes empty rANS blocks of no bytes at all).
            return Ok(());
        }
        let name = method_name(block.method);
        let fail = |reason: String| Cause::Decompress {
            method: name,
            reason,
        };
        match block.method {
            0 => out.extend_from_slice(block.data),
            1 => {
                out.resize(size, 0);
                let n = self
                    .inflater
                    .gzip_decompress(block.data, out)
                    .map_err(|e| fail(e.to_string()))?;
                if n != size {
                    return Err(Cause::BlockSize {
                        stated: size,
                        actual: n,
                    });
                }
            }
            2 => {
                out.reserve(size);
                bzip2::read::BzDecoder::new(block.data)
                    .take(size as u64 + 1)
                    .read_to_end(out)
                    .map_err(|e| fail(e.to_string()))?;
            }
            3 => {
                out.reserve(size);
                xz2::read::XzDecoder::new_multi_decoder(block.data)
                    .take(size as u64 + 1)
                    .read_to_end(out)
                    .map_err(|e| fail(e.to_string()))?;
            }
            4 => {
                out.resize(size, 0);
                rans::r4x8::decode(block.data, out, &mut self.scratch)
                    .map_err(|e| Cause::Rans(name, e))?;
            }
            5 => {
                out.resize(size, 0);
                rans::nx16::decode(block.data, out, &mut self.scratch)
                    .map_err(|e| Cause::Rans(name, e))?;
            }
            6 => {
                out.resize(size, 0);
                rawarrow_kernels::arith::decode(block.data, out, Some(bzip2_exact))
                    .map_err(|e| Cause::Rans(name, e))?;
            }
            8 => {
                rawarrow_kernels::tok3::decode(
                    block.data,
                    out,
                    size,
                    &mut self.scratch,
                    Some(bzip2_exact),
                )
                .map_err(|e| Cause::Rans(name, e))?;
            }
            7 => rawarrow_kernels::fqzcomp::decode(block.data, out, size)
                .map_err(|e| Cause::Rans(name, e))?,
            m => return Err(Cause::UnknownMethod(m)),
        }
        if out.len() != size {
            return Err(Cause::BlockSize {
                stated: size,
                actual: out.len(),
            });
        }
        Ok(())
    }
}
