//! BGZF benchmarks: scanning, and inflating a whole file with rawarrow (1 and 2 threads) against a
//! plain sequential libdeflate loop and noodles-bgzf (single and multithreaded), in one group.
//!
//! Input: `$RAWARROW_BENCH_BAM` when set (e.g. a 300 MB `samtools cat` of the corpus), otherwise
//! the sample that ships in `tests/data/`. Run: `cargo bench --bench bgzf`.

use std::hint::black_box;
use std::io::Read;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rawarrow::bgzf::{self, ChunkReader, Options};
use rawarrow::io::Input;

fn input_path() -> PathBuf {
    std::env::var_os("RAWARROW_BENCH_BAM").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.bam"),
        PathBuf::from,
    )
}

/// The baseline: scan headers and inflate every block, one after another, into one buffer.
fn sequential_libdeflate(file: &[u8], out: &mut [u8]) -> usize {
    let mut inflater = libdeflater::Decompressor::new();
    let mut at = 0;
    for block in bgzf::scan(file).expect("valid file").blocks {
        let n = block.isize as usize;
        // The raw DEFLATE data: after the block's header, before its CRC32 and ISIZE.
        let data =
            &file[(block.offset + u64::from(block.header_len)) as usize..block.end() as usize - 8];
        let got = inflater
            .deflate_decompress(data, &mut out[at..at + n])
            .expect("valid block");
        assert_eq!(got, n, "ISIZE");
        at += n;
    }
    at
}

fn ours(input: &Arc<Input>, threads: usize) -> usize {
    let mut chunks = ChunkReader::new(input.clone(), Options::default().threads(threads));
    let mut total = 0;
    while let Some(c) = chunks.next() {
        let c = c.expect("valid file");
        total += black_box(c.data()).len();
        chunks.recycle(c);
    }
    total
}

fn drain(mut r: impl Read) -> usize {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).expect("valid file");
        if n == 0 {
            return total;
        }
        total += n;
    }
}

/// The mapped file as an owned, shareable byte source (noodles' multithreaded reader needs
/// `'static` input).
struct Shared(Arc<Input>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.bytes()
    }
}

fn bench_inflate(c: &mut Criterion) {
    let path = input_path();
    let input = Arc::new(Input::open(&path).expect("benchmark input"));
    let file = input.bytes();
    let index = bgzf::scan(file).expect("valid file");
    let total = index.uncompressed_bytes() as usize;

    let mut g = c.benchmark_group("bgzf_scan");
    g.throughput(Throughput::Bytes(file.len() as u64));
    g.bench_function("scan_headers", |b| {
        b.iter(|| bgzf::scan(black_box(file)).expect("valid"))
    });
    g.finish();

    let mut g = c.benchmark_group("bgzf_inflate");
    g.throughput(Throughput::Bytes(total as u64));
    g.sample_size(10);
    let mut out = vec![0u8; total];
    g.bench_function("libdeflate_sequential_loop", |b| {
        b.iter(|| assert_eq!(sequential_libdeflate(file, &mut out), total))
    });
    for threads in [1, 2] {
        g.bench_function(format!("rawarrow_t{threads}"), |b| {
            b.iter(|| assert_eq!(ours(&input, threads), total))
        });
    }
    g.bench_function("noodles_bgzf_reader", |b| {
        b.iter(|| assert_eq!(drain(noodles_bgzf::io::Reader::new(file)), total))
    });
    let two = NonZeroUsize::new(2).expect("non-zero");
    g.bench_function("noodles_bgzf_multithreaded_t2", |b| {
        b.iter(|| {
            let src = std::io::Cursor::new(Shared(input.clone()));
            let reader = noodles_bgzf::io::MultithreadedReader::with_worker_count(two, src);
            assert_eq!(drain(reader), total)
        })
    });
    g.finish();
}

mod harness {
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, bench_inflate);
}
criterion_main!(harness::benches);
