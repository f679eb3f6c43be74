//! timsTOF runs read over HTTP (the range server of `tests/common/http_range.rs`): every table
//! equals the local run's, an rt slice fetches only its frames' blobs, and a missing or cut
//! object is an error naming its URL with nothing left in the temporary folder. The Python tests
//! repeat the comparison against nginx and moto_server (S3).

mod common;

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use common::http_range;
use rawarrow::stream::{BatchStream, TdfOptions};
use rawarrow::tdf::Table;

fn read(path: &Path, options: &TdfOptions) -> RecordBatch {
    let stream = BatchStream::tdf(path, options).expect("open");
    let schema = stream.schema();
    let batches: Vec<RecordBatch> = stream.collect::<Result<_, _>>().expect("read");
    arrow_select::concat::concat_batches(&schema, &batches).expect("concat")
}

/// A DIA and a DDA run written by `tdf::synth` in one folder.
fn runs() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, dda) in [("dia.d", false), ("dda.d", true)] {
        let spec = rawarrow::tdf::synth::Spec {
            frames: 48,
            scans: 100,
            peaks_per_frame: 3000,
            ms1_every: 4,
            window_groups: 3,
            seed: 7,
            dda,
        };
        rawarrow::tdf::synth::write(&tmp.path().join(name), &spec).expect("synth");
    }
    tmp
}

fn storage(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Each table of `local` (and the peaks of one MS level, and of an rt slice) read from `url`
/// at 1 and 2 threads, with whole-job ranges and with 4 KiB ones, equals the local read.
fn assert_same_over_http(local: &Path, url: &str, tables: &[Table]) {
    for &table in tables {
        for threads in [1, 2] {
            for fetch in [storage(&[]), storage(&[("fetch_bytes", "4096")])] {
                let mut cases = vec![TdfOptions {
                    table,
                    threads: Some(threads),
                    batch_rows: Some(5000),
                    ..TdfOptions::default()
                }];
                if table == Table::Peaks {
                    cases.push(TdfOptions {
                        ms_level: Some(1),
                        ..cases[0].clone()
                    });
                    cases.push(TdfOptions {
                        rt: Some((1.0, 2.5)),
                        ..cases[0].clone()
                    });
                }
                for local_options in cases {
                    let want = read(local, &local_options);
                    let remote_options = TdfOptions {
                        storage_options: fetch.clone(),
                        ..local_options.clone()
                    };
                    let got = read(Path::new(url), &remote_options);
                    assert!(
                        want.num_rows() > 0,
                        "{}: {local_options:?}",
                        local.display()
                    );
                    assert_eq!(got, want, "{url}: {remote_options:?}");
                }
            }
        }
    }
}

#[test]
fn every_table_over_http_equals_the_local_run() {
    let tmp = runs();
    let base = http_range::serve(tmp.path());
    assert_same_over_http(
        &tmp.path().join("dia.d"),
        &format!("{base}/dia.d"),
        &[Table::Peaks, Table::Windows],
    );
    // A trailing slash names the same run.
    assert_same_over_http(
        &tmp.path().join("dda.d"),
        &format!("{base}/dda.d/"),
        &[Table::Peaks, Table::Precursors, Table::Spectra],
    );
}

#[test]
fn corpus_runs_over_http_equal_the_local_runs() {
    let Some(dir) = common::corpus_dir("tdf") else {
        eprintln!("RAWARROW_CORPUS not set: corpus .d folders skipped");
        return;
    };
    let base = http_range::serve(&dir);
    let mut runs = 0;
    for entry in std::fs::read_dir(&dir).expect("list") {
        let d = entry.expect("entry").path();
        if d.extension().is_none_or(|e| e != "d") {
            continue;
        }
        let name = d.file_name().expect("name").to_string_lossy().into_owned();
        let options = TdfOptions {
            threads: Some(2),
            ..TdfOptions::default()
        };
        // A run the reader refuses is refused the same way from a URL.
        let local = BatchStream::tdf(&d, &options).and_then(|s| {
            let schema = s.schema();
            let batches = s.collect::<Result<Vec<_>, _>>()?;
            Ok(arrow_select::concat::concat_batches(&schema, &batches).expect("concat"))
        });
        let url = format!("{base}/{name}");
        let remote = BatchStream::tdf(Path::new(&url), &options).and_then(|s| {
            let schema = s.schema();
            let batches = s.collect::<Result<Vec<_>, _>>()?;
            Ok(arrow_select::concat::concat_batches(&schema, &batches).expect("concat"))
        });
        match (local, remote) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{url}"),
            (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{url}: {a} / {b}"),
            (a, b) => panic!("{url}: local {:?}, remote {:?}", a.err(), b.err()),
        }
        runs += 1;
    }
    assert!(runs >= 3, "{runs} runs");
}

/// `(TimsId, bytes to the next blob or the end of the file)` of the frames with `Time` in
/// `[lo, hi]`: a blob's extent in `analysis.tdf_bin`, from the `Frames` table alone.
fn extents_in(d: &Path, lo: f64, hi: f64) -> Vec<(u64, u64)> {
    let conn = rusqlite::Connection::open(d.join("analysis.tdf")).expect("sqlite");
    let ids = |sql: &str, lo: f64, hi: f64| -> Vec<u64> {
        let mut stmt = conn.prepare(sql).expect("query");
        let rows = stmt
            .query_map([lo, hi], |r| r.get::<_, i64>(0))
            .expect("rows");
        rows.map(|r| r.expect("row") as u64).collect()
    };
    let all = ids(
        "SELECT TimsId FROM Frames WHERE ?1 <= ?2 ORDER BY TimsId",
        0.0,
        1.0,
    );
    let len = std::fs::metadata(d.join("analysis.tdf_bin"))
        .expect("bin")
        .len();
    ids(
        "SELECT TimsId FROM Frames WHERE Time >= ?1 AND Time <= ?2 ORDER BY TimsId",
        lo,
        hi,
    )
    .into_iter()
    .map(|at| {
        let next = all.iter().copied().find(|&s| s > at).unwrap_or(len);
        (at, next - at)
    })
    .collect()
}

#[test]
fn an_rt_slice_fetches_only_its_frames() {
    let tmp = runs();
    let d = tmp.path().join("dia.d");
    let (base, log) = http_range::serve_logged(tmp.path());
    let (lo, hi) = (1.0, 2.5);
    let options = TdfOptions {
        rt: Some((lo, hi)),
        threads: Some(2),
        batch_rows: Some(4000),
        ..TdfOptions::default()
    };
    let got = read(Path::new(&format!("{base}/dia.d")), &options);
    assert_eq!(got, read(&d, &options));
    let extents = extents_in(&d, lo, hi);
    assert!(extents.len() >= 3, "{} frames in the slice", extents.len());
    let bin_len = std::fs::metadata(d.join("analysis.tdf_bin"))
        .expect("bin")
        .len();
    let tdf_len = std::fs::metadata(d.join("analysis.tdf"))
        .expect("tdf")
        .len();
    let needed: u64 = extents.iter().map(|b| b.1).sum();
    let log = log.lock().expect("log").clone();
    let bin: Vec<&(String, u64, u64)> = log.iter().filter(|g| g.0.ends_with(".tdf_bin")).collect();
    let served: u64 = bin.iter().map(|g| g.2).sum();
    // Every blob of the slice, once, and nothing else.
    assert_eq!(served, needed, "bytes served (file {bin_len})");
    assert!(served < bin_len / 2, "{served} of {bin_len} bytes");
    // Each request lies inside the slice's blobs (touching blobs merged into one run).
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &(at, n) in &extents {
        match runs.last_mut() {
            Some(run) if run.1 == at => run.1 = at + n,
            _ => runs.push((at, at + n)),
        }
    }
    for (_, start, n) in &bin {
        let inside = runs.iter().any(|r| r.0 <= *start && start + n <= r.1);
        assert!(
            inside,
            "{start}+{n} is not inside the slice's blobs {runs:?}"
        );
    }
    let tdf: u64 = log
        .iter()
        .filter(|g| g.0.ends_with("/analysis.tdf"))
        .map(|g| g.2)
        .sum();
    assert_eq!(tdf, tdf_len, "analysis.tdf fetched once, whole");
}

/// `rawarrow tdf URL -o OUT` with `TMPDIR` set to an empty folder: its exit status and
/// stderr, with the folder checked empty afterwards.
fn cli(url: &str, out: &Path) -> (i32, String) {
    let temp = tempfile::tempdir().expect("TMPDIR");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args(["tdf", url, "--quiet", "-o"])
        .arg(out)
        .env("TMPDIR", temp.path())
        .output()
        .expect("run the CLI");
    let left: Vec<PathBuf> = std::fs::read_dir(temp.path())
        .expect("list")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "{url}: left in TMPDIR: {left:?}");
    (
        run.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn missing_and_cut_objects_are_errors_naming_the_url() {
    let tmp = runs();
    let d = tmp.path().join("dia.d");
    // A run whose analysis.tdf_bin lost its second half; one without analysis.tdf_bin.
    let cut = tmp.path().join("cut.d");
    std::fs::create_dir(&cut).expect("mkdir");
    std::fs::copy(d.join("analysis.tdf"), cut.join("analysis.tdf")).expect("copy");
    let bin = std::fs::read(d.join("analysis.tdf_bin")).expect("bin");
    std::fs::write(cut.join("analysis.tdf_bin"), &bin[..bin.len() / 2]).expect("cut");
    let half = tmp.path().join("half.d");
    std::fs::create_dir(&half).expect("mkdir");
    std::fs::copy(d.join("analysis.tdf"), half.join("analysis.tdf")).expect("copy");
    let base = http_range::serve(tmp.path());
    let out = |name: &str| tmp.path().join(format!("{name}.arrow"));

    let (code, err) = cli(&format!("{base}/dia.d"), &out("dia"));
    assert_eq!(code, 0, "{err}");
    assert!(out("dia").is_file());
    let (code, err) = cli(&format!("{base}/half.d"), &out("half"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("{base}/half.d/analysis.tdf_bin")) && err.contains("not found"),
        "{err}"
    );
    let (code, err) = cli(&format!("{base}/nothing.d"), &out("nothing"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("{base}/nothing.d/analysis.tdf")),
        "{err}"
    );
    let (code, err) = cli(&format!("{base}/cut.d"), &out("cut"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("{base}/cut.d/analysis.tdf_bin")) && err.contains("frame"),
        "{err}"
    );
    for name in ["half", "nothing", "cut"] {
        assert!(
            !out(name).exists(),
            "{name}: a failed conversion leaves no output"
        );
    }
    let missing = BatchStream::tdf(Path::new(&format!("{base}/half.d")), &TdfOptions::default())
        .map(|_| ())
        .expect_err("an error");
    assert_eq!(
        missing.io_kind(),
        Some(std::io::ErrorKind::NotFound),
        "{missing}"
    );
    // A bad storage option is the caller's mistake.
    let usage = BatchStream::tdf(
        Path::new(&format!("{base}/dia.d")),
        &TdfOptions {
            storage_options: storage(&[("fetch_bytes", "lots")]),
            ..TdfOptions::default()
        },
    )
    .map(|_| ())
    .expect_err("an error");
    assert_eq!(usage.kind(), rawarrow::ErrorKind::Usage, "{usage}");
}
