//! A CRAM input through the same pipeline: the calling thread walks container headers, each
//! worker decodes whole containers into BAM records (the chunk's bytes), so that everything
//! downstream reads a CRAM file as it reads a BAM file's inflated bytes.

use std::sync::Arc;

use super::super::chunk::Chunk;
use super::super::{Error, ErrorKind};
use super::ChunkReader;
use crate::cram::{Containers, Context, Held, Job, Worker};

impl ChunkReader {
    /// Makes a reader whose input starts with the CRAM magic a CRAM reader (its header read
    /// here; an error in it is the reader's first). A mapped file's header is read from the
    /// map; a stream's (or a remote object's, read from its start) from its first bytes, which
    /// it then goes on from.
    ///
    /// From an `offset` past the start of a mapped file (a range of containers: a region's
    /// from the `.crai`), the walk starts at that container and hands out no header; a remote
    /// object's ranges read the header with [`cram_remote_ranges`](Self::cram_remote_ranges).
    pub(super) fn open_cram(mut self, offset: u64) -> Self {
        let input = self.input.clone();
        let opened = if self.stream.is_some() || self.remote.is_some() {
            if offset != 0 {
                return self;
            }
            match self.streamed_header() {
                None => return self,
                Some(Ok(prefix)) => {
                    Context::open(&prefix, input.path(), self.opts.reference.as_deref())
                        .map_err(Error::cram)
                }
                Some(Err(e)) => Err(e),
            }
        } else if crate::cram::is_cram(input.bytes()) {
            Context::open(input.bytes(), input.path(), self.opts.reference.as_deref())
                .map_err(Error::cram)
        } else {
            return self;
        };
        self.start_cram(opened, offset);
        self
    }

    /// The walk over a CRAM input's containers, from `offset` (0: the first, after the BAM
    /// header), or the error that ends it before it starts.
    fn start_cram(&mut self, opened: Result<Context, Error>, offset: u64) {
        // A chunk is a whole container (thousands of records, up to 100,000 in the archive
        // profile's): one in flight per worker and one more, not the BGZF chunks' window.
        if self.opts.in_flight.is_none() {
            self.opts.in_flight = Some(self.opts.threads.max(1) + 1);
        }
        match opened {
            Ok(ctx) => {
                let mut containers = Containers::new(Arc::new(ctx));
                if offset != 0 {
                    containers.seek(offset, false);
                }
                self.cram = Some(containers);
            }
            Err(e) => {
                self.scan_error = Some(e.with_path(self.path.clone()));
                // Nothing else is read: the error is the first and only outcome.
                self.end = 0;
                self.cram = Some(Containers::failed());
            }
        }
    }

    /// A stream's (or remote object's) file definition and header container, taken from it,
    /// when its first bytes are the CRAM magic; `None` for other input.
    fn streamed_header(&mut self) -> Option<Result<Vec<u8>, Error>> {
        self.remote_stream();
        let stream = self.stream.as_mut()?;
        if !stream.peek(4).is_some_and(crate::cram::is_cram) {
            return None;
        }
        let mut want = 64 << 10;
        loop {
            let bytes = stream.peek(want).unwrap_or_default();
            let ended = bytes.len() < want;
            match crate::cram::data_start(bytes, ended) {
                Ok(Some(n)) => {
                    let mut prefix = Vec::with_capacity(n);
                    stream.take_into(n, &mut prefix);
                    return Some(Ok(prefix));
                }
                Ok(None) => want *= 4,
                Err(e) => {
                    let got = bytes.len() as u64;
                    let failed = stream.take_read_error().map(|io| {
                        let reason = io.to_string();
                        Error::new(got, ErrorKind::Read { reason })
                    });
                    return Some(Err(failed.unwrap_or_else(|| Error::cram(e))));
                }
            }
        }
    }

    /// For a remote CRAM object read by ranges of containers (a region query's, from the
    /// `.crai`): its header, fetched from the object's start on its own (the ranges' requests
    /// fetch only their containers).
    pub(crate) fn cram_remote_ranges(&mut self) {
        let Some((object, start)) = self.remote.clone() else {
            return;
        };
        let opened = self.remote_header(&object);
        // The ranges start at a container: no BAM header is handed out.
        self.start_cram(opened, start.max(1));
    }

    /// A remote CRAM object's header, fetched on its own (16 KiB, more only when it is longer).
    fn remote_header(&self, object: &Arc<crate::io::remote::Object>) -> Result<Context, Error> {
        let mut want: u64 = 16 << 10;
        loop {
            let end = want.min(object.len());
            let bytes = object.read(0..end).map_err(|e| {
                let reason = e.reason();
                Error::new(0, ErrorKind::Read { reason })
            })?;
            match crate::cram::data_start(&bytes, end >= object.len()) {
                Ok(Some(n)) => {
                    let path = self.input.path();
                    return Context::open(&bytes[..n], path, self.opts.reference.as_deref())
                        .map_err(Error::cram);
                }
                Ok(None) => want *= 4,
                Err(e) => return Err(Error::cram(e)),
            }
        }
    }

    /// An index-free split of a remote CRAM object (a reader made at an offset past its
    /// start): the BAM header, then the containers that start in `[start, end)`, the first
    /// found in windows fetched from `start` (the range, 64 KiB to 1 MiB, growing until one holds a whole container
    /// and the next one's header), fetching ahead only until shortly past `end`. A usage error
    /// for CRAM 2.1, as for a file.
    pub(crate) fn cram_remote_split(&mut self, start: u64, end: u64) -> Result<(), String> {
        let Some((object, _)) = self.remote.clone() else {
            return Ok(());
        };
        let opened = self.remote_header(&object);
        let (major, data_start) = opened
            .as_ref()
            .map_or((3, 0), |c| (c.header.major, c.header.data_start));
        self.start_cram(opened, 0);
        if self.scan_error.is_some() {
            return Ok(());
        }
        if major < 3 {
            return Err(unsplittable(major));
        }
        let (from, len) = (start.max(data_start), object.len());
        let mut want = (end.saturating_sub(from)).clamp(64 << 10, 1 << 20);
        let at = loop {
            if from >= end.min(len) {
                break len;
            }
            let window = match object.read(from..(from + want).min(len)) {
                Ok(w) => w,
                Err(e) => {
                    let reason = e.reason();
                    let e = Error::new(from, ErrorKind::Read { reason });
                    self.scan_error = Some(e.with_path(self.path.clone()));
                    return Ok(());
                }
            };
            match crate::cram::find_container_in(&window, from, len, from, end) {
                Ok(Some(at)) => {
                    let seed = window[(at - from) as usize..].to_vec();
                    self.remote = Some((object, at));
                    self.seed_remote(at, seed, end);
                    return Ok(());
                }
                Ok(None) => break len,
                Err(n) => want = (n - from).max(want * 2),
            }
        };
        // No container starts in the range: the header only.
        self.remote = Some((object, at));
        self.seed_remote(at, Vec::new(), 0);
        Ok(())
    }

    /// Whether the input is CRAM (decoded into BAM records on the workers).
    pub(crate) fn is_cram(&self) -> bool {
        self.cram.is_some()
    }

    /// An index-free split of a CRAM file: the BAM header, then the containers that start in
    /// `[start, end)` (the first found by [`crate::cram::find_container`]). A usage error for
    /// CRAM 2.1, whose container headers carry no CRC32 to find one by.
    pub(crate) fn cram_split(&mut self, start: u64, end: u64) -> Result<(), String> {
        let Some(containers) = self.cram.as_mut() else {
            return Ok(());
        };
        if self.scan_error.is_some() {
            // The header could not be read: that error is the reader's first.
            return Ok(());
        }
        if containers.major() < 3 {
            return Err(unsplittable(containers.major()));
        }
        let file = self.input.bytes();
        let from = start.max(containers.context().header.data_start);
        let at = crate::cram::find_container(file, from, end).unwrap_or(file.len() as u64);
        containers.seek(at, true);
        self.end = end;
        Ok(())
    }

    /// The next CRAM job: the BAM header (made here), or a container for a worker (of the
    /// current range, then of the next ranges in turn).
    pub(super) fn cram_job(&mut self, mut chunk: Chunk) -> Option<Chunk> {
        if self.stream.is_some() || self.remote.is_some() {
            return self.held_job(chunk);
        }
        let containers = self.cram.as_mut().expect("a CRAM reader");
        while containers.position() >= self.end {
            let Some((i, start, end)) = self.ranges.pop_front() else {
                break;
            };
            containers.seek(start, false);
            self.end = end;
            self.range = i;
        }
        chunk.range = self.range;
        match containers.next_job(self.input.bytes(), &mut chunk.data, self.end) {
            None => {
                self.spare.push(chunk);
                None
            }
            Some(Err(e)) => {
                self.scan_error = Some(Error::cram(e).with_path(self.path.clone()));
                self.spare.push(chunk);
                None
            }
            Some(Ok(job)) => Some(self.dispatch(chunk, job)),
        }
    }
}

impl ChunkReader {
    /// [`cram_job`](Self::cram_job) for a stream or remote object: the next container's bytes
    /// are waited for and copied into the chunk (the walk takes the ranges of a remote
    /// object's region query in turn, each fetched on its own).
    fn held_job(&mut self, mut chunk: Chunk) -> Option<Chunk> {
        chunk.range = self.range;
        let containers = self.cram.as_mut().expect("a CRAM reader");
        if let Some(job) = containers.header_job(&mut chunk.data) {
            return Some(self.dispatch(chunk, job));
        }
        loop {
            if self.scan_error.is_some() || !self.remote_stream() {
                break;
            }
            let (Some(stream), Some(containers)) = (self.stream.as_mut(), self.cram.as_mut())
            else {
                break;
            };
            chunk.range = self.range;
            let at = stream.position();
            // A remote split ends at the first container that starts past it.
            if at >= self.fetch_end {
                break;
            }
            let mut want = 4096;
            let step = loop {
                let bytes = stream.peek(want).unwrap_or_default();
                let ended = bytes.len() < want;
                match containers.next_held(at, bytes, ended) {
                    Ok(Held::More(n)) => want = n.max(want + 1),
                    other => break other,
                }
            };
            match step {
                Ok(Held::Take(n)) => {
                    chunk.compressed.clear();
                    stream.take_into(n, &mut chunk.compressed);
                    chunk.streamed = true;
                    return Some(self.dispatch(chunk, Job::Held(at)));
                }
                Ok(Held::Skip(n)) => stream.take_into(n, &mut Vec::new()),
                // The end of a range (the next one's stream comes at the top) or of the input.
                Ok(Held::End) | Ok(Held::More(_)) => {
                    if let Some(io) = stream.take_read_error() {
                        let reason = io.to_string();
                        self.scan_error = Some(
                            Error::new(stream.position(), ErrorKind::Read { reason })
                                .with_path(self.path.clone()),
                        );
                    } else if self.remote.is_none() {
                        break;
                    }
                }
                Err(e) => {
                    // A read error that cut a container short is the cause.
                    let e = match stream.take_read_error() {
                        Some(io) => {
                            let reason = io.to_string();
                            Error::new(stream.position(), ErrorKind::Read { reason })
                        }
                        None => Error::cram(e),
                    };
                    self.scan_error = Some(e.with_path(self.path.clone()));
                }
            }
        }
        self.spare.push(chunk);
        None
    }

    fn dispatch(&mut self, mut chunk: Chunk, job: Job) -> Chunk {
        if job == Job::Ready {
            chunk.len = chunk.data.len();
        }
        chunk.cram = Some(job);
        chunk.index = self.dispatched;
        self.dispatched += 1;
        chunk
    }
}

/// Why a CRAM 2.x file has no byte-range splits.
fn unsplittable(major: u8) -> String {
    format!(
        "a byte range of a CRAM {major}.x file: its container headers have no CRC32 to find a \
         container from a byte offset by (CRAM 3.0 and 3.1 split; read the whole file)"
    )
}

/// Decodes a CRAM chunk's container on a worker (the header chunk is ready as it is).
pub(super) fn decode(
    ctx: &Context,
    file: &[u8],
    worker: &mut Option<Worker>,
    mut chunk: Chunk,
) -> Result<Chunk, Error> {
    let (bytes, at, limit) = match chunk.cram {
        Some(Job::Container(at, end)) => {
            (&file[at as usize..], at, end.saturating_sub(at) as usize)
        }
        Some(Job::Held(at)) => (&chunk.compressed[..], at, chunk.compressed.len()),
        Some(Job::Ready) | None => return Ok(chunk),
    };
    let w = worker.get_or_insert_with(Worker::default);
    chunk.data.clear();
    crate::cram::transcode(ctx, bytes, at, limit, w, &mut chunk.data).map_err(Error::cram)?;
    chunk.len = chunk.data.len();
    Ok(chunk)
}
