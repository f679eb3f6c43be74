//! timsTOF as a format of the stream: its options, a reader of one table as a [`Source`], its
//! splits (groups of whole frames), and its registration.

use std::path::{Path, PathBuf};

use arrow_array::{RecordBatch, RecordBatchReader};

use super::{Calibration, Reader, Table};
use crate::format::{at_least_one, kernels_env, Format, Kind, Progress, Source, Split};
use crate::Error;

/// timsTOF's registration: a `.d` folder; splits of about so many peaks, whole frames.
pub(crate) const FORMAT: Format = Format {
    name: "tdf",
    reads: |kind| kind == Kind::TimsTof,
    plan,
};

/// Options of [`BatchStream::tdf`](crate::stream::BatchStream::tdf).
#[derive(Debug, Clone, Default)]
pub struct TdfOptions {
    /// Only frames of this MS level (1 or 2).
    pub ms_level: Option<u8>,
    /// Only frames with ids in `first..=last`.
    pub frames: Option<(u32, u32)>,
    /// The m/z and 1/K0 models.
    pub calibration: Calibration,
    /// Only these columns, kept in schema order (`None`: all of the table's columns).
    pub columns: Option<Vec<String>>,
    /// Worker threads (`None`: the cores this process may use).
    pub threads: Option<usize>,
    /// Target rows per batch, whole frames (`None`: 262,144).
    pub batch_rows: Option<usize>,
    /// The table: peaks, precursors, spectra or windows.
    pub table: Table,
    /// Only frames (peaks) or precursors with rt in `[lo, hi]` seconds.
    pub rt: Option<(f64, f64)>,
    /// Only scans (peaks) or precursors with 1/K0 in `[lo, hi]`.
    pub mobility: Option<(f64, f64)>,
    /// Only peaks or precursors with m/z in `[lo, hi]`.
    pub mz: Option<(f64, f64)>,
    /// Spectra smoothed and centroided over this many TOF indices (timsrust's rule).
    pub centroid: Option<u32>,
    /// Settings of a run given as a URL (`s3://bucket/run.d`, `https://host/run.d/`): the
    /// environment's, then these `(key, value)` pairs (docs/REMOTE.md).
    pub storage_options: Vec<(String, String)>,
}

impl std::str::FromStr for Calibration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(Self::Auto),
            "bruker" => Ok(Self::Bruker),
            "estimate" => Ok(Self::Estimate),
            _ => Err(Error::usage(format!(
                "unknown calibration {s:?}; expected auto, bruker or estimate"
            ))),
        }
    }
}

/// Opens a `.d` folder as a stream's source (see
/// [`BatchStream::tdf`](crate::stream::BatchStream::tdf)).
pub(crate) fn open(path: &Path, options: &TdfOptions) -> Result<TdfSource, Error> {
    kernels_env()?;
    let mut b = Reader::builder()
        .calibration(options.calibration)
        .storage(&options.storage_options);
    if let Some(t) = at_least_one("threads", options.threads)? {
        b = b.threads(t);
    }
    if let Some(n) = at_least_one("batch_rows", options.batch_rows)? {
        b = b.batch_rows(n);
    }
    if let Some(level) = options.ms_level {
        if !(1..=2).contains(&level) {
            return Err(Error::usage(format!("ms_level {level}: expected 1 or 2")));
        }
        b = b.ms_level(level);
    }
    if let Some((first, last)) = options.frames {
        if first > last {
            return Err(Error::usage(format!(
                "frames {first}:{last}: the first frame id is after the last"
            )));
        }
        b = b.frame_range(first, last);
    }
    if let Some(cols) = &options.columns {
        b = b.columns(cols)?;
    }
    b = b.table(options.table);
    if let Some((lo, hi)) = options.rt {
        b = b.rt(lo, hi)?;
    }
    if let Some((lo, hi)) = options.mobility {
        b = b.mobility(lo, hi)?;
    }
    if let Some((lo, hi)) = options.mz {
        b = b.mz(lo, hi)?;
    }
    if let Some(w) = options.centroid {
        if options.table != Table::Spectra {
            return Err(Error::usage("centroid applies to the spectra table"));
        }
        b = b.centroid(w);
    }
    let reader = b.build(path)?;
    Ok(TdfSource {
        reader,
        table: options.table,
    })
}

/// One table of a run.
pub(crate) struct TdfSource {
    reader: Reader,
    table: Table,
}

impl TdfSource {
    /// The schema of every batch.
    pub(crate) fn schema(&self) -> arrow_schema::SchemaRef {
        self.reader.schema()
    }
}

impl Source for TdfSource {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        self.reader.next_batch()
    }

    fn progress(&self) -> Progress {
        let r = &self.reader;
        Progress {
            rows: r.rows(),
            done: r.rows(),
            total: r.expected_rows(),
            unit: "rows",
            blocks: r.frames_decoded(),
        }
    }

    fn take_warnings(&mut self) -> Vec<String> {
        let folder = self.reader.folder().display().to_string();
        self.reader
            .take_warnings()
            .into_iter()
            .map(|w| format!("{folder}: {w}"))
            .collect()
    }

    fn inputs(&self) -> Vec<PathBuf> {
        let dir = self.reader.folder();
        vec![dir.join("analysis.tdf"), dir.join("analysis.tdf_bin")]
    }

    fn table(&self) -> &'static str {
        self.table.name()
    }

    fn run_path(&self) -> Option<PathBuf> {
        Some(self.reader.folder().to_path_buf())
    }

    fn summary_line(&self, seconds: f64, _input_bytes: u64) -> String {
        let (r, secs) = (&self.reader, seconds.max(1e-9));
        match self.table {
            Table::Peaks => format!(
                "{} frames, {} peaks in {seconds:.3} s: {:.0} peaks/s ({:?} calibration)",
                r.frames(),
                r.rows(),
                r.rows() as f64 / secs,
                r.calibration()
            ),
            table => format!(
                "{} {} rows in {seconds:.3} s ({:?} calibration)",
                r.rows(),
                table.name(),
                r.calibration()
            ),
        }
    }
}

/// Consecutive frames of a timsTOF run in groups of about `peaks_per_split` peaks (whole frames).
fn plan(
    paths: &[PathBuf],
    peaks_per_split: u64,
    storage: &[(String, String)],
) -> Result<Vec<Split>, Error> {
    let [path] = paths else {
        return Err(Error::usage(
            "a timsTOF run is planned one .d folder at a time",
        ));
    };
    if peaks_per_split == 0 {
        return Err(Error::usage("peaks_per_split must be at least 1"));
    }
    // The metadata, read as the reader reads it (a URL's fetched); the frame data looked up.
    let (meta, _) = super::run::Location::of(path).open(storage, None)?;
    let mut out = Vec::new();
    let mut group: Option<(u32, u32, u64)> = None;
    for f in &meta.frames {
        let g = group.get_or_insert((f.id, f.id, 0));
        g.1 = f.id;
        g.2 += f.num_peaks;
        if g.2 >= peaks_per_split {
            let (first, last, peaks) = *g;
            out.push(Split::Tdf {
                path: path.to_path_buf(),
                first,
                last,
                peaks,
            });
            group = None;
        }
    }
    if let Some((first, last, peaks)) = group {
        out.push(Split::Tdf {
            path: path.to_path_buf(),
            first,
            last,
            peaks,
        });
    }
    Ok(out)
}
