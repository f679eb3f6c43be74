//! Framing: finding records by their `block_size` fields across the in-order chunk stream.
//!
//! Records inside a chunk are handed out as slices of the chunk, without copying. A record that
//! crosses the end of a chunk (records may be larger than a block, or a chunk) is carried:
//! its bytes so far are kept, and completed from the following chunks, without losing or
//! duplicating a byte.

use std::sync::Arc;

use super::error::{Error, ErrorKind, RecordError};
use super::header::Header;
use crate::bgzf::{Chunk, ChunkReader, Options, VirtualPosition};
use crate::io::Input;

pub(crate) use crate::bam::frame::mark::mark_records;

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
    /// Virtual position of its `block_size` field.
    pub voffset: VirtualPosition,
}

/// Records of a BAM file, chunk by chunk, in file order.
pub struct Records {
    chunks: ChunkReader,
    header: Header,
    path: Arc<std::path::Path>,
    /// The chunk being read, and where its unread bytes start.
    current: Option<(Chunk, usize)>,
    carry: Vec<u8>,
    carry_voffset: VirtualPosition,
    index: u64,
    done: bool,
    /// No record starting at or after this virtual offset is read (one that starts before it
    /// is read to its end): the start of a byte-range split's end block, an index chunk's end.
    stop: Option<VirtualPosition>,
    /// For a region query on sorted data: the region's reference and 0-based end. The first
    /// record on another reference or starting at or after the end ends the query (htslib's
    /// iterator stops there too).
    region_end: Option<(i32, i64)>,
    /// Reading index chunks ([`Records::spans`]).
    spans: Option<SpanState>,
    /// Virtual position of the first record (just after the header).
    header_end: VirtualPosition,
    /// Virtual position just after the data of the last chunk handed out.
    end: VirtualPosition,
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
    pub(crate) start: VirtualPosition,
    pub(crate) end: VirtualPosition,
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
fn data_end(c: &Chunk) -> Option<VirtualPosition> {
    c.blocks()
        .iter()
        .rev()
        .find(|b| b.isize > 0)
        .map(|b| VirtualPosition::block(b.end()))
}

pub(crate) mod mark;
pub(crate) mod split;
mod walk;

impl Records {
    /// Opens `input`, starts inflating it and reads the header.
    pub fn new(input: impl Into<Arc<Input>>, opts: Options) -> Result<Self, crate::Error> {
        Self::new_marked(input, opts, None).map_err(crate::Error::from)
    }

    /// [`Records::new`] with `marker` run on each chunk's inflating worker: the batch reader's
    /// whole-file read passes [`mark_records`], whose marks its framing takes (`None`: the
    /// calling thread frames every record, as readers that walk records one by one do).
    pub(crate) fn new_marked(
        input: impl Into<Arc<Input>>,
        opts: Options,
        marker: Option<crate::bgzf::Marker>,
    ) -> Result<Self, Error> {
        Self::open_marked(input.into(), opts, marker, |_| Ok(()))
    }

    /// [`Records::new_marked`], with `prepare` setting the chunk reader up before it reads
    /// anything (a CRAM split's containers).
    fn open_marked(
        input: Arc<Input>,
        opts: Options,
        marker: Option<crate::bgzf::Marker>,
        prepare: impl FnOnce(&mut ChunkReader) -> Result<(), String>,
    ) -> Result<Self, Error> {
        Self::open_at(input, opts, marker, 0, prepare)
    }

    /// [`Records::open_marked`] with the chunk reader made at `offset` (a remote CRAM split's
    /// reader, whose `prepare` reads the header on its own).
    fn open_at(
        input: Arc<Input>,
        opts: Options,
        marker: Option<crate::bgzf::Marker>,
        offset: u64,
        prepare: impl FnOnce(&mut ChunkReader) -> Result<(), String>,
    ) -> Result<Self, Error> {
        let path: Arc<std::path::Path> = input.path().into();
        let with_path = |e: Error| e.with_path(path.clone());
        opts.check()
            .map_err(|m| with_path(Error::new(ErrorKind::Usage(m))))?;
        let mut chunks = ChunkReader::from_offset(input.clone(), offset, opts);
        prepare(&mut chunks).map_err(|m| with_path(Error::new(ErrorKind::Usage(m))))?;
        // What the input is, from its first bytes (a stream's, waited for).
        // (A stream read already has none: its first chunk says so.)
        let head = match chunks.peek(4096) {
            Some(head) => Some(head),
            None if input.is_stream() || input.remote_object().is_some() => None,
            None => Some(input.bytes()),
        };
        // CRAM is decoded by the chunk reader into BAM records (its stream's head was taken).
        if let Some(what) = head.and_then(|h| super::header::sniff_reading(h, true)) {
            input
                .check()
                .map_err(|cut| Error::from(crate::bgzf::Error::shrunk(&cut)))?;
            return Err(with_path(Error::new(ErrorKind::NotBam(what))));
        }
        if let Some(marker) = marker {
            chunks.set_marker(marker);
        }
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let Some(chunk) = chunks.next_chunk() else {
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
                        carry_voffset: VirtualPosition::default(),
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
        if !input.is_stream()
            && input.remote_object().is_none()
            && crate::cram::is_cram(input.bytes())
        {
            // CRAM: the header, then the containers that start in the range, the first found
            // from the range's start without an index.
            return Self::open_marked(input, opts, marker, |chunks| chunks.cram_split(start, end));
        }
        let path: Arc<std::path::Path> = input.path().into();
        let with_path = |e: Error| e.with_path(path.clone());
        let (at, header, header_end, seed) = match input.remote_object() {
            Some(object) => {
                // The header a block at a time, then the bytes from the split's start.
                let first = Options::default().threads(1).chunk_bytes(1);
                let records = Self::new_marked(input.clone(), first, None)?;
                if records.is_cram() {
                    // CRAM: the header, then the containers that start in the range, the
                    // first found in windows fetched from the range's start.
                    drop(records);
                    let at = start.max(1);
                    return Self::open_at(input, opts, marker, at, |chunks| {
                        chunks.cram_remote_split(start, end)
                    });
                }
                let (header, header_end) = (records.header().clone(), records.header_end());
                let n_refs = header.references.len();
                let (at, seed) =
                    split::find_remote_split_start(object, header_end, n_refs, start, end)
                        .map_err(|e| {
                            let bgzf = crate::bgzf::ErrorKind::Read { reason: e.reason() };
                            Error::from(crate::bgzf::Error::new(start, bgzf))
                                .with_path(path.clone())
                        })?;
                (at, header, header_end, Some((start, seed)))
            }
            None => {
                let (header, header_end) =
                    split::read_header(input.bytes()).map_err(|e| match input.check() {
                        Ok(()) => with_path(e),
                        Err(cut) => Error::from(crate::bgzf::Error::shrunk(&cut)),
                    })?;
                let n_refs = header.references.len();
                let at = split::find_split_start(input.bytes(), header_end, n_refs, start, end);
                (at, header, header_end, None)
            }
        };
        let (block, within, done) = match at {
            crate::bam::frame::split::SplitStart::At { block, within } => (block, within, false),
            crate::bam::frame::split::SplitStart::Empty => (input.len() as u64, 0, true),
        };
        let mut chunks = ChunkReader::from_offset(input, block, opts);
        if let Some((at, bytes)) = seed {
            // A remote split: the bytes fetched to find its start are read first, and fetching
            // ahead stops soon after its end (its last record ends in a block or two more).
            chunks.seed_remote(at, bytes, end);
        }
        if let Some(marker) = marker {
            chunks.set_marker(marker);
        }
        let current = if done {
            None
        } else {
            match chunks.next_chunk() {
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
            carry_voffset: VirtualPosition::default(),
            index: 0,
            stop: Some(VirtualPosition::block(end)),
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
        header_end: VirtualPosition,
        spans: Vec<Span>,
        containers: bool,
    ) -> Result<Self, Error> {
        let path: Arc<std::path::Path> = input.path().into();
        let ranges: Vec<(u64, u64)> = spans
            .iter()
            .map(|s| (s.start.compressed(), s.end.block_end()))
            .collect();
        // One block per chunk, few ahead: a region that ends early (at its first record past its end)
        // leaves little inflated for nothing.
        let ahead = opts.thread_count();
        let opts = opts.chunk_bytes(1).in_flight(ahead);
        let mut chunks = ChunkReader::ranges(input, &ranges, opts);
        if containers {
            // A remote CRAM's header, fetched on its own (a local file's is in its map).
            chunks.cram_remote_ranges();
        }
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
            carry_voffset: VirtualPosition::default(),
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
    pub(crate) fn chunks(&self) -> &ChunkReader {
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
    /// Whether the input is CRAM (its containers decoded into BAM records).
    pub(crate) fn is_cram(&self) -> bool {
        self.chunks.is_cram()
    }

    pub(crate) fn header_end(&self) -> VirtualPosition {
        self.header_end
    }

    /// Virtual offset just after the data read so far: at the end of the file, the offset
    /// htslib's `bgzf_tell` gives after the last record (the start of the block that follows
    /// the last block with data).
    pub(crate) fn end_voffset(&self) -> VirtualPosition {
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
}
