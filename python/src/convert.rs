//! What every `convert_*` shares: the output, the progress reporter and the run.

use std::ffi::CString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use rawarrow::convert::Output;
use rawarrow::stream::Progress;
use rawarrow::Error;

use crate::*;

/// Reports progress at most ten times a second, and checks for Ctrl-C after every batch.
pub(crate) struct Reporter {
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
/// What a `convert_*` call reads.
pub(crate) enum Conversion {
    /// Paths (or URLs) and their reader's options.
    Input(Box<rawarrow::convert::Input>),
    /// A stream this opens (inputs the caller opened: file objects), run without the GIL.
    Stream(Box<dyn FnOnce() -> Result<rawarrow::stream::BatchStream, Error> + Send>),
}

impl From<rawarrow::convert::Input> for Conversion {
    fn from(input: rawarrow::convert::Input) -> Self {
        Self::Input(Box::new(input))
    }
}

pub(crate) fn run_convert(
    py: Python<'_>,
    input: impl Into<Conversion>,
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
    let input = input.into();
    let result = py.detach(|| -> Result<ConvertSummary, Error> {
        let mut hook = |p, _: &[String]| reporter.report(p, false);
        let summary = match input {
            Conversion::Input(input) => rawarrow::convert::run(&input, &output, &mut hook)?,
            Conversion::Stream(open) => {
                rawarrow::convert::convert(&mut open()?, &output, &mut hook)?
            }
        };
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

pub(crate) struct ConvertSummary {
    pub(crate) rows: u64,
    pub(crate) seconds: f64,
    pub(crate) warnings: Vec<String>,
}

/// A `convert_*` call's PostgreSQL arguments.
pub(crate) struct Pg {
    pub(crate) postgres: Option<String>,
    pub(crate) schema: Option<String>,
    pub(crate) pg_table: Option<String>,
    pub(crate) resume: bool,
    /// Not PostgreSQL's, but carried the same way: the run statistics' JSON path.
    pub(crate) stats: Option<PathBuf>,
}

#[allow(clippy::too_many_arguments)]
/// Where a `convert_*` writes: a path, or a binary file object (anything with `write`).
pub(crate) enum Dest {
    Path(PathBuf),
    Writer(Py<PyAny>),
}

/// The `output` argument: a path (str or os.PathLike), or an object with a `write` method.
pub(crate) fn dest(output: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Dest>> {
    let Some(o) = output else {
        return Ok(None);
    };
    if let Ok(path) = o.extract::<PathBuf>() {
        return Ok(Some(Dest::Path(path)));
    }
    if o.hasattr("write")? {
        return Ok(Some(Dest::Writer(o.clone().unbind())));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(
        "output: a path (str or os.PathLike) or a binary file object (with write)",
    ))
}

/// A Python binary file object as the conversion's writer: each write takes the GIL for the
/// call (the conversion itself runs without it).
struct PyWriter(Py<PyAny>);

impl std::io::Write for PyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let bytes = pyo3::types::PyBytes::new(py, buf);
            let n = self.0.bind(py).call_method1("write", (bytes,))?;
            // Raw files may write less and say so; buffered ones return None or the length.
            Ok::<usize, PyErr>(n.extract::<usize>().unwrap_or(buf.len()).min(buf.len()))
        })
        .map_err(|e| std::io::Error::other(format!("the output's write: {e}")))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Python::attach(|py| {
            let o = self.0.bind(py);
            if o.hasattr("flush")? {
                o.call_method0("flush")?;
            }
            Ok::<(), PyErr>(())
        })
        .map_err(|e| std::io::Error::other(format!("the output's flush: {e}")))
    }
}

pub(crate) fn output(
    dest: Option<Dest>,
    pg: Pg,
    format: Option<String>,
    compression: Option<&str>,
    files: Option<PathBuf>,
    threads: Option<usize>,
) -> Result<Output, Error> {
    let (path, writer) = match dest {
        None => (None, None),
        Some(Dest::Path(p)) => (Some(p), None),
        // Written as standard output is (the format's default included).
        Some(Dest::Writer(w)) => (Some(PathBuf::from("-")), Some(w)),
    };
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
    if let Some(w) = writer {
        out.target = rawarrow::convert::Target::Writer(std::sync::Arc::new(std::sync::Mutex::new(
            PyWriter(w),
        )));
    }
    Ok(out)
}
