//! The `spectra` table (ddaPASEF): per precursor, the peaks of its scan range in every one of
//! its MS2 frames summed per TOF index, optionally centroided, converted to m/z (see
//! [`Table::Spectra`](super::Table::Spectra)); one job of precursors per batch, on a worker.

use std::sync::Arc;

use arrow_array::{Float64Array, ListArray, RecordBatch};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, SchemaRef};

use super::blobs::{Bin, Fetch};
use super::calib::MzModel;
use super::frame::{FrameDecoder, MAX_PEAKS};
use super::meta::Metadata;
use super::tables::{frame_index, precursor_columns, Precursor};
use super::Error;

/// A worker's state for spectra: the frame decoder, one frame's peaks and the precursors'
/// collected peaks.
pub(crate) struct SpectrumWorker {
    dec: FrameDecoder,
    tof: Vec<u32>,
    intensity: Vec<u32>,
    /// Per precursor slot of the job, its selected peaks (TOF index, intensity).
    peaks: Vec<Vec<(u32, u32)>>,
    /// Summed intensity per TOF index of the precursor at hand (zero between precursors).
    sums: Vec<u64>,
    /// Which TOF indices `sums` holds, one bit each: read in order, they give the spectrum
    /// sorted by TOF index without a sort.
    seen: Vec<u64>,
    /// Which rows of the job's PASEF rows, sorted by frame.
    order: Vec<usize>,
}

impl SpectrumWorker {
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(Self {
            dec: FrameDecoder::new()?,
            tof: Vec::new(),
            intensity: Vec::new(),
            peaks: Vec::new(),
            sums: Vec::new(),
            seen: Vec::new(),
            order: Vec::new(),
        })
    }
}

/// A summed spectrum (TOF indices ascending), smoothed and centroided as timsrust does when
/// `centroid` is set.
pub(crate) fn finish_spectrum(tof: &mut Vec<u32>, intensity: &mut Vec<u64>, centroid: Option<u32>) {
    let Some(w) = centroid else { return };
    let n = tof.len();
    let mut smooth = intensity.clone();
    for i in 0..n {
        for j in i + 1..n {
            if tof[j] - tof[i] > w {
                break;
            }
            smooth[i] += intensity[j];
            smooth[j] += intensity[i];
        }
    }
    let mut keep = vec![true; n];
    for i in 0..n {
        for j in i + 1..n {
            if tof[j] - tof[i] > w {
                break;
            }
            if smooth[i] < smooth[j] {
                keep[i] = false;
            } else {
                keep[j] = false;
            }
        }
    }
    let mut k = 0;
    for i in 0..n {
        if keep[i] {
            tof[k] = tof[i];
            intensity[k] = smooth[i];
            k += 1;
        }
    }
    tof.truncate(k);
    intensity.truncate(k);
}

/// What spectra jobs read.
pub(crate) struct SpectraJob<'a> {
    pub(crate) meta: &'a Metadata,
    pub(crate) bin: &'a Bin,
    pub(crate) precursors: &'a [Precursor],
    /// m/z model per precursor (its first MS2 frame's).
    pub(crate) models: &'a [MzModel],
    pub(crate) centroid: Option<u32>,
    pub(crate) columns: &'a [usize],
    pub(crate) schema: &'a SchemaRef,
}

/// The spectra of precursors `job` (indices into `s.precursors`) as one batch. Each MS2 frame
/// they need is decoded once.
pub(crate) fn spectra_batch(
    s: &SpectraJob<'_>,
    w: &mut SpectrumWorker,
    (job, fetch): (std::ops::Range<usize>, Fetch),
) -> Result<RecordBatch, Error> {
    let ps = &s.precursors[job.clone()];
    // (slot, PASEF row) pairs by frame, so that each frame is decoded once.
    w.order.clear();
    for p in ps {
        w.order.extend(p.pasef.clone());
    }
    w.order
        .sort_by_key(|&i| (s.meta.pasef[i].frame, s.meta.pasef[i].precursor));
    if w.peaks.len() < ps.len() {
        w.peaks.resize_with(ps.len(), Vec::new);
    }
    w.peaks.iter_mut().for_each(Vec::clear);
    // The frames' blobs (for a remote run, as they arrive).
    let fetched = fetch.finish(s.bin)?;
    let mut decoded: Option<u32> = None;
    let mut offsets: Vec<usize> = Vec::new();
    for k in 0..w.order.len() {
        let row = s.meta.pasef[w.order[k]];
        let slot = ps.partition_point(|p| p.row.id < row.precursor) as u32;
        let fi = frame_index(s.meta, row.frame).expect("checked when the precursors were read");
        let f = &s.meta.frames[fi];
        if decoded != Some(f.id) {
            if f.num_peaks > MAX_PEAKS {
                return Err(Error::frame_data(
                    s.bin.path().to_path_buf(),
                    f.id,
                    f.tims_id,
                    format!("NumPeaks {} is implausible", f.num_peaks),
                ));
            }
            let m = f.num_peaks as usize;
            w.tof.resize(m, 0);
            w.intensity.resize(m, 0);
            w.dec
                .decode(fetched.window(f.tims_id), f, &mut w.tof, &mut w.intensity)
                .map_err(|(offset, message)| {
                    Error::frame_data(s.bin.path().to_path_buf(), f.id, offset, message)
                })?;
            offsets.clear();
            offsets.push(0);
            let mut at = 0usize;
            for &c in &w.dec.scan_peaks {
                at += c as usize;
                offsets.push(at);
            }
            decoded = Some(f.id);
        }
        // Scans past the frame's last are empty (a window may reach beyond NumScans).
        let last = offsets.len() - 1;
        let (b, e) = (
            (row.isolation.scan_begin as usize).min(last),
            (row.isolation.scan_end as usize).min(last),
        );
        if b < e {
            let r = offsets[b]..offsets[e];
            w.peaks[slot as usize].extend(
                w.tof[r.clone()]
                    .iter()
                    .zip(&w.intensity[r])
                    .map(|(&t, &i)| (t, i)),
            );
        }
    }
    let total: usize = w.peaks[..ps.len()].iter().map(Vec::len).sum();
    let mut mz_values: Vec<f64> = Vec::with_capacity(total);
    let mut int_values: Vec<f64> = Vec::with_capacity(total);
    let mut list_offsets: Vec<i32> = Vec::with_capacity(ps.len() + 1);
    list_offsets.push(0);
    let (mut tof, mut summed) = (Vec::new(), Vec::new());
    let SpectrumWorker {
        peaks, sums, seen, ..
    } = w;
    for (slot, peaks) in peaks[..ps.len()].iter().enumerate() {
        tof.clear();
        summed.clear();
        // Summed per TOF index in a dense array, the indices marked in a bitmap and read back
        // in order (TOF indices are below DigitizerNumSamples, ~400,000).
        let top = peaks.iter().map(|p| p.0 as usize + 1).max().unwrap_or(0);
        if sums.len() < top {
            sums.resize(top, 0);
            seen.resize(top.div_ceil(64), 0);
        }
        for &(t, i) in peaks {
            sums[t as usize] += u64::from(i);
            seen[t as usize / 64] |= 1 << (t % 64);
        }
        for (k, word) in seen[..top.div_ceil(64)].iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let t = k * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                tof.push(t as u32);
                summed.push(std::mem::take(&mut sums[t]));
            }
        }
        finish_spectrum(&mut tof, &mut summed, s.centroid);
        let start = mz_values.len();
        mz_values.resize(start + tof.len(), 0.0);
        s.models[job.start + slot].convert(&tof, &mut mz_values[start..]);
        int_values.extend(summed.iter().map(|&v| v as f64));
        let end = i32::try_from(mz_values.len()).map_err(|_| {
            Error::frame_data(
                s.bin.path().to_path_buf(),
                ps[slot].row.parent,
                0,
                "more than 2^31 spectrum peaks in one batch",
            )
        })?;
        list_offsets.push(end);
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(list_offsets));
    let item = Arc::new(Field::new_list_field(DataType::Float64, false));
    let mz = ListArray::new(
        item.clone(),
        offsets.clone(),
        Arc::new(Float64Array::from(mz_values)),
        None,
    );
    let intensity = ListArray::new(
        item,
        offsets,
        Arc::new(Float64Array::from(int_values)),
        None,
    );
    let mut all = precursor_columns(s.meta, ps);
    all.push(Arc::new(mz));
    all.push(Arc::new(intensity));
    let columns = s.columns.iter().map(|&c| all[c].clone()).collect();
    Ok(RecordBatch::try_new_with_options(
        s.schema.clone(),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(ps.len())),
    )
    .expect("columns match the schema"))
}
