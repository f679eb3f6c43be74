//! Settings of the parallel inflate pipeline.

use std::sync::Arc;

use crate::runtime::{default_threads, Crew};

/// Settings of the parallel inflate pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub(super) threads: usize,
    pub(super) chunk_bytes: usize,
    pub(super) in_flight: Option<usize>,
    pub(super) pin: bool,
    pub(super) release: bool,
    /// Inflate on these workers, shared with other work (a BAM reader's decoding), instead of
    /// a crew of its own.
    pub(super) crew: Option<Arc<Crew>>,
    /// The reference FASTA of a CRAM input.
    pub(crate) reference: Option<Arc<std::path::Path>>,
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
            reference: None,
        }
    }
}

impl Options {
    /// Worker threads (default: the cores this process may use). 1 inflates on the calling
    /// thread; 0 is refused by the reader given these options (its first read is a usage error).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Target uncompressed bytes per chunk (default 512 KiB); a chunk ends at the first block
    /// boundary at or past it. 0 is refused as [`threads`](Self::threads) 0 is.
    pub fn chunk_bytes(mut self, n: usize) -> Self {
        self.chunk_bytes = n;
        self
    }

    /// The settings a reader refuses: zero threads, empty chunks.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (name, n) in [("threads", self.threads), ("chunk_bytes", self.chunk_bytes)] {
            if n == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(())
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

    pub(super) fn max_in_flight(&self) -> usize {
        self.in_flight.unwrap_or((3 * self.threads).max(4))
    }
}
