//! The C option structs (`struct rawarrow_*_options` in `include/rawarrow.h`), their defaults
//! and their translation into the library's option structs, which check them. Every field is
//! one of the library's options (`rawarrow::options`); `tests/options.rs` fails when the header
//! and the library's lists drift apart.

use std::ffi::c_char;
use std::path::PathBuf;

use rawarrow::stream::{BamOptions, MidiOptions, MidiTable, TdfOptions};
use rawarrow::tdf::Calibration;
use rawarrow::Error;

use crate::{opt_list, opt_str, paths, usage};

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
    /// Compressed byte range `[start, end)` of BGZF blocks whose records to read; both 0: all.
    pub byte_range_start: u64,
    /// End of the byte range.
    pub byte_range_end: u64,
    /// Non-zero: add the `file` column.
    pub with_file: u8,
    /// The reference FASTA of CRAM inputs, or NULL.
    pub reference: *const c_char,
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
    /// "peaks", "precursors", "spectra", "windows" or NULL (spectra for an MGF output, else
    /// peaks).
    pub table: *const c_char,
    /// Retention time range in seconds; both NaN: no limit.
    pub rt_low: f64,
    /// Upper end of the retention time range.
    pub rt_high: f64,
    /// 1/K0 range; both NaN: no limit.
    pub mobility_low: f64,
    /// Upper end of the 1/K0 range.
    pub mobility_high: f64,
    /// m/z range; both NaN: no limit.
    pub mz_low: f64,
    /// Upper end of the m/z range.
    pub mz_high: f64,
    /// Spectra centroided over this many TOF indices; 0: profile spectra.
    pub centroid: u32,
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
    /// "krumhansl", "aarden", "temperley" or NULL (krumhansl).
    pub key_profile: *const c_char,
}

fn nonzero(n: u32) -> Option<usize> {
    (n != 0).then_some(n as usize)
}

/// A range given as two doubles, both NaN for none.
fn range(low: f64, high: f64, what: &str) -> Result<Option<(f64, f64)>, Error> {
    match (low.is_nan(), high.is_nan()) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some((low, high))),
        _ => Err(usage(&format!(
            "{what}: give both ends of the range, or NaN for both (no limit)"
        ))),
    }
}

impl Default for RawarrowBamOptions {
    fn default() -> Self {
        Self {
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
            byte_range_start: 0,
            byte_range_end: 0,
            with_file: 0,
            reference: std::ptr::null(),
        }
    }
}

impl Default for RawarrowTdfOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            batch_rows: 0,
            ms_level: 0,
            first_frame: 0,
            last_frame: 0,
            calibration: std::ptr::null(),
            columns: std::ptr::null(),
            table: std::ptr::null(),
            rt_low: f64::NAN,
            rt_high: f64::NAN,
            mobility_low: f64::NAN,
            mobility_high: f64::NAN,
            mz_low: f64::NAN,
            mz_high: f64::NAN,
            centroid: 0,
        }
    }
}

impl Default for RawarrowMidiOptions {
    fn default() -> Self {
        let d = MidiOptions::default();
        Self {
            threads: 0,
            files_per_batch: 0,
            table: std::ptr::null(),
            velocity_threshold: d.velocity_threshold,
            merge_window_ms: d.merge_window_ms,
            key_profile: std::ptr::null(),
        }
    }
}

/// The library's BAM options from the C struct (NULL: the defaults).
///
/// # Safety
/// `options` is NULL or points to a valid struct whose strings are NULL or valid C strings.
pub(crate) unsafe fn bam(options: *const RawarrowBamOptions) -> Result<BamOptions, Error> {
    let mut o = BamOptions::default();
    if options.is_null() {
        return Ok(o);
    }
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
    o.regions = unsafe { paths(c.regions, c.n_regions) }?
        .into_iter()
        .map(|r| r.to_string_lossy().into_owned())
        .collect();
    // SAFETY: NULL or a valid C string.
    o.index = unsafe { opt_str(c.index, "index") }?.map(PathBuf::from);
    if (c.byte_range_start, c.byte_range_end) != (0, 0) {
        o.byte_range = Some((c.byte_range_start, c.byte_range_end));
    }
    o.with_file = c.with_file != 0;
    // SAFETY: NULL or a valid C string.
    o.reference = unsafe { opt_str(c.reference, "reference") }?.map(PathBuf::from);
    Ok(o)
}

/// The library's timsTOF options from the C struct (NULL: the defaults); the table is `None`
/// when the struct leaves it NULL (the output decides).
///
/// # Safety
/// As [`bam`].
pub(crate) unsafe fn tdf(
    options: *const RawarrowTdfOptions,
) -> Result<(TdfOptions, Option<rawarrow::tdf::Table>), Error> {
    let mut o = TdfOptions::default();
    if options.is_null() {
        return Ok((o, None));
    }
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
    // SAFETY: as above.
    let table = unsafe { opt_str(c.table, "table") }?
        .map(|t| t.parse::<rawarrow::tdf::Table>())
        .transpose()?;
    o.rt = range(c.rt_low, c.rt_high, "rt")?;
    o.mobility = range(c.mobility_low, c.mobility_high, "mobility")?;
    o.mz = range(c.mz_low, c.mz_high, "mz")?;
    o.centroid = (c.centroid != 0).then_some(c.centroid);
    Ok((o, table))
}

/// The library's MIDI options from the C struct (NULL: the defaults).
///
/// # Safety
/// As [`bam`].
pub(crate) unsafe fn midi(options: *const RawarrowMidiOptions) -> Result<MidiOptions, Error> {
    let mut o = MidiOptions::default();
    if options.is_null() {
        return Ok(o);
    }
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
    // SAFETY: as above.
    if let Some(k) = unsafe { opt_str(c.key_profile, "key_profile") }? {
        o.key_profile = k.parse().map_err(|e: String| usage(&e))?;
    }
    Ok(o)
}

/// Writes `value` through `options` unless it is NULL.
///
/// # Safety
/// `options` is NULL or writable.
unsafe fn init<T>(options: *mut T, value: T) {
    if !options.is_null() {
        // SAFETY: not NULL, writable by the caller's contract.
        unsafe { options.write(value) };
    }
}

/// Fills `options` with the defaults.
///
/// # Safety
/// `options` is NULL (nothing happens) or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_bam_options_init(options: *mut RawarrowBamOptions) {
    // SAFETY: forwarded from the caller.
    unsafe { init(options, RawarrowBamOptions::default()) }
}

/// Fills `options` with the defaults.
///
/// # Safety
/// `options` is NULL (nothing happens) or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_tdf_options_init(options: *mut RawarrowTdfOptions) {
    // SAFETY: forwarded from the caller.
    unsafe { init(options, RawarrowTdfOptions::default()) }
}

/// Fills `options` with the defaults.
///
/// # Safety
/// `options` is NULL (nothing happens) or writable.
#[no_mangle]
pub unsafe extern "C" fn rawarrow_midi_options_init(options: *mut RawarrowMidiOptions) {
    // SAFETY: forwarded from the caller.
    unsafe { init(options, RawarrowMidiOptions::default()) }
}
