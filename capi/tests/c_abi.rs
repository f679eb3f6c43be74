//! The C ABI from C: `tests/c/read_stream.c` is compiled with the system C compiler against
//! `include/rawarrow.h` and the static library, then run on the sample BAM (and the corpus
//! BAMs when `RAWARROW_CORPUS` is set), on broken inputs and on the MIDI seeds. Its numbers are
//! compared with samtools' text (the sample also from a URL, served by `tests/common/http_range.rs`). When `valgrind` is installed (`.ci/run` installs it and sets
//! `RAWARROW_REQUIRE_VALGRIND=1`), every run also goes through memcheck: no invalid access and
//! no leak, including a batch read after its stream was released.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[path = "../../tests/common/http_range.rs"]
mod http_range;
#[path = "../../tests/common/pg_server.rs"]
mod pg_server;
use pg_server::tdf_run;

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

/// Builds `librawarrow_c.a` the way a C user would (once per test process) and returns it.
fn static_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        // `cargo test` links tests against the rlib only; build the static library with the
        // same profile and target folder, so nothing is compiled twice.
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
        lib
    })
}

/// Compiles `tests/c/<name>.c` against the header and the static library.
fn compile(name: &str) -> PathBuf {
    let out = target_dir().join(format!("{name}_c"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(repo().join("capi/include"))
        .arg(repo().join(format!("capi/tests/c/{name}.c")))
        .arg(static_lib())
        .args(["-lpthread", "-ldl", "-lm", "-lgcc_s", "-lrt", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
    assert!(status.success(), "compiling {name}.c failed");
    out
}

/// The C reader, compiled once per test process.
fn program() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| compile("read_stream"))
}

/// The C conversion command, compiled once per test process.
fn convert_program() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| compile("convert"))
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
    let mut args = vec![std::ffi::OsStr::new(mode), path.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    run_program(program(), &args)
}

/// Runs `exe` with `args` (under memcheck when available) and returns its standard output.
fn run_program(exe: &Path, args: &[&std::ffi::OsStr]) -> String {
    let mut cmd = if valgrind() {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ])
        .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let out = cmd.args(args).output().expect("the C program runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} {args:?}: {:?}\n{stderr}",
        exe.display(),
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
fn a_url_through_the_c_stream_equals_samtools() {
    // C takes URLs as paths: the same rows from HTTP as from the file.
    let base = http_range::serve(&repo().join("tests/data"));
    check_bam(
        Path::new(&format!("{base}/sample.bam")),
        &repo().join("tests/data/sample.sam.gz"),
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

/// Runs the C conversion command; returns its report lines.
fn convert(args: &[&std::ffi::OsStr]) -> String {
    run_program(convert_program(), args)
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// rows, sum of FLAG and sum of POS of an Arrow IPC file of BAM records.
fn ipc_bam_sums(path: &Path) -> (u64, u64, i64) {
    let file = std::fs::File::open(path).expect("the output exists");
    let reader = arrow_ipc::reader::FileReader::try_new(file, None).expect("an Arrow IPC file");
    let (mut rows, mut flags, mut pos) = (0u64, 0u64, 0i64);
    for batch in reader {
        let b = batch.expect("a valid batch");
        rows += b.num_rows() as u64;
        let f = b.column_by_name("flag").expect("flag");
        let f = f
            .as_any()
            .downcast_ref::<arrow_array::UInt16Array>()
            .expect("UInt16");
        flags += f.values().iter().map(|&v| u64::from(v)).sum::<u64>();
        let p = b.column_by_name("pos").expect("pos");
        let p = p
            .as_any()
            .downcast_ref::<arrow_array::Int32Array>()
            .expect("Int32");
        // SAM's POS 0 is a null `pos`.
        pos += p.iter().map(|v| v.map_or(0, i64::from)).sum::<i64>();
    }
    (rows, flags, pos)
}

#[test]
fn bam_converted_from_c_equals_samtools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("sample.arrow");
    let bam = repo().join("tests/data/sample.bam");
    let report = convert(&[os("bam"), out.as_os_str(), bam.as_os_str()]);
    let (rows, flags, pos, _) = from_sam(&repo().join("tests/data/sample.sam.gz"));
    assert!(
        report.starts_with(&format!("rc 0\nrows {rows} ")),
        "{report}"
    );
    assert!(!report.contains("backwards"), "{report}");
    assert!(
        !report.contains("calls 0"),
        "the progress callback never ran: {report}"
    );
    assert_eq!(ipc_bam_sums(&out), (rows, flags, pos));
}

/// Two inputs whose tag XF has other types (float, then integer): the usage error the CLI and
/// Python give, and no output left behind.
#[test]
fn conflicting_tag_types_are_a_usage_error_from_c() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mixed.arrow");
    let floats = repo().join("tests/data/floats.bam");
    let ints = repo().join("tests/data/xf_int.bam");
    let report = convert(&[
        os("bam"),
        out.as_os_str(),
        os("--tag"),
        os("XF"),
        floats.as_os_str(),
        ints.as_os_str(),
    ]);
    assert!(report.starts_with("rc 1\nerror "), "{report}");
    assert!(
        report.contains("xf_int.bam: its tag columns get other types"),
        "{report}"
    );
    assert!(!out.exists(), "a failed conversion left {}", out.display());
}

#[test]
fn a_progress_callback_stops_a_conversion_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("stopped.parquet");
    let bam = repo().join("tests/data/sample.bam");
    let report = convert(&[
        os("bam"),
        out.as_os_str(),
        os("--stop-after"),
        os("1"),
        bam.as_os_str(),
    ]);
    assert!(report.starts_with("rc 5\nerror interrupted"), "{report}");
    assert!(report.ends_with("calls 1\n"), "{report}");
    assert!(!out.exists());
    let names: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(names.is_empty(), "left behind: {names:?}");
}

/// MGF from C: the spectra table (implied by `.mgf`), one `BEGIN IONS` per spectrum, the same
/// bytes as the library's own conversion.
#[test]
fn tdf_spectra_to_mgf_from_c() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = tdf_run(dir.path(), true);
    let out = dir.path().join("c.mgf");
    let report = convert(&[os("tdf"), out.as_os_str(), run.as_os_str()]);
    assert!(report.starts_with("rc 0\nrows "), "{report}");
    let spectra = rawarrow::stream::BatchStream::tdf(
        &run,
        &rawarrow::stream::TdfOptions {
            table: rawarrow::tdf::Table::Spectra,
            ..Default::default()
        },
    )
    .expect("open")
    .map(|b| b.expect("valid").num_rows())
    .sum::<usize>();
    let text = std::fs::read_to_string(&out).expect("the MGF exists");
    assert!(spectra > 0);
    assert_eq!(text.matches("BEGIN IONS\n").count(), spectra);
    assert_eq!(text.matches("END IONS\n").count(), spectra);
    assert!(report.contains(&format!("rows {spectra} ")), "{report}");
    let lib = dir.path().join("lib.mgf");
    let input = rawarrow::convert::Input::Tdf {
        path: run.clone(),
        options: rawarrow::stream::TdfOptions {
            table: rawarrow::tdf::Table::Spectra,
            ..Default::default()
        },
    };
    rawarrow::convert::run(
        &input,
        &rawarrow::convert::Output::new(&lib),
        &mut |_, _| Ok(()),
    )
    .expect("the library converts");
    assert_eq!(std::fs::read(&lib).expect("lib.mgf"), text.as_bytes());
}

/// PostgreSQL from C: BAM records (count and sums equal samtools' text), then timsTOF peaks
/// stopped by the callback and resumed, equal to a clean run.
#[test]
fn postgres_from_c() {
    let Some(server) = pg_server::Server::start() else {
        return;
    };
    let url = server.url();
    let bam = repo().join("tests/data/sample.bam");
    let report = convert(&[
        os("bam"),
        os("-"),
        os("--postgres"),
        os(&url),
        bam.as_os_str(),
    ]);
    assert!(report.starts_with("rc 0\n"), "{report}");
    let mut client = server.client();
    let row = client
        .query_one(
            "SELECT count(*), sum(flag)::bigint, coalesce(sum(pos), 0)::bigint FROM records",
            &[],
        )
        .expect("records");
    let (rows, flags, pos, _) = from_sam(&repo().join("tests/data/sample.sam.gz"));
    let got: (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(got, (rows as i64, flags as i64, pos));

    let dir = tempfile::tempdir().expect("tempdir");
    let run = tdf_run(dir.path(), false);
    let peaks = |table: &str| -> (i64, i64) {
        let r = server
            .client()
            .query_one(
                &format!("SELECT count(*), coalesce(sum(tof::bigint), 0)::bigint FROM {table}"),
                &[],
            )
            .expect("peaks");
        (r.get(0), r.get(1))
    };
    let clean = convert(&[
        os("tdf"),
        os("-"),
        os("--postgres"),
        os(&url),
        os("--pg-table"),
        os("clean"),
        run.as_os_str(),
    ]);
    assert!(clean.starts_with("rc 0\n"), "{clean}");
    let stopped = convert(&[
        os("tdf"),
        os("-"),
        os("--postgres"),
        os(&url),
        os("--pg-table"),
        os("resumed"),
        os("--batch-rows"),
        os("2000"),
        os("--stop-after"),
        os("2"),
        run.as_os_str(),
    ]);
    assert!(stopped.starts_with("rc 5\n"), "{stopped}");
    let part = peaks("resumed");
    let whole = peaks("clean");
    assert!(
        part.0 < whole.0,
        "the stop came too late: {part:?} of {whole:?}"
    );
    let resumed = convert(&[
        os("tdf"),
        os("-"),
        os("--postgres"),
        os(&url),
        os("--pg-table"),
        os("resumed"),
        os("--resume"),
        run.as_os_str(),
    ]);
    assert!(resumed.starts_with("rc 0\n"), "{resumed}");
    assert_eq!(peaks("resumed"), whole);
}
