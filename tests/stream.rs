//! `rawarrow::stream` and `rawarrow::convert`: the entry points of the Python package and the
//! C ABI. Batches equal the format readers' own; errors carry their kind, file, offset and
//! index; conversions leave nothing behind when they fail or are stopped.

mod common;

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use rawarrow::convert::{convert, Output};
use rawarrow::io::Input;
use rawarrow::stream::{BamOptions, BatchStream, MidiOptions, MidiTable, TdfOptions};
use rawarrow::{Error, ErrorKind};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn collect(mut s: BatchStream) -> Result<Vec<RecordBatch>, Error> {
    let mut out = Vec::new();
    while let Some(b) = s.next_batch()? {
        out.push(b);
    }
    Ok(out)
}

/// The first error of type `T` in `e`'s source chain.
fn cause<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur = e.source();
    while let Some(c) = cur {
        if let Some(t) = c.downcast_ref::<T>() {
            return Some(t);
        }
        cur = c.source();
    }
    None
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

#[test]
fn bam_stream_equals_the_reader_and_chains_inputs() {
    let options = BamOptions {
        batch_rows: Some(700),
        threads: Some(2),
        tags: vec!["NM".into()],
        ..Default::default()
    };
    let sample = data("sample.bam");
    let ours = collect(BatchStream::bam(&[&sample], &options).expect("opens")).expect("reads");
    let reader = rawarrow::bam::Reader::builder()
        .threads(2)
        .batch_rows(700)
        .tags(&["NM"])
        .expect("valid tag")
        .build(Input::open(&sample).expect("opens"))
        .expect("reads the header");
    let theirs: Vec<RecordBatch> = reader.map(|b| b.expect("valid")).collect();
    assert_eq!(ours, theirs);

    // Two inputs: one stream, the second file's batches after the first's, one dictionary.
    let mut two = BatchStream::bam(&[&sample, &sample], &options).expect("opens");
    let total = two.progress().total;
    assert_eq!(total, 2 * std::fs::metadata(&sample).expect("exists").len());
    let mut batches = Vec::new();
    while let Some(b) = two.next_batch().expect("reads") {
        batches.push(b);
    }
    assert_eq!(rows(&batches), 8000);
    assert_eq!(batches[..theirs.len()], theirs[..]);
    let p = two.progress();
    assert_eq!(
        (p.rows, p.done, p.total, p.unit),
        (8000, total, total, "bytes")
    );
}

#[test]
fn option_errors_are_usage_errors() {
    let sample = data("sample.bam");
    let bad = |o: BamOptions| BatchStream::bam(&[&sample], &o).expect_err("refused");
    let e = bad(BamOptions {
        threads: Some(0),
        ..Default::default()
    });
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert_eq!(e.to_string(), "threads must be at least 1");
    let e = bad(BamOptions {
        batch_rows: Some(0),
        ..Default::default()
    });
    assert_eq!(e.kind(), ErrorKind::Usage);
    let e = bad(BamOptions {
        columns: Some(vec!["qname".into(), "nope".into()]),
        ..Default::default()
    });
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert!(e.to_string().contains("nope"), "{e}");
    let e = bad(BamOptions {
        tags: vec!["N".into()],
        ..Default::default()
    });
    assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
    let none: [&str; 0] = [];
    let e = BatchStream::bam(&none, &BamOptions::default()).expect_err("no inputs");
    assert_eq!(e.kind(), ErrorKind::Usage);
    let e = "nope".parse::<MidiTable>().expect_err("unknown table");
    assert_eq!(e.kind(), ErrorKind::Usage);
    let e = "nope"
        .parse::<rawarrow::tdf::Calibration>()
        .expect_err("unknown model");
    assert_eq!(e.kind(), ErrorKind::Usage);
    let e = BatchStream::midi(
        &[data("")],
        &MidiOptions {
            merge_window_ms: f64::NAN,
            ..Default::default()
        },
    )
    .expect_err("NaN window");
    assert_eq!(e.kind(), ErrorKind::Usage);
}

#[test]
fn open_errors_are_io_errors_naming_the_path() {
    let missing = data("missing.bam");
    let e = BatchStream::bam(&[&missing], &BamOptions::default()).expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(e.path(), Some(missing.as_path()));
    assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
    assert_eq!(e.raw_os_error(), Some(2));
    assert!(e.to_string().starts_with(&*missing.to_string_lossy()));
    assert!(std::error::Error::source(&e).is_some());

    let dir = data("");
    let e = BatchStream::bam(&[&dir], &BamOptions::default()).expect_err("a folder");
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("is a directory"), "{e}");

    let e = BatchStream::tdf(&missing, &TdfOptions::default()).expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(e.path(), Some(missing.as_path()));

    let e = BatchStream::midi(&[&missing], &MidiOptions::default()).expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(e.path(), Some(missing.as_path()));
}

#[test]
fn record_errors_carry_file_offset_and_index() {
    // Record 1234 of the sample with block_size 31.
    let bytes = common::oracle_decompress(&std::fs::read(data("sample.bam")).expect("read"));
    let (_, mut at) = rawarrow::bam::Header::parse(&bytes)
        .expect("valid")
        .expect("complete");
    for _ in 0..1234 {
        at += 4 + u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
    }
    let mut bad = bytes.clone();
    bad[at..at + 4].copy_from_slice(&31i32.to_le_bytes());
    let file = rawarrow::bgzf::compress_for_tests(&bad);
    let index = rawarrow::bgzf::scan(&file).expect("valid BGZF");
    let block_offset = index.blocks[at / 0xff00].offset;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("bad.bam");
    std::fs::write(&path, file).expect("writable");
    for threads in [1, 2] {
        let options = BamOptions {
            threads: Some(threads),
            ..Default::default()
        };
        let stream = BatchStream::bam(&[&path], &options).expect("the header is fine");
        let e = collect(stream).expect_err("record 1234 is bad");
        assert_eq!(e.kind(), ErrorKind::Format);
        assert_eq!(e.path(), Some(path.as_path()));
        assert_eq!(e.index(), Some(1234));
        assert_eq!(e.offset(), Some(block_offset));
        // compress_for_tests cuts the stream every 0xff00 bytes.
        assert_eq!(
            e.location(),
            rawarrow::Location::Record {
                index: 1234,
                position: (block_offset << 16 | (at % 0xff00) as u64).into(),
            }
        );
        assert!(
            e.to_string().contains("record 1234 at virtual offset"),
            "{e}"
        );
        // The cause travels down the source chain: the stream's error, the BAM reader's, the
        // record's own fault.
        let bam = cause::<rawarrow::bam::Error>(&e).expect("a bam::Error under it");
        assert!(matches!(
            bam.kind(),
            rawarrow::bam::ErrorKind::Record { index: 1234, .. }
        ));
        assert_eq!(
            cause::<rawarrow::bam::RecordError>(&e),
            Some(&rawarrow::bam::RecordError::BlockSizeTooSmall(31))
        );
    }

    // A file cut in half: a BGZF error at a compressed offset.
    let sample = std::fs::read(data("sample.bam")).expect("read");
    std::fs::write(&path, &sample[..sample.len() / 2]).expect("writable");
    let stream = BatchStream::bam(&[&path], &BamOptions::default()).expect("header");
    let e = collect(stream).expect_err("truncated");
    assert_eq!(e.kind(), ErrorKind::Format);
    assert_eq!(e.path(), Some(path.as_path()));
    assert!(
        e.offset().is_some_and(|o| o < sample.len() as u64 / 2),
        "{e}"
    );
}

#[test]
fn missing_eof_marker_is_a_warning() {
    let sample = std::fs::read(data("sample.bam")).expect("read");
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("noeof.bam");
    std::fs::write(&path, &sample[..sample.len() - 28]).expect("writable");
    let mut stream = BatchStream::bam(&[&path], &BamOptions::default()).expect("opens");
    let mut n = 0;
    while let Some(b) = stream.next_batch().expect("reads") {
        n += b.num_rows();
    }
    assert_eq!(n, 4000);
    let w = stream.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("no BGZF EOF marker"), "{w:?}");
    assert!(stream.take_warnings().is_empty());
}

#[test]
fn midi_tables() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/midi");
    let notes = collect(BatchStream::midi(&[&seeds], &MidiOptions::default()).expect("opens"))
        .expect("reads");
    let files = collect(
        BatchStream::midi(
            &[&seeds],
            &MidiOptions {
                table: MidiTable::Files,
                ..Default::default()
            },
        )
        .expect("opens"),
    )
    .expect("reads");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].num_rows(), 5);
    assert_eq!(files[0].schema().field(0).name(), "file");
    let per_file = files[0]
        .column_by_name("notes")
        .expect("a notes column")
        .as_any()
        .downcast_ref::<arrow_array::UInt64Array>()
        .expect("UInt64")
        .values()
        .iter()
        .sum::<u64>();
    assert_eq!(rows(&notes) as u64, per_file);
}

#[test]
fn midi_inputs_opened_by_the_caller_read_as_their_paths() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/midi");
    let mut songs: Vec<PathBuf> = std::fs::read_dir(&seeds)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    songs.sort();
    songs.truncate(8);
    for table in [MidiTable::Notes, MidiTable::Files] {
        let options = MidiOptions {
            table,
            threads: Some(2),
            ..MidiOptions::default()
        };
        let want = collect(BatchStream::midi(&songs, &options).expect("paths")).expect("read");
        // Streams (read whole by the worker), bytes in memory and opened files, in turn.
        let inputs = songs
            .iter()
            .enumerate()
            .map(|(i, p)| match i % 3 {
                0 => {
                    let file = std::fs::File::open(p).expect("open");
                    rawarrow::io::Input::stream(p.clone(), Box::new(file))
                }
                1 => rawarrow::io::Input::from_bytes(p.clone(), std::fs::read(p).expect("read")),
                _ => rawarrow::io::Input::open(p).expect("map"),
            })
            .collect();
        let got =
            collect(BatchStream::midi_inputs(inputs, &options).expect("inputs")).expect("read");
        assert!(rows(&want) > 0);
        assert_eq!(got, want, "{table:?}");
    }
    let e = BatchStream::midi_inputs(Vec::new(), &MidiOptions::default()).expect_err("none");
    assert_eq!(e.kind(), ErrorKind::Usage);
}

#[test]
fn convert_writes_only_complete_outputs() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let sample = data("sample.bam");
    let open = || BatchStream::bam(&[&sample], &BamOptions::default()).expect("opens");

    // Complete: the IPC file reads back as the stream's batches.
    let out = dir.path().join("s.arrows");
    let mut calls = 0;
    let summary = convert(&mut open(), &Output::new(&out), &mut |_, _| {
        calls += 1;
        Ok(())
    })
    .expect("converts");
    assert_eq!(summary.rows, 4000);
    assert_eq!(calls as u64, summary.batches + 1);
    let back =
        arrow_ipc::reader::StreamReader::try_new(std::fs::File::open(&out).expect("x"), None)
            .expect("an IPC stream");
    let back: Vec<RecordBatch> = back.map(|b| b.expect("valid")).collect();
    assert_eq!(back, collect(open()).expect("reads"));

    // Stopped by the hook after the first batch: an Interrupted error and no file.
    let stopped = dir.path().join("stopped.arrow");
    let mut seen = 0;
    let e = convert(&mut open(), &Output::new(&stopped), &mut |p, _| {
        seen += 1;
        if p.rows > 0 {
            Err(Error::interrupted())
        } else {
            Ok(())
        }
    })
    .expect_err("stopped");
    assert_eq!(e.kind(), ErrorKind::Interrupted);
    assert_eq!(seen, 2);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listable")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("s.arrows")]);

    // Names that say nothing about the format: usage errors.
    for name in ["x.bin", "x"] {
        let e = convert(
            &mut open(),
            &Output::new(dir.path().join(name)),
            &mut |_, _| Ok(()),
        )
        .expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Usage, "{name}: {e}");
    }
    // A folder that does not exist: an I/O error naming the destination.
    let nowhere = dir.path().join("no/such/folder/x.arrow");
    let e = convert(&mut open(), &Output::new(&nowhere), &mut |_, _| Ok(())).expect_err("no dir");
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(e.path(), Some(nowhere.as_path()));
    assert!(
        e.to_string().starts_with(&*nowhere.to_string_lossy()),
        "{e}"
    );
}

#[test]
fn convert_midi_writes_both_tables() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/midi");
    let mut stream = BatchStream::midi(&[&seeds], &MidiOptions::default()).expect("opens");
    let mut output = Output::new(dir.path().join("notes.arrow"));
    output.midi_files = Some(dir.path().join("files.arrow"));
    let summary = convert(&mut stream, &output, &mut |_, _| Ok(())).expect("converts");
    let files = arrow_ipc::reader::FileReader::try_new(
        std::fs::File::open(dir.path().join("files.arrow")).expect("written"),
        None,
    )
    .expect("an IPC file");
    let files: Vec<RecordBatch> = files.map(|b| b.expect("valid")).collect();
    assert_eq!(rows(&files), 5);
    assert!(summary.rows > 0);

    // A files table for a BAM stream is a usage error, and nothing is written.
    let mut bam = BatchStream::bam(&[data("sample.bam")], &BamOptions::default()).expect("x");
    let mut output = Output::new(dir.path().join("b.arrow"));
    output.midi_files = Some(dir.path().join("f.arrow"));
    let e = convert(&mut bam, &output, &mut |_, _| Ok(())).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert!(!dir.path().join("b.arrow").exists());
}

#[test]
fn errors_hand_over_their_cause() {
    // timsTOF: a text where a number belongs is SQLite's conversion error under the reader's.
    let dir = tempfile::tempdir().expect("temporary folder");
    let run = dir.path().join("run.d");
    let spec = rawarrow::tdf::synth::Spec {
        frames: 4,
        scans: 30,
        peaks_per_frame: 100,
        ms1_every: 2,
        window_groups: 1,
        seed: 3,
        dda: false,
    };
    rawarrow::tdf::synth::write(&run, &spec).expect("generate");
    let c = rusqlite::Connection::open(run.join("analysis.tdf")).expect("open");
    c.execute_batch("UPDATE Frames SET NumPeaks = 'many' WHERE Id = 2")
        .expect("sql");
    drop(c);
    let e = BatchStream::tdf(&run, &TdfOptions::default()).expect_err("bad NumPeaks");
    assert_eq!(e.kind(), ErrorKind::Format);
    let tdf = cause::<rawarrow::tdf::Error>(&e).expect("a tdf::Error under it");
    assert_eq!(tdf.kind(), rawarrow::tdf::ErrorKind::Metadata);
    assert_eq!(e.path(), Some(run.join("analysis.tdf").as_path()));
    assert!(
        cause::<rusqlite::Error>(&e).is_some(),
        "{e}: no SQLite error under it"
    );

    // MIDI: a folder that cannot be listed is the operating system's error under the walk.
    let missing = dir.path().join("no-such-folder");
    let e = BatchStream::midi(&[&missing], &MidiOptions::default()).expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::Io);
    let midi = cause::<rawarrow::midi::Error>(&e).expect("a midi::Error under it");
    assert!(matches!(midi.kind(), rawarrow::midi::ErrorKind::Walk(_)));
    assert_eq!(e.path(), Some(missing.as_path()));
    let io = cause::<std::io::Error>(&e).expect("an io::Error under it");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

/// Zero threads, rows, files or chunk bytes is refused by every reader builder, as the stream
/// refuses it: a usage error naming the setting, never a silent 1.
#[test]
fn zero_counts_are_usage_errors_in_every_builder() {
    use rawarrow::bgzf::{ChunkReader, Options};
    fn usage(e: Error, name: &str) {
        assert_eq!(e.kind(), ErrorKind::Usage, "{name}: {e}");
        assert!(
            e.to_string()
                .contains(&format!("{name} must be at least 1")),
            "{e}"
        );
    }
    let bam = || Input::open(data("sample.bam")).expect("sample");
    let b = rawarrow::bam::Reader::builder;
    usage(
        b().threads(0).build(bam()).expect_err("0 threads"),
        "threads",
    );
    usage(
        b().batch_rows(0).build(bam()).expect_err("0 rows"),
        "batch_rows",
    );
    let zero_chunks = Options::default().chunk_bytes(0);
    usage(
        b().bgzf_options(zero_chunks.clone())
            .build(bam())
            .expect_err("0"),
        "chunk_bytes",
    );
    let e = rawarrow::bam::Records::new(bam(), Options::default().threads(0)).expect_err("0");
    usage(e, "threads");
    let e = rawarrow::bam::Index::build(bam(), rawarrow::bam::IndexFormat::Bai, zero_chunks)
        .expect_err("0 chunk bytes");
    usage(e, "chunk_bytes");
    // The chunk iterator's first item, then nothing.
    let mut chunks = ChunkReader::new(bam(), Options::default().threads(0));
    let e = chunks.next().expect("an item").expect_err("0 threads");
    assert_eq!(e.path(), Some(data("sample.bam").as_path()));
    usage(e, "threads");
    assert!(chunks.next().is_none());
    let mut text = Vec::new();
    let e = std::io::Read::read_to_end(
        &mut rawarrow::bgzf::Reader::new(bam(), Options::default().threads(0)),
        &mut text,
    )
    .expect_err("0 threads");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    // The folder is not looked at before the settings are checked.
    let t = rawarrow::tdf::Reader::builder;
    usage(t().threads(0).build("missing.d").expect_err("0"), "threads");
    usage(
        t().batch_rows(0).build("missing.d").expect_err("0"),
        "batch_rows",
    );
    let m = rawarrow::midi::Reader::builder;
    usage(
        m().threads(0).build_paths(Vec::new()).expect_err("0"),
        "threads",
    );
    let e = m()
        .files_per_batch(0)
        .build_paths(Vec::new())
        .expect_err("0");
    usage(e, "files_per_batch");
}

/// The format registry: which format reads an input, from its first bytes, and the inputs no
/// format reads named for what they are.
#[test]
fn detect_names_the_format_by_its_first_bytes() {
    use rawarrow::stream::detect;
    assert_eq!(detect(data("sample.bam")).expect("BAM"), "bam");
    let dir = tempfile::tempdir().expect("temporary folder");
    let run = dir.path().join("run.d");
    let spec = rawarrow::tdf::synth::Spec {
        frames: 2,
        scans: 4,
        peaks_per_frame: 5,
        ms1_every: 1,
        window_groups: 1,
        seed: 1,
        dda: false,
    };
    rawarrow::tdf::synth::write(&run, &spec).expect("generate");
    assert_eq!(detect(&run).expect("timsTOF"), "tdf");
    let songs = dir.path().join("songs");
    std::fs::create_dir(&songs).expect("folder");
    let smf = songs.join("a.mid");
    std::fs::write(
        &smf,
        b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk\0\0\0\x04\0\xff\x2f\0",
    )
    .expect("write");
    assert_eq!(detect(&smf).expect("SMF"), "midi");
    assert_eq!(detect(&songs).expect("a folder to walk"), "midi");
    // CRAM is read by the BAM reader (into the same schema).
    let cram = dir.path().join("x.cram");
    std::fs::write(&cram, b"CRAM\x03\x00rest").expect("write");
    assert_eq!(detect(&cram).expect("CRAM"), "bam");
    for (name, bytes, says) in [
        ("x.sam", &b"@HD\tVN:1.6\n"[..], "it is SAM text"),
        ("x.bin", &b""[..], "the file is empty"),
        (
            "x.txt",
            &b"\x00\x01\x02 nothing"[..],
            "not those of a format rawarrow reads",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let e = detect(&path).expect_err(name);
        assert_eq!(e.kind(), ErrorKind::Format, "{name}");
        assert_eq!(e.path(), Some(path.as_path()));
        assert!(e.to_string().contains(says), "{name}: {e}");
    }
    let e = detect(dir.path().join("missing")).expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::Io);
}

/// Splits are planned through the registry by format name; each covers its input once.
#[test]
fn plan_cuts_inputs_through_the_registry() {
    use rawarrow::stream::{plan, Split};
    let bam = data("sample.bam");
    let size = std::fs::metadata(&bam).expect("size").len();
    let splits = plan("bam", &[&bam], 100_000, &[]).expect("plan");
    assert_eq!(splits.len() as u64, size.div_ceil(100_000));
    let mut at = 0;
    for s in &splits {
        let Split::Bam { start, end, .. } = s else {
            panic!("not a BAM split: {s:?}");
        };
        assert_eq!(*start, at);
        at = *end;
    }
    assert_eq!(at, size);
    let e = plan("cram", &[&bam], 1, &[]).expect_err("unknown");
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert!(
        e.to_string().contains("the formats are bam, tdf, midi"),
        "{e}"
    );
    let e = plan("bam", &[&bam], 0, &[]).expect_err("zero");
    assert!(
        e.to_string().contains("split_bytes must be at least 1"),
        "{e}"
    );
    let e = plan("tdf", &[&bam, &bam], 1, &[]).expect_err("two runs");
    assert_eq!(e.kind(), ErrorKind::Usage);
}

/// Any writer is a conversion's target (what Python's file objects use): the same bytes as the
/// file output, in the format named (default: the IPC file format, as standard output).
#[test]
fn convert_writes_into_any_writer() {
    use rawarrow::convert::{run, Input as Conversion, Output, Target};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().expect("temporary folder");
    let input = Conversion::Bam {
        paths: vec![data("sample.bam")],
        options: BamOptions::default(),
    };
    for (format, name) in [
        (None, "x.arrow"),
        (Some("stream"), "x.arrows"),
        (Some("parquet"), "x.parquet"),
    ] {
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let mut output = Output::new("-");
        output.target = Target::Writer(buffer.clone());
        output.format = format.map(String::from);
        let summary = run(&input, &output, &mut |_, _| Ok(())).expect("converts");
        assert_eq!(summary.rows, 4000);
        let file = dir.path().join(name);
        run(&input, &Output::new(&file), &mut |_, _| Ok(())).expect("converts");
        let written = buffer.lock().expect("not poisoned").clone();
        assert!(written == std::fs::read(&file).expect("file"), "{name}");
    }
    let mut output = Output::new("-");
    output.target = Target::Writer(Arc::new(Mutex::new(Vec::<u8>::new())));
    output.format = Some("sam".into());
    let e = run(&input, &output, &mut |_, _| Ok(())).expect_err("SAM needs a path");
    assert_eq!(e.kind(), ErrorKind::Usage);
}
