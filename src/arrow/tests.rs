//! Output sinks with encoding on worker threads: the files equal those written on the calling
//! thread by arrow-rs's own writers (byte for byte), for every format, compression and thread
//! count, with many batches, dictionaries, Parquet row groups split inside batches, and errors
//! that surface from the writer thread.

#[path = "../../tests/common/cells.rs"]
#[allow(dead_code)] // the helpers the integration tests share; these tests use a few
mod cells;

use std::path::Path;
use std::sync::Arc;

use super::{Compression, OutputFormat, Sink, SinkOptions};
use arrow_array::{Array, ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

const FORMATS: [OutputFormat; 3] = [
    OutputFormat::IpcFile,
    OutputFormat::IpcStream,
    OutputFormat::Parquet,
];
const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Lz4, Compression::Zstd];

/// The sample BAM in batches of `rows` rows (many batches, a reference-name dictionary).
fn bam_batches(rows: usize) -> Vec<RecordBatch> {
    let reader = crate::bam::Reader::builder()
        .threads(2)
        .batch_rows(rows)
        .build(
            crate::io::Input::open(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.bam"),
            )
            .expect("open"),
        )
        .expect("header");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    assert!(batches.len() > 20, "many batches");
    batches
}

fn write(
    path: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    options: &SinkOptions,
) -> Result<(), arrow_schema::ArrowError> {
    let mut sink = Sink::with_options(path, schema, options)?;
    for b in batches {
        sink.write(b)?;
    }
    sink.finish()
}

fn read_back(path: &Path, format: OutputFormat) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).expect("output exists");
    match format {
        OutputFormat::IpcFile => arrow_ipc::reader::FileReader::try_new(file, None)
            .expect("ipc file")
            .map(|b| b.expect("batch"))
            .collect(),
        OutputFormat::IpcStream => arrow_ipc::reader::StreamReader::try_new(file, None)
            .expect("ipc stream")
            .map(|b| b.expect("batch"))
            .collect(),
        OutputFormat::Parquet => {
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .expect("parquet")
                .with_batch_size(usize::MAX >> 8)
                .build()
                .expect("reader")
                .map(|b| b.expect("batch"))
                .collect()
        }
    }
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).expect("concat")
}

#[test]
fn worker_threads_write_the_bytes_the_calling_thread_writes() {
    let batches = bam_batches(97);
    let schema = batches[0].schema();
    let all = concat(&batches);
    let dir = tempfile::tempdir().expect("tempdir");
    for format in FORMATS {
        for compression in COMPRESSIONS {
            // Parquet row groups of 1,000 rows: split inside batches, several per file.
            let options = |threads| SinkOptions {
                format,
                compression: Some(compression),
                threads: Some(threads),
                parquet_row_group_rows: Some(1000),
            };
            let inline = dir.path().join(format!("{format:?}-{compression:?}-1"));
            write(&inline, &schema, &batches, &options(1)).expect("inline");
            let expected = std::fs::read(&inline).expect("read");
            for threads in [2, 3, 8] {
                let path = dir
                    .path()
                    .join(format!("{format:?}-{compression:?}-{threads}"));
                write(&path, &schema, &batches, &options(threads)).expect("threads");
                let got = std::fs::read(&path).expect("read");
                assert!(
                    got == expected,
                    "{format:?} {compression:?} at {threads} threads: {} bytes, expected {}",
                    got.len(),
                    expected.len()
                );
            }
            let back = read_back(&inline, format);
            same_rows(&concat(&back), &all, &format!("{format:?} {compression:?}"));
            if format == OutputFormat::Parquet {
                let file = std::fs::File::open(&inline).expect("open");
                let meta = parquet::file::reader::FileReader::metadata(
                    &parquet::file::reader::SerializedFileReader::new(file).expect("parquet"),
                )
                .clone();
                let rows = all.num_rows();
                assert_eq!(meta.num_row_groups(), rows.div_ceil(1000));
                assert!(
                    (0..meta.num_row_groups() - 1).all(|g| meta.row_group(g).num_rows() == 1000)
                );
            } else {
                assert_eq!(back.len(), batches.len(), "one IPC message per batch");
            }
        }
    }
}

/// LZ4 output in `format` on `threads` threads.
fn lz4(format: OutputFormat, threads: usize) -> SinkOptions {
    SinkOptions {
        format,
        compression: Some(Compression::Lz4),
        threads: Some(threads),
        ..Default::default()
    }
}

#[test]
fn empty_outputs_are_valid_files() {
    let batches = bam_batches(97);
    let schema = batches[0].schema();
    let dir = tempfile::tempdir().expect("tempdir");
    for format in FORMATS {
        for threads in [1, 2] {
            let path = dir.path().join(format!("{format:?}-{threads}"));
            let options = lz4(format, threads);
            write(&path, &schema, &[], &options).expect("empty");
            assert!(read_back(&path, format).iter().all(|b| b.num_rows() == 0));
        }
    }
}

/// Batches whose dictionary changes from the third on.
fn changing_dictionaries() -> (SchemaRef, Vec<RecordBatch>) {
    let ty = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", ty, false),
        Field::new("n", DataType::Int32, false),
    ]));
    let first: ArrayRef = Arc::new(StringArray::from(vec!["chr1", "chr2"]));
    let later: ArrayRef = Arc::new(StringArray::from(vec!["chrX", "chrY", "chrM"]));
    let batches = (0..6)
        .map(|i| {
            let values = if i < 2 { first.clone() } else { later.clone() };
            let keys = Int32Array::from(vec![i % 2, 1, 0]);
            let names = DictionaryArray::try_new(keys, values).expect("dictionary");
            let n = Int32Array::from(vec![i; 3]);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(names), Arc::new(n)]).expect("batch")
        })
        .collect();
    (schema, batches)
}

/// Equal column types and equal rows, value by value (dictionary columns by their strings:
/// Parquet stores values, not keys).
fn same_rows(got: &RecordBatch, expected: &RecordBatch, what: &str) {
    let types = |b: &RecordBatch| -> Vec<DataType> {
        b.columns().iter().map(|c| c.data_type().clone()).collect()
    };
    assert_eq!(types(got), types(expected), "{what}");
    let (g, e) = (cells::rows(got), cells::rows(expected));
    let first = g.iter().zip(&e).position(|(a, b)| a != b);
    assert!(
        g.len() == e.len() && first.is_none(),
        "{what}: {} rows vs {}, first difference at row {first:?}",
        g.len(),
        e.len()
    );
}

/// The strings of a dictionary column (`None` for nulls).
fn names(column: &ArrayRef) -> Vec<Option<String>> {
    cells::texts(column.as_ref())
}

#[test]
fn replaced_dictionaries_as_arrow_rs_handles_them() {
    let (schema, batches) = changing_dictionaries();
    let dir = tempfile::tempdir().expect("tempdir");
    for compression in COMPRESSIONS {
        for threads in [1, 2, 4] {
            let options = |format| SinkOptions {
                format,
                compression: Some(compression),
                threads: Some(threads),
                ..Default::default()
            };
            // A stream may replace a dictionary: each batch reads back with its own.
            let stream = dir.path().join(format!("s-{compression:?}-{threads}"));
            write(
                &stream,
                &schema,
                &batches,
                &options(OutputFormat::IpcStream),
            )
            .expect("stream");
            assert_eq!(read_back(&stream, OutputFormat::IpcStream), batches);
            // An IPC file may not: refused, and nothing is left behind.
            let file = dir.path().join(format!("f-{compression:?}-{threads}"));
            let e = write(&file, &schema, &batches, &options(OutputFormat::IpcFile))
                .expect_err("replacement in a file");
            assert!(
                e.to_string().contains("Dictionary replacement"),
                "{compression:?} {threads}: {e}"
            );
            assert!(!file.exists());
            // Parquet stores values, not dictionaries.
            let pq = dir.path().join(format!("p-{compression:?}-{threads}"));
            write(&pq, &schema, &batches, &options(OutputFormat::Parquet)).expect("parquet");
            let back = read_back(&pq, OutputFormat::Parquet);
            let got: Vec<_> = back.iter().flat_map(|b| names(b.column(0))).collect();
            let expected: Vec<_> = batches.iter().flat_map(|b| names(b.column(0))).collect();
            assert_eq!(got.len(), 18);
            assert_eq!(got, expected);
        }
    }
    // Only the finished streams and Parquet files remain.
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 18);
}

#[test]
fn write_errors_come_back_from_the_writer_thread() {
    let batches = bam_batches(97);
    let schema = batches[0].schema();
    for format in FORMATS {
        for compression in [Compression::None, Compression::Zstd] {
            for threads in [1, 2] {
                let options = SinkOptions {
                    format,
                    compression: Some(compression),
                    threads: Some(threads),
                    ..Default::default()
                };
                // /dev/full takes nothing: the error names the cause, from write or finish.
                let e = write(Path::new("/dev/full"), &schema, &batches, &options)
                    .expect_err("no space");
                let io = match &e {
                    arrow_schema::ArrowError::IoError(_, io) => io.kind(),
                    other => panic!("{format:?} {threads}: not an I/O error: {other}"),
                };
                assert_eq!(
                    io,
                    std::io::ErrorKind::StorageFull,
                    "{format:?} {threads}: {e}"
                );
            }
        }
    }
}

#[test]
fn a_batch_of_another_schema_is_refused_and_a_dropped_sink_leaves_nothing() {
    let batches = bam_batches(97);
    let schema = batches[0].schema();
    let (_, other) = changing_dictionaries();
    let dir = tempfile::tempdir().expect("tempdir");
    for format in FORMATS {
        for threads in [1, 2] {
            let path = dir.path().join(format!("{format:?}-{threads}"));
            let options = lz4(format, threads);
            let mut sink = Sink::with_options(&path, &schema, &options).expect("create");
            sink.write(&batches[0]).expect("first batch");
            // Refused at once or by a later call; never a file.
            let refused = sink.write(&other[0]).is_err()
                || batches[1..].iter().any(|b| sink.write(b).is_err())
                || sink.finish().is_err();
            assert!(
                refused,
                "{format:?} at {threads} threads took a foreign batch"
            );
            assert!(!path.exists());

            let mut sink = Sink::with_options(&path, &schema, &options).expect("create");
            for b in &batches[..5] {
                sink.write(b).expect("write");
            }
            drop(sink);
            assert!(!path.exists());
        }
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        0,
        "no temporary files"
    );
    let zero = SinkOptions {
        threads: Some(0),
        ..Default::default()
    };
    assert!(Sink::with_options(&dir.path().join("z"), &schema, &zero).is_err());
}
