//! The C ABI of rawarrow (`include/rawarrow.h`): one open function per format that fills an
//! Arrow C stream (`struct ArrowArrayStream`) from paths and an options struct.
//!
//! Nothing is decided here: the options are translated into [`rawarrow::stream`]'s option
//! structs, which check them, and [`rawarrow::stream::Error`]'s kind becomes the return code.
//! The batches are exported with arrow-rs's C stream implementation, which hands the readers'
//! arena-backed buffers over without a copy.
//!
//! This crate is one of the places docs/ARCHITECTURE.md names for `unsafe`: reading C strings and option
//! structs through caller pointers and writing the stream struct the caller owns.

use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use rawarrow::stream::{
    BamOptions, BatchStream, Error, ErrorKind, MidiOptions, MidiTable, TdfOptions,
};
use rawarrow::tdf::Calibration;

/// `RAWARROW_OK`.
pub const RAWARROW_OK: c_int = 0;
/// `RAWARROW_ERROR_USAGE`: an option or argument makes no sense.
pub const RAWARROW_ERROR_USAGE: c_int = 1;
/// `RAWARROW_ERROR_IO`: the operating system refused.
pub const RAWARROW_ERROR_IO: c_int = 2;
/// `RAWARROW_ERROR_FORMAT`: the input is malformed.
pub const RAWARROW_ERROR_FORMAT: c_int = 3;
/// `RAWARROW_ERROR_INTERNAL`: a bug (a worker failed, or the library panicked).
pub const RAWARROW_ERROR_INTERNAL: c_int = 4;

/// `struct rawarrow_bam_options`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawarrowBamOptions {
    /// Worker threads; 0: all cores.
    pub threads: u32,
    /// Rows per batch; 0: the default.
    pub batch_rows: u32,
    /// Records per input; `u64::MAX`: no limit.
    pub limit: u64,
    /// Comma-separated columns or NULL.
    pub columns: *const c_char,
    /// Comma-separated tag specs or NULL.
    pub tags: *const c_char,
    /// Minimum MAPQ (samtools view -q); 0: all.
    pub min_mapq: u8,
    /// FLAG bits a record must all have (samtools view -f).
    pub require_flags: u16,
    /// FLAG bits a record must have none of (samtools view -F).
    pub exclude_flags: u16,
    /// `n_regions` regions in samtools' syntax, or NULL.
    pub regions: *const *const c_char,
    /// Number of regions.
    pub n_regions: usize,
    /// The BAI/CSI index for the regions, or NULL (the one beside the input).
    pub index: *const c_char,
}

/// `struct rawarrow_tdf_options`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawarrowTdfOptions {
    /// Worker threads; 0: all cores.
    pub threads: u32,
    /// Target rows per batch; 0: the default.
    pub batch_rows: u32,
    /// 1 or 2; 0: all frames.
    pub ms_level: u8,
    /// First frame id; with `last_frame` both 0: all frames.
    pub first_frame: u32,
    /// Last frame id (inclusive).
    pub last_frame: u32,
    /// "auto", "bruker", "estimate" or NULL.
    pub calibration: *const c_char,
    /// Comma-separated columns or NULL.
    pub columns: *const c_char,
}

/// `struct rawarrow_midi_options`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawarrowMidiOptions {
    /// Worker threads; 0: all cores.
    pub threads: u32,
    /// Files per batch; 0: the default.
    pub files_per_batch: u32,
    /// "notes", "files" or NULL.
    pub table: *const c_char,
    /// Onset velocity threshold.
    pub velocity_threshold: u8,
    /// Onset merge window in milliseconds.
    pub merge_window_ms: f64,
}

fn code(e: &Error) -> c_int {
    match e.kind() {
        ErrorKind::Usage => RAWARROW_ERROR_USAGE,
        ErrorKind::Io => RAWARROW_ERROR_IO,
        ErrorKind::Format => RAWARROW_ERROR_FORMAT,
        _ => RAWARROW_ERROR_INTERNAL,
    }
}

fn usage(message: &str) -> Error {
    Error::new(ErrorKind::Usage, message)
}

/// A NUL-terminated UTF-8 string, or `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid during the call.
unsafe fn opt_str(p: *const c_char, what: &str) -> Result<Option<String>, Error> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: not NULL, and the caller guarantees a NUL-terminated string valid for the call.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(|s| Some(s.to_owned()))
        .map_err(|_| usage(&format!("{what} is not UTF-8")))
}

/// A comma-separated list, or `None` for NULL.
///
/// # Safety
/// As [`opt_str`].
unsafe fn opt_list(p: *const c_char, what: &str) -> Result<Option<Vec<String>>, Error> {
    // SAFETY: forwarded from the caller.
    let s = unsafe { opt_str(p, what) }?;
    Ok(s.map(|s| s.split(',').map(|c| c.trim().to_owned()).collect()))
}

/// `n` paths from an array of C strings.
///
/// # Safety
/// `paths` is NULL only when `n` is 0, else points to `n` valid C strings.
unsafe fn paths(paths: *const *const c_char, n: usize) -> Result<Vec<PathBuf>, Error> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if paths.is_null() {
        return Err(usage("paths is NULL"));
    }
    (0..n)
        .map(|i| {
            // SAFETY: the caller guarantees `n` readable pointers at `paths`; i < n, so the
            // offset stays inside that array.
            let at = unsafe { paths.add(i) };
            // SAFETY: `at` points into the caller's array of `n` readable pointers.
            let p = unsafe { at.read() };
            if p.is_null() {
                return Err(usage(&format!("path {i} is NULL")));
            }
            // SAFETY: not NULL; the caller guarantees a valid C string.
            let s = unsafe { opt_str(p, "a path") }?.expect("checked not NULL above");
            Ok(PathBuf::from(s))
        })
        .collect()
}

fn nonzero(n: u32) -> Option<usize> {
    (n != 0).then_some(n as usize)
}

/// Runs `open`, exports its stream into `out` and reports errors as the header says.
///
/// # Safety
/// `out` is NULL or writable for one `ArrowArrayStream`; `error` is NULL or writable for one
/// pointer.
unsafe fn finish(
    out: *mut FFI_ArrowArrayStream,
    error: *mut *mut c_char,
    open: impl FnOnce() -> Result<BatchStream, Error>,
) -> c_int {
    if !error.is_null() {
        // SAFETY: the caller guarantees `error` is writable when not NULL.
        unsafe { error.write(std::ptr::null_mut()) };
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        if out.is_null() {
            return Err(usage("the output stream pointer is NULL"));
        }
        open()
    }));
    let err = match result {
        Ok(Ok(stream)) => {
            let ffi = FFI_ArrowArrayStream::new(Box::new(stream));
            // SAFETY: `out` is not NULL (checked) and writable by the caller's contract; the
            // caller owns whatever it held before, so it is overwritten, not dropped.
            unsafe { out.write(ffi) };
            return RAWARROW_OK;
        }
        Ok(Err(e)) => e,
        Err(_) => Error::new(ErrorKind::Worker, "internal error: the library panicked"),
    };
    if !error.is_null() {
        let text = CString::new(err.to_string().replace('\0', "\\0"))
            .expect("NUL bytes were replaced above");
        // SAFETY: the caller guarantees `error` is writable when not NULL.
        unsafe { error.write(text.into_raw()) };
    }
    code(&err)
}

/// Fills `options` with the defaults.
///
/// # Safety
/// `options` is NULL (nothing happens) or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_bam_options_init(options: *mut RawarrowBamOptions) {
    if options.is_null() {
        return;
    }
    let defaults = RawarrowBamOptions {
        threads: 0,
        batch_rows: 0,
        limit: u64::MAX,
        columns: std::ptr::null(),
        tags: std::ptr::null(),
        min_mapq: 0,
        require_flags: 0,
        exclude_flags: 0,
        regions: std::ptr::null(),
        n_regions: 0,
        index: std::ptr::null(),
    };
    // SAFETY: not NULL, writable by the caller's contract.
    unsafe { options.write(defaults) };
}

/// Fills `options` with the defaults.
///
/// # Safety
/// `options` is NULL (nothing happens) or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_tdf_options_init(options: *mut RawarrowTdfOptions) {
    if options.is_null() {
        return;
    }
    let defaults = RawarrowTdfOptions {
        threads: 0,
        batch_rows: 0,
        ms_level: 0,
        first_frame: 0,
        last_frame: 0,
        calibration: std::ptr::null(),
        columns: std::ptr::null(),
    };
    // SAFETY: not NULL, writable by the caller's contract.
    unsafe { options.write(defaults) };
}

/// Fills `options` with the defaults.
///
/// # Safety
/// `options` is NULL (nothing happens) or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_midi_options_init(options: *mut RawarrowMidiOptions) {
    if options.is_null() {
        return;
    }
    let d = MidiOptions::default();
    let defaults = RawarrowMidiOptions {
        threads: 0,
        files_per_batch: 0,
        table: std::ptr::null(),
        velocity_threshold: d.velocity_threshold,
        merge_window_ms: d.merge_window_ms,
    };
    // SAFETY: not NULL, writable by the caller's contract.
    unsafe { options.write(defaults) };
}

/// Opens BAM files as one Arrow C stream (see `rawarrow.h`).
///
/// # Safety
/// `paths` holds `n_paths` valid C strings; `options` is NULL or valid; `out` is writable;
/// `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_bam_open(
    paths_ptr: *const *const c_char,
    n_paths: usize,
    options: *const RawarrowBamOptions,
    out: *mut FFI_ArrowArrayStream,
    error: *mut *mut c_char,
) -> c_int {
    let open = || {
        // SAFETY: the caller's contract for `paths_ptr` and `n_paths`.
        let paths = unsafe { paths(paths_ptr, n_paths) }?;
        let mut o = BamOptions::default();
        if !options.is_null() {
            // SAFETY: not NULL, and valid by the caller's contract.
            let c = unsafe { *options };
            o.threads = nonzero(c.threads);
            o.batch_rows = nonzero(c.batch_rows);
            o.limit = (c.limit != u64::MAX).then_some(c.limit);
            // SAFETY: the option strings are NULL or valid C strings.
            o.columns = unsafe { opt_list(c.columns, "columns") }?;
            // SAFETY: as above.
            o.tags = unsafe { opt_list(c.tags, "tags") }?.unwrap_or_default();
            o.filter = rawarrow::bam::Filter::default()
                .min_mapq(c.min_mapq)
                .require_flags(c.require_flags)
                .exclude_flags(c.exclude_flags);
            // SAFETY: the caller guarantees `n_regions` C strings at `regions` (NULL when 0).
            o.regions = unsafe { self::paths(c.regions, c.n_regions) }?
                .into_iter()
                .map(|r| r.to_string_lossy().into_owned())
                .collect();
            // SAFETY: NULL or a valid C string.
            o.index = unsafe { opt_str(c.index, "index") }?.map(PathBuf::from);
        }
        BatchStream::bam(&paths, &o)
    };
    // SAFETY: `out` and `error` as the caller guarantees.
    unsafe { finish(out, error, open) }
}

/// Opens a timsTOF `.d` folder as an Arrow C stream (see `rawarrow.h`).
///
/// # Safety
/// `path` is a valid C string; `options` is NULL or valid; `out` is writable; `error` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_tdf_open(
    path: *const c_char,
    options: *const RawarrowTdfOptions,
    out: *mut FFI_ArrowArrayStream,
    error: *mut *mut c_char,
) -> c_int {
    let open = || {
        // SAFETY: `path` is NULL (an error) or a valid C string.
        let path = unsafe { opt_str(path, "the path") }?.ok_or_else(|| usage("path is NULL"))?;
        let mut o = TdfOptions::default();
        if !options.is_null() {
            // SAFETY: not NULL, and valid by the caller's contract.
            let c = unsafe { *options };
            o.threads = nonzero(c.threads);
            o.batch_rows = nonzero(c.batch_rows);
            o.ms_level = (c.ms_level != 0).then_some(c.ms_level);
            if (c.first_frame, c.last_frame) != (0, 0) {
                o.frames = Some((c.first_frame, c.last_frame));
            }
            // SAFETY: the option strings are NULL or valid C strings.
            if let Some(cal) = unsafe { opt_str(c.calibration, "calibration") }? {
                o.calibration = cal.parse::<Calibration>()?;
            }
            // SAFETY: as above.
            o.columns = unsafe { opt_list(c.columns, "columns") }?;
        }
        BatchStream::tdf(path, &o)
    };
    // SAFETY: `out` and `error` as the caller guarantees.
    unsafe { finish(out, error, open) }
}

/// Opens MIDI files and folders as an Arrow C stream (see `rawarrow.h`).
///
/// # Safety
/// `paths` holds `n_paths` valid C strings; `options` is NULL or valid; `out` is writable;
/// `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_midi_open(
    paths_ptr: *const *const c_char,
    n_paths: usize,
    options: *const RawarrowMidiOptions,
    out: *mut FFI_ArrowArrayStream,
    error: *mut *mut c_char,
) -> c_int {
    let open = || {
        // SAFETY: the caller's contract for `paths_ptr` and `n_paths`.
        let paths = unsafe { paths(paths_ptr, n_paths) }?;
        let mut o = MidiOptions::default();
        if !options.is_null() {
            // SAFETY: not NULL, and valid by the caller's contract.
            let c = unsafe { *options };
            o.threads = nonzero(c.threads);
            o.files_per_batch = nonzero(c.files_per_batch);
            // SAFETY: the option string is NULL or a valid C string.
            if let Some(t) = unsafe { opt_str(c.table, "table") }? {
                o.table = t.parse::<MidiTable>()?;
            }
            o.velocity_threshold = c.velocity_threshold;
            o.merge_window_ms = c.merge_window_ms;
        }
        BatchStream::midi(&paths, &o)
    };
    // SAFETY: `out` and `error` as the caller guarantees.
    unsafe { finish(out, error, open) }
}

/// Frees a message stored by an open function.
///
/// # Safety
/// `error` is NULL or a message from an open function, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_free_error(error: *mut c_char) {
    if !error.is_null() {
        // SAFETY: the pointer came from `CString::into_raw` in `finish` and is freed once.
        drop(unsafe { CString::from_raw(error) });
    }
}

/// The library version (static storage).
#[no_mangle]
pub extern "C" fn rawarrow_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
