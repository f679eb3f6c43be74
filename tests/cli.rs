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

    // --from-list, from a file (CRLF, an empty line, a missing file) and from standard input;
    // the positional inputs are optional then, and add to the list.
    let missing = songs.join("gone.mid");
    let list = dir.path().join("list.txt");
    std::fs::write(
        &list,
        format!(
            "{}\r\n\n{}\n",
            songs.join("a.mid").display(),
            missing.display()
        ),
    )
    .expect("write");
    let listed_files = dir.path().join("listed.arrow");
    let out = rawarrow()
        .args(["midi", "--quiet", "-o"])
        .arg(dir.path().join("listed_notes.arrow"))
        .arg("--files")
        .arg(&listed_files)
        .arg("--from-list")
        .arg(&list)
        .arg(songs.join("b.mid"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = read(&listed_files);
    let names = f[0].column_by_name("file").expect("file");
    let names = arrow_cast_strings(names);
    let expected: Vec<String> = [songs.join("a.mid"), songs.join("b.mid"), missing.clone()]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(names, expected, "sorted, every listed path a row");
    let err = f[0]
        .column_by_name("error")
        .expect("error")
        .as_string::<i32>();
    assert!(arrow_array::Array::is_null(err, 0));
    assert!(err.value(2).starts_with("cannot open"), "{}", err.value(2));
    let mut child = rawarrow()
        .args(["midi", "--quiet", "-o"])
        .arg(dir.path().join("stdin.arrow"))
        .args(["--from-list", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write as _;
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{}", songs.join("a.mid").display()).expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n: usize = read(&dir.path().join("stdin.arrow"))
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(n, 3);
    let out = rawarrow()
        .args(["midi", "-o", "x.arrow", "--from-list"])
        .arg(dir.path().join("no-such-list"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("cannot read the list of files"),
        "{stderr}"
    );
}

/// The strings of a dictionary column of paths.
fn arrow_cast_strings(column: &arrow_array::ArrayRef) -> Vec<String> {
    common::cells::texts(column.as_ref())
        .into_iter()
        .map(|s| s.expect("a path"))
        .collect()
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
        .args(["bam", "--quiet", "--stream", "-o"])
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

// ---------------------------------------------------------------------------------------------
// Outputs: Parquet, signals, outputs onto inputs, usage errors.

fn ls(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn parquet_output_reads_back_as_the_ipc_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = common::sample_bam();
    for (name, extra) in [
        ("a.parquet", &[][..]),
        ("b.data", &["--format", "parquet"][..]),
    ] {
        let st = rawarrow()
            .args(["bam", "--quiet", "--tag", "NM"])
            .arg(&sample)
            .arg("-o")
            .arg(dir.path().join(name))
            .args(extra)
            .status()
            .expect("run");
        assert!(st.success());
    }
    let st = rawarrow()
        .args(["bam", "--quiet", "--tag", "NM"])
        .arg(&sample)
        .arg("-o")
        .arg(dir.path().join("c.arrow"))
        .status()
        .expect("run");
    assert!(st.success());
    let ipc: Vec<arrow_array::RecordBatch> = arrow_ipc::reader::FileReader::try_new(
        std::fs::File::open(dir.path().join("c.arrow")).expect("written"),
        None,
    )
    .expect("IPC")
    .map(|b| b.expect("valid"))
    .collect();
    let ipc = arrow_select::concat::concat_batches(&ipc[0].schema(), &ipc).expect("one schema");
    for name in ["a.parquet", "b.data"] {
        let file = std::fs::File::open(dir.path().join(name)).expect("written");
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("a Parquet file");
        let file_schema = builder.schema().clone();
        let reader = builder.build().expect("reader");
        let batches: Vec<_> = reader.map(|b| b.expect("valid")).collect();
        let got = arrow_select::concat::concat_batches(&batches[0].schema(), &batches)
            .expect("one schema");
        // The embedded Arrow schema brings the dictionary columns back as dictionaries, and
        // the header metadata.
        assert_eq!(got.schema().fields(), ipc.schema().fields(), "{name}");
        for key in [
            rawarrow::bam::METADATA_HEADER,
            rawarrow::bam::METADATA_REFERENCES,
        ] {
            assert_eq!(
                file_schema.metadata().get(key),
                ipc.schema().metadata().get(key),
                "{name}: {key}"
            );
        }
        assert!(
            got.columns() == ipc.columns(),
            "{name}: Parquet differs from IPC"
        );
    }
    // A name that says nothing needs --format: a usage error (exit 2), nothing written.
    let out = rawarrow()
        .args(["bam", "--quiet"])
        .arg(&sample)
        .arg("-o")
        .arg(dir.path().join("x.out"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot tell the output format"));
    assert_eq!(ls(dir.path()), ["a.parquet", "b.data", "c.arrow"]);
}

#[test]
fn signals_leave_no_partial_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run.d");
    let st = rawarrow()
        .args(["tdf-generate", "--frames", "300", "--seed", "3"])
        .arg(&run)
        .status()
        .expect("run");
    assert!(st.success());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let mut child = rawarrow()
            .args(["tdf", "--quiet", "-t", "1", "--batch-rows", "100000"])
            .arg(&run)
            .arg("-o")
            .arg(out_dir.join("peaks.parquet"))
            .spawn()
            .expect("spawn");
        // Wait until the temporary output exists: the conversion is under way.
        let started = std::time::Instant::now();
        while ls(&out_dir).is_empty() && started.elapsed().as_secs() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!ls(&out_dir).is_empty(), "no temporary output appeared");
        let st = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(st.success());
        let status = child.wait().expect("the CLI exits");
        assert_eq!(status.code(), Some(code), "SIG{signal}");
        assert!(
            ls(&out_dir).is_empty(),
            "SIG{signal} left {:?}",
            ls(&out_dir)
        );
    }
}

#[test]
fn an_output_onto_an_input_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bam = dir.path().join("in.bam");
    std::fs::copy(common::sample_bam(), &bam).expect("copy");
    let before = std::fs::read(&bam).expect("read");
    std::os::unix::fs::symlink(&bam, dir.path().join("sym.bam")).expect("symlink");
    std::fs::hard_link(&bam, dir.path().join("hard.bam")).expect("hard link");
    for out in ["in.bam", "sym.bam", "hard.bam"] {
        for args in [&["bam", "--quiet"][..], &["bam", "view"][..]] {
            let o = rawarrow()
                .args(args)
                .arg(&bam)
                .arg("-o")
                .arg(dir.path().join(out))
                .output()
                .expect("run");
            assert_eq!(o.status.code(), Some(2), "{args:?} -o {out}");
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("the output is the input"),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    assert!(
        std::fs::read(&bam).expect("read") == before,
        "the input changed"
    );
    assert_eq!(ls(dir.path()), ["hard.bam", "in.bam", "sym.bam"]);
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = common::sample_bam();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bam", "-t", "0"], "--threads"),
        (vec!["bam", "--batch-rows", "0"], "--batch-rows"),
        (vec!["bam", "--columns", "qname,nope"], "nope"),
    ];
    for (args, flag) in cases {
        let o = rawarrow()
            .args(&args)
            .arg(&sample)
            .arg("-o")
            .arg(dir.path().join("x.arrow"))
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let o = rawarrow()
        .args(["tdf", "--frames", "5:2"])
        .arg(dir.path())
        .arg("-o")
        .arg(dir.path().join("x.arrow"))
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--frames 5:2"));
    // A folder without MIDI files, and a run where every file fails: errors, said why.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let o = rawarrow()
        .arg("midi")
        .arg(&empty)
        .arg("-o")
        .arg(dir.path().join("n.arrow"))
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no MIDI files"));
    let bad = dir.path().join("bad.mid");
    std::fs::write(&bad, b"MThd\0\0\0\x06\0\x07\0\x01\0\x60").expect("write");
    let o = rawarrow()
        .args(["midi", "--quiet"])
        .arg(&bad)
        .arg("-o")
        .arg(dir.path().join("n.arrow"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.mid: offset 8: unknown SMF format 7"),
        "{err}"
    );
    assert!(err.contains("every one of the 1 files failed"), "{err}");
    assert!(!dir.path().join("x.arrow").exists());
}

/// `-t N` is N threads for the whole BAM pipeline: one crew `bam-0..N` whose workers both
/// inflate and decode (the run's `--stats` divides each worker's time between the two), and with
/// `-t 1` no worker at all.
#[test]
fn bam_threads_are_one_crew_that_inflates_and_decodes() {
    let sample = common::sample_bam();
    let dir = tempfile::tempdir().expect("tempdir");
    for t in [1usize, 2, 3, 5] {
        let (out, stats) = (dir.path().join("o.arrow"), dir.path().join("s.json"));
        let st = rawarrow()
            .args(["bam", "--quiet", "-t", &t.to_string(), "--stats"])
            .arg(&stats)
            .arg(&sample)
            .arg("-o")
            .arg(&out)
            .status()
            .expect("run");
        assert!(st.success());
        let json = std::fs::read_to_string(&stats).expect("stats written");
        let workers = (0..8)
            .filter(|i| json.contains(&format!("\"name\": \"bam-{i}\"")))
            .count();
        let crew = if t == 1 { 0 } else { t };
        assert_eq!(workers, crew, "-t {t}: {json}");
        for other in ["inflate-", "decode-"] {
            assert!(!json.contains(other), "-t {t}: no pool of its own: {json}");
        }
        if t > 1 {
            for role in ["\"inflate\": ", "\"decode\": "] {
                assert!(json.contains(role), "-t {t}: the crew did both: {json}");
            }
        }
    }
}

/// A decode worker's panic (injected through the test hook `RAWARROW_TEST_PANIC`) is an internal
/// error: exit 1 with "internal error", no hang, nothing written — not an I/O error.
#[test]
fn a_worker_panic_is_an_internal_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.arrow");
    let o = rawarrow()
        .env("RAWARROW_TEST_PANIC", "bam-decode")
        .args(["bam", "--quiet", "-t", "2", "-o"])
        .arg(&out)
        .arg(common::sample_bam())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("internal error") && err.contains("sample.bam"),
        "{err}"
    );
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A `RAWARROW_KERNELS` that names no level is a usage error naming the valid ones; a blank one
/// is no cap.
#[test]
fn an_unknown_kernel_level_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.arrow");
    let o = rawarrow()
        .env("RAWARROW_KERNELS", "avx9000")
        .args(["bam", "--quiet", "-o"])
        .arg(&out)
        .arg(common::sample_bam())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("avx9000") && err.contains("scalar, ssse3"),
        "{err}"
    );
    assert!(!out.exists());
    let o = rawarrow()
        .env("RAWARROW_KERNELS", " ")
        .args(["bam", "--quiet", "-o"])
        .arg(&out)
        .arg(common::sample_bam())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Two inputs whose tag XF gets other types (float in floats.bam, integer in xf_int.bam): a
/// usage error (exit 2) naming the second input and the fix, and no output left behind — the
/// same error Python (ValueError) and C (RAWARROW_ERROR_USAGE) give.
#[test]
fn conflicting_tag_types_across_inputs_are_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mixed.arrow");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let run = rawarrow()
        .args(["bam", "--tag", "XF", "-o"])
        .arg(&out)
        .arg(data.join("floats.bam"))
        .arg(data.join("xf_int.bam"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("xf_int.bam: its tag columns get other types")
            && stderr.contains("give each tag's type"),
        "{stderr}"
    );
    assert!(
        ls(dir.path()).is_empty(),
        "left behind: {:?}",
        ls(dir.path())
    );
    // With the tag as text, both inputs convert.
    let st = rawarrow()
        .args(["bam", "--tag", "XF:Z", "-o"])
        .arg(&out)
        .arg(data.join("floats.bam"))
        .arg(data.join("xf_int.bam"))
        .output()
        .expect("run");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}
