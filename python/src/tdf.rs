//! `read_tdf`, `convert_tdf` and the Ray datasource's timsTOF plan.

use std::path::PathBuf;

use pyo3::prelude::*;
use rawarrow::stream::{BatchStream as Stream, TdfOptions};
use rawarrow::Error;

use crate::*;

/// The table and slices of a timsTOF read: (table, rt, mobility, mz, centroid).
pub(crate) type TdfSelect<'a> = (
    &'a str,
    Option<(f64, f64)>,
    Option<(f64, f64)>,
    Option<(f64, f64)>,
    Option<u32>,
);

#[allow(clippy::too_many_arguments)]
pub(crate) fn tdf_options(
    ms_level: Option<u8>,
    frames: Option<(u32, u32)>,
    calibration: &str,
    columns: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    (table, rt, mobility, mz, centroid): TdfSelect<'_>,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> Result<TdfOptions, Error> {
    Ok(TdfOptions {
        ms_level,
        frames,
        calibration: calibration.parse()?,
        columns,
        threads,
        batch_rows,
        table: table.parse::<rawarrow::tdf::Table>()?,
        rt,
        mobility,
        mz,
        centroid,
        storage_options: storage_options.unwrap_or_default().into_iter().collect(),
    })
}

/// Reads a Bruker timsTOF .d folder as a stream of Arrow record batches: one row per peak, or
/// the precursors, spectra or windows table.
///
/// Args:
///     path: the .d folder (analysis.tdf and analysis.tdf_bin, zstd frames), or a URL prefix
///         holding those two objects (s3://bucket/run.d, gs://, az://, https://host/run.d/):
///         analysis.tdf is fetched to a private temporary file, read, and removed; each job
///         fetches only the blobs of its own frames from analysis.tdf_bin.
///     table: "peaks" (default), "precursors" (ddaPASEF), "spectra" (one summed MS2 spectrum
///         per ddaPASEF precursor) or "windows" (diaPASEF isolation windows).
///     ms_level: 1 or 2: only frames of that MS level (peaks; default: all).
///     frames: (first, last): only frames (precursors: parent frames) with ids in first..=last.
///     rt, mobility, mz: (low, high), inclusive: only peaks (or precursors) in the box; frames
///         outside rt are never decompressed, scans outside mobility and peaks outside m/z are
///         dropped before anything is converted.
///     centroid: spectra smoothed and centroided over this many TOF indices, as timsrust
///         does (its default is 1; default: the summed raw peaks).
///     calibration: "auto" (the instrument's models when MzCalibration and TimsCalibration
///         exist, else "estimate"), "bruker" (the instrument's models, as Bruker's SDK) or
///         "estimate" (timsrust's linear boundary models).
///     columns: only these columns, kept in schema order (default: all).
///     threads: worker threads (default: the cores this process may use).
///     batch_rows: target rows per batch, whole frames (default 262,144).
///     storage_options: settings of a path given as a URL, as for read_bam.
///
/// Schema: peaks: frame, scan, tof, intensity (UInt32), mz, mobility (1/K0), rt (seconds) (Float64),
/// ms_level (UInt8), window_group (UInt32, diaPASEF; null outside a window), isolation_mz,
/// isolation_width (Float64), precursor (UInt32, ddaPASEF; null outside a window).
/// precursors: precursor, frame (the parent MS1 frame), rt, mz_monoisotopic, mz_largest_peak,
/// mz_average, charge (UInt8), intensity, scan (fractional), mobility (the SDK's 1/K0),
/// isolation_mz, isolation_width, collision_energy, ms2_frames. spectra: the same (intensity
/// named precursor_intensity) plus mz and intensity (List<Float64>). windows: window_group,
/// scan_begin, scan_end, isolation_mz, isolation_width, collision_energy, mobility_upper,
/// mobility_lower, frames.
///
/// Raises FormatError for a corrupt frame or metadata (record = the frame id, offset = the
/// byte offset in analysis.tdf_bin), OSError for a missing folder, ValueError for a bad option.
#[pyfunction]
#[pyo3(signature = (path, *, table="peaks", ms_level=None, frames=None, rt=None, mobility=None, mz=None, centroid=None, calibration="auto", columns=None, threads=None, batch_rows=None, storage_options=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_tdf(
    py: Python<'_>,
    path: PathBuf,
    table: &str,
    ms_level: Option<u8>,
    frames: Option<(u32, u32)>,
    rt: Option<(f64, f64)>,
    mobility: Option<(f64, f64)>,
    mz: Option<(f64, f64)>,
    centroid: Option<u32>,
    calibration: &str,
    columns: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<PyBatchStream> {
    let options = tdf_options(
        ms_level,
        frames,
        calibration,
        columns,
        threads,
        batch_rows,
        (table, rt, mobility, mz, centroid),
        storage_options,
    )
    .map_err(|e| py_err(py, e))?;
    open(py, || Stream::tdf(&path, &options))
}

/// Converts a timsTOF .d folder to an Arrow IPC file in process, as `rawarrow tdf` does.
///
/// Args:
///     input: the .d folder (or a URL prefix, as for read_tdf).
///     output, format, compression, postgres, schema, pg_table, resume, stats, progress: as
///         for convert_bam (output may be .mgf: the spectra table as MGF; progress reports
///         (rows, rows done, rows expected: for peaks, those the selected frames declare)).
///     table, ms_level, frames, rt, mobility, mz, centroid, calibration, columns, threads,
///         batch_rows, storage_options: as for read_tdf.
///
/// Returns (rows written, seconds).
#[pyfunction]
#[pyo3(signature = (input, output=None, *, format=None, compression=None, postgres=None, schema=None, pg_table=None, resume=false, stats=None, table=None, ms_level=None, frames=None, rt=None, mobility=None, mz=None, centroid=None, calibration="auto", columns=None, threads=None, batch_rows=None, progress=None, storage_options=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn convert_tdf(
    py: Python<'_>,
    input: PathBuf,
    output: Option<&Bound<'_, PyAny>>,
    format: Option<String>,
    compression: Option<&str>,
    postgres: Option<String>,
    schema: Option<String>,
    pg_table: Option<String>,
    resume: bool,
    stats: Option<PathBuf>,
    table: Option<&str>,
    ms_level: Option<u8>,
    frames: Option<(u32, u32)>,
    rt: Option<(f64, f64)>,
    mobility: Option<(f64, f64)>,
    mz: Option<(f64, f64)>,
    centroid: Option<u32>,
    calibration: &str,
    columns: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    progress: Option<&Bound<'_, PyAny>>,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<(u64, f64)> {
    let pg = Pg {
        postgres,
        schema,
        pg_table,
        resume,
        stats,
    };
    let out = self::output(dest(output)?, pg, format, compression, None, threads)
        .map_err(|e| py_err(py, e))?;
    let table = table.unwrap_or(out.tdf_table().name());
    let options = tdf_options(
        ms_level,
        frames,
        calibration,
        columns,
        threads,
        batch_rows,
        (table, rt, mobility, mz, centroid),
        storage_options,
    )
    .map_err(|e| py_err(py, e))?;
    let input = rawarrow::convert::Input::Tdf {
        path: input,
        options,
    };
    let s = run_convert(py, input, out, progress)?;
    Ok((s.rows, s.seconds))
}

/// Plans frame-range splits of a timsTOF run: [(first, last, peaks)] (used by rawarrow.ray).
#[pyfunction]
#[pyo3(signature = (path, peaks_per_split, storage_options=None))]
pub(crate) fn _plan_tdf(
    py: Python<'_>,
    path: PathBuf,
    peaks_per_split: u64,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<Vec<(u32, u32, u64)>> {
    let storage: Vec<(String, String)> = storage_options.unwrap_or_default().into_iter().collect();
    let splits = py
        .detach(|| rawarrow::stream::plan("tdf", &[&path], peaks_per_split, &storage))
        .map_err(|e| py_err(py, e))?;
    Ok(splits
        .into_iter()
        .filter_map(|s| match s {
            rawarrow::stream::Split::Tdf {
                first, last, peaks, ..
            } => Some((first, last, peaks)),
            _ => None,
        })
        .collect())
}
