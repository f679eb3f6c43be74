//! Framing: finding records by their `block_size` fields across the in-order chunk stream.
//!
//! Records inside a chunk are handed out as slices of the chunk, without copying. A record that
//! crosses the end of a chunk (records may be larger than a block, or a chunk) is carried:
//! its bytes so far are kept, and completed from the following chunks, without losing or
//! duplicating a byte.

use std::sync::Arc;

use super::error::{Error, ErrorKind, RecordError};
use super::header::Header;
use super::record::Record;
use crate::bgzf::{Chunk, ChunkReader, Options, VirtualOffsets};
use crate::io::Input;

/// Where a framed record's bytes are (without its `block_size` field).
pub(super) enum Raw<'a> {
    /// Inside the chunk being framed.
    InChunk(std::ops::Range<usize>),
    /// Assembled from several chunks.
    Carried(&'a [u8]),
}

/// Position of a record in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// 0-based record index.
    pub index: u64,
    /// BGZF virtual offset of its `block_size` field.
    pub voffset: u64,
}

/// Records of a BAM file, chunk by chunk, in file order.
pub struct Records {
    chunks: ChunkReader,
    header: Header,
    path: Arc<std::path::Path>,
    /// The chunk being read, and where its unread bytes start.
    current: Option<(Chunk, usize)>,
    carry: Vec<u8>,
    carry_voffset: u64,
    index: u64,
    done: bool,
    /// No record starting at or after this virtual offset is read (one that starts before it
    /// is read to its end): a byte-range split's end (`end << 16`), an index chunk's end.
    stop: Option<u64>,
    /// For a region query on sorted data: the region's reference and 0-based end. The first
    /// record on another reference or starting at or after the end ends the query (htslib's
    /// iterator stops there too).
    region_end: Option<(i32, i64)>,
    /// Reading index chunks ([`Records::spans`]).
    spans: Option<SpanState>,
    /// Virtual offset of the first record (just after the header).
    header_end: u64,
    /// Virtual offset just after the data of the last chunk handed out.
    end: u64,
    /// Records whose read name lacked its NUL (shared with the decode workers).
    repairs: Arc<NameRepairs>,
    /// The first plain gzip (not BGZF) member read, by compressed offset.
    plain_member: Option<u64>,
}

/// Records whose read name lacked its NUL, which htslib patches silently: how many, and the
/// first one's index. Counted wherever records are parsed, reported as one warning.
#[derive(Debug)]
pub(crate) struct NameRepairs {
    count: std::sync::atomic::AtomicU64,
    first: std::sync::atomic::AtomicU64,
}

impl Default for NameRepairs {
    fn default() -> Self {
        Self {
            count: 0.into(),
            first: u64::MAX.into(),
        }
    }
}

impl NameRepairs {
    pub(crate) fn note(&self, index: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.count.fetch_add(1, Relaxed);
        self.first.fetch_min(index, Relaxed);
    }

    /// The warning for what was counted since the last call.
    fn take_warning(&self, path: &std::path::Path) -> Option<String> {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.count.swap(0, Relaxed);
        let first = self.first.swap(u64::MAX, Relaxed);
        (n > 0).then(|| {
            format!(
                "{}: {n} record(s) whose read name lacks its NUL terminator, the first is \
                 record {first}; every l_read_name byte is kept as the name, as htslib does",
                path.display()
            )
        })
    }
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("path", &self.path)
            .field("index", &self.index)
            .finish()
    }
}

/// One index chunk to read: records starting at virtual offsets `[start, end)`, for region
/// number `region`; `stop_past` ends the region at the first record on another reference or
/// starting at or after the 0-based end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) region: usize,
    pub(crate) stop_past: Option<(i32, i64)>,
}

/// Where [`Records::spans`] is.
struct SpanState {
    spans: Vec<Span>,
    /// The span being read.
    at: Option<usize>,
    /// The span being read has ended (its end offset, or a record past its region).
    finished: bool,
    /// A region whose remaining spans are skipped (a record past it was reached).
    skip_region: Option<usize>,
}

/// The virtual offset just after the last block of `c` that holds data.
fn data_end(c: &Chunk) -> Option<u64> {
    c.blocks()
        .iter()
        .rev()
        .find(|b| b.isize > 0)
        .map(|b| b.end() << 16)
}

fn block_size(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// How far into a chunk [`mark_records`] looks for a record start (a chunk that starts inside a
/// longer record is framed on the calling thread).
const MARK_SEARCH: usize = 64 << 10;

/// Records in a row that make an offset a likely record start for [`mark_records`].
const MARK_CHAIN: usize = 4;

/// Whether the `block_size` field at `pos` is followed by a whole record whose fixed fields
/// are consistent (reference id, name length and NUL, CIGAR and sequence within the record):
/// the quick test of a speculative record start.
fn looks_like_record(data: &[u8], pos: usize) -> Option<usize> {
    let bs = block_size(data.get(pos..pos + 4)?) as usize;
    let body = data.get(pos + 4..pos + 4 + bs)?;
    if bs < 32 {
        return None;
    }
    let int = |i: usize| i32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    let (name, n_cigar) = (
        usize::from(body[8]),
        usize::from(u16::from_le_bytes([body[12], body[13]])),
    );
    let l_seq = usize::try_from(int(16)).ok()?;
    let fits = 32 + name + 4 * n_cigar + l_seq + l_seq.div_ceil(2) <= bs;
    (int(0) >= -1 && int(20) >= -1 && name >= 1 && fits && body[32 + name - 1] == 0)
        .then_some(pos + 4 + bs)
}

/// Speculative framing, run on the worker that inflated a chunk (a [`Marker`](crate::bgzf)):
/// finds the first offset of `data` from which [`MARK_CHAIN`] records in a row look whole and
/// consistent (or fewer run exactly to the end), then hops from record to record by
/// `block_size` as the calling thread would, noting each start in `marks`; returns where the
/// hop stopped (a record that crosses the end, a `block_size` below 32, or the end). The
/// calling thread uses the marks only from a record start it reached itself, so a wrong guess
/// costs nothing but the hop it would have done anyway.
pub(crate) fn mark_records(data: &[u8], marks: &mut Vec<u32>) -> usize {
    if u32::try_from(data.len()).is_err() {
        return 0;
    }
    let chain = |start: usize| {
        let mut pos = start;
        for _ in 0..MARK_CHAIN {
            if pos == data.len() && pos > start {
                return true;
            }
            match looks_like_record(data, pos) {
                Some(next) => pos = next,
                None => return false,
            }
        }
        true
    };
    let Some(start) = (0..data.len().min(MARK_SEARCH)).find(|&p| chain(p)) else {
        return 0;
    };
    let mut pos = start;
    while let Some(b) = data.get(pos..pos + 4) {
        let bs = block_size(b) as usize;
        if bs < 32 || data.len() - pos - 4 < bs {
            break;
        }
        marks.push(pos as u32);
        pos += 4 + bs;
    }
    pos
}

impl Records {
    /// Opens `input`, starts inflating it and reads the header.
    pub fn new(input: impl Into<Arc<Input>>, opts: Options) -> Result<Self, Error> {
        Self::new_marked(input, opts, None)
    }

    /// [`Records::new`] with `marker` run on each chunk's inflating worker: the batch reader's
    /// whole-file read passes [`mark_records`], whose marks its framing takes (`None`: the
    /// calling thread frames every record, as readers that walk records one by one do).
    pub(crate) fn new_marked(
        input: impl Into<Arc<Input>>,
        opts: Options,
        marker: Option<crate::bgzf::Marker>,
    ) -> Result<Self, Error> {
        let input = input.into();
        let path: Arc<std::path::Path> = input.path().into();
        let with_path = |e: Error| e.with_path(path.clone());
        if let Some(what) = super::header::sniff(input.bytes()) {
            return Err(with_path(Error::new(ErrorKind::NotBam(what))));
        }
        let mut chunks = ChunkReader::new(input, opts);
        if let Some(marker) = marker {
            chunks.set_marker(marker);
        }
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let Some(chunk) = chunks.next() else {
                let seen = chunks.uncompressed_bytes();
                return Err(with_path(Error::truncated_header(seen)));
            };
            let chunk = chunk.map_err(|e| with_path(e.into()))?;
            let parsed = if buf.is_empty() {
                super::Header::parse_located(chunk.data())
            } else {
                buf.extend_from_slice(chunk.data());
                super::Header::parse_located(&buf)
            };
            match parsed.map_err(|(e, at)| with_path(Error::header(e, at)))? {
                None => {
                    if buf.is_empty() {
                        buf.extend_from_slice(chunk.data());
                    }
                    chunks.recycle(chunk);
                }
                Some((header, used)) => {
                    // The header ends inside this chunk: the rest of it is record data.
                    let total = if buf.is_empty() {
                        chunk.data().len()
                    } else {
                        buf.len()
                    };
                    let pos = chunk.data().len() - (total - used);
                    let header_end = chunk.virtual_offset(pos);
                    let chunk_member = chunk.plain_gzip_member();
                    return Ok(Self {
                        spans: None,
                        region_end: None,
                        header_end,
                        end: data_end(&chunk).unwrap_or(header_end),
                        chunks,
                        header,
                        path,
                        current: Some((chunk, pos)),
                        carry: Vec::new(),
                        carry_voffset: 0,
                        index: 0,
                        done: false,
                        stop: None,
                        repairs: Arc::default(),
                        plain_member: chunk_member,
                    });
                }
            }
        }
    }

    /// [`Records::split`] with `marker` run on each chunk's inflating worker (as
    /// [`Records::new_marked`]).
    pub(crate) fn split_marked(
        input: impl Into<Arc<Input>>,
        opts: Options,
        start: u64,
        end: u64,
        marker: Option<crate::bgzf::Marker>,
    ) -> Result<Self, Error> {
        let input = input.into();
        let path: Arc<std::path::Path> = input.path().into();
        let with_path = |e: Error| e.with_path(path.clone());
        let (header, header_end) = super::split::read_header(input.bytes()).map_err(with_path)?;
        let at = super::split::find_split_start(
            input.bytes(),
            header_end,
            header.references.len(),
            start,
            end,
        );
        let (block, within, done) = match at {
            super::split::SplitStart::At { block, within } => (block, within, false),
            super::split::SplitStart::Empty => (input.len() as u64, 0, true),
        };
        let mut chunks = ChunkReader::from_offset(input, block, opts);
        if let Some(marker) = marker {
            chunks.set_marker(marker);
        }
        let current = if done {
            None
        } else {
            match chunks.next() {
                Some(c) => Some((c.map_err(|e| with_path(e.into()))?, within)),
                None => None,
            }
        };
        Ok(Self {
            spans: None,
            region_end: None,
            end: current
                .as_ref()
                .and_then(|(c, _)| data_end(c))
                .unwrap_or(header_end),
            header_end,
            chunks,
            header,
            path,
            done: done || current.is_none(),
            current,
            carry: Vec::new(),
            carry_voffset: 0,
            index: 0,
            stop: Some(end.saturating_mul(1 << 16)),
            repairs: Arc::default(),
            plain_member: None,
        })
    }

    /// The records of index chunks, one after the other: for each [`Span`], those starting at
    /// virtual offsets in `[start, end)`, and with `stop_past`, only until a record past the
    /// region (then the rest of that region's spans are skipped). `header` was read before,
    /// from the same file. The blocks of all spans go through one inflating pipeline, so later
    /// spans are inflated on the workers while earlier ones are framed. Record indices count
    /// from the first span's first record.
    pub(crate) fn spans(
        input: Arc<Input>,
        opts: Options,
        header: Header,
        header_end: u64,
        spans: Vec<Span>,
    ) -> Result<Self, Error> {
        let path: Arc<std::path::Path> = input.path().into();
        let ranges: Vec<(u64, u64)> = spans
            .iter()
            .map(|s| {
                let last = if s.end & 0xffff == 0 {
                    s.end >> 16
                } else {
                    (s.end >> 16) + 1
                };
                (s.start >> 16, last)
            })
            .collect();
        // One block per chunk, few ahead: a region that ends early (at its first record past its end)
        // leaves little inflated for nothing.
        let ahead = opts.thread_count();
        let opts = opts.chunk_bytes(1).in_flight(ahead);
        let chunks = ChunkReader::ranges(input, &ranges, opts);
        Ok(Self {
            region_end: None,
            end: header_end,
            header_end,
            chunks,
            header,
            path,
            done: spans.is_empty(),
            current: None,
            carry: Vec::new(),
            carry_voffset: 0,
            index: 0,
            stop: None,
            repairs: Arc::default(),
            plain_member: None,
            spans: Some(SpanState {
                spans,
                at: None,
                finished: false,
                skip_region: None,
            }),
        })
    }

    /// The region of the span being read (see [`Records::spans`]).
    pub(crate) fn region(&self) -> Option<usize> {
        let s = self.spans.as_ref()?;
        s.at.map(|i| s.spans[i].region)
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The chunk pipeline (for progress: compressed bytes scanned).
    pub fn chunks(&self) -> &ChunkReader {
        &self.chunks
    }

    /// What was read leniently since the last call, as htslib reads it: plain gzip members,
    /// BGZF blocks with a wrong ISIZE, read names without their NUL. One line per kind.
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut out = self.chunks.take_warnings();
        out.extend(self.repairs.take_warning(&self.path));
        out
    }

    /// The counter of repaired read names, for decode workers.
    pub(crate) fn name_repairs(&self) -> Arc<NameRepairs> {
        self.repairs.clone()
    }

    /// The compressed offset of the first plain gzip (not BGZF) member read so far.
    pub(crate) fn plain_gzip_member(&self) -> Option<u64> {
        self.plain_member
    }

    /// Reading stops at the split's or index chunk's end, or (`past`) at a record past the
    /// region; with spans, reading goes on with the next span.
    fn end_span(&mut self, past: bool) {
        self.current = None;
        match &mut self.spans {
            None => self.done = true,
            Some(s) => {
                s.finished = true;
                if past {
                    s.skip_region = s.at.map(|i| s.spans[i].region);
                    if let Some(r) = s.skip_region {
                        let spans = &s.spans;
                        self.chunks.skip_ranges(|i| spans[i].region == r);
                    }
                }
            }
        }
    }

    /// Whether the record with these bytes (after `block_size`) ends a region query.
    fn beyond(&self, body: &[u8]) -> bool {
        self.region_end.is_some_and(|(tid, end)| {
            let ref_id = i32::from_le_bytes([body[0], body[1], body[2], body[3]]);
            let pos = i32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            ref_id != tid || i64::from(pos) >= end
        })
    }

    /// Virtual offset of the first record, just after the header (htslib's `bgzf_tell` there).
    pub fn header_end(&self) -> u64 {
        self.header_end
    }

    /// Virtual offset just after the data read so far: at the end of the file, the offset
    /// htslib's `bgzf_tell` gives after the last record (the start of the block that follows
    /// the last block with data).
    pub(crate) fn end_voffset(&self) -> u64 {
        self.end
    }

    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.index
    }

    fn record_error(&self, at: Located, error: RecordError) -> Error {
        Error::new(ErrorKind::Record {
            index: at.index,
            voffset: at.voffset,
            error,
        })
        .with_path(self.path.clone())
    }

    /// Frames the records of `chunk` from byte `start`: first completes a record carried over
    /// from earlier chunks, then every record inside the chunk; a record that runs past the end
    /// is carried. `emit` returning `Ok(false)` stops; the position reached is returned
    /// (`data.len()` when the chunk is used up).
    pub(super) fn frame_chunk(
        &mut self,
        chunk: &Chunk,
        start: usize,
        mut emit: impl FnMut(Raw<'_>, Located) -> Result<bool, Error>,
    ) -> Result<usize, Error> {
        let data = chunk.data();
        let mut pos = start;
        if !self.carry.is_empty() {
            if self.carry.len() < 4 {
                let take = (4 - self.carry.len()).min(data.len());
                self.carry.extend_from_slice(&data[..take]);
                pos = take;
            }
            if self.carry.len() >= 4 {
                let at = Located {
                    index: self.index,
                    voffset: self.carry_voffset,
                };
                let bs = block_size(&self.carry);
                if bs < 32 {
                    return Err(self.record_error(at, RecordError::BlockSizeTooSmall(bs)));
                }
                let missing = (4 + bs as usize) - self.carry.len();
                let take = missing.min(data.len() - pos);
                self.carry.extend_from_slice(&data[pos..pos + take]);
                pos += take;
                if take == missing {
                    if self.beyond(&self.carry[4..]) {
                        self.carry.clear();
                        self.end_span(true);
                        return Ok(data.len());
                    }
                    let mut carry = std::mem::take(&mut self.carry);
                    self.index += 1;
                    let go_on = emit(Raw::Carried(&carry[4..]), at)?;
                    carry.clear();
                    self.carry = carry;
                    if !go_on {
                        return Ok(pos);
                    }
                }
            }
        }
        if self.carry.is_empty() {
            touch_lines(&data[pos.min(data.len())..]);
        }
        let mut voffsets = VirtualOffsets::new(chunk);
        while self.carry.is_empty() && pos < data.len() {
            let at = Located {
                index: self.index,
                voffset: voffsets.at(pos),
            };
            if self.stop.is_some_and(|stop| at.voffset >= stop) {
                // The first record of the next split or after the index chunk.
                self.end_span(false);
                return Ok(data.len());
            }
            let rest = &data[pos..];
            if rest.len() >= 4 {
                let bs = block_size(rest);
                if bs < 32 {
                    return Err(self.record_error(at, RecordError::BlockSizeTooSmall(bs)));
                }
                if rest.len() - 4 >= bs as usize {
                    if self.beyond(&rest[4..]) {
                        self.end_span(true);
                        return Ok(data.len());
                    }
                    self.index += 1;
                    let body = pos + 4;
                    pos = body + bs as usize;
                    if !emit(Raw::InChunk(body..pos), at)? {
                        return Ok(pos);
                    }
                    continue;
                }
            }
            // The record continues in the next chunk.
            self.carry.extend_from_slice(rest);
            self.carry_voffset = at.voffset;
            pos = data.len();
        }
        Ok(pos)
    }

    /// Frames whole records of `chunk` from byte `start` with the record starts its inflating
    /// worker noted ([`mark_records`]), without reading the chunk, when nothing but a split's
    /// end can end them (a whole-file read or a byte range: no index chunk, no region, no
    /// record carried in) and `start` is one of the marks: at most `max` records, none from
    /// the first block at or past the split's end, and none once their bodies reach `bytes`.
    /// Returns where it stopped, how many records and their body bytes; `None` when the marks
    /// do not apply. What follows the marked records (a record that crosses the end,
    /// a `block_size` below 32) is for [`Records::frame_chunk`].
    pub(super) fn take_marked(
        &mut self,
        chunk: &Chunk,
        start: usize,
        max: usize,
        bytes: usize,
    ) -> Option<(usize, usize, usize)> {
        if self.region_end.is_some() || self.spans.is_some() || !self.carry.is_empty() {
            return None;
        }
        let (marks, marks_end) = chunk.marks();
        let first = marks.binary_search(&u32::try_from(start).ok()?).ok()?;
        // Where record `first + k - 1` ends, and the body bytes of records first..first + k.
        let end = |k: usize| marks.get(first + k).map_or(marks_end, |&m| m as usize);
        let body = |k: usize| end(k) - start - 4 * k;
        // A split's records start before its end's block; the hop that follows finds the first
        // record of the next split there and ends the read.
        let before = self
            .stop
            .map_or(usize::MAX, |stop| chunk.data_before_block_at(stop >> 16));
        let inside = marks[first..].partition_point(|&m| (m as usize) < before);
        let mut n = inside.min(max);
        if body(n) >= bytes {
            // The record whose body reaches `bytes` is the last one taken: the smallest such k.
            let (mut lo, mut hi) = (1, n);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if body(mid) >= bytes {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            n = lo;
        }
        self.index += n as u64;
        Some((end(n), n, body(n)))
    }

    /// The next inflated chunk and where its unread bytes start; `Ok(None)` at the end of the
    /// file (an error if a record was left incomplete).
    pub(super) fn next_raw_chunk(&mut self) -> Result<Option<(Chunk, usize)>, Error> {
        if self.done {
            return Ok(None);
        }
        if let Some(c) = self.current.take() {
            return Ok(Some(c));
        }
        while let Some(c) = self.chunks.next() {
            let c = c.map_err(|e| Error::from(e).with_path(self.path.clone()))?;
            self.plain_member = self.plain_member.or(c.plain_gzip_member());
            if let Some(end) = data_end(&c) {
                self.end = end;
            }
            let Some(s) = &mut self.spans else {
                return Ok(Some((c, 0)));
            };
            if s.at != Some(c.range()) {
                // The first chunk of the next span.
                if !self.carry.is_empty() {
                    // The index chunk ended inside a record.
                    return Err(self.truncated());
                }
                let span = s.spans[c.range()];
                s.at = Some(c.range());
                s.finished = s.skip_region == Some(span.region);
                self.stop = Some(span.end);
                self.region_end = span.stop_past;
                if !s.finished {
                    return Ok(Some((c, (span.start & 0xffff) as usize)));
                }
            } else if !s.finished {
                return Ok(Some((c, 0)));
            }
            // The rest of a span that has ended.
            self.chunks.recycle(c);
        }
        self.done = true;
        if self.carry.is_empty() {
            return Ok(None);
        }
        Err(self.truncated())
    }

    /// The error for the record being carried when its bytes end.
    fn truncated(&self) -> Error {
        let needed = if self.carry.len() >= 4 {
            4 + u64::from(block_size(&self.carry))
        } else {
            4
        };
        Error::new(ErrorKind::TruncatedRecord {
            index: self.index,
            voffset: self.carry_voffset,
            needed,
            available: self.carry.len() as u64,
        })
        .with_path(self.path.clone())
    }

    /// The column type of each tag, from its first occurrence among the records of the chunk
    /// at hand (`None` for a tag not seen there). Reads nothing beyond that chunk.
    pub(super) fn peek_tag_kinds(&self, tags: &[[u8; 2]]) -> Vec<Option<super::TagKind>> {
        let mut kinds = vec![None; tags.len()];
        let Some((chunk, mut pos)) = &self.current else {
            return kinds;
        };
        let data = chunk.data();
        while pos + 4 <= data.len() && kinds.iter().any(Option::is_none) {
            let bs = block_size(&data[pos..]) as usize;
            let Some(body) = data.get(pos + 4..pos + 4 + bs) else {
                break;
            };
            let Ok(rec) = Record::parse(body, self.n_refs()) else {
                break;
            };
            for f in rec.tags() {
                if let Some(i) = tags.iter().position(|t| *t == f.tag) {
                    let sub = (f.ty == b'B').then(|| f.value[0]);
                    kinds[i].get_or_insert(super::TagKind::of(f.ty, sub));
                }
            }
            pos += 4 + bs;
        }
        kinds
    }

    /// Number of references in the header (for record validation).
    pub(super) fn n_refs(&self) -> usize {
        self.header.references.len()
    }

    /// Gives an inflated chunk's buffers back to the pipeline.
    pub(super) fn recycle(&mut self, chunk: Chunk) {
        self.chunks.recycle(chunk);
    }

    /// The file's path (for error messages).
    pub(super) fn path(&self) -> Arc<std::path::Path> {
        self.path.clone()
    }

    /// Calls `f` with every record of the next chunk, in order; `Ok(false)` once the file is
    /// exhausted. Every record is validated before `f` sees it. `f` returning `Ok(false)` stops
    /// early (the remaining records of the chunk are not visited).
    pub fn next_chunk(
        &mut self,
        f: impl FnMut(&Record<'_>, Located) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        self.next_chunk_with(true, f)
    }

    /// [`Records::next_chunk`], leaving the aux fields unchecked unless `check_aux`, for a caller
    /// that checks them while walking them (`bam view` writes them with
    /// `sam::push_record_checked`). A record failing another check is validated in full, so the
    /// error is the one [`Record::parse`] gives.
    pub(crate) fn next_chunk_with(
        &mut self,
        check_aux: bool,
        mut f: impl FnMut(&Record<'_>, Located) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        self.next_chunk_in(check_aux, |r, at, _| f(r, at))
    }

    /// [`Records::next_chunk_with`], also telling `f` the region the record is read for
    /// ([`Records::spans`]).
    pub(crate) fn next_chunk_in(
        &mut self,
        check_aux: bool,
        mut f: impl FnMut(&Record<'_>, Located, Option<usize>) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        let Some((chunk, start)) = self.next_raw_chunk()? else {
            return Ok(false);
        };
        let region = self.region();
        let n_refs = self.n_refs();
        let path = self.path.clone();
        let repairs = self.repairs.clone();
        let data = chunk.data();
        // The chunk was inflated on another core: one sequential sweep (which the hardware
        // prefetcher follows) brings it into this core's cache before records are parsed,
        // instead of a cache miss at every field.
        let touched = data[start.min(data.len())..]
            .iter()
            .step_by(64)
            .fold(0u8, |a, &b| a ^ b);
        std::hint::black_box(touched);
        let stop = self.frame_chunk(&chunk, start, |raw, at| {
            let body = match raw {
                Raw::InChunk(range) => &data[range],
                Raw::Carried(body) => body,
            };
            let rec = Record::parse_with(body, n_refs, check_aux).map_err(|e| {
                let error = Record::parse(body, n_refs).err().unwrap_or(e);
                Error::new(ErrorKind::Record {
                    index: at.index,
                    voffset: at.voffset,
                    error,
                })
                .with_path(path.clone())
            })?;
            if rec.name_unterminated() {
                repairs.note(at.index);
            }
            f(&rec, at, region)
        })?;
        if stop >= chunk.data().len() {
            self.chunks.recycle(chunk);
        } else {
            self.current = Some((chunk, stop));
        }
        Ok(true)
    }
}

/// Reads one byte per cache line of `bytes`: loads that do not depend on each other, so the
/// CPU overlaps their misses, where hopping from record to record (each length read before the
/// next record is found) waits for one line after the other. Inflated data was written by
/// another core; after this the hop finds it in cache.
pub(super) fn touch_lines(bytes: &[u8]) {
    let touched = bytes.iter().step_by(64).fold(0u8, |a, &b| a ^ b);
    std::hint::black_box(touched);
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// On real records, the worker's guess is the true record start wherever a chunk begins.
    #[test]
    fn marks_are_the_record_starts_wherever_a_chunk_begins() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
        let mut raw = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("sample"))
            .read_to_end(&mut raw)
            .expect("BGZF");
        let (_, header_end) = Header::parse(&raw).expect("header").expect("whole");
        let mut starts = Vec::new();
        let mut at = header_end;
        while at < raw.len() {
            starts.push(at);
            at += 4 + block_size(&raw[at..]) as usize;
        }
        let window = 20_000;
        let mut marks = Vec::new();
        for cut in (header_end..raw.len()).step_by(7) {
            let data = &raw[cut..raw.len().min(cut + window)];
            marks.clear();
            let end = mark_records(data, &mut marks);
            // The true starts of the records wholly inside the window.
            let want: Vec<u32> = starts
                .iter()
                .filter(|&&s| {
                    s >= cut && s + 4 + block_size(&raw[s..]) as usize <= cut + data.len()
                })
                .map(|&s| (s - cut) as u32)
                .collect();
            assert_eq!(marks, want, "chunk from byte {cut}");
            let want_end = want.last().map_or(0, |&s| {
                let s = s as usize;
                s + 4 + block_size(&data[s..]) as usize
            });
            assert_eq!(end, want_end, "chunk from byte {cut}");
        }
    }
}
