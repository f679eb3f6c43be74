//! `BatchStream` and `RecordBatch`: a reader's batches through the Arrow PyCapsule interface.

use std::ffi::CString;
use std::sync::{Mutex, MutexGuard};

use arrow_array::ffi::FFI_ArrowArray;
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{Array, RecordBatch, StructArray};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::SchemaRef;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};
use rawarrow::stream::BatchStream as Stream;
use rawarrow::Error;

use crate::*;

pub(crate) fn warn(py: Python<'_>, stream: &mut Stream) -> PyResult<()> {
    for w in stream.take_warnings() {
        let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
        let text = CString::new(w.replace('\0', "\\0")).expect("NUL bytes were replaced");
        PyErr::warn(py, &category, &text, 1)?;
    }
    Ok(())
}

pub(crate) fn schema_capsule<'py>(
    py: Python<'py>,
    schema: &SchemaRef,
) -> PyResult<Bound<'py, PyCapsule>> {
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
pub(crate) struct PyBatchStream {
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

    /// Pieces of input decompressed so far: BGZF blocks (BAM; a CRAM container counts as one),
    /// frames (timsTOF peaks) or files (MIDI); what a region or slice saves shows here. None
    /// once the stream was handed over or closed.
    #[getter]
    fn blocks(&self) -> Option<u64> {
        self.lock().as_ref().map(|s| s.progress().blocks)
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
pub(crate) struct PyRecordBatch {
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

/// Opens a stream with the GIL released (opening reads headers and metadata).
pub(crate) fn open(
    py: Python<'_>,
    f: impl FnOnce() -> Result<Stream, Error> + Send,
) -> PyResult<PyBatchStream> {
    let mut stream = py.detach(f).map_err(|e| py_err(py, e))?;
    warn(py, &mut stream)?;
    Ok(PyBatchStream::new(stream))
}
