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

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::inflate::BlockInflater;
use super::scan::ScanState;
use super::{BlockInfo, Error, ErrorKind, MAX_BLOCK_SIZE};
use crate::io::Input;
use crate::runtime::{default_threads, Crew, Ordered, Pool, WorkerPanicked};

/// Settings of the parallel inflate pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    threads: usize,
    chunk_bytes: usize,
    in_flight: Option<usize>,
    pin: bool,
    release: bool,
    /// Inflate on these workers, shared with other work (a BAM reader's decoding), instead of
    /// a crew of its own.
    crew: Option<Arc<Crew>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            chunk_bytes: 512 * 1024,
            in_flight: None,
            pin: true,
            release: true,
            crew: None,
        }
    }
}

impl Options {
    /// Worker threads (default: the cores this process may use). 1 inflates on the calling thread.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Target uncompressed bytes per chunk (default 512 KiB); a chunk ends at the first block
    /// boundary at or past it.
    pub fn chunk_bytes(mut self, n: usize) -> Self {
        self.chunk_bytes = n.max(1);
        self
    }

    /// Most chunks dispatched but not yet handed out (default: 3 per thread, at least 4).
    pub(crate) fn in_flight(mut self, n: usize) -> Self {
        self.in_flight = Some(n.max(1));
        self
    }

    /// Inflates on `crew`'s workers, beside their other work (the calling thread then only
    /// hands chunks on); the window of chunks in flight follows [`Options::threads`].
    pub(crate) fn on_crew(mut self, crew: Arc<Crew>) -> Self {
        self.crew = Some(crew);
        self
    }

    /// The configured thread count.
    pub(crate) fn thread_count(&self) -> usize {
        self.threads
    }

    /// Whether workers are pinned to cores.
    pub(crate) fn pins(&self) -> bool {
        self.pin
    }

    fn max_in_flight(&self) -> usize {
        self.in_flight.unwrap_or((3 * self.threads).max(4))
    }
}

/// A run of consecutive BGZF blocks, inflated.
#[derive(Debug, Default)]
pub struct Chunk {
    index: u64,
    first_block: u64,
    blocks: Vec<BlockInfo>,
    data: Vec<u8>,
    len: usize,
    range: usize,
    /// Blocks whose ISIZE disagreed with their data, and the first: offset, stated, inflated.
    isize_mismatch: (u64, Option<(u64, u32, u32)>),
    /// The compressed offset of the plain gzip member these bytes come from (no blocks).
    member: Option<u64>,
    /// What a [`Marker`] found on the worker that inflated the chunk (empty without one).
    marks: Vec<u32>,
    marks_end: usize,
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
    /// virtual offset below `offset << 16`, every byte from it one at or above.
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
    pub fn plain_gzip_member(&self) -> Option<u64> {
        self.member
    }

    /// Compressed byte range of the chunk in the file.
    pub fn compressed_range(&self) -> Range<u64> {
        match (self.blocks.first(), self.blocks.last()) {
            (Some(a), Some(b)) => a.offset..b.end(),
            _ => self.member.map_or(0..0, |m| m..m),
        }
    }

    /// BGZF virtual offset (`block offset << 16 | offset in block`) of byte `pos` of
    /// [`data`](Self::data). A position at the end of a block is given as the start of the next
    /// one, as htslib does; `pos` at or past the end maps to the end of the chunk.
    pub fn virtual_offset(&self, pos: usize) -> u64 {
        let mut start = 0usize;
        for b in &self.blocks {
            let end = start + b.isize as usize;
            if pos < end {
                return b.offset << 16 | (pos - start) as u64;
            }
            start = end;
        }
        self.compressed_range().end << 16
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
    pub(crate) fn at(&mut self, pos: usize) -> u64 {
        while let Some(b) = self.chunk.blocks.get(self.block) {
            let end = self.start + b.isize as usize;
            if pos < end {
                return b.offset << 16 | (pos - self.start) as u64;
            }
            self.start = end;
            self.block += 1;
        }
        self.chunk.compressed_range().end << 16
    }
}

fn inflate_chunk(
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
fn trailer_isize(file: &[u8], b: &BlockInfo) -> u32 {
    let end = b.end() as usize;
    u32::from_le_bytes([file[end - 4], file[end - 3], file[end - 2], file[end - 1]])
}

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
struct Member {
    start: u64,
    decoder: flate2::bufread::GzDecoder<Tail>,
}

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
/// # Ok::<(), rawarrow::bgzf::Error>(())
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
    pub fn from_offset(input: impl Into<Arc<Input>>, offset: u64, opts: Options) -> Self {
        let input = input.into();
        let path: Arc<Path> = input.path().into();
        Self {
            input,
            path,
            opts,
            engine: None,
            scan: ScanState::at(offset),
            scan_error: None,
            next_block: 0,
            dispatched: 0,
            spare: Vec::new(),
            released: offset,
            uncompressed: 0,
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
        }
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

    /// Gives a chunk's buffers back for reuse by later chunks. Every recycled chunk is kept, so
    /// the spare buffers never outnumber the chunks the caller once held at the same time (a
    /// BAM reader holds a batch's worth per job in flight); dropping a chunk instead frees it.
    pub fn recycle(&mut self, chunk: Chunk) {
        self.spare.push(chunk);
    }

    /// Whether the file ended with the EOF marker block; `None` until the whole file is scanned,
    /// and when it ends with a plain gzip member (which has no EOF marker to expect).
    pub fn eof_marker(&self) -> Option<bool> {
        let scanned = self.scan.position() >= self.input.len() as u64
            && self.scan_error.is_none()
            && self.member.is_none()
            && self.member_at.is_none()
            && !self.ended_plain;
        scanned.then(|| self.scan.after_eof_marker())
    }

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

    /// Compressed bytes scanned so far (for progress reporting).
    pub(crate) fn compressed_position(&self) -> u64 {
        self.scan.position()
    }

    /// Uncompressed bytes handed out so far.
    pub fn uncompressed_bytes(&self) -> u64 {
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

    fn engine(&mut self) -> Result<&mut Engine, Error> {
        if self.engine.is_none() {
            let input = self.input.clone();
            let threads = self.opts.threads;
            // Inline, a chunk is inflated as soon as it is framed: no scanning ahead.
            let inline = threads <= 1 && self.opts.crew.is_none();
            let ahead = if inline { 1 } else { self.opts.max_in_flight() };
            let init = |_| BlockInflater::new();
            let marker = self.marker.clone();
            let work = move |inflater: &mut BlockInflater, chunk: Chunk| {
                let mut chunk = inflate_chunk(input.bytes(), inflater, chunk)?;
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
        match engine.next_result() {
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
    /// The next chunk of the plain gzip member at hand, inflated on the calling thread; when the
    /// member ends, scanning resumes after it (the next member may be BGZF again).
    fn member_chunk(&mut self) -> Outcome {
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

impl Iterator for ChunkReader {
    type Item = Result<Chunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let out = self.produce();
        match &out {
            Some(Ok(chunk)) => {
                if let (k @ 1.., first) = chunk.isize_mismatch {
                    let (n, seen) = self.mismatches;
                    self.mismatches = (n + k, seen.or(first));
                }
                self.uncompressed += chunk.len as u64;
                let end = chunk.compressed_range().end;
                if self.opts.release && end - self.released >= RELEASE_STEP {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_gives_every_virtual_offset_the_lookup_gives() {
        // Blocks of unequal sizes, an empty one among them.
        let mut data = Vec::new();
        for (i, n) in [70_000usize, 0, 1, 65_280, 3_000].iter().enumerate() {
            data.extend(std::iter::repeat_n(b'a' + i as u8, *n));
        }
        let file = super::super::compress_for_tests(&data);
        let input = Input::from_bytes("t.gz", file);
        let opts = Options::default().threads(1).chunk_bytes(1 << 30);
        let chunk = ChunkReader::new(input, opts)
            .next()
            .expect("a chunk")
            .expect("inflates");
        assert!(chunk.blocks().len() > 2, "several blocks");
        let mut cursor = VirtualOffsets::new(&chunk);
        for pos in (0..chunk.data().len() + 3)
            .step_by(7)
            .chain([chunk.data().len() + 9])
        {
            assert_eq!(cursor.at(pos), chunk.virtual_offset(pos), "pos {pos}");
        }
    }
}
