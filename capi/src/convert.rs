//! `rawarrow_*_convert`: the library's one conversion path ([`rawarrow::convert::run`]) from C
//! — a file (Arrow IPC file or stream, Parquet, MGF) or PostgreSQL tables, with a progress
//! callback that can stop the run. The output is checked by [`Output::from_parts`], as for
//! Python; nothing is decided here.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::PathBuf;

use rawarrow::convert::{Input, Output, Summary};
use rawarrow::stream::Progress;
use rawarrow::Error;

use crate::options::{self, RawarrowBamOptions, RawarrowMidiOptions, RawarrowTdfOptions};
use crate::{c_string, call, opt_str, paths, usage};

/// A conversion's progress callback: `done` of `total` in `unit` ("bytes", "rows" or "files"),
/// `rows` written so far. A non-zero return stops the conversion (`RAWARROW_ERROR_STOPPED`).
pub type RawarrowProgress = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        rows: u64,
        done: u64,
        total: u64,
        unit: *const c_char,
    ) -> c_int,
>;

/// `struct rawarrow_output`: where and how a conversion writes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawarrowOutput {
    /// A file (`-`: standard output), or NULL with `postgres`.
    pub path: *const c_char,
    /// "ipc", "stream", "parquet", "mgf" or NULL (from the path's extension).
    pub format: *const c_char,
    /// "none", "lz4", "zstd" or NULL (the format's default).
    pub compression: *const c_char,
    /// A PostgreSQL connection URL, or NULL with `path`.
    pub postgres: *const c_char,
    /// The PostgreSQL schema; NULL: public.
    pub schema: *const c_char,
    /// The PostgreSQL table; NULL: the stream's own name.
    pub pg_table: *const c_char,
    /// Non-zero: continue after what an interrupted run committed.
    pub resume: u8,
    /// MIDI notes: also write the files table to this path; NULL: no.
    pub files: *const c_char,
    /// Run statistics as JSON to this path; NULL: none measured.
    pub stats: *const c_char,
    /// Called as the conversion goes; NULL: none.
    pub progress: RawarrowProgress,
    /// Passed to `progress`.
    pub context: *mut c_void,
}

impl Default for RawarrowOutput {
    fn default() -> Self {
        Self {
            path: std::ptr::null(),
            format: std::ptr::null(),
            compression: std::ptr::null(),
            postgres: std::ptr::null(),
            schema: std::ptr::null(),
            pg_table: std::ptr::null(),
            resume: 0,
            files: std::ptr::null(),
            stats: std::ptr::null(),
            progress: None,
            context: std::ptr::null_mut(),
        }
    }
}

/// `struct rawarrow_summary`: what a conversion wrote.
#[repr(C)]
#[derive(Debug)]
pub struct RawarrowSummary {
    /// Rows written (MIDI: notes; the `files` table's rows are not counted).
    pub rows: u64,
    /// Batches written.
    pub batches: u64,
    /// Wall seconds.
    pub seconds: f64,
    /// Warnings, one per line, or NULL; freed with `rawarrow_free_error`.
    pub warnings: *mut c_char,
}

/// Fills `output` with the defaults (every field NULL or 0).
///
/// # Safety
/// `output` is NULL (nothing happens) or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_output_init(output: *mut RawarrowOutput) {
    if !output.is_null() {
        // SAFETY: not NULL, writable by the caller's contract.
        unsafe { output.write(RawarrowOutput::default()) };
    }
}

/// The library's output from the C struct, with the reader's `threads` for encoding.
///
/// # Safety
/// `output` is NULL (a usage error) or valid, its strings NULL or valid C strings.
unsafe fn output(
    output: *const RawarrowOutput,
    threads: Option<usize>,
) -> Result<(Output, RawarrowOutput), Error> {
    if output.is_null() {
        return Err(usage("output is NULL"));
    }
    // SAFETY: not NULL, valid by the caller's contract.
    let c = unsafe { *output };
    let text = |p: *const c_char, what: &str| {
        // SAFETY: each string of the struct is NULL or a valid C string (the caller's contract).
        unsafe { opt_str(p, what) }
    };
    let path = text(c.path, "path")?;
    let url = text(c.postgres, "postgres")?;
    let schema = text(c.schema, "schema")?;
    let table = text(c.pg_table, "pg_table")?;
    let format = text(c.format, "format")?;
    let compression = text(c.compression, "compression")?;
    let files = text(c.files, "files")?;
    let stats = text(c.stats, "stats")?;
    let mut out = Output::from_parts(
        path.map(PathBuf::from),
        url,
        schema,
        table,
        c.resume != 0,
        format,
        compression.as_deref(),
        files.map(PathBuf::from),
        threads,
    )?;
    out.stats = stats.map(PathBuf::from);
    Ok((out, c))
}

/// Runs the conversion, calling the C progress callback, and fills `summary`.
///
/// # Safety
/// `c.progress` is NULL or callable with `c.context`; `summary` is NULL or writable.
unsafe fn run(
    input: &Input,
    output: &Output,
    c: &RawarrowOutput,
    summary: *mut RawarrowSummary,
) -> Result<(), Error> {
    let mut hook = |p: Progress, _: &[String]| -> Result<(), Error> {
        let Some(f) = c.progress else {
            return Ok(());
        };
        let unit = CString::new(p.unit).expect("unit names have no NUL");
        // SAFETY: the caller's callback with the caller's context, as the header documents;
        // `unit` lives until the callback returns.
        let stop = unsafe { f(c.context, p.rows, p.done, p.total, unit.as_ptr()) };
        if stop != 0 {
            return Err(Error::interrupted());
        }
        Ok(())
    };
    let s: Summary = rawarrow::convert::run(input, output, &mut hook)?;
    if !summary.is_null() {
        let warnings = if s.warnings.is_empty() {
            std::ptr::null_mut()
        } else {
            c_string(&s.warnings.join("\n"))
        };
        let value = RawarrowSummary {
            rows: s.rows,
            batches: s.batches,
            seconds: s.seconds,
            warnings,
        };
        // SAFETY: not NULL, writable by the caller's contract.
        unsafe { summary.write(value) };
    }
    Ok(())
}

/// Reads the C output, builds the input for it (`input` sees the output: an MGF file implies
/// the spectra table), runs the conversion and fills `summary`: what every `rawarrow_*_convert`
/// does after reading its own inputs and options.
///
/// # Safety
/// As [`output`] and [`run`].
unsafe fn convert(
    output: *const RawarrowOutput,
    threads: Option<usize>,
    summary: *mut RawarrowSummary,
    input: impl FnOnce(&Output) -> Input,
) -> Result<(), Error> {
    // SAFETY: the caller's contract for `output`.
    let (out, c) = unsafe { self::output(output, threads) }?;
    let input = input(&out);
    // SAFETY: the caller's contract for the callback and `summary`.
    unsafe { run(&input, &out, &c, summary) }
}

/// Converts BAM files (see `rawarrow.h`).
///
/// # Safety
/// `paths` holds `n_paths` valid C strings; `options` is NULL or valid; `output` is valid;
/// `summary` and `error` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_bam_convert(
    paths_ptr: *const *const c_char,
    n_paths: usize,
    options: *const RawarrowBamOptions,
    output: *const RawarrowOutput,
    summary: *mut RawarrowSummary,
    error: *mut *mut c_char,
) -> c_int {
    let work = || {
        // SAFETY: the caller's contract for `paths_ptr` and `n_paths`.
        let paths = unsafe { paths(paths_ptr, n_paths) }?;
        // SAFETY: the caller's contract for `options`.
        let options = unsafe { options::bam(options) }?;
        // SAFETY: the caller's contract for `output` and `summary`.
        unsafe {
            convert(output, options.threads, summary, |_| Input::Bam {
                paths,
                options,
            })
        }
    };
    // SAFETY: `error` as the caller guarantees.
    unsafe { call(error, work) }
}

/// Converts a timsTOF `.d` folder (see `rawarrow.h`).
///
/// # Safety
/// `path` is a valid C string; `options` is NULL or valid; `output` is valid; `summary` and
/// `error` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_tdf_convert(
    path: *const c_char,
    options: *const RawarrowTdfOptions,
    output: *const RawarrowOutput,
    summary: *mut RawarrowSummary,
    error: *mut *mut c_char,
) -> c_int {
    let work = || {
        // SAFETY: `path` is NULL (an error) or a valid C string.
        let path = unsafe { opt_str(path, "the path") }?.ok_or_else(|| usage("path is NULL"))?;
        // SAFETY: the caller's contract for `options`.
        let (mut options, table) = unsafe { options::tdf(options) }?;
        let threads = options.threads;
        let input = |out: &Output| {
            options.table = table.unwrap_or_else(|| out.tdf_table());
            Input::Tdf {
                path: path.into(),
                options,
            }
        };
        // SAFETY: the caller's contract for `output` and `summary`.
        unsafe { convert(output, threads, summary, input) }
    };
    // SAFETY: `error` as the caller guarantees.
    unsafe { call(error, work) }
}

/// Converts MIDI files and folders: the notes table, and the files table with
/// `output->files` (see `rawarrow.h`).
///
/// # Safety
/// `paths` holds `n_paths` valid C strings; `options` is NULL or valid; `output` is valid;
/// `summary` and `error` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_midi_convert(
    paths_ptr: *const *const c_char,
    n_paths: usize,
    options: *const RawarrowMidiOptions,
    output: *const RawarrowOutput,
    summary: *mut RawarrowSummary,
    error: *mut *mut c_char,
) -> c_int {
    let work = || {
        // SAFETY: the caller's contract for `paths_ptr` and `n_paths`.
        let paths = unsafe { paths(paths_ptr, n_paths) }?;
        // SAFETY: the caller's contract for `options`.
        let options = unsafe { options::midi(options) }?;
        let threads = options.threads;
        let input = |_: &Output| Input::Midi {
            paths,
            list: None,
            options,
        };
        // SAFETY: the caller's contract for `output` and `summary`.
        unsafe { convert(output, threads, summary, input) }
    };
    // SAFETY: `error` as the caller guarantees.
    unsafe { call(error, work) }
}
