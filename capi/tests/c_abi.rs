//! The C ABI from C: `tests/c/read_stream.c` is compiled with the system C compiler against
//! `include/rawarrow.h` and the static library, then run on the sample BAM (and the corpus
//! BAMs when `RAWARROW_CORPUS` is set), on broken inputs and on the MIDI seeds. Its numbers are
//! compared with samtools' text. When `valgrind` is installed (`.ci/run` installs it and sets
//! `RAWARROW_REQUIRE_VALGRIND=1`), every run also goes through memcheck: no invalid access and
//! no leak, including a batch read after its stream was released.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("capi/ is inside the repository")
        .to_path_buf()
}

/// `target/<profile>`, where cargo put `librawarrow_c.a` (the test binary is in `deps/` below).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Compiles the C reader once per test process.
fn program() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        // `cargo test` links tests against the rlib only; build the static library the way a
        // C user would (same profile and target folder, so nothing is compiled twice).
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "rawarrow-capi", "--lib"]);
        if target_dir().file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building librawarrow_c.a failed");
        let lib = target_dir().join("librawarrow_c.a");
        assert!(lib.exists(), "{} was not built", lib.display());
        let out = target_dir().join("read_stream_c");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let status = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
            .arg(repo().join("capi/include"))
            .arg(repo().join("capi/tests/c/read_stream.c"))
            .arg(&lib)
            .args(["-lpthread", "-ldl", "-lm", "-lgcc_s", "-lrt", "-o"])
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
        assert!(status.success(), "compiling read_stream.c failed");
        out
    })
}

fn valgrind() -> bool {
    let found = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("RAWARROW_REQUIRE_VALGRIND").is_some() {
        panic!("RAWARROW_REQUIRE_VALGRIND is set but valgrind is not installed");
    }
    found
}

/// Runs the C program (under memcheck when available) and returns its standard output.
fn run(mode: &str, path: &Path) -> String {
    run_args(mode, path, &[])
}

fn run_args(mode: &str, path: &Path, extra: &[&str]) -> String {
    let mut cmd = if valgrind() {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ])
        .arg(program());
        c
    } else {
        Command::new(program())
    };
    let out = cmd
        .arg(mode)
        .arg(path)
        .args(extra)
        .output()
        .expect("the C program runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "read_stream {mode} {}: {:?}\n{stderr}",
        path.display(),
        out.status
    );
    String::from_utf8(out.stdout).expect("the C program prints text")
}

/// rows, sum of FLAG, sum of POS, first QNAME from samtools' text.
fn from_sam(sam_gz: &Path) -> (u64, u64, i64, String) {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(sam_gz).expect("the SAM text exists"))
        .read_to_string(&mut text)
        .expect("the SAM text is gzip");
    let (mut rows, mut flags, mut pos, mut first) = (0, 0, 0, None);
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(5, '\t').collect();
        rows += 1;
        flags += f[1].parse::<u64>().expect("FLAG");
        pos += f[3].parse::<i64>().expect("POS");
        first.get_or_insert_with(|| f[0].to_string());
    }
    (rows, flags, pos, first.unwrap_or_default())
}

fn check_bam(bam: &Path, sam_gz: &Path) {
    let out = run("bam", bam);
    let (rows, flags, pos, first) = from_sam(sam_gz);
    let expected = format!("rows {rows}\nflags {flags}\npos {pos}\nfirst {first}\n");
    assert!(
        out.starts_with(&expected),
        "{}: C stream gave\n{out}\nsamtools:\n{expected}",
        bam.display()
    );
    let last = out
        .lines()
        .find_map(|l| l.strip_prefix("last_batch_flags "))
        .expect("the program reports the last batch");
    let (before, after) = last.split_once(' ').expect("two numbers");
    assert_eq!(
        before, after,
        "the last batch changed after the stream was released"
    );
}

#[test]
fn sample_bam_through_the_c_stream_equals_samtools() {
    check_bam(
        &repo().join("tests/data/sample.bam"),
        &repo().join("tests/data/sample.sam.gz"),
    );
}

#[test]
fn corpus_bams_through_the_c_stream_equal_samtools() {
    let Some(corpus) = std::env::var_os("RAWARROW_CORPUS") else {
        return; // the repository's own files are covered by the test above
    };
    let dir = Path::new(&corpus).join("bam");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus/bam is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "bam") {
            check_bam(&path, &path.with_extension("sam.gz"));
            n += 1;
        }
    }
    assert!(n >= 4, "expected the corpus BAMs in {}", dir.display());
}

#[test]
fn open_errors_are_codes_with_messages() {
    let missing = repo().join("tests/data/no-such-file.bam");
    let out = run("bam-error", &missing);
    assert_eq!(
        out.trim(),
        format!(
            "open 2 {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let dir = repo().join("tests/data");
    let out = run("bam-error", &dir);
    assert!(out.starts_with("open 2 "), "{out}");
    assert!(out.contains("is a directory"), "{out}");

    // Not BAM at all: the first block is no gzip member.
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let text = tmp.path().join("text.bam");
    std::fs::write(&text, b"@HD\tVN:1.6\n").expect("writable");
    let out = run("bam-error", &text);
    assert!(out.starts_with("open 3 "), "{out}");
    assert!(
        out.contains("text.bam") && out.contains("offset 0"),
        "{out}"
    );
}

#[test]
fn errors_while_streaming_come_through_get_last_error() {
    // The sample cut in the middle of a block: the header reads, a later block is truncated.
    let bytes = std::fs::read(repo().join("tests/data/sample.bam")).expect("the sample");
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let cut = tmp.path().join("cut.bam");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("writable");
    let out = run("bam-error", &cut);
    assert!(out.starts_with("get_next EINVAL "), "{out}");
    assert!(out.contains(&*cut.to_string_lossy()), "{out}");
    assert!(out.contains("offset"), "{out}");
}

#[test]
fn midi_seeds_through_the_c_stream() {
    let seeds = repo().join("fuzz/seeds/midi");
    let out = run("midi", &seeds);
    let mut reader = rawarrow::midi::Reader::builder()
        .threads(1)
        .build(&[&seeds])
        .expect("the seeds are readable");
    let mut notes = 0;
    while let Some(b) = reader.next_batch().expect("the seeds parse") {
        notes += b.num_rows();
    }
    let files = reader.files().num_rows();
    assert!(notes > 0 && files == 5, "{notes} notes, {files} files");
    assert_eq!(out, format!("notes {notes}\nfiles {files}\n"));
}

/// MAPQ, FLAG and region options reach the reader: the same rows as the library gives.
#[test]
fn filters_and_regions_through_the_c_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bam = dir.path().join("s.bam");
    std::fs::copy(repo().join("tests/data/sample.bam"), &bam).expect("copy");
    let input = rawarrow::io::Input::open(&bam).expect("open");
    let index =
        rawarrow::bam::Index::build(input, rawarrow::bam::IndexFormat::Bai, Default::default())
            .expect("sorted");
    std::fs::write(dir.path().join("s.bam.bai"), index.to_bytes()).expect("write index");
    let region = "chrS1:1,001-30,000";
    let reader = rawarrow::bam::Reader::builder()
        .columns(&["flag"])
        .expect("column")
        .filter(
            rawarrow::bam::Filter::default()
                .min_mapq(30)
                .exclude_flags(0x904),
        )
        .regions(&[region])
        .build(rawarrow::io::Input::open(&bam).expect("open"))
        .expect("region query");
    let (mut rows, mut flags) = (0usize, 0u64);
    for b in reader {
        let b = b.expect("valid");
        rows += b.num_rows();
        let f = b
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::UInt16Array>()
            .expect("UInt16");
        flags += f.values().iter().map(|&v| u64::from(v)).sum::<u64>();
    }
    assert!(rows > 100 && rows < 4000, "{rows}");
    let out = run_args("bam-select", &bam, &[region]);
    assert_eq!(out, format!("rows {rows}\nflags {flags}\n"));
}
