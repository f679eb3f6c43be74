//! Streams as inputs: standard input, FIFOs and process substitution are read as they arrive
//! (a bounded read-ahead, no temporary file, parallel inflate), with the same output as the
//! file; a paused producer gets its first batch out before it ends; regions on a stream are a
//! usage error that says why.

#![cfg(unix)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

fn rawarrow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rawarrow"))
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success());
}

/// Writes `bytes` into the FIFO at `path` from a thread (opening it blocks until a reader
/// comes).
fn feed(path: PathBuf, bytes: Vec<u8>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("open FIFO");
        // The reader may stop early (an error): a broken pipe is not this thread's failure.
        let _ = f.write_all(&bytes);
    })
}

fn run_ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.stderr(Stdio::piped()).output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_fifo_and_process_substitution_read_as_the_file() {
    let sample = common::sample_bam();
    let bytes = std::fs::read(&sample).expect("sample");
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);
    for threads in ["1", "2"] {
        for args in [
            &["bam", "--quiet", "-t", threads, "-o", "-"][..],
            &[
                "bam", "--quiet", "-t", threads, "--format", "parquet", "-o", "-",
            ],
            &["bam", "--quiet", "-t", threads, "-q", "30", "-o", "-"],
            &["bam", "view", "-h", "-t", threads],
            &["bam", "view", "-c", "-f", "2"],
        ] {
            let from_file = run_ok(rawarrow().args(args).arg(&sample));
            assert!(!from_file.is_empty());
            let feeder = feed(fifo.clone(), bytes.clone());
            let from_fifo = run_ok(rawarrow().args(args).arg(&fifo));
            feeder.join().expect("feeder");
            assert!(from_fifo == from_file, "{args:?}: the FIFO differs");
            // `<(...)`: a /dev/fd/N pipe.
            let line = format!(
                "{} {} <(cat {})",
                env!("CARGO_BIN_EXE_rawarrow"),
                args.join(" "),
                sample.display()
            );
            let from_subst = run_ok(Command::new("bash").args(["-c", &line]));
            assert!(from_subst == from_file, "{args:?}: <(...) differs");
        }
    }
}

#[test]
fn standard_input_needs_no_temporary_file() {
    let sample = common::sample_bam();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = rawarrow()
        .args(["bam", "--quiet", "-t", "2", "-o", "-", "-"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let bytes = std::fs::read(&sample).expect("sample");
    let writer = std::thread::spawn(move || stdin.write_all(&bytes).expect("write"));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_file = run_ok(rawarrow().args(["bam", "--quiet", "-o", "-"]).arg(&sample));
    assert!(out.stdout == from_file);
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("ls").count(),
        0,
        "a file in TMPDIR"
    );
}

#[test]
fn a_paused_producer_gets_its_first_batch_out_before_it_ends() {
    // The first 40th of a BAM (about 2,000 records: less than the output's 1 MiB buffer
    // holds, as IPC and as SAM text), then a pause that lasts until the first output arrives:
    // a reader that waited for the end (or spooled the stream), or a writer that waited for its
    // buffer to fill, would never write before it.
    let bytes = common::repeated_bam(20);
    let cut = bytes.len() / 40;
    let ipc = ["bam", "--quiet", "--batch-rows", "100", "-o", "-", "-"];
    let sam = ["bam", "view", "-"];
    for (what, args) in [("IPC stream", &ipc[..]), ("SAM", &sam[..])] {
        for threads in ["1", "2"] {
            let mut child = rawarrow()
                .args(args)
                .args(["-t", threads])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            let mut stdout = child.stdout.take().expect("stdout");
            let (tx, rx) = std::sync::mpsc::channel();
            let reader = std::thread::spawn(move || {
                let mut first = [0u8; 8];
                stdout.read_exact(&mut first).expect("first output");
                tx.send(()).expect("signal");
                let mut rest = Vec::new();
                stdout.read_to_end(&mut rest).expect("rest");
                first.len() + rest.len()
            });
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(&bytes[..cut]).expect("first part");
            stdin.flush().expect("flush");
            // The producer pauses (its pipe still open) until the first batch is out.
            let out = rx.recv_timeout(Duration::from_secs(60));
            assert!(
                out.is_ok(),
                "{what}, {threads} threads: no output while the producer paused"
            );
            stdin.write_all(&bytes[cut..]).expect("the rest");
            drop(stdin);
            let total = reader.join().expect("reader");
            let status = child.wait().expect("wait");
            assert!(status.success() && total > 0, "{what}, {threads} threads");
        }
    }
}

#[test]
fn regions_on_a_stream_are_a_usage_error() {
    let sample = common::sample_bam();
    for args in [
        &["bam", "view", "-", "chrS1:1-100"][..],
        &["bam", "--quiet", "-o", "-", "-", "chrS1:1-100"],
    ] {
        let mut child = rawarrow()
            .args(args)
            .stdin(std::fs::File::open(&sample).expect("sample"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("stderr");
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("need random access") && err.contains("is a stream"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_bad_stream_is_an_error_at_its_offset() {
    // Plain gzip is not BGZF; a stream cut inside a block is a truncated block.
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);
    let bytes = std::fs::read(common::sample_bam()).expect("sample");
    let mut plain = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    plain.write_all(b"BAM\x01").expect("gzip");
    let plain = plain.finish().expect("gzip");
    for (what, input, message) in [
        ("plain gzip", plain, "plain gzip, not BGZF"),
        (
            "cut",
            bytes[..bytes.len() - 1000].to_vec(),
            "truncated BGZF block",
        ),
    ] {
        let feeder = feed(fifo.clone(), input);
        let out = rawarrow()
            .args(["bam", "view", "-c"])
            .arg(&fifo)
            .output()
            .expect("run");
        feeder.join().expect("feeder");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.starts_with(&format!(
                "rawarrow: error: {}: compressed offset ",
                fifo.display()
            )) && err.contains(message),
            "{what}: {err}"
        );
    }
}

#[test]
fn the_library_reads_a_fifo_with_the_file_s_rows() {
    let sample = common::sample_bam();
    let bytes = std::fs::read(&sample).expect("sample");
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);
    let read = |path: &Path, threads: usize| {
        let mut reader = rawarrow::bam::Reader::builder()
            .threads(threads)
            .batch_rows(500)
            .build(rawarrow::io::Input::open(path).expect("open"))
            .expect("reader");
        let mut batches = Vec::new();
        while let Some(b) = reader.next_batch().expect("batch") {
            batches.push(b);
        }
        batches
    };
    for threads in [1, 2] {
        let expected = read(&sample, threads);
        let feeder = feed(fifo.clone(), bytes.clone());
        let got = read(&fifo, threads);
        feeder.join().expect("feeder");
        assert_eq!(got, expected, "{threads} threads");
        // A region query or a byte range on a stream (a character device is one too): a
        // usage error naming it.
        for builder in [
            rawarrow::bam::Reader::builder().regions(&["chrS1"]),
            rawarrow::bam::Reader::builder().byte_range(0, 1000),
        ] {
            let e = builder
                .build(rawarrow::io::Input::open("/dev/null").expect("open"))
                .expect_err("random access on a stream");
            assert_eq!(e.kind(), rawarrow::ErrorKind::Usage, "{e}");
            assert!(
                e.to_string().starts_with("/dev/null: ") && e.to_string().contains("is a stream"),
                "{e}"
            );
        }
    }
}

/// The BGZF EOF marker block.
const EOF_MARKER: &[u8] =
    b"\x1f\x8b\x08\x04\0\0\0\0\0\xff\x06\0BC\x02\0\x1b\0\x03\0\0\0\0\0\0\0\0\0";

/// The peak resident set of process `pid` so far, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(target_os = "linux")]
#[test]
fn a_2_gib_stream_converts_in_bounded_memory_without_a_temporary_file() {
    // The sample's header, then its records' blocks over and over (each copy starts at a
    // record), then the EOF marker: 2 GiB of BAM through standard input into a conversion.
    let (header, records) = common::sample_parts();
    let (header, body) = (
        rawarrow::bgzf::compress(&header, 1),
        rawarrow::bgzf::compress(&records, 1),
    );
    assert!(header.ends_with(EOF_MARKER) && body.ends_with(EOF_MARKER));
    let header = &header[..header.len() - EOF_MARKER.len()];
    let body = &body[..body.len() - EOF_MARKER.len()];
    let copies = (2u64 << 30) / body.len() as u64 + 1;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = rawarrow()
        .args(["bam", "--quiet", "-t", "2", "-o", "/dev/null", "-"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let mut peak = 0;
    stdin.write_all(header).expect("header");
    for i in 0..copies {
        stdin.write_all(body).expect("records");
        if i % 64 == 0 {
            peak = peak.max(peak_rss(pid).unwrap_or(0));
        }
    }
    stdin.write_all(EOF_MARKER).expect("EOF marker");
    peak = peak.max(peak_rss(pid).unwrap_or(0));
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        peak > 0 && peak <= 256 << 20,
        "peak resident set {peak} bytes"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("ls").count(),
        0,
        "a file in TMPDIR"
    );
}
