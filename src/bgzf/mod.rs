//! BGZF: the blocked gzip format under BAM, tabix and friends.
//!
//! A BGZF file is a series of gzip members ("blocks"), each at most 64 KiB compressed and
//! uncompressed, whose gzip header carries a `BC` extra subfield holding the block's size. That
//! size lets [`scan`] walk the whole file from header to header without inflating anything,
//! and lets [`find_block_start`] resynchronise from any byte offset — the basis for splitting a
//! file between workers or machines without an index.
//!
//! Inflating is done by [`ChunkReader`]: runs of consecutive blocks ("chunks") are inflated by a
//! pool of pinned workers, each block's CRC32 and ISIZE verified, and the chunks delivered strictly
//! in file order with a bounded number in flight. [`Reader`] wraps it as [`std::io::BufRead`].
//!
//! ```
//! use std::io::Read;
//! # let bgzf = rawarrow::bgzf::compress_for_tests(b"hello, blocks");
//! let input = rawarrow::io::Input::from_bytes("hello.gz", bgzf);
//! let mut text = String::new();
//! rawarrow::bgzf::Reader::new(input, rawarrow::bgzf::Options::default().threads(2))
//!     .read_to_string(&mut text)?;
//! assert_eq!(text, "hello, blocks");
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]

mod chunk;
mod chunks;
mod error;
mod inflate;
mod options;
mod position;
mod reader;
mod scan;
mod stream;

pub use chunk::Chunk;
pub(crate) use chunk::{Marker, VirtualOffsets};
pub use chunks::ChunkReader;
pub use error::{Error, ErrorKind};
pub(crate) use inflate::inflate_block;
pub use options::Options;
pub use position::VirtualPosition;
pub use reader::Reader;
pub(crate) use scan::parse_block;
pub use scan::{find_block_start, scan, BlockIndex, BlockInfo};

/// The 28-byte empty block that ends a well-formed BGZF file (SAM/BAM spec §4.1.2).
pub const EOF_MARKER: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00,
    0x1b, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Largest uncompressed (and compressed) size of one BGZF block.
pub(crate) const MAX_BLOCK_SIZE: usize = 65536;

/// Writes `data` as a valid BGZF file (blocks of at most 65,280 input bytes, then the EOF marker)
/// with libdeflate. A small helper for examples, tests and fuzzing; it is not tuned.
#[doc(hidden)]
pub fn compress_for_tests(data: &[u8]) -> Vec<u8> {
    compress(data, 6)
}

/// Writes `data` as BGZF on the calling thread, cut as htslib's `bgzf_write` cuts it (blocks of
/// 65,280 input bytes, then the EOF marker), with libdeflate at `level` (1–12). For small
/// outputs such as indexes; large data goes through a parallel writer.
pub fn compress(data: &[u8], level: i32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut comp =
        libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).unwrap_or_default());
    let mut buf = vec![0u8; MAX_BLOCK_SIZE];
    for piece in data.chunks(0xff00) {
        let n = comp
            .deflate_compress(piece, &mut buf)
            .expect("0xff00 bytes always deflate into 64 KiB");
        let bsize = u16::try_from(18 + n + 8 - 1).expect("block fits in 64 KiB");
        out.extend_from_slice(&[
            0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0,
        ]);
        out.extend_from_slice(&bsize.to_le_bytes());
        out.extend_from_slice(&buf[..n]);
        out.extend_from_slice(&libdeflater::crc32(piece).to_le_bytes());
        let isize = u32::try_from(piece.len()).expect("block length fits u32");
        out.extend_from_slice(&isize.to_le_bytes());
    }
    out.extend_from_slice(&EOF_MARKER);
    out
}
