//! timsTOF precursors, spectra and windows tables, and slices: against Bruker's SDK (the
//! corpus's mzML), timsrust's `SpectrumReader` and the SQL tables, on corpus and generated runs.

mod common;

use common::cells;
use common::mzml::{self, attr, between};

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt8Type};
use arrow_array::{Array, BooleanArray, RecordBatch};
use rawarrow::tdf::{synth, Calibration, Reader, ReaderBuilder, Table};
use timsrust::converters::ConvertableDomain;

fn read(d: &Path, b: ReaderBuilder) -> RecordBatch {
    let r = b.threads(2).build(d).expect("open");
    let schema = arrow_array::RecordBatchReader::schema(&r);
    let batches: Vec<RecordBatch> = r.map(|b| b.expect("batch")).collect();
    arrow_select::concat::concat_batches(&schema, &batches).expect("concat")
}

fn u32s(b: &RecordBatch, c: &str) -> Vec<Option<u32>> {
    cells::options::<UInt32Type>(b, c)
}

fn f64s(b: &RecordBatch, c: &str) -> Vec<Option<f64>> {
    cells::options::<Float64Type>(b, c)
}

fn lists(b: &RecordBatch, c: &str) -> Vec<Vec<f64>> {
    cells::f64_lists(b, c)
}

fn generated(dir: &Path, dda: bool) -> PathBuf {
    let d = dir.join(if dda { "dda.d" } else { "dia.d" });
    let spec = synth::Spec {
        frames: 24,
        scans: 200,
        peaks_per_frame: 4000,
        ms1_every: 6,
        window_groups: 3,
        seed: 5,
        dda,
    };
    synth::write(&d, &spec).expect("generate");
    d
}

fn corpus(name: &str) -> Option<PathBuf> {
    common::corpus_dir("tdf").map(|d| d.join(name))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// Our spectra (estimate calibration) equal timsrust's `SpectrumReader` spectra, raw (its
/// windows 0) and centroided (window 1, its default, and 3), with the precursor fields.
fn assert_spectra_equal_timsrust(d: &Path) -> usize {
    let mut checked = 0;
    // timsrust 0.4 gives a precursor the time of the frame after its parent (its rt table is
    // indexed by frame id but holds frame i + 1 at index i); ours is the parent's, as the SDK's
    // (`precursors_equal_the_sdk`).
    let times: std::collections::HashMap<u32, f64> = {
        let conn = rusqlite::Connection::open(d.join("analysis.tdf")).expect("sqlite");
        let mut stmt = conn.prepare("SELECT Id, Time FROM Frames").expect("sql");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    for window in [0u32, 1, 3] {
        let mut config = timsrust::readers::SpectrumReaderConfig::default();
        config.spectrum_processing_params.smoothing_window = window;
        config.spectrum_processing_params.centroiding_window = window;
        let theirs = timsrust::readers::SpectrumReader::build()
            .with_path(d)
            .with_config(config)
            .finalize()
            .expect("timsrust opens");
        let mut b = Reader::builder()
            .table(Table::Spectra)
            .calibration(Calibration::Estimate);
        if window > 0 {
            b = b.centroid(window);
        }
        let ours = read(d, b);
        assert_eq!(ours.num_rows(), theirs.len(), "{}", d.display());
        let (ids, mz, int) = (
            u32s(&ours, "precursor"),
            lists(&ours, "mz"),
            lists(&ours, "intensity"),
        );
        let (mono, rt, im) = (
            f64s(&ours, "mz_monoisotopic"),
            f64s(&ours, "rt"),
            f64s(&ours, "mobility"),
        );
        let (charge, ce) = (
            ours.column_by_name("charge")
                .expect("charge")
                .as_primitive::<UInt8Type>()
                .clone(),
            f64s(&ours, "collision_energy"),
        );
        let (imz, iw) = (f64s(&ours, "isolation_mz"), f64s(&ours, "isolation_width"));
        for i in 0..theirs.len() {
            let s = theirs.get(i).expect("timsrust spectrum");
            let p = s.precursor.expect("precursor");
            assert_eq!(ids[i], Some(p.index as u32), "spectrum {i}");
            assert_eq!(int[i], s.intensities, "precursor {}: intensities", p.index);
            assert_eq!(mz[i].len(), s.mz_values.len());
            for (a, b) in mz[i].iter().zip(&s.mz_values) {
                assert!(close(*a, *b, 1e-9), "precursor {}: m/z {a} vs {b}", p.index);
            }
            // timsrust reads a NULL MonoisotopicMz or Charge as 0.
            assert_eq!(mono[i].unwrap_or(0.0), p.mz);
            assert_eq!(
                if charge.is_valid(i) {
                    charge.value(i) as usize
                } else {
                    0
                },
                p.charge.expect("charge")
            );
            assert!(
                close(im[i].expect("1/K0"), p.im, 1e-12),
                "{:?} vs {}",
                im[i],
                p.im
            );
            let parent = u32s(&ours, "frame")[i].expect("parent");
            assert_eq!(rt[i], Some(times[&parent]));
            assert_eq!(times.get(&(parent + 1)).copied().unwrap_or(p.rt), p.rt);
            assert_eq!(ce[i], Some(s.collision_energy));
            assert_eq!(imz[i], Some(s.isolation_mz));
            assert_eq!(iw[i], Some(s.isolation_width));
            checked += usize::from(!s.mz_values.is_empty());
        }
    }
    checked
}

#[test]
fn generated_spectra_equal_timsrust() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = generated(tmp.path(), true);
    let n = assert_spectra_equal_timsrust(&d);
    assert!(n >= 3 * 20, "{n} non-empty spectra");
}

#[test]
fn corpus_spectra_equal_timsrust() {
    let Some(d) = corpus("DDPASEF_10seconds.d") else {
        return;
    };
    assert_eq!(assert_spectra_equal_timsrust(&d), 3 * 173);
}

/// The MS2 spectra of the SDK's mzML: (selected m/z, charge, 1/K0, rt in seconds, collision
/// energy, isolation lower and upper bound, m/z array).
fn sdk_ms2(dir: &Path) -> Vec<[f64; 7]> {
    let xml = mzml::sdk_mzml(dir);
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((s, end)) = between(&xml, at, "<spectrum ", "</spectrum>") {
        at = end;
        if attr(s, "ms level") != Some(2.0) {
            continue;
        }
        let target = attr(s, "isolation window target m/z").expect("target");
        out.push([
            attr(s, "selected ion m/z").expect("m/z"),
            attr(s, "charge state").expect("charge"),
            attr(s, "inverse reduced ion mobility").expect("1/K0"),
            attr(s, "scan start time").expect("rt") * 60.0,
            attr(s, "collision energy").expect("energy"),
            target - attr(s, "isolation window lower offset").expect("lower"),
            target + attr(s, "isolation window upper offset").expect("upper"),
        ]);
    }
    out
}

#[test]
fn precursors_equal_the_sdk() {
    let Some(dir) = common::corpus_dir("tdf") else {
        return;
    };
    let d = dir.join("DDPASEF_10seconds.d");
    let sdk = sdk_ms2(&dir);
    let t = read(&d, Reader::builder().table(Table::Precursors));
    assert_eq!(sdk.len(), 173);
    assert_eq!(t.num_rows(), 173);
    let (mono, largest) = (f64s(&t, "mz_monoisotopic"), f64s(&t, "mz_largest_peak"));
    let charge = t
        .column_by_name("charge")
        .expect("charge")
        .as_primitive::<UInt8Type>();
    let (im, rt, ce) = (
        f64s(&t, "mobility"),
        f64s(&t, "rt"),
        f64s(&t, "collision_energy"),
    );
    let (imz, iw) = (f64s(&t, "isolation_mz"), f64s(&t, "isolation_width"));
    let mut without_charge = 0;
    for (i, want) in sdk.iter().enumerate() {
        assert_eq!(u32s(&t, "precursor")[i], Some(i as u32 + 1));
        // The SDK's selected ion: the monoisotopic m/z, else the largest peak's.
        let mz = mono[i].or(largest[i]).expect("m/z");
        assert_eq!(mz, want[0], "precursor {}", i + 1);
        if charge.is_valid(i) {
            assert_eq!(f64::from(charge.value(i)), want[1], "precursor {}", i + 1);
        } else {
            // The SDK writes a charge where the table has none (2 for the one such here).
            without_charge += 1;
        }
        let got = im[i].expect("1/K0");
        assert!(
            close(got, want[2], 1e-9),
            "precursor {}: {got} vs SDK {}",
            i + 1,
            want[2]
        );
        assert!(
            close(rt[i].expect("rt"), want[3], 1e-12),
            "{:?} vs {}",
            rt[i],
            want[3]
        );
        assert_eq!(ce[i], Some(want[4]));
        let (c, w) = (imz[i].expect("isolation"), iw[i].expect("width"));
        assert!((c - w / 2.0 - want[5]).abs() < 1e-9 && (c + w / 2.0 - want[6]).abs() < 1e-9);
    }
    assert_eq!(without_charge, 1);
}

#[test]
fn windows_equal_the_sql_tables() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut runs = vec![generated(tmp.path(), false)];
    runs.extend(corpus("dia_test.d"));
    runs.extend(corpus("opentims_test.d"));
    for d in runs {
        let conn = rusqlite::Connection::open(d.join("analysis.tdf")).expect("sqlite");
        let mut stmt = conn
            .prepare(
                "SELECT w.WindowGroup, ScanNumBegin, ScanNumEnd, IsolationMz, IsolationWidth, \
                 CollisionEnergy, (SELECT COUNT(*) FROM DiaFrameMsMsInfo i \
                 WHERE i.WindowGroup = w.WindowGroup) FROM DiaFrameMsMsWindows w \
                 ORDER BY 1, 2, 3",
            )
            .expect("sql");
        let want: Vec<(u32, u32, u32, f64, f64, f64, u32)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(!want.is_empty());
        let t = read(
            &d,
            Reader::builder()
                .table(Table::Windows)
                .calibration(Calibration::Estimate),
        );
        let meta = timsrust::readers::MetadataReader::new(d.join("analysis.tdf")).expect("meta");
        let cols = (
            u32s(&t, "window_group"),
            u32s(&t, "scan_begin"),
            u32s(&t, "scan_end"),
            f64s(&t, "isolation_mz"),
            f64s(&t, "isolation_width"),
            f64s(&t, "collision_energy"),
            u32s(&t, "frames"),
        );
        let (upper, lower) = (f64s(&t, "mobility_upper"), f64s(&t, "mobility_lower"));
        assert_eq!(t.num_rows(), want.len(), "{}", d.display());
        for (i, w) in want.iter().enumerate() {
            let got = (
                cols.0[i].expect("group"),
                cols.1[i].expect("begin"),
                cols.2[i].expect("end"),
                cols.3[i].expect("mz"),
                cols.4[i].expect("width"),
                cols.5[i].expect("energy"),
                cols.6[i].expect("frames"),
            );
            assert_eq!(&got, w, "{} window {i}", d.display());
            let im = |s: u32| meta.im_converter.convert(f64::from(s));
            assert!(close(upper[i].expect("upper"), im(w.1), 1e-12));
            assert!(close(lower[i].expect("lower"), im(w.2 - 1), 1e-12));
        }
    }
}

/// xorshift for the random boxes.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A random sub-range of `[lo, hi]`, or the whole of it.
    fn range(&mut self, lo: f64, hi: f64) -> (f64, f64) {
        let (a, b) = (self.unit(), self.unit());
        let (a, b) = (a.min(b), a.max(b));
        (lo + (hi - lo) * a, lo + (hi - lo) * b)
    }
}

/// Random rt × 1/K0 × m/z boxes: the sliced peaks equal the full table filtered by the box,
/// and frames outside the rt range are never decompressed.
fn assert_slices_equal_filters(d: &Path, seed: u64) {
    let full = read(d, Reader::builder());
    let (rt, im, mz) = (
        f64s(&full, "rt"),
        f64s(&full, "mobility"),
        f64s(&full, "mz"),
    );
    let mut rng = Rng(seed | 1);
    // A range between two values of the run (so that boxes hit peaks even in tiny runs).
    let pick = |rng: &mut Rng, v: &[Option<f64>]| {
        let n = v.len() as f64;
        let (a, b) = (
            v[(rng.unit() * n) as usize].expect("value"),
            v[(rng.unit() * n) as usize].expect("value"),
        );
        (a.min(b), a.max(b))
    };
    let mut proper = 0;
    for case in 0..12 {
        let r = pick(&mut rng, &rt);
        let m = pick(&mut rng, &im);
        let z = pick(&mut rng, &mz);
        // Some cases leave one dimension open, one is a boundary taken from the data.
        let (r, m) = match case {
            0 => (None, Some(m)),
            1 => (Some(r), None),
            2 => (Some((rt[0].expect("rt"), rt[0].expect("rt"))), Some(m)),
            _ => (Some(r), Some(m)),
        };
        let z = if case == 3 {
            let v = mz[mz.len() / 2].expect("mz");
            (v, v + 5.0)
        } else {
            z
        };
        let mut b = Reader::builder().mz(z.0, z.1).expect("mz");
        if let Some(r) = r {
            b = b.rt(r.0, r.1).expect("rt");
        }
        if let Some(m) = m {
            b = b.mobility(m.0, m.1).expect("mobility");
        }
        let sliced = read(d, b);
        let inside = |v: Option<f64>, b: Option<(f64, f64)>| {
            b.is_none_or(|(lo, hi)| lo <= v.expect("value") && v.expect("value") <= hi)
        };
        let mask: BooleanArray = (0..full.num_rows())
            .map(|i| Some(inside(rt[i], r) && inside(im[i], m) && inside(mz[i], Some(z))))
            .collect();
        let want = arrow_select::filter::filter_record_batch(&full, &mask).expect("filter");
        assert_eq!(
            sliced,
            want,
            "{} case {case}: rt {r:?} 1/K0 {m:?} m/z {z:?}",
            d.display()
        );
        proper += usize::from(want.num_rows() > 0 && want.num_rows() < full.num_rows());
        // Only the frames in the rt range are decoded, each once.
        let frames_in_rt = {
            let conn = rusqlite::Connection::open(d.join("analysis.tdf")).expect("sqlite");
            let (lo, hi) = r.unwrap_or((f64::MIN, f64::MAX));
            conn.query_row(
                "SELECT COUNT(*) FROM Frames WHERE Time >= ?1 AND Time <= ?2",
                [lo, hi],
                |row| row.get::<_, i64>(0),
            )
            .expect("count") as usize
        };
        let mut counted = Reader::builder().mz(z.0, z.1).expect("mz");
        if let Some(r) = r {
            counted = counted.rt(r.0, r.1).expect("rt");
        }
        let mut counted = counted.threads(1).build(d).expect("open");
        while counted.next_batch().expect("batch").is_some() {}
        assert_eq!(counted.frames_decoded(), frames_in_rt as u64);
    }
    // Most boxes cut the run without emptying it.
    assert!(proper >= 4, "{}: {proper} of 12 boxes", d.display());
}

#[test]
fn generated_slices_equal_filtered_peaks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert_slices_equal_filters(&generated(tmp.path(), false), 11);
    assert_slices_equal_filters(&generated(tmp.path(), true), 12);
}

#[test]
fn corpus_slices_equal_filtered_peaks() {
    let Some(dir) = common::corpus_dir("tdf") else {
        return;
    };
    for (i, name) in [
        "DDPASEF_10seconds.d",
        "dia_test.d",
        "opentims_test.d",
        "test.d",
    ]
    .iter()
    .enumerate()
    {
        assert_slices_equal_filters(&dir.join(name), 100 + i as u64);
    }
}

#[test]
fn slices_and_tables_that_do_not_apply_are_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dia, dda) = (generated(tmp.path(), false), generated(tmp.path(), true));
    let err = |d: &Path, b: ReaderBuilder| b.build(d).expect_err("error").to_string();
    let e = err(&dia, Reader::builder().table(Table::Precursors));
    assert!(
        e.contains("only in ddaPASEF runs") && e.contains("analysis.tdf"),
        "{e}"
    );
    let e = err(&dda, Reader::builder().table(Table::Windows));
    assert!(e.contains("only in diaPASEF runs"), "{e}");
    let e = err(&dda, Reader::builder().table(Table::Spectra).ms_level(2));
    assert!(
        e.contains("ms_level selects frames of the peaks table only"),
        "{e}"
    );
    let e = err(
        &dia,
        Reader::builder()
            .table(Table::Windows)
            .rt(0.0, 1.0)
            .expect("rt"),
    );
    assert!(e.contains("not to windows"), "{e}");
    let e = Reader::builder().mz(5.0, 1.0).expect_err("reversed");
    assert!(e.to_string().contains("mz 5:1"), "{e}");
    assert!(Reader::builder().mobility(f64::NAN, 1.0).is_err());
}

#[test]
fn precursor_slices_select_precursors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = generated(tmp.path(), true);
    let all = read(&d, Reader::builder().table(Table::Precursors));
    let (rt, im) = (f64s(&all, "rt"), f64s(&all, "mobility"));
    let (mono, largest) = (f64s(&all, "mz_monoisotopic"), f64s(&all, "mz_largest_peak"));
    assert!(
        mono.iter().any(Option::is_none),
        "generated runs have precursors without one"
    );
    let mut rng = Rng(99);
    for _ in 0..8 {
        let (r, m, z) = (
            rng.range(0.0, 2.5),
            rng.range(0.6, 1.6),
            rng.range(300.0, 1600.0),
        );
        let b = Reader::builder()
            .table(Table::Precursors)
            .rt(r.0, r.1)
            .and_then(|b| b.mobility(m.0, m.1))
            .and_then(|b| b.mz(z.0, z.1))
            .expect("slices");
        let got = read(&d, b);
        let mask: BooleanArray = (0..all.num_rows())
            .map(|i| {
                let mz = mono[i].or(largest[i]).expect("m/z");
                let (t, k) = (rt[i].expect("rt"), im[i].expect("1/K0"));
                Some(r.0 <= t && t <= r.1 && m.0 <= k && k <= m.1 && z.0 <= mz && mz <= z.1)
            })
            .collect();
        let want = arrow_select::filter::filter_record_batch(&all, &mask).expect("filter");
        assert_eq!(got, want);
    }
}

#[test]
fn damaged_precursor_and_window_rows_are_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dia, dda) = (generated(tmp.path(), false), generated(tmp.path(), true));
    let sql = |d: &Path, stmt: &str| {
        rusqlite::Connection::open(d.join("analysis.tdf"))
            .expect("sqlite")
            .execute(stmt, [])
            .expect("update");
    };
    sql(&dda, "UPDATE Precursors SET ScanNumber = 5000 WHERE Id = 3");
    let e = Reader::builder()
        .table(Table::Precursors)
        .build(&dda)
        .expect_err("scan outside the frame");
    let e = e.to_string();
    assert!(
        e.contains("analysis.tdf: Precursors row Id=3: ScanNumber 5000 is outside the parent frame's 200 scans"),
        "{e}"
    );
    // The peaks table does not need the precursor's 1/K0.
    assert!(Reader::builder().build(&dda).is_ok());
    sql(
        &dia,
        "UPDATE DiaFrameMsMsWindows SET ScanNumEnd = 999 WHERE WindowGroup = 2",
    );
    let e = Reader::builder()
        .table(Table::Windows)
        .build(&dia)
        .expect_err("window outside the frame")
        .to_string();
    assert!(
        e.contains("DiaFrameMsMsWindows group 2: scans 0..999 are not inside the 200 scans"),
        "{e}"
    );
}
