//! Where frame blobs come from: a local `analysis.tdf_bin` is mapped and a job decodes straight
//! from the map; one in an object store (or behind HTTP) is read by ranges, each job fetching
//! the blobs of its own frames — and nothing else — started when the job is queued, so they
//! arrive while the jobs before it decode.
//!
//! A blob's length is in its first four bytes, so a range is planned from the `Frames` table:
//! a blob ends at most where the next blob (by `TimsId`, of every frame, not only those
//! selected) begins, or at the end of the file. Blobs that touch are fetched as one range (up
//! to `fetch_bytes`), `fetch_concurrency` ranges in flight; a blob longer than what was fetched
//! for it (blobs that overlap) has the rest fetched.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::frame::{most_blob_bytes, Window};
use super::meta::FrameRow;
use super::Error;
use crate::io::remote::{FetchError, Object, Pending};
use crate::io::{Input, Shrunk};

/// `analysis.tdf_bin`: the input and, for a remote one, where blobs start.
#[derive(Debug)]
pub(crate) struct Bin {
    input: Input,
    path: PathBuf,
    /// Every frame's `TimsId`, ascending, without repeats (remote inputs only).
    starts: Vec<u64>,
}

/// Byte ranges fetched: `(start, bytes)`, ascending by start.
type Pieces = Vec<(u64, Vec<u8>)>;

/// The blobs of one job.
pub(crate) enum Blobs<'a> {
    /// The mapped (or in-memory) file.
    Whole(&'a [u8]),
    /// The ranges fetched, ascending by their start, with the object's length.
    Fetched(Pieces, u64),
}

impl Blobs<'_> {
    /// The bytes holding the blob at `tims_id`.
    pub(crate) fn window(&self, tims_id: u64) -> Window<'_> {
        match self {
            Self::Whole(bytes) => Window::whole(bytes),
            Self::Fetched(pieces, len) => {
                let i = pieces.partition_point(|(start, _)| *start <= tims_id);
                match i.checked_sub(1).map(|i| &pieces[i]) {
                    Some((start, bytes)) => Window {
                        bytes,
                        base: *start,
                        len: *len,
                    },
                    None => Window {
                        bytes: &[],
                        base: tims_id,
                        len: *len,
                    },
                }
            }
        }
    }
}

impl Bin {
    /// `input` read as the `analysis.tdf_bin` at `path`; for a remote one, `starts` are
    /// every frame's `TimsId`, ascending, without repeats.
    pub(crate) fn new(input: Input, path: PathBuf, starts: Vec<u64>) -> Self {
        Self {
            input,
            path,
            starts,
        }
    }

    /// The file's name (a URL for a remote run), for errors.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is read by ranges from a store (not mapped).
    pub(crate) fn is_remote(&self) -> bool {
        self.input.remote_object().is_some()
    }

    /// See [`Input::release`].
    pub(crate) fn release(&self, range: Range<usize>) {
        self.input.release(range);
    }

    /// See [`Input::check`].
    pub(crate) fn check(&self) -> Result<(), Shrunk> {
        self.input.check()
    }

    /// Starts fetching the blobs of `frames` when the file is remote (the first
    /// `fetch_concurrency` ranges at once; the rest as those arrive, in
    /// [`Fetch::finish`]): what a job is handed when it is queued, so that its bytes are on
    /// their way while the jobs before it decode.
    pub(crate) fn fetch<'f>(&self, frames: impl Iterator<Item = &'f FrameRow>) -> Fetch {
        let Some(object) = self.input.remote_object() else {
            return Fetch::default();
        };
        let len = object.len();
        let frames: Vec<(u64, u64)> = frames
            .filter(|f| f.tims_id < len)
            .map(|f| (f.tims_id, most_blob_bytes(f)))
            .collect();
        let mut wanted: Vec<Range<u64>> = frames
            .iter()
            .map(|&(at, _)| {
                let next = self.starts.partition_point(|&s| s <= at);
                let end = self.starts.get(next).copied().unwrap_or(len);
                at..end.max(at + 8).min(len)
            })
            .collect();
        wanted.sort_unstable_by_key(|r| r.start);
        // Blobs that touch (or overlap), as ranges of at most `fetch_bytes` (a longer blob is
        // one range of its own).
        let most = object.settings().fetch_bytes;
        let mut ranges: VecDeque<Range<u64>> = VecDeque::new();
        for r in wanted {
            match ranges.back_mut() {
                Some(last) if r.end <= last.end => {}
                Some(last) if r.start <= last.end && r.end - last.start <= most => last.end = r.end,
                _ => ranges.push_back(r),
            }
        }
        let mut fetch = Fetch {
            object: Some(object.clone()),
            frames,
            ranges,
            flight: VecDeque::new(),
        };
        fetch.top_up();
        fetch
    }

    fn fetch_error(&self, at: u64, e: FetchError) -> Error {
        Error::read(self.path.clone(), at, e.reason()).caused_by(std::io::Error::from(e))
    }
}

/// The blobs of one job being fetched (nothing, for a local file).
#[derive(Debug, Default)]
pub(crate) struct Fetch {
    object: Option<Arc<Object>>,
    /// `(TimsId, most bytes its blob can take)` of the job's frames.
    frames: Vec<(u64, u64)>,
    /// Ranges not requested yet, and those in flight (by start).
    ranges: VecDeque<Range<u64>>,
    flight: VecDeque<(u64, Pending)>,
}

impl Fetch {
    /// Keeps `fetch_concurrency` ranges in flight.
    fn top_up(&mut self) {
        let Some(object) = &self.object else { return };
        while self.flight.len() < object.settings().concurrency.max(1) {
            let Some(r) = self.ranges.pop_front() else {
                break;
            };
            self.flight.push_back((r.start, object.fetch(r)));
        }
    }

    /// Waits for the bytes: the blobs of the job, read from `bin`.
    pub(crate) fn finish(mut self, bin: &Bin) -> Result<Blobs<'_>, Error> {
        let Some(object) = self.object.clone() else {
            return Ok(Blobs::Whole(bin.input.bytes()));
        };
        let len = object.len();
        let mut pieces: Pieces = Vec::new();
        while let Some((start, pending)) = self.flight.pop_front() {
            let bytes = pending.wait().map_err(|e| bin.fetch_error(start, e))?;
            pieces.push((start, bytes));
            self.top_up();
        }
        // A blob longer than what was fetched for it (blobs that overlap): the rest of it,
        // unless its size is one the decoder refuses.
        for &(at, most) in &self.frames {
            let i = pieces.partition_point(|(start, _)| *start <= at) - 1;
            let (start, bytes) = &mut pieces[i];
            let off = (at - *start) as usize;
            let Some(head) = bytes.get(off..off + 4) else {
                continue;
            };
            let size = u64::from(u32::from_le_bytes(head.try_into().expect("4 bytes")));
            let (have, blob_end) = (*start + bytes.len() as u64, at + size);
            if blob_end > have && blob_end <= len && size <= most {
                let rest = object
                    .read(have..blob_end)
                    .map_err(|e| bin.fetch_error(have, e))?;
                bytes.extend_from_slice(&rest);
            }
        }
        Ok(Blobs::Fetched(pieces, len))
    }
}
