//! A plain gzip member (not BGZF) in a mapped file: read sequentially, on the calling thread,
//! as htslib reads one.

use std::sync::Arc;

use crate::io::Input;

/// The input from a byte offset on, as a [`BufRead`](std::io::BufRead) for a gzip decoder.
pub(super) struct Tail {
    pub(super) input: Arc<Input>,
    pub(super) pos: usize,
}

impl std::io::Read for Tail {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = self.input.bytes().get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl std::io::BufRead for Tail {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(self.input.bytes().get(self.pos..).unwrap_or_default())
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

/// A plain gzip member being inflated on the calling thread.
pub(super) struct Member {
    pub(super) start: u64,
    pub(super) decoder: flate2::bufread::GzDecoder<Tail>,
}
