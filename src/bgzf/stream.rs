//! A BGZF file read as it arrives (standard input, a FIFO, `<(...)`): blocks are taken from a
//! bounded read-ahead instead of a map of the whole file.
//!
//! A reader thread pulls the stream's bytes in pieces into a bounded queue ([`QUEUE`] pieces of
//! at most [`PIECE`] bytes: memory is bounded whatever the stream's length, and nothing is
//! written to disk); the [`ChunkReader`](super::ChunkReader) takes whole blocks from it, copying
//! each chunk's compressed bytes into the chunk, so the workers inflate without the file. A
//! chunk ends when it holds enough bytes or when the stream has no whole block ready, so what
//! a paused producer has written is inflated and handed on during the pause.
//!
//! The stream's bytes are copied once on their way (into the chunk): each piece is read after
//! [`HEAD`] bytes of room, where the part of a block the previous piece ended with is put, and
//! the piece becomes the read-ahead; its buffer then goes back to the reader thread, which
//! reads into it again (no allocation, page fault or zeroing per read). A pipe's buffer is
//! widened to 1 MiB when the input is opened (`io::widen_pipe`), so reads fill pieces.

use std::io::Read;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::scan::parse_block;
use super::{BlockInfo, Chunk, Error, ErrorKind, EOF_MARKER, MAX_BLOCK_SIZE};
use crate::io::remote::Feed;

/// Bytes the reader thread asks for per read.
const PIECE: usize = 256 << 10;

/// Room left in front of each piece the reader thread reads: where the bytes of a block that
/// the previous piece began go, so that the piece becomes the read-ahead without a copy.
const HEAD: usize = MAX_BLOCK_SIZE;

/// Pieces read ahead at most (16 MiB with [`PIECE`]).
const QUEUE: usize = 64;

/// Piece buffers handed back to the reader thread at most: as many as can be in the queue, so
/// that none is dropped and, once the queue has been full, the thread allocates no more.
const SPARE: usize = QUEUE + 2;

/// Where a stream's pieces come from.
enum Pieces {
    /// A reader thread reading a pipe, a file object, any reader; and the way back for the
    /// buffers of pieces taken in, which it reads into again (no allocation, no page faults,
    /// no zeroing per read).
    Thread(Receiver<std::io::Result<Vec<u8>>>, Sender<Vec<u8>>),
    /// Ranged requests to a remote object.
    Remote(Feed),
}

/// The stream's bytes as the reader thread delivers them, and how far the scan got.
pub(super) struct Stream {
    pieces: Pieces,
    /// Bytes received and not yet taken: `buf[at..]`, at stream offset `pos`; `buf[kept..at]`
    /// are the stream's bytes before them, still there (what is before `kept` is not).
    buf: Vec<u8>,
    at: usize,
    kept: usize,
    pos: u64,
    /// The reader thread reported the end (or an error, kept in `failed`).
    ended: bool,
    failed: Option<std::io::Error>,
    after_eof_marker: bool,
    /// Where the last block taken sits in `buf`.
    last: std::ops::Range<usize>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("pos", &self.pos)
            .field("buffered", &self.buffered())
            .field("ended", &self.ended)
            .finish()
    }
}

/// What the stream has for the scan.
enum Next {
    /// A whole block (its bytes: [`Stream::taken`]).
    Block(BlockInfo),
    /// No whole block is ready yet (only when not waiting).
    NotReady,
    /// The stream ended after its last block.
    End,
}

impl Stream {
    /// Starts the reader thread on `reader`.
    pub(super) fn spawn(mut reader: Box<dyn Read + Send>) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let (back, spare) = crossbeam_channel::bounded::<Vec<u8>>(SPARE);
        std::thread::Builder::new()
            .name("rawarrow-stream".into())
            .spawn(move || loop {
                // A buffer handed back keeps its bytes: only what it lacks is zeroed.
                let mut piece = spare.try_recv().unwrap_or_default();
                piece.resize(HEAD + PIECE, 0);
                let got = loop {
                    match reader.read(&mut piece[HEAD..]) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        other => break other,
                    }
                };
                let last = !matches!(got, Ok(1..));
                let sent = tx.send(got.map(|n| {
                    piece.truncate(HEAD + n);
                    piece
                }));
                // The end, an error, or a reader that went away (its scan was dropped): done.
                if last || sent.is_err() {
                    return;
                }
            })?;
        Ok(Self::from(Pieces::Thread(rx, back), 0))
    }

    /// A remote object's bytes from offset `start`: `seed` (the bytes from `start` on that
    /// were fetched already), then `feed`'s, which start where `seed` ends.
    pub(super) fn remote(feed: Feed, start: u64, seed: Vec<u8>) -> Self {
        let mut s = Self::from(Pieces::Remote(feed), start);
        s.buf = seed;
        s
    }

    /// The bytes from offset `start` to the end of what this stream received, if it received
    /// `start`'s byte and kept it: what a stream over the same object from `start` (the next
    /// index chunk of a region query, often in the same blocks) need not fetch again.
    pub(super) fn received_from(&self, start: u64) -> Option<Vec<u8>> {
        let base = self.pos - self.at as u64;
        let end = base + self.buf.len() as u64;
        (base + self.kept as u64..end)
            .contains(&start)
            .then(|| self.buf[(start - base) as usize..].to_vec())
    }

    fn from(pieces: Pieces, pos: u64) -> Self {
        Self {
            pieces,
            buf: Vec::new(),
            at: 0,
            kept: 0,
            pos,
            ended: false,
            failed: None,
            after_eof_marker: false,
            last: 0..0,
        }
    }

    /// Bytes received and not yet taken.
    pub(super) fn buffered(&self) -> usize {
        self.buf.len() - self.at
    }

    /// Stream offset of the next byte the scan takes.
    pub(super) fn position(&self) -> u64 {
        self.pos
    }

    /// Whether the stream ended and every byte was taken.
    pub(super) fn finished(&self) -> bool {
        self.ended && self.buffered() == 0 && self.failed.is_none()
    }

    /// Whether the last block taken was the EOF marker.
    pub(super) fn after_eof_marker(&self) -> bool {
        self.after_eof_marker
    }

    /// Takes in a piece whose bytes start at `head` (the reader thread's pieces leave room in
    /// front of theirs).
    fn receive(&mut self, piece: std::io::Result<Vec<u8>>, head: usize) {
        let tail = self.buf.len() - self.at;
        match piece {
            Ok(p) if p.len() <= head => self.ended = true,
            Ok(mut p) if tail <= head => {
                // What was not taken yet (less than a block, as a rule) goes in front of the
                // piece, which becomes the buffer: the piece itself is not copied.
                p[head - tail..head].copy_from_slice(&self.buf[self.at..]);
                let old = std::mem::replace(&mut self.buf, p);
                self.at = head - tail;
                self.kept = self.at;
                self.recycle(old);
            }
            Ok(p) => {
                if self.at > 0 && self.at >= self.buf.len() / 2 {
                    self.buf.drain(..self.at);
                    self.at = 0;
                    self.kept = 0;
                }
                self.buf.extend_from_slice(&p[head..]);
                self.recycle(p);
            }
            Err(e) => {
                self.ended = true;
                self.failed = Some(e);
            }
        }
    }

    /// Hands a buffer whose bytes were taken in back to the reader thread (when it is one
    /// worth reading into and the thread has fewer than [`SPARE`]). A buffer grown past two
    /// pieces (a CRAM container of megabytes waited for whole) is freed instead: the spare
    /// buffers stay a piece each.
    fn recycle(&self, buf: Vec<u8>) {
        if let Pieces::Thread(_, back) = &self.pieces {
            if (HEAD + PIECE..=2 * (HEAD + PIECE)).contains(&buf.capacity()) {
                let _ = back.try_send(buf);
            }
        }
    }

    /// Receives one more piece; without `wait`, false when none has arrived.
    fn receive_one(&mut self, wait: bool) -> bool {
        let (piece, head) = match &mut self.pieces {
            Pieces::Thread(rx, _) if wait => (rx.recv().unwrap_or(Ok(Vec::new())), HEAD),
            Pieces::Thread(rx, _) => match rx.try_recv() {
                Ok(p) => (p, HEAD),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => (Ok(Vec::new()), HEAD),
            },
            Pieces::Remote(feed) => match feed.next_piece(wait) {
                Some(p) => (p, 0),
                None => return false,
            },
        };
        self.receive(piece, head);
        true
    }

    /// The first bytes of the stream (up to `n`; fewer when it is shorter), waiting for them:
    /// what the format is, before any block is taken. `None` when a read failed before any
    /// byte came (the first block then reports the failure).
    pub(super) fn peek(&mut self, n: usize) -> Option<&[u8]> {
        while !self.ended && self.buffered() < n {
            self.receive_one(true);
        }
        if self.buffered() == 0 && self.failed.is_some() {
            return None;
        }
        let end = self.buf.len().min(self.at + n);
        Some(&self.buf[self.at..end])
    }

    /// Moves the next `n` bytes, which [`peek`](Self::peek) returned, into `out` (a CRAM
    /// container's, which the worker decodes from the copy).
    pub(super) fn take_into(&mut self, n: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        self.pos += n as u64;
    }

    /// The read error that ended the stream, if one did (taken: reported once).
    pub(super) fn take_read_error(&mut self) -> Option<std::io::Error> {
        self.failed.take()
    }

    /// The bytes of the block [`next_block`](Self::next_block) took last.
    fn taken(&self) -> &[u8] {
        &self.buf[self.last.clone()]
    }

    /// Takes the next whole block. With `wait`, waits for it (or for the end); without, says
    /// when none is ready. A read error of the stream is an error at the offset it was reached.
    fn next_block(&mut self, wait: bool) -> Result<Next, Error> {
        loop {
            // A block is at most MAX_BLOCK_SIZE bytes: with that many buffered (or the end),
            // the parse is final; before, only a whole block is taken.
            let settled = self.ended || self.buffered() >= MAX_BLOCK_SIZE;
            let bytes = &self.buf[self.at..];
            if settled && bytes.is_empty() {
                return match self.failed.take() {
                    Some(e) => Err(Error::new(
                        self.pos,
                        ErrorKind::Read {
                            reason: e.to_string(),
                        },
                    )),
                    None => Ok(Next::End),
                };
            }
            match parse_block(bytes, 0) {
                Ok(block) => return Ok(self.take(block)),
                Err(e) if settled => {
                    let kind = match (e.kind(), &self.failed) {
                        // A read error cut the stream short: that is the cause.
                        (ErrorKind::Truncated { .. }, Some(io)) => ErrorKind::Read {
                            reason: io.to_string(),
                        },
                        (ErrorKind::NotBgzf, _) => ErrorKind::NotBgzf,
                        _ if self.after_eof_marker => ErrorKind::TrailingBytes {
                            len: bytes.len() as u64,
                        },
                        (kind, _) => kind.clone(),
                    };
                    return Err(Error::new(self.pos + e.offset(), kind));
                }
                Err(_) => {
                    if !self.receive_one(wait) {
                        return Ok(Next::NotReady);
                    }
                }
            }
        }
    }

    /// Copies whole blocks into `chunk` (at offsets in its own copy; `inflate_chunk` puts them
    /// back) until it holds `chunk_bytes` inflated bytes, the stream ends, the next block
    /// starts at or past `stop`, or no whole block has arrived; with `wait`, waits for the
    /// first block.
    pub(super) fn fill(
        &mut self,
        chunk: &mut Chunk,
        chunk_bytes: usize,
        wait: bool,
        stop: u64,
    ) -> Result<(), Error> {
        chunk.compressed.clear();
        chunk.streamed = true;
        let mut total = 0usize;
        while total < chunk_bytes && self.pos < stop {
            let Next::Block(mut b) = self.next_block(wait && chunk.blocks.is_empty())? else {
                break;
            };
            let at = chunk.compressed.len() as u64;
            chunk.compressed.extend_from_slice(self.taken());
            total += b.isize as usize;
            if chunk.blocks.is_empty() {
                chunk.base = b.offset - at;
            }
            b.offset = chunk.base + at;
            chunk.blocks.push(b);
        }
        Ok(())
    }

    fn take(&mut self, mut block: BlockInfo) -> Next {
        let size = block.size as usize;
        self.last = self.at..self.at + size;
        self.after_eof_marker = self.buf[self.last.clone()] == EOF_MARKER[..];
        block.offset = self.pos;
        self.at += size;
        self.pos += size as u64;
        Next::Block(block)
    }
}
