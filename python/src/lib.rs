//! `rawarrow._rawarrow`: the Python face of `rawarrow::stream` and `rawarrow::convert`.
//!
//! Nothing is decided here: keyword arguments become the library's option structs (which check
//! them), `rawarrow::Error` becomes `FormatError`, `OSError`, `ValueError` or `KeyboardInterrupt`,
//! and batches leave through the Arrow PyCapsule interface (arrow-rs's C data and stream
//! export: the readers' arena buffers, not copies). The GIL is released while decoding.
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arrow_array::ffi::FFI_ArrowArray;
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{Array, RecordBatch, StructArray};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::SchemaRef;
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};
use rawarrow::convert::Output;
use rawarrow::stream::{
    BamOptions, BatchStream as Stream, MidiOptions, MidiTable, Progress, TdfOptions,
};
use rawarrow::{Error, ErrorKind};

create_exception!(
    rawarrow,
    FormatError,
    PyValueError,
    "The input is not what its format says it must be.\n\nAttributes: `path` (the file, or \
     None), `offset` (byte offset where the bad data starts: the compressed offset of the BGZF \
     block for BAM, the offset in analysis.tdf_bin for a timsTOF frame, the offset in the file \
     for MIDI; or None) and `record` (0-based record index for BAM, frame id for timsTOF; or \
     None). The message is the one the rawarrow CLI prints."
);

fn path_text(p: Option<&std::path::Path>) -> Option<String> {
    p.map(|p| p.to_string_lossy().into_owned())
}

/// A library error as the Python exception the package documents.
fn py_err(py: Python<'_>, e: Error) -> PyErr {
    match e.kind() {
        ErrorKind::Usage => PyValueError::new_err(e.to_string()),
        ErrorKind::Interrupted => PyKeyboardInterrupt::new_err(e.to_string()),
        ErrorKind::Worker => PyRuntimeError::new_err(e.to_string()),
        ErrorKind::Io => {
            let path = path_text(e.path());
            match (e.raw_os_error(), &path) {
                // OSError(errno, strerror, filename) picks the subclass (FileNotFoundError,
                // IsADirectoryError, ...) and prints "[Errno N] strerror: 'filename'".
                (Some(errno), Some(p)) => {
                    let full = e.to_string();
                    let strerror = full
                        .strip_prefix(p.as_str())
                        .and_then(|m| m.strip_prefix(": "))
                        .unwrap_or(&full)
                        .to_string();
                    PyOSError::new_err((errno, strerror, p.clone()))
                }
                (Some(errno), None) => PyOSError::new_err((errno, e.to_string())),
                (None, _) => PyOSError::new_err(e.to_string()),
            }
        }
        _ => {
            let err = FormatError::new_err(e.to_string());
            let value = err.value(py);
            let set = |name: &str, v: Py<PyAny>| value.setattr(name, v);
            let attrs = [
                (
                    "path",
                    path_text(e.path()).into_pyobject(py).map(|v| v.unbind()),
                ),
                ("offset", e.offset().into_pyobject(py).map(|v| v.unbind())),
                ("record", e.index().into_pyobject(py).map(|v| v.unbind())),
            ];
            for (name, v) in attrs {
                if let Err(x) = v.map_err(PyErr::from).and_then(|v| set(name, v)) {
                    return x;
                }
            }
            err
        }
    }
}

/// One path, or a sequence of paths (str or os.PathLike).
fn paths(obj: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(p) = obj.extract::<PathBuf>() {
        return Ok(vec![p]);
    }
    obj.extract::<Vec<PathBuf>>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "expected a path (str or os.PathLike) or a sequence of paths",
        )
    })
}

fn warn(py: Python<'_>, stream: &mut Stream) -> PyResult<()> {
    for w in stream.take_warnings() {
        let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
        let text = CString::new(w.replace('\0', "\\0")).expect("NUL bytes were replaced");
        PyErr::warn(py, &category, &text, 1)?;
    }
    Ok(())
}

fn schema_capsule<'py>(py: Python<'py>, schema: &SchemaRef) -> PyResult<Bound<'py, PyCapsule>> {
    let ffi = FFI_ArrowSchema::try_from(schema.as_ref())
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    PyCapsule::new(py, ffi, Some(c"arrow_schema".to_owned()))
}

/// Arrow record batches from a rawarrow reader.
///
/// Iterate it for `RecordBatch` objects, or hand it to any consumer of the Arrow PyCapsule
/// stream interface (`__arrow_c_stream__`), which takes over the rest of the stream without a
/// copy: `pyarrow.RecordBatchReader.from_stream(s)`, `pyarrow.table(s)`, `polars.DataFrame(s)`,
/// `duckdb.sql("select ... from s")`. A stream is read once. `close()` (or leaving a `with`
/// block) stops the reader and joins its worker threads.
#[pyclass(module = "rawarrow", name = "BatchStream")]
struct PyBatchStream {
    inner: Mutex<Option<Stream>>,
    schema: SchemaRef,
}

impl PyBatchStream {
    fn new(stream: Stream) -> Self {
        Self {
            schema: stream.schema(),
            inner: Mutex::new(Some(stream)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Stream>> {
        // A panic while the lock was held cannot leave a half-updated stream behind: the
        // library ends the stream on its own panics, so the value is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl PyBatchStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyRecordBatch>> {
        let mut guard = self.lock();
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        let next = py.detach(|| stream.next_batch());
        warn(py, stream)?;
        match next {
            Ok(Some(batch)) => Ok(Some(PyRecordBatch { batch })),
            Ok(None) => {
                *guard = None; // joins the workers now, not when Python collects the object
                Ok(None)
            }
            Err(e) => {
                *guard = None;
                Err(py_err(py, e))
            }
        }
    }

    /// The Arrow PyCapsule stream interface: hands the rest of the stream over (once).
    /// `requested_schema` is accepted and ignored (the schema is fixed by the options).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let stream = self.lock().take().ok_or_else(|| {
            PyValueError::new_err("this stream was already read or closed; open a new one")
        })?;
        let ffi = FFI_ArrowArrayStream::new(Box::new(stream));
        PyCapsule::new(py, ffi, Some(c"arrow_array_stream".to_owned()))
    }

    /// The Arrow PyCapsule schema interface.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, &self.schema)
    }

    /// The names of the columns, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// `(rows, done, total, unit)`: rows yielded so far and work done out of the total, in
    /// compressed bytes (BAM), peaks (timsTOF) or files (MIDI). None once the stream was handed
    /// over or closed.
    #[getter]
    fn progress(&self) -> Option<(u64, u64, u64, &'static str)> {
        self.lock().as_ref().map(|s| {
            let p = s.progress();
            (p.rows, p.done, p.total, p.unit)
        })
    }

    /// Stops reading and joins the worker threads (also done at the end of the stream).
    fn close(&self, py: Python<'_>) {
        let stream = self.lock().take();
        py.detach(|| drop(stream));
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) {
        self.close(py);
    }

    fn __repr__(&self) -> String {
        let state = match self.lock().as_ref() {
            Some(s) => {
                let p = s.progress();
                format!("{} rows so far, {}/{} {}", p.rows, p.done, p.total, p.unit)
            }
            None => "finished".into(),
        };
        format!(
            "rawarrow.BatchStream([{}]; {state})",
            self.column_names().join(", ")
        )
    }
}

/// One Arrow record batch. Implements the Arrow PyCapsule array interface
/// (`__arrow_c_array__`): `pyarrow.record_batch(b)` or `polars.DataFrame(b)` take it without a
/// copy.
#[pyclass(module = "rawarrow", name = "RecordBatch", frozen)]
struct PyRecordBatch {
    batch: RecordBatch,
}

#[pymethods]
impl PyRecordBatch {
    /// The Arrow PyCapsule array interface: `(schema capsule, array capsule)` of a struct array.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let schema = schema_capsule(py, &self.batch.schema())?;
        let data = StructArray::from(self.batch.clone()).into_data();
        let array = PyCapsule::new(
            py,
            FFI_ArrowArray::new(&data),
            Some(c"arrow_array".to_owned()),
        )?;
        Ok((schema, array))
    }

    /// The Arrow PyCapsule schema interface.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, &self.batch.schema())
    }

    /// Rows in the batch.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Columns in the batch.
    #[getter]
    fn num_columns(&self) -> usize {
        self.batch.num_columns()
    }

    /// The names of the columns, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        let schema = self.batch.schema();
        schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Bytes of Arrow memory the batch refers to.
    #[getter]
    fn nbytes(&self) -> usize {
        self.batch
            .columns()
            .iter()
            .map(|c| c.get_array_memory_size())
            .sum()
    }

    fn __len__(&self) -> usize {
        self.batch.num_rows()
    }

    fn __repr__(&self) -> String {
        format!(
            "rawarrow.RecordBatch({} rows: {})",
            self.batch.num_rows(),
            self.column_names().join(", ")
        )
    }
}

/// The record selection options read_bam and convert_bam share.
struct Select {
    min_mapq: u8,
    require_flags: Option<String>,
    exclude_flags: Option<String>,
    regions: Option<Vec<String>>,
    index: Option<PathBuf>,
    with_file: bool,
}

impl Select {
    /// FLAG bits come as an int or as samtools' text ("0x904", "UNMAP,SECONDARY"); the
    /// library parses both.
    fn new(
        min_mapq: u8,
        require_flags: Option<&Bound<'_, PyAny>>,
        exclude_flags: Option<&Bound<'_, PyAny>>,
        regions: Option<Vec<String>>,
        index: Option<PathBuf>,
        with_file: bool,
    ) -> PyResult<Self> {
        let text = |v: Option<&Bound<'_, PyAny>>| -> PyResult<Option<String>> {
            v.map(|v| Ok(v.str()?.to_string())).transpose()
        };
        Ok(Self {
            min_mapq,
            require_flags: text(require_flags)?,
            exclude_flags: text(exclude_flags)?,
            regions,
            index,
            with_file,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn bam_options(
    py: Python<'_>,
    columns: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    limit: Option<u64>,
    byte_range: Option<(u64, u64)>,
    select: Select,
) -> PyResult<BamOptions> {
    let flags = |t: &Option<String>| -> PyResult<u16> {
        t.as_deref()
            .map_or(Ok(0), rawarrow::bam::parse_flags)
            .map_err(|m| py_err(py, Error::usage(m)))
    };
    Ok(BamOptions {
        columns,
        tags: tags.unwrap_or_default(),
        threads,
        batch_rows,
        limit,
        byte_range,
        filter: rawarrow::bam::Filter::default()
            .min_mapq(select.min_mapq)
            .require_flags(flags(&select.require_flags)?)
            .exclude_flags(flags(&select.exclude_flags)?),
        regions: select.regions.unwrap_or_default(),
        index: select.index,
        with_file: select.with_file,
    })
}

/// The table and slices of a timsTOF read: (table, rt, mobility, mz, centroid).
type TdfSelect<'a> = (
    &'a str,
    Option<(f64, f64)>,
    Option<(f64, f64)>,
    Option<(f64, f64)>,
    Option<u32>,
);

fn tdf_options(
    ms_level: Option<u8>,
    frames: Option<(u32, u32)>,
    calibration: &str,
    columns: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    (table, rt, mobility, mz, centroid): TdfSelect<'_>,
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
    })
}

fn midi_options(
    table: &str,
    threads: Option<usize>,
    files_per_batch: Option<usize>,
    velocity_threshold: u8,
    merge_window_ms: f64,
    key_profile: &str,
) -> Result<MidiOptions, Error> {
    Ok(MidiOptions {
        table: table.parse::<MidiTable>()?,
        threads,
        files_per_batch,
        velocity_threshold,
        merge_window_ms,
        key_profile: key_profile.parse().map_err(Error::usage)?,
    })
}

/// Opens a stream with the GIL released (opening reads headers and metadata).
fn open(
    py: Python<'_>,
    f: impl FnOnce() -> Result<Stream, Error> + Send,
) -> PyResult<PyBatchStream> {
    let mut stream = py.detach(f).map_err(|e| py_err(py, e))?;
    warn(py, &mut stream)?;
    Ok(PyBatchStream::new(stream))
}

/// Reads BAM files as a stream of Arrow record batches, in file order.
///
/// Args:
///     paths: a path (str or os.PathLike) or a sequence of paths. Several files go into one
///         stream, one after the other; they must have the same references.
///     columns: names of the columns to decode (kept in schema order; skipped columns cost
///         nothing). Default: all of qname, flag, rname, pos, mapq, cigar, rnext, pnext, tlen,
///         seq, qual, end, bin, tags.
///     tags: typed aux-tag columns appended after the others, e.g. ["NM", "XF:f", "ZB:B"]:
///         "TAG" (type from the tag's first records) or "TAG:TYPE" with TYPE i (Int64),
///         f (Float32), Z (Utf8, any value as its SAM text), B (List<Int64>), B:f
///         (List<Float32>). Null where a record lacks the tag.
///     threads: threads in all (default: the cores this process may use), each inflating or
///         decoding, whichever job is queued first; 1 reads on the calling thread.
///     batch_rows: rows per batch (default 65,536).
///     limit: stop after this many records of each file.
///     byte_range: (start, end): only the records that begin in BGZF blocks at compressed
///         offsets start..end of the one input, found without an index; the splits of any
///         partition of a file's bytes give every record once (what rawarrow.ray plans).
///     min_mapq: only records with MAPQ at least this (255 passes; samtools view -q).
///     require_flags, exclude_flags: only records with all of / none of these FLAG bits: an
///         int, or samtools' text ("0x904", "UNMAP,SECONDARY"); samtools view -f / -F.
///         Applied before anything else is decoded; `limit` counts records kept.
///     regions: only records overlapping these regions, samtools' syntax ("chr1",
///         "chr1:1,000-2,000", "{name:with:colons}:1-9", "*"), in the order given, read
///         through the index beside each file (IN.bam.bai, IN.bai, IN.bam.csi, IN.csi).
///     index: the BAI/CSI index for regions (one input only).
///     with_file: add a `file` column (Dictionary(Int32, Utf8): the input's path).
///
/// Schema: qname Utf8 (null for "*"), flag UInt16, rname Dictionary(Int32, Utf8) (null when
/// unmapped), pos Int32 (1-based, null for 0), mapq UInt8 (null for 255), cigar Utf8 (the real
/// CIGAR when stored in a CG:B,I tag), rnext Dictionary(Int32, Utf8) (the reference name, never
/// "="), pnext Int32, tlen Int32, seq Utf8, qual Utf8 (phred+33; > 93 written as "~"), end
/// Int32 (1-based inclusive alignment end), bin UInt16 (the BAI bin samtools index files the
/// record under; null past 2^29), tags Utf8 (every aux field as samtools view prints
/// it, tab-separated).
///
/// Returns a BatchStream: iterate it for RecordBatch objects, or give it to
/// pyarrow.RecordBatchReader.from_stream, polars.DataFrame or duckdb.sql.
///
/// Raises FormatError (a ValueError with path, offset and record) for malformed input,
/// OSError when a file cannot be opened, ValueError for a bad option.
#[pyfunction]
#[pyo3(signature = (paths, *, columns=None, tags=None, threads=None, batch_rows=None, limit=None, byte_range=None, min_mapq=0, require_flags=None, exclude_flags=None, regions=None, index=None, with_file=false))]
#[allow(clippy::too_many_arguments)]
fn read_bam(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    columns: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    limit: Option<u64>,
    byte_range: Option<(u64, u64)>,
    min_mapq: u8,
    require_flags: Option<&Bound<'_, PyAny>>,
    exclude_flags: Option<&Bound<'_, PyAny>>,
    regions: Option<Vec<String>>,
    index: Option<PathBuf>,
    with_file: bool,
) -> PyResult<PyBatchStream> {
    let paths = self::paths(paths)?;
    let select = Select::new(
        min_mapq,
        require_flags,
        exclude_flags,
        regions,
        index,
        with_file,
    )?;
    let options = bam_options(
        py, columns, tags, threads, batch_rows, limit, byte_range, select,
    )?;
    open(py, || Stream::bam(&paths, &options))
}

/// Reads a Bruker timsTOF .d folder as a stream of Arrow record batches: one row per peak, or
/// the precursors, spectra or windows table.
///
/// Args:
///     path: the .d folder (analysis.tdf and analysis.tdf_bin, zstd frames).
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
#[pyo3(signature = (path, *, table="peaks", ms_level=None, frames=None, rt=None, mobility=None, mz=None, centroid=None, calibration="auto", columns=None, threads=None, batch_rows=None))]
#[allow(clippy::too_many_arguments)]
fn read_tdf(
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
) -> PyResult<PyBatchStream> {
    let options = tdf_options(
        ms_level,
        frames,
        calibration,
        columns,
        threads,
        batch_rows,
        (table, rt, mobility, mz, centroid),
    )
    .map_err(|e| py_err(py, e))?;
    open(py, || Stream::tdf(&path, &options))
}

/// Reads Standard MIDI Files as a stream of Arrow record batches, in sorted path order.
///
/// Args:
///     paths: files and folders (folders are walked recursively for .mid .midi .kar .rmi .smf).
///     table: "notes" (one row per note) or "files" (one row per file, one batch at the end).
///     threads: worker threads (default: the cores this process may use).
///     files_per_batch: files per job and per notes batch (default 256).
///     velocity_threshold: onset detection ignores notes at or below this velocity.
///     merge_window_ms: onset detection merges notes within this many milliseconds.
///     key_profile: "krumhansl" (music21's analyze('krumhansl')), "aarden" or "temperley".
///
/// notes: file Dictionary(Int32, Utf8), track UInt16, channel, pitch, velocity UInt8,
/// onset_tick, offset_tick UInt64, onset_s, duration_s Float64, program UInt8 (the channel's
/// program at the onset, per track as pretty_midi keeps it), is_drum Boolean (channel 10).
/// files: file, format, ppq (null for SMPTE), tracks, notes, duration_s, tempo_bpm_meta,
/// tempo_bpm_estimate, error (null when parsed), warnings (null when nothing was odd),
/// key_estimate ("E- major", as music21 spells keys), key_confidence (the correlation),
/// key_signature_meta, time_signature ("3/4", the first), time_signature_changes,
/// programs List<UInt8>, has_drums, pitch_min, pitch_max, note_density (notes/s),
/// max_polyphony.
/// A corrupt file is a files row with error set; it never stops the stream.
#[pyfunction]
#[pyo3(signature = (paths, *, table="notes", threads=None, files_per_batch=None, velocity_threshold=0, merge_window_ms=30.0, key_profile="krumhansl"))]
#[allow(clippy::too_many_arguments)]
fn read_midi(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    table: &str,
    threads: Option<usize>,
    files_per_batch: Option<usize>,
    velocity_threshold: u8,
    merge_window_ms: f64,
    key_profile: &str,
) -> PyResult<PyBatchStream> {
    let paths = self::paths(paths)?;
    let options = midi_options(
        table,
        threads,
        files_per_batch,
        velocity_threshold,
        merge_window_ms,
        key_profile,
    )
    .map_err(|e| py_err(py, e))?;
    open(py, || Stream::midi(&paths, &options))
}

/// Reports progress at most ten times a second, and checks for Ctrl-C after every batch.
struct Reporter {
    callback: Option<Py<PyAny>>,
    bar: Option<indicatif::ProgressBar>,
    last: Option<Instant>,
    /// The Python exception that stopped the conversion (KeyboardInterrupt, or one the
    /// callback raised), raised again once the workers are joined.
    raised: Option<PyErr>,
}

impl Reporter {
    fn report(&mut self, p: Progress, last: bool) -> Result<(), Error> {
        let due = last
            || self
                .last
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        let outcome = Python::attach(|py| {
            py.check_signals()?;
            if due {
                if let Some(bar) = &self.bar {
                    bar.set_length(p.total);
                    bar.set_position(p.done);
                    bar.set_message(format!("{} rows", p.rows));
                }
                if let Some(cb) = &self.callback {
                    cb.bind(py).call1((p.rows, p.done, p.total))?;
                }
            }
            Ok::<(), PyErr>(())
        });
        if let Err(e) = outcome {
            self.raised = Some(e);
            return Err(Error::interrupted());
        }
        if due {
            self.last = Some(Instant::now());
        }
        Ok(())
    }
}

/// Runs a conversion with the GIL released; Ctrl-C or an exception from the callback stops it
/// within one batch, the workers are joined, and no output file is left.
fn run_convert(
    py: Python<'_>,
    input: rawarrow::convert::Input,
    output: Output,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<ConvertSummary> {
    use std::io::IsTerminal;
    let (want_bar, callback) = match progress {
        Some(p) if p.is_callable() => (false, Some(p.clone().unbind())),
        Some(p) => (p.is_truthy()?, None),
        None => (false, None),
    };
    let bar = (want_bar && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        let style =
            indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% ETA {eta} {msg}")
                .expect("a valid template");
        b.set_style(style);
        b
    });
    let mut reporter = Reporter {
        callback,
        bar,
        last: None,
        raised: None,
    };
    let result = py.detach(|| -> Result<ConvertSummary, Error> {
        let summary =
            rawarrow::convert::run(&input, &output, &mut |p, _| reporter.report(p, false))?;
        reporter.report(summary.progress, true)?;
        Ok(ConvertSummary {
            rows: summary.rows,
            seconds: summary.seconds,
            warnings: summary.warnings,
        })
    });
    if let Some(bar) = &reporter.bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(summary) => {
            for w in &summary.warnings {
                let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
                let text = CString::new(w.replace('\0', "\\0")).expect("NUL bytes were replaced");
                PyErr::warn(py, &category, &text, 1)?;
            }
            Ok(summary)
        }
        Err(e) => Err(reporter.raised.take().unwrap_or_else(|| py_err(py, e))),
    }
}

struct ConvertSummary {
    rows: u64,
    seconds: f64,
    warnings: Vec<String>,
}

/// A `convert_*` call's PostgreSQL arguments.
struct Pg {
    postgres: Option<String>,
    schema: Option<String>,
    pg_table: Option<String>,
    resume: bool,
    /// Not PostgreSQL's, but carried the same way: the run statistics' JSON path.
    stats: Option<PathBuf>,
}

#[allow(clippy::too_many_arguments)]
fn output(
    path: Option<PathBuf>,
    pg: Pg,
    format: Option<String>,
    compression: Option<&str>,
    files: Option<PathBuf>,
    threads: Option<usize>,
) -> Result<Output, Error> {
    let mut out = Output::from_parts(
        path,
        pg.postgres,
        pg.schema,
        pg.pg_table,
        pg.resume,
        format,
        compression,
        files,
        threads,
    )?;
    out.stats = pg.stats;
    Ok(out)
}

/// Converts BAM files to one Arrow IPC file in process, as `rawarrow bam` does.
///
/// Args:
///     inputs: a path or a sequence of paths (same references).
///     output: the destination: .arrow/.feather/.ipc (IPC file), .arrows (IPC stream) or
///         .parquet (Parquet: zstd, 1,048,576-row groups, statistics, the Arrow schema
///         embedded), or any name with `format`. Written under a temporary name and renamed
///         when complete: an error or Ctrl-C leaves nothing.
///     format: "ipc" (file), "stream" or "parquet" ("mgf" for convert_tdf's spectra); default:
///         from the output name (.mgf: MGF).
///     compression: "none", "lz4" or "zstd"; default: none for IPC, zstd for Parquet.
///     postgres: write into PostgreSQL instead of `output` (a URL such as
///         "postgresql://user@host/db" or "host=/run/postgresql dbname=db"): the table is
///         created if missing, else appended to, by binary COPY. MIDI notes (with their files
///         table) and timsTOF peaks commit each batch in its own transaction; other tables
///         commit once at the end, so a stopped conversion leaves nothing.
///     schema: the PostgreSQL schema (default "public"); pg_table: the table (default:
///         records, peaks, precursors, spectra, windows or notes).
///     resume: continue after what a stopped run committed (MIDI files already in the files
///         table are skipped; timsTOF peaks start after the table's last frame); a table
///         without such a key (BAM records) is a ValueError.
///     threads: also the output's encoding workers (with more than one, IPC compression and
///         Parquet column chunks are encoded on them and a writer thread writes the file; the
///         bytes are those one thread writes).
///     stats: write run statistics here as JSON (bytes in and out, rows, wall time per phase,
///         CPU seconds per thread and role, peak memory), as the CLI's --stats.
///     columns, tags, threads, batch_rows, limit, byte_range, min_mapq, require_flags,
///         exclude_flags, regions, index, with_file: as for read_bam.
///     progress: a callable called with (records, input bytes done, input bytes total) at most
///         ten times a second and once at the end, or True for a progress bar on a terminal.
///
/// Returns (rows written, seconds). The GIL is released while converting; Ctrl-C raises
/// KeyboardInterrupt within one batch, after the workers are joined and the partial file is
/// removed; an exception raised by the progress callable stops the conversion the same way.
#[pyfunction]
#[pyo3(signature = (inputs, output=None, *, format=None, compression=None, postgres=None, schema=None, pg_table=None, resume=false, stats=None, columns=None, tags=None, threads=None, batch_rows=None, limit=None, byte_range=None, progress=None, min_mapq=0, require_flags=None, exclude_flags=None, regions=None, index=None, with_file=false))]
#[allow(clippy::too_many_arguments)]
fn convert_bam(
    py: Python<'_>,
    inputs: &Bound<'_, PyAny>,
    output: Option<PathBuf>,
    format: Option<String>,
    compression: Option<&str>,
    postgres: Option<String>,
    schema: Option<String>,
    pg_table: Option<String>,
    resume: bool,
    stats: Option<PathBuf>,
    columns: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    limit: Option<u64>,
    byte_range: Option<(u64, u64)>,
    progress: Option<&Bound<'_, PyAny>>,
    min_mapq: u8,
    require_flags: Option<&Bound<'_, PyAny>>,
    exclude_flags: Option<&Bound<'_, PyAny>>,
    regions: Option<Vec<String>>,
    index: Option<PathBuf>,
    with_file: bool,
) -> PyResult<(u64, f64)> {
    let paths = self::paths(inputs)?;
    let select = Select::new(
        min_mapq,
        require_flags,
        exclude_flags,
        regions,
        index,
        with_file,
    )?;
    let options = bam_options(
        py, columns, tags, threads, batch_rows, limit, byte_range, select,
    )?;
    let pg = Pg {
        postgres,
        schema,
        pg_table,
        resume,
        stats,
    };
    let out =
        self::output(output, pg, format, compression, None, threads).map_err(|e| py_err(py, e))?;
    let input = rawarrow::convert::Input::Bam { paths, options };
    let s = run_convert(py, input, out, progress)?;
    Ok((s.rows, s.seconds))
}

/// Converts a timsTOF .d folder to an Arrow IPC file in process, as `rawarrow tdf` does.
///
/// Args:
///     input: the .d folder.
///     output, format, compression, postgres, schema, pg_table, resume, stats, progress: as
///         for convert_bam (output may be .mgf: the spectra table as MGF; progress reports
///         (rows, rows done, rows expected: for peaks, those the selected frames declare)).
///     table, ms_level, frames, rt, mobility, mz, centroid, calibration, columns, threads,
///         batch_rows: as for read_tdf.
///
/// Returns (rows written, seconds).
#[pyfunction]
#[pyo3(signature = (input, output=None, *, format=None, compression=None, postgres=None, schema=None, pg_table=None, resume=false, stats=None, table=None, ms_level=None, frames=None, rt=None, mobility=None, mz=None, centroid=None, calibration="auto", columns=None, threads=None, batch_rows=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn convert_tdf(
    py: Python<'_>,
    input: PathBuf,
    output: Option<PathBuf>,
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
) -> PyResult<(u64, f64)> {
    let pg = Pg {
        postgres,
        schema,
        pg_table,
        resume,
        stats,
    };
    let out =
        self::output(output, pg, format, compression, None, threads).map_err(|e| py_err(py, e))?;
    let table = table.unwrap_or(out.tdf_table().name());
    let options = tdf_options(
        ms_level,
        frames,
        calibration,
        columns,
        threads,
        batch_rows,
        (table, rt, mobility, mz, centroid),
    )
    .map_err(|e| py_err(py, e))?;
    let input = rawarrow::convert::Input::Tdf {
        path: input,
        options,
    };
    let s = run_convert(py, input, out, progress)?;
    Ok((s.rows, s.seconds))
}

/// Converts MIDI files and folders to an Arrow IPC notes table in process, as `rawarrow midi`
/// does.
///
/// Args:
///     inputs: files and folders.
///     output: the notes table's destination; format, compression, postgres, schema,
///         pg_table, resume, stats and progress as for convert_bam (progress reports (notes,
///         files done, files)); into PostgreSQL, the files table goes to table "files".
///     files: also write the files table (one row per file) to this path.
///     table: "notes" (default) or "files": the table `output` gets.
///     threads, files_per_batch, velocity_threshold, merge_window_ms, key_profile: as for
///         read_midi.
///
/// Returns (notes written, seconds).
#[pyfunction]
#[pyo3(signature = (inputs, output=None, *, files=None, format=None, compression=None, postgres=None, schema=None, pg_table=None, resume=false, stats=None, table="notes", threads=None, files_per_batch=None, velocity_threshold=0, merge_window_ms=30.0, key_profile="krumhansl", progress=None))]
#[allow(clippy::too_many_arguments)]
fn convert_midi(
    py: Python<'_>,
    inputs: &Bound<'_, PyAny>,
    output: Option<PathBuf>,
    files: Option<PathBuf>,
    format: Option<String>,
    compression: Option<&str>,
    postgres: Option<String>,
    schema: Option<String>,
    pg_table: Option<String>,
    resume: bool,
    stats: Option<PathBuf>,
    table: &str,
    threads: Option<usize>,
    files_per_batch: Option<usize>,
    velocity_threshold: u8,
    merge_window_ms: f64,
    key_profile: &str,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<(u64, f64)> {
    let paths = self::paths(inputs)?;
    let options = midi_options(
        table,
        threads,
        files_per_batch,
        velocity_threshold,
        merge_window_ms,
        key_profile,
    )
    .map_err(|e| py_err(py, e))?;
    let pg = Pg {
        postgres,
        schema,
        pg_table,
        resume,
        stats,
    };
    let out =
        self::output(output, pg, format, compression, files, threads).map_err(|e| py_err(py, e))?;
    let input = rawarrow::convert::Input::Midi {
        paths,
        list: None,
        options,
    };
    let s = run_convert(py, input, out, progress)?;
    Ok((s.rows, s.seconds))
}

fn text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Plans byte-range splits of BAM files: [(path, start, end)] (used by rawarrow.ray).
#[pyfunction]
fn _plan_bam(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    split_bytes: u64,
) -> PyResult<Vec<(String, u64, u64)>> {
    let paths = self::paths(paths)?;
    let splits = py
        .detach(|| rawarrow::stream::plan_bam(&paths, split_bytes))
        .map_err(|e| py_err(py, e))?;
    Ok(splits
        .into_iter()
        .filter_map(|s| match s {
            rawarrow::stream::Split::Bam { path, start, end } => Some((text(&path), start, end)),
            _ => None,
        })
        .collect())
}

/// Plans frame-range splits of a timsTOF run: [(first, last, peaks)] (used by rawarrow.ray).
#[pyfunction]
fn _plan_tdf(
    py: Python<'_>,
    path: PathBuf,
    peaks_per_split: u64,
) -> PyResult<Vec<(u32, u32, u64)>> {
    let splits = py
        .detach(|| rawarrow::stream::plan_tdf(&path, peaks_per_split))
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

/// Plans file-list splits of MIDI inputs: [(paths, bytes)] (used by rawarrow.ray).
#[pyfunction]
fn _plan_midi(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    files_per_split: usize,
) -> PyResult<Vec<(Vec<String>, u64)>> {
    let paths = self::paths(paths)?;
    let splits = py
        .detach(|| rawarrow::stream::plan_midi(&paths, files_per_split))
        .map_err(|e| py_err(py, e))?;
    Ok(splits
        .into_iter()
        .filter_map(|s| match s {
            rawarrow::stream::Split::Midi { paths, bytes } => {
                Some((paths.iter().map(|p| text(p)).collect(), bytes))
            }
            _ => None,
        })
        .collect())
}

/// BAM, Bruker timsTOF .d and Standard MIDI Files to Apache Arrow at memory speed.
#[pymodule]
fn _rawarrow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FormatError", m.py().get_type::<FormatError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyBatchStream>()?;
    m.add_class::<PyRecordBatch>()?;
    m.add_function(wrap_pyfunction!(read_bam, m)?)?;
    m.add_function(wrap_pyfunction!(read_tdf, m)?)?;
    m.add_function(wrap_pyfunction!(read_midi, m)?)?;
    m.add_function(wrap_pyfunction!(convert_bam, m)?)?;
    m.add_function(wrap_pyfunction!(convert_tdf, m)?)?;
    m.add_function(wrap_pyfunction!(convert_midi, m)?)?;
    m.add_function(wrap_pyfunction!(_plan_bam, m)?)?;
    m.add_function(wrap_pyfunction!(_plan_tdf, m)?)?;
    m.add_function(wrap_pyfunction!(_plan_midi, m)?)?;
    Ok(())
}
