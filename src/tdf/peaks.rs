//! The peaks table: the frames of one job decoded on a worker into one arena-backed batch
//! (schema in docs/SCHEMAS.md), and the state the workers share.
//!
//! The columns are one table ([`peak_columns!`]): name, storage type and null rule per column.
//! The schema, the arena size, the regions taken and the arrays finished all walk it; only the
//! per-frame fill names columns, and only the ones it computes.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::{
    ArrayRef, Float64Array, RecordBatch, RecordBatchOptions, UInt32Array, UInt8Array,
};
use arrow_buffer::{ArrowNativeType, BooleanBufferBuilder, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Schema, SchemaRef};

use super::blobs::{Bin, Fetch};
use super::calib::{ImModel, MzModel};
use super::frame::FrameDecoder;
use super::meta::{FrameRow, Metadata, Window};
use super::slice::{slice_frame, Slice};
use super::spectra::SpectrumWorker;
use super::tables::Precursor;
use super::Error;
use crate::arrow::arena::{Arena, ArenaPool, ArenaSize, Region};
use crate::arrow::columns::{fields, names, Storage};
use rawarrow_kernels::runs;

/// How a column's values are stored.
#[derive(Clone, Copy)]
enum Store {
    U8,
    U32,
    F64,
}

/// Which rows of a column are null.
#[derive(Clone, Copy)]
enum Nulls {
    /// None.
    Never,
    /// Peaks outside an isolation window (and every peak of an MS1 frame).
    OutsideWindow,
    /// As `OutsideWindow` in a DDA run (`true`) or a DIA run (`false`); all of them otherwise.
    OutsideWindowIn { dda: bool },
}

impl Storage for Store {
    fn data_type(self) -> DataType {
        match self {
            Self::U8 => DataType::UInt8,
            Self::U32 => DataType::UInt32,
            Self::F64 => DataType::Float64,
        }
    }
}

/// One peaks column: its rule is which rows are null.
type Column = crate::arrow::columns::Column<Store, Nulls>;

/// Declares the peaks columns in schema order: an index constant, the name, the storage and the
/// null rule of each.
macro_rules! peak_columns {
    ($($id:ident = $name:literal: $store:ident, $nulls:expr;)*) => {
        #[allow(clippy::upper_case_acronyms, non_camel_case_types)]
        #[repr(usize)]
        enum Id { $($id),* }
        $(const $id: usize = Id::$id as usize;)*
        const TABLE: [Column; [$($name),*].len()] = [
            $(Column {
                name: $name,
                store: Store::$store,
                nullable: !matches!($nulls, Nulls::Never),
                rule: $nulls,
            }),*
        ];
    };
}

peak_columns! {
    FRAME = "frame": U32, Nulls::Never;
    SCAN = "scan": U32, Nulls::Never;
    TOF = "tof": U32, Nulls::Never;
    INTENSITY = "intensity": U32, Nulls::Never;
    MZ = "mz": F64, Nulls::Never;
    MOBILITY = "mobility": F64, Nulls::Never;
    RT = "rt": F64, Nulls::Never;
    MS_LEVEL = "ms_level": U8, Nulls::Never;
    WINDOW_GROUP = "window_group": U32, Nulls::OutsideWindowIn { dda: false };
    ISOLATION_MZ = "isolation_mz": F64, Nulls::OutsideWindow;
    ISOLATION_WIDTH = "isolation_width": F64, Nulls::OutsideWindow;
    PRECURSOR = "precursor": U32, Nulls::OutsideWindowIn { dda: true };
}

/// Number of peaks columns.
pub(super) const N: usize = TABLE.len();

/// Column names in schema order.
pub(crate) const COLUMNS: [&str; N] = names(&TABLE);

/// The full schema of the peaks table (docs/SCHEMAS.md).
pub(crate) fn schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| Arc::new(Schema::new(fields(&TABLE, |_| true))))
        .clone()
}

/// One column's region of the batch arena (empty when the column is not projected).
enum Buf {
    U8(Region<u8>),
    U32(Region<u32>),
    F64(Region<f64>),
}

impl Buf {
    fn u32s(&mut self) -> &mut [u32] {
        match self {
            Buf::U32(r) => r.as_mut_slice(),
            _ => unreachable!("a UInt32 column by the table"),
        }
    }

    fn f64s(&mut self) -> &mut [f64] {
        match self {
            Buf::F64(r) => r.as_mut_slice(),
            _ => unreachable!("a Float64 column by the table"),
        }
    }

    fn u8s(&mut self) -> &mut [u8] {
        match self {
            Buf::U8(r) => r.as_mut_slice(),
            _ => unreachable!("a UInt8 column by the table"),
        }
    }

    fn zeroed(&mut self) {
        match self {
            Buf::U8(r) => drop(r.zeroed()),
            Buf::U32(r) => drop(r.zeroed()),
            Buf::F64(r) => drop(r.zeroed()),
        }
    }

    /// The first `rows` values as an array.
    fn finish(self, rows: usize, nulls: Option<NullBuffer>) -> ArrayRef {
        match self {
            Buf::U8(r) => Arc::new(UInt8Array::new(cut(r.into_scalar_buffer(), rows), nulls)),
            Buf::U32(r) => Arc::new(UInt32Array::new(cut(r.into_scalar_buffer(), rows), nulls)),
            Buf::F64(r) => Arc::new(Float64Array::new(cut(r.into_scalar_buffer(), rows), nulls)),
        }
    }
}

/// The first `rows` values of a column (all of them unless a slice dropped peaks).
fn cut<T: ArrowNativeType>(b: ScalarBuffer<T>, rows: usize) -> ScalarBuffer<T> {
    if b.len() == rows {
        b
    } else {
        b.slice(0, rows)
    }
}

/// The columns of one batch of up to `n` peaks: `tof` and `intensity` always (the frame decoder
/// writes them), the others when wanted.
struct Columns {
    bufs: Vec<Buf>,
}

impl Columns {
    fn len(want: &[bool; N], c: usize, n: usize) -> usize {
        if want[c] || c == TOF || c == INTENSITY {
            n
        } else {
            0
        }
    }

    fn size(want: &[bool; N], n: usize) -> ArenaSize {
        let mut size = ArenaSize::default();
        for (c, col) in TABLE.iter().enumerate() {
            let len = Self::len(want, c, n);
            match col.store {
                Store::U8 => size.add::<u8>(len),
                Store::U32 => size.add::<u32>(len),
                Store::F64 => size.add::<f64>(len),
            };
        }
        size
    }

    /// Takes the regions in table order from an arena sized by [`Columns::size`]; a column
    /// that is null throughout for this acquisition is zeroed (recycled arena memory holds old
    /// values, and the same input should give the same bytes).
    fn take(arena: &mut Arena, want: &[bool; N], n: usize, dda: bool) -> Self {
        let bufs = TABLE
            .iter()
            .enumerate()
            .map(|(c, col)| {
                let len = Self::len(want, c, n);
                let mut buf = match col.store {
                    Store::U8 => Buf::U8(arena.take(len)),
                    Store::U32 => Buf::U32(arena.take(len)),
                    Store::F64 => Buf::F64(arena.take(len)),
                };
                if matches!(col.rule, Nulls::OutsideWindowIn { dda: d } if d != dda) {
                    buf.zeroed();
                }
                buf
            })
            .collect();
        Self { bufs }
    }

    /// Two distinct columns at once (`a` before `b` in the table).
    fn pair(&mut self, a: usize, b: usize) -> (&mut Buf, &mut Buf) {
        let (head, tail) = self.bufs.split_at_mut(b);
        (&mut head[a], &mut tail[0])
    }

    /// The wanted columns' arrays of the first `rows` values, in table order; `window` is the
    /// validity of the window columns (when any is wanted).
    fn finish(
        self,
        want: &[bool; N],
        rows: usize,
        window: Option<NullBuffer>,
        dda: bool,
    ) -> Vec<Option<ArrayRef>> {
        TABLE
            .iter()
            .zip(self.bufs)
            .enumerate()
            .map(|(c, (col, buf))| {
                want[c].then(|| {
                    let nulls = match col.rule {
                        Nulls::Never => None,
                        Nulls::OutsideWindowIn { dda: d } if d != dda => {
                            Some(NullBuffer::new_null(rows))
                        }
                        Nulls::OutsideWindow | Nulls::OutsideWindowIn { .. } => window.clone(),
                    };
                    buf.finish(rows, nulls)
                })
            })
            .collect()
    }
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
    pub(super) bin: Bin,
    pub(super) frames: Vec<FrameRow>,
    pub(super) models: Vec<(MzModel, ImModel)>,
    pub(super) windows: HashMap<u32, Vec<Window>>,
    pub(super) dda: bool,
    pub(super) want: [bool; N],
    pub(super) columns: Vec<usize>,
    pub(super) schema: SchemaRef,
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

impl Shared {
    /// Starts fetching the blobs job `job` decodes (a remote run's; nothing for a local one):
    /// its frames, or for spectra the MS2 frames of its precursors.
    pub(super) fn fetch(&self, job: &Range<usize>) -> Fetch {
        if !self.bin.is_remote() {
            return Fetch::default();
        }
        match &self.spectra {
            None => self.bin.fetch(self.frames[job.clone()].iter()),
            Some(sp) => {
                let meta = &sp.meta;
                let frames = sp.precursors[job.clone()]
                    .iter()
                    .flat_map(|p| p.pasef.clone())
                    .filter_map(|i| super::tables::frame_index(meta, meta.pasef[i].frame))
                    .map(|fi| &meta.frames[fi]);
                self.bin.fetch(frames)
            }
        }
    }
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
    /// This worker's batch memory, recycled (pages stay where this worker touched them).
    pub(super) arenas: ArenaPool,
}

impl Worker {
    /// A worker keeping `arenas` spare batch allocations.
    pub(super) fn new(arenas: usize) -> Self {
        Self {
            arenas: ArenaPool::new(arenas),
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
    (job, fetch): (Range<usize>, Fetch),
    level_of: impl Fn(u8) -> u8,
) -> Result<RecordBatch, Error> {
    let frames = &s.frames[job.clone()];
    let n: usize = frames.iter().map(|f| f.num_peaks as usize).sum();
    let w = &s.want;
    let windows_wanted = TABLE.iter().zip(w).any(|(c, &w)| w && c.nullable);
    let mut arena = worker.arenas.arena(Columns::size(w, n));
    let mut c = Columns::take(&mut arena, w, n, s.dda);
    let mut valid = BooleanBufferBuilder::new(if windows_wanted { n } else { 0 });
    let Worker {
        dec,
        scan_ids,
        per_scan_im,
        per_scan_window,
        ..
    } = worker;
    // The job's blobs (for a remote run, as they arrive).
    let fetched = fetch.finish(&s.bin)?;
    let mut at = 0;
    // The blobs of this job, released together once decoded (contiguous ones in one call).
    let mut blobs: Option<Range<usize>> = None;
    for (k, f) in frames.iter().enumerate() {
        let mut m = f.num_peaks as usize;
        let mut r = at..at + m;
        let (tof, int) = c.pair(TOF, INTENSITY);
        let blob = dec
            .decode(
                fetched.window(f.tims_id),
                f,
                &mut tof.u32s()[r.clone()],
                &mut int.u32s()[r.clone()],
            )
            .map_err(|(offset, message)| {
                Error::frame_data(s.bin.path().to_path_buf(), f.id, offset, message)
            })?;
        if let Some(n) = s.samples {
            // A damaged blob (zstd has no checksum here) can decode to impossible indices.
            if let Some((i, t)) = tof.u32s()[r.clone()]
                .iter()
                .enumerate()
                .find(|(_, &t)| t >= n)
            {
                return Err(Error::frame_data(
                    s.bin.path().to_path_buf(),
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
                &mut tof.u32s()[r.clone()],
                &mut int.u32s()[r.clone()],
            );
            r = at..at + m;
        }
        // Per-frame values are filled, per-scan values expanded over the scans' peaks.
        if w[FRAME] {
            runs::fill(f.id, &mut c.bufs[FRAME].u32s()[r.clone()]);
        }
        if w[RT] {
            runs::fill(f.time, &mut c.bufs[RT].f64s()[r.clone()]);
        }
        if w[MS_LEVEL] {
            c.bufs[MS_LEVEL].u8s()[r.clone()].fill(level_of(f.msms_type));
        }
        if w[MZ] {
            let (tof, mzs) = c.pair(TOF, MZ);
            mz.convert(&tof.u32s()[r.clone()], &mut mzs.f64s()[r.clone()]);
        }
        let scans = dec.scan_peaks.len();
        if w[SCAN] {
            if scan_ids.len() < scans {
                scan_ids.extend(scan_ids.len() as u32..scans as u32);
            }
            let out = &mut c.bufs[SCAN].u32s()[r.clone()];
            runs::expand(&dec.scan_peaks, &scan_ids[..scans], out);
        }
        if w[MOBILITY] {
            im.per_scan(f.num_scans, per_scan_im);
            let out = &mut c.bufs[MOBILITY].f64s()[r.clone()];
            runs::expand(&dec.scan_peaks, per_scan_im, out);
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
            // The group is a window group in a DIA run and a precursor in a DDA run.
            let group = if s.dda { PRECURSOR } else { WINDOW_GROUP };
            if w[group] {
                runs::expand(counts, groups, &mut c.bufs[group].u32s()[r.clone()]);
            }
            if w[ISOLATION_MZ] {
                let out = &mut c.bufs[ISOLATION_MZ].f64s()[r.clone()];
                runs::expand(counts, mzs, out);
            }
            if w[ISOLATION_WIDTH] {
                let out = &mut c.bufs[ISOLATION_WIDTH].f64s()[r.clone()];
                runs::expand(counts, widths, out);
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
    let window = windows_wanted.then(|| NullBuffer::new(valid.finish()));
    // Slices kept `at` of the `n` peaks the frames declare.
    let rows = at;
    let mut arrays = c.finish(w, rows, window, s.dda);
    let columns: Vec<ArrayRef> = s
        .columns
        .iter()
        .map(|&c| arrays[c].take().expect("projected column built"))
        .collect();
    let opts = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(
        RecordBatch::try_new_with_options(s.schema.clone(), columns, &opts)
            .expect("columns match the schema"),
    )
}
