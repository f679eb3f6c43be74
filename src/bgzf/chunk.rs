//! A run of consecutive inflated blocks, and where its bytes sit in the compressed file.

use std::ops::Range;
use std::sync::Arc;

use super::inflate::BlockInflater;
use super::{BlockInfo, Error, VirtualPosition, MAX_BLOCK_SIZE};

/// A run of consecutive BGZF blocks, inflated.
#[derive(Debug, Default)]
pub struct Chunk {
    pub(super) index: u64,
    pub(super) first_block: u64,
    pub(super) blocks: Vec<BlockInfo>,
    pub(super) data: Vec<u8>,
    pub(super) len: usize,
    pub(super) range: usize,
    /// Blocks whose ISIZE disagreed with their data, and the first: offset, stated, inflated.
    pub(super) isize_mismatch: (u64, Option<(u64, u32, u32)>),
    /// The compressed offset of the plain gzip member these bytes come from (no blocks).
    pub(super) member: Option<u64>,
    /// What a [`Marker`] found on the worker that inflated the chunk (empty without one).
    pub(super) marks: Vec<u32>,
    pub(super) marks_end: usize,
    /// For a stream: the blocks' compressed bytes (copied: there is no map to read them
    /// from), the first at stream offset `base`.
    pub(super) streamed: bool,
    pub(super) compressed: Vec<u8>,
    pub(super) base: u64,
    /// For a CRAM input: what the chunk holds (the BAM header, or a container's records).
    pub(super) cram: Option<crate::cram::Job>,
}

/// Runs on the worker that inflated a chunk, while its bytes are in that worker's cache, to
/// note positions in them for the consumer (a BAM reader's record starts): fills the list it is
/// given (empty) with increasing offsets and returns an end offset. See [`Chunk::marks`].
pub(crate) type Marker = Arc<dyn Fn(&[u8], &mut Vec<u32>) -> usize + Send + Sync>;

impl Chunk {
    /// The offsets and end offset the reader's [`Marker`] noted on the worker (empty and 0
    /// without one, and for bytes of a plain gzip member).
    pub(crate) fn marks(&self) -> (&[u32], usize) {
        (&self.marks, self.marks_end)
    }

    /// Where the first block at or past compressed offset `offset` starts in
    /// [`data`](Self::data) (its length when there is none): every byte before it has a
    /// virtual position before that block's start, every byte from it one at or after it.
    pub(crate) fn data_before_block_at(&self, offset: u64) -> usize {
        self.blocks
            .iter()
            .take_while(|b| b.offset < offset)
            .map(|b| b.isize as usize)
            .sum()
    }

    /// Which of the reader's ranges its blocks come from ([`ChunkReader::ranges`]; 0 for a
    /// reader of one range or of the whole file).
    pub(crate) fn range(&self) -> usize {
        self.range
    }

    /// Sequence number of this chunk (0, 1, 2, ... in file order).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inflated bytes of all the chunk's blocks, concatenated.
    pub fn data(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// The chunk's blocks, in order.
    pub fn blocks(&self) -> &[BlockInfo] {
        &self.blocks
    }

    /// Block numbers (0-based, in file order) of the chunk's blocks.
    pub fn block_range(&self) -> Range<u64> {
        self.first_block..self.first_block + self.blocks.len() as u64
    }

    /// The compressed offset of the plain gzip member (not BGZF) whose bytes these are, read
    /// sequentially as htslib reads such members; such a chunk has no blocks, and its bytes
    /// have no virtual offsets (an index cannot address them).
    pub(crate) fn plain_gzip_member(&self) -> Option<u64> {
        self.member
    }

    /// Compressed byte range of the chunk in the file.
    pub fn compressed_range(&self) -> Range<u64> {
        match (self.blocks.first(), self.blocks.last()) {
            (Some(a), Some(b)) => a.offset..b.end(),
            _ => match self.cram {
                Some(crate::cram::Job::Container(at, _)) => at..at,
                _ => self.member.map_or(0..0, |m| m..m),
            },
        }
    }

    /// The virtual position of byte `pos` of [`data`](Self::data). A position at the end of a block is given as the start of the next
    /// one, as htslib does; `pos` at or past the end maps to the end of the chunk.
    pub fn virtual_offset(&self, pos: usize) -> VirtualPosition {
        let mut start = 0usize;
        for b in &self.blocks {
            let end = start + b.isize as usize;
            if pos < end {
                return VirtualPosition::new(b.offset, (pos - start) as u16);
            }
            start = end;
        }
        VirtualPosition::block(self.compressed_range().end)
    }
}

/// [`Chunk::virtual_offset`] for positions visited in increasing order: a cursor over the
/// chunk's blocks, so walking every record of a chunk costs one step per block instead of a
/// scan of the block list per record.
pub(crate) struct VirtualOffsets<'a> {
    chunk: &'a Chunk,
    /// The block `pos` was last found in, and where it starts in the chunk's data.
    block: usize,
    start: usize,
}

impl<'a> VirtualOffsets<'a> {
    pub(crate) fn new(chunk: &'a Chunk) -> Self {
        Self {
            chunk,
            block: 0,
            start: 0,
        }
    }

    /// The virtual offset of byte `pos`; `pos` must not be below the last one asked for.
    pub(crate) fn at(&mut self, pos: usize) -> VirtualPosition {
        while let Some(b) = self.chunk.blocks.get(self.block) {
            let end = self.start + b.isize as usize;
            if pos < end {
                return VirtualPosition::new(b.offset, (pos - self.start) as u16);
            }
            self.start = end;
            self.block += 1;
        }
        VirtualPosition::block(self.chunk.compressed_range().end)
    }
}

pub(super) fn inflate_chunk(
    file: &[u8],
    inflater: &mut BlockInflater,
    mut chunk: Chunk,
) -> Result<Chunk, Error> {
    if chunk.streamed {
        // The blocks are in the chunk's own copy, at offsets from `base`.
        let compressed = std::mem::take(&mut chunk.compressed);
        let base = chunk.base;
        for b in &mut chunk.blocks {
            b.offset -= base;
        }
        let out = inflate_blocks(&compressed, inflater, chunk);
        let mut chunk = out.map_err(|e| Error::new(e.offset() + base, e.kind().clone()))?;
        for b in &mut chunk.blocks {
            b.offset += base;
        }
        if let Some(m) = &mut chunk.isize_mismatch.1 {
            m.0 += base;
        }
        chunk.compressed = compressed;
        return Ok(chunk);
    }
    inflate_blocks(file, inflater, chunk)
}

fn inflate_blocks(
    file: &[u8],
    inflater: &mut BlockInflater,
    mut chunk: Chunk,
) -> Result<Chunk, Error> {
    // Each block inflates into room for the largest one, so an ISIZE that disagrees with the
    // data (htslib ignores ISIZE) costs nothing; the block then records its true length.
    let total: usize = chunk.blocks.iter().map(|b| b.isize as usize).sum();
    let room = total + MAX_BLOCK_SIZE;
    if chunk.data.len() < room {
        // Grows once per buffer; recycled buffers are reused without clearing.
        chunk.data.resize(room, 0);
    }
    let mut at = 0;
    for b in &mut chunk.blocks {
        if chunk.data.len() < at + MAX_BLOCK_SIZE {
            chunk.data.resize(at + MAX_BLOCK_SIZE, 0);
        }
        let n = inflater.inflate(file, b, &mut chunk.data[at..at + MAX_BLOCK_SIZE])?;
        if n != b.isize as usize {
            let first = chunk.isize_mismatch.1;
            let this = (b.offset, trailer_isize(file, b), n as u32);
            chunk.isize_mismatch = (chunk.isize_mismatch.0 + 1, first.or(Some(this)));
            b.isize = n as u32;
        }
        at += n;
    }
    chunk.len = at;
    Ok(chunk)
}

/// The ISIZE a block's trailer states.
pub(super) fn trailer_isize(file: &[u8], b: &BlockInfo) -> u32 {
    let end = b.end() as usize;
    u32::from_le_bytes([file[end - 4], file[end - 3], file[end - 2], file[end - 1]])
}
