//! The C ABI of rawarrow (`include/rawarrow.h`): one open function per format that fills an
//! Arrow C stream (`struct ArrowArrayStream`) from paths and an options struct, and one convert
//! function per format that runs the library's conversion into a file or PostgreSQL
//! ([`convert`]).
//!
//! Nothing is decided here: the options are translated into [`rawarrow::stream`]'s option
//! structs, which check them, and [`rawarrow::Error`]'s kind becomes the return code.
//! The batches are exported with arrow-rs's C stream implementation, which hands the readers'
//! arena-backed buffers over without a copy.
//!
//! This crate is one of the places docs/ARCHITECTURE.md names for `unsafe`: reading C strings and option
//! structs through caller pointers and writing the stream struct the caller owns.

use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use rawarrow::stream::BatchStream;
use rawarrow::{Error, ErrorKind};

mod convert;
mod options;

pub use convert::{
    rawarrow_bam_convert, rawarrow_midi_convert, rawarrow_output_init, rawarrow_tdf_convert,
    RawarrowOutput, RawarrowProgress, RawarrowSummary,
};
pub use options::{
    rawarrow_bam_options_init, rawarrow_midi_options_init, rawarrow_tdf_options_init,
    RawarrowBamOptions, RawarrowMidiOptions, RawarrowTdfOptions,
};

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
/// `RAWARROW_ERROR_STOPPED`: a conversion's progress callback asked it to stop.
pub const RAWARROW_ERROR_STOPPED: c_int = 5;

fn code(e: &Error) -> c_int {
    match e.kind() {
        ErrorKind::Usage => RAWARROW_ERROR_USAGE,
        ErrorKind::Io => RAWARROW_ERROR_IO,
        ErrorKind::Format => RAWARROW_ERROR_FORMAT,
        ErrorKind::Interrupted => RAWARROW_ERROR_STOPPED,
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

/// Runs `work` with panics caught, clearing `*error` first and storing the message of a
/// failure there; returns `RAWARROW_OK` or the failure's code.
///
/// # Safety
/// `error` is NULL or writable for one pointer.
unsafe fn call(error: *mut *mut c_char, work: impl FnOnce() -> Result<(), Error>) -> c_int {
    if !error.is_null() {
        // SAFETY: the caller guarantees `error` is writable when not NULL.
        unsafe { error.write(std::ptr::null_mut()) };
    }
    let err = match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(())) => return RAWARROW_OK,
        Ok(Err(e)) => e,
        Err(_) => Error::new(ErrorKind::Worker, "internal error: the library panicked"),
    };
    if !error.is_null() {
        // SAFETY: the caller guarantees `error` is writable when not NULL.
        unsafe { error.write(c_string(&err.to_string())) };
    }
    code(&err)
}

/// A string the caller frees with `rawarrow_free_error` (NUL bytes written as `\0`).
fn c_string(text: &str) -> *mut c_char {
    CString::new(text.replace('\0', "\\0"))
        .expect("NUL bytes were replaced above")
        .into_raw()
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
    let work = || {
        if out.is_null() {
            return Err(usage("the output stream pointer is NULL"));
        }
        let ffi = FFI_ArrowArrayStream::new(Box::new(open()?));
        // SAFETY: `out` is not NULL (checked) and writable by the caller's contract; the
        // caller owns whatever it held before, so it is overwritten, not dropped.
        unsafe { out.write(ffi) };
        Ok(())
    };
    // SAFETY: `error` as the caller guarantees.
    unsafe { call(error, work) }
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
        // SAFETY: the caller's contract for `options`.
        let o = unsafe { options::bam(options) }?;
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
        // SAFETY: the caller's contract for `options`.
        let (mut o, table) = unsafe { options::tdf(options) }?;
        o.table = table.unwrap_or_default();
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
        // SAFETY: the caller's contract for `options`.
        let o = unsafe { options::midi(options) }?;
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
