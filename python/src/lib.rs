//! `rawarrow._rawarrow`: the Python face of `rawarrow::stream` and `rawarrow::convert`.
//!
//! Nothing is decided here: keyword arguments become the library's option structs (which check
//! them), `rawarrow::Error` becomes `FormatError`, `OSError`, `ValueError` or `KeyboardInterrupt`,
//! and batches leave through the Arrow PyCapsule interface (arrow-rs's C data and stream
//! export: the readers' arena buffers, not copies). The GIL is released while decoding.
#![forbid(unsafe_code)]

mod bam;
mod convert;
mod midi;
mod scan;
mod stream;
mod tdf;

use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rawarrow::{Error, ErrorKind};

pub(crate) use bam::*;
pub(crate) use convert::*;
pub(crate) use midi::*;
pub(crate) use scan::*;
pub(crate) use stream::*;
pub(crate) use tdf::*;

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

pub(crate) fn path_text(p: Option<&std::path::Path>) -> Option<String> {
    p.map(|p| p.to_string_lossy().into_owned())
}

/// A library error as the Python exception the package documents.
pub(crate) fn py_err(py: Python<'_>, e: Error) -> PyErr {
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
pub(crate) fn paths(obj: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(p) = obj.extract::<PathBuf>() {
        return Ok(vec![p]);
    }
    obj.extract::<Vec<PathBuf>>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "expected a path (str or os.PathLike) or a sequence of paths",
        )
    })
}

/// A binary file object (not a path: anything with `read`) as a reader, and the name its
/// errors give (its `name`, else `<file object>`).
pub(crate) fn file_object(obj: &Bound<'_, PyAny>) -> PyResult<Option<(String, PyReader)>> {
    if obj.extract::<PathBuf>().is_ok() || !obj.hasattr("read")? {
        return Ok(None);
    }
    let name = obj
        .getattr("name")
        .ok()
        .and_then(|n| n.extract::<String>().ok())
        .unwrap_or_else(|| "<file object>".into());
    Ok(Some((name, PyReader(obj.clone().unbind()))))
}

/// A Python binary file object as a reader: each read takes the GIL for the call (the
/// reading itself runs without it).
pub(crate) struct PyReader(Py<PyAny>);

impl std::io::Read for PyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let data = self.0.bind(py).call_method1("read", (buf.len(),))?;
            let bytes: &[u8] = data.extract().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err("read() returned no bytes (a text file?)")
            })?;
            // A file may return more than asked only by breaking its contract: what fits.
            let n = bytes.len().min(buf.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            Ok::<usize, PyErr>(n)
        })
        .map_err(|e| std::io::Error::other(format!("the input's read: {e}")))
    }
}

/// Binary file objects as inputs: one, or a sequence of them (each read whole, named by its
/// `name`); `None` when `obj` holds paths. A sequence mixing paths and file objects is a
/// TypeError.
pub(crate) fn file_objects(obj: &Bound<'_, PyAny>) -> PyResult<Option<Vec<rawarrow::io::Input>>> {
    let stream =
        |(name, reader): (String, PyReader)| rawarrow::io::Input::stream(name, Box::new(reader));
    if let Some(one) = file_object(obj)? {
        return Ok(Some(vec![stream(one)]));
    }
    if obj.extract::<PathBuf>().is_ok() || obj.extract::<Vec<PathBuf>>().is_ok() {
        return Ok(None);
    }
    let Ok(items) = obj.try_iter() else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for item in items {
        match file_object(&item?)? {
            Some(one) => out.push(stream(one)),
            None => {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "expected paths or binary file objects, not both in one sequence",
                ))
            }
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

pub(crate) fn text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The format that reads `path`, from its first bytes: "bam", "tdf" (a timsTOF .d folder) or
/// "midi" (a Standard MIDI File, or a folder to walk for them). An input no format reads is a
/// FormatError saying what it is instead (CRAM, SAM text, an empty file); a missing one an
/// OSError.
#[pyfunction]
pub(crate) fn detect(py: Python<'_>, path: PathBuf) -> PyResult<&'static str> {
    py.detach(|| rawarrow::stream::detect(&path))
        .map_err(|e| py_err(py, e))
}

/// BAM, Bruker timsTOF .d and Standard MIDI Files to Apache Arrow at memory speed.
#[pymodule]
fn _rawarrow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FormatError", m.py().get_type::<FormatError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The fixed BAM columns `columns=` names (the lazy scans project onto them).
    m.add("_BAM_COLUMNS", rawarrow::bam::COLUMNS.to_vec())?;
    m.add_class::<PyBatchStream>()?;
    m.add_class::<PyRecordBatch>()?;
    m.add_function(wrap_pyfunction!(read_bam, m)?)?;
    m.add_function(wrap_pyfunction!(read_tdf, m)?)?;
    m.add_function(wrap_pyfunction!(read_midi, m)?)?;
    m.add_function(wrap_pyfunction!(convert_bam, m)?)?;
    m.add_function(wrap_pyfunction!(convert_tdf, m)?)?;
    m.add_function(wrap_pyfunction!(convert_midi, m)?)?;
    m.add_function(wrap_pyfunction!(detect, m)?)?;
    m.add_function(wrap_pyfunction!(_plan_bam, m)?)?;
    m.add_function(wrap_pyfunction!(_plan_tdf, m)?)?;
    m.add_function(wrap_pyfunction!(_plan_midi, m)?)?;
    m.add_function(wrap_pyfunction!(_push_bam, m)?)?;
    m.add_function(wrap_pyfunction!(_push_tdf, m)?)?;
    Ok(())
}
