//! [`ReaderBuilder`]: a timsTOF reader's settings, checked, and opening the run.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::blobs::{Bin, Fetch};
use super::calib::{digitizer_samples, plausible, ImModel, Models, MzModel};
use super::frame::MAX_PEAKS;
use super::meta::Metadata;
use super::peaks::{build_batch, level_of, Shared, SpectraState, Worker};
use super::reader::{Calibration, Reader};
use super::run::Location;
use super::slice::{bounds, Bounds, Slice};
use super::spectra;
use super::tables::{self, Table};
use super::Error;
use crate::runtime::{arenas_per_pool, default_threads, jobs_ahead, workers, Ordered};

/// Settings for a [`Reader`].
///
/// **Slices** select rows by inclusive ranges `[lo, hi]` and are applied before anything is
/// converted: `rt` (seconds) drops whole frames before they are decompressed, `mobility` (1/K0)
/// drops the scans of each frame outside the range, `mz` drops peaks outside the TOF bounds
/// found once per frame by bisection of its (rising) m/z model. For the peaks table the result
/// equals the full table filtered by `lo <= value <= hi` on `rt`, `mobility` and `mz`. For the
/// precursors and spectra tables they select precursors by their `rt`, `mobility` and m/z
/// (monoisotopic, else the largest peak's) and `frame_range` by the parent frame.
#[derive(Debug, Clone)]
pub struct ReaderBuilder {
    threads: usize,
    pin: bool,
    calibration: Calibration,
    ms_level: Option<u8>,
    frames: Option<(u32, u32)>,
    columns: Option<Vec<String>>,
    batch_rows: usize,
    table: Table,
    rt: Bounds,
    mobility: Bounds,
    mz: Bounds,
    centroid: Option<u32>,
    storage: Vec<(String, String)>,
}

impl Default for ReaderBuilder {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            pin: true,
            calibration: Calibration::Auto,
            ms_level: None,
            frames: None,
            columns: None,
            batch_rows: 1 << 18,
            table: Table::Peaks,
            rt: None,
            mobility: None,
            mz: None,
            centroid: None,
            storage: Vec::new(),
        }
    }
}

impl ReaderBuilder {
    /// Worker threads (default: the cores available; 0 is refused when the reader is built).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// m/z and 1/K0 models.
    pub fn calibration(mut self, c: Calibration) -> Self {
        self.calibration = c;
        self
    }

    /// Only frames of this MS level (1 or 2).
    pub fn ms_level(mut self, level: u8) -> Self {
        self.ms_level = Some(level);
        self
    }

    /// Only frames with ids in `first..=last`.
    pub(crate) fn frame_range(mut self, first: u32, last: u32) -> Self {
        self.frames = Some((first, last));
        self
    }

    /// Target rows per batch (whole frames; default 262,144: measured fastest on a 97 M-peak
    /// run, 25 % faster than 65,536 and than 1 Mi rows, whose 70 MB arenas stay out of cache;
    /// 0 is refused when the reader is built).
    pub fn batch_rows(mut self, n: usize) -> Self {
        self.batch_rows = n;
        self
    }

    /// Only these columns, kept in the table's schema order (as every reader keeps them); an
    /// unknown name (for the table chosen, checked when
    /// the reader is built) is an error listing the known ones.
    pub fn columns<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, crate::Error> {
        self.columns = Some(
            names
                .iter()
                .map(|n| n.as_ref().trim().to_string())
                .collect(),
        );
        Ok(self)
    }

    /// The table to read (default: peaks).
    pub fn table(mut self, table: Table) -> Self {
        self.table = table;
        self
    }

    /// Only frames (or precursors) with retention times in `[lo, hi]` seconds.
    pub fn rt(mut self, lo: f64, hi: f64) -> Result<Self, crate::Error> {
        self.rt = bounds("rt", lo, hi)?;
        Ok(self)
    }

    /// Only scans (or precursors) with 1/K0 in `[lo, hi]`.
    pub fn mobility(mut self, lo: f64, hi: f64) -> Result<Self, crate::Error> {
        self.mobility = bounds("mobility", lo, hi)?;
        Ok(self)
    }

    /// Only peaks (or precursors) with m/z in `[lo, hi]`.
    pub fn mz(mut self, lo: f64, hi: f64) -> Result<Self, crate::Error> {
        self.mz = bounds("mz", lo, hi)?;
        Ok(self)
    }

    /// Spectra smoothed and centroided over `window` TOF indices as timsrust does (its default
    /// is 1); without it, spectra are the summed raw peaks.
    pub fn centroid(mut self, window: u32) -> Self {
        self.centroid = Some(window);
        self
    }

    /// Settings of a run given as a URL (see docs/REMOTE.md); the environment's otherwise.
    pub(crate) fn storage(mut self, options: &[(String, String)]) -> Self {
        self.storage = options.to_vec();
        self
    }

    /// Column indices of the chosen table.
    fn projection(&self) -> Result<Vec<usize>, Error> {
        let known = self.table.columns();
        let Some(names) = &self.columns else {
            return Ok((0..known.len()).collect());
        };
        let mut picked = names
            .iter()
            .map(|n| {
                known.iter().position(|c| c == n).ok_or_else(|| {
                    Error::options(format!(
                        "unknown column {n:?}; the columns are {}",
                        known.join(",")
                    ))
                })
            })
            .collect::<Result<Vec<usize>, Error>>()?;
        // Schema order whatever order the names come in, each once (the rule of every reader).
        picked.sort_unstable();
        picked.dedup();
        Ok(picked)
    }

    /// Opens the `.d` folder and starts decoding.
    pub fn build(self, dir: impl AsRef<Path>) -> Result<Reader, crate::Error> {
        self.open(dir.as_ref()).map_err(crate::Error::from)
    }

    fn open(self, dir: &Path) -> Result<Reader, Error> {
        for (name, n) in [("threads", self.threads), ("batch_rows", self.batch_rows)] {
            if n == 0 {
                return Err(Error::options(format!("{name} must be at least 1")));
            }
        }
        // A peaks slice in rt leaves the other frames' rows unread.
        let time = if self.table == Table::Peaks {
            self.rt
        } else {
            None
        };
        let (meta, bin) = Location::of(dir).open(&self.storage, time)?;
        self.build_from_parts(dir, meta, bin)
    }

    /// Builds the reader of the run in `dir` from its metadata, already read, and its
    /// `analysis.tdf_bin` bytes: every check [`build`](Self::build) makes on the metadata is
    /// made here (fuzzing hands in metadata from an in-memory database).
    pub(crate) fn build_from_parts(
        self,
        dir: &Path,
        meta: Metadata,
        bin: Bin,
    ) -> Result<Reader, Error> {
        let location = Location::of(dir);
        let tdf = location.tdf.clone();
        let compression: u32 = meta.global_value(&tdf, "TimsCompressionType")?;
        if compression != 2 {
            return Err(Error::metadata(
                tdf,
                format!("TimsCompressionType {compression} is not supported (only 2, zstd)"),
            ));
        }
        let calibration = match self.calibration {
            Calibration::Auto
                if !meta.mz_calibrations.is_empty()
                    && !meta.tims_calibrations.is_empty()
                    && meta.frames.iter().all(|f| f.mz_calibration.is_some()) =>
            {
                Calibration::Bruker
            }
            Calibration::Auto => Calibration::Estimate,
            c => c,
        };
        let max_scans = meta.max_num_scans;
        let estimate = if calibration == Calibration::Estimate {
            let mut lo = meta.global_positive(&tdf, "MzAcqRangeLower")?;
            let mut hi = meta.global_positive(&tdf, "MzAcqRangeUpper")?;
            let im_lo = meta.global_positive(&tdf, "OneOverK0AcqRangeLower")?;
            let im_hi = meta.global_positive(&tdf, "OneOverK0AcqRangeUpper")?;
            for (what, a, b) in [("MzAcqRange", lo, hi), ("OneOverK0AcqRange", im_lo, im_hi)] {
                if a >= b {
                    return Err(Error::metadata(
                        tdf,
                        format!("GlobalMetadata {what}Lower = {a} is not below {what}Upper = {b}"),
                    ));
                }
            }
            if meta.global.get("AcquisitionSoftware").map(String::as_str)
                == Some("Bruker otofControl")
            {
                lo -= 5.0;
                hi += 5.0;
            }
            let samples = digitizer_samples(&meta, &tdf)?.ok_or_else(|| {
                Error::metadata(tdf.clone(), "GlobalMetadata has no key DigitizerNumSamples")
            })?;
            let (mz, im) = (
                MzModel::estimate(lo, hi, samples),
                ImModel::estimate(im_lo, im_hi, max_scans),
            );
            plausible(&mz, &im, Some(samples), max_scans).map_err(|m| {
                Error::metadata(
                    tdf.clone(),
                    format!("GlobalMetadata MzAcqRange/OneOverK0AcqRange: {m}"),
                )
            })?;
            Some((mz, im))
        } else {
            None
        };
        let samples = digitizer_samples(&meta, &tdf)?;
        let warnings = window_warnings(&meta);
        let columns = self.projection()?;
        let models = Models {
            estimate,
            samples,
            tdf: tdf.clone(),
        };
        if self.table != Table::Peaks && self.ms_level.is_some() {
            return Err(Error::options(
                "ms_level selects frames of the peaks table only",
            ));
        }
        let mut reader = Reader {
            shared: Arc::new(Shared {
                bin,
                frames: Vec::new(),
                models: Vec::new(),
                windows: HashMap::new(),
                dda: meta.dda,
                want: [false; super::peaks::N],
                schema: Arc::new(
                    self.table
                        .schema()
                        .project(&columns)
                        .expect("valid projection"),
                ),
                columns,
                samples,
                slice: Slice {
                    mobility: self.mobility,
                    mz: self.mz,
                },
                decoded: AtomicU64::new(0),
                spectra: None,
            }),
            pool: None,
            jobs: Vec::new(),
            next_job: 0,
            rows: 0,
            failed: false,
            calibration,
            folder: location.folder.clone(),
            warnings,
            ready: None,
            expected: 0,
        };
        let shared = Arc::get_mut(&mut reader.shared).expect("not shared yet");
        match self.table {
            Table::Peaks => {
                let level_of = level_of;
                for f in &meta.frames {
                    if self.ms_level.is_some_and(|l| l != level_of(f.msms_type))
                        || self.frames.is_some_and(|(a, b)| f.id < a || f.id > b)
                        || self.rt.is_some_and(|(a, b)| !(a <= f.time && f.time <= b))
                    {
                        continue;
                    }
                    if f.num_peaks > MAX_PEAKS {
                        return Err(Error::metadata(
                            tdf,
                            format!("frame {}: NumPeaks {} is implausible", f.id, f.num_peaks),
                        ));
                    }
                    shared.models.push(models.of(&meta, f)?);
                    shared.frames.push(f.clone());
                }
                for &c in &shared.columns {
                    shared.want[c] = true;
                }
                shared.windows = meta.windows;
                // Jobs: runs of whole frames of about `batch_rows` peaks.
                let (mut start, mut rows) = (0, 0u64);
                for (i, f) in shared.frames.iter().enumerate() {
                    rows += f.num_peaks;
                    if rows >= self.batch_rows as u64 {
                        reader.jobs.push(start..i + 1);
                        start = i + 1;
                        rows = 0;
                    }
                }
                if start < shared.frames.len() {
                    reader.jobs.push(start..shared.frames.len());
                }
                reader.expected = shared.frames.iter().map(|f| f.num_peaks).sum();
            }
            Table::Precursors | Table::Spectra => {
                let spectra = self.table == Table::Spectra;
                let precursors = tables::precursors(
                    &meta,
                    &tdf,
                    tables::Selection {
                        frames: self.frames,
                        rt: self.rt,
                        mobility: self.mobility,
                        mz: self.mz,
                    },
                    spectra,
                    |f| models.of(&meta, f),
                )?;
                reader.expected = precursors.len() as u64;
                if spectra {
                    let mz_models = precursors
                        .iter()
                        .map(|p| {
                            let i = p.first_ms2.expect("spectra keep precursors with frames");
                            models.of(&meta, &meta.frames[i]).map(|m| m.0)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    // 64 precursors per job: the precursors of a PASEF cycle share its MS2
                    // frames, and a job decodes each frame it needs once.
                    let per_job = 64usize;
                    let n = precursors.len();
                    reader.jobs = (0..n)
                        .step_by(per_job)
                        .map(|s| s..(s + per_job).min(n))
                        .collect();
                    shared.spectra = Some(SpectraState {
                        meta,
                        precursors,
                        models: mz_models,
                        centroid: self.centroid,
                    });
                } else {
                    let batch = tables::precursors_batch(&meta, &precursors)
                        .project(&shared.columns)
                        .expect("valid projection");
                    reader.ready = Some(batch);
                }
            }
            Table::Windows => {
                if self.rt.is_some() || self.mobility.is_some() || self.mz.is_some() {
                    return Err(Error::options(
                        "rt, mobility and mz slices apply to peaks, precursors and spectra, \
                         not to windows",
                    ));
                }
                let batch = tables::windows_batch(&meta, &tdf, |f| models.of(&meta, f))?
                    .project(&shared.columns)
                    .expect("valid projection");
                reader.expected = batch.num_rows() as u64;
                reader.ready = Some(batch);
            }
        }
        if !reader.jobs.is_empty() {
            let wshared = reader.shared.clone();
            let keep = arenas_per_pool(workers(self.threads), workers(self.threads));
            let pool = Ordered::spawn_named(
                if self.table == Table::Spectra {
                    "spectra"
                } else {
                    "frames"
                },
                self.threads,
                self.pin,
                jobs_ahead(workers(self.threads)),
                move |_| Worker::new(keep),
                move |worker, job: (Range<usize>, Fetch)| {
                    let out = match &wshared.spectra {
                        Some(sp) => spectra::spectra_batch(
                            &spectra::SpectraJob {
                                meta: &sp.meta,
                                bin: &wshared.bin,
                                precursors: &sp.precursors,
                                models: &sp.models,
                                centroid: sp.centroid,
                                columns: &wshared.columns,
                                schema: &wshared.schema,
                            },
                            &mut worker.spectra,
                            job,
                        ),
                        None => build_batch(&wshared, worker, job, level_of),
                    };
                    // A blob read from pages that were gone (the file shrank underneath) was
                    // read as zeros: the job's batch, or the error they caused, is the cut.
                    match wshared.bin.check() {
                        Ok(()) => out,
                        Err(cut) => Err(Error::shrunk(cut)),
                    }
                },
            )
            .map_err(Error::threads)?;
            reader.pool = Some(pool);
        }
        Ok(reader)
    }
}

/// Warnings for PASEF frames whose window or precursor table is missing or empty (their
/// `window_group`/`precursor` columns are null).
fn window_warnings(meta: &Metadata) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, name, tables) in [
        (9u8, "diaPASEF", "DiaFrameMsMsInfo/DiaFrameMsMsWindows"),
        (8, "ddaPASEF", "PasefFrameMsMsInfo"),
    ] {
        let frames: Vec<u32> = meta
            .frames
            .iter()
            .filter(|f| f.msms_type == kind)
            .map(|f| f.id)
            .collect();
        let without = frames
            .iter()
            .filter(|id| meta.windows.get(id).is_none_or(Vec::is_empty))
            .count();
        if !frames.is_empty() && without == frames.len() {
            out.push(format!(
                "{} {name} frames, but {tables} gives none of them a window: their \
                 window_group/precursor and isolation columns are null",
                frames.len()
            ));
        }
    }
    out
}

impl Reader {
    /// A builder with default settings.
    pub fn builder() -> ReaderBuilder {
        ReaderBuilder::default()
    }
}
