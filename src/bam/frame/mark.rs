//! Record starts found on the inflating workers (`bgzf::Marker`): each record's `block_size` checked against the next, so the calling thread takes runs of records without reading them; and the cache warm-up before a run is walked.

pub(in crate::bam) fn block_size(b: &[u8]) -> u32 {
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

/// Reads one byte per cache line of `bytes`: loads that do not depend on each other, so the
/// CPU overlaps their misses, where hopping from record to record (each length read before the
/// next record is found) waits for one line after the other. Inflated data was written by
/// another core; after this the hop finds it in cache.
pub(in crate::bam) fn touch_lines(bytes: &[u8]) {
    let touched = bytes.iter().step_by(64).fold(0u8, |a, &b| a ^ b);
    std::hint::black_box(touched);
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::bam::header::Header;

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
