//! timsTOF metadata: `analysis.tdf` rows made from the input (global key/values, frames, the
//! m/z and mobility calibrations, DIA windows or DDA precursors and PASEF rows; each value a
//! real run's, perturbed, or one of the values damaged files hold: NULL, text, 0, negative,
//! NaN, ±inf, huge) in an in-memory SQLite database, then the reader of one of the four tables
//! set up from them (`build_from_parts`, with rt/mobility/m/z slices from the input) over a
//! small valid `analysis.tdf_bin`, and every batch read. Setup and reading must never panic;
//! whatever is read must be plausible: finite m/z in (0, 1e5) and finite 1/K0 in (0, 10) —
//! damaged metadata is an error or a warning, never silent garbage.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use arrow_array::{Array, Float64Array};
use libfuzzer_sys::fuzz_target;
use rawarrow::io::Input;
use rawarrow::tdf::{Calibration, Reader, Table};
use rusqlite::types::Value;
use rusqlite::Connection;

const SCHEMA: &str = "
CREATE TABLE GlobalMetadata (Key TEXT PRIMARY KEY, Value TEXT);
CREATE TABLE Frames (Id INTEGER PRIMARY KEY, Time REAL, MsMsType INTEGER, TimsId INTEGER,
  NumScans INTEGER, NumPeaks INTEGER, MzCalibration INTEGER, T1 REAL, T2 REAL,
  TimsCalibration INTEGER);
CREATE TABLE MzCalibration (Id INTEGER PRIMARY KEY, ModelType INTEGER, DigitizerTimebase REAL,
  DigitizerDelay REAL, T1 REAL, T2 REAL, dC1 REAL, dC2 REAL, C0 REAL, C1 REAL, C2 REAL,
  C3 REAL, C4 REAL);
CREATE TABLE TimsCalibration (Id INTEGER PRIMARY KEY, ModelType INTEGER, C0 REAL, C1 REAL,
  C2 REAL, C3 REAL, C4 REAL, C5 REAL, C6 REAL, C7 REAL, C8 REAL, C9 REAL);
CREATE TABLE DiaFrameMsMsWindows (WindowGroup INTEGER, ScanNumBegin INTEGER,
  ScanNumEnd INTEGER, IsolationMz REAL, IsolationWidth REAL, CollisionEnergy REAL);
CREATE TABLE DiaFrameMsMsInfo (Frame INTEGER PRIMARY KEY, WindowGroup INTEGER);
CREATE TABLE Precursors (Id INTEGER PRIMARY KEY, LargestPeakMz REAL, AverageMz REAL,
  MonoisotopicMz REAL, Charge INTEGER, ScanNumber REAL, Intensity REAL, Parent INTEGER);
CREATE TABLE PasefFrameMsMsInfo (Frame INTEGER, ScanNumBegin INTEGER, ScanNumEnd INTEGER,
  IsolationMz REAL, IsolationWidth REAL, CollisionEnergy REAL, Precursor INTEGER);";

/// One frame blob (2 scans, 3 peaks, TOF indices well inside the digitizer's range) at offset 0.
fn bin() -> &'static [u8] {
    static BIN: OnceLock<Vec<u8>> = OnceLock::new();
    BIN.get_or_init(|| {
        let words: [u32; 8] = [2, 4, 1000, 7, 50, 3, 2000, 11];
        let mut raw = Vec::new();
        for plane in 0..4 {
            raw.extend(words.iter().map(|w| (w >> (8 * plane)) as u8));
        }
        let z = zstd::bulk::compress(&raw, 1).expect("compresses");
        let mut blob = ((8 + z.len()) as u32).to_le_bytes().to_vec();
        blob.extend_from_slice(&2u32.to_le_bytes());
        blob.extend_from_slice(&z);
        blob
    })
}

struct Src<'a>(&'a [u8]);

impl Src<'_> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    /// `real`, mostly, or perturbed, or a value damaged files hold.
    fn real(&mut self, real: f64) -> Value {
        let c = self.u8();
        match c {
            0..=159 => Value::Real(real),
            160..=199 => Value::Real(real * (1.0 + (f64::from(self.u8()) - 128.0) / 64.0)),
            200 => Value::Null,
            201 => Value::Real(0.0),
            202 => Value::Real(-real),
            203 => Value::Real(f64::NAN),
            204 => Value::Real(f64::INFINITY),
            205 => Value::Real(f64::NEG_INFINITY),
            206 => Value::Real(1e305),
            207 => Value::Real(1e-300),
            208 => Value::Text("nan".into()),
            209 => Value::Text("x".into()),
            210 => Value::Integer(i64::MAX),
            211 => Value::Integer(-1),
            _ => Value::Real(real + f64::from(c - 211)),
        }
    }

    fn int(&mut self, real: i64) -> Value {
        match self.u8() {
            0..=199 => Value::Integer(real),
            200 => Value::Null,
            201 => Value::Integer(0),
            202 => Value::Integer(-1),
            203 => Value::Integer(i64::MAX),
            204 => Value::Integer(u32::MAX as i64 + 1),
            205 => Value::Text("2".into()),
            206 => Value::Real(0.5),
            c => Value::Integer(real + i64::from(c - 206)),
        }
    }
}

fn text(v: &Value) -> Value {
    match v {
        Value::Real(r) => Value::Text(format!("{r}")),
        Value::Integer(i) => Value::Text(i.to_string()),
        other => other.clone(),
    }
}

/// The tables, emptied: one in-memory database per fuzzing thread, created once.
fn database(s: &mut Src, conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM GlobalMetadata; DELETE FROM Frames; DELETE FROM MzCalibration;
         DELETE FROM TimsCalibration; DELETE FROM DiaFrameMsMsWindows;
         DELETE FROM DiaFrameMsMsInfo; DELETE FROM Precursors;
         DELETE FROM PasefFrameMsMsInfo;",
    )?;
    let insert = |sql: &str, values: Vec<Value>| {
        conn.prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(values))
            .map(|_| ())
    };
    let global = [
        ("TimsCompressionType", s.int(2)),
        ("DigitizerNumSamples", s.int(400_000)),
        ("MzAcqRangeLower", s.real(100.0)),
        ("MzAcqRangeUpper", s.real(1700.0)),
        ("OneOverK0AcqRangeLower", s.real(0.6)),
        ("OneOverK0AcqRangeUpper", s.real(1.6)),
    ];
    for (k, v) in global {
        insert(
            "INSERT INTO GlobalMetadata VALUES (?1, ?2)",
            vec![Value::Text(k.into()), text(&v)],
        )?;
    }
    let mz = vec![
        s.int(1),
        s.int(1),
        s.real(0.2),
        s.real(25687.6),
        s.real(25.84516568311012),
        s.real(27.42610203195191),
        s.real(20.0),
        s.real(0.0),
        s.real(323.0799471916107),
        s.real(155432.66591206135),
        s.real(0.0),
        s.real(0.0),
        s.real(0.0),
    ];
    insert(
        "INSERT INTO MzCalibration VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
        mz,
    )?;
    let tims = vec![
        s.int(1),
        s.int(2),
        s.real(1.0),
        s.real(1.0),
        s.real(173.77261506050363),
        s.real(91.09081367147019),
        s.real(33.333333333333336),
        s.real(1.0),
        s.real(0.01211464733299413),
        s.real(131.56604840664343),
        s.real(13.059915876294479),
        s.real(2205.4837699871955),
    ];
    insert(
        "INSERT INTO TimsCalibration VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        tims,
    )?;
    let dda = s.u8() % 2 == 1;
    for id in 1..=i64::from(s.u8() % 4) + 1 {
        let frame = vec![
            s.int(id),
            s.real(id as f64 * 0.1),
            s.int(match (id % 2, dda) {
                (1, _) => 0,
                (_, true) => 8,
                _ => 9,
            }),
            s.int(0),
            s.int(2),
            s.int(3),
            s.int(1),
            s.real(25.8),
            s.real(27.4),
            s.int(1),
        ];
        insert(
            "INSERT INTO Frames VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            frame,
        )?;
        if dda && id % 2 == 1 {
            // A precursor picked in this MS1 frame, isolated in the next frame.
            let precursor = vec![
                s.int(id),
                s.real(600.5),
                s.real(600.8),
                s.real(600.0),
                s.int(2),
                s.real(1.2),
                s.real(5000.0),
                s.int(id),
            ];
            insert(
                "INSERT INTO Precursors VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                precursor,
            )?;
            let pasef = vec![
                s.int(id + 1),
                s.int(0),
                s.int(2),
                s.real(601.0),
                s.real(2.0),
                s.real(30.0),
                s.int(id),
            ];
            insert(
                "INSERT INTO PasefFrameMsMsInfo VALUES (?1,?2,?3,?4,?5,?6,?7)",
                pasef,
            )?;
        }
        if !dda && id % 2 == 0 && s.u8() < 200 {
            insert(
                "INSERT INTO DiaFrameMsMsInfo VALUES (?1, ?2)",
                vec![Value::Integer(id), s.int(1)],
            )?;
        }
    }
    for _ in 0..s.u8() % 3 {
        let window = vec![
            s.int(1),
            s.int(0),
            s.int(2),
            s.real(500.0),
            s.real(25.0),
            s.real(30.0),
        ];
        insert(
            "INSERT INTO DiaFrameMsMsWindows VALUES (?1,?2,?3,?4,?5,?6)",
            window,
        )?;
    }
    Ok(())
}

fn column<'a>(b: &'a arrow_array::RecordBatch, name: &str) -> Option<&'a Float64Array> {
    b.column_by_name(name)?
        .as_any()
        .downcast_ref::<Float64Array>()
}

fuzz_target!(|bytes: &[u8]| {
    let mut s = Src(bytes);
    let calibration = match s.u8() % 3 {
        0 => Calibration::Auto,
        1 => Calibration::Bruker,
        _ => Calibration::Estimate,
    };
    thread_local! {
        static CONN: Connection = {
            let conn = Connection::open_in_memory().expect("in-memory database");
            conn.execute_batch(SCHEMA).expect("schema");
            conn
        };
    }
    if CONN.with(|conn| database(&mut s, conn)).is_err() {
        return;
    }
    let dir = Path::new("fuzz.d");
    let bin = Input::from_bytes("fuzz.d/analysis.tdf_bin", bin().to_vec());
    let mut b = Reader::builder()
        .threads(1)
        .calibration(calibration)
        .table(match s.u8() % 4 {
            0 => Table::Peaks,
            1 => Table::Precursors,
            2 => Table::Spectra,
            _ => Table::Windows,
        });
    // Slices: none, or bounds from the input (a real box, perturbed, reversed, NaN, infinite).
    let mut picks: Vec<Option<(f64, f64)>> = Vec::new();
    for (lo, hi) in [(0.0, 1.0), (0.6, 1.6), (100.0, 1700.0)] {
        if s.u8() % 2 == 0 {
            picks.push(None);
            continue;
        }
        let mut bound = |real: f64| match s.real(real) {
            Value::Real(v) => v,
            _ => real,
        };
        let lo = bound(lo);
        picks.push(Some((lo, bound(hi))));
    }
    if let Some((lo, hi)) = picks[0] {
        b = match b.clone().rt(lo, hi) {
            Ok(b) => b,
            Err(_) => return,
        };
    }
    if let Some((lo, hi)) = picks[1] {
        b = match b.clone().mobility(lo, hi) {
            Ok(b) => b,
            Err(_) => return,
        };
    }
    if let Some((lo, hi)) = picks[2] {
        b = match b.clone().mz(lo, hi) {
            Ok(b) => b,
            Err(_) => return,
        };
    }
    if s.u8() % 2 == 1 {
        b = b.centroid(u32::from(s.u8() % 4));
    }
    let Some(Ok(mut reader)) =
        CONN.with(|conn| rawarrow::tdf::fuzzing::reader_from_database(b, conn, dir, bin))
    else {
        return;
    };
    while let Ok(Some(batch)) = reader.next_batch() {
        if let Some(mz) = column(&batch, "mz") {
            for v in mz.iter().flatten() {
                assert!(v.is_finite() && v > 0.0 && v < 1e5, "m/z {v} accepted");
            }
        }
        if let Some(im) = column(&batch, "mobility") {
            for v in im.iter().flatten() {
                assert!(v.is_finite() && v > 0.0 && v < 10.0, "1/K0 {v} accepted");
            }
        }
        if let Some(mz) = batch
            .column_by_name("mz")
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::ListArray>())
        {
            let values = mz.values().as_any().downcast_ref::<Float64Array>();
            for v in values.expect("m/z values").iter().flatten() {
                assert!(
                    v.is_finite() && v > 0.0 && v < 1e5,
                    "spectrum m/z {v} accepted"
                );
            }
        }
        assert_eq!(batch.column(0).null_count(), 0);
    }
});
