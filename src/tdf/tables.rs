//! The tables of a run besides its peaks: `precursors` and `spectra` (ddaPASEF) and `windows`
//! (diaPASEF), built from `analysis.tdf` and, for spectra, the MS2 frames.
//!
//! * **precursors** — one row per `Precursors` row: `rt` is the parent MS1 frame's time,
//!   `mobility` the fractional `ScanNumber` through the parent frame's 1/K0 model (with Bruker's
//!   calibration, the value Bruker's SDK writes), and the isolation window and collision energy
//!   of its first `PasefFrameMsMsInfo` row; `ms2_frames` counts those rows.
//! * **spectra** — one row per precursor that has PASEF frames: the peaks of scans
//!   `[ScanNumBegin, ScanNumEnd)` of every one of its MS2 frames, summed per TOF index (sorted),
//!   then converted to m/z with the model of its first MS2 frame. With `centroid(w)` the summed
//!   spectrum is smoothed and centroided as timsrust 0.4 does (each peak adds the intensities of
//!   the peaks at most `w` TOF indices away; a peak stays when no peak within `w` is more
//!   intense, the later of two equal ones losing).
//! * **windows** — one row per `DiaFrameMsMsWindows` row, with the 1/K0 of its first and last
//!   scan (the model of the group's first frame) and the number of frames of its group.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use arrow_array::builder::{Float64Builder, UInt32Builder, UInt8Builder};
use arrow_array::{ArrayRef, Float64Array, RecordBatch, UInt32Array};
use arrow_schema::{Schema, SchemaRef};

use super::calib::{ImModel, MzModel};
use super::meta::{FrameRow, Metadata, PasefRow, PrecursorRow};
use super::slice::{inside, Bounds};
use super::Error;
use crate::arrow::columns::{fields, names, Column, Type};

/// Which table a [`Reader`](super::Reader) yields.
///
/// * **precursors** — one row per `Precursors` row: `rt` is the parent MS1 frame's time,
///   `mobility` the fractional `ScanNumber` through the parent frame's 1/K0 model (with Bruker's
///   calibration, the value Bruker's SDK writes), and the isolation window and collision energy
///   of its first `PasefFrameMsMsInfo` row; `ms2_frames` counts those rows.
/// * **spectra** — one row per precursor that has PASEF frames: the peaks of scans
///   `[ScanNumBegin, ScanNumEnd)` of every one of its MS2 frames, summed per TOF index (sorted),
///   then converted to m/z with the model of its first MS2 frame. With `centroid(w)` the summed
///   spectrum is smoothed and centroided as timsrust 0.4 does (each peak adds the intensities of
///   the peaks at most `w` TOF indices away; a peak stays when no peak within `w` is more
///   intense, the later of two equal ones losing).
/// * **windows** — one row per `DiaFrameMsMsWindows` row, with the 1/K0 of its first and last
///   scan (the model of the group's first frame) and the number of frames of its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Table {
    /// One row per peak ([`COLUMNS`](super::COLUMNS)).
    #[default]
    Peaks,
    /// One row per DDA precursor ([`PRECURSOR_COLUMNS`]).
    Precursors,
    /// One MS2 spectrum per DDA precursor ([`SPECTRUM_COLUMNS`]).
    Spectra,
    /// One row per DIA isolation window ([`WINDOW_COLUMNS`]).
    Windows,
}

impl Table {
    /// The table's column names in schema order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Peaks => &super::COLUMNS,
            Self::Precursors => PRECURSOR_COLUMNS,
            Self::Spectra => SPECTRUM_COLUMNS,
            Self::Windows => WINDOW_COLUMNS,
        }
    }

    /// The table's name: `peaks`, `precursors`, `spectra` or `windows`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Peaks => "peaks",
            Self::Precursors => "precursors",
            Self::Spectra => "spectra",
            Self::Windows => "windows",
        }
    }

    /// The table's full schema.
    pub fn schema(self) -> SchemaRef {
        match self {
            Self::Peaks => super::schema(),
            Self::Precursors => precursors_schema(),
            Self::Spectra => spectra_schema(),
            Self::Windows => windows_schema(),
        }
    }
}

impl std::str::FromStr for Table {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "peaks" => Ok(Self::Peaks),
            "precursors" => Ok(Self::Precursors),
            "spectra" => Ok(Self::Spectra),
            "windows" => Ok(Self::Windows),
            _ => Err(Error::options(format!(
                "unknown timsTOF table {s:?}; the tables are peaks, precursors, spectra, windows"
            ))),
        }
    }
}

/// The precursors table.
const PRECURSORS: [Column; 14] = [
    Column::new("precursor", Type::U32, false),
    Column::new("frame", Type::U32, false),
    Column::new("rt", Type::F64, false),
    Column::new("mz_monoisotopic", Type::F64, true),
    Column::new("mz_largest_peak", Type::F64, false),
    Column::new("mz_average", Type::F64, true),
    Column::new("charge", Type::U8, true),
    Column::new("intensity", Type::F64, true),
    Column::new("scan", Type::F64, false),
    Column::new("mobility", Type::F64, false),
    Column::new("isolation_mz", Type::F64, true),
    Column::new("isolation_width", Type::F64, true),
    Column::new("collision_energy", Type::F64, true),
    Column::new("ms2_frames", Type::U32, false),
];

/// The spectra table: the precursor's columns (its `intensity` named `precursor_intensity`),
/// then the spectrum's `mz` and `intensity` lists.
const SPECTRA: [Column; 16] = {
    let mut out = [Column::new("", Type::U8, false); 16];
    let mut i = 0;
    while i < PRECURSORS.len() {
        out[i] = PRECURSORS[i];
        i += 1;
    }
    out[7] = Column::new("precursor_intensity", Type::F64, true);
    out[14] = Column::new("mz", Type::ListF64, false);
    out[15] = Column::new("intensity", Type::ListF64, false);
    out
};

/// The windows table.
const WINDOWS: [Column; 9] = [
    Column::new("window_group", Type::U32, false),
    Column::new("scan_begin", Type::U32, false),
    Column::new("scan_end", Type::U32, false),
    Column::new("isolation_mz", Type::F64, false),
    Column::new("isolation_width", Type::F64, false),
    Column::new("collision_energy", Type::F64, true),
    Column::new("mobility_upper", Type::F64, false),
    Column::new("mobility_lower", Type::F64, false),
    Column::new("frames", Type::U32, false),
];

/// Columns of the precursors table.
pub(crate) const PRECURSOR_COLUMNS: &[&str] = &names(&PRECURSORS);

/// Columns of the spectra table.
pub(crate) const SPECTRUM_COLUMNS: &[&str] = &names(&SPECTRA);

/// Columns of the windows table.
pub(crate) const WINDOW_COLUMNS: &[&str] = &names(&WINDOWS);

/// The precursors table's schema.
pub(crate) fn precursors_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| Arc::new(Schema::new(fields(&PRECURSORS, |_| true))))
        .clone()
}

/// The spectra table's schema.
pub(crate) fn spectra_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| Arc::new(Schema::new(fields(&SPECTRA, |_| true))))
        .clone()
}

/// The windows table's schema.
pub(crate) fn windows_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| Arc::new(Schema::new(fields(&WINDOWS, |_| true))))
        .clone()
}

/// A precursor with what the tables add to its `Precursors` row.
#[derive(Debug, Clone)]
pub(crate) struct Precursor {
    pub(crate) row: PrecursorRow,
    pub(crate) rt: f64,
    pub(crate) mobility: f64,
    /// Its rows of `PasefFrameMsMsInfo` (a range of `Metadata::pasef`).
    pub(crate) pasef: std::ops::Range<usize>,
    /// Index in `Metadata::frames` of its first MS2 frame (whose m/z model the spectrum uses).
    pub(crate) first_ms2: Option<usize>,
}

impl Precursor {
    /// The m/z the slices select on: monoisotopic, else the largest peak's.
    fn mz(&self) -> f64 {
        self.row.mz_monoisotopic.unwrap_or(self.row.mz_largest_peak)
    }
}

/// The index in `meta.frames` (sorted by id) of frame `id`.
pub(crate) fn frame_index(meta: &Metadata, id: u32) -> Option<usize> {
    meta.frames.binary_search_by_key(&id, |f| f.id).ok()
}

/// Which precursors a table keeps: the parent frame's id in `frames`, and rt, 1/K0 and m/z
/// (monoisotopic, else the largest peak's) in their ranges.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Selection {
    pub(crate) frames: Option<(u32, u32)>,
    pub(crate) rt: Bounds,
    pub(crate) mobility: Bounds,
    pub(crate) mz: Bounds,
}

/// The precursors of a run, in id order, as `select` chooses; `spectra` keeps only those with
/// PASEF frames. `model` gives a frame's models.
pub(crate) fn precursors(
    meta: &Metadata,
    tdf: &Path,
    select: Selection,
    spectra: bool,
    mut model: impl FnMut(&FrameRow) -> Result<(MzModel, ImModel), Error>,
) -> Result<Vec<Precursor>, Error> {
    if !meta.dda {
        return Err(Error::metadata(
            tdf.to_path_buf(),
            "no ddaPASEF frames (MsMsType 8) or PasefFrameMsMsInfo rows: precursors \
                      and spectra exist only in ddaPASEF runs",
        ));
    }
    let mut out = Vec::with_capacity(meta.precursors.len());
    let mut at = 0;
    for row in &meta.precursors {
        // `pasef` is sorted by precursor: this precursor's rows follow those of smaller ids.
        while at < meta.pasef.len() && meta.pasef[at].precursor < row.id {
            at += 1;
        }
        let start = at;
        while at < meta.pasef.len() && meta.pasef[at].precursor == row.id {
            at += 1;
        }
        if spectra && start == at {
            continue;
        }
        if select
            .frames
            .is_some_and(|(a, b)| row.parent < a || row.parent > b)
        {
            continue;
        }
        let parent = frame_index(meta, row.parent).ok_or_else(|| {
            Error::metadata(
                tdf.to_path_buf(),
                format!(
                    "Precursors row Id={}: Parent frame {} is not in Frames",
                    row.id, row.parent
                ),
            )
        })?;
        let parent_row = &meta.frames[parent];
        let (_, im) = model(parent_row)?;
        let scans = f64::from(parent_row.num_scans);
        if !(0.0..=scans).contains(&row.scan) {
            return Err(Error::metadata(
                tdf.to_path_buf(),
                format!(
                    "Precursors row Id={}: ScanNumber {} is outside the parent frame's {} scans",
                    row.id, row.scan, parent_row.num_scans
                ),
            ));
        }
        let mut first_ms2 = None;
        for p in &meta.pasef[start..at] {
            let i = frame_index(meta, p.frame).ok_or_else(|| {
                Error::metadata(
                    tdf.to_path_buf(),
                    format!(
                        "PasefFrameMsMsInfo row of precursor {}: Frame {} is not in Frames",
                        p.precursor, p.frame
                    ),
                )
            })?;
            first_ms2.get_or_insert(i);
        }
        let p = Precursor {
            row: row.clone(),
            rt: parent_row.time,
            mobility: im.im(row.scan),
            pasef: start..at,
            first_ms2,
        };
        if inside(select.rt, p.rt)
            && inside(select.mobility, p.mobility)
            && inside(select.mz, p.mz())
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// The precursor columns (shared by both tables) of `ps`.
pub(super) fn precursor_columns(meta: &Metadata, ps: &[Precursor]) -> Vec<ArrayRef> {
    let n = ps.len();
    let mut id = UInt32Builder::with_capacity(n);
    let mut frame = UInt32Builder::with_capacity(n);
    let mut f64s: Vec<Float64Builder> = (0..9).map(|_| Float64Builder::with_capacity(n)).collect();
    let mut charge = UInt8Builder::with_capacity(n);
    let mut ms2 = UInt32Builder::with_capacity(n);
    for p in ps {
        let first: Option<&PasefRow> = meta.pasef[p.pasef.clone()].first();
        id.append_value(p.row.id);
        frame.append_value(p.row.parent);
        charge.append_option(p.row.charge);
        ms2.append_value(p.pasef.len() as u32);
        let values = [
            Some(p.rt),
            p.row.mz_monoisotopic,
            Some(p.row.mz_largest_peak),
            p.row.mz_average,
            p.row.intensity,
            Some(p.row.scan),
            Some(p.mobility),
            first.map(|f| f.isolation.isolation_mz),
            first.map(|f| f.isolation.isolation_width),
        ];
        for (b, v) in f64s.iter_mut().zip(values) {
            b.append_option(v);
        }
    }
    let energy: Float64Array = ps
        .iter()
        .map(|p| {
            meta.pasef[p.pasef.clone()]
                .first()
                .map(|f| f.isolation.collision_energy)
                .filter(|e| !e.is_nan())
        })
        .collect();
    let mut f = f64s
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut next = || f.next().expect("nine float columns");
    let (rt, mono, largest, avg, intensity, scan, mobility, imz, iw) = (
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
    );
    vec![
        Arc::new(id.finish()),
        Arc::new(frame.finish()),
        rt,
        mono,
        largest,
        avg,
        Arc::new(charge.finish()),
        intensity,
        scan,
        mobility,
        imz,
        iw,
        Arc::new(energy),
        Arc::new(ms2.finish()),
    ]
}

/// The precursors table of `ps`, all columns.
pub(crate) fn precursors_batch(meta: &Metadata, ps: &[Precursor]) -> RecordBatch {
    RecordBatch::try_new(precursors_schema(), precursor_columns(meta, ps))
        .expect("columns match the schema")
}

/// The windows table: one row per `DiaFrameMsMsWindows` row.
pub(crate) fn windows_batch(
    meta: &Metadata,
    tdf: &Path,
    mut model: impl FnMut(&FrameRow) -> Result<(MzModel, ImModel), Error>,
) -> Result<RecordBatch, Error> {
    if meta.dia_windows.is_empty() {
        return Err(Error::metadata(
            tdf.to_path_buf(),
            "no DiaFrameMsMsWindows rows: windows exist only in diaPASEF runs",
        ));
    }
    let n = meta.dia_windows.len();
    let mut cols: [Vec<u32>; 4] = Default::default();
    let mut f: [Vec<f64>; 4] = Default::default();
    let mut energy = Float64Builder::with_capacity(n);
    for row in &meta.dia_windows {
        let (group, w) = (row.group, &row.isolation);
        let group_frames: Vec<u32> = meta
            .dia_frames
            .iter()
            .filter(|(_, g)| *g == group)
            .map(|(f, _)| *f)
            .collect();
        let frame = group_frames
            .first()
            .and_then(|&id| frame_index(meta, id))
            .or((!meta.frames.is_empty()).then_some(0))
            .ok_or_else(|| Error::metadata(tdf.to_path_buf(), "the run has no frames"))?;
        let (_, im) = model(&meta.frames[frame])?;
        let scans = meta.frames[frame].num_scans;
        if w.scan_begin >= w.scan_end || w.scan_end > scans {
            return Err(Error::metadata(
                tdf.to_path_buf(),
                format!(
                    "DiaFrameMsMsWindows group {}: scans {}..{} are not inside the {} scans of \
                     frame {}",
                    group, w.scan_begin, w.scan_end, scans, meta.frames[frame].id
                ),
            ));
        }
        cols[0].push(group);
        cols[1].push(w.scan_begin);
        cols[2].push(w.scan_end);
        cols[3].push(group_frames.len() as u32);
        f[0].push(w.isolation_mz);
        f[1].push(w.isolation_width);
        f[2].push(im.im(f64::from(w.scan_begin)));
        f[3].push(im.im(f64::from(w.scan_end.saturating_sub(1).max(w.scan_begin))));
        energy.append_option((!w.collision_energy.is_nan()).then_some(w.collision_energy));
    }
    let [group, begin, end, frames] = cols.map(|c| Arc::new(UInt32Array::from(c)) as ArrayRef);
    let [imz, iw, upper, lower] = f.map(|c| Arc::new(Float64Array::from(c)) as ArrayRef);
    Ok(RecordBatch::try_new(
        windows_schema(),
        vec![
            group,
            begin,
            end,
            imz,
            iw,
            Arc::new(energy.finish()),
            upper,
            lower,
            frames,
        ],
    )
    .expect("columns match the schema"))
}
