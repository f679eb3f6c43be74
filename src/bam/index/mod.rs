//! BAI and CSI indexes: reading them (for region queries) and building them byte for byte as
//! `samtools index` (htslib's `hts_idx_push`/`hts_idx_finish`) does.
//!
//! Both formats hold, per reference, a binning index (UCSC bins: bin → chunks of virtual
//! offsets) and a linear index (BAI: the first offset per 16 kb window; CSI: one offset per
//! bin). htslib keeps the bins in a `khash` table and writes them in its bucket order, so a
//! byte-identical file needs the same order: `build::BinTable` reproduces klib's open addressing
//! (quadratic probing, growth at 77 % load, in-place rehash) exactly.

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) mod bins;
mod build;
pub(crate) mod region;

use super::error::{Error, ErrorKind};
use crate::bam::index::bins::{bin_first, bin_parent, reg2bins};
use crate::io::Input;

/// Bins closer than this (in compressed bytes) are merged into their parent (htslib's
/// `HTS_MIN_MARKER_DIST`).
const MIN_MARKER_DIST: u64 = 0x10000;

/// Which index format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexFormat {
    /// `.bai`: 14-bit windows, 5 levels, a linear index; references up to 2²⁹ bases.
    Bai,
    /// `.csi`: `min_shift`-bit windows, as many levels as the longest reference needs.
    Csi {
        /// Bits of the smallest bin (samtools' `-m`, default 14).
        min_shift: u32,
    },
}

/// One bin of a reference: its number, its linear offset (CSI) and its chunks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bin {
    /// UCSC bin number (`depth`-level scheme), or the pseudo-bin holding the reference's
    /// statistics.
    pub(crate) bin: u32,
    /// CSI: the smallest virtual offset of a record overlapping the bin (BAI: 0).
    pub(crate) loffset: u64,
    /// `(begin, end)` virtual offsets.
    pub(crate) chunks: Vec<(u64, u64)>,
}

/// The index of one reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RefIndex {
    /// Bins in file order.
    pub(crate) bins: Vec<Bin>,
    /// BAI: the smallest virtual offset of a record overlapping each 16 kb window.
    pub(crate) linear: Vec<u64>,
}

/// A BAI or CSI index in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// The format (and so the bin geometry).
    pub(crate) format: IndexFormat,
    /// Levels below the root bin (BAI: 5).
    pub(crate) depth: u32,
    /// CSI auxiliary data (empty for BAM indexes).
    pub(crate) aux: Vec<u8>,
    /// Per reference, in header order.
    pub(crate) refs: Vec<RefIndex>,
    /// Records without a reference (`*`), when the file says.
    pub(crate) n_no_coor: Option<u64>,
}

impl IndexFormat {
    fn min_shift(self) -> u32 {
        match self {
            Self::Bai => 14,
            Self::Csi { min_shift } => min_shift,
        }
    }
}

impl Index {
    /// The pseudo-bin that holds a reference's offsets and mapped/unmapped counts.
    fn meta_bin(&self) -> u32 {
        bin_first(self.depth + 1) + 1
    }

    fn n_bins(&self) -> u32 {
        bin_first(self.depth + 1)
    }

    /// Parses a `.bai` or `.csi` file (CSI is BGZF-compressed).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::Error> {
        Self::parse_refs(bytes, &|_| true)
            .map_err(|m| crate::Error::new(crate::ErrorKind::Format, format!("index: {m}")))
    }

    /// [`Index::from_bytes`], keeping the bins of only the references `keep` accepts (the
    /// others are checked and skipped, and left empty): a region query on a large index
    /// allocates nothing for the references it does not touch.
    pub(crate) fn parse_refs(bytes: &[u8], keep: &dyn Fn(usize) -> bool) -> Result<Self, String> {
        if bytes.starts_with(b"BAI\x01") {
            return parse(bytes, false, keep);
        }
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let blocks = crate::bgzf::scan(bytes).map_err(|e| e.to_string())?;
            let mut raw = Vec::with_capacity(blocks.uncompressed_bytes() as usize);
            for b in &blocks.blocks {
                raw.extend(crate::bgzf::inflate_block(bytes, b).map_err(|e| e.to_string())?);
            }
            if raw.starts_with(b"CSI\x01") {
                return parse(&raw, true, keep);
            }
            return Err("not a CSI index (a BGZF file without the CSI magic)".into());
        }
        Err(format!(
            "not a BAI or CSI index (magic {:02x?})",
            &bytes[..bytes.len().min(4)]
        ))
    }

    /// Reads the index at `path`.
    pub fn open(path: &Path) -> Result<Self, crate::Error> {
        Self::open_refs(path, &|_| true).map_err(crate::Error::from)
    }

    /// Reads the index at `path`, keeping only the references `keep` accepts (see
    /// [`Index::parse_refs`]).
    pub(crate) fn open_refs(path: &Path, keep: &dyn Fn(usize) -> bool) -> Result<Self, Error> {
        let input = Input::open_whole(path, &[]).map_err(|e| Error::new(ErrorKind::Open(e)))?;
        Self::from_input(&input, keep)
    }

    /// Parses the index in `input` (its bytes: a local file mapped, a remote one fetched).
    pub(crate) fn from_input(input: &Input, keep: &dyn Fn(usize) -> bool) -> Result<Self, Error> {
        let path = input.path();
        let parsed = Self::parse_refs(input.bytes(), keep);
        // An index that shrank while it was parsed was read partly as zeros.
        input
            .check()
            .map_err(|cut| Error::from(crate::bgzf::Error::shrunk(&cut)))?;
        parsed.map_err(|m| Error::new(ErrorKind::Index(m)).with_path(path.into()))
    }

    /// The file's bytes: BAI as is (byte-identical to `samtools index`), CSI BGZF-compressed
    /// (its uncompressed content byte-identical to `samtools index -c`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let csi = matches!(self.format, IndexFormat::Csi { .. });
        let mut o = Vec::new();
        let i32le = |o: &mut Vec<u8>, v: i64| o.extend_from_slice(&(v as i32).to_le_bytes());
        if let IndexFormat::Csi { min_shift } = self.format {
            o.extend_from_slice(b"CSI\x01");
            i32le(&mut o, i64::from(min_shift));
            i32le(&mut o, i64::from(self.depth));
            i32le(&mut o, self.aux.len() as i64);
            o.extend_from_slice(&self.aux);
        } else {
            o.extend_from_slice(b"BAI\x01");
        }
        i32le(&mut o, self.refs.len() as i64);
        for r in &self.refs {
            i32le(&mut o, r.bins.len() as i64);
            for b in &r.bins {
                o.extend_from_slice(&b.bin.to_le_bytes());
                if csi {
                    o.extend_from_slice(&b.loffset.to_le_bytes());
                }
                i32le(&mut o, b.chunks.len() as i64);
                for &(u, v) in &b.chunks {
                    o.extend_from_slice(&u.to_le_bytes());
                    o.extend_from_slice(&v.to_le_bytes());
                }
            }
            if !csi {
                i32le(&mut o, r.linear.len() as i64);
                for v in &r.linear {
                    o.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        if let Some(n) = self.n_no_coor {
            o.extend_from_slice(&n.to_le_bytes());
        }
        if csi {
            // Level 7: what htslib (built with libdeflate, as samtools packages are) uses for
            // an index; the deflate bytes still depend on libdeflate's version, the content
            // does not.
            crate::bgzf::compress(&o, 7)
        } else {
            o
        }
    }

    /// The chunks that may hold records of reference `tid` overlapping the 0-based half-open
    /// `[beg, end)`, sorted and merged (htslib's `hts_itr_query`). Empty when the reference has
    /// no records.
    pub(crate) fn chunks(&self, tid: usize, beg: i64, end: i64) -> Vec<(u64, u64)> {
        let Some(r) = self.refs.get(tid) else {
            return Vec::new();
        };
        let min_shift = self.format.min_shift();
        let max = 1i64 << (min_shift + 3 * self.depth);
        let (beg, end) = (beg.clamp(0, max), end.clamp(0, max));
        if beg >= end {
            return Vec::new();
        }
        let min_off = match self.format {
            IndexFormat::Bai => r
                .linear
                .get((beg >> min_shift) as usize)
                .copied()
                .unwrap_or(0),
            IndexFormat::Csi { .. } => self.csi_min_offset(r, beg),
        };
        let wanted = reg2bins(beg, end, min_shift, self.depth);
        let mut chunks: Vec<(u64, u64)> = r
            .bins
            .iter()
            .filter(|b| b.bin < self.n_bins() && wanted(b.bin))
            .flat_map(|b| b.chunks.iter().copied())
            .filter(|&(_, v)| v > min_off)
            .collect();
        chunks.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(chunks.len());
        for (u, v) in chunks {
            match merged.last_mut() {
                Some(last) if u <= last.1 => last.1 = last.1.max(v),
                _ => merged.push((u.max(min_off), v)),
            }
        }
        merged
    }

    /// CSI: the linear offset of the bottom-level bin holding `beg`, or of the nearest bin to
    /// its left or above it that exists (htslib's rule).
    fn csi_min_offset(&self, r: &RefIndex, beg: i64) -> u64 {
        let find = |bin: u32| r.bins.iter().find(|b| b.bin == bin);
        let mut bin = bin_first(self.depth) + (beg >> self.format.min_shift()) as u32;
        loop {
            if let Some(b) = find(bin) {
                return b.loffset;
            }
            if bin == 0 {
                return 0;
            }
            let first = (bin_parent(bin) << 3) + 1;
            bin = if bin > first {
                bin - 1
            } else {
                bin_parent(bin)
            };
        }
    }

    /// Where records without a reference start: after every reference's records (the end
    /// offsets in the statistics bins), or 0 when the index does not say.
    pub(crate) fn no_coor_offset(&self) -> u64 {
        let meta = self.meta_bin();
        self.refs
            .iter()
            .flat_map(|r| r.bins.iter())
            .filter(|b| b.bin == meta)
            .filter_map(|b| b.chunks.first().map(|c| c.1))
            .max()
            .unwrap_or(0)
    }
}

fn index_error(path: &Arc<Path>, index: u64, message: String) -> Error {
    Error::new(ErrorKind::Index(format!("record {index}: {message}"))).with_path(path.clone())
}

fn parse(b: &[u8], csi: bool, keep: &dyn Fn(usize) -> bool) -> Result<Index, String> {
    let mut at = 4usize;
    let mut take = |n: usize, what: &str| -> Result<&[u8], String> {
        let s = b
            .get(at..at + n)
            .ok_or_else(|| format!("offset {at}: the index ends inside {what}"))?;
        at += n;
        Ok(s)
    };
    fn i32_of(s: &[u8]) -> i32 {
        i32::from_le_bytes(s.try_into().expect("4 bytes"))
    }
    fn u64_of(s: &[u8]) -> u64 {
        u64::from_le_bytes(s.try_into().expect("8 bytes"))
    }
    let count =
        |v: i32, what: &str| usize::try_from(v).map_err(|_| format!("negative {what} ({v})"));
    let (format, depth, aux) = if csi {
        let min_shift = i32_of(take(4, "min_shift")?);
        let depth = i32_of(take(4, "depth")?);
        if !(1..=30).contains(&min_shift) || !(0..=9).contains(&depth) {
            return Err(format!(
                "min_shift {min_shift} and depth {depth} are not a valid CSI geometry"
            ));
        }
        let l_aux = count(i32_of(take(4, "l_aux")?), "l_aux")?;
        let aux = take(l_aux, "the aux data")?.to_vec();
        (
            IndexFormat::Csi {
                min_shift: min_shift as u32,
            },
            depth as u32,
            aux,
        )
    } else {
        (IndexFormat::Bai, 5, Vec::new())
    };
    let n_ref = count(i32_of(take(4, "n_ref")?), "n_ref")?;
    let mut refs = Vec::with_capacity(n_ref.min(1 << 16));
    for r in 0..n_ref {
        let kept = keep(r);
        let n_bin = count(i32_of(take(4, "n_bin")?), "n_bin")?;
        let mut bins = Vec::with_capacity(if kept { n_bin.min(1 << 16) } else { 0 });
        for _ in 0..n_bin {
            let bin = u32::from_le_bytes(take(4, "a bin")?.try_into().expect("4 bytes"));
            let loffset = if csi { u64_of(take(8, "loffset")?) } else { 0 };
            let n_chunk = count(i32_of(take(4, "n_chunk")?), "n_chunk")?;
            let raw = take(16 * n_chunk, "the chunks")?;
            if kept {
                let chunks = raw
                    .chunks_exact(16)
                    .map(|c| (u64_of(&c[..8]), u64_of(&c[8..])))
                    .collect();
                bins.push(Bin {
                    bin,
                    loffset,
                    chunks,
                });
            }
        }
        let linear = if csi {
            Vec::new()
        } else {
            let n_intv = count(i32_of(take(4, "n_intv")?), "n_intv")?;
            let raw = take(8 * n_intv, "the linear index")?;
            if kept {
                raw.chunks_exact(8).map(u64_of).collect()
            } else {
                Vec::new()
            }
        };
        refs.push(RefIndex { bins, linear });
    }
    let n_no_coor = take(8, "n_no_coor").ok().map(u64_of);
    Ok(Index {
        format,
        depth,
        aux,
        refs,
        n_no_coor,
    })
}

/// The index files looked for beside `bam`, in order: `IN.bam.bai`, `IN.bai`, `IN.bam.csi`,
/// `IN.csi`.
pub(crate) fn index_candidates(bam: &Path) -> Vec<PathBuf> {
    let with = |ext: &str| {
        let mut s = bam.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    vec![
        with(".bai"),
        bam.with_extension("bai"),
        with(".csi"),
        bam.with_extension("csi"),
    ]
}
