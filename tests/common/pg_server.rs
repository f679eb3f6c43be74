//! A PostgreSQL server for one test: initdb + pg_ctl on a private socket folder (as root,
//! through `runuser -u postgres`), stopped when dropped. The binaries are found on PATH or
//! under /usr/lib/postgresql/*/bin; without them `Server::start` says so and returns `None`,
//! unless `RAWARROW_REQUIRE_POSTGRES` is set (`.ci/run` sets it after installing PostgreSQL):
//! then it fails, so CI never tests nothing. Shared by `tests/postgres.rs` and the C ABI's
//! tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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
pub(crate) struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    root: bool,
}

impl Server {
    pub(crate) fn start() -> Option<Server> {
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
    pub(crate) fn command(&self, tool: &str) -> Command {
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

    pub(crate) fn url(&self) -> String {
        format!(
            "host={} user=postgres dbname=postgres",
            self.dir.path().display()
        )
    }

    pub(crate) fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).expect("connect")
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

/// A small synthetic timsTOF run (40 frames of 500 peaks; DDA or DIA) to write into the server.
pub(crate) fn tdf_run(dir: &Path, dda: bool) -> PathBuf {
    let run = dir.join(if dda { "dda.d" } else { "dia.d" });
    let spec = rawarrow::tdf::synth::Spec {
        frames: 40,
        scans: 60,
        peaks_per_frame: 500,
        ms1_every: 4,
        window_groups: 2,
        seed: 7,
        dda,
    };
    rawarrow::tdf::synth::write(&run, &spec).expect("synthetic run");
    run
}
