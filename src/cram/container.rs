//! The file definition, container headers and blocks (CRAM 2.1 and 3.x; 3.x adds a CRC32 to
//! each container header and block).

use super::error::Cause;
use super::num::{i32le, itf8, itf8_len, ltf8, take, u32le, u8};

/// The 26-byte file definition: `CRAM`, major and minor version, a 20-byte file id.
pub(crate) const FILE_DEFINITION: usize = 26;

/// Major and minor version from the file definition.
pub(crate) fn version(file: &[u8]) -> Result<(u8, u8), Cause> {
    if file.len() < FILE_DEFINITION {
        return Err(Cause::Truncated("file definition"));
    }
    let (major, minor) = (file[4], file[5]);
    match (major, minor) {
        (2, 1) | (3, 0) | (3, 1) => Ok((major, minor)),
        _ => Err(Cause::Version(major, minor)),
    }
}

/// A container header.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerHeader {
    /// Bytes of the container's blocks (after this header).
    pub(crate) length: usize,
    pub(crate) reference: i32,
    pub(crate) records: usize,
    /// Blocks it holds (the header container's: the header and any padding).
    pub(crate) blocks: usize,
    /// Offsets of its slices from the end of the header (after the compression header block).
    pub(crate) landmarks: Vec<usize>,
    /// Bytes of the header itself.
    pub(crate) header_len: usize,
}

impl ContainerHeader {
    /// Whether it is the end-of-file container (no records, no slices; reference -1 and start
    /// 4542278 in 3.x).
    pub(crate) fn is_eof(&self) -> bool {
        self.records == 0 && self.landmarks.is_empty() && self.reference == -1
    }

    /// The container's bytes after its header, `[header end, end)` as offsets from its start.
    pub(crate) fn total_len(&self) -> usize {
        self.header_len + self.length
    }
}

/// Reads a container header at the start of `bytes`, checking the 3.x CRC32.
pub(crate) fn container_header(bytes: &[u8], major: u8) -> Result<ContainerHeader, Cause> {
    let mut src = bytes;
    let what = "container header";
    let length = i32le(&mut src, what)?;
    let length =
        usize::try_from(length).map_err(|_| Cause::Negative("container length", length.into()))?;
    let reference = itf8(&mut src, what)?;
    // Start, span (the slices say them again), records.
    itf8(&mut src, what)?;
    itf8(&mut src, what)?;
    let records = itf8_len(&mut src, what)?;
    // Record counter, bases, block count.
    if major >= 3 {
        ltf8(&mut src, what)?;
    } else {
        itf8(&mut src, what)?;
    }
    ltf8(&mut src, what)?;
    let blocks = itf8_len(&mut src, what)?;
    let n = itf8_len(&mut src, what)?;
    if n > src.len() {
        return Err(Cause::TooLarge("container's landmark count", n as u64));
    }
    let mut landmarks = Vec::with_capacity(n);
    for _ in 0..n {
        landmarks.push(itf8_len(&mut src, what)?);
    }
    let mut header_len = bytes.len() - src.len();
    if major >= 3 {
        let stored = u32le(&mut src, what)?;
        let computed = libdeflater::crc32(&bytes[..header_len]);
        if stored != computed {
            return Err(Cause::Crc {
                what,
                stored,
                computed,
            });
        }
        header_len += 4;
    }
    Ok(ContainerHeader {
        length,
        reference,
        records,
        blocks,
        landmarks,
        header_len,
    })
}

/// The offset of the first container that starts in `[from, to)` of the CRAM 3.x `file`, or
/// `None`: an index-free split's first container. An offset counts only when a container
/// header parses there with its CRC32, its blocks end within the file, and the next container
/// header (with its CRC32) starts where they end, or the file does: random bytes pass with a
/// probability near 2⁻⁶⁴, and no offset of the test files but the containers' own does.
pub(crate) fn find_container(file: &[u8], from: u64, to: u64) -> Option<u64> {
    let len = file.len() as u64;
    find_container_in(file, 0, len, from, to).unwrap_or(None)
}

/// [`find_container`] over `window`, the bytes of a file `len` bytes long from offset `base`
/// (a remote object's, fetched): `Ok(Some(offset))`, `Ok(None)` when no offset in
/// `[from, to)` starts a container, `Err(n)` when telling needs the window to reach offset
/// `n`.
pub(crate) fn find_container_in(
    window: &[u8],
    base: u64,
    len: u64,
    from: u64,
    to: u64,
) -> Result<Option<u64>, u64> {
    let end = base + window.len() as u64;
    for p in from.max(base)..to.min(len) {
        if p >= end {
            return Err(p + 4096);
        }
        match probe(&window[(p - base) as usize..], len - p) {
            Probe::Yes => return Ok(Some(p)),
            Probe::No => {}
            Probe::More(n) => return Err(p + n as u64),
        }
    }
    Ok(None)
}

/// Whether a container starts at `bytes[0]`: the file's bytes from there, `rest` of them in
/// all (`bytes` may hold fewer).
enum Probe {
    Yes,
    No,
    /// Telling needs this many bytes from there.
    More(usize),
}

/// Bytes of a container header waited for at most before garbage is called garbage.
const PROBE_HEADER: usize = 1 << 20;

fn probe(bytes: &[u8], rest: u64) -> Probe {
    let whole = bytes.len() as u64 >= rest;
    // The length first (cheap): the container must end within the file.
    let Some(&[a, b, c, d]) = bytes.get(..4) else {
        return if whole { Probe::No } else { Probe::More(4096) };
    };
    let length = i32::from_le_bytes([a, b, c, d]);
    if u64::try_from(length).map_or(true, |l| l > rest) {
        return Probe::No;
    }
    // A header cut short by the window's end fails as truncated (or with a landmark count
    // larger than the bytes left); a CRC32 mismatch is final.
    let more = |got: usize, c: &Cause| {
        !whole && got < PROBE_HEADER && matches!(c, Cause::Truncated(_) | Cause::TooLarge(..))
    };
    let h = match container_header(bytes, 3) {
        Ok(h) => h,
        Err(c) if more(bytes.len(), &c) => return Probe::More((bytes.len() * 2).max(4096)),
        Err(_) => return Probe::No,
    };
    let end = h.total_len();
    if end as u64 > rest {
        return Probe::No;
    }
    if end as u64 == rest {
        return Probe::Yes;
    }
    if bytes.len() <= end {
        return Probe::More(end + 4096);
    }
    let next = &bytes[end..];
    match container_header(next, 3) {
        Ok(n) if n.total_len() as u64 <= rest - end as u64 => Probe::Yes,
        Ok(_) => Probe::No,
        Err(c) if more(next.len(), &c) => Probe::More(end + (next.len() * 2).max(4096)),
        Err(_) => Probe::No,
    }
}

/// Block content types.
pub(crate) mod content {
    pub(crate) const FILE_HEADER: u8 = 0;
    pub(crate) const COMPRESSION_HEADER: u8 = 1;
    pub(crate) const SLICE_HEADER: u8 = 2;
    pub(crate) const EXTERNAL: u8 = 4;
    pub(crate) const CORE: u8 = 5;
}

/// A block as stored: its header fields and compressed bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawBlock<'a> {
    pub(crate) method: u8,
    pub(crate) content_type: u8,
    pub(crate) content_id: i32,
    pub(crate) raw_size: usize,
    pub(crate) data: &'a [u8],
}

/// Reads the block at the start of `*src` and moves past it (checking the 3.x CRC32).
pub(crate) fn block<'a>(src: &mut &'a [u8], major: u8) -> Result<RawBlock<'a>, Cause> {
    let start = *src;
    let what = "block header";
    let method = u8(src, what)?;
    let content_type = u8(src, what)?;
    let content_id = itf8(src, what)?;
    let size = itf8_len(src, what)?;
    let raw_size = itf8_len(src, what)?;
    let data = take(src, size, "block data")?;
    if major >= 3 {
        let covered = start.len() - src.len();
        let stored = u32le(src, "block CRC32")?;
        let computed = libdeflater::crc32(&start[..covered]);
        if stored != computed {
            return Err(Cause::Crc {
                what: "block",
                stored,
                computed,
            });
        }
    }
    Ok(RawBlock {
        method,
        content_type,
        content_id,
        raw_size,
        data,
    })
}

/// A slice header.
#[derive(Debug, Clone)]
pub(crate) struct SliceHeader {
    pub(crate) reference: i32,
    pub(crate) start: i64,
    pub(crate) span: i64,
    pub(crate) records: usize,
    pub(crate) counter: i64,
    pub(crate) blocks: usize,
    pub(crate) embedded: i32,
    pub(crate) md5: [u8; 16],
}

pub(crate) fn slice_header(mut src: &[u8], major: u8) -> Result<SliceHeader, Cause> {
    let src = &mut src;
    let what = "slice header";
    let reference = itf8(src, what)?;
    let start = itf8(src, what)?;
    let span = itf8(src, what)?;
    if start < 0 || span < 0 {
        return Err(Cause::Invalid("slice header (negative start or span)"));
    }
    let records = itf8_len(src, what)?;
    let counter = if major >= 3 {
        ltf8(src, what)?
    } else {
        itf8(src, what)?.into()
    };
    let blocks = itf8_len(src, what)?;
    let n = itf8_len(src, what)?;
    if n > src.len() {
        return Err(Cause::TooLarge("slice's content id count", n as u64));
    }
    for _ in 0..n {
        itf8(src, what)?;
    }
    let embedded = itf8(src, what)?;
    let md5 = take(src, 16, what)?.try_into().expect("16 bytes");
    Ok(SliceHeader {
        reference,
        start: start.into(),
        span: span.into(),
        records,
        counter,
        blocks,
        embedded,
        md5,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CRAM 3.x container: its header (one landmark, CRC32) and `length` bytes of body.
    fn container(length: usize, seed: u8) -> Vec<u8> {
        let mut c = (length as i32).to_le_bytes().to_vec();
        // reference, start, span, records, counter, bases, blocks, one landmark at 0.
        c.extend_from_slice(&[0, 1, 10, 5, 0, 50, 1, 1, 0]);
        let crc = libdeflater::crc32(&c);
        c.extend_from_slice(&crc.to_le_bytes());
        c.extend((0..length).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
        c
    }

    /// Found through windows of any start and size, grown as asked, a container start is the
    /// one the whole file gives, for every `[from, to)`.
    #[test]
    fn windows_find_what_the_whole_file_finds() {
        let mut file: Vec<u8> = (0..97u8).map(|i| i.wrapping_mul(7)).collect();
        for (length, seed) in [(300, 1), (40, 2), (1000, 3), (5, 4)] {
            file.extend(container(length, seed));
        }
        let len = file.len() as u64;
        for from in (0..len).step_by(13) {
            for to in [from + 1, from + 50, from + 400, len] {
                let want = find_container(&file, from, to);
                for first in [1u64, 16, 64, 700] {
                    let mut size = first;
                    let got = loop {
                        let end = (from + size).min(len);
                        let window = &file[from as usize..end as usize];
                        match find_container_in(window, from, len, from, to) {
                            Ok(found) => break found,
                            Err(n) => {
                                assert!(n > end, "{from}..{to}: asked for {n} with {end}");
                                size = (n - from).max(size * 2);
                            }
                        }
                    };
                    assert_eq!(got, want, "{from}..{to} from windows of {first}");
                }
            }
        }
        assert_eq!(find_container(&file, 0, len), Some(97));
        assert_eq!(find_container(&file, 98, len), Some(97 + 17 + 300));
    }
}
