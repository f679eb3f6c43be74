//! The planners of `rawarrow.polars`' lazy scans: the conditions polars hands a scan become the
//! readers' options (`rawarrow::scan`); the scan applies its whole predicate afterwards.

use std::path::PathBuf;

use pyo3::prelude::*;
use rawarrow::scan::{Condition, Literal};
use rawarrow::stream::{BamOptions, TdfOptions};

use crate::*;

fn conditions(raw: Vec<(String, String, Vec<Bound<'_, PyAny>>)>) -> PyResult<Vec<Condition>> {
    raw.into_iter()
        .map(|(column, op, values)| {
            let values = values
                .iter()
                .map(|v| {
                    // bool is an int in Python: a condition on a bool is not one pushed.
                    if v.is_instance_of::<pyo3::types::PyBool>() {
                        Err(pyo3::exceptions::PyTypeError::new_err("a bool literal"))
                    } else if let Ok(i) = v.extract::<i64>() {
                        Ok(Literal::Int(i))
                    } else if let Ok(f) = v.extract::<f64>() {
                        Ok(Literal::Float(f))
                    } else {
                        Ok(Literal::Text(v.extract::<String>()?))
                    }
                })
                .collect::<PyResult<Vec<_>>>()?;
            Ok(Condition { column, op, values })
        })
        .collect()
}

/// What the conditions push into a BAM/CRAM read: (regions, min_mapq, require_flags,
/// exclude_flags, limit, notes) — `limit` 0 when no reference can match.
#[pyfunction]
#[pyo3(signature = (paths, conditions, index=None, storage_options=None, reference=None, byte_range=None))]
#[allow(clippy::type_complexity)]
pub(crate) fn _push_bam(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    conditions: Vec<(String, String, Vec<Bound<'_, PyAny>>)>,
    index: Option<PathBuf>,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
    reference: Option<PathBuf>,
    byte_range: Option<(u64, u64)>,
) -> PyResult<(Vec<String>, u8, u16, u16, Option<u64>, Vec<String>)> {
    let paths = self::paths(paths)?;
    let conditions = self::conditions(conditions)?;
    let mut options = BamOptions {
        index,
        storage_options: storage_options.unwrap_or_default().into_iter().collect(),
        reference,
        byte_range,
        ..Default::default()
    };
    let notes = py
        .detach(|| rawarrow::scan::push_bam(&paths, &conditions, &mut options))
        .map_err(|e| py_err(py, e))?;
    let f = options.filter;
    Ok((
        options.regions,
        f.mapq_floor(),
        f.required_flags(),
        f.excluded_flags(),
        options.limit,
        notes,
    ))
}

/// What the conditions push into a timsTOF read of `table` (of `frames` when given: a split's
/// frames): a dict of the read_tdf keywords (frames, rt, mobility, mz, ms_level) set, and the
/// notes.
#[pyfunction]
#[pyo3(signature = (conditions, table="peaks", frames=None))]
pub(crate) fn _push_tdf<'py>(
    py: Python<'py>,
    conditions: Vec<(String, String, Vec<Bound<'py, PyAny>>)>,
    table: &str,
    frames: Option<(u32, u32)>,
) -> PyResult<(Bound<'py, pyo3::types::PyDict>, Vec<String>)> {
    let conditions = self::conditions(conditions)?;
    let mut options = TdfOptions {
        frames,
        table: table
            .parse::<rawarrow::tdf::Table>()
            .map_err(|e| py_err(py, e.into()))?,
        ..Default::default()
    };
    let notes = rawarrow::scan::push_tdf(&conditions, &mut options);
    let out = pyo3::types::PyDict::new(py);
    if let Some(v) = options.frames {
        out.set_item("frames", v)?;
    }
    for (k, v) in [
        ("rt", options.rt),
        ("mobility", options.mobility),
        ("mz", options.mz),
    ] {
        if let Some(v) = v {
            out.set_item(k, v)?;
        }
    }
    if let Some(v) = options.ms_level {
        out.set_item("ms_level", v)?;
    }
    Ok((out, notes))
}
