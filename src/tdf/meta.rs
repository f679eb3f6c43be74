//! `analysis.tdf` (SQLite) metadata: global key/values, frames, calibrations, DIA windows and
//! DDA PASEF selections. Opened read-only and immutable (the folder may be on read-only media).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::Error;

mod read;
mod rows;

use read::{
    read_dia, read_frames, read_global, read_mz_calibrations, read_pasef, read_precursors,
    read_tims_calibrations, sql_err, windows_by_frame,
};
pub(crate) use rows::{DiaWindowRow, FrameRow, PasefRow, PrecursorRow, Window};

/// Everything the reader needs from `analysis.tdf`.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    /// `GlobalMetadata` key/values.
    pub(crate) global: HashMap<String, String>,
    /// Frames in id order.
    pub(crate) frames: Vec<FrameRow>,
    /// `MzCalibration` rows by id: ModelType, DigitizerTimebase, DigitizerDelay, T1, T2, dC1,
    /// dC2, then C0.. (5 coefficients for ModelType 1, 15 for ModelType 2).
    pub(crate) mz_calibrations: HashMap<i64, Vec<f64>>,
    /// `TimsCalibration` rows by id: ModelType, then C0..C9.
    pub(crate) tims_calibrations: HashMap<i64, Vec<f64>>,
    /// Per frame id: DIA windows (by window group) or DDA PASEF selections, sorted by scan.
    pub(crate) windows: HashMap<u32, Vec<Window>>,
    /// Whether the run is ddaPASEF (MsMsType 8 frames or PASEF rows): the windows are DDA
    /// selections and their `group` is a precursor id.
    pub(crate) dda: bool,
    /// `Precursors` by id (ddaPASEF; empty otherwise).
    pub(crate) precursors: Vec<PrecursorRow>,
    /// `PasefFrameMsMsInfo` by (precursor, frame) (ddaPASEF; empty otherwise).
    pub(crate) pasef: Vec<PasefRow>,
    /// `DiaFrameMsMsWindows` by (group, scan) (diaPASEF; empty otherwise).
    pub(crate) dia_windows: Vec<DiaWindowRow>,
    /// `DiaFrameMsMsInfo`: (frame, window group), by frame.
    pub(crate) dia_frames: Vec<(u32, u32)>,
    /// The largest `NumScans` of every frame (also of those a time range left out).
    pub(crate) max_num_scans: u32,
}

/// The SQLite database in `file`, read-only and immutable (no locks, no journal), named
/// `name` in errors.
fn open(file: &Path, name: &Path) -> Result<Connection, Error> {
    let uri = format!("file:{}?mode=ro&immutable=1", file.display());
    Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql_err(name, "open", e))
}

impl Metadata {
    /// [`Metadata::read`] keeping only the frames whose `Time` lies in `time` (inclusive): the
    /// other rows are not read (a one-minute slice of an hour-long run opens in a tenth of the
    /// time), and `max_num_scans` is still that of every frame.
    pub(crate) fn read_in(path: &Path, time: Option<(f64, f64)>) -> Result<Self, Error> {
        Self::read_file_in(path, path, time)
    }

    /// [`Metadata::read_in`] of the database in `file`, named `name` in errors (a temporary
    /// copy of a remote `analysis.tdf` is named by its URL).
    pub(crate) fn read_file_in(
        file: &Path,
        name: &Path,
        time: Option<(f64, f64)>,
    ) -> Result<Self, Error> {
        let conn = open(file, name)?;
        Self::from_connection_in(&conn, name, time)
    }

    /// Every frame's `TimsId` in the database in `file` (named `name` in errors), ascending,
    /// without repeats: where each blob of `analysis.tdf_bin` ends at most.
    pub(crate) fn blob_starts(file: &Path, name: &Path) -> Result<Vec<u64>, Error> {
        let conn = open(file, name)?;
        let q = |e| sql_err(name, "Frames.TimsId", e);
        let mut stmt = conn
            .prepare("SELECT DISTINCT TimsId FROM Frames ORDER BY TimsId")
            .map_err(q)?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).map_err(q)?;
        let mut out = Vec::new();
        for row in rows {
            let id = row.map_err(q)?;
            out.push(u64::try_from(id).map_err(|_| {
                Error::metadata(
                    name.to_path_buf(),
                    format!("Frames: TimsId = {id} out of range"),
                )
            })?);
        }
        Ok(out)
    }

    /// [`Metadata::read_in`] from an open SQLite connection (an in-memory database when
    /// fuzzing); `path` names the file in errors.
    pub(crate) fn from_connection_in(
        conn: &Connection,
        path: &Path,
        time: Option<(f64, f64)>,
    ) -> Result<Self, Error> {
        let global = read_global(conn, path)?;
        let (frames, max_num_scans) = read_frames(conn, path, time)?;
        let mz_calibrations = read_mz_calibrations(conn, path)?;
        let tims_calibrations = read_tims_calibrations(conn, path)?;
        let (dia_windows, dia_frames) = read_dia(conn, path)?;
        let pasef = read_pasef(conn, path)?;
        let precursors = read_precursors(conn, path)?;
        // ddaPASEF by its frames or its PASEF rows (runs carry the other mode's tables empty).
        let dda = !pasef.is_empty() || frames.iter().any(|f| f.msms_type == 8);
        let windows = windows_by_frame(&frames, &dia_windows, &dia_frames, &pasef);
        Ok(Self {
            global,
            frames,
            mz_calibrations,
            tims_calibrations,
            windows,
            dda,
            precursors,
            pasef,
            dia_windows,
            dia_frames,
            max_num_scans,
        })
    }

    /// A `GlobalMetadata` number that must be finite and positive, or an error naming the key.
    pub(crate) fn global_positive(&self, path: &Path, key: &str) -> Result<f64, Error> {
        let v: f64 = self.global_value(path, key)?;
        if v.is_finite() && v > 0.0 {
            return Ok(v);
        }
        Err(Error::metadata(
            path.to_path_buf(),
            format!("GlobalMetadata {key} = {v} is not a positive finite number"),
        ))
    }

    /// A `GlobalMetadata` value parsed as `T`, or an error naming the key.
    pub(crate) fn global_value<T: std::str::FromStr>(
        &self,
        path: &Path,
        key: &str,
    ) -> Result<T, Error> {
        let v = self.global.get(key).ok_or_else(|| {
            Error::metadata(
                path.to_path_buf(),
                format!("GlobalMetadata has no key {key}"),
            )
        })?;
        v.trim().parse().map_err(|_| {
            Error::metadata(
                path.to_path_buf(),
                format!("GlobalMetadata {key} = {v:?} is not a number"),
            )
        })
    }
}
