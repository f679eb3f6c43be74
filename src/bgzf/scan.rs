//! Block scanning: from gzip header to gzip header, no inflating.

use super::{Error, ErrorKind, EOF_MARKER, MAX_BLOCK_SIZE};

/// Where one BGZF block lies and how large it inflates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockInfo {
    /// Compressed offset of the block's first byte.
    pub offset: u64,
    /// Total compressed size of the block (`BSIZE + 1`), at most 65,536.
    pub size: u32,
    /// Uncompressed size: the trailer's ISIZE capped at 65,536 when scanned, the inflated length
    /// in a [`Chunk`](super::Chunk) (htslib ignores ISIZE, and so do the readers).
    pub isize: u32,
    /// Length of the gzip header: the deflate data starts at `offset + header_len`.
    pub header_len: u16,
}

impl BlockInfo {
    /// Compressed offset just past this block.
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.size)
    }

    /// The deflate stream, CRC32 and ISIZE of this block within `file`.
    pub(crate) fn parts<'a>(&self, file: &'a [u8]) -> (&'a [u8], u32, u32) {
        // `parse_block` proved these ranges when the block was found.
        let start = self.offset as usize;
        let block = &file[start..start + self.size as usize];
        let (payload, trailer) = block.split_at(block.len() - 8);
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        (&payload[usize::from(self.header_len)..], crc, self.isize)
    }
}

const FEXTRA: u8 = 4;
/// FLG bits other than FEXTRA: htslib ignores them in a BGZF block, split discovery refuses
/// them.
const FOTHER: u8 = !FEXTRA;
/// Smallest deflate stream: a final fixed-Huffman block holding only end-of-block.
const MIN_DEFLATE: usize = 2;

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// Parses and validates the BGZF block that starts at `offset` of `file`.
///
/// Checks every header field BGZF relies on: gzip magic, CM = 8, FLG.FEXTRA, XLEN and the extra
/// subfields, the `BC` subfield with SLEN = 2, a block size that holds header, data and trailer,
/// and a block that fits in the file. A gzip member without a well-formed `BC` subfield is
/// [`ErrorKind::NotBgzf`] (readers inflate it as plain gzip, as htslib does).
///
/// What htslib ignores is accepted: FLG bits other than FEXTRA (FNAME, FCOMMENT and FHCRC are
/// not part of a BGZF header, so no such field is skipped), and an ISIZE that disagrees with the
/// data or exceeds 65,536 (the inflated length is what counts; [`BlockInfo::isize`] is capped
/// at 65,536 and corrected when the block is inflated). Split discovery
/// ([`find_block_start`]) stays strict about both.
pub(crate) fn parse_block(file: &[u8], offset: u64) -> Result<BlockInfo, Error> {
    let err = |kind| Error::new(offset, kind);
    let rest = usize::try_from(offset)
        .ok()
        .and_then(|o| file.get(o..))
        .unwrap_or_default();
    let truncated = |needed: usize| {
        err(ErrorKind::Truncated {
            needed: needed as u64,
            available: rest.len() as u64,
        })
    };
    if rest.len() == 1 && rest[0] == 0x1f {
        return Err(truncated(12));
    }
    if rest.len() < 2 || rest[..2] != [0x1f, 0x8b] {
        return Err(err(ErrorKind::BadMagic {
            found: rest[..rest.len().min(2)].to_vec(),
        }));
    }
    if rest.len() < 12 {
        return Err(truncated(12));
    }
    if rest[2] != 8 {
        return Err(err(ErrorKind::BadHeader {
            reason: "compression method is not deflate (CM != 8)",
        }));
    }
    let flags = rest[3];
    if flags & FEXTRA == 0 {
        return Err(err(ErrorKind::NotBgzf));
    }
    let xlen = le16(rest, 10);
    let extra_end = 12 + xlen;
    if rest.len() < extra_end {
        return Err(truncated(extra_end));
    }
    let mut bsize = None;
    let mut at = 12;
    while at < extra_end {
        // Subfields that run past XLEN, a BC of another length or a second BC: not a BGZF
        // header, but still a gzip member (gzip readers skip the extra field whole).
        if extra_end - at < 4 {
            return Err(err(ErrorKind::NotBgzf));
        }
        let slen = le16(rest, at + 2);
        if at + 4 + slen > extra_end {
            return Err(err(ErrorKind::NotBgzf));
        }
        if rest[at] == b'B' && rest[at + 1] == b'C' {
            if slen != 2 || bsize.is_some() {
                return Err(err(ErrorKind::NotBgzf));
            }
            bsize = Some(le16(rest, at + 4));
        }
        at += 4 + slen;
    }
    let Some(bsize) = bsize else {
        return Err(err(ErrorKind::NotBgzf));
    };
    let size = bsize + 1;
    let too_small = || err(ErrorKind::BadBlockSize { size: size as u32 });
    // The deflate data follows the extra field. FNAME, FCOMMENT and FHCRC are not part of the
    // BGZF header (SAM spec §4.1): htslib ignores those flag bits in a BGZF block, and so do we
    // (a damaged flag byte then costs nothing).
    let header_len = extra_end;
    if size < header_len + MIN_DEFLATE + 8 {
        return Err(too_small());
    }
    if rest.len() < size {
        return Err(truncated(size));
    }
    let isize = u32::from_le_bytes([
        rest[size - 4],
        rest[size - 3],
        rest[size - 2],
        rest[size - 1],
    ]);
    Ok(BlockInfo {
        offset,
        size: size as u32,
        isize: isize.min(MAX_BLOCK_SIZE as u32),
        header_len: u16::try_from(header_len).map_err(|_| too_small())?,
    })
}

/// Resumable scanning state: the position of the next block and what came before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ScanState {
    pos: u64,
    after_eof_marker: bool,
    failed: bool,
}

impl ScanState {
    pub(crate) fn at(pos: u64) -> Self {
        Self {
            pos,
            ..Self::default()
        }
    }

    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    pub(crate) fn after_eof_marker(&self) -> bool {
        self.after_eof_marker
    }

    /// The next block of `file`, `None` at the end or after an error.
    pub(crate) fn next_block(&mut self, file: &[u8]) -> Option<Result<BlockInfo, Error>> {
        if self.failed || self.pos >= file.len() as u64 {
            return None;
        }
        match parse_block(file, self.pos) {
            Ok(block) => {
                let start = self.pos as usize;
                self.after_eof_marker = file[start..start + block.size as usize] == EOF_MARKER[..];
                self.pos = block.end();
                Some(Ok(block))
            }
            Err(e) => {
                self.failed = true;
                // A gzip member after the EOF marker is read as gzip (concatenated files).
                if self.after_eof_marker && *e.kind() != ErrorKind::NotBgzf {
                    let len = file.len() as u64 - self.pos;
                    return Some(Err(Error::new(self.pos, ErrorKind::TrailingBytes { len })));
                }
                Some(Err(e))
            }
        }
    }
}

/// Walks a BGZF file block by block from a starting offset, validating each header.
///
/// Yields each block, then stops; after the first error it yields nothing more. Bytes after
/// an EOF-marker block that are not a block are reported as [`ErrorKind::TrailingBytes`].
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    file: &'a [u8],
    state: ScanState,
}

impl<'a> Scanner<'a> {
    /// Scans `file` from its start.
    pub(crate) fn new(file: &'a [u8]) -> Self {
        Self::from_offset(file, 0)
    }

    /// Scans `file` from `offset`, which must be a block start (see [`find_block_start`]).
    pub(crate) fn from_offset(file: &'a [u8], offset: u64) -> Self {
        Self {
            file,
            state: ScanState::at(offset),
        }
    }

    /// Whether the last block returned was the 28-byte EOF marker.
    pub(crate) fn at_eof_marker(&self) -> bool {
        self.state.after_eof_marker()
    }
}

impl Iterator for Scanner<'_> {
    type Item = Result<BlockInfo, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.state.next_block(self.file)
    }
}

/// The block index of a whole BGZF file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockIndex {
    /// Every block, in file order.
    pub blocks: Vec<BlockInfo>,
    /// Whether the file ends with the 28-byte EOF marker. A missing marker is not an error, but
    /// it often means the file was truncated at a block boundary: callers should warn, as
    /// htslib does.
    pub eof_marker: bool,
}

impl BlockIndex {
    /// Total uncompressed bytes.
    pub fn uncompressed_bytes(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.isize)).sum()
    }
}

/// Builds the block index of a whole file without inflating anything.
///
/// ```
/// # let file = rawarrow::bgzf::compress_for_tests(&[7u8; 100_000]);
/// let index = rawarrow::bgzf::scan(&file)?;
/// assert_eq!(index.uncompressed_bytes(), 100_000);
/// assert!(index.eof_marker);
/// # Ok::<(), rawarrow::bgzf::Error>(())
/// ```
pub fn scan(file: &[u8]) -> Result<BlockIndex, Error> {
    let mut scanner = Scanner::new(file);
    let mut blocks = Vec::with_capacity(file.len() / 16384 + 1);
    for block in scanner.by_ref() {
        blocks.push(block?);
    }
    Ok(BlockIndex {
        blocks,
        eof_marker: scanner.at_eof_marker(),
    })
}

/// Compressed bytes that the chain of valid blocks following a candidate must cover before the
/// candidate is accepted as a block start (unless the chain reaches the end of the file first).
///
/// A false start can only come from gzip headers stored verbatim, i.e. BGZF data kept in
/// *stored* (uncompressed) deflate blocks of an outer BGZF file. Such a nested chain breaks at
/// every outer block boundary (the outer trailer and header shift it by 26 bytes), and one
/// outer block holds at most 64 KiB, so a chain that must span four blocks' worth of bytes
/// cannot be nested.
const SPLIT_SPAN: u64 = 4 * MAX_BLOCK_SIZE as u64;

/// Finds the first true block start at or after `from`, or `None` when no block starts there.
///
/// A candidate must pass the full header validation of [`parse_block`], and so must the chain of
/// blocks that follows it, either up to the end of the file exactly or over at least 256 KiB.
/// A chance match inside deflate-compressed data would need a run of correctly linked gzip
/// headers; gzip headers stored verbatim (BGZF inside BGZF, stored uncompressed) cannot link
/// across the outer file's block boundaries. This is what lets several workers or machines
/// start in the middle of a file with no index. (A file crafted to defeat it is possible, as for
/// any index-free resynchronisation; a file written by a BGZF writer is not.)
///
/// ```
/// # let file = rawarrow::bgzf::compress_for_tests(&(0..200_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
/// let index = rawarrow::bgzf::scan(&file)?;
/// let second = index.blocks[1].offset;
/// assert_eq!(rawarrow::bgzf::find_block_start(&file, 1), Some(second));
/// assert_eq!(rawarrow::bgzf::find_block_start(&file, second), Some(second));
/// # Ok::<(), rawarrow::bgzf::Error>(())
/// ```
pub fn find_block_start(file: &[u8], from: u64) -> Option<u64> {
    let start = usize::try_from(from).ok()?;
    let haystack = file.get(start..)?;
    // Every position a failed chain passed through is itself a failed start (its chain is a
    // suffix of the failed one): remember them so nested headers are not re-walked.
    let mut failed = std::collections::HashSet::new();
    memchr::memmem::find_iter(haystack, &[0x1f, 0x8b, 0x08])
        .map(|i| (start + i) as u64)
        .find(|&candidate| chain_is_valid(file, candidate, &mut failed))
}

/// `b` when its header sets no FLG bit but FEXTRA and its ISIZE is at most 65,536.
fn strict(file: &[u8], b: BlockInfo) -> Result<BlockInfo, Error> {
    let at = b.offset as usize;
    let end = b.end() as usize;
    let isize = u32::from_le_bytes([file[end - 4], file[end - 3], file[end - 2], file[end - 1]]);
    if file[at + 3] & FOTHER != 0 || isize as usize > MAX_BLOCK_SIZE {
        return Err(Error::new(
            b.offset,
            ErrorKind::BadHeader {
                reason: "not strict",
            },
        ));
    }
    Ok(b)
}

fn chain_is_valid(file: &[u8], start: u64, failed: &mut std::collections::HashSet<u64>) -> bool {
    let mut pos = start;
    let mut visited = Vec::new();
    let ok = loop {
        if pos == file.len() as u64 {
            break true;
        }
        if failed.contains(&pos) {
            break false;
        }
        // What htslib tolerates (reserved FLG bits, a wrong ISIZE) is not a block start here:
        // resynchronising from an arbitrary offset trusts only well-formed headers.
        let block = parse_block(file, pos).and_then(|b| strict(file, b));
        if pos - start >= SPLIT_SPAN {
            // The span must end on a valid header too.
            break block.is_ok();
        }
        match block {
            Ok(b) => {
                visited.push(pos);
                pos = b.end();
            }
            Err(_) => break false,
        }
    };
    if !ok {
        failed.extend(visited);
    }
    ok
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_the_eof_marker() -> Result<(), Box<dyn std::error::Error>> {
        let file = crate::bgzf::EOF_MARKER;
        let b = crate::bgzf::parse_block(&file, 0)?;
        assert_eq!((b.size, b.isize), (28, 0));
        Ok(())
    }

    use super::*;

    fn two_blocks() -> Vec<u8> {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 255) as u8).collect();
        crate::bgzf::compress_for_tests(&data)
    }

    #[test]
    fn eof_marker_alone() {
        let idx = scan(&EOF_MARKER).expect("valid");
        assert_eq!(idx.blocks.len(), 1);
        assert!(idx.eof_marker);
        assert_eq!(idx.uncompressed_bytes(), 0);
    }

    #[test]
    fn empty_file_has_no_blocks_and_no_marker() {
        let idx = scan(&[]).expect("valid");
        assert!(idx.blocks.is_empty());
        assert!(!idx.eof_marker);
    }

    #[test]
    fn missing_eof_marker_is_reported_not_an_error() {
        let mut f = two_blocks();
        f.truncate(f.len() - 28);
        let idx = scan(&f).expect("valid");
        assert!(!idx.eof_marker);
        assert_eq!(idx.uncompressed_bytes(), 100_000);
    }

    #[test]
    fn header_field_errors() {
        let good = two_blocks();
        let kind_at = |f: &[u8]| scan(f).expect_err("invalid").kind().clone();

        let mut f = good.clone();
        f[2] = 7;
        assert!(matches!(kind_at(&f), ErrorKind::BadHeader { .. }));

        let mut f = good.clone();
        f[3] = 0; // no FEXTRA: plain gzip
        assert_eq!(kind_at(&f), ErrorKind::NotBgzf);

        let mut f = good.clone();
        f[3] = 4 | 0x20; // a reserved bit: htslib ignores it, so does the scan
        assert_eq!(scan(&f).expect("accepted").blocks.len(), 3);
        // but split discovery does not start at such a block.
        assert_ne!(find_block_start(&f, 0), Some(0));

        let mut f = good.clone();
        f[12] = b'X'; // subfield is not BC
        assert_eq!(kind_at(&f), ErrorKind::NotBgzf);

        let mut f = good.clone();
        f[14] = 3; // BC SLEN != 2 and runs past XLEN: a gzip member, not BGZF
        assert_eq!(kind_at(&f), ErrorKind::NotBgzf);

        let mut f = good.clone();
        f[10] = 5; // XLEN shorter than the subfield
        assert_eq!(kind_at(&f), ErrorKind::NotBgzf);

        let mut f = good.clone();
        f[16] = 20;
        f[17] = 0;
        assert_eq!(kind_at(&f), ErrorKind::BadBlockSize { size: 21 });

        // ISIZE over 64 KiB: capped (the inflated length is what counts, as in htslib); split
        // discovery does not start there.
        let mut f = good.clone();
        let first = parse_block(&good, 0).expect("valid");
        let end = first.size as usize;
        f[end - 4..end].copy_from_slice(&65537u32.to_le_bytes());
        assert_eq!(parse_block(&f, 0).expect("accepted").isize, 65536);
        assert_ne!(find_block_start(&f, 0), Some(0));
    }

    #[test]
    fn other_flag_bits_are_ignored_as_htslib_does() {
        // FNAME + FCOMMENT + FHCRC set on a real block: the deflate data still follows the
        // extra field.
        let payload = b"flags";
        let mut f = crate::bgzf::compress_for_tests(payload);
        f[3] = 4 | 8 | 16 | 2;
        let b = parse_block(&f, 0).expect("valid");
        assert_eq!(usize::from(b.header_len), 18);
        assert_eq!(
            crate::bgzf::inflate_block(&f, &b).expect("inflates"),
            payload
        );
        assert_eq!(
            find_block_start(&f, 0),
            Some(b.end()),
            "split discovery stays strict"
        );
    }

    #[test]
    fn trailing_garbage_after_marker() {
        let mut f = two_blocks();
        let end = f.len() as u64;
        f.extend_from_slice(b"garbage!");
        let e = scan(&f).expect_err("trailing");
        assert_eq!(e.offset(), end);
        assert_eq!(e.kind(), &ErrorKind::TrailingBytes { len: 8 });
    }

    #[test]
    fn split_points_on_synthetic_file() {
        let f = two_blocks();
        let idx = scan(&f).expect("valid");
        let starts: Vec<u64> = idx.blocks.iter().map(|b| b.offset).collect();
        for from in 0..=f.len() as u64 + 3 {
            let expect = starts.iter().copied().find(|&s| s >= from);
            assert_eq!(find_block_start(&f, from), expect, "from {from}");
        }
    }
}
