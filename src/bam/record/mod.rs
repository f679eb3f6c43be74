//! One BAM record: validated once at the frame, then read field by field without checks.

pub(crate) mod aux;
pub(crate) mod tags;
pub(crate) mod tagtext;

use rawarrow_kernels::cigar;

use super::error::RecordError;

/// Flag bit: the read is unmapped.
pub(crate) const FLAG_UNMAPPED: u16 = 4;

/// A validated view of one record (the bytes after its `block_size`).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    data: &'a [u8],
    name_end: usize,
    /// The read name's length without its NUL (all `l_read_name` bytes when the NUL is missing).
    name_len: usize,
    cigar_end: usize,
    seq_end: usize,
    qual_end: usize,
    /// The CIGAR to report: the stored one, or the `CG:B,I` tag's when the stored one is the
    /// `kSmN` placeholder (SAM spec §4.2.2).
    cigar: &'a [u8],
    /// Aux range of the `CG` tag that supplied the CIGAR (left out of the tags).
    cg: Option<(usize, usize)>,
    spans: cigar::Summary,
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

impl<'a> Record<'a> {
    /// Validates `data` (a record without its `block_size` field) against a header with
    /// `n_refs` references: the checks htslib's `bam_read1` makes, plus every aux field.
    pub fn parse(data: &'a [u8], n_refs: usize) -> Result<Self, RecordError> {
        Self::parse_with(data, n_refs, true)
    }

    /// [`Record::parse`], leaving the aux fields unchecked unless `check_aux` (or the CIGAR is
    /// the `kSmN` placeholder, which needs the `CG` tag): for a caller that walks them with
    /// [`Record::tags_checked`] anyway. Until then the record is not fully validated.
    pub(crate) fn parse_with(
        data: &'a [u8],
        n_refs: usize,
        check_aux: bool,
    ) -> Result<Self, RecordError> {
        if data.len() < 32 {
            return Err(RecordError::BlockSizeTooSmall(data.len() as u32));
        }
        let l_read_name = usize::from(data[8]);
        if l_read_name == 0 {
            return Err(RecordError::EmptyReadName);
        }
        let n_cigar = usize::from(u16_at(data, 12));
        let l_seq = i32_at(data, 16);
        let l_seq =
            usize::try_from(l_seq).map_err(|_| RecordError::NegativeSequenceLength(l_seq))?;
        let needed = (l_read_name + 4 * n_cigar) as u64 + (l_seq as u64).div_ceil(2) + l_seq as u64;
        let available = (data.len() - 32) as u64;
        if needed > available {
            return Err(RecordError::FieldsOverrun { needed, available });
        }
        let name_end = 32 + l_read_name;
        // htslib patches a missing NUL (every `l_read_name` byte is then the name); the name's
        // encoding is not checked here (SAM text prints its bytes; the Arrow column checks UTF-8).
        let name_len = l_read_name - usize::from(data[name_end - 1] == 0);
        let in_range = |id: i32| id == -1 || (id >= 0 && (id as usize) < n_refs);
        let ref_id = i32_at(data, 0);
        if !in_range(ref_id) {
            return Err(RecordError::RefIdOutOfRange(ref_id));
        }
        let next_ref_id = i32_at(data, 20);
        if !in_range(next_ref_id) {
            return Err(RecordError::NextRefIdOutOfRange(next_ref_id));
        }
        let cigar_end = name_end + 4 * n_cigar;
        let seq_end = cigar_end + l_seq.div_ceil(2);
        let qual_end = seq_end + l_seq;
        let stored = &data[name_end..cigar_end];
        let placeholder = n_cigar == 2 && {
            let op0 = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
            let op1 = u32::from_le_bytes([stored[4], stored[5], stored[6], stored[7]]);
            op0 & 0xf == 4 && (op0 >> 4) as usize == l_seq && op1 & 0xf == 3
        };
        let cg = if check_aux || placeholder {
            aux::validate(&data[qual_end..])?
        } else {
            None
        };
        // Op codes 9–15 are kept as htslib keeps them (printed `B`/`?`, consuming nothing).
        let mut spans = cigar::spans(stored);
        let (mut cigar, mut cg_range) = (stored, None);
        // The kSmN placeholder: 2 ops, an S of the read's length, then an N.
        if let (Some(cg), true) = (cg, placeholder) {
            let real = &cg.value[5..];
            spans = cigar::spans(real);
            cigar = real;
            cg_range = Some((cg.start, cg.end));
        }
        let flag = u16_at(data, 14);
        if !cigar.is_empty()
            && l_seq > 0
            && flag & FLAG_UNMAPPED == 0
            && spans.query_len != l_seq as u64
        {
            return Err(RecordError::CigarSeqMismatch {
                cigar: spans.query_len,
                seq: l_seq as u64,
            });
        }
        Ok(Self {
            data,
            name_end,
            name_len,
            cigar_end,
            seq_end,
            qual_end,
            cigar,
            cg: cg_range,
            spans,
        })
    }

    /// `refID` (-1 when unmapped).
    pub(crate) fn ref_id(&self) -> i32 {
        i32_at(self.data, 0)
    }
    /// 0-based leftmost position (-1 when none).
    pub(crate) fn pos(&self) -> i32 {
        i32_at(self.data, 4)
    }
    /// Mapping quality (255: unavailable).
    pub fn mapq(&self) -> u8 {
        self.data[9]
    }
    /// FLAG.
    pub fn flag(&self) -> u16 {
        u16_at(self.data, 14)
    }
    /// `next_refID`.
    pub(crate) fn next_ref_id(&self) -> i32 {
        i32_at(self.data, 20)
    }
    /// 0-based mate position.
    pub(crate) fn next_pos(&self) -> i32 {
        i32_at(self.data, 24)
    }
    /// Template length.
    pub(crate) fn tlen(&self) -> i32 {
        i32_at(self.data, 28)
    }
    /// Read name without its NUL; not checked to be UTF-8 (htslib does not check it either).
    pub(crate) fn name(&self) -> &'a [u8] {
        &self.data[32..32 + self.name_len]
    }
    /// Whether the read name lacked its NUL (htslib then keeps all `l_read_name` bytes as the
    /// name, and so does this reader; readers count these records and warn).
    pub(crate) fn name_unterminated(&self) -> bool {
        self.name_len == self.name_end - 32
    }
    /// Raw little-endian CIGAR ops (the real ones when the `CG` tag held them).
    pub(crate) fn cigar_raw(&self) -> &'a [u8] {
        self.cigar
    }
    /// Reference and query spans of the CIGAR.
    pub(crate) fn spans(&self) -> cigar::Summary {
        self.spans
    }
    /// Number of bases.
    pub(crate) fn seq_len(&self) -> usize {
        self.qual_end - self.seq_end
    }
    /// Packed 4-bit sequence.
    pub(crate) fn seq_packed(&self) -> &'a [u8] {
        &self.data[self.cigar_end..self.seq_end]
    }
    /// Raw qualities (phred, `0xFF`-filled when absent).
    pub(crate) fn qual_raw(&self) -> &'a [u8] {
        &self.data[self.seq_end..self.qual_end]
    }
    /// The aux data.
    pub(crate) fn aux(&self) -> &'a [u8] {
        &self.data[self.qual_end..]
    }
    /// The aux fields to report (the `CG` tag that supplied the CIGAR left out).
    pub(crate) fn tags(&self) -> impl Iterator<Item = aux::Field<'a>> + 'a {
        let cg = self.cg;
        aux::fields(self.aux()).filter(move |f| Some((f.start, f.end)) != cg)
    }
    /// Byte range in the aux data of the `CG` tag that supplied the CIGAR (left out of the tags).
    pub(crate) fn cg_range(&self) -> Option<(usize, usize)> {
        self.cg
    }

    /// 1-based inclusive alignment end, when the read is mapped and has a CIGAR.
    pub(crate) fn end(&self) -> Option<i64> {
        let mapped = self.flag() & FLAG_UNMAPPED == 0 && self.pos() >= 0;
        (mapped && !self.cigar.is_empty())
            .then(|| i64::from(self.pos()) + self.spans.ref_len as i64)
    }

    /// The BAI bin `samtools index` files this record under: `reg2bin` (SAM spec 5.3; 14-bit
    /// bottom windows, 5 levels) of its 0-based span — `pos` up to the CIGAR's reference end for
    /// a mapped read, one base for an unmapped one, 4680 for a record without a reference.
    /// `None` when the span ends past 2²⁹, where BAI has no bins (a CSI index is needed).
    pub(crate) fn bai_bin(&self) -> Option<u16> {
        let (beg, end) = if self.ref_id() < 0 {
            (-1, 0)
        } else {
            let (beg, end) = self.index_span();
            (beg.max(0), end.max(1))
        };
        (end <= 1 << 29).then(|| crate::bam::index::bins::reg2bin(beg, end, 14, 5) as u16)
    }

    /// The 0-based span `[pos, end)` an index files the record under (`hts_idx_push`'s input):
    /// the CIGAR's reference length for a mapped read, one base when unmapped or without one.
    pub(crate) fn index_span(&self) -> (i64, i64) {
        let mapped = self.flag() & FLAG_UNMAPPED == 0;
        let len = if mapped { self.spans.ref_len as i64 } else { 0 };
        let beg = i64::from(self.pos());
        (beg, beg + len.max(1))
    }
}
