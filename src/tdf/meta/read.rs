//! Reading `analysis.tdf`'s tables: checked columns, typed values, errors naming the table.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;

use super::rows::{DiaWindowRow, FrameRow, Isolation, PasefRow, PrecursorRow, Window};
use crate::tdf::Error;

pub(super) fn sql_err(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::metadata(path.to_path_buf(), format!("{what}: {e}")).caused_by(e)
}

pub(super) fn table_columns(
    conn: &Connection,
    path: &Path,
    table: &str,
) -> Result<Vec<String>, Error> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .map_err(|e| sql_err(path, table, e))?;
    let cols = stmt
        .query_map([], |r| r.get::<_, String>(1))
        .map_err(|e| sql_err(path, table, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| sql_err(path, table, e))?;
    Ok(cols)
}

/// Checks that `table` exists with `columns`; `Ok(false)` when the table is absent and optional.
pub(super) fn require(
    conn: &Connection,
    path: &Path,
    table: &str,
    columns: &[&str],
    optional: bool,
) -> Result<bool, Error> {
    let have = table_columns(conn, path, table)?;
    if have.is_empty() {
        if optional {
            return Ok(false);
        }
        return Err(Error::metadata(
            path.to_path_buf(),
            format!("missing table {table}"),
        ));
    }
    for c in columns {
        if !have.iter().any(|h| h.eq_ignore_ascii_case(c)) {
            return Err(Error::metadata(
                path.to_path_buf(),
                format!("table {table} has no column {c}"),
            ));
        }
    }
    Ok(true)
}

pub(super) fn has_columns(
    conn: &Connection,
    path: &Path,
    table: &str,
    cols: &[&str],
) -> Result<bool, Error> {
    let have = table_columns(conn, path, table)?;
    Ok(cols
        .iter()
        .all(|c| have.iter().any(|h| h.eq_ignore_ascii_case(c))))
}

/// `GlobalMetadata` as key/value strings (NULL values as empty strings).
pub(super) fn read_global(
    conn: &Connection,
    path: &Path,
) -> Result<HashMap<String, String>, Error> {
    let q = |what: &str, e| sql_err(path, what, e);
    require(conn, path, "GlobalMetadata", &["Key", "Value"], false)?;
    let mut global = HashMap::new();
    {
        let mut stmt = conn
            .prepare("SELECT Key, Value FROM GlobalMetadata")
            .map_err(|e| q("GlobalMetadata", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(|e| q("GlobalMetadata", e))?;
        for row in rows {
            let (k, v) = row.map_err(|e| q("GlobalMetadata", e))?;
            global.insert(k, v.unwrap_or_default());
        }
    }
    Ok(global)
}

/// The `Frames` rows (those with `Time` in `time`, when given) in id order, and the largest
/// `NumScans` of every frame.
pub(super) fn read_frames(
    conn: &Connection,
    path: &Path,
    time: Option<(f64, f64)>,
) -> Result<(Vec<FrameRow>, u32), Error> {
    let q = |what: &str, e| sql_err(path, what, e);
    let base = ["Id", "Time", "MsMsType", "TimsId", "NumScans", "NumPeaks"];
    require(conn, path, "Frames", &base, false)?;
    let calibrated = has_columns(
        conn,
        path,
        "Frames",
        &["MzCalibration", "T1", "T2", "TimsCalibration"],
    )?;
    let columns = if calibrated {
        "Id, Time, MsMsType, TimsId, NumScans, NumPeaks, MzCalibration, T1, T2, \
         TimsCalibration"
    } else {
        "Id, Time, MsMsType, TimsId, NumScans, NumPeaks"
    };
    let (lo, hi) = time.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
    let sql = if time.is_some() {
        format!("SELECT {columns} FROM Frames WHERE Time >= ?1 AND Time <= ?2 ORDER BY Id")
    } else {
        format!("SELECT {columns} FROM Frames ORDER BY Id")
    };
    let max_num_scans: Option<i64> = conn
        .query_row("SELECT MAX(NumScans) FROM Frames", [], |r| r.get(0))
        .map_err(|e| q("Frames.NumScans", e))?;
    let max_num_scans = u32::try_from(max_num_scans.unwrap_or(0)).map_err(|_| {
        Error::metadata(
            path.to_path_buf(),
            format!("Frames: NumScans = {max_num_scans:?} out of range"),
        )
    })?;
    let mut frames = Vec::new();
    {
        let mut stmt = conn.prepare(&sql).map_err(|e| q("Frames", e))?;
        let mut rows = if time.is_some() {
            stmt.query([lo, hi])
        } else {
            stmt.query([])
        }
        .map_err(|e| q("Frames", e))?;
        while let Some(r) = rows.next().map_err(|e| q("Frames", e))? {
            let get_i = |i: usize| r.get::<_, i64>(i);
            let id = get_i(0).map_err(|e| q("Frames.Id", e))?;
            let bad = |what: &str, v: i64| {
                Error::metadata(
                    path.to_path_buf(),
                    format!("frame {id}: {what} = {v} out of range"),
                )
            };
            let msms = get_i(2).map_err(|e| q("Frames.MsMsType", e))?;
            let tims = get_i(3).map_err(|e| q("Frames.TimsId", e))?;
            let scans = get_i(4).map_err(|e| q("Frames.NumScans", e))?;
            let peaks = get_i(5).map_err(|e| q("Frames.NumPeaks", e))?;
            let row = FrameRow {
                id: u32::try_from(id).map_err(|_| bad("Id", id))?,
                time: r.get::<_, f64>(1).map_err(|e| q("Frames.Time", e))?,
                msms_type: u8::try_from(msms)
                    .ok()
                    .filter(|t| matches!(t, 0 | 2 | 8 | 9 | 10))
                    .ok_or_else(|| {
                        Error::metadata(
                            path.to_path_buf(),
                            format!(
                                "Frames row Id={id}: MsMsType = {msms} is not a known scan mode \
                             (0 MS1, 2 MS/MS, 8 ddaPASEF, 9 diaPASEF, 10 PRM)"
                            ),
                        )
                    })?,
                tims_id: u64::try_from(tims).map_err(|_| bad("TimsId", tims))?,
                num_scans: u32::try_from(scans).map_err(|_| bad("NumScans", scans))?,
                num_peaks: u64::try_from(peaks).map_err(|_| bad("NumPeaks", peaks))?,
                mz_calibration: None,
                tims_calibration: None,
            };
            let row = if calibrated {
                FrameRow {
                    mz_calibration: Some((
                        get_i(6).map_err(|e| q("Frames.MzCalibration", e))?,
                        calibration_value(
                            "Frames",
                            id,
                            "T1",
                            r.get::<_, Option<f64>>(7).map_err(|e| q("Frames.T1", e))?,
                            path,
                        )?,
                        calibration_value(
                            "Frames",
                            id,
                            "T2",
                            r.get::<_, Option<f64>>(8).map_err(|e| q("Frames.T2", e))?,
                            path,
                        )?,
                    )),
                    tims_calibration: Some(get_i(9).map_err(|e| q("Frames.TimsCalibration", e))?),
                    ..row
                }
            } else {
                row
            };
            frames.push(row);
        }
    }
    Ok((frames, max_num_scans))
}

/// `MzCalibration` rows by id: ModelType, DigitizerTimebase, DigitizerDelay, T1, T2, dC1, dC2,
/// then C0.. (C5..C14 when the table has them); empty when the table is absent.
pub(super) fn read_mz_calibrations(
    conn: &Connection,
    path: &Path,
) -> Result<HashMap<i64, Vec<f64>>, Error> {
    let q = |what: &str, e| sql_err(path, what, e);
    let mut mz_calibrations = HashMap::new();
    let mz_cols = [
        "Id",
        "ModelType",
        "DigitizerTimebase",
        "DigitizerDelay",
        "T1",
        "T2",
        "dC1",
        "dC2",
        "C0",
        "C1",
        "C2",
        "C3",
        "C4",
    ];
    if require(conn, path, "MzCalibration", &mz_cols, true)? {
        let all = table_columns(conn, path, "MzCalibration")?;
        let cols: Vec<String> = mz_cols
            .iter()
            .map(|c| c.to_string())
            .chain(
                (5..15)
                    .map(|i| format!("C{i}"))
                    .filter(|c| all.iter().any(|h| h.eq_ignore_ascii_case(c))),
            )
            .collect();
        let sql = format!("SELECT {} FROM MzCalibration", cols.join(", "));
        let mut stmt = conn.prepare(&sql).map_err(|e| q("MzCalibration", e))?;
        let mut rows = stmt.query([]).map_err(|e| q("MzCalibration", e))?;
        while let Some(r) = rows.next().map_err(|e| q("MzCalibration", e))? {
            let id: i64 = r.get(0).map_err(|e| q("MzCalibration.Id", e))?;
            let mut v = Vec::with_capacity(cols.len() - 1);
            for (i, col) in cols.iter().enumerate().skip(1) {
                let value = r
                    .get::<_, Option<f64>>(i)
                    .map_err(|e| q("MzCalibration", e))?;
                v.push(calibration_value("MzCalibration", id, col, value, path)?);
            }
            mz_calibrations.insert(id, v);
        }
    }
    Ok(mz_calibrations)
}

/// `TimsCalibration` rows by id: ModelType, then C0..C9; empty when the table is absent.
pub(super) fn read_tims_calibrations(
    conn: &Connection,
    path: &Path,
) -> Result<HashMap<i64, Vec<f64>>, Error> {
    let q = |what: &str, e| sql_err(path, what, e);
    let mut tims_calibrations = HashMap::new();
    let tims_cols = [
        "Id",
        "ModelType",
        "C0",
        "C1",
        "C2",
        "C3",
        "C4",
        "C5",
        "C6",
        "C7",
        "C8",
        "C9",
    ];
    if require(conn, path, "TimsCalibration", &tims_cols, true)? {
        let sql = format!("SELECT {} FROM TimsCalibration", tims_cols.join(", "));
        let mut stmt = conn.prepare(&sql).map_err(|e| q("TimsCalibration", e))?;
        let mut rows = stmt.query([]).map_err(|e| q("TimsCalibration", e))?;
        while let Some(r) = rows.next().map_err(|e| q("TimsCalibration", e))? {
            let id: i64 = r.get(0).map_err(|e| q("TimsCalibration.Id", e))?;
            let mut v = Vec::with_capacity(11);
            for (i, col) in tims_cols.iter().enumerate().skip(1) {
                let value = r
                    .get::<_, Option<f64>>(i)
                    .map_err(|e| q("TimsCalibration", e))?;
                v.push(calibration_value("TimsCalibration", id, col, value, path)?);
            }
            tims_calibrations.insert(id, v);
        }
    }
    Ok(tims_calibrations)
}

/// Per frame id present in `frames`: its DIA windows (through its window group) or its PASEF
/// selections, sorted by first scan.
pub(super) fn windows_by_frame(
    frames: &[FrameRow],
    dia_windows: &[DiaWindowRow],
    dia_frames: &[(u32, u32)],
    pasef: &[PasefRow],
) -> HashMap<u32, Vec<Window>> {
    let mut windows: HashMap<u32, Vec<Window>> = HashMap::new();
    let mut by_group: HashMap<u32, Vec<Window>> = HashMap::new();
    for w in dia_windows {
        by_group
            .entry(w.group)
            .or_default()
            .push(Window::new(w.group, &w.isolation));
    }
    let present = |id: u32| {
        frames
            .binary_search_by_key(&id, |f: &FrameRow| f.id)
            .is_ok()
    };
    for &(frame, group) in dia_frames {
        if !present(frame) {
            continue;
        }
        if let Some(ws) = by_group.get(&group) {
            windows.entry(frame).or_default().extend_from_slice(ws);
        }
    }
    for p in pasef.iter().filter(|p| present(p.frame)) {
        windows
            .entry(p.frame)
            .or_default()
            .push(Window::new(p.precursor, &p.isolation));
    }
    for ws in windows.values_mut() {
        ws.sort_by_key(|w| w.scan_begin);
    }
    windows
}

/// A calibration value: present and finite, or an error naming table, row and column (a NULL
/// would otherwise shift every m/z or 1/K0 without a word).
pub(super) fn calibration_value(
    table: &str,
    id: i64,
    column: &str,
    value: Option<f64>,
    path: &Path,
) -> Result<f64, Error> {
    match value {
        Some(v) if v.is_finite() => Ok(v),
        Some(v) => Err(Error::metadata(
            path.to_path_buf(),
            format!("{table} row Id={id}: {column} = {v} is not a finite number"),
        )),
        None => Err(Error::metadata(
            path.to_path_buf(),
            format!("{table} row Id={id}: {column} is NULL"),
        )),
    }
}

/// A table's rows, each made by `row` from the selected columns.
pub(super) fn rows<T>(
    conn: &Connection,
    path: &Path,
    table: &str,
    sql: &str,
    mut row: impl FnMut(&rusqlite::Row<'_>) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut stmt = conn.prepare(sql).map_err(|e| sql_err(path, table, e))?;
    let mut rows = stmt.query([]).map_err(|e| sql_err(path, table, e))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(|e| sql_err(path, table, e))? {
        out.push(row(r)?);
    }
    Ok(out)
}

/// Column `i` of `r` as `T`, or an error naming `table.column`.
pub(super) fn get<T: rusqlite::types::FromSql>(
    r: &rusqlite::Row<'_>,
    i: usize,
    path: &Path,
    table: &str,
    column: &str,
) -> Result<T, Error> {
    r.get(i)
        .map_err(|e| sql_err(path, &format!("{table}.{column}"), e))
}

/// An id, scan number or window group: a non-negative integer that fits 32 bits.
pub(super) fn get_u32(
    r: &rusqlite::Row<'_>,
    i: usize,
    path: &Path,
    table: &str,
    column: &str,
) -> Result<u32, Error> {
    let v: i64 = get(r, i, path, table, column)?;
    u32::try_from(v).map_err(|_| {
        Error::metadata(
            path.to_path_buf(),
            format!("{table}.{column} = {v} is out of range"),
        )
    })
}

/// The isolation columns both window tables share, in the order [`isolation`] reads them
/// (`CollisionEnergy` as NULL when the table lacks it).
pub(super) fn isolation_columns(
    conn: &Connection,
    path: &Path,
    table: &str,
) -> Result<String, Error> {
    let energy = if has_columns(conn, path, table, &["CollisionEnergy"])? {
        "CollisionEnergy"
    } else {
        "NULL"
    };
    Ok(format!(
        "ScanNumBegin, ScanNumEnd, IsolationMz, IsolationWidth, {energy}"
    ))
}

/// The [`Isolation`] in the columns of [`isolation_columns`] starting at `at`.
pub(super) fn isolation(
    r: &rusqlite::Row<'_>,
    at: usize,
    path: &Path,
    t: &str,
) -> Result<Isolation, Error> {
    Ok(Isolation {
        scan_begin: get_u32(r, at, path, t, "ScanNumBegin")?,
        scan_end: get_u32(r, at + 1, path, t, "ScanNumEnd")?,
        isolation_mz: get(r, at + 2, path, t, "IsolationMz")?,
        isolation_width: get(r, at + 3, path, t, "IsolationWidth")?,
        collision_energy: get::<Option<f64>>(r, at + 4, path, t, "CollisionEnergy")?
            .unwrap_or(f64::NAN),
    })
}

/// `DiaFrameMsMsWindows` rows and `DiaFrameMsMsInfo` (frame, window group) pairs.
pub(super) type DiaTables = (Vec<DiaWindowRow>, Vec<(u32, u32)>);

/// `DiaFrameMsMsWindows` by (group, scan) and `DiaFrameMsMsInfo` by frame (empty without them).
pub(super) fn read_dia(conn: &Connection, path: &Path) -> Result<DiaTables, Error> {
    let win_cols = [
        "WindowGroup",
        "ScanNumBegin",
        "ScanNumEnd",
        "IsolationMz",
        "IsolationWidth",
    ];
    let t = "DiaFrameMsMsWindows";
    if !(require(
        conn,
        path,
        "DiaFrameMsMsInfo",
        &["Frame", "WindowGroup"],
        true,
    )? && require(conn, path, t, &win_cols, true)?)
    {
        return Ok((Vec::new(), Vec::new()));
    }
    let sql = format!(
        "SELECT WindowGroup, {} FROM {t}",
        isolation_columns(conn, path, t)?
    );
    let mut windows = rows(conn, path, t, &sql, |r| {
        Ok(DiaWindowRow {
            group: get_u32(r, 0, path, t, "WindowGroup")?,
            isolation: isolation(r, 1, path, t)?,
        })
    })?;
    windows.sort_by_key(|w| (w.group, w.isolation.scan_begin, w.isolation.scan_end));
    let t = "DiaFrameMsMsInfo";
    let mut frames = rows(
        conn,
        path,
        t,
        "SELECT Frame, WindowGroup FROM DiaFrameMsMsInfo",
        |r| {
            Ok((
                get_u32(r, 0, path, t, "Frame")?,
                get_u32(r, 1, path, t, "WindowGroup")?,
            ))
        },
    )?;
    frames.sort_unstable();
    Ok((windows, frames))
}

/// `PasefFrameMsMsInfo` by (precursor, frame, scan) (empty without it).
pub(super) fn read_pasef(conn: &Connection, path: &Path) -> Result<Vec<PasefRow>, Error> {
    let t = "PasefFrameMsMsInfo";
    let cols = [
        "Frame",
        "ScanNumBegin",
        "ScanNumEnd",
        "IsolationMz",
        "IsolationWidth",
        "Precursor",
    ];
    if !require(conn, path, t, &cols, true)? {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT Frame, Precursor, {} FROM {t}",
        isolation_columns(conn, path, t)?
    );
    let mut out = rows(conn, path, t, &sql, |r| {
        Ok(PasefRow {
            frame: get_u32(r, 0, path, t, "Frame")?,
            precursor: get_u32(r, 1, path, t, "Precursor")?,
            isolation: isolation(r, 2, path, t)?,
        })
    })?;
    out.sort_by_key(|p| (p.precursor, p.frame, p.isolation.scan_begin));
    Ok(out)
}

/// `Precursors` by id (empty without it).
pub(super) fn read_precursors(conn: &Connection, path: &Path) -> Result<Vec<PrecursorRow>, Error> {
    let t = "Precursors";
    let cols = [
        "Id",
        "LargestPeakMz",
        "AverageMz",
        "MonoisotopicMz",
        "Charge",
        "ScanNumber",
        "Intensity",
        "Parent",
    ];
    if !require(conn, path, t, &cols, true)? {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {} FROM {t} ORDER BY Id", cols.join(", "));
    rows(conn, path, t, &sql, |r| {
        let id = get_u32(r, 0, path, t, "Id")?;
        let bad =
            |what: &str| Error::metadata(path.to_path_buf(), format!("{t} row Id={id}: {what}"));
        let charge: Option<i64> = get(r, 4, path, t, "Charge")?;
        let scan: Option<f64> = get(r, 5, path, t, "ScanNumber")?;
        Ok(PrecursorRow {
            id,
            mz_largest_peak: get(r, 1, path, t, "LargestPeakMz")?,
            mz_average: get(r, 2, path, t, "AverageMz")?,
            mz_monoisotopic: get(r, 3, path, t, "MonoisotopicMz")?,
            charge: charge
                .map(|c| u8::try_from(c).map_err(|_| bad(&format!("Charge = {c} is out of range"))))
                .transpose()?,
            scan: scan
                .filter(|s| s.is_finite())
                .ok_or_else(|| bad("ScanNumber is NULL or not finite"))?,
            intensity: get(r, 6, path, t, "Intensity")?,
            parent: get_u32(r, 7, path, t, "Parent")?,
        })
    })
}
