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
    let to = to.min(file.len() as u64);
    (from..to).find(|&p| is_container_at(&file[p as usize..]))
}

fn is_container_at(bytes: &[u8]) -> bool {
    // The length first (cheap): the container must end within the file.
    let Some(&[a, b, c, d]) = bytes.get(..4) else {
        return false;
    };
    let length = i32::from_le_bytes([a, b, c, d]);
    if usize::try_from(length).map_or(true, |l| l > bytes.len()) {
        return false;
    }
    let Ok(h) = container_header(bytes, 3) else {
        return false;
    };
    let end = h.total_len();
    if end > bytes.len() {
        return false;
    }
    end == bytes.len()
        || container_header(&bytes[end..], 3).is_ok_and(|n| n.total_len() <= bytes.len() - end)
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
