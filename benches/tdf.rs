//! timsTOF: all frames of a `.d`, every peak with m/z and 1/K0 — timsrust 0.4 (`FrameReader`
//! `get_all`, rayon over all cores, then its converters on every peak) against rawarrow's
//! `Reader` at 1 and 2 threads (boundary models like timsrust's, and the Bruker models).
//!
//! Input: `$RAWARROW_BENCH_TDF` (e.g. from `rawarrow tdf-generate`), else the corpus's
//! DDPASEF_10seconds.d. Run: `cargo bench --bench tdf`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use rawarrow::tdf::{Calibration, Reader};
use timsrust::converters::ConvertableDomain;

fn input() -> Option<PathBuf> {
    std::env::var_os("RAWARROW_BENCH_TDF")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("RAWARROW_CORPUS")
                .map(|c| PathBuf::from(c).join("tdf/DDPASEF_10seconds.d"))
        })
}

/// Reads every batch (each dropped at once, as a streaming consumer does): the rows.
fn rows(builder: rawarrow::tdf::ReaderBuilder, d: &std::path::Path) -> u64 {
    let mut r = builder.build(d).expect("open");
    let mut n = 0;
    while let Some(batch) = r.next_batch().expect("batch") {
        n += batch.num_rows() as u64;
    }
    n
}

fn bench(c: &mut Criterion) {
    let Some(d) = input() else {
        eprintln!("set RAWARROW_BENCH_TDF or RAWARROW_CORPUS");
        return;
    };
    let peaks = Reader::builder().build(&d).expect("open").expected_rows();
    let mut g = c.benchmark_group("tdf_all_peaks_mz_im");
    g.throughput(Throughput::Elements(peaks));
    g.sample_size(10);
    g.bench_function("timsrust_get_all_convert", |b| {
        b.iter(|| {
            let frames = timsrust::readers::FrameReader::new(&d).expect("timsrust");
            let meta =
                timsrust::readers::MetadataReader::new(d.join("analysis.tdf")).expect("meta");
            let mut acc = 0.0;
            let mut n = 0u64;
            for f in frames.get_all() {
                let f = f.expect("frame");
                for s in 0..f.scan_offsets.len() - 1 {
                    let im = meta.im_converter.convert(s as f64);
                    for p in f.scan_offsets[s]..f.scan_offsets[s + 1] {
                        acc += meta.mz_converter.convert(f.tof_indices[p]) + im;
                        n += 1;
                    }
                }
            }
            assert_eq!(n, peaks);
            black_box(acc)
        })
    });
    for (name, cal) in [
        ("estimate", Calibration::Estimate),
        ("bruker", Calibration::Bruker),
    ] {
        for threads in [1, 2] {
            g.bench_function(format!("rawarrow_{name}_t{threads}"), |b| {
                b.iter(|| {
                    let r = Reader::builder().threads(threads).calibration(cal);
                    assert_eq!(rows(r, &d), peaks);
                })
            });
        }
    }
    // What timsrust's frames hold (frame, scan, tof, intensity) plus the two conversions: the
    // same data as the timsrust loop, materialised as Arrow columns.
    for threads in [1, 2] {
        g.bench_function(
            format!("rawarrow_bruker_t{threads}_timsrust_columns"),
            |b| {
                b.iter(|| {
                    let r = Reader::builder()
                        .threads(threads)
                        .calibration(Calibration::Bruker)
                        .columns(&["frame", "scan", "tof", "intensity", "mz", "mobility"])
                        .expect("columns");
                    assert_eq!(rows(r, &d), peaks);
                })
            },
        );
    }
    g.finish();
}

mod harness {
    #![allow(missing_docs)]
    use super::*;
    criterion::criterion_group!(benches, bench);
}
criterion::criterion_main!(harness::benches);
