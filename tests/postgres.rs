//! `rawarrow midi --postgres` against a real PostgreSQL server started here (initdb + pg_ctl on
//! a private socket folder; as root, through `runuser -u postgres`). The server's binaries are
//! found on PATH or under /usr/lib/postgresql/*/bin; without them the tests say so and pass,
//! unless `RAWARROW_REQUIRE_POSTGRES` is set (`.ci/run` sets it after installing PostgreSQL), so
//! CI fails loudly instead of testing nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{UInt16Type, UInt64Type, UInt8Type};
use arrow_array::RecordBatch;

#[path = "common/pg_server.rs"]
mod pg_server;
use pg_server::{tdf_run, Server};

fn rawarrow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rawarrow"))
}

fn vlq(mut v: u32, out: &mut Vec<u8>) {
    let mut tmp = vec![(v & 0x7F) as u8];
    v >>= 7;
    while v > 0 {
        tmp.push((v & 0x7F) as u8 | 0x80);
        v >>= 7;
    }
    out.extend(tmp.iter().rev());
}

/// A format-0 song: a program change, a 3/4 time signature, then `n` notes on a scale.
fn song(seed: u32, n: u32) -> Vec<u8> {
    let mut t = vec![0, 0xC0, (seed % 100) as u8, 0, 0xFF, 0x58, 4, 3, 2, 24, 8];
    for i in 0..n {
        let pitch = 48 + ((seed * 7 + i * [2, 2, 1, 2, 2, 2, 1][(i % 7) as usize]) % 36) as u8;
        vlq(if i == 0 { 0 } else { 60 }, &mut t);
        t.extend([0x90, pitch, 64 + (i % 50) as u8]);
        vlq(90 + (i % 5) * 10, &mut t);
        t.extend([0x80, pitch, 0]);
    }
    t.extend([0, 0xFF, 0x2F, 0]);
    let mut f = b"MThd\0\0\0\x06\0\0\0\x01\x01\xE0MTrk".to_vec();
    f.extend((t.len() as u32).to_be_bytes());
    f.extend(t);
    f
}

fn songs(dir: &Path, files: u32, notes: u32) -> PathBuf {
    let d = dir.join("songs");
    std::fs::create_dir_all(&d).expect("mkdir");
    for i in 0..files {
        std::fs::write(d.join(format!("s{i:05}.mid")), song(i, notes)).expect("write");
    }
    d
}

fn read_ipc(p: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(p).expect("output");
    arrow_ipc::reader::FileReader::try_new(f, None)
        .expect("ipc")
        .map(|b| b.expect("batch"))
        .collect()
}

/// Row count and a checksum of the notes, from the Arrow output.
fn arrow_checksum(batches: &[RecordBatch]) -> (i64, i64) {
    let (mut n, mut sum) = (0i64, 0i64);
    for b in batches {
        let c = |name: &str| b.column_by_name(name).expect(name).clone();
        let (track, pitch, vel, on, prog) = (
            c("track"),
            c("pitch"),
            c("velocity"),
            c("onset_tick"),
            c("program"),
        );
        for i in 0..b.num_rows() {
            n += 1;
            sum += i64::from(track.as_primitive::<UInt16Type>().value(i))
                + 3 * i64::from(pitch.as_primitive::<UInt8Type>().value(i))
                + 5 * i64::from(vel.as_primitive::<UInt8Type>().value(i))
                + 7 * on.as_primitive::<UInt64Type>().value(i) as i64
                + 11 * i64::from(prog.as_primitive::<UInt8Type>().value(i));
        }
    }
    (n, sum)
}

const CHECKSUM: &str = "SELECT count(*), coalesce(sum(track + 3 * pitch + 5 * velocity + 7 * onset_tick + 11 * program), 0)::bigint FROM";

fn pg_checksum(c: &mut postgres::Client, schema: &str) -> (i64, i64) {
    let r = c
        .query_one(format!("{CHECKSUM} \"{schema}\".notes").as_str(), &[])
        .expect("checksum");
    (r.get(0), r.get(1))
}

#[test]
fn notes_and_files_equal_the_arrow_output() {
    let Some(server) = Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = songs(tmp.path(), 40, 120);
    std::fs::write(dir.join("broken.mid"), b"MThd\0\0\0\x06\0\x07\0\x01\0\x60").expect("write");
    let (notes, files) = (tmp.path().join("n.arrow"), tmp.path().join("f.arrow"));
    let out = rawarrow()
        .args(["midi", "--quiet", "-t", "2", "-o"])
        .arg(&notes)
        .arg("--files")
        .arg(&files)
        .arg(&dir)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rawarrow()
        .args([
            "midi",
            "--quiet",
            "-t",
            "2",
            "--files-per-batch",
            "7",
            "--schema",
            "cat",
            "--postgres",
        ])
        .arg(server.url())
        .arg(&dir)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = server.client();
    let want = arrow_checksum(&read_ipc(&notes));
    assert_eq!(want.0, 40 * 120);
    assert_eq!(pg_checksum(&mut c, "cat"), want);
    // The files table: every Arrow column's values, plus size and mtime.
    let f = &read_ipc(&files)[0];
    let rows = c
        .query(
            "SELECT file, notes, key_estimate, time_signature, programs, error, size FROM cat.files ORDER BY file",
            &[],
        )
        .expect("files");
    assert_eq!(rows.len(), f.num_rows());
    let dict = f.column(0).as_dictionary::<arrow_array::types::Int32Type>();
    let names = dict.values().as_string::<i32>();
    let key = f
        .column_by_name("key_estimate")
        .expect("key")
        .as_string::<i32>();
    let err = f.column_by_name("error").expect("error").as_string::<i32>();
    let n = f
        .column_by_name("notes")
        .expect("notes")
        .as_primitive::<UInt64Type>();
    for (i, r) in rows.iter().enumerate() {
        let file: String = r.get(0);
        assert_eq!(file, names.value(dict.keys().value(i) as usize));
        assert_eq!(r.get::<_, i64>(1) as u64, n.value(i));
        let k: Option<String> = r.get(2);
        assert_eq!(
            k.as_deref(),
            arrow_array::Array::is_valid(key, i).then(|| key.value(i))
        );
        let e: Option<String> = r.get(5);
        assert_eq!(
            e.as_deref(),
            arrow_array::Array::is_valid(err, i).then(|| err.value(i))
        );
        let size: Option<i64> = r.get(6);
        assert_eq!(
            size,
            Some(std::fs::metadata(&file).expect("stat").len() as i64)
        );
        if e.is_none() {
            assert_eq!(r.get::<_, Option<String>>(3).as_deref(), Some("3/4"));
            assert_eq!(r.get::<_, Option<Vec<i16>>>(4).map(|v| v.len()), Some(1));
        }
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_rows_of_a_clean_run() {
    let Some(server) = Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = songs(tmp.path(), 3000, 400);
    let run = |schema: &str, resume: bool| {
        let mut cmd = rawarrow();
        cmd.args([
            "midi",
            "--quiet",
            "-t",
            "1",
            "--files-per-batch",
            "4",
            "--schema",
            schema,
        ])
        .arg("--postgres")
        .arg(server.url())
        .arg(&dir);
        if resume {
            cmd.arg("--resume");
        }
        cmd
    };
    let mut c = server.client();
    // Interrupted once some jobs are committed.
    let mut child = run("b", false).spawn().expect("spawn");
    let started = Instant::now();
    loop {
        let n: i64 = c
            .query_opt("SELECT count(*) FROM b.files", &[])
            .ok()
            .flatten()
            .map_or(0, |r| r.get(0));
        if n >= 40 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no rows after 60 s"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "finished before the interruption"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(143), "SIGTERM: exit 128 + 15");
    let partial: i64 = c
        .query_one("SELECT count(*) FROM b.files", &[])
        .expect("q")
        .get(0);
    assert!(partial > 0 && partial < 3000, "{partial} files committed");
    // Whole jobs only: every committed file has all its notes, no note lacks its file.
    let orphans: i64 = c
        .query_one(
            "SELECT count(*) FROM b.notes n WHERE NOT EXISTS (SELECT 1 FROM b.files f WHERE f.file = n.file)",
            &[],
        )
        .expect("q")
        .get(0);
    assert_eq!(orphans, 0);
    let short: i64 = c
        .query_one(
            "SELECT count(*) FROM b.files f WHERE f.notes <> (SELECT count(*) FROM b.notes n WHERE n.file = f.file)",
            &[],
        )
        .expect("q")
        .get(0);
    assert_eq!(short, 0);
    // Resumed, then a clean run: the same rows, no duplicates, none missing.
    let out = run("b", true).output().expect("resume");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("c", false).output().expect("clean");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pg_checksum(&mut c, "b"), pg_checksum(&mut c, "c"));
    let r = c
        .query_one("SELECT count(*), count(DISTINCT file) FROM b.files", &[])
        .expect("q");
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (3000, 3000));
    assert_eq!(pg_checksum(&mut c, "c").0, 3000 * 400);
    // A second --resume has nothing left to do.
    let out = run("b", true).output().expect("again");
    assert!(out.status.success());
    assert_eq!(pg_checksum(&mut c, "b").0, 3000 * 400);
}

#[test]
fn a_bad_url_is_an_error_before_any_file_is_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("no-server-here");
    // The input does not exist either: the connection is what fails first.
    let out = rawarrow()
        .args(["midi", "missing-folder", "--postgres"])
        .arg(format!(
            "host={} user=postgres password=hunter2",
            socket.display()
        ))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("postgres: cannot connect to host="),
        "{stderr}"
    );
    assert!(stderr.contains("No such file or directory"), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && stderr.contains("password=***"),
        "{stderr}"
    );
    let out = rawarrow()
        .args([
            "midi",
            "missing-folder",
            "--postgres",
            "postgresql://u:pw@127.0.0.1:1/db",
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Connection refused") && !stderr.contains(":pw@"),
        "{stderr}"
    );
    let out = rawarrow()
        .args(["midi", "x", "--resume"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "--resume needs --postgres");
}

/// Count and sums of a BAM stream's columns, from the Arrow batches.
fn bam_checksum(batches: &[RecordBatch]) -> Vec<i64> {
    use arrow_array::types::{Float32Type, Int32Type, Int64Type};
    use arrow_array::Array;
    let mut s = vec![0i64; 8];
    for b in batches {
        let c = |name: &str| b.column_by_name(name).expect(name).clone();
        let (flag, pos, mapq, seq, tags, nm, zb, xf) = (
            c("flag"),
            c("pos"),
            c("mapq"),
            c("seq"),
            c("tags"),
            c("NM"),
            c("ZB"),
            c("XF"),
        );
        let zb = zb.as_list::<i32>();
        for i in 0..b.num_rows() {
            s[0] += 1;
            s[1] += i64::from(flag.as_primitive::<UInt16Type>().value(i));
            if pos.is_valid(i) {
                s[2] += i64::from(pos.as_primitive::<Int32Type>().value(i));
            }
            if mapq.is_valid(i) {
                s[3] += i64::from(mapq.as_primitive::<UInt8Type>().value(i));
            }
            if seq.is_valid(i) {
                s[4] += seq.as_string::<i32>().value(i).len() as i64;
            }
            s[5] += tags.as_string::<i32>().value(i).len() as i64;
            if nm.is_valid(i) {
                s[6] += nm.as_primitive::<Int64Type>().value(i);
            }
            if zb.is_valid(i) {
                let v = zb.value(i);
                s[7] += v.as_primitive::<Int64Type>().values().iter().sum::<i64>();
            }
            if xf.is_valid(i) {
                // Float32 round trip: counted, not summed (sums of floats depend on order).
                let _ = xf.as_primitive::<Float32Type>().value(i);
            }
        }
    }
    s
}

fn sample_bam() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.bam")
}

#[test]
fn bam_records_with_typed_tags_equal_the_arrow_stream() {
    let Some(server) = Server::start() else {
        return;
    };
    let options = rawarrow::stream::BamOptions {
        tags: vec!["NM".into(), "ZB".into(), "XF".into()],
        batch_rows: Some(700),
        ..Default::default()
    };
    let stream = rawarrow::stream::BatchStream::bam(&[sample_bam()], &options).expect("opens");
    let want = bam_checksum(&stream.map(|b| b.expect("batch")).collect::<Vec<_>>());
    assert_eq!(want[0], 4000);
    let out = rawarrow()
        .args(["bam", "--quiet", "-t", "2", "--batch-rows", "700"])
        .args(["--tag", "NM", "--tag", "ZB", "--tag", "XF", "--postgres"])
        .arg(server.url())
        .arg(sample_bam())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = server.client();
    let r = c
        .query_one(
            "SELECT count(*), sum(flag)::bigint, coalesce(sum(pos), 0)::bigint, \
             coalesce(sum(mapq), 0)::bigint, coalesce(sum(length(seq)), 0)::bigint, \
             sum(length(tags))::bigint, coalesce(sum(\"NM\"), 0)::bigint, \
             coalesce((SELECT sum(v) FROM records, unnest(\"ZB\") v), 0)::bigint \
             FROM public.records",
            &[],
        )
        .expect("checksum");
    let got: Vec<i64> = (0..8).map(|i| r.get(i)).collect();
    assert_eq!(got, want);
    // The dictionary column is the reference name; B:s elements keep their nulls-free arrays.
    let rname: String = c
        .query_one(
            "SELECT rname FROM records WHERE rname IS NOT NULL LIMIT 1",
            &[],
        )
        .expect("q")
        .get(0);
    assert!(!rname.is_empty());
    // No natural key: resume is refused before anything is read, and nothing is added.
    let out = rawarrow()
        .args(["bam", "--quiet", "--resume", "--postgres"])
        .arg(server.url())
        .arg(sample_bam())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no natural key"), "{err}");
    let n: i64 = c
        .query_one("SELECT count(*) FROM records", &[])
        .expect("q")
        .get(0);
    assert_eq!(n, 4000);
}

const PEAKS_SUM: &str =
    "SELECT count(*), sum(frame)::bigint, sum(scan)::bigint, sum(tof)::bigint, \
                         sum(intensity)::bigint, sum(round(mz * 1000))::bigint FROM";

fn peaks_checksum(batches: &[RecordBatch]) -> Vec<i64> {
    use arrow_array::types::{Float64Type, UInt32Type};
    let mut s = vec![0i64; 6];
    for b in batches {
        let c = |name: &str| b.column_by_name(name).expect(name).clone();
        let (frame, scan, tof, intensity, mz) =
            (c("frame"), c("scan"), c("tof"), c("intensity"), c("mz"));
        for i in 0..b.num_rows() {
            s[0] += 1;
            s[1] += i64::from(frame.as_primitive::<UInt32Type>().value(i));
            s[2] += i64::from(scan.as_primitive::<UInt32Type>().value(i));
            s[3] += i64::from(tof.as_primitive::<UInt32Type>().value(i));
            s[4] += i64::from(intensity.as_primitive::<UInt32Type>().value(i));
            // PostgreSQL rounds halves away from zero, as f64::round does.
            s[5] += (mz.as_primitive::<Float64Type>().value(i) * 1000.0).round() as i64;
        }
    }
    s
}

#[test]
fn tdf_peaks_resume_after_an_interruption_to_the_rows_of_a_clean_run() {
    use rawarrow::convert::{run, Input, Output};
    use rawarrow::sink::postgres::Postgres;
    use rawarrow::stream::TdfOptions;
    use rawarrow::ErrorKind;
    let Some(server) = Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tdf_run(tmp.path(), false);
    let options = TdfOptions {
        batch_rows: Some(2000),
        threads: Some(2),
        ..Default::default()
    };
    let stream = rawarrow::stream::BatchStream::tdf(&d, &options).expect("opens");
    let want = peaks_checksum(&stream.map(|b| b.expect("batch")).collect::<Vec<_>>());
    let input = Input::Tdf {
        path: d.clone(),
        options,
    };
    let to = |schema: &str, resume: bool| {
        Output::postgres(Postgres {
            schema: schema.into(),
            resume,
            ..Postgres::new(server.url())
        })
    };
    // Stopped after three batches: those are committed, whole frames only.
    let mut batches = 0;
    let e = run(&input, &to("a", false), &mut |p, _| {
        batches += u64::from(p.rows > 0);
        if batches == 3 {
            Err(rawarrow::Error::interrupted())
        } else {
            Ok(())
        }
    })
    .expect_err("stopped");
    assert_eq!(e.kind(), ErrorKind::Interrupted);
    let mut c = server.client();
    let partial: i64 = c
        .query_one("SELECT count(*) FROM a.peaks", &[])
        .expect("q")
        .get(0);
    assert!(partial > 0 && partial < want[0], "{partial} of {}", want[0]);
    // Resumed, then a clean run: the same peaks, none twice.
    let summary = run(&input, &to("a", true), &mut |_, _| Ok(())).expect("resumes");
    assert_eq!(summary.rows as i64 + partial, want[0]);
    run(&input, &to("b", false), &mut |_, _| Ok(())).expect("clean");
    for schema in ["a", "b"] {
        let r = c
            .query_one(format!("{PEAKS_SUM} {schema}.peaks").as_str(), &[])
            .expect("checksum");
        let got: Vec<i64> = (0..6).map(|i| r.get(i)).collect();
        assert_eq!(got, want, "schema {schema}");
    }
    // Once more: nothing left to read, nothing added.
    let summary = run(&input, &to("a", true), &mut |_, _| Ok(())).expect("again");
    assert_eq!(summary.rows, 0);
}

#[test]
fn tdf_spectra_arrays_equal_the_arrow_stream() {
    use arrow_array::types::Float64Type;
    let Some(server) = Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tdf_run(tmp.path(), true);
    let options = rawarrow::stream::TdfOptions {
        table: rawarrow::tdf::Table::Spectra,
        ..Default::default()
    };
    let stream = rawarrow::stream::BatchStream::tdf(&d, &options).expect("opens");
    let (mut n, mut peaks, mut intensity) = (0i64, 0i64, 0f64);
    for b in stream {
        let b = b.expect("batch");
        n += b.num_rows() as i64;
        let list = b
            .column_by_name("intensity")
            .expect("intensity")
            .as_list::<i32>();
        peaks += list.values().len() as i64;
        intensity += list
            .values()
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .sum::<f64>();
    }
    assert!(n > 0 && peaks > 0);
    let out = rawarrow()
        .args(["tdf", "--quiet", "--table", "spectra", "--postgres"])
        .arg(server.url())
        .arg(&d)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = server.client();
    let r = c
        .query_one(
            "SELECT count(*), sum(cardinality(intensity))::bigint, \
             (SELECT sum(v) FROM spectra, unnest(intensity) v) FROM spectra",
            &[],
        )
        .expect("q");
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (n, peaks));
    let sum: f64 = r.get(2);
    assert!(
        (sum - intensity).abs() <= 1e-9 * intensity.abs(),
        "{sum} {intensity}"
    );
}
