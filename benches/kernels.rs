//! Kernel benchmarks: for each kernel, the naive reference, the fast scalar version and every
//! instruction-set implementation this CPU has, in one criterion group per kernel and size.
//!
//! Run: `cargo bench --bench kernels` (add a filter such as `seq/` to run one kernel).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use rawarrow_kernels::{calib, cigar, cstr, delta, onset, qual, runs, seq, unshuffle};

const SIZES: &[usize] = &[16, 150, 1024, 64 * 1024, 1 << 20];

fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

type SeqFn = Box<dyn Fn(&[u8], &mut [u8])>;

fn seq_impls() -> Vec<(&'static str, SeqFn)> {
    let mut v: Vec<(&'static str, SeqFn)> = vec![
        ("naive", Box::new(seq::naive)),
        ("scalar", Box::new(seq::scalar::decode)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use seq::x86_64::*;
        if let Some(k) = ssse3::Ssse3::new() {
            v.push(("ssse3", Box::new(move |p, o| k.decode(p, o))));
        }
        if let Some(k) = avx2::Avx2::new() {
            v.push(("avx2", Box::new(move |p, o| k.decode(p, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            v.push(("avx512", Box::new(move |p, o| k.decode(p, o))));
        }
    }
    v.push(("dispatch", Box::new(seq::decode)));
    v
}

fn bench_seq(c: &mut Criterion) {
    let impls = seq_impls();
    let mut g = c.benchmark_group("seq");
    for &n in SIZES {
        let packed = bytes(n.div_ceil(2), 1);
        let mut out = vec![0u8; n];
        g.throughput(Throughput::Bytes(n as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, n), &n, |b, _| {
                b.iter(|| f(black_box(&packed), &mut out))
            });
        }
    }
    g.finish();
    // Realistic use: 10,000 reads of 150 bases, one call per read.
    let mut g = c.benchmark_group("seq_reads_150bp");
    let packed = bytes(75 * 10_000, 2);
    let mut out = vec![0u8; 150 * 10_000];
    g.throughput(Throughput::Bytes(out.len() as u64));
    for (name, f) in &impls {
        g.bench_function(*name, |b| {
            b.iter(|| {
                for (p, o) in packed.chunks_exact(75).zip(out.chunks_exact_mut(150)) {
                    f(black_box(p), o);
                }
            })
        });
    }
    g.finish();
}

type QualFn = Box<dyn Fn(&[u8], &mut [u8]) -> bool>;

fn bench_qual(c: &mut Criterion) {
    let mut impls: Vec<(&'static str, QualFn)> = vec![
        (
            "naive",
            Box::new(|q, o| matches!(qual::naive(q, o), qual::Qual::Present { saturated: true })),
        ),
        ("scalar", Box::new(qual::scalar::add33)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use qual::x86_64::*;
        if let Some(k) = sse41::Sse41::new() {
            impls.push(("sse41", Box::new(move |q, o| k.add33(q, o))));
        }
        if let Some(k) = avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |q, o| k.add33(q, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            impls.push(("avx512", Box::new(move |q, o| k.add33(q, o))));
        }
    }
    let mut g = c.benchmark_group("qual");
    for &n in SIZES {
        let q: Vec<u8> = bytes(n, 3).iter().map(|b| b % 42).collect();
        let mut out = vec![0u8; n];
        g.throughput(Throughput::Bytes(n as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, n), &n, |b, _| {
                b.iter(|| f(black_box(&q), &mut out))
            });
        }
    }
    g.finish();
}

type UnshuffleFn = Box<dyn Fn(&[u8], &mut [u32])>;

fn bench_unshuffle(c: &mut Criterion) {
    let mut impls: Vec<(&'static str, UnshuffleFn)> = vec![
        ("naive", Box::new(unshuffle::naive)),
        ("scalar", Box::new(unshuffle::scalar::unshuffle)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use unshuffle::x86_64::*;
        if let Some(k) = ssse3::Ssse3::new() {
            impls.push(("ssse3", Box::new(move |p, o| k.unshuffle(p, o))));
        }
        if let Some(k) = avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |p, o| k.unshuffle(p, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            impls.push(("avx512", Box::new(move |p, o| k.unshuffle(p, o))));
        }
    }
    let mut g = c.benchmark_group("unshuffle");
    for &bytes_n in SIZES {
        let n = bytes_n / 4;
        let planes = bytes(4 * n, 4);
        let mut out = vec![0u32; n];
        g.throughput(Throughput::Bytes((4 * n) as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, 4 * n), &n, |b, _| {
                b.iter(|| f(black_box(&planes), &mut out))
            });
        }
    }
    g.finish();
}

type PairsFn = Box<dyn Fn(&[u8], usize, &mut [u32], &mut [u32])>;

/// A frame's (TOF delta, intensity) pairs after its 918 scan words: the one-pass split against
/// unshuffling every word and splitting the pairs afterwards (what the reader did before).
fn bench_pairs(c: &mut Criterion) {
    let mut impls: Vec<(&'static str, PairsFn)> = vec![
        ("naive", Box::new(unshuffle::naive_pairs)),
        ("scalar", Box::new(unshuffle::scalar::pairs)),
        (
            "unshuffle_then_split",
            Box::new({
                // The word buffer is reused, as the reader's was.
                let words = std::cell::RefCell::new(Vec::new());
                move |p: &[u8], from: usize, e: &mut [u32], o: &mut [u32]| {
                    let mut words = words.borrow_mut();
                    words.resize(p.len() / 4, 0);
                    unshuffle::unshuffle(p, &mut words);
                    for ((e, o), w) in e
                        .iter_mut()
                        .zip(o.iter_mut())
                        .zip(words[from..].chunks_exact(2))
                    {
                        *e = w[0];
                        *o = w[1];
                    }
                }
            }),
        ),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use unshuffle::x86_64::*;
        if let Some(k) = avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |p, f, e, o| k.pairs(p, f, e, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            impls.push(("avx512", Box::new(move |p, f, e, o| k.pairs(p, f, e, o))));
        }
    }
    let mut g = c.benchmark_group("unshuffle_pairs");
    for pairs in [1_000usize, 100_000] {
        let n = 918 + 2 * pairs;
        let planes = bytes(4 * n, 4);
        let (mut e, mut o) = (vec![0u32; pairs], vec![0u32; pairs]);
        g.throughput(Throughput::Bytes((4 * n) as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, 4 * n), &n, |b, _| {
                b.iter(|| f(black_box(&planes), 918, &mut e, &mut o))
            });
        }
    }
    g.finish();
}

type DeltaFn = Box<dyn Fn(&[u32], &[u32], &mut [u32])>;

fn bench_delta(c: &mut Criterion) {
    let mut impls: Vec<(&'static str, DeltaFn)> = vec![
        ("naive", Box::new(delta::naive)),
        ("scalar", Box::new(delta::scalar::decode)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use delta::x86_64::*;
        if let Some(k) = sse41::Sse41::new() {
            impls.push(("sse41", Box::new(move |d, s, o| k.decode(d, s, o))));
        }
        if let Some(k) = avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |d, s, o| k.decode(d, s, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            impls.push(("avx512", Box::new(move |d, s, o| k.decode(d, s, o))));
        }
    }
    // Scans of 64 peaks, a typical timsTOF MS1 density.
    let mut g = c.benchmark_group("delta");
    for &bytes_n in SIZES {
        let n = bytes_n / 4;
        let d: Vec<u32> = bytes(n, 5).iter().map(|&b| u32::from(b)).collect();
        let mut scans = vec![64u32; n / 64];
        scans.push((n % 64) as u32);
        let mut out = vec![0u32; n];
        g.throughput(Throughput::Bytes((4 * n) as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, 4 * n), &n, |b, _| {
                b.iter(|| f(black_box(&d), &scans, &mut out))
            });
        }
    }
    g.finish();
}

type RunsFn = Box<dyn Fn(&[u32], &[f64], &mut [f64])>;

fn bench_runs(c: &mut Criterion) {
    let mut impls: Vec<(&'static str, RunsFn)> = vec![
        ("naive", Box::new(runs::naive::<f64>)),
        ("scalar", Box::new(runs::scalar::expand::<f64>)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use runs::x86_64::*;
        if let Some(k) = avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |c, v, o| k.expand(c, v, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            impls.push(("avx512", Box::new(move |c, v, o| k.expand(c, v, o))));
        }
    }
    // 1/K0 per scan over the scans' peaks (`f64`): runs of 1..=127 peaks (mean 64), the
    // output sized like the other kernels' (bytes), kept in cache.
    let mut g = c.benchmark_group("runs_f64");
    for &bytes_n in &SIZES[2..] {
        let n = bytes_n / 8;
        let mut counts: Vec<u32> = Vec::new();
        let mut left = n;
        for &b in bytes(n, 7).iter().cycle() {
            if left == 0 {
                break;
            }
            let take = (usize::from(b % 127) + 1).min(left);
            counts.push(take as u32);
            left -= take;
        }
        let values: Vec<f64> = (0..counts.len()).map(|i| 0.6 + i as f64 * 1e-3).collect();
        let mut out = vec![0.0; n];
        g.throughput(Throughput::Bytes((8 * n) as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, 8 * n), &n, |b, _| {
                b.iter(|| f(black_box(&counts), &values, &mut out))
            });
        }
    }
    g.finish();
}

type CalibFn = Box<dyn Fn(&[u32], f64, f64, &mut [f64])>;

fn bench_calib(c: &mut Criterion) {
    let mut impls: Vec<(&'static str, CalibFn)> = vec![
        ("naive", Box::new(calib::naive_mz)),
        ("scalar", Box::new(calib::scalar::tof_to_mz)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use calib::x86_64::*;
        if let Some(k) = avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |t, a, b, o| k.tof_to_mz(t, a, b, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            impls.push((
                "avx512",
                Box::new(move |t, a, b, o| k.tof_to_mz(t, a, b, o)),
            ));
        }
    }
    let mut g = c.benchmark_group("tof_to_mz");
    for &n in &[16usize, 1024, 64 * 1024, 1 << 20] {
        let tof: Vec<u32> = bytes(4 * n, 6)
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], 0]))
            .collect();
        let mut out = vec![0f64; n];
        g.throughput(Throughput::Elements(n as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, n), &n, |b, _| {
                b.iter(|| f(black_box(&tof), 9.974_526_347, 1.013_847_1e-4, &mut out))
            });
        }
    }
    g.finish();
}

type OnsetFn = Box<dyn Fn(&[u8], u8, &mut [u32]) -> usize>;

fn bench_onset(c: &mut Criterion) {
    let mut impls: Vec<(&'static str, OnsetFn)> = vec![
        ("naive", Box::new(onset::naive)),
        ("scalar", Box::new(onset::scalar::gate)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use onset::x86_64::*;
        if let Some(k) = avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |v, t, o| k.gate(v, t, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            impls.push(("avx512", Box::new(move |v, t, o| k.gate(v, t, o))));
        }
    }
    let mut g = c.benchmark_group("onset");
    for &n in SIZES {
        let v: Vec<u8> = bytes(n, 7).iter().map(|b| b % 128).collect();
        let mut out = vec![0u32; n];
        g.throughput(Throughput::Bytes(n as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, n), &n, |b, _| {
                b.iter(|| f(black_box(&v), 96, &mut out))
            });
        }
    }
    g.finish();
}

fn bench_cigar(c: &mut Criterion) {
    // 10,000 typical short-read CIGARs (1–5 ops).
    let mut raw = Vec::new();
    let mut offsets = vec![0usize];
    for (i, b) in bytes(10_000, 8).iter().enumerate() {
        let ops = 1 + (*b as usize % 5);
        for k in 0..ops {
            let len = 1 + ((i * 31 + k * 17) % 150) as u32;
            raw.extend_from_slice(&(len << 4 | [0u32, 4, 1, 2, 0][k]).to_le_bytes());
        }
        offsets.push(raw.len());
    }
    let mut out = vec![0u8; 5 * cigar::MAX_TEXT_PER_OP];
    let mut g = c.benchmark_group("cigar_10k_records");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("naive_format", |b| {
        b.iter(|| {
            for w in offsets.windows(2) {
                black_box(cigar::naive(&raw[w[0]..w[1]]));
            }
        })
    });
    g.bench_function("scalar", |b| {
        b.iter(|| {
            for w in offsets.windows(2) {
                black_box(cigar::to_text(&raw[w[0]..w[1]], &mut out));
            }
        })
    });
    g.finish();
}

type CstrFn = Box<dyn Fn(&[u8], &mut [u8]) -> Option<cstr::Copied>>;

fn bench_cstr(c: &mut Criterion) {
    let mut impls: Vec<(&'static str, CstrFn)> = vec![
        ("naive", Box::new(cstr::naive)),
        ("scalar", Box::new(cstr::scalar::copy)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        use cstr::x86_64::*;
        if let Some(k) = avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |s, o| k.copy(s, o))));
        }
        if let Some(k) = avx512::Avx512::new() {
            impls.push(("avx512", Box::new(move |s, o| k.copy(s, o))));
        }
    }
    // Aux string lengths of short-read BAMs: read-group and program ids (~16 bytes), original
    // qualities (`OQ`, 151 bytes).
    let mut g = c.benchmark_group("cstr");
    for n in [16usize, 151] {
        let mut s: Vec<u8> = bytes(n, 12).iter().map(|b| 33 + b % 90).collect();
        s.extend_from_slice(&[0, b'N', b'M', b'i', 0]);
        let mut out = vec![0u8; n + 64];
        g.throughput(Throughput::Bytes(n as u64));
        for (name, f) in &impls {
            g.bench_with_input(BenchmarkId::new(*name, n), &n, |b, _| {
                b.iter(|| f(black_box(&s), &mut out))
            });
        }
    }
    g.finish();
}

#[path = "../kernels/tests/common/rans_encode.rs"]
mod rans_encode;

/// rANS decoders on real qualities (htscodecs' `q4` test data, 151 kB of Illumina quality
/// lines, repeated 8 times): Nx16 order 0 and 1 with 32 and 4 states (encoded by the tests'
/// encoder) and 4x8 order 0 and 1 (htscodecs' own streams of one copy), at every level.
fn bench_rans(c: &mut Criterion) {
    use rawarrow_kernels::cpu::Level;
    use rawarrow_kernels::rans::{nx16, r4x8, Scratch};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels/tests/data/rans");
    let gz = std::fs::read(dir.join("q4.expected.gz")).expect("q4 test data");
    let mut q4 = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut q4).expect("gzip");
    let data = q4.repeat(8);
    let mut levels: Vec<Scratch> = Vec::new();
    for l in [Level::Scalar, Level::Avx2, Level::Avx512F] {
        let s = Scratch::with_level(l);
        if levels.iter().all(|o| o.level() != s.level()) {
            levels.push(s);
        }
    }
    let mut g = c.benchmark_group("rans");
    g.throughput(Throughput::Bytes(data.len() as u64));
    let mut out = vec![0u8; data.len()];
    for (name, order, x32) in [
        ("nx16_o0_x32", 0, true),
        ("nx16_o1_x32", 1, true),
        ("nx16_o0_x4", 0, false),
        ("nx16_o1_x4", 1, false),
    ] {
        let stream = rans_encode::encode(&data, order, x32, 12);
        for s in &mut levels {
            if !x32 && s.level() != Level::Scalar {
                continue;
            }
            nx16::decode(&stream, &mut out, s).expect("decodes");
            assert!(out == data);
            g.bench_function(BenchmarkId::new(name, s.level().name()), |b| {
                b.iter(|| nx16::decode(black_box(&stream), &mut out, s))
            });
        }
    }
    g.throughput(Throughput::Bytes(q4.len() as u64));
    let mut out = vec![0u8; q4.len()];
    for order in ["0", "1"] {
        let stream = std::fs::read(dir.join(format!("r4x8/q4.{order}"))).expect("q4 stream");
        let s = &mut levels[0];
        r4x8::decode(&stream, &mut out, s).expect("decodes");
        assert!(out == q4);
        g.bench_function(BenchmarkId::new(format!("r4x8_o{order}"), "scalar"), |b| {
            b.iter(|| r4x8::decode(black_box(&stream), &mut out, s))
        });
    }
    g.finish();
}

/// MD5 of sixteen 1 MiB messages (as many slices' reference spans), at every level, and the
/// md-5 crate (the one-message code rawarrow used before) for comparison.
fn bench_md5(c: &mut Criterion) {
    use md5::Digest;
    use rawarrow_kernels::md5 as k;
    type Many = Box<dyn Fn(&[&[u8]], &mut [[u8; 16]])>;
    let data = bytes(16 << 20, 5);
    let msgs: Vec<&[u8]> = data.chunks(1 << 20).collect();
    let mut out = vec![[0u8; 16]; msgs.len()];
    let mut impls: Vec<(&str, Many)> = vec![
        (
            "md-5_crate",
            Box::new(|m: &[&[u8]], o: &mut [[u8; 16]]| {
                for (d, m) in o.iter_mut().zip(m) {
                    *d = md5::Md5::digest(m).into();
                }
            }),
        ),
        ("scalar", Box::new(k::scalar::digest_many)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(t) = k::x86_64::avx2::Avx2::new() {
            impls.push(("avx2", Box::new(move |m, o| t.digest_many(m, o))));
        }
        if let Some(t) = k::x86_64::avx512::Avx512::new() {
            impls.push(("avx512", Box::new(move |m, o| t.digest_many(m, o))));
        }
    }
    let mut g = c.benchmark_group("md5");
    g.throughput(Throughput::Bytes(data.len() as u64));
    for (name, imp) in &impls {
        g.bench_function(BenchmarkId::new("16x1MiB", name), |b| {
            b.iter(|| imp(black_box(&msgs), &mut out))
        });
    }
    g.finish();
}

mod harness {
    #![allow(missing_docs)]
    use super::*;
    criterion::criterion_group!(
        benches,
        bench_seq,
        bench_qual,
        bench_unshuffle,
        bench_pairs,
        bench_delta,
        bench_runs,
        bench_calib,
        bench_onset,
        bench_cigar,
        bench_cstr,
        bench_rans,
        bench_md5
    );
}
criterion::criterion_main!(harness::benches);
