//! timsTOF: our reader against timsrust on every corpus `.d`, and malformed inputs.

mod common;

use common::cells;
use common::mzml::{self, attr, b64, between};

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type};
use arrow_array::{Array, RecordBatch};
use rawarrow::tdf::{Calibration, Reader};
use timsrust::converters::ConvertableDomain;

fn corpus_ds() -> Vec<PathBuf> {
    let Some(dir) = common::corpus_dir("tdf") else {
        eprintln!("RAWARROW_CORPUS not set: corpus .d folders skipped");
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "d"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

fn read_all(dir: &Path, b: rawarrow::tdf::ReaderBuilder) -> RecordBatch {
    let reader = b.build(dir).expect("open");
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("read");
    arrow_select::concat::concat_batches(&schema, &batches).expect("concat")
}

/// The value buffers as stored (null slots hold 0: checked below).
fn u32s(b: &RecordBatch, c: &str) -> Vec<u32> {
    cells::values::<UInt32Type>(b, c)
}

fn f64s(b: &RecordBatch, c: &str) -> Vec<f64> {
    cells::values::<Float64Type>(b, c)
}

#[test]
fn corpus_equals_timsrust() {
    for d in corpus_ds() {
        assert_equals_timsrust(&d);
    }
}

#[test]
fn generated_dataset_equals_timsrust() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().join("synth.d");
    let spec = rawarrow::tdf::synth::Spec {
        frames: 23,
        scans: 120,
        peaks_per_frame: 3000,
        ms1_every: 5,
        window_groups: 3,
        seed: 7,
        dda: false,
    };
    let peaks = rawarrow::tdf::synth::write(&d, &spec).expect("generate");
    assert!(peaks > 23 * 2000, "{peaks}");
    assert_equals_timsrust(&d);
    let r = Reader::builder().build(&d).expect("open");
    assert_eq!(r.calibration(), Calibration::Bruker);
    assert_eq!(r.expected_rows(), peaks);
    // DIA windows: every MS2 peak of the generated frames lies in one of its group's windows.
    let t = read_all(&d, Reader::builder().ms_level(2));
    let wg = t.column_by_name("window_group").expect("wg");
    assert_eq!(wg.null_count(), 0);
    assert_eq!(
        t.column_by_name("precursor").expect("pre").null_count(),
        t.num_rows()
    );
    // Small batches reuse arena memory that held other values: every slot, null ones
    // included, must still be written, so the bytes equal those of one fresh batch.
    // (Each batch is dropped before the next is read, as a streaming consumer does.)
    let fresh = read_all(&d, Reader::builder().threads(1).batch_rows(1 << 30));
    let (u32_cols, f64_cols) = (
        [
            "frame",
            "scan",
            "tof",
            "intensity",
            "window_group",
            "precursor",
        ],
        ["mz", "mobility", "rt", "isolation_mz", "isolation_width"],
    );
    let mut at = 0;
    for batch in Reader::builder()
        .threads(2)
        .batch_rows(700)
        .build(&d)
        .expect("open")
    {
        let batch = batch.expect("batch");
        let rows = at..at + batch.num_rows();
        for c in u32_cols {
            assert_eq!(
                u32s(&batch, c),
                u32s(&fresh, c)[rows.clone()],
                "{c} {rows:?}"
            );
        }
        for c in f64_cols {
            let (a, b) = (f64s(&batch, c), f64s(&fresh, c));
            let same = a
                .iter()
                .zip(&b[rows.clone()])
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{c} {rows:?}");
        }
        at = rows.end;
    }
    assert_eq!(at, fresh.num_rows());
    let imz = fresh.column_by_name("isolation_mz").expect("imz");
    assert!(imz.null_count() > 0 && imz.null_count() < fresh.num_rows());
    let imz = imz.as_primitive::<Float64Type>();
    assert!((0..imz.len()).all(|i| imz.is_valid(i) || imz.values()[i] == 0.0));
}

fn assert_equals_timsrust(d: &Path) {
    {
        let d = d.to_path_buf();
        let frames = timsrust::readers::FrameReader::new(&d).expect("timsrust opens");
        let meta = timsrust::readers::MetadataReader::new(d.join("analysis.tdf")).expect("meta");
        for threads in [1, 2] {
            for rows in [1, 100_000, 1 << 20] {
                let t = read_all(
                    &d,
                    Reader::builder()
                        .threads(threads)
                        .batch_rows(rows)
                        .calibration(Calibration::Estimate),
                );
                let (fid, scan, tof, int) = (
                    u32s(&t, "frame"),
                    u32s(&t, "scan"),
                    u32s(&t, "tof"),
                    u32s(&t, "intensity"),
                );
                let (mz, im) = (f64s(&t, "mz"), f64s(&t, "mobility"));
                let mut row = 0;
                for i in 0..frames.len() {
                    let f = frames.get(i).expect("timsrust frame");
                    for s in 0..f.scan_offsets.len() - 1 {
                        for p in f.scan_offsets[s]..f.scan_offsets[s + 1] {
                            assert_eq!(fid[row] as usize, f.index, "{}", d.display());
                            assert_eq!(scan[row] as usize, s, "{} row {row}", d.display());
                            assert_eq!(tof[row], f.tof_indices[p]);
                            assert_eq!(int[row], f.intensities[p]);
                            let want_mz = meta.mz_converter.convert(f.tof_indices[p]);
                            let want_im = meta.im_converter.convert(s as f64);
                            assert!((mz[row] - want_mz).abs() <= 1e-12 * want_mz, "{row}");
                            assert!((im[row] - want_im).abs() <= 1e-12 * want_im.abs(), "{row}");
                            row += 1;
                        }
                    }
                }
                assert_eq!(row, t.num_rows(), "{}", d.display());
            }
        }
    }
}

#[test]
fn bruker_calibration_is_chosen_when_present_and_columns_project() {
    // A generated run (synth writes Bruker's calibration tables) runs without the corpus.
    let tmp = tempfile::tempdir().expect("tempdir");
    let generated = tmp.path().join("synth.d");
    let spec = rawarrow::tdf::synth::Spec {
        frames: 9,
        scans: 120,
        peaks_per_frame: 900,
        ms1_every: 3,
        window_groups: 2,
        seed: 5,
        dda: false,
    };
    rawarrow::tdf::synth::write(&generated, &spec).expect("generate");
    for d in std::iter::once(generated.clone()).chain(corpus_ds()) {
        let r = Reader::builder().build(&d).expect("open");
        let has_tables =
            d == generated || d.ends_with("DDPASEF_10seconds.d") || d.ends_with("opentims_test.d");
        let want = if has_tables {
            Calibration::Bruker
        } else {
            Calibration::Estimate
        };
        assert_eq!(r.calibration(), want, "{}", d.display());
        let expected = r.expected_rows();
        let t = read_all(
            &d,
            Reader::builder()
                .ms_level(1)
                .columns(&["mz", "frame"])
                .expect("columns"),
        );
        // Schema order whatever order the names come in.
        assert_eq!(t.num_columns(), 2);
        assert_eq!(t.schema().field(0).name(), "frame");
        assert!(t.num_rows() as u64 <= expected);
        let ms2 = read_all(&d, Reader::builder().ms_level(2));
        let all = read_all(&d, Reader::builder());
        assert_eq!(t.num_rows() + ms2.num_rows(), all.num_rows());
        assert_eq!(all.num_rows() as u64, expected);
        // MS1 peaks have no isolation window.
        let lvl = all.column_by_name("ms_level").expect("ms_level");
        let iso = all.column_by_name("isolation_mz").expect("isolation_mz");
        for i in 0..all.num_rows() {
            if lvl.as_primitive::<arrow_array::types::UInt8Type>().value(i) == 1 {
                assert!(iso.is_null(i));
            }
        }
    }
}

#[test]
fn unknown_column_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().join("synth.d");
    let spec = rawarrow::tdf::synth::Spec {
        frames: 3,
        scans: 50,
        peaks_per_frame: 100,
        ..Default::default()
    };
    rawarrow::tdf::synth::write(&d, &spec).expect("generate");
    let e = Reader::builder()
        .columns(&["mz", "nope"])
        .expect("names are checked against the table when built")
        .build(&d)
        .expect_err("unknown");
    assert!(e.to_string().contains("unknown column \"nope\""), "{e}");
    // A column of another table is unknown to this one.
    let e = Reader::builder()
        .table(rawarrow::tdf::Table::Windows)
        .columns(&["mz"])
        .expect("names")
        .build(&d)
        .expect_err("unknown");
    assert!(
        e.to_string().contains("the columns are window_group,"),
        "{e}"
    );
}

fn sql(dir: &Path, stmt: &str) {
    let c = rusqlite::Connection::open(dir.join("analysis.tdf")).expect("open");
    c.execute_batch(stmt).expect("sql");
}

fn read_err(dir: &Path) -> String {
    read_err_with(dir, Reader::builder().threads(2))
}

/// The error of opening or reading `dir` with `b` (which must fail).
fn read_err_with(dir: &Path, b: rawarrow::tdf::ReaderBuilder) -> String {
    let r = b.build(dir);
    match r {
        Err(e) => e.to_string(),
        Ok(r) => {
            let res: Result<Vec<RecordBatch>, _> = r.collect();
            res.expect_err("corrupt input must fail").to_string()
        }
    }
}

#[test]
fn malformed_inputs_name_the_frame() {
    // A generated run (so this always runs); every expected offset and size is read back from
    // its own tables.
    let tmp = damaged("SELECT 1");
    let d = &tmp.path().join("run.d");
    let row = |id: u32| -> (u64, u64, u64) {
        let c = rusqlite::Connection::open(d.join("analysis.tdf")).expect("open");
        c.query_row(
            "SELECT TimsId, NumScans, NumPeaks FROM Frames WHERE Id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("frame row")
    };
    let (t2, s2, p2) = row(2);
    let (t3, s3, _) = row(3);
    assert!(p2 > 0 && s3 > 0);
    let bin_len = std::fs::metadata(d.join("analysis.tdf_bin"))
        .expect("bin")
        .len();
    // TimsId past EOF.
    let past = bin_len + 1000;
    sql(
        d,
        &format!("UPDATE Frames SET TimsId = {past} WHERE Id = 2"),
    );
    let e = read_err(d);
    assert!(
        e.contains(&format!(
            "frame 2 at offset {past}: TimsId {past} is past the end"
        )),
        "{e}"
    );
    // NumPeaks disagreeing with the blob.
    sql(
        d,
        &format!(
            "UPDATE Frames SET TimsId = {t2}, NumPeaks = {} WHERE Id = 2",
            p2 + 1
        ),
    );
    let e = read_err(d);
    let (holds, need) = (4 * (s2 + 2 * p2), 4 * (s2 + 2 * p2 + 2));
    let want = format!(
        "frame 2 at offset {}: zstd frame holds {holds} bytes; NumScans {s2} and NumPeaks {} need {need}",
        t2 + 8,
        p2 + 1
    );
    assert!(e.contains(&want), "{e}");
    sql(
        d,
        &format!("UPDATE Frames SET NumPeaks = {p2} WHERE Id = 2"),
    );
    // Scan count larger than the blob's.
    sql(
        d,
        &format!("UPDATE Frames SET NumScans = {} WHERE Id = 3", s3 + 1),
    );
    let e = read_err(d);
    let want = format!(
        "frame 3 at offset {}: blob has {s3} scans, Frames.NumScans says {}",
        t3 + 4,
        s3 + 1
    );
    assert!(e.contains(&want), "{e}");
    sql(
        d,
        &format!("UPDATE Frames SET NumScans = {s3} WHERE Id = 3"),
    );
    // Truncated zstd: cut the blob's declared size.
    let mut bin = std::fs::read(d.join("analysis.tdf_bin")).expect("bin");
    let good = bin.clone();
    let at = t2 as usize;
    let size = u32::from_le_bytes(bin[at..at + 4].try_into().expect("4")) - 10;
    bin[at..at + 4].copy_from_slice(&size.to_le_bytes());
    std::fs::write(d.join("analysis.tdf_bin"), &bin).expect("write");
    let e = read_err(d);
    assert!(
        e.contains(&format!("frame 2 at offset {}: zstd", t2 + 8)),
        "{e}"
    );
    std::fs::write(d.join("analysis.tdf_bin"), &good).expect("write");
    // A blob whose decompressed size is not a whole number of words (5 bytes).
    let z = zstd::bulk::compress(b"\x04\x00\x00\x00\x01", 1).expect("zstd");
    let mut bin = (8 + z.len() as u32).to_le_bytes().to_vec();
    bin.extend(4u32.to_le_bytes());
    bin.extend(&z);
    std::fs::write(d.join("analysis.tdf_bin"), &bin).expect("write");
    sql(
        d,
        "UPDATE Frames SET TimsId = 0, NumScans = 4, NumPeaks = 10 WHERE Id = 1",
    );
    let e = read_err(d);
    assert!(
        e.contains(
            "frame 1 at offset 8: zstd frame holds 5 bytes; NumScans 4 and NumPeaks 10 need 96"
        ),
        "{e}"
    );
    std::fs::write(d.join("analysis.tdf_bin"), &good).expect("write");
    // Missing table and column.
    sql(d, "ALTER TABLE Frames RENAME COLUMN NumPeaks TO Peaks");
    let e = read_err(d);
    assert!(
        e.ends_with("analysis.tdf: table Frames has no column NumPeaks"),
        "{e}"
    );
    sql(d, "DROP TABLE Frames");
    let e = read_err(d);
    assert!(e.ends_with("analysis.tdf: missing table Frames"), "{e}");
}

#[test]
fn not_a_d_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = Reader::builder().build(tmp.path()).expect_err("no tdf");
    assert!(e.to_string().ends_with("analysis.tdf: missing"), "{e}");
    let e = Reader::builder()
        .build(tmp.path().join("x.d"))
        .expect_err("no folder");
    assert!(e.to_string().contains("not a folder"), "{e}");
}

// ---- against Bruker's SDK (mzML written by the TIMS SDK from the same run) ----

#[test]
fn bruker_calibration_matches_the_sdk() {
    let Some(dir) = common::corpus_dir("tdf") else {
        return;
    };
    let d = dir.join("DDPASEF_10seconds.d");
    let xml = mzml::sdk_mzml(&dir);
    let reader = Reader::builder().ms_level(1).build(&d).expect("open");
    assert_eq!(reader.calibration(), Calibration::Bruker);
    let t = read_all(&d, Reader::builder().ms_level(1));
    let (frames, mz) = (u32s(&t, "frame"), f64s(&t, "mz"));
    let rt = f64s(&t, "rt");
    // Each frame's m/z values, sorted, and its retention time.
    let mut per_frame: Vec<(u32, f64, Vec<f64>)> = Vec::new();
    for i in 0..t.num_rows() {
        if per_frame.last().is_none_or(|f| f.0 != frames[i]) {
            per_frame.push((frames[i], rt[i], Vec::new()));
        }
        per_frame.last_mut().expect("frame").2.push(mz[i]);
    }
    per_frame
        .iter_mut()
        .for_each(|f| f.2.sort_by(f64::total_cmp));
    let (mut total, mut hits) = (0, 0);
    let mut at = 0;
    while let Some((spectrum, end)) = between(&xml, at, "<spectrum ", "</spectrum>") {
        at = end;
        if attr(spectrum, "ms level") == Some(2.0) {
            // Precursors and MS2 spectra: tests/tdf_tables.rs.
            continue;
        }
        let minutes = attr(spectrum, "scan start time").expect("rt");
        let frame = per_frame
            .iter()
            .min_by(|a, b| {
                (a.1 - minutes * 60.0)
                    .abs()
                    .total_cmp(&(b.1 - minutes * 60.0).abs())
            })
            .expect("frames");
        let mut pos = 0;
        while let Some((array, end)) =
            between(spectrum, pos, "<binaryDataArray ", "</binaryDataArray>")
        {
            pos = end;
            if !array.contains("m/z array") {
                continue;
            }
            assert!(array.contains("no compression"));
            let raw = b64(between(array, 0, "<binary>", "</binary>")
                .expect("binary")
                .0);
            let vals: Vec<f64> = if array.contains("64-bit float") {
                raw.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
                    .collect()
            } else {
                raw.chunks_exact(4)
                    .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("4"))))
                    .collect()
            };
            for v in vals {
                total += 1;
                let ours = &frame.2;
                let i = ours.partition_point(|&m| m < v);
                let near = [i.wrapping_sub(1), i]
                    .iter()
                    .filter_map(|&j| ours.get(j))
                    .any(|&m| (m - v).abs() <= 1e-8 * v);
                hits += usize::from(near);
            }
        }
    }
    assert_eq!(total, 34_446, "MS1 centroids in the SDK's mzML");
    // Centroids on a single TOF bin coincide with a raw peak's m/z (chance level: ~130).
    assert!(hits >= 1_400, "{hits} of {total} SDK centroids hit");
}

/// One isolation window read straight from `analysis.tdf`: (scan begin, scan end exclusive,
/// group or precursor, isolation m/z, isolation width).
type SqlWindow = (u32, u32, u32, f64, f64);

/// Every frame's windows from SQL: DIA through the frame's window group, DDA the PASEF rows.
fn sql_windows(d: &Path) -> (bool, std::collections::HashMap<u32, Vec<SqlWindow>>) {
    let conn = rusqlite::Connection::open(d.join("analysis.tdf")).expect("sqlite");
    let has = |t: &str| {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [t],
            |r| r.get::<_, i64>(0),
        )
        .expect("sqlite_master")
            > 0
    };
    let dia = "SELECT i.Frame, w.ScanNumBegin, w.ScanNumEnd, w.WindowGroup, w.IsolationMz, \
               w.IsolationWidth FROM DiaFrameMsMsInfo i JOIN DiaFrameMsMsWindows w \
               ON i.WindowGroup = w.WindowGroup";
    let dda_sql = "SELECT Frame, ScanNumBegin, ScanNumEnd, Precursor, IsolationMz, \
                   IsolationWidth FROM PasefFrameMsMsInfo";
    // ddaPASEF frames or PASEF rows make the run DDA (group = precursor); runs may carry the
    // other mode's tables empty.
    let count = |sql: &str| {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .expect("count")
    };
    let dda = (has("PasefFrameMsMsInfo") && count("SELECT count(*) FROM PasefFrameMsMsInfo") > 0)
        || count("SELECT count(*) FROM Frames WHERE MsMsType = 8") > 0;
    let mut out: std::collections::HashMap<u32, Vec<SqlWindow>> = Default::default();
    for (table, sql) in [("DiaFrameMsMsInfo", dia), ("PasefFrameMsMsInfo", dda_sql)] {
        if !has(table) {
            continue;
        }
        let mut stmt = conn.prepare(sql).expect("prepare");
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
                ))
            })
            .expect("query");
        for row in rows {
            let (frame, w) = row.expect("row");
            out.entry(frame).or_default().push(w);
        }
    }
    (dda, out)
}

/// Every MS2 peak's window columns equal the window of `analysis.tdf` holding its scan, and
/// every other peak's are null (and zero), checked peak by peak without the reader's search.
fn assert_windows_match_sql(d: &Path) -> usize {
    let (dda, windows) = sql_windows(d);
    let t = read_all(d, Reader::builder().threads(2).batch_rows(5000));
    let (frame, scan, lvl) = (
        u32s(&t, "frame"),
        u32s(&t, "scan"),
        t.column_by_name("ms_level")
            .expect("ms_level")
            .as_primitive::<arrow_array::types::UInt8Type>()
            .values()
            .to_vec(),
    );
    let group_col = if dda { "precursor" } else { "window_group" };
    let other = if dda { "window_group" } else { "precursor" };
    let group = t.column_by_name(group_col).expect("group");
    let (imz, iw) = (
        t.column_by_name("isolation_mz").expect("imz"),
        t.column_by_name("isolation_width").expect("iw"),
    );
    assert_eq!(
        t.column_by_name(other).expect("other").null_count(),
        t.num_rows()
    );
    let (gv, mv, wv) = (
        u32s(&t, group_col),
        f64s(&t, "isolation_mz"),
        f64s(&t, "isolation_width"),
    );
    let mut in_window = 0;
    for i in 0..t.num_rows() {
        let hits: Vec<&SqlWindow> = if lvl[i] == 2 {
            windows
                .get(&frame[i])
                .map(|ws| {
                    ws.iter()
                        .filter(|w| w.0 <= scan[i] && scan[i] < w.1)
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let at = format!(
            "{} row {i} frame {} scan {}",
            d.display(),
            frame[i],
            scan[i]
        );
        if hits.is_empty() {
            assert!(group.is_null(i) && imz.is_null(i) && iw.is_null(i), "{at}");
            assert_eq!((gv[i], mv[i], wv[i]), (0, 0.0, 0.0), "{at}");
        } else {
            in_window += 1;
            assert!(
                group.is_valid(i) && imz.is_valid(i) && iw.is_valid(i),
                "{at}"
            );
            // Overlapping selections in one frame: any window holding the scan will do.
            assert!(
                hits.iter().any(|w| (w.2, w.3.to_bits(), w.4.to_bits())
                    == (gv[i], mv[i].to_bits(), wv[i].to_bits())),
                "{at}: {:?} not in {hits:?}",
                (gv[i], mv[i], wv[i])
            );
        }
    }
    in_window
}

#[test]
fn window_columns_equal_the_sql_tables() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().join("synth.d");
    let spec = rawarrow::tdf::synth::Spec {
        frames: 12,
        scans: 200,
        peaks_per_frame: 4000,
        ms1_every: 4,
        window_groups: 3,
        seed: 11,
        dda: false,
    };
    rawarrow::tdf::synth::write(&d, &spec).expect("generate");
    assert!(assert_windows_match_sql(&d) > 1000);
    for d in corpus_ds() {
        let n = assert_windows_match_sql(&d);
        eprintln!("{}: {n} peaks in isolation windows", d.display());
    }
}

/// A generated run with one damage applied to `analysis.tdf`.
fn damaged(stmt: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().join("run.d");
    let spec = rawarrow::tdf::synth::Spec {
        frames: 6,
        scans: 40,
        peaks_per_frame: 300,
        ms1_every: 3,
        window_groups: 2,
        seed: 11,
        dda: false,
    };
    rawarrow::tdf::synth::write(&d, &spec).expect("generate");
    sql(&d, stmt);
    tmp
}

fn open_err(stmt: &str, calibration: Calibration) -> String {
    let tmp = damaged(stmt);
    let b = Reader::builder().threads(2).calibration(calibration);
    read_err_with(&tmp.path().join("run.d"), b)
}

/// Damaged metadata is an error naming table, row and column (or key), never a column of NaN,
/// infinities or shifted m/z.
#[test]
fn damaged_metadata_is_an_error_not_garbage() {
    use Calibration::{Bruker, Estimate};
    let cases: [(&str, Calibration, &str); 13] = [
        // m/z rising from TOF index 0 to the last but falling to 0 in between (the curve's
        // root changes sign; found by the tdf_meta fuzz target).
        (
            "UPDATE MzCalibration SET C0 = 26000",
            Bruker,
            "is not a plausible calibration",
        ),
        // Ordered and positive but implausible ranges (found by the tdf_meta fuzz target).
        (
            "UPDATE GlobalMetadata SET Value = '45.6' WHERE Key = 'OneOverK0AcqRangeUpper'",
            Estimate,
            "GlobalMetadata MzAcqRange/OneOverK0AcqRange: 1/K0",
        ),
        (
            "UPDATE GlobalMetadata SET Value = '1e9' WHERE Key = 'MzAcqRangeUpper'",
            Estimate,
            "GlobalMetadata MzAcqRange/OneOverK0AcqRange: m/z",
        ),
        (
            "UPDATE GlobalMetadata SET Value = '-5' WHERE Key = 'MzAcqRangeLower'",
            Estimate,
            "GlobalMetadata MzAcqRangeLower = -5 is not a positive finite number",
        ),
        (
            "UPDATE GlobalMetadata SET Value = 'nan' WHERE Key = 'OneOverK0AcqRangeLower'",
            Estimate,
            "GlobalMetadata OneOverK0AcqRangeLower = NaN is not a positive finite number",
        ),
        (
            "UPDATE GlobalMetadata SET Value = '5000' WHERE Key = 'MzAcqRangeLower'",
            Estimate,
            "MzAcqRangeLower = 5000 is not below MzAcqRangeUpper",
        ),
        (
            "UPDATE GlobalMetadata SET Value = '0' WHERE Key = 'DigitizerNumSamples'",
            Estimate,
            "GlobalMetadata DigitizerNumSamples = 0",
        ),
        (
            "UPDATE MzCalibration SET C1 = 1e300",
            Bruker,
            "is not a plausible calibration",
        ),
        (
            "UPDATE MzCalibration SET T1 = NULL",
            Bruker,
            "MzCalibration row Id=1: T1 is NULL",
        ),
        (
            "UPDATE Frames SET T1 = NULL WHERE Id = 2",
            Bruker,
            "Frames row Id=2: T1 is NULL",
        ),
        ("UPDATE TimsCalibration SET C3 = 1e9", Bruker, "1/K0"),
        (
            "UPDATE Frames SET MsMsType = 99 WHERE Id = 3",
            Bruker,
            "Frames row Id=3: MsMsType = 99 is not a known scan mode",
        ),
        (
            "UPDATE GlobalMetadata SET Value = '10' WHERE Key = 'DigitizerNumSamples'",
            Estimate,
            "is beyond the digitizer's 10 samples (DigitizerNumSamples)",
        ),
    ];
    for (stmt, calibration, want) in cases {
        let e = open_err(stmt, calibration);
        assert!(e.contains(want), "{stmt}: {e}");
        assert!(e.contains("analysis.tdf"), "{stmt}: names the file: {e}");
    }
}

/// A diaPASEF run whose window tables are empty reads, with a warning naming the tables.
#[test]
fn pasef_frames_without_windows_warn() {
    let tmp = damaged("DELETE FROM DiaFrameMsMsWindows");
    let d = tmp.path().join("run.d");
    let warnings = Reader::builder()
        .build(&d)
        .expect("readable")
        .take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("diaPASEF frames, but DiaFrameMsMsInfo/DiaFrameMsMsWindows")),
        "{warnings:?}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args(["tdf", "--quiet", "-o", "/dev/null"])
        .arg(&d)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.contains("warning") && err.contains("diaPASEF"),
        "{err}"
    );
    let intact = damaged("SELECT 1");
    let warnings = Reader::builder()
        .build(intact.path().join("run.d"))
        .expect("readable")
        .take_warnings();
    assert!(warnings.is_empty(), "{warnings:?}");
}
