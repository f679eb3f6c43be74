//! MIDI parsing in memory, per file: midly (events into vectors, no pairing, no timing) vs
//! rawarrow's parser (events + FIFO note pairing) and full analysis (plus tempo map, seconds,
//!
//! onsets and tempo estimate); and the whole `Reader` in process at 1 and 2 threads.
//!
//! Input: every MIDI file under `$RAWARROW_BENCH_MIDI`, else `$RAWARROW_CORPUS/midi`, else the
//! fuzz seeds (the per-file group uses the first 2,000). Run: `cargo bench --bench midi`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use rawarrow::midi::Parser;

fn input_paths() -> Vec<PathBuf> {
    let dir = std::env::var_os("RAWARROW_BENCH_MIDI")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("RAWARROW_CORPUS").map(|c| PathBuf::from(c).join("midi")))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/midi"));
    rawarrow::midi::list_inputs(&[dir]).expect("benchmark input")
}

fn bench(c: &mut Criterion) {
    let paths = input_paths();
    // The whole reader in process (open + mmap, parse, analyze, Arrow batches, files table), as
    // symusic is measured in process: files/s at 1 and 2 pinned threads.
    let mut g = c.benchmark_group("midi_reader_files");
    g.throughput(Throughput::Elements(paths.len() as u64));
    g.sample_size(10);
    for threads in [1, 2] {
        g.bench_function(format!("rawarrow_reader_t{threads}"), |b| {
            b.iter(|| {
                let mut reader = rawarrow::midi::Reader::builder()
                    .threads(threads)
                    .build_paths(paths.clone())
                    .expect("reader");
                let mut notes = 0;
                while let Some(batch) = reader.next_batch().expect("batch") {
                    notes += batch.num_rows();
                }
                black_box((notes, reader.files().num_rows()))
            })
        });
    }
    g.finish();

    let files: Vec<Vec<u8>> = paths
        .iter()
        .take(2000)
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let mut g = c.benchmark_group("midi_parse_per_file");
    g.throughput(Throughput::Elements(files.len() as u64));
    g.bench_function("midly_parse", |b| {
        b.iter(|| {
            for f in &files {
                let smf = midly::Smf::parse(f).expect("midly parses");
                black_box(smf.tracks.len());
            }
        })
    });
    let mut parser = Parser::new();
    g.bench_function("rawarrow_parse_and_pair", |b| {
        b.iter(|| {
            for f in &files {
                parser.parse(f).expect("parses");
                black_box(parser.notes().len());
            }
        })
    });
    g.bench_function("rawarrow_analyze", |b| {
        b.iter(|| {
            for f in &files {
                let song = rawarrow::midi::parse(f).expect("parses");
                black_box((song.tempo_bpm_estimate, song.notes.len()));
            }
        })
    });
    g.finish();
}

mod harness {
    #![allow(missing_docs)]
    use super::*;
    criterion::criterion_group!(benches, bench);
}
criterion::criterion_main!(harness::benches);
