//! The ordered parallel inflate pipeline.
//!
//! The calling thread scans block headers (cheap: one header per 20–64 KiB) and groups
//! consecutive blocks into chunks of about [`Options::chunk_bytes`] uncompressed bytes. Chunks are
//! inflated by pinned workers, each with its own reused libdeflate decompressor; finished chunks
//! are put back in file order and handed out by [`ChunkReader`]'s iterator. At most
//! [`Options::in_flight`] chunks are dispatched but not yet handed out, and chunk buffers given
//! back with [`ChunkReader::recycle`] are reused, so memory stays bounded by
//! `in_flight × chunk_bytes` whatever the file size. With one thread nothing is spawned:
//! chunks are inflated on the calling thread.

use std::path::Path;
use std::sync::Arc;

mod cram;
mod member;

use member::Member;

use super::chunk::{inflate_chunk, Chunk, Marker};
use super::inflate::BlockInflater;
use super::options::Options;
use super::scan::ScanState;
use super::stream::Stream;
use super::{Error, ErrorKind, MAX_BLOCK_SIZE};
use crate::io::Input;
use crate::runtime::{Ordered, Pool, WorkerPanicked};

type Outcome = Result<Chunk, Error>;

/// Chunks inflated on pinned workers (inline with one thread), handed out in file order.
type Engine = Ordered<Chunk, Outcome>;

/// Inflates a BGZF input chunk by chunk, in parallel, yielding chunks strictly in file order.
///
/// This is the chunk-level entry point for decoders: each [`Chunk`] carries its bytes, its block
/// numbers and its compressed offsets. After the first error, iteration ends.
///
/// ```
/// use rawarrow::bgzf::{ChunkReader, Options};
/// # let file = rawarrow::bgzf::compress_for_tests(&vec![b'x'; 300_000]);
/// let input = rawarrow::io::Input::from_bytes("x.gz", file);
/// let mut chunks = ChunkReader::new(input, Options::default().threads(2).chunk_bytes(65536));
/// let mut total = 0;
/// while let Some(chunk) = chunks.next() {
///     let chunk = chunk?;
///     total += chunk.data().iter().filter(|&&b| b == b'x').count();
///     chunks.recycle(chunk); // reuse its buffer
/// }
/// assert_eq!(total, 300_000);
/// assert_eq!(chunks.eof_marker(), Some(true));
/// # Ok::<(), rawarrow::Error>(())
/// ```
pub struct ChunkReader {
    input: Arc<Input>,
    path: Arc<Path>,
    opts: Options,
    engine: Option<Engine>,
    scan: ScanState,
    scan_error: Option<Error>,
    next_block: u64,
    dispatched: u64,
    spare: Vec<Chunk>,
    released: u64,
    uncompressed: u64,
    /// Blocks (or CRAM containers, or pieces of a plain gzip member) handed out so far.
    pieces: u64,
    done: bool,
    /// No block starting at or after this compressed offset is read.
    end: u64,
    /// The ranges after the current one (number, start, end), and the current one's number.
    ranges: std::collections::VecDeque<(usize, u64, u64)>,
    range: usize,
    /// A plain gzip member found by the scan, waiting for the chunks before it.
    member_at: Option<u64>,
    /// The plain gzip member being inflated.
    member: Option<Member>,
    /// Whether the last member read was plain gzip (no EOF marker block to expect).
    ended_plain: bool,
    /// Plain gzip members read, and the first one's offset.
    members: (u64, u64),
    /// Blocks whose ISIZE disagreed with their data, and the first one.
    mismatches: (u64, Option<(u64, u32, u32)>),
    /// Run on each chunk after it is inflated, on the worker.
    marker: Option<Marker>,
    /// The stream blocks are taken from, for an input that is one (no map to scan).
    stream: Option<Stream>,
    /// Chunks handed out (or failed): with `dispatched`, whether any is in flight.
    delivered: u64,
    /// The remote object read, and where its current range starts: its blocks come through
    /// `stream`, one stream per range.
    remote: Option<(Arc<crate::io::remote::Object>, u64)>,
    /// The last range's stream, whose bytes the next range may start in.
    spent: Option<Stream>,
    /// Bytes of the remote object fetched before (from the offset given), read first.
    seed: Option<(u64, Vec<u8>)>,
    /// A whole-object read of a remote object fetches ahead only until about here.
    fetch_end: u64,
    /// A CRAM input's containers (decoded into BAM records on the workers).
    cram: Option<crate::cram::Containers>,
}

impl std::fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkReader")
            .field("path", &self.path)
            .field("opts", &self.opts)
            .field("position", &self.scan.position())
            .finish()
    }
}

/// Release consumed compressed pages in steps of this many bytes.
const RELEASE_STEP: u64 = 4 << 20;

impl ChunkReader {
    /// Starts inflating `input`. Worker threads start lazily, on the first chunk requested.
    pub fn new(input: impl Into<Arc<Input>>, opts: Options) -> Self {
        Self::from_offset(input, 0, opts)
    }

    /// Starts at compressed offset `offset`, which must be a block start (see
    /// [`find_block_start`](super::find_block_start)).
    pub(crate) fn from_offset(input: impl Into<Arc<Input>>, offset: u64, opts: Options) -> Self {
        let input = input.into();
        let path: Arc<Path> = input.path().into();
        let (mut stream, mut scan_error) = (None, None);
        if input.is_stream() {
            let failed = |reason: String| Some(Error::new(offset, ErrorKind::Read { reason }));
            match input.take_stream().map(Stream::spawn) {
                Some(Ok(s)) if offset == 0 => stream = Some(s),
                Some(Ok(_)) => scan_error = failed("a stream is read from its start".into()),
                Some(Err(e)) => scan_error = failed(format!("cannot start its reader: {e}")),
                None => scan_error = failed("it was read already (a stream is read once)".into()),
            }
        }
        let scan_error = scan_error.map(|e: Error| e.with_path(path.clone()));
        let remote = input.remote_object().map(|o| (o.clone(), offset));
        Self {
            input,
            path,
            opts,
            engine: None,
            scan: ScanState::at(offset),
            scan_error,
            next_block: 0,
            dispatched: 0,
            spare: Vec::new(),
            released: offset,
            uncompressed: 0,
            pieces: 0,
            done: false,
            end: u64::MAX,
            ranges: std::collections::VecDeque::new(),
            range: 0,
            member_at: None,
            member: None,
            ended_plain: false,
            members: (0, 0),
            mismatches: (0, None),
            marker: None,
            stream,
            delivered: 0,
            remote,
            spent: None,
            seed: None,
            fetch_end: u64::MAX,
            cram: None,
        }
        .open_cram(offset)
    }

    /// For a remote object, makes `stream` the current range's, moving on to the next range
    /// when it is read; false when every range is read. True for other inputs.
    fn remote_stream(&mut self) -> bool {
        let Some((object, _)) = self.remote.clone() else {
            return true;
        };
        loop {
            match &self.stream {
                Some(s) if s.position() < self.end && !s.finished() => return true,
                Some(_) => {
                    let Some((i, start, end)) = self.ranges.pop_front() else {
                        return false;
                    };
                    (self.range, self.end) = (i, end);
                    self.remote = Some((object.clone(), start));
                    self.spent = self.stream.take();
                }
                None => {
                    // A whole-object read fetches ahead, several ranges at once; a block
                    // range (an index chunk), or a read a block at a time (a region query's
                    // header), fetches only what it reads: the range and the block that
                    // starts before its end.
                    use crate::io::remote::{Feed, Fetch};
                    let how = match self.end {
                        u64::MAX if self.opts.chunk_bytes > MAX_BLOCK_SIZE => Fetch::Ahead,
                        u64::MAX => Fetch::Probe,
                        _ => Fetch::Range,
                    };
                    let start = self.remote.as_ref().map_or(0, |(_, start)| *start);
                    // A CRAM range ends where its last container does (the next one starts).
                    let past = if self.cram.is_some() {
                        0
                    } else {
                        MAX_BLOCK_SIZE as u64
                    };
                    let limit = self.end.saturating_add(past);
                    // The last range's bytes from this one's start on, when it fetched them
                    // (or the bytes fetched to find a split's start).
                    let given = self.seed.take().and_then(|(at, bytes)| {
                        let skip = usize::try_from(start.checked_sub(at)?).ok()?;
                        (skip < bytes.len()).then(|| bytes[skip..].to_vec())
                    });
                    let seed = (self.spent.take())
                        .and_then(|s| s.received_from(start))
                        .or(given)
                        .unwrap_or_default();
                    let from = (start + seed.len() as u64).min(limit);
                    let mut feed = Feed::new(object, from, limit, how);
                    feed.ahead_until(self.fetch_end);
                    self.stream = Some(Stream::remote(feed, start, seed));
                    return true;
                }
            }
        }
    }

    /// For a remote object read from a split's start: `bytes` (from offset `at`) were fetched
    /// already and are read first; fetching ahead stops soon after `end`, past which only the
    /// split's last record is read.
    pub(crate) fn seed_remote(&mut self, at: u64, bytes: Vec<u8>, end: u64) {
        self.seed = Some((at, bytes));
        self.fetch_end = end;
    }

    /// Runs `marker` on each chunk on the worker that inflates it ([`Chunk::marks`]); call
    /// before the first chunk is asked for (later, chunks already dispatched are not marked).
    pub(crate) fn set_marker(&mut self, marker: Marker) {
        self.marker = Some(marker);
    }

    /// Reads the blocks that start in each of `ranges` (compressed offsets `[start, end)`,
    /// each `start` a block start), one range after the other; a chunk never mixes blocks of
    /// two ranges, and [`Chunk::range`] says whose it is. Blocks of later ranges are inflated
    /// on the workers while earlier ones are consumed: the chunks of an index query.
    pub(crate) fn ranges(
        input: impl Into<Arc<Input>>,
        ranges: &[(u64, u64)],
        opts: Options,
    ) -> Self {
        let (start, end) = ranges.first().copied().unwrap_or((0, 0));
        let mut r = Self::range(input, start, end, opts);
        r.ranges = ranges
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, &(s, e))| (i, s, e))
            .collect();
        r
    }

    /// Drops the ranges `skip` names (by number) from what is still to be read: the rest of
    /// the current one and any later one. Chunks already dispatched still come.
    pub(crate) fn skip_ranges(&mut self, skip: impl Fn(usize) -> bool) {
        if skip(self.range) {
            self.end = 0;
        }
        self.ranges.retain(|&(i, _, _)| !skip(i));
    }

    /// Reads only the blocks that start in `start..end` (compressed offsets; `start` must be a
    /// block start): the blocks an index chunk names, without inflating ahead of them.
    pub fn range(input: impl Into<Arc<Input>>, start: u64, end: u64, opts: Options) -> Self {
        let mut r = Self::from_offset(input, start, opts);
        r.end = end;
        // Ranges may be read again or out of order: their pages are not released.
        r.opts.release = false;
        r
    }

    /// The settings it reads with.
    pub(crate) fn options(&self) -> &Options {
        &self.opts
    }

    /// Gives a chunk's buffers back for reuse by later chunks. Every recycled chunk is kept, so
    /// the spare buffers never outnumber the chunks the caller once held at the same time (a
    /// BAM reader holds a batch's worth per job in flight); dropping a chunk instead frees it.
    pub fn recycle(&mut self, chunk: Chunk) {
        self.spare.push(chunk);
    }

    /// Whether the file ended with the EOF marker block; `None` until the whole file is scanned,
    /// and when it ends with a plain gzip member (which has no EOF marker to expect).
    pub fn eof_marker(&self) -> Option<bool> {
        if let Some(c) = &self.cram {
            return c.eof_marker();
        }
        if let Some(s) = &self.stream {
            return (s.finished() && self.scan_error.is_none()).then(|| s.after_eof_marker());
        }
        let scanned = self.scan.position() >= self.input.len() as u64
            && self.scan_error.is_none()
            && self.member.is_none()
            && self.member_at.is_none()
            && !self.ended_plain;
        scanned.then(|| self.scan.after_eof_marker())
    }

    /// For a stream, its first `n` bytes (fewer if it is shorter), waited for; `None` for a
    /// file (its bytes are the input's) and for a stream whose first read failed (the first
    /// chunk says so).
    pub(crate) fn peek(&mut self, n: usize) -> Option<&[u8]> {
        if self.cram.is_some() {
            return None; // A CRAM stream's header was taken already.
        }
        self.remote_stream();
        self.stream.as_mut().and_then(|s| s.peek(n))
    }

    /// Compressed bytes scanned so far (for progress reporting).
    pub(crate) fn compressed_position(&self) -> u64 {
        if let Some(c) = &self.cram {
            return c.position();
        }
        if let Some(s) = &self.stream {
            return s.position();
        }
        self.scan.position()
    }

    /// BGZF blocks handed out so far, inflated (a CRAM container, or a piece of a plain gzip
    /// member, counts as one).
    pub(crate) fn pieces(&self) -> u64 {
        self.pieces
    }

    /// Uncompressed bytes handed out so far.
    pub(crate) fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed
    }

    /// Groups the next blocks into a chunk job; `None` when the scan has nothing more.
    fn next_job(&mut self) -> Option<Chunk> {
        if self.scan_error.is_some() || self.member_at.is_some() || self.member.is_some() {
            return None;
        }
        let mut chunk = self.spare.pop().unwrap_or_default();
        chunk.blocks.clear();
        chunk.marks.clear();
        chunk.marks_end = 0;
        chunk.len = 0;
        chunk.isize_mismatch = (0, None);
        chunk.member = None;
        chunk.streamed = false;
        chunk.cram = None;
        if self.cram.is_some() {
            return self.cram_job(chunk);
        }
        if !self.remote_stream() {
            self.spare.push(chunk);
            return None;
        }
        if let Some(stream) = &mut self.stream {
            // Waits for the first block only when no chunk is in flight (so the caller always
            // has one to wait for); otherwise the chunk ends with the blocks that have arrived.
            let wait = self.dispatched == self.delivered;
            chunk.range = self.range;
            if let Err(e) = stream.fill(&mut chunk, self.opts.chunk_bytes, wait, self.end) {
                self.scan_error = Some(e.with_path(self.path.clone()));
            }
        } else {
            self.fill_from_file(&mut chunk);
        }
        if chunk.blocks.is_empty() {
            self.spare.push(chunk);
            return None;
        }
        chunk.index = self.dispatched;
        chunk.first_block = self.next_block;
        self.next_block += chunk.blocks.len() as u64;
        self.dispatched += 1;
        Some(chunk)
    }

    /// Puts the next blocks of the mapped file into `chunk`.
    fn fill_from_file(&mut self, chunk: &mut Chunk) {
        let mut total = 0usize;
        let file = self.input.bytes();
        // The next range when this one is used up (a chunk holds blocks of one range only).
        while self.scan.position() >= self.end {
            let Some((i, start, end)) = self.ranges.pop_front() else {
                break;
            };
            self.scan = ScanState::at(start);
            self.end = end;
            self.range = i;
        }
        chunk.range = self.range;
        while total < self.opts.chunk_bytes && self.scan.position() < self.end {
            match self.scan.next_block(file) {
                None => break,
                Some(Ok(b)) => {
                    total += b.isize as usize;
                    chunk.blocks.push(b);
                    self.ended_plain = false;
                }
                // A gzip member that is not BGZF: htslib reads it as plain gzip, and so does a
                // whole-file read, once the chunks before it are delivered. Block-addressed
                // reads (byte ranges, index chunks) cannot.
                Some(Err(e)) if *e.kind() == ErrorKind::NotBgzf && self.end == u64::MAX => {
                    self.member_at = Some(e.offset());
                    break;
                }
                Some(Err(e)) => {
                    self.scan_error = Some(e.with_path(self.path.clone()));
                    break;
                }
            }
        }
    }

    fn engine(&mut self) -> Result<&mut Engine, Error> {
        if self.engine.is_none() {
            let input = self.input.clone();
            let threads = self.opts.threads;
            // Inline, a chunk is inflated as soon as it is framed: no scanning ahead.
            let inline = threads <= 1 && self.opts.crew.is_none();
            let ahead = if inline { 1 } else { self.opts.max_in_flight() };
            let init = |_| (BlockInflater::new(), None);
            let marker = self.marker.clone();
            let cram = self.cram.as_ref().map(|c| c.context().clone());
            let work =
                move |(inflater, worker): &mut (BlockInflater, Option<crate::cram::Worker>),
                      chunk: Chunk| {
                    let mut chunk = match &cram {
                        Some(ctx) => cram::decode(ctx, input.bytes(), worker, chunk)?,
                        None => inflate_chunk(input.bytes(), inflater, chunk)?,
                    };
                    if let Some(mark) = &marker {
                        let Chunk {
                            data,
                            len,
                            marks,
                            marks_end,
                            ..
                        } = &mut chunk;
                        *marks_end = mark(&data[..*len], marks);
                    }
                    Ok(chunk)
                };
            let pin = self.opts.pin;
            let engine = match &self.opts.crew {
                Some(crew) => Ok(Ordered::new(Pool::on(crew, "inflate", init, work), ahead)),
                None if inline => Ordered::spawn_named("inflate", 1, pin, ahead, init, work),
                None => Pool::spawn_named("inflate", threads, pin, init, work)
                    .map(|p| Ordered::new(p, ahead)),
            }
            .map_err(|_| Error::new(self.scan.position(), ErrorKind::WorkerFailed))?;
            if self.opts.release {
                // The first two steps, mapped while the first chunks inflate.
                if let Some(crew) = engine.crew() {
                    let (input, at) = (self.input.clone(), self.scan.position() as usize);
                    crew.run(move || input.prefault(at..at + 2 * RELEASE_STEP as usize));
                }
            }
            self.engine = Some(engine);
        }
        Ok(self.engine.as_mut().expect("engine was just set"))
    }

    /// The next chunk in file order: blocks are grouped into chunk jobs while the window has
    /// room; a plain gzip member is inflated here once every chunk before it is handed out.
    fn produce(&mut self) -> Option<Outcome> {
        let path = self.path.clone();
        if let Err(e) = self.engine() {
            return Some(Err(e.with_path(path)));
        }
        while self.engine.as_ref().is_some_and(Ordered::has_room) {
            let Some(job) = self.next_job() else { break };
            self.engine
                .as_mut()
                .expect("engine started above")
                .submit(job);
        }
        let engine = self.engine.as_mut().expect("engine started above");
        let next = engine.next_result();
        if next.is_some() {
            self.delivered += 1;
        }
        match next {
            Some(Ok(out)) => Some(out.map_err(|e| e.with_path(path))),
            Some(Err(WorkerPanicked)) => {
                let at = self.scan.position();
                Some(Err(Error::new(at, ErrorKind::WorkerFailed).with_path(path)))
            }
            None if self.member_at.is_some() || self.member.is_some() => {
                Some(self.member_chunk().map_err(|e| e.with_path(path)))
            }
            None => self.scan_error.take().map(Err),
        }
    }
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        // Hundreds of spare chunk buffers at the end of a BAM read: freed on a worker of the
        // crew shared with the reader's other work, not on the calling thread.
        if let Some(crew) = &self.opts.crew {
            let spare = std::mem::take(&mut self.spare);
            crew.run(move || drop(spare));
        }
    }
}

impl ChunkReader {
    /// The next chunk, with the BGZF error itself (the readers above name the record or file).
    pub(crate) fn next_chunk(&mut self) -> Option<Result<Chunk, Error>> {
        if self.done {
            return None;
        }
        let mut out = self.produce();
        // What was read from pages that were gone (the file shrank underneath) never leaves:
        // the chunk, or the error the zeros caused, becomes the cut.
        if let Err(cut) = self.input.check() {
            out = Some(Err(Error::shrunk(&cut)));
        }
        match &out {
            Some(Ok(chunk)) => {
                if let (k @ 1.., first) = chunk.isize_mismatch {
                    let (n, seen) = self.mismatches;
                    self.mismatches = (n + k, seen.or(first));
                }
                self.uncompressed += chunk.len as u64;
                self.pieces += chunk.blocks.len().max(1) as u64;
                let end = chunk.compressed_range().end;
                if self.opts.release && end.saturating_sub(self.released) >= RELEASE_STEP {
                    // The pages inflated leave the resident set, and those two steps ahead are
                    // mapped for the scan: on a worker when there are workers.
                    let (input, consumed) =
                        (self.input.clone(), self.released as usize..end as usize);
                    let ahead = (end + RELEASE_STEP) as usize..(end + 2 * RELEASE_STEP) as usize;
                    let task = move || {
                        input.release(consumed);
                        input.prefault(ahead);
                    };
                    match self.engine.as_ref().and_then(Ordered::crew) {
                        Some(crew) => crew.run(task),
                        None => task(),
                    }
                    self.released = end;
                }
            }
            Some(Err(_)) | None => {
                self.done = true;
                // Stop the workers now; queued results are dropped.
                self.engine = None;
            }
        }
        out
    }
}

impl Iterator for ChunkReader {
    type Item = Result<Chunk, crate::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.done {
            if let Err(m) = self.opts.check() {
                self.done = true;
                let e = crate::Error::usage(m).at(Some(&self.path), crate::Location::File);
                return Some(Err(e));
            }
        }
        self.next_chunk().map(|c| c.map_err(crate::Error::from))
    }
}

#[cfg(test)]
mod tests;
