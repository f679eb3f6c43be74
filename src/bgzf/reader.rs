//! `std::io::Read`/`BufRead` over the parallel pipeline.

use std::io::{BufRead, Read};
use std::sync::Arc;

use super::{Chunk, ChunkReader, Options};
use crate::io::Input;

/// A [`BufRead`] of the uncompressed bytes of a BGZF input, inflated in parallel.
///
/// Corrupt input surfaces as an [`std::io::Error`] of kind `InvalidData` wrapping a
/// [`bgzf::Error`](super::Error) (path, compressed offset, cause).
#[derive(Debug)]
pub struct Reader {
    chunks: ChunkReader,
    current: Option<Chunk>,
    pos: usize,
}

impl Reader {
    /// Reads `input` with the given pipeline options.
    pub fn new(input: impl Into<Arc<Input>>, opts: Options) -> Self {
        Self::from_chunks(ChunkReader::new(input, opts))
    }

    /// Reads from an existing chunk pipeline (e.g. one started mid-file).
    pub(crate) fn from_chunks(chunks: ChunkReader) -> Self {
        Self {
            chunks,
            current: None,
            pos: 0,
        }
    }

    /// The underlying chunk pipeline (for its EOF-marker flag and byte counters).
    pub fn chunks(&self) -> &ChunkReader {
        &self.chunks
    }
}

impl BufRead for Reader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        loop {
            if let Some(c) = &self.current {
                if self.pos < c.data().len() {
                    break;
                }
            }
            if let Some(old) = self.current.take() {
                self.chunks.recycle(old);
            }
            self.pos = 0;
            // Once per chunk, not per read: the settings the reader refuses.
            if let Err(m) = self.chunks.options().check() {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, m));
            }
            match self.chunks.next_chunk() {
                None => return Ok(&[]),
                Some(chunk) => self.current = Some(chunk?),
            }
        }
        let chunk = self
            .current
            .as_ref()
            .expect("loop exits with a non-empty chunk");
        Ok(&chunk.data()[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}
