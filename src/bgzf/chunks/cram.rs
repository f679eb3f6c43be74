//! A CRAM input through the same pipeline: the calling thread walks container headers, each
//! worker decodes whole containers into BAM records (the chunk's bytes), so that everything
//! downstream reads a CRAM file as it reads a BAM file's inflated bytes.

use std::sync::Arc;

use super::super::chunk::Chunk;
use super::super::Error;
use super::ChunkReader;
use crate::cram::{Containers, Context, Job, Worker};

impl ChunkReader {
    /// Makes a reader of a mapped file that starts with the CRAM magic a CRAM reader (its
    /// header read here; an error in it is the reader's first).
    ///
    /// From an `offset` past the start (a range of containers: a region's from the `.crai`),
    /// the walk starts at that container and hands out no header.
    pub(super) fn open_cram(mut self, offset: u64) -> Self {
        let file = self.input.bytes();
        if self.stream.is_some() || self.remote.is_some() || !crate::cram::is_cram(file) {
            return self;
        }
        let reference = self.opts.reference.clone();
        // A chunk is a whole container (thousands of records, up to 100,000 in the archive
        // profile's): one in flight per worker and one more, not the BGZF chunks' window.
        if self.opts.in_flight.is_none() {
            self.opts.in_flight = Some(self.opts.threads.max(1) + 1);
        }
        match Context::open(file, self.input.path(), reference.as_deref()) {
            Ok(ctx) => {
                let mut containers = Containers::new(Arc::new(ctx));
                if offset != 0 {
                    containers.seek(offset, false);
                }
                self.cram = Some(containers);
            }
            Err(e) => {
                self.scan_error = Some(Error::cram(e).with_path(self.path.clone()));
                // Nothing else is read: the error is the first and only outcome.
                self.end = 0;
                self.cram = Some(Containers::failed());
            }
        }
        self
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
            return Err(format!(
                "a byte range of a CRAM {}.x file: its container headers have no CRC32 to find \
                 a container from a byte offset by (CRAM 3.0 and 3.1 split; read the whole \
                 file)",
                containers.major()
            ));
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
            Some(Ok(job)) => {
                if job == Job::Ready {
                    chunk.len = chunk.data.len();
                }
                chunk.cram = Some(job);
                chunk.index = self.dispatched;
                self.dispatched += 1;
                Some(chunk)
            }
        }
    }
}

/// Decodes a CRAM chunk's container on a worker (the header chunk is ready as it is).
pub(super) fn decode(
    ctx: &Context,
    file: &[u8],
    worker: &mut Option<Worker>,
    mut chunk: Chunk,
) -> Result<Chunk, Error> {
    if let Some(Job::Container(at)) = chunk.cram {
        let w = worker.get_or_insert_with(Worker::default);
        chunk.data.clear();
        crate::cram::transcode(ctx, file, at, w, &mut chunk.data).map_err(Error::cram)?;
        chunk.len = chunk.data.len();
    }
    Ok(chunk)
}
