//! The CRAM index (`.crai`): gzip-compressed text, one line per slice (per reference of a
//! multi-reference slice): reference id (−1 for unmapped reads), alignment start (1-based),
//! span, the container's byte offset, the slice's offset within the container and its size.
//! A region query decodes the containers whose slices overlap it, as htslib's iterator
//! reaches them, and keeps the records that overlap.

use std::io::Read;

/// One line of a `.crai`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) reference: i32,
    /// First and last position covered (1-based, inclusive).
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// The container's byte offset in the CRAM file.
    pub(crate) container: u64,
}

/// Parses a `.crai` (gzip-compressed, as samtools writes it, or plain text).
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut text = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(|e| format!("the .crai is not valid gzip: {e}"))?;
    } else {
        text.extend_from_slice(bytes);
    }
    let mut out = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let bad = || {
            format!(
                "line {} of the .crai is not 6 numbers: {:?}",
                n + 1,
                String::from_utf8_lossy(line)
            )
        };
        let fields: Vec<i64> = std::str::from_utf8(line)
            .map_err(|_| bad())?
            .split('\t')
            .map(|f| f.trim().parse::<i64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let [reference, start, span, container, _slice, _size] = fields[..] else {
            return Err(bad());
        };
        let (Ok(reference), Ok(container)) = (i32::try_from(reference), u64::try_from(container))
        else {
            return Err(bad());
        };
        if reference < -1 || span < 0 {
            return Err(bad());
        }
        out.push(Entry {
            reference,
            start,
            end: start.saturating_add(span).saturating_sub(1),
            container,
        });
    }
    Ok(out)
}

/// The containers whose slices overlap `[beg, end)` (0-based) of reference `tid`, or hold
/// unmapped reads (`tid` `None`): each one's byte offset and where the next container the
/// index names starts (`len`, the file's length, for the last), ascending, once each.
pub(crate) fn containers(
    entries: &[Entry],
    tid: Option<usize>,
    beg: i64,
    end: i64,
    len: u64,
) -> Vec<(u64, u64)> {
    let mut starts: Vec<u64> = entries.iter().map(|e| e.container).collect();
    starts.sort_unstable();
    starts.dedup();
    let mut out: Vec<u64> = entries
        .iter()
        .filter(|e| match tid {
            None => e.reference == -1,
            // A slice of [start, end] (1-based) overlaps [beg + 1, end] (1-based).
            Some(t) => i64::from(e.reference) == t as i64 && e.start <= end && e.end > beg,
        })
        .map(|e| e.container)
        .collect();
    out.sort_unstable();
    out.dedup();
    out.into_iter()
        .map(|c| {
            let next = starts.partition_point(|&s| s <= c);
            (c, starts.get(next).copied().unwrap_or(len).max(c + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_queries() {
        let text = b"0\t1\t100\t500\t10\t90\n0\t90\t200\t500\t100\t80\n0\t300\t50\t900\t10\t90\n1\t5\t10\t1400\t10\t9\n-1\t0\t0\t2000\t10\t9\n";
        let e = parse(text).expect("parses");
        assert_eq!(e.len(), 5);
        assert_eq!((e[0].start, e[0].end, e[0].container), (1, 100, 500));
        // 0-based [0, 1): position 1 only.
        let at = |tid, beg, end| -> Vec<u64> {
            containers(&e, tid, beg, end, 3000)
                .into_iter()
                .map(|(c, _)| c)
                .collect()
        };
        assert_eq!(at(Some(0), 0, 1), [500]);
        assert_eq!(at(Some(0), 100, 300), [500, 900]);
        assert_eq!(at(Some(0), 288, 299), [500]);
        assert_eq!(at(Some(0), 289, 299), Vec::<u64>::new());
        assert_eq!(at(Some(0), 348, i64::MAX), [900]);
        assert_eq!(at(Some(0), 349, i64::MAX), Vec::<u64>::new());
        assert_eq!(at(Some(1), 0, i64::MAX), [1400]);
        assert_eq!(at(None, 0, i64::MAX), [2000]);
        // Each container's range ends where the next the index names starts.
        let ranges = containers(&e, Some(0), 0, i64::MAX, 3000);
        assert_eq!(ranges, [(500, 900), (900, 1400)]);
        assert_eq!(containers(&e, None, 0, i64::MAX, 3000), [(2000, 3000)]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, text).expect("gzip");
        assert_eq!(parse(&gz.finish().expect("gzip")).expect("parses"), e);
        assert!(parse(b"0\t1\t2\n").is_err());
        assert!(parse(b"0\tx\t2\t3\t4\t5\n").is_err());
        assert!(parse(b"-3\t1\t2\t3\t4\t5\n").is_err());
    }
}
