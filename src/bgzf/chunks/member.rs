//! A plain gzip member (not BGZF) in a mapped file: read sequentially, on the calling thread,
//! as htslib reads one.

use std::sync::Arc;

use super::super::scan::ScanState;
use super::super::{Error, ErrorKind, MAX_BLOCK_SIZE};
use super::{ChunkReader, Outcome};
use crate::io::Input;

/// The input from a byte offset on, as a [`BufRead`](std::io::BufRead) for a gzip decoder.
struct Tail {
    input: Arc<Input>,
    pos: usize,
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
    start: u64,
    decoder: flate2::bufread::GzDecoder<Tail>,
}

impl ChunkReader {
    /// The next chunk of the plain gzip member at hand, inflated on the calling thread; when the
    /// member ends, scanning resumes after it (the next member may be BGZF again).
    pub(super) fn member_chunk(&mut self) -> Outcome {
        let mut member = match (self.member.take(), self.member_at.take()) {
            (Some(m), _) => m,
            (None, Some(start)) => {
                let first = if self.members.0 == 0 {
                    start
                } else {
                    self.members.1
                };
                self.members = (self.members.0 + 1, first);
                let tail = Tail {
                    input: self.input.clone(),
                    pos: start as usize,
                };
                Member {
                    start,
                    decoder: flate2::bufread::GzDecoder::new(tail),
                }
            }
            (None, None) => unreachable!("called with a member at hand"),
        };
        let mut chunk = self.spare.pop().unwrap_or_default();
        chunk.blocks.clear();
        chunk.marks.clear();
        chunk.marks_end = 0;
        chunk.isize_mismatch = (0, None);
        let want = self.opts.chunk_bytes.max(MAX_BLOCK_SIZE);
        if chunk.data.len() < want {
            chunk.data.resize(want, 0);
        }
        let mut len = 0;
        let ended = loop {
            match std::io::Read::read(&mut member.decoder, &mut chunk.data[len..want]) {
                Ok(0) => break true,
                Ok(n) => {
                    len += n;
                    if len == want {
                        break false;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let reason = match e.kind() {
                        std::io::ErrorKind::UnexpectedEof => "truncated member".to_string(),
                        _ => e.to_string(),
                    };
                    self.scan_error = None;
                    return Err(Error::new(member.start, ErrorKind::Gzip { reason }));
                }
            }
        };
        chunk.len = len;
        chunk.member = Some(member.start);
        chunk.range = self.range;
        chunk.index = self.dispatched;
        chunk.first_block = self.next_block;
        self.dispatched += 1;
        if ended {
            let end = member.decoder.into_inner().pos as u64;
            self.scan = ScanState::at(end);
            self.ended_plain = true;
        } else {
            self.member = Some(member);
        }
        Ok(chunk)
    }
}

impl ChunkReader {
    /// What was read leniently so far, as htslib reads it, and is worth a warning: plain gzip
    /// members (inflated sequentially, not in parallel) and blocks whose ISIZE disagrees with
    /// their data. Each kind is reported once, with a count; the list is emptied.
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let path = self.path.display();
        if let (n @ 1.., first) = self.members {
            out.push(format!(
                "{path}: {n} plain gzip member(s), the first at compressed offset {first}, \
                 not BGZF: read sequentially on one thread (recompress with bgzip for \
                 parallel reading and indexing)"
            ));
        }
        if let (n @ 1.., Some((at, stated, inflated))) = self.mismatches {
            out.push(format!(
                "{path}: {n} BGZF block(s) whose ISIZE disagrees with the data, the first at \
                 compressed offset {at} (ISIZE {stated}, inflated {inflated}); the data, \
                 checked by its CRC32, is used as htslib uses it"
            ));
        }
        self.members = (0, 0);
        self.mismatches = (0, None);
        out
    }
}
