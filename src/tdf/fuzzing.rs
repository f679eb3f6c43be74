//! Entry points for the fuzz targets under `fuzz/`, built only by `cargo fuzz` (which sets
//! `cfg(fuzzing)`): they reach the frame decoder and the metadata reader, which are not API.

use std::path::Path;

use super::frame::FrameDecoder;
use super::meta::{FrameRow, Metadata};
use super::{Error, Reader, ReaderBuilder};
use crate::io::Input;

/// Decodes `bin` (an `analysis.tdf_bin`) as the blob at `tims_id` of a frame with `scans` scans
/// and `peaks` peaks into `tof` and `intensity` (each `peaks` long); whether it decoded.
pub fn decode_frame(
    bin: &[u8],
    scans: u32,
    peaks: u64,
    tims_id: u64,
    tof: &mut [u32],
    intensity: &mut [u32],
) -> bool {
    let row = FrameRow {
        id: 1,
        time: 0.0,
        msms_type: 0,
        tims_id,
        num_scans: scans,
        num_peaks: peaks,
        mz_calibration: None,
        tims_calibration: None,
    };
    let Ok(mut dec) = FrameDecoder::new() else {
        return false;
    };
    dec.decode(super::frame::Window::whole(bin), &row, tof, intensity)
        .is_ok()
}

/// The reader `builder` makes for the run `dir` whose `analysis.tdf` is the database `conn`
/// and whose `analysis.tdf_bin` is `bin`; `None` when the metadata is refused.
pub fn reader_from_database(
    builder: ReaderBuilder,
    conn: &rusqlite::Connection,
    dir: &Path,
    bin: Input,
) -> Option<Result<Reader, Error>> {
    let meta = Metadata::from_connection_in(conn, &dir.join("analysis.tdf"), None).ok()?;
    let bin = super::blobs::Bin::new(bin, dir.join("analysis.tdf_bin"), Vec::new());
    Some(builder.build_from_parts(dir, meta, bin))
}
