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
