//! Where frame blobs come from: a local `analysis.tdf_bin` is mapped and a job decodes straight
//! from the map; one in an object store (or behind HTTP) is read by ranges, each job fetching
//! the blobs of its own frames — and nothing else — before it decodes them.
//!
//! A blob's length is in its first four bytes, so a range is planned from the `Frames` table:
//! a blob ends at most where the next blob (by `TimsId`, of every frame, not only those
//! selected) begins, or at the end of the file. Blobs that touch are fetched as one range (up
//! to `fetch_bytes`), `fetch_concurrency` ranges in flight; a blob longer than what was fetched
//! for it (blobs that overlap) has the rest fetched.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::frame::most_blob_bytes;
use super::meta::FrameRow;
use super::Error;
use crate::io::remote::{FetchError, Object, Pending};
use crate::io::{Input, Shrunk};

/// The bytes one frame blob is decoded from: `bytes[0]` is at `base` in `analysis.tdf_bin`,
/// which is `len` bytes long. The blob at a frame's `TimsId` lies inside `bytes` unless the
/// file is too short for it (the decoder reports that).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) base: u64,
    pub(crate) len: u64,
}

impl<'a> Window<'a> {
    /// All of a file's bytes.
    pub(crate) fn whole(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            base: 0,
            len: bytes.len() as u64,
        }
    }
}

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

    /// See [`Input::release`].
    pub(crate) fn release(&self, range: Range<usize>) {
        self.input.release(range);
    }

    /// See [`Input::check`].
    pub(crate) fn check(&self) -> Result<(), Shrunk> {
        self.input.check()
    }

    /// The blobs of `frames`, fetched when the file is remote.
    pub(crate) fn blobs<'a, 'f>(
        &'a self,
        frames: impl Iterator<Item = &'f FrameRow>,
    ) -> Result<Blobs<'a>, Error> {
        let Some(object) = self.input.remote_object() else {
            return Ok(Blobs::Whole(self.input.bytes()));
        };
        let len = object.len();
        let frames: Vec<&FrameRow> = frames.filter(|f| f.tims_id < len).collect();
        let mut wanted: Vec<Range<u64>> = frames
            .iter()
            .map(|f| {
                let next = self.starts.partition_point(|&s| s <= f.tims_id);
                let end = self.starts.get(next).copied().unwrap_or(len);
                f.tims_id..end.max(f.tims_id + 8).min(len)
            })
            .collect();
        wanted.sort_unstable_by_key(|r| r.start);
        // Blobs that touch (or overlap), as ranges of at most `fetch_bytes` (a longer blob is
        // one range of its own).
        let most = object.settings().fetch_bytes;
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for r in wanted {
            match ranges.last_mut() {
                Some(last) if r.end <= last.end => {}
                Some(last) if r.start <= last.end && r.end - last.start <= most => last.end = r.end,
                _ => ranges.push(r),
            }
        }
        let mut pieces = fetch_all(object, &ranges).map_err(|(at, e)| self.fetch_error(at, e))?;
        // A blob longer than what was fetched for it (the last of an rt slice, or blobs out of
        // TimsId order): the rest of it, unless its size is one the decoder refuses.
        for f in frames {
            let i = pieces.partition_point(|(start, _)| *start <= f.tims_id) - 1;
            let (start, bytes) = &mut pieces[i];
            let off = (f.tims_id - *start) as usize;
            let Some(head) = bytes.get(off..off + 4) else {
                continue;
            };
            let size = u64::from(u32::from_le_bytes(head.try_into().expect("4 bytes")));
            let (have, blob_end) = (*start + bytes.len() as u64, f.tims_id + size);
            if blob_end > have && blob_end <= len && size <= most_blob_bytes(f) {
                let rest = object
                    .read(have..blob_end)
                    .map_err(|e| self.fetch_error(have, e))?;
                bytes.extend_from_slice(&rest);
            }
        }
        Ok(Blobs::Fetched(pieces, len))
    }

    fn fetch_error(&self, at: u64, e: FetchError) -> Error {
        Error::read(self.path.clone(), at, e.reason()).caused_by(std::io::Error::from(e))
    }
}

/// Fetches `ranges`, at most `fetch_concurrency` at a time: `(start, bytes)` in their order,
/// or the first failure's range start and error.
fn fetch_all(object: &Arc<Object>, ranges: &[Range<u64>]) -> Result<Pieces, (u64, FetchError)> {
    let most = object.settings().concurrency.max(1);
    let mut flight: std::collections::VecDeque<(u64, Pending)> = Default::default();
    let mut out = Vec::with_capacity(ranges.len());
    let mut next = ranges.iter();
    loop {
        while flight.len() < most {
            let Some(r) = next.next() else { break };
            flight.push_back((r.start, object.fetch(r.clone())));
        }
        let Some((start, pending)) = flight.pop_front() else {
            return Ok(out);
        };
        out.push((start, pending.wait().map_err(|e| (start, e))?));
    }
}
