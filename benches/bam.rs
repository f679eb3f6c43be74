//! BAM record decoding on decompressed data, per record: noodles-bam (lazy `Record` and fully
//! decoded `RecordBuf`) vs rawarrow (`Record::parse` validation, validation + SAM text, and
//! Arrow record batches through `BatchDecoder`, all columns and a projection).
//!
//! Input: the decompressed `$RAWARROW_BENCH_BAM` (first 64 MiB, or `$RAWARROW_BENCH_MIB` MiB:
//! 4 keeps a batch's input and output in the last-level cache) or `tests/data/sample.bam`;
//! with `$RAWARROW_BENCH_BAM` also the whole file through `stream::BatchStream` at 1 and 2
//! threads (`bam_reader_whole_file`).
//! Run: `cargo bench --bench bam`.

use std::hint::black_box;
use std::io::Read;
use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use noodles_sam::alignment::RecordBuf;
use rawarrow::bam::{BatchDecoder, Header, Projection, Record, COLUMNS};

fn decompressed() -> Vec<u8> {
    let path = std::env::var_os("RAWARROW_BENCH_BAM").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.bam"),
        PathBuf::from,
    );
    let mib = std::env::var("RAWARROW_BENCH_MIB").map_or(64, |v| v.parse().expect("MiB"));
    let file = std::fs::read(path).expect("benchmark input");
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&file[..])
        .take(mib << 20)
        .read_to_end(&mut out)
        .expect("BGZF");
    out
}

fn bench(c: &mut Criterion) {
    let raw = decompressed();
    let (header, start) = Header::parse(&raw).expect("header").expect("complete");
    // Whole records only.
    let mut bodies = Vec::new();
    let mut at = start;
    while at + 4 <= raw.len() {
        let n = u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes")) as usize;
        if at + 4 + n > raw.len() {
            break;
        }
        bodies.push(at + 4..at + 4 + n);
        at += 4 + n;
    }
    let stream = &raw[..at];
    let n = bodies.len() as u64;
    let refs = header.references.len();

    let mut g = c.benchmark_group("bam_decode_per_record");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("noodles_bam_record_lazy", |b| {
        b.iter(|| {
            let mut r = noodles_bam::io::Reader::from(stream);
            r.read_header().expect("header");
            let mut rec = noodles_bam::Record::default();
            let mut count = 0;
            while r.read_record(&mut rec).expect("record") > 0 {
                count += 1;
            }
            assert_eq!(count, n);
        })
    });
    g.bench_function("noodles_bam_record_buf", |b| {
        b.iter(|| {
            let mut r = noodles_bam::io::Reader::from(stream);
            let h = r.read_header().expect("header");
            let mut rec = RecordBuf::default();
            let mut count = 0;
            while r.read_record_buf(&h, &mut rec).expect("record") > 0 {
                count += 1;
            }
            assert_eq!(count, n);
        })
    });
    g.bench_function("rawarrow_validate", |b| {
        b.iter(|| {
            for range in &bodies {
                black_box(Record::parse(&raw[range.clone()], refs).expect("valid"));
            }
        })
    });
    let mut sam = Vec::with_capacity(raw.len() * 2);
    g.bench_function("rawarrow_validate_and_sam_text", |b| {
        b.iter(|| {
            sam.clear();
            for range in &bodies {
                let rec = Record::parse(&raw[range.clone()], refs).expect("valid");
                rawarrow::bam::push_sam(&rec, &header, &mut sam);
            }
            black_box(&sam);
        })
    });
    // The Arrow product: every column of the default schema, batches of 65,536 records.
    let slices: Vec<&[u8]> = bodies.iter().map(|r| &raw[r.clone()]).collect();
    for (name, columns) in [
        ("rawarrow_arrow_all_columns", &COLUMNS[..]),
        (
            "rawarrow_arrow_qname_flag_pos",
            &["qname", "flag", "pos"][..],
        ),
    ] {
        let projection = Projection::of(columns).expect("columns");
        let mut decoder = BatchDecoder::new(&header, projection);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut rows = 0;
                for batch in slices.chunks(65536) {
                    rows += decoder.decode(batch).expect("valid").num_rows();
                }
                assert_eq!(rows as u64, n);
            })
        });
    }
    g.finish();

    // The whole file through the reader, as the Python package and the C ABI run it (the
    // baseline of docs/benchmarks-history.md's Python comparison): only with $RAWARROW_BENCH_BAM.
    if let Some(path) = std::env::var_os("RAWARROW_BENCH_BAM") {
        let mut g = c.benchmark_group("bam_reader_whole_file");
        g.sample_size(10);
        g.measurement_time(std::time::Duration::from_secs(20));
        let size = std::fs::metadata(&path).expect("benchmark input").len();
        g.throughput(Throughput::Bytes(size));
        for threads in [1, 2] {
            g.bench_function(format!("rawarrow_reader_t{threads}"), |b| {
                b.iter(|| {
                    let stream = rawarrow::stream::BatchStream::bam(
                        &[&path],
                        &rawarrow::stream::BamOptions {
                            threads: Some(threads),
                            ..Default::default()
                        },
                    )
                    .expect("opens");
                    let rows: usize = stream.map(|b| b.expect("valid").num_rows()).sum();
                    black_box(rows)
                })
            });
        }
        g.finish();

        // Finding a split's first record without an index (what every byte-range read task
        // does once): 64 split starts spread over the file, each from its own offset.
        let bytes = std::fs::read(&path).expect("benchmark input");
        let starts: Vec<u64> = (1..=64).map(|k| k * size / 65).collect();
        let mut g = c.benchmark_group("bam_split_start");
        g.throughput(Throughput::Elements(starts.len() as u64));
        g.bench_function("split_start_64_offsets", |b| {
            b.iter(|| {
                for &s in &starts {
                    black_box(rawarrow::bam::split_start(&bytes, s, u64::MAX).expect("valid"));
                }
            })
        });
        g.finish();
    }
}

mod harness {
    #![allow(missing_docs)]
    use super::*;
    criterion::criterion_group!(benches, bench);
}
criterion::criterion_main!(harness::benches);
