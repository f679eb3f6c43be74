//! The `rawarrow` binary: output correctness, errors, and no partial output files.

mod common;

use std::process::Command;

fn rawarrow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rawarrow"))
}

#[test]
fn decompress_to_stdout_and_to_file() {
    let sample = common::sample_bam();
    let expect = common::oracle_decompress(&std::fs::read(&sample).expect("read"));
    for t in ["1", "2"] {
        let out = rawarrow()
            .args(["bgzf", "decompress", "-t", t])
            .arg(&sample)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == expect, "stdout differs at -t {t}");

        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("out.bin");
        let st = rawarrow()
            .args(["bgzf", "decompress", "-t", t, "-o"])
            .arg(&dest)
            .arg(&sample)
            .status()
            .expect("run");
        assert!(st.success());
        assert!(std::fs::read(&dest).expect("output exists") == expect);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("out.bin")],
            "no temporary file left"
        );
    }
}

#[test]
fn corrupt_input_fails_with_offset_and_leaves_no_output() {
    let sample = std::fs::read(common::sample_bam()).expect("read");
    let index = rawarrow::bgzf::scan(&sample).expect("valid");
    let bad = index.blocks[index.blocks.len() - 3];
    let mut corrupt = sample.clone();
    corrupt[(bad.end() - 8) as usize] ^= 0xff;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("corrupt.bam");
    std::fs::write(&input, &corrupt).expect("write");
    let dest = dir.path().join("out.bin");
    let out = rawarrow()
        .args(["bgzf", "decompress", "-t", "2", "-o"])
        .arg(&dest)
        .arg(&input)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt.bam"), "{err}");
    assert!(
        err.contains(&format!("compressed offset {}", bad.offset)),
        "{err}"
    );
    assert!(err.contains("CRC32 mismatch"), "{err}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("corrupt.bam")],
        "no output or temporary file left"
    );
}

#[test]
fn index_reports_blocks_and_missing_eof_marker() {
    let sample = std::fs::read(common::sample_bam()).expect("read");
    let index = rawarrow::bgzf::scan(&sample).expect("valid");
    let out = rawarrow()
        .args(["bgzf", "index"])
        .arg(common::sample_bam())
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(
        text.contains(&format!("blocks\t{}\n", index.blocks.len())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "uncompressed_bytes\t{}\n",
            index.uncompressed_bytes()
        )),
        "{text}"
    );
    assert!(text.contains("eof_marker\tyes\n"), "{text}");
    assert!(out.stderr.is_empty());

    let dir = tempfile::tempdir().expect("tempdir");
    let cut = dir.path().join("no_eof.bam");
    std::fs::write(&cut, &sample[..sample.len() - 28]).expect("write");
    let out = rawarrow()
        .args(["bgzf", "index", "--blocks"])
        .arg(&cut)
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(text.contains("eof_marker\tno\n"));
    assert_eq!(
        text.lines()
            .filter(|l| !l.starts_with('#') && l.split('\t').count() == 3)
            .count(),
        index.blocks.len() - 1
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no BGZF EOF marker"));
}

#[test]
fn missing_and_directory_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = rawarrow()
        .args(["bgzf", "decompress"])
        .arg(dir.path().join("nope.bam"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.bam"));
    let out = rawarrow()
        .args(["bgzf", "index"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
}

#[test]
fn midi_writes_notes_and_files_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let songs = dir.path().join("songs");
    std::fs::create_dir(&songs).expect("mkdir");
    // One good file (format 0, 96 ppq: a quarter note C4 and a chord), one corrupt file.
    let mut good = b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk\0\0\0\x19".to_vec();
    good.extend(
        b"\0\x90\x3C\x40\x60\x80\x3C\0\0\x90\x40\x50\0\x43\x50\x60\x40\0\0\x43\0\0\xFF\x2F\0",
    );
    std::fs::write(songs.join("a.mid"), &good).expect("write");
    std::fs::write(songs.join("b.mid"), b"MThd\0\0\0\x06\0\x07\0\x01\0\x60").expect("write");
    let (notes, files) = (
        dir.path().join("notes.arrow"),
        dir.path().join("files.arrow"),
    );
    let out = rawarrow()
        .args(["midi", "-t", "2", "-o"])
        .arg(&notes)
        .arg("--files")
        .arg(&files)
        .arg(&songs)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 files (1 failed, 0 with warnings), 3 notes"),
        "{stderr}"
    );
    let read = |p: &std::path::Path| {
        let f = std::fs::File::open(p).expect("output exists");
        let r = arrow_ipc::reader::FileReader::try_new(f, None).expect("IPC file");
        r.map(|b| b.expect("batch")).collect::<Vec<_>>()
    };
    let n: usize = read(&notes).iter().map(|b| b.num_rows()).sum();
    assert_eq!(n, 3);
    let f = read(&files);
    assert_eq!(f.len(), 1);
    use arrow_array::cast::AsArray;
    let err = f[0]
        .column_by_name("error")
        .expect("error")
        .as_string::<i32>();
    assert_eq!(
        err.value(1),
        "offset 8: unknown SMF format 7 (expected 0, 1 or 2)"
    );

    // An output folder that does not exist: a clear error, nothing left behind.
    let bad = dir.path().join("missing/notes.arrow");
    let out = rawarrow()
        .args(["midi", "-o"])
        .arg(&bad)
        .arg(&songs)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("rawarrow: error: "), "{stderr}");
    assert!(!dir.path().join("missing").exists());
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
    assert_eq!(left.len(), 3, "only songs/, notes.arrow and files.arrow");
}

#[cfg(unix)]
#[test]
fn device_outputs_are_written_not_replaced() {
    // `-o /dev/null` must write to the device, never rename a temporary file over it. A FIFO
    // stands in for the device (no root needed): its reader sees the bytes, and it stays a FIFO.
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("out.fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read fifo"))
    };
    let st = rawarrow()
        .args(["bgzf", "decompress", "-o"])
        .arg(&fifo)
        .arg(common::sample_bam())
        .status()
        .expect("run");
    assert!(st.success());
    // Checked before joining: a replaced FIFO would leave the reader blocked forever.
    let ft = std::fs::metadata(&fifo).expect("meta").file_type();
    assert!(ft.is_fifo(), "the FIFO was replaced");
    let got = reader.join().expect("reader");
    let expect = common::oracle_decompress(&std::fs::read(common::sample_bam()).expect("read"));
    assert!(got == expect);
    // The same through the Arrow sink.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read fifo"))
    };
    let st = rawarrow()
        .args(["bam", "-q", "--stream", "-o"])
        .arg(&fifo)
        .arg(common::sample_bam())
        .status()
        .expect("run");
    assert!(st.success());
    assert!(std::fs::metadata(&fifo)
        .expect("meta")
        .file_type()
        .is_fifo());
    let bytes = reader.join().expect("reader");
    let n: usize = arrow_ipc::reader::StreamReader::try_new(&bytes[..], None)
        .expect("stream")
        .map(|b| b.expect("batch").num_rows())
        .sum();
    assert_eq!(n, 4000);
    assert!(std::fs::metadata(&fifo)
        .expect("meta")
        .file_type()
        .is_fifo());
}
