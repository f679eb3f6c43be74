//! Building an index as `samtools index` does (htslib's `hts_idx_push`/`hts_idx_finish`):
//! records are pushed in file order, bins collect their chunks, and [`BinTable`] keeps the bins
//! in klib's `khash` bucket order so the file comes out byte for byte the same.

use std::sync::Arc;

use super::bins::{bin_bot, bin_first, bin_parent, reg2bin};
use super::{index_error, Bin, Index, IndexFormat, RefIndex, MIN_MARKER_DIST};
use crate::bam::error::Error;
use crate::bam::frame::Records;
use crate::bgzf::{Options, VirtualPosition};
use crate::io::Input;

/// Builds the index of a coordinate-sorted BAM, as `samtools index` (`format` Bai) or
/// `samtools index -c` (Csi) builds it: the same bytes from [`Index::to_bytes`]. Inflating
/// runs on `opts`' threads; records are checked as they are read.
pub(super) fn build(input: Arc<Input>, format: IndexFormat, opts: Options) -> Result<Index, Error> {
    let mut records = Records::new_marked(input, opts, None)?;
    let path = records.path();
    let header = records.header().clone();
    let min_shift = format.min_shift();
    let depth = match format {
        IndexFormat::Bai => 5,
        IndexFormat::Csi { .. } => {
            let longest = header.references.iter().map(|r| i64::from(r.len)).max();
            let max_len = longest.unwrap_or(0) + 256;
            let mut depth = 0;
            let mut s = 1i64 << min_shift;
            while max_len > s {
                depth += 1;
                s <<= 3;
            }
            depth
        }
    };
    let mut b = Builder::new(
        header.references.len(),
        format,
        depth,
        records.header_end().into(),
    );
    // A record's entry needs the offset after it: the start of the next one.
    let mut prev: Option<(Entry, u64)> = None;
    loop {
        let more = records.next_chunk_with(false, |r, at| {
            if let Some((e, index)) = prev.take() {
                b.push(e, at.voffset.into())
                    .map_err(|m| index_error(&path, index, m))?;
            }
            let (beg, end) = r.index_span();
            prev = Some((
                Entry {
                    tid: r.ref_id(),
                    beg,
                    end,
                    mapped: r.flag() & 4 == 0,
                },
                at.index,
            ));
            Ok(true)
        })?;
        // Virtual offsets address BGZF blocks: plain gzip members have none.
        if let Some(at) = records.plain_gzip_member() {
            let e = crate::bgzf::Error::new(at, crate::bgzf::ErrorKind::NotBgzf);
            return Err(Error::from(e).with_path(path));
        }
        if !more {
            break;
        }
    }
    let end = u64::from(records.end_voffset());
    if let Some((e, index)) = prev {
        b.push(e, end).map_err(|m| index_error(&path, index, m))?;
    }
    Ok(b.finish(end))
}

/// klib's `khash` map from bin numbers to values, with its exact bucket layout.
struct BinTable<V> {
    keys: Vec<u32>,
    vals: Vec<V>,
    /// Per bucket: bit 1 = empty, bit 0 = deleted (klib's two flag bits).
    flags: Vec<u8>,
    size: usize,
    occupied: usize,
    upper: usize,
}

const EMPTY: u8 = 2;
const DELETED: u8 = 1;

impl<V: Default> BinTable<V> {
    fn new() -> Self {
        Self {
            keys: Vec::new(),
            vals: Vec::new(),
            flags: Vec::new(),
            size: 0,
            occupied: 0,
            upper: 0,
        }
    }

    fn buckets(&self) -> usize {
        self.keys.len()
    }

    fn resize(&mut self, wanted: usize) {
        let n = wanted.next_power_of_two().max(4);
        if self.size >= (n as f64 * 0.77 + 0.5) as usize {
            return;
        }
        let old = self.buckets();
        let mut new_flags = vec![EMPTY; n];
        if old < n {
            self.keys.resize(n, 0);
            self.vals.resize_with(n, V::default);
        }
        let mask = n - 1;
        for j in 0..old {
            if self.flags[j] & (EMPTY | DELETED) != 0 {
                continue;
            }
            let mut key = self.keys[j];
            let mut val = std::mem::take(&mut self.vals[j]);
            self.flags[j] |= DELETED;
            loop {
                let mut i = key as usize & mask;
                let mut step = 0;
                while new_flags[i] & EMPTY == 0 {
                    step += 1;
                    i = (i + step) & mask;
                }
                new_flags[i] &= !EMPTY;
                if i < old && self.flags[i] & (EMPTY | DELETED) == 0 {
                    // Kick out the element there and place it next.
                    std::mem::swap(&mut key, &mut self.keys[i]);
                    std::mem::swap(&mut val, &mut self.vals[i]);
                    self.flags[i] |= DELETED;
                } else {
                    self.keys[i] = key;
                    self.vals[i] = val;
                    break;
                }
            }
        }
        if old > n {
            self.keys.truncate(n);
            self.vals.truncate(n);
        }
        self.flags = new_flags;
        self.occupied = self.size;
        self.upper = (n as f64 * 0.77 + 0.5) as usize;
    }

    /// The bucket of `key`, inserting it when absent (`kh_put`).
    fn put(&mut self, key: u32) -> usize {
        if self.occupied >= self.upper {
            if self.buckets() > self.size << 1 {
                self.resize(self.buckets() - 1);
            } else {
                self.resize(self.buckets() + 1);
            }
        }
        let n = self.buckets();
        let mask = n - 1;
        let mut i = key as usize & mask;
        let x;
        if self.flags[i] & EMPTY != 0 {
            x = i;
        } else {
            let (last, mut site, mut step) = (i, n, 0);
            let mut found = None;
            while self.flags[i] & EMPTY == 0
                && (self.flags[i] & DELETED != 0 || self.keys[i] != key)
            {
                if self.flags[i] & DELETED != 0 {
                    site = i;
                }
                step += 1;
                i = (i + step) & mask;
                if i == last {
                    found = Some(site);
                    break;
                }
            }
            x = found.unwrap_or(if self.flags[i] & EMPTY != 0 && site != n {
                site
            } else {
                i
            });
        }
        if self.flags[x] & EMPTY != 0 {
            self.keys[x] = key;
            self.flags[x] = 0;
            self.size += 1;
            self.occupied += 1;
        } else if self.flags[x] & DELETED != 0 {
            self.keys[x] = key;
            self.flags[x] = 0;
            self.size += 1;
        }
        x
    }

    /// The bucket of `key` (`kh_get`).
    fn get(&self, key: u32) -> Option<usize> {
        let n = self.buckets();
        if n == 0 {
            return None;
        }
        let mask = n - 1;
        let (mut i, mut step) = (key as usize & mask, 0);
        let last = i;
        while self.flags[i] & EMPTY == 0 && (self.flags[i] & DELETED != 0 || self.keys[i] != key) {
            step += 1;
            i = (i + step) & mask;
            if i == last {
                return None;
            }
        }
        (self.flags[i] & (EMPTY | DELETED) == 0).then_some(i)
    }

    fn delete(&mut self, x: usize) {
        if self.flags[x] & (EMPTY | DELETED) == 0 {
            self.flags[x] |= DELETED;
            self.size -= 1;
        }
    }

    /// Live buckets in bucket order (`kh_begin`..`kh_end`).
    fn live(&self) -> Vec<usize> {
        (0..self.buckets())
            .filter(|&i| self.flags[i] & (EMPTY | DELETED) == 0)
            .collect()
    }
}

#[derive(Default)]
struct Bins {
    loff: u64,
    list: Vec<(u64, u64)>,
}

struct Entry {
    tid: i32,
    beg: i64,
    end: i64,
    mapped: bool,
}

/// htslib's index state while records are pushed (`hts_idx_t.z`).
struct Builder {
    format: IndexFormat,
    min_shift: u32,
    depth: u32,
    n_bins: u32,
    bidx: Vec<Option<BinTable<Bins>>>,
    lidx: Vec<Vec<u64>>,
    n_no_coor: u64,
    last_bin: u32,
    save_bin: u32,
    last_coor: i64,
    last_tid: i32,
    save_tid: i32,
    last_off: u64,
    save_off: u64,
    off_beg: u64,
    n_mapped: u64,
    n_unmapped: u64,
}

const NONE: u32 = u32::MAX;

impl Builder {
    fn new(n_refs: usize, format: IndexFormat, depth: u32, offset0: u64) -> Self {
        Self {
            format,
            min_shift: format.min_shift(),
            depth,
            n_bins: bin_first(depth + 1),
            bidx: (0..n_refs).map(|_| None).collect(),
            lidx: vec![Vec::new(); n_refs],
            n_no_coor: 0,
            last_bin: NONE,
            save_bin: NONE,
            last_coor: i64::from(u32::MAX),
            last_tid: -1,
            save_tid: -1,
            last_off: offset0,
            save_off: offset0,
            off_beg: offset0,
            n_mapped: 0,
            n_unmapped: 0,
        }
    }

    fn meta_bin(&self) -> u32 {
        self.n_bins + 1
    }

    fn insert(&mut self, tid: i32, bin: u32, beg: u64, end: u64) {
        let table = self.bidx[tid as usize].get_or_insert_with(BinTable::new);
        let x = table.put(bin);
        table.vals[x].list.push((beg, end));
    }

    /// One record (`hts_idx_push`): `offset` is the virtual offset just after it.
    fn push(&mut self, e: Entry, offset: u64) -> Result<(), String> {
        let (tid, mut beg, mut end) = (e.tid, e.beg, e.end);
        if tid < 0 {
            (beg, end) = (-1, 0);
        }
        let maxpos = 1i64 << (self.min_shift + 3 * self.depth);
        if tid >= 0 && (beg > maxpos || end > maxpos) {
            return Err(format!(
                "region {beg}..{end} cannot be stored in a {} index{}",
                if self.format == IndexFormat::Bai {
                    "BAI"
                } else {
                    "CSI"
                },
                if self.format == IndexFormat::Bai {
                    " (try --csi)"
                } else {
                    ""
                }
            ));
        }
        if self.last_tid != tid || (self.last_tid >= 0 && tid < 0) {
            if tid >= 0 && self.n_no_coor > 0 {
                return Err("records without a reference are not all at the end (is the file coordinate-sorted?)".into());
            }
            if tid >= 0 && self.bidx[tid as usize].is_some() {
                return Err(format!(
                    "the records of reference {tid} are not together: the file is not coordinate-sorted"
                ));
            }
            self.last_tid = tid;
            self.last_bin = NONE;
        } else if tid >= 0 && self.last_coor > beg {
            return Err(format!(
                "position {} follows {} on reference {tid}: the file is not coordinate-sorted",
                beg + 1,
                self.last_coor + 1
            ));
        }
        if end < beg {
            return Err(format!("end {end} before begin {}", beg + 1));
        }
        if tid >= 0 {
            self.bidx[tid as usize].get_or_insert_with(BinTable::new);
            beg = beg.max(0);
            end = end.max(1);
            let l = &mut self.lidx[tid as usize];
            let (first, last) = (
                (beg >> self.min_shift) as usize,
                ((end - 1) >> self.min_shift) as usize,
            );
            if l.len() < last + 1 {
                l.resize(last + 1, u64::MAX);
            }
            for slot in &mut l[first..=last] {
                if *slot == u64::MAX {
                    *slot = self.last_off;
                }
            }
        } else {
            self.n_no_coor += 1;
        }
        let bin = reg2bin(beg, end, self.min_shift, self.depth);
        if self.last_bin != bin {
            if self.save_bin != NONE {
                self.insert(self.save_tid, self.save_bin, self.save_off, self.last_off);
            }
            if self.last_bin == NONE && self.save_bin != NONE {
                let meta = self.meta_bin();
                self.insert(self.save_tid, meta, self.off_beg, self.last_off);
                self.insert(self.save_tid, meta, self.n_mapped, self.n_unmapped);
                self.n_mapped = 0;
                self.n_unmapped = 0;
                self.off_beg = self.last_off;
            }
            self.save_off = self.last_off;
            self.save_bin = bin;
            self.last_bin = bin;
            self.save_tid = tid;
        }
        if e.mapped {
            self.n_mapped += 1;
        } else {
            self.n_unmapped += 1;
        }
        self.last_off = offset;
        self.last_coor = beg;
        Ok(())
    }

    /// `hts_idx_finish`, then the tables in htslib's write order.
    fn finish(mut self, final_offset: u64) -> Index {
        if self.save_tid >= 0 {
            let meta = self.meta_bin();
            self.insert(self.save_tid, self.save_bin, self.save_off, final_offset);
            self.insert(self.save_tid, meta, self.off_beg, final_offset);
            self.insert(self.save_tid, meta, self.n_mapped, self.n_unmapped);
        }
        let csi = matches!(self.format, IndexFormat::Csi { .. });
        let mut refs = Vec::with_capacity(self.bidx.len());
        for (table, mut linear) in self.bidx.into_iter().zip(self.lidx) {
            // update_loff: a missing window takes the next window's offset.
            for l in (0..linear.len().saturating_sub(1)).rev() {
                if linear[l] == u64::MAX {
                    linear[l] = linear[l + 1];
                }
            }
            let Some(mut t) = table else {
                refs.push(RefIndex {
                    bins: Vec::new(),
                    linear: if csi { Vec::new() } else { linear },
                });
                continue;
            };
            for x in t.live() {
                let key = t.keys[x];
                t.vals[x].loff = if key < self.n_bins {
                    let bot = bin_bot(key, self.depth) as usize;
                    linear.get(bot).copied().unwrap_or(0)
                } else {
                    0
                };
            }
            compress_binning(&mut t, self.n_bins, self.depth);
            let bins = t
                .live()
                .into_iter()
                .map(|x| Bin {
                    bin: t.keys[x],
                    loffset: t.vals[x].loff,
                    chunks: std::mem::take(&mut t.vals[x].list),
                })
                .collect();
            refs.push(RefIndex {
                bins,
                linear: if csi { Vec::new() } else { linear },
            });
        }
        Index {
            format: self.format,
            depth: self.depth,
            aux: Vec::new(),
            refs,
            n_no_coor: Some(self.n_no_coor),
        }
    }
}

/// The compressed offset of the block a packed virtual position is in (the lists hold
/// htslib's packed values: positions, and in the pseudo-bin, record counts).
fn block(packed: u64) -> u64 {
    VirtualPosition::from(packed).compressed()
}

/// htslib's `compress_binning`: small bins merge into their parents, then chunks that start in
/// the block where the previous one ends are merged.
fn compress_binning(t: &mut BinTable<Bins>, n_bins: u32, depth: u32) {
    for level in (1..=depth).rev() {
        let start = bin_first(level);
        for k in 0..t.buckets() {
            if t.flags[k] & (EMPTY | DELETED) != 0 {
                continue;
            }
            let key = t.keys[k];
            if key >= n_bins || key < start {
                continue;
            }
            if level < depth && t.vals[k].list.len() > 1 {
                t.vals[k].list.sort_by_key(|c| c.0);
            }
            let list = &t.vals[k].list;
            let span = block(list[list.len() - 1].1) - block(list[0].0);
            if span < MIN_MARKER_DIST {
                let Some(kp) = t.get(bin_parent(key)) else {
                    continue;
                };
                let moved = std::mem::take(&mut t.vals[k].list);
                t.vals[kp].list.extend(moved);
                t.delete(k);
            }
        }
    }
    if let Some(k) = t.get(0) {
        t.vals[k].list.sort_by_key(|c| c.0);
    }
    for k in t.live() {
        if t.keys[k] >= n_bins {
            continue;
        }
        let list = &mut t.vals[k].list;
        let mut m = 0;
        for l in 1..list.len() {
            if block(list[m].1) >= block(list[l].0) {
                list[m].1 = list[m].1.max(list[l].1);
            } else {
                m += 1;
                list[m] = list[l];
            }
        }
        list.truncate(m + 1);
    }
}

impl Index {
    /// Builds the index of a coordinate-sorted BAM, as `samtools index` (`format` Bai) or
    /// `samtools index -c` (Csi) builds it: the same bytes from [`Index::to_bytes`]. Inflating
    /// runs on `opts`' threads; records are checked as they are read.
    pub fn build(
        input: impl Into<Arc<Input>>,
        format: IndexFormat,
        opts: Options,
    ) -> Result<Self, crate::Error> {
        build(input.into(), format, opts).map_err(crate::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_table_keeps_every_key_through_growth_and_deletes() {
        let mut t: BinTable<Bins> = BinTable::new();
        let keys: Vec<u32> = (0..500).map(|i| (i * 7919) % 37449).collect();
        for &k in &keys {
            let x = t.put(k);
            t.vals[x].list.push((u64::from(k), 0));
            // Putting a present key may grow the table (klib checks the load first), but
            // finds the key with its value.
            let y = t.put(k);
            assert_eq!((t.keys[y], t.vals[y].list.len()), (k, 1));
        }
        for &k in &keys {
            let x = t.get(k).expect("present");
            assert_eq!(t.vals[x].list[0].0, u64::from(k));
        }
        for &k in keys.iter().step_by(3) {
            let x = t.get(k).expect("present");
            t.delete(x);
        }
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(t.get(k).is_some(), i % 3 != 0);
        }
        assert_eq!(t.live().len(), keys.len() - keys.len().div_ceil(3));
    }
}
