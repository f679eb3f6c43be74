//! timsTOF: all frames of a `.d`, every peak with m/z and 1/K0 — timsrust 0.4 (`FrameReader`
//! `get_all`, rayon over all cores, then its converters on every peak) against rawarrow's
//! `Reader` at 1 and 2 threads (boundary models like timsrust's, and the Bruker models).
//! `zstd_only_t{1,2}` decompresses every frame blob and nothing else: the floor both share.
//!
//! Input: `$RAWARROW_BENCH_TDF` (e.g. from `rawarrow tdf-generate`), else the corpus's
//! DDPASEF_10seconds.d. Run: `cargo bench --bench tdf`.
//!
//! `tdf_spectra`: one MS2 spectrum per precursor of a ddaPASEF run (`$RAWARROW_BENCH_DDA`, e.g.
//! from `rawarrow tdf-generate --dda`, else the corpus's DDPASEF_10seconds.d) — timsrust's
//! `SpectrumReader` (`get_all`, rayon over all cores; its default smoothing and centroiding
//! window 1) against the spectra table with `centroid(1)` and the same calibration at 1 and 2
//! threads. The outputs are equal (tests/tdf_tables.rs).

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

/// `analysis.tdf_bin` in memory and each frame's (blob start, blob size, decompressed bytes).
fn zstd_blobs(d: &std::path::Path) -> (Vec<u8>, Vec<(usize, usize, usize)>) {
    let conn = rusqlite::Connection::open(d.join("analysis.tdf")).expect("sqlite");
    let mut stmt = conn
        .prepare("SELECT TimsId, NumScans, NumPeaks FROM Frames ORDER BY Id")
        .expect("Frames");
    let frames: Vec<(usize, usize, usize)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let bin = std::fs::read(d.join("analysis.tdf_bin")).expect("tdf_bin");
    let blobs = frames
        .into_iter()
        .filter_map(|(at, scans, peaks)| {
            let size = u32::from_le_bytes(bin[at..at + 4].try_into().expect("4 bytes")) as usize;
            (size > 8).then_some((at + 8, size - 8, 4 * (scans + 2 * peaks)))
        })
        .collect();
    (bin, blobs)
}

/// Decompresses every blob on `threads` threads (frames handed out in order); the blob count.
fn zstd_all(bin: &[u8], blobs: &[(usize, usize, usize)], threads: usize) -> usize {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut z = zstd::bulk::Decompressor::new().expect("zstd");
                let mut out = Vec::new();
                while let Some(&(at, size, n)) =
                    blobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    out.clear();
                    out.reserve(n);
                    let got = z
                        .decompress_to_buffer(&bin[at..at + size], &mut out)
                        .expect("zstd frame");
                    assert_eq!(got, n);
                }
            });
        }
    });
    next.into_inner().min(blobs.len())
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
    // The floor every reader shares: only zstd, every frame blob decompressed (file already in
    // memory, one context per thread, nothing else done with the bytes).
    let (bin, blobs) = zstd_blobs(&d);
    for threads in [1, 2] {
        g.bench_function(format!("zstd_only_t{threads}"), |b| {
            b.iter(|| assert_eq!(zstd_all(&bin, &blobs, threads), blobs.len()))
        });
    }
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
    spectra(c);
}

fn spectra(c: &mut Criterion) {
    let Some(d) = std::env::var_os("RAWARROW_BENCH_DDA")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("RAWARROW_CORPUS")
                .map(|c| PathBuf::from(c).join("tdf/DDPASEF_10seconds.d"))
        })
    else {
        return;
    };
    let spectra = || {
        Reader::builder()
            .table(rawarrow::tdf::Table::Spectra)
            .calibration(Calibration::Estimate)
            .centroid(1)
    };
    let n = rows(spectra(), &d);
    let mut g = c.benchmark_group("tdf_spectra");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("timsrust_spectrum_reader_get_all", |b| {
        b.iter(|| {
            let r = timsrust::readers::SpectrumReader::new(&d).expect("timsrust");
            let all = r.get_all();
            assert_eq!(all.len() as u64, n);
            black_box(
                all.iter()
                    .map(|s| s.as_ref().map_or(0, |s| s.mz_values.len()))
                    .sum::<usize>(),
            )
        })
    });
    for threads in [1, 2] {
        g.bench_function(format!("rawarrow_spectra_t{threads}"), |b| {
            b.iter(|| assert_eq!(rows(spectra().threads(threads), &d), n))
        });
    }
    g.finish();
}

mod harness {
    #![allow(missing_docs)]
    use super::*;
    criterion::criterion_group!(benches, bench);
}
criterion::criterion_main!(harness::benches);
