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
    pub(super) fn open_cram(mut self, offset: u64) -> Self {
        let file = self.input.bytes();
        if offset != 0
            || self.stream.is_some()
            || self.remote.is_some()
            || !crate::cram::is_cram(file)
        {
            return self;
        }
        let reference = self.opts.reference.clone();
        // A chunk is a whole container (thousands of records, up to 100,000 in the archive
        // profile's): one in flight per worker and one more, not the BGZF chunks' window.
        if self.opts.in_flight.is_none() {
            self.opts.in_flight = Some(self.opts.threads.max(1) + 1);
        }
        match Context::open(file, self.input.path(), reference.as_deref()) {
            Ok(ctx) => self.cram = Some(Containers::new(Arc::new(ctx))),
            Err(e) => {
                self.scan_error = Some(Error::cram(e).with_path(self.path.clone()));
                // Nothing else is read: the error is the first and only outcome.
                self.end = 0;
                self.cram = Some(Containers::failed());
            }
        }
        self
    }

    /// The next CRAM job: the BAM header (made here), or a container for a worker.
    pub(super) fn cram_job(&mut self, mut chunk: Chunk) -> Option<Chunk> {
        let containers = self.cram.as_mut().expect("a CRAM reader");
        match containers.next_job(self.input.bytes(), &mut chunk.data) {
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
