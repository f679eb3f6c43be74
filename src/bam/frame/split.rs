//! Index-free byte-range splits: where the first record of a split starts.
//!
//! A split `[start, end)` of a BAM file holds the records whose `block_size` field begins in a
//! BGZF block whose compressed offset lies in the range, so the splits of any partition of the
//! file's bytes hold every record exactly once. Its first record is found without an index:
//!
//! 1. The first true block start at or after `start` ([`find_block_start`], a chain of valid
//!    BGZF headers). If the header ends in a block inside the range, the split starts right
//!    after the header.
//! 2. Inside that block, each uncompressed offset is a candidate, in order. A candidate is
//!    accepted when [`CHAIN`] consecutive records starting there pass every check the reader
//!    makes (`block_size` ≥ 32 and the fields fitting in it, reference ids within the header's
//!    references, positions in the SAM range, a NUL-terminated read name, defined CIGAR ops and
//!    a CIGAR consistent with the sequence, every aux field well formed), reading across block
//!    borders as far as needed; or when fewer records run exactly to the end of the data. When
//!    no offset of the block is accepted (a record larger than the block covers it), the next
//!    block is searched, up to `end`.
//!
//! Why false starts do not happen: a candidate inside a record must make the bytes there read as
//! [`CHAIN`] = 10 whole records in a row, each of which passes the checks above and ends exactly
//! where the next one's `block_size` begins. spark-bam's checkers, which test fewer fields
//! (no aux fields, no CIGAR/sequence consistency) over fewer records, measured false-positive
//! rates of 1.6e-9 to 5.4e-5 *per candidate* for chains of one to a few records on real data;
//! every further record multiplies the chance by that of random bytes passing the checks of a
//! record again (the reference id alone: (n_refs + 1) / 2³² for random bytes). The tests try
//! every byte offset of the corpus files and find the true boundary every time.

use crate::bam::error::{Error, ErrorKind};
use crate::bam::header::Header;
use crate::bam::record::Record;
use crate::bgzf::{find_block_start, inflate_block, parse_block, BlockInfo, VirtualPosition};

/// Consecutive valid records that make a candidate a record boundary.
pub const CHAIN: usize = 10;

/// The first record of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitStart {
    /// No record begins in a block of the range.
    Empty,
    /// The first record's `block_size` is at `within` of the block at compressed offset `block`.
    At {
        /// Compressed offset of the block.
        block: u64,
        /// Offset in the block's uncompressed data.
        within: usize,
    },
}

/// The virtual offset of the first record of the split `[start, end)` of a BAM file's bytes
/// (see [`ReaderBuilder::byte_range`](crate::bam::ReaderBuilder::byte_range)), or `None` when no
/// record begins in a block of that range. Reads the header, then only the blocks the search
/// needs.
///
/// ```
/// let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam"))?;
/// let first = rawarrow::bam::split_start(&bytes, 0, u64::MAX)?.expect("records");
/// // samtools writes the header in a block of its own: a split of it holds no record.
/// assert_eq!(rawarrow::bam::split_start(&bytes, 0, 1)?, None);
/// assert!(first.compressed() > 0 && first.uncompressed() == 0);
/// let later = rawarrow::bam::split_start(&bytes, 200_000, u64::MAX)?.expect("a later block");
/// assert!(later.compressed() >= 200_000);
/// assert_eq!(rawarrow::bam::split_start(&bytes, bytes.len() as u64, u64::MAX)?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn split_start(file: &[u8], start: u64, end: u64) -> Result<Option<VirtualPosition>, Error> {
    let (header, header_end) = read_header(file)?;
    Ok(
        match find_split_start(file, header_end, header.references.len(), start, end) {
            SplitStart::Empty => None,
            SplitStart::At { block, within } => Some(VirtualPosition::new(block, within as u16)),
        },
    )
}

/// The header, and the virtual offset of the first byte after it; reads block by block.
pub(crate) fn read_header(file: &[u8]) -> Result<(Header, VirtualPosition), Error> {
    if let Some(what) = crate::bam::header::sniff(file) {
        return Err(Error::new(ErrorKind::NotBam(what)));
    }
    let mut buf = Vec::new();
    let mut offset = 0u64;
    loop {
        if offset >= file.len() as u64 {
            return Err(Error::truncated_header(buf.len() as u64));
        }
        let block = parse_block(file, offset)?;
        let data = inflate_block(file, &block)?;
        let before = buf.len();
        buf.extend_from_slice(&data);
        if let Some((header, used)) =
            Header::parse_located(&buf).map_err(|(e, at)| Error::header(e, at))?
        {
            let within = used - before;
            // A header that ends exactly at the end of a block: the records start in the next.
            let voffset = if within == block.isize as usize {
                VirtualPosition::block(block.end())
            } else {
                VirtualPosition::new(block.offset, within as u16)
            };
            return Ok((header, voffset));
        }
        offset = block.end();
    }
}

/// Uncompressed bytes from one block on, inflated a block at a time as candidates need them.
struct Window<'a> {
    file: &'a [u8],
    data: Vec<u8>,
    /// The next block to inflate; `None` at the end of the data (the EOF marker, the end of
    /// the file, or a block that does not parse, which the reader will report in its place).
    next: Option<u64>,
}

impl Window<'_> {
    /// Makes `data` hold at least `len` bytes if the file has them; false if it does not.
    fn fill(&mut self, len: usize) -> bool {
        while self.data.len() < len {
            let Some(at) = self.next else {
                return false;
            };
            if !self.push(at) {
                return false;
            }
        }
        true
    }

    fn push(&mut self, at: u64) -> bool {
        if at >= self.file.len() as u64 {
            self.next = None;
            return false;
        }
        let Ok(block) = parse_block(self.file, at) else {
            self.next = None;
            return false;
        };
        let Ok(data) = inflate_block(self.file, &block) else {
            self.next = None;
            return false;
        };
        self.data.extend_from_slice(&data);
        self.next = Some(block.end()).filter(|&e| e < self.file.len() as u64);
        true
    }

    /// Whether [`CHAIN`] valid records start at `at` (or fewer that end exactly at the end).
    fn chain(&mut self, mut at: usize, n_refs: usize) -> bool {
        for k in 0..CHAIN {
            if !self.fill(at + 1) {
                // After at least one record, the data may end exactly at a record boundary.
                return k > 0 && at == self.data.len();
            }
            if !self.fill(at + 4 + 32) {
                return false;
            }
            let d = &self.data;
            let bs = u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]) as usize;
            if bs < 32 || !plausible(&d[at + 4..at + 4 + 32], bs, n_refs) {
                return false;
            }
            if !self.fill(at + 4 + bs) {
                return false;
            }
            if Record::parse(&self.data[at + 4..at + 4 + bs], n_refs).is_err() {
                return false;
            }
            at += 4 + bs;
        }
        true
    }
}

/// The checks on a record's 32 fixed bytes that need nothing after them, so that a false
/// candidate claiming a huge `block_size` is refused before more blocks are inflated for it.
fn plausible(fixed: &[u8], block_size: usize, n_refs: usize) -> bool {
    let i32_at =
        |k: usize| i32::from_le_bytes([fixed[k], fixed[k + 1], fixed[k + 2], fixed[k + 3]]);
    let ref_ok = |r: i32| r == -1 || (r >= 0 && (r as usize) < n_refs);
    let pos_ok = |p: i32| (-1..i32::MAX).contains(&p);
    let l_read_name = usize::from(fixed[8]);
    let n_cigar = usize::from(u16::from_le_bytes([fixed[12], fixed[13]]));
    let l_seq = i32_at(16);
    if !ref_ok(i32_at(0)) || !ref_ok(i32_at(20)) || !pos_ok(i32_at(4)) || !pos_ok(i32_at(24)) {
        return false;
    }
    if l_read_name == 0 || l_seq < 0 {
        return false;
    }
    let l_seq = l_seq as usize;
    32 + l_read_name + 4 * n_cigar + l_seq.div_ceil(2) + l_seq <= block_size
}

/// Finds where the split `[start, end)` of `file` starts; `header_end` is the virtual offset of
/// the first byte after the header ([`read_header`]).
pub(crate) fn find_split_start(
    file: &[u8],
    header_end: VirtualPosition,
    n_refs: usize,
    start: u64,
    end: u64,
) -> SplitStart {
    let header_block = header_end.compressed();
    if start <= header_block {
        return if header_block < end && header_block < file.len() as u64 {
            SplitStart::At {
                block: header_block,
                within: usize::from(header_end.uncompressed()),
            }
        } else {
            SplitStart::Empty
        };
    }
    find_after_header(file, n_refs, start, end)
}

/// [`find_split_start`] for a split that starts after the header's last block.
fn find_after_header(file: &[u8], n_refs: usize, start: u64, end: u64) -> SplitStart {
    let Some(mut block_at) = find_block_start(file, start) else {
        return SplitStart::Empty;
    };
    while block_at < end {
        let Ok(block) = parse_block(file, block_at) else {
            return SplitStart::Empty;
        };
        if let Some(within) = first_record_in(file, &block, n_refs) {
            return SplitStart::At {
                block: block_at,
                within,
            };
        }
        block_at = block.end();
    }
    SplitStart::Empty
}

/// The first offset of `block`'s data where a record chain starts, if any.
fn first_record_in(file: &[u8], block: &BlockInfo, n_refs: usize) -> Option<usize> {
    let mut w = Window {
        file,
        data: Vec::new(),
        next: Some(block.offset),
    };
    if !w.fill(1) {
        return None;
    }
    (0..block.isize as usize).find(|&at| w.chain(at, n_refs))
}

/// Room a found start must leave before the end of the bytes fetched for it: what the [`CHAIN`]
/// records that confirm it may span.
const REMOTE_MARGIN: u64 = 4 << 20;

/// [`find_split_start`] for a remote object: the bytes from `start` on are fetched, 8 MiB
/// first, four times more while the answer could depend on bytes not fetched yet (a start found
/// less than [`REMOTE_MARGIN`] before their end, or none found before `end` plus the margin).
/// Returns the start and the bytes fetched (from `start`), which the split reads first.
pub(crate) fn find_remote_split_start(
    object: &std::sync::Arc<crate::io::remote::Object>,
    header_end: VirtualPosition,
    n_refs: usize,
    start: u64,
    end: u64,
) -> Result<(SplitStart, Vec<u8>), crate::io::remote::FetchError> {
    let (len, header_block) = (object.len(), header_end.compressed());
    if start <= header_block {
        let at = if header_block < end && header_block < len {
            SplitStart::At {
                block: header_block,
                within: usize::from(header_end.uncompressed()),
            }
        } else {
            SplitStart::Empty
        };
        return Ok((at, Vec::new()));
    }
    let mut want: u64 = 8 << 20;
    loop {
        let stop = start.saturating_add(want).min(len);
        let bytes = object.read(start..stop)?;
        let fetched = bytes.len() as u64;
        let at = find_after_header(&bytes, n_refs, 0, end.saturating_sub(start));
        let settled = stop == len
            || match at {
                SplitStart::At { block, .. } => block + REMOTE_MARGIN <= fetched,
                SplitStart::Empty => fetched >= (end - start).saturating_add(REMOTE_MARGIN),
            };
        if settled {
            let at = match at {
                SplitStart::At { block, within } => SplitStart::At {
                    block: block + start,
                    within,
                },
                SplitStart::Empty => SplitStart::Empty,
            };
            return Ok((at, bytes));
        }
        want = want.saturating_mul(4);
    }
}
