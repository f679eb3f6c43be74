//! Framing records out of the chunk stream: [`Records::next_chunk`] and the runs of marked records.

use std::sync::Arc;

use super::mark::{block_size, touch_lines};
use super::{data_end, Located, Raw, Records};
use crate::bam::error::{Error, ErrorKind, RecordError};
use crate::bam::record::Record;
use crate::bgzf::{Chunk, VirtualOffsets};

impl Records {
    /// Frames the records of `chunk` from byte `start`: first completes a record carried over
    /// from earlier chunks, then every record inside the chunk; a record that runs past the end
    /// is carried. `emit` returning `Ok(false)` stops; the position reached is returned
    /// (`data.len()` when the chunk is used up).
    pub(in crate::bam) fn frame_chunk(
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
    pub(in crate::bam) fn take_marked(
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
        let before = self.stop.map_or(usize::MAX, |stop| {
            chunk.data_before_block_at(stop.compressed())
        });
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
    pub(in crate::bam) fn next_raw_chunk(&mut self) -> Result<Option<(Chunk, usize)>, Error> {
        if self.done {
            return Ok(None);
        }
        if let Some(c) = self.current.take() {
            return Ok(Some(c));
        }
        while let Some(c) = self.chunks.next_chunk() {
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
                    return Ok(Some((c, usize::from(span.start.uncompressed()))));
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
    pub(in crate::bam) fn peek_tag_kinds(
        &self,
        tags: &[[u8; 2]],
    ) -> Vec<Option<crate::bam::TagKind>> {
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
                    kinds[i].get_or_insert(crate::bam::TagKind::of(f.ty, sub));
                }
            }
            pos += 4 + bs;
        }
        kinds
    }

    /// Number of references in the header (for record validation).
    pub(in crate::bam) fn n_refs(&self) -> usize {
        self.header.references.len()
    }

    /// Gives an inflated chunk's buffers back to the pipeline.
    pub(in crate::bam) fn recycle(&mut self, chunk: Chunk) {
        self.chunks.recycle(chunk);
    }

    /// The file's path (for error messages).
    pub(in crate::bam) fn path(&self) -> Arc<std::path::Path> {
        self.path.clone()
    }

    /// Calls `f` with every record of the next chunk, in order; `Ok(false)` once the file is
    /// exhausted. Every record is validated before `f` sees it. `f` returning `Ok(false)` stops
    /// early (the remaining records of the chunk are not visited).
    pub fn next_chunk(
        &mut self,
        mut f: impl FnMut(&Record<'_>, Located) -> Result<bool, crate::Error>,
    ) -> Result<bool, crate::Error> {
        let mut failed = None;
        let more = self.next_chunk_with(true, |r, at| {
            f(r, at).or_else(|e| {
                failed = Some(e);
                Ok(false)
            })
        })?;
        failed.map_or(Ok(more), Err)
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
