//! Inputs that shrink while they are read (another process truncates them): an error naming
//! the file and the offset from which its bytes were gone, never a SIGBUS; what was handed out
//! before the cut equals the intact file's read. At 1 and 2 threads, for a BAM, a timsTOF run
//! and a MIDI folder, through the library and the CLI (the Python side is in
//! `python/tests/test_errors.py`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arrow_array::{Array, RecordBatch};
use rawarrow::bgzf::Options;
use rawarrow::io::Input;
use rawarrow::ErrorKind;

mod common;

const PAGE: u64 = 4096;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.bam")
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for truncation")
        .set_len(len)
        .expect("truncate");
}

/// The error of a read that found `path` cut at `cut` (a page boundary) of its `len` bytes.
fn assert_shrunk(e: &rawarrow::Error, path: &Path, cut: u64, len: u64) {
    let message = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Io, "{message}");
    assert_eq!(
        e.io_kind(),
        Some(std::io::ErrorKind::UnexpectedEof),
        "{message}"
    );
    assert_eq!(e.path(), Some(path), "{message}");
    let at = e.offset().expect("an offset");
    assert!(
        at >= cut && at < len && at.is_multiple_of(PAGE),
        "{at}: {message}"
    );
    assert!(
        message.starts_with(&format!("{}: ", path.display()))
            && message.contains("the file shrank while it was read")
            && message.contains(&format!("it had {len} bytes")),
        "{message}"
    );
}

fn bam_reader(path: &Path, threads: usize) -> rawarrow::bam::Reader {
    rawarrow::bam::Reader::builder()
        .threads(threads)
        .batch_rows(100)
        .bgzf_options(Options::default().threads(threads).chunk_bytes(65_536))
        .build(Input::open(path).expect("open"))
        .expect("reader")
}

fn all_batches(
    mut next: impl FnMut() -> Result<Option<RecordBatch>, rawarrow::Error>,
) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    while let Some(b) = next().expect("intact read") {
        out.push(b);
    }
    out
}

/// The rows handed out before the error are the intact read's first rows (the last batch
/// before a cut may be shorter: it holds the rows read before it).
fn assert_prefix(got: &[RecordBatch], expected: &[RecordBatch], threads: usize) {
    let schema = expected[0].schema();
    let all = arrow_select::concat::concat_batches(&schema, expected).expect("concat");
    let got = arrow_select::concat::concat_batches(&schema, got).expect("concat");
    assert!(
        got.num_rows() < all.num_rows(),
        "{threads} threads: {} rows",
        got.num_rows()
    );
    for (c, (a, b)) in got.columns().iter().zip(all.columns()).enumerate() {
        assert_eq!(
            a.to_data(),
            b.slice(0, got.num_rows()).to_data(),
            "{threads} threads: column {c} before the cut"
        );
    }
}

#[test]
fn a_bam_cut_while_it_is_read_is_an_error_at_the_cut() {
    let bytes = std::fs::read(sample()).expect("sample");
    let len = bytes.len() as u64;
    let cut = len / 2 / PAGE * PAGE;
    for threads in [1, 2] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cut.bam");
        std::fs::write(&path, &bytes).expect("write");
        let mut intact = bam_reader(&sample(), threads);
        let expected = all_batches(|| intact.next_batch());

        let mut reader = bam_reader(&path, threads);
        let mut got = vec![reader.next_batch().expect("first batch").expect("rows")];
        truncate(&path, cut);
        let e = loop {
            match reader.next_batch() {
                Ok(Some(b)) => got.push(b),
                Ok(None) => panic!("{threads} threads: read to the end of a file cut in half"),
                Err(e) => break e,
            }
        };
        assert_shrunk(&e, &path, cut, len);
        assert_prefix(&got, &expected, threads);
        // The cause is the BGZF reader's own.
        assert!(matches!(
            e.cause::<rawarrow::bgzf::Error>().map(rawarrow::bgzf::Error::kind),
            Some(rawarrow::bgzf::ErrorKind::Shrunk { len: l }) if *l == len
        ));
    }
}

#[test]
fn records_and_the_bgzf_chunks_of_a_cut_file_end_in_the_same_error() {
    let bytes = std::fs::read(sample()).expect("sample");
    let len = bytes.len() as u64;
    let cut = len / 3 / PAGE * PAGE;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cut.bam");
    std::fs::write(&path, &bytes).expect("write");
    let input = std::sync::Arc::new(Input::open(&path).expect("open"));
    let opts = Options::default().threads(2).chunk_bytes(65_536);
    let mut chunks = rawarrow::bgzf::ChunkReader::new(input.clone(), opts.clone());
    let first = chunks.next().expect("a chunk").expect("inflates");
    truncate(&path, cut);
    let mut more = 0;
    let e = loop {
        match chunks.next() {
            Some(Ok(_)) => more += 1,
            Some(Err(e)) => break e,
            None => panic!("the chunks of a cut file ended without an error"),
        }
    };
    assert_shrunk(&e, &path, cut, len);
    assert!(first.compressed_range().end <= cut && more < 40);
    // A reader opened on the same map later sees the cut at once.
    let e = rawarrow::bam::Records::new(input, opts).expect_err("the map is cut");
    assert_shrunk(&e, &path, cut, len);
}

#[test]
fn a_timstof_run_cut_while_it_is_read_is_an_error_at_the_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run.d");
    let spec = rawarrow::tdf::synth::Spec {
        frames: 60,
        scans: 200,
        peaks_per_frame: 4000,
        ms1_every: 5,
        window_groups: 3,
        seed: 11,
        dda: false,
    };
    rawarrow::tdf::synth::write(&run, &spec).expect("generate");
    let bin = run.join("analysis.tdf_bin");
    let pristine = std::fs::read(&bin).expect("bin");
    let len = pristine.len() as u64;
    let cut = len / 2 / PAGE * PAGE;
    let open = |threads| {
        rawarrow::tdf::Reader::builder()
            .threads(threads)
            .batch_rows(4000)
            .build(&run)
            .expect("open")
    };
    for threads in [1, 2] {
        std::fs::write(&bin, &pristine).expect("restore");
        let mut intact = open(threads);
        let expected = all_batches(|| intact.next_batch());
        drop(intact);

        let mut reader = open(threads);
        let mut got = vec![reader.next_batch().expect("first batch").expect("rows")];
        truncate(&bin, cut);
        let e = loop {
            match reader.next_batch() {
                Ok(Some(b)) => got.push(b),
                Ok(None) => panic!("{threads} threads: read to the end of a cut run"),
                Err(e) => break e,
            }
        };
        assert_shrunk(&e, &bin, cut, len);
        assert_prefix(&got, &expected, threads);
        assert_eq!(
            e.cause::<rawarrow::tdf::Error>()
                .map(rawarrow::tdf::Error::kind),
            Some(rawarrow::tdf::ErrorKind::Shrunk)
        );
    }
}

/// A format-0 SMF of `notes` notes on one track: 8 bytes a note, so large ones are mapped.
fn big_smf(notes: usize) -> Vec<u8> {
    let mut track = Vec::with_capacity(notes * 8 + 4);
    for i in 0..notes {
        let pitch = 36 + (i % 48) as u8;
        track.extend_from_slice(&[0, 0x90, pitch, 100, 10, 0x80, pitch, 0]);
    }
    track.extend_from_slice(&[0, 0xFF, 0x2F, 0]);
    let mut smf = b"MThd\0\0\0\x06\0\0\0\x01\x01\xe0MTrk".to_vec();
    smf.extend_from_slice(&(track.len() as u32).to_be_bytes());
    smf.extend_from_slice(&track);
    smf
}

#[test]
fn a_midi_file_cut_while_the_folder_is_read_is_a_failed_file_never_a_crash() {
    // 2.4 MiB: above the reader's 1 MiB read limit, so it is mapped. Another thread cuts it and
    // writes it back in a loop while the folder is read; every read must give the whole song
    // or a failed row (the cut, or the shorter file's own parse error), and the process lives.
    let notes = 300_000;
    let song = big_smf(notes);
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.mid");
    std::fs::write(&big, &song).expect("write");
    std::fs::write(dir.path().join("small.mid"), big_smf(10)).expect("write");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cutter = {
        let (big, song, stop) = (big.clone(), song.clone(), stop.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&big)
                    .expect("open");
                f.set_len(PAGE * (1 + n % 7)).expect("cut");
                std::thread::yield_now();
                f.write_all(&song).expect("write back");
                n += 1;
            }
            n
        })
    };
    let mut outcomes = [0u32; 2];
    for round in 0..40 {
        let threads = 1 + round % 2;
        let mut reader = rawarrow::midi::Reader::builder()
            .threads(threads)
            .build(&[dir.path()])
            .expect("open");
        while reader.next_batch().expect("notes batches").is_some() {}
        let files = reader.files();
        let col = |name: &str| files.column_by_name(name).expect(name).clone();
        let errors = col("error");
        let errors = errors
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .expect("utf8");
        let counts = col("notes");
        let counts = counts
            .as_any()
            .downcast_ref::<arrow_array::UInt64Array>()
            .expect("u64");
        assert!(errors.is_null(1), "small.mid is never touched");
        let warnings = col("warnings");
        if errors.is_null(0) {
            // The whole song, or a song read while the file was short (its track then runs
            // past the end: a warning).
            assert!(
                counts.value(0) == notes as u64 || !warnings.is_null(0),
                "{} notes without a warning",
                counts.value(0)
            );
            outcomes[0] += 1;
        } else {
            outcomes[1] += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let cuts = cutter.join().expect("cutter");
    assert!(
        cuts > 0 && outcomes.iter().sum::<u32>() == 40,
        "{cuts} {outcomes:?}"
    );
}

#[test]
fn cli_exits_1_naming_the_cut() {
    let bytes = common::repeated_bam(20);
    let len = bytes.len() as u64;
    let cut = len / 2 / PAGE * PAGE;
    for threads in ["1", "2"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cut.bam");
        std::fs::write(&path, &bytes).expect("write");
        // Standard output is a pipe read only a little before the cut: the conversion blocks
        // on it with most of the input unread.
        let mut child = Command::new(env!("CARGO_BIN_EXE_rawarrow"))
            .args([
                "bam",
                "--quiet",
                "-t",
                threads,
                "--batch-rows",
                "50",
                "-o",
                "-",
            ])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut head = vec![0u8; 4096];
        stdout.read_exact(&mut head).expect("the first output");
        truncate(&path, cut);
        std::io::copy(&mut stdout, &mut std::io::sink()).expect("drain");
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{threads} threads: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "rawarrow: error: {}: compressed offset ",
                path.display()
            )) && stderr.contains("the file shrank while it was read"),
            "{stderr}"
        );
    }
}
