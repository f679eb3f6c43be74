//! The peaks table: the frames of one job decoded on a worker into one arena-backed batch
//! (schema in docs/SCHEMAS.md), and the state the workers share.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::{
    ArrayRef, Float64Array, RecordBatch, RecordBatchOptions, UInt32Array, UInt8Array,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::calib::{ImModel, MzModel};
use super::frame::FrameDecoder;
use super::meta::{FrameRow, Metadata, Window};
use super::slice::{slice_frame, Slice};
use super::tables::{Precursor, SpectrumWorker};
use super::Error;
use crate::arrow::arena::{ArenaPool, ArenaSize};
use crate::io::Input;
use rawarrow_kernels::runs;

/// Column names in schema order.
pub const COLUMNS: &[&str] = &[
    "frame",
    "scan",
    "tof",
    "intensity",
    "mz",
    "mobility",
    "rt",
    "ms_level",
    "window_group",
    "isolation_mz",
    "isolation_width",
    "precursor",
];

const FRAME: usize = 0;
const SCAN: usize = 1;
const TOF: usize = 2;
const INTENSITY: usize = 3;
const MZ: usize = 4;
const MOBILITY: usize = 5;
const RT: usize = 6;
const MS_LEVEL: usize = 7;
const WINDOW_GROUP: usize = 8;
const ISOLATION_MZ: usize = 9;
const ISOLATION_WIDTH: usize = 10;
const PRECURSOR: usize = 11;

/// The full schema of the peaks table (docs/SCHEMAS.md).
pub fn schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let types = [
            DataType::UInt32,
            DataType::UInt32,
            DataType::UInt32,
            DataType::UInt32,
            DataType::Float64,
            DataType::Float64,
            DataType::Float64,
            DataType::UInt8,
            DataType::UInt32,
            DataType::Float64,
            DataType::Float64,
            DataType::UInt32,
        ];
        let fields: Vec<Field> = COLUMNS
            .iter()
            .zip(types)
            .enumerate()
            .map(|(i, (n, t))| Field::new(*n, t, i >= WINDOW_GROUP))
            .collect();
        Arc::new(Schema::new(fields))
    })
    .clone()
}

/// MS level of a frame's `MsMsType`: 1, 2, or 0 when unknown.
pub(super) fn level_of(t: u8) -> u8 {
    match t {
        0 => 1,
        2 | 8 | 9 | 10 => 2,
        _ => 0,
    }
}

pub(super) struct Shared {
    pub(super) bin: Input,
    pub(super) bin_path: PathBuf,
    pub(super) frames: Vec<FrameRow>,
    pub(super) models: Vec<(MzModel, ImModel)>,
    pub(super) windows: HashMap<u32, Vec<Window>>,
    pub(super) dda: bool,
    pub(super) want: [bool; 12],
    pub(super) columns: Vec<usize>,
    pub(super) schema: SchemaRef,
    /// Recycled batch memory (jobs in flight, the batch being consumed, one spare).
    pub(super) arenas: ArenaPool,
    /// DigitizerNumSamples: every TOF index is below it.
    pub(super) samples: Option<u32>,
    /// The mobility and m/z slices of the peaks table (rt is applied to the frame list).
    pub(super) slice: Slice,
    /// Frames decompressed so far.
    pub(super) decoded: AtomicU64,
    /// What the spectra table's jobs read.
    pub(super) spectra: Option<SpectraState>,
}

pub(super) struct SpectraState {
    pub(super) meta: Metadata,
    pub(super) precursors: Vec<Precursor>,
    /// m/z model per precursor.
    pub(super) models: Vec<MzModel>,
    pub(super) centroid: Option<u32>,
}

/// A worker's reusable state: the frame decoder and per-scan values of the frame at hand.
pub(super) struct Worker {
    pub(super) dec: FrameDecoder,
    /// 0, 1, 2, … (the `scan` column's value per scan).
    pub(super) scan_ids: Vec<u32>,
    pub(super) per_scan_im: Vec<f64>,
    /// Window group (or precursor), isolation m/z and width per scan (zeros outside windows).
    pub(super) per_scan_window: (Vec<u32>, Vec<f64>, Vec<f64>),
    pub(super) spectra: SpectrumWorker,
}

impl Worker {
    pub(super) fn new() -> Self {
        Self {
            dec: FrameDecoder::new().expect("zstd context"),
            scan_ids: Vec::new(),
            per_scan_im: Vec::new(),
            per_scan_window: Default::default(),
            spectra: SpectrumWorker::new().expect("zstd context"),
        }
    }
}

/// Decodes the frames of one job into a batch.
pub(super) fn build_batch(
    s: &Shared,
    worker: &mut Worker,
    job: Range<usize>,
    level_of: impl Fn(u8) -> u8,
) -> Result<RecordBatch, Error> {
    let frames = &s.frames[job.clone()];
    let n: usize = frames.iter().map(|f| f.num_peaks as usize).sum();
    let w = &s.want;
    let windows_wanted = w[WINDOW_GROUP] || w[ISOLATION_MZ] || w[ISOLATION_WIDTH] || w[PRECURSOR];
    let need = |c: usize| if w[c] { n } else { 0 };
    let mut size = ArenaSize::default();
    size.add::<u32>(need(FRAME))
        .add::<u32>(need(SCAN))
        .add::<u32>(n)
        .add::<u32>(n)
        .add::<f64>(need(MZ))
        .add::<f64>(need(MOBILITY))
        .add::<f64>(need(RT))
        .add::<u8>(need(MS_LEVEL))
        .add::<u32>(need(WINDOW_GROUP))
        .add::<f64>(need(ISOLATION_MZ))
        .add::<f64>(need(ISOLATION_WIDTH))
        .add::<u32>(need(PRECURSOR));
    let mut arena = s.arenas.arena(size);
    let mut frame_c = arena.take::<u32>(need(FRAME));
    let mut scan_c = arena.take::<u32>(need(SCAN));
    let mut tof_c = arena.take::<u32>(n);
    let mut int_c = arena.take::<u32>(n);
    let mut mz_c = arena.take::<f64>(need(MZ));
    let mut im_c = arena.take::<f64>(need(MOBILITY));
    let mut rt_c = arena.take::<f64>(need(RT));
    let mut lvl_c = arena.take::<u8>(need(MS_LEVEL));
    let mut wg_c = arena.take::<u32>(need(WINDOW_GROUP));
    let mut imz_c = arena.take::<f64>(need(ISOLATION_MZ));
    let mut iw_c = arena.take::<f64>(need(ISOLATION_WIDTH));
    let mut pre_c = arena.take::<u32>(need(PRECURSOR));
    // The column that does not apply to this acquisition is all null (and all zero).
    if s.dda {
        wg_c.zeroed();
    } else {
        pre_c.zeroed();
    }
    let mut valid = BooleanBufferBuilder::new(if windows_wanted { n } else { 0 });
    let Worker {
        dec,
        scan_ids,
        per_scan_im,
        per_scan_window,
        ..
    } = worker;
    let mut at = 0;
    // The blobs of this job, released together once decoded (contiguous ones in one call).
    let mut blobs: Option<Range<usize>> = None;
    for (k, f) in frames.iter().enumerate() {
        let mut m = f.num_peaks as usize;
        let mut r = at..at + m;
        let blob = dec
            .decode(
                s.bin.bytes(),
                f,
                &mut tof_c.as_mut_slice()[r.clone()],
                &mut int_c.as_mut_slice()[r.clone()],
            )
            .map_err(|(offset, message)| {
                Error::frame_data(s.bin_path.clone(), f.id, offset, message)
            })?;
        if let Some(n) = s.samples {
            // A damaged blob (zstd has no checksum here) can decode to impossible indices.
            let tof = &tof_c.as_mut_slice()[r.clone()];
            if tof.iter().copied().max().is_some_and(|m| m >= n) {
                let (i, t) = tof
                    .iter()
                    .enumerate()
                    .find(|(_, &t)| t >= n)
                    .expect("max >= n");
                return Err(Error::frame_data(
                    s.bin_path.clone(),
                    f.id,
                    f.tims_id,
                    format!(
                        "peak {i}: TOF index {t} is beyond the digitizer's {n} samples \
                         (DigitizerNumSamples)"
                    ),
                ));
            }
        }
        let start = f.tims_id as usize;
        match &mut blobs {
            Some(b) if b.end == start => b.end = start + blob,
            _ => {
                if let Some(b) = blobs.replace(start..start + blob) {
                    s.bin.release(b);
                }
            }
        }
        s.decoded.fetch_add(1, Ordering::Relaxed);
        let (mz, im) = &s.models[job.start + k];
        if s.slice.any() {
            m = slice_frame(
                &s.slice,
                mz,
                im,
                s.samples,
                &mut dec.scan_peaks,
                &mut tof_c.as_mut_slice()[r.clone()],
                &mut int_c.as_mut_slice()[r.clone()],
            );
            r = at..at + m;
        }
        // Per-frame values are filled, per-scan values expanded over the scans' peaks.
        if w[FRAME] {
            runs::fill(f.id, &mut frame_c.as_mut_slice()[r.clone()]);
        }
        if w[RT] {
            runs::fill(f.time, &mut rt_c.as_mut_slice()[r.clone()]);
        }
        if w[MS_LEVEL] {
            lvl_c.as_mut_slice()[r.clone()].fill(level_of(f.msms_type));
        }
        if w[MZ] {
            mz.convert(
                &tof_c.as_mut_slice()[r.clone()],
                &mut mz_c.as_mut_slice()[r.clone()],
            );
        }
        let scans = dec.scan_peaks.len();
        if w[SCAN] {
            if scan_ids.len() < scans {
                scan_ids.extend(scan_ids.len() as u32..scans as u32);
            }
            runs::expand(
                &dec.scan_peaks,
                &scan_ids[..scans],
                &mut scan_c.as_mut_slice()[r.clone()],
            );
        }
        if w[MOBILITY] {
            im.per_scan(f.num_scans, per_scan_im);
            runs::expand(
                &dec.scan_peaks,
                per_scan_im,
                &mut im_c.as_mut_slice()[r.clone()],
            );
        }
        if windows_wanted {
            let fw = if level_of(f.msms_type) == 2 {
                s.windows.get(&f.id).map(Vec::as_slice).unwrap_or(&[])
            } else {
                &[]
            };
            // Null slots get zeros: recycled arena memory holds old values, and the same input
            // should give the same bytes.
            let (groups, mzs, widths) = per_scan_window;
            groups.clear();
            mzs.clear();
            widths.clear();
            if fw.is_empty() {
                valid.append_n(m, false);
                groups.push(0);
                mzs.push(0.0);
                widths.push(0.0);
            } else {
                for (scan, &cnt) in dec.scan_peaks.iter().enumerate() {
                    let s32 = scan as u32;
                    let i = fw.partition_point(|x| x.scan_begin <= s32);
                    let win = i.checked_sub(1).map(|i| fw[i]).filter(|x| s32 < x.scan_end);
                    valid.append_n(cnt as usize, win.is_some());
                    let x = win.unwrap_or_default();
                    groups.push(x.group);
                    mzs.push(x.isolation_mz);
                    widths.push(x.isolation_width);
                }
            }
            let whole = [m as u32];
            let counts: &[u32] = if fw.is_empty() {
                &whole
            } else {
                &dec.scan_peaks
            };
            if w[WINDOW_GROUP] && !s.dda {
                runs::expand(counts, groups, &mut wg_c.as_mut_slice()[r.clone()]);
            }
            if w[PRECURSOR] && s.dda {
                runs::expand(counts, groups, &mut pre_c.as_mut_slice()[r.clone()]);
            }
            if w[ISOLATION_MZ] {
                runs::expand(counts, mzs, &mut imz_c.as_mut_slice()[r.clone()]);
            }
            if w[ISOLATION_WIDTH] {
                runs::expand(counts, widths, &mut iw_c.as_mut_slice()[r.clone()]);
            }
        }
        at += m;
    }
    // The blobs are done with: their whole pages may leave the resident set (reading them again
    // would fault them back in from the file), so memory stays bounded by the frames in flight
    // rather than by the file size. One call per job: each is a TLB shootdown on every core.
    if let Some(b) = blobs {
        s.bin.release(b);
    }
    let nulls = windows_wanted.then(|| NullBuffer::new(valid.finish()));
    // Slices kept `at` of the `n` peaks the frames declare.
    let rows = at;
    let all_null = NullBuffer::new_null(rows);
    let mut cols: Vec<Option<ArrayRef>> = vec![None; 12];
    let mut put = |i: usize, a: ArrayRef| cols[i] = Some(a);
    if w[FRAME] {
        put(
            FRAME,
            Arc::new(UInt32Array::new(
                cut(frame_c.into_scalar_buffer(), rows),
                None,
            )),
        );
    }
    if w[SCAN] {
        put(
            SCAN,
            Arc::new(UInt32Array::new(
                cut(scan_c.into_scalar_buffer(), rows),
                None,
            )),
        );
    }
    if w[TOF] {
        put(
            TOF,
            Arc::new(UInt32Array::new(
                cut(tof_c.into_scalar_buffer(), rows),
                None,
            )),
        );
    }
    if w[INTENSITY] {
        put(
            INTENSITY,
            Arc::new(UInt32Array::new(
                cut(int_c.into_scalar_buffer(), rows),
                None,
            )),
        );
    }
    if w[MZ] {
        put(
            MZ,
            Arc::new(Float64Array::new(
                cut(mz_c.into_scalar_buffer(), rows),
                None,
            )),
        );
    }
    if w[MOBILITY] {
        put(
            MOBILITY,
            Arc::new(Float64Array::new(
                cut(im_c.into_scalar_buffer(), rows),
                None,
            )),
        );
    }
    if w[RT] {
        put(
            RT,
            Arc::new(Float64Array::new(
                cut(rt_c.into_scalar_buffer(), rows),
                None,
            )),
        );
    }
    if w[MS_LEVEL] {
        put(
            MS_LEVEL,
            Arc::new(UInt8Array::new(cut(lvl_c.into_scalar_buffer(), rows), None)),
        );
    }
    let (wg_nulls, pre_nulls) = if s.dda {
        (Some(all_null), nulls.clone())
    } else {
        (nulls.clone(), Some(all_null))
    };
    if w[WINDOW_GROUP] {
        put(
            WINDOW_GROUP,
            Arc::new(UInt32Array::new(
                cut(wg_c.into_scalar_buffer(), rows),
                wg_nulls,
            )),
        );
    }
    if w[ISOLATION_MZ] {
        put(
            ISOLATION_MZ,
            Arc::new(Float64Array::new(
                cut(imz_c.into_scalar_buffer(), rows),
                nulls.clone(),
            )),
        );
    }
    if w[ISOLATION_WIDTH] {
        put(
            ISOLATION_WIDTH,
            Arc::new(Float64Array::new(
                cut(iw_c.into_scalar_buffer(), rows),
                nulls,
            )),
        );
    }
    if w[PRECURSOR] {
        put(
            PRECURSOR,
            Arc::new(UInt32Array::new(
                cut(pre_c.into_scalar_buffer(), rows),
                pre_nulls,
            )),
        );
    }
    let columns: Vec<ArrayRef> = s
        .columns
        .iter()
        .map(|&c| cols[c].clone().expect("projected column built"))
        .collect();
    let opts = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(
        RecordBatch::try_new_with_options(s.schema.clone(), columns, &opts)
            .expect("columns match the schema"),
    )
}

/// The first `rows` values of a column (all of them unless a slice dropped peaks).
fn cut<T: arrow_buffer::ArrowNativeType>(
    b: arrow_buffer::ScalarBuffer<T>,
    rows: usize,
) -> arrow_buffer::ScalarBuffer<T> {
    if b.len() == rows {
        b
    } else {
        b.slice(0, rows)
    }
}
