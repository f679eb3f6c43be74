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

fn rawarrow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rawarrow"))
}

/// The folder holding `initdb` and `pg_ctl`.
fn pg_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL server for one test, stopped when dropped.
struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    root: bool,
}

impl Server {
    fn start() -> Option<Server> {
        let Some(bin) = pg_bin() else {
            assert!(
                std::env::var_os("RAWARROW_REQUIRE_POSTGRES").is_none(),
                "RAWARROW_REQUIRE_POSTGRES is set but no PostgreSQL server binaries were found"
            );
            eprintln!("PostgreSQL server binaries not found: PostgreSQL tests skipped");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let root = is_root();
        if root {
            let ok = Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(ok.success(), "chown postgres {}", dir.path().display());
        }
        let server = Server { dir, bin, root };
        let data = server.dir.path().join("data");
        server.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let opts = format!(
            "-k {} -c listen_addresses='' -c fsync=off",
            server.dir.path().display()
        );
        let log = server.dir.path().join("log");
        server.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-o",
                &opts,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "start",
            ],
        );
        Some(server)
    }

    /// A server binary, run as the `postgres` user when we are root (initdb refuses root).
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect(tool);
        assert!(
            out.status.success(),
            "{tool}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!(
            "host={} user=postgres dbname=postgres",
            self.dir.path().display()
        )
    }

    fn client(&self) -> postgres::Client {
        rawarrow::sink::postgres::connect(&self.url()).expect("connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data.to_string_lossy(), "-m", "immediate", "stop"])
            .output();
    }
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
