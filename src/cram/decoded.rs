//! What a decoded CRAM record is, and what decodes one: the reference view, the record and
//! its slice's buffers, the CRAM and BAM flag bits, the decoder's parts.

use super::compression::CompressionHeader;
use super::container::SliceHeader;
use super::error::Cause;
use super::series::Series;
use super::Context;

/// The reference bases a slice's records are read against: `bases[i]` is 0-based position
/// `lo + i`; htslib's slice extent ends (exclusive) at `end`; `len` is the sequence's length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefView<'a> {
    pub(crate) bases: &'a [u8],
    pub(crate) lo: i64,
    pub(crate) end: i64,
    pub(crate) len: i64,
}

impl RefView<'_> {
    #[inline]
    pub(crate) fn at(&self, pos: i64) -> Result<u8, Cause> {
        usize::try_from(pos - self.lo)
            .ok()
            .and_then(|i| self.bases.get(i).copied())
            .ok_or_else(beyond)
    }

    pub(crate) fn range(&self, pos: i64, n: i64) -> Result<&[u8], Cause> {
        let a = usize::try_from(pos - self.lo).map_err(|_| beyond())?;
        let n = usize::try_from(n).map_err(|_| beyond())?;
        self.bases.get(a..a + n).ok_or_else(beyond)
    }
}

pub(crate) fn beyond() -> Cause {
    Cause::Record("a record's alignment extends beyond the slice's reference extent".into())
}

pub(crate) fn bad(what: &str) -> Cause {
    Cause::Record(what.to_string())
}

/// A decoded record, its variable-length parts in the slice's [`Buffers`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Rec {
    pub(crate) flags: u32,
    pub(crate) ref_id: i32,
    pub(crate) len: usize,
    /// 1-based position and alignment end (inclusive).
    pub(crate) apos: i64,
    pub(crate) aend: i64,
    pub(crate) rg: i32,
    pub(crate) name: (usize, usize),
    pub(crate) mate_flags: i32,
    pub(crate) mate_ref: i32,
    pub(crate) mate_pos: i64,
    pub(crate) tlen: i64,
    pub(crate) mate_line: i64,
    /// A template length stored for a record whose mate is in the slice (CF 0x10), which
    /// replaces the computed one.
    pub(crate) explicit_tlen: i64,
    pub(crate) mapq: u8,
    pub(crate) seq: usize,
    pub(crate) qual: usize,
    pub(crate) cigar: (usize, usize),
    pub(crate) aux: (usize, usize),
}

/// The slice's names, bases, qualities, CIGAR operations and aux bytes.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub(crate) names: Vec<u8>,
    pub(crate) seq: Vec<u8>,
    pub(crate) qual: Vec<u8>,
    pub(crate) cigar: Vec<u32>,
    pub(crate) aux: Vec<u8>,
    pub(crate) scratch: Vec<u8>,
}

pub(crate) const UNSET: i64 = i64::MIN;
pub(crate) const BAM_FPAIRED: u32 = 0x1;
pub(crate) const BAM_FUNMAP: u32 = 0x4;
pub(crate) const BAM_FMUNMAP: u32 = 0x8;
pub(crate) const BAM_FREVERSE: u32 = 0x10;
pub(crate) const BAM_FMREVERSE: u32 = 0x20;
pub(crate) const BAM_FREAD1: u32 = 0x40;
pub(crate) const CF_QUAL: u32 = 0x1;
pub(crate) const CF_DETACHED: u32 = 0x2;
pub(crate) const CF_DOWNSTREAM: u32 = 0x4;
pub(crate) const CF_NO_SEQ: u32 = 0x8;
pub(crate) const CF_EXPLICIT_TLEN: u32 = 0x10;

pub(crate) const M: u32 = 0;
pub(crate) const I: u32 = 1;
pub(crate) const D: u32 = 2;
pub(crate) const N: u32 = 3;
pub(crate) const S: u32 = 4;
pub(crate) const H: u32 = 5;
pub(crate) const P: u32 = 6;

/// What decodes a slice's records.
pub(crate) struct Decoder<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) comp: &'a CompressionHeader,
    pub(crate) series: &'a Series,
    pub(crate) slice: &'a SliceHeader,
    pub(crate) reference: Option<RefView<'a>>,
    /// For a multi-reference slice whose bases need the reference: each sequence read whole
    /// from the reference file when a record first needs it (as htslib does).
    pub(crate) multi:
        Option<std::cell::RefCell<std::collections::HashMap<i32, std::sync::Arc<Vec<u8>>>>>,
}

/// Appends `v` in decimal.
pub(crate) fn push_uint(out: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}
