//! BGZF engine: equality with independent decoders, corruption handling, split points.

mod common;

use std::io::{BufRead, Read, Write};
use std::sync::Arc;

use proptest::prelude::*;
use rawarrow::bgzf::{self, ChunkReader, ErrorKind, Options, Reader};
use rawarrow::io::Input;

fn ours(input: Input, opts: Options) -> Result<Vec<u8>, bgzf::Error> {
    let mut out = Vec::new();
    let mut chunks = ChunkReader::new(input, opts);
    let mut expect_index = 0;
    let mut expect_block = 0;
    while let Some(c) = chunks.next() {
        // The BGZF error under the crate's error (whose kind and offset are checked elsewhere).
        let c = c.map_err(|e| e.cause::<bgzf::Error>().expect("a BGZF error").clone())?;
        assert_eq!(c.index(), expect_index, "chunks arrive in order");
        assert_eq!(
            c.block_range().start,
            expect_block,
            "no block lost or repeated"
        );
        expect_index += 1;
        expect_block = c.block_range().end;
        out.extend_from_slice(c.data());
        chunks.recycle(c);
    }
    Ok(out)
}

fn read_bytes(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

#[test]
fn real_files_equal_flate2_at_every_thread_count_and_chunk_size() {
    for path in common::all_bams() {
        let bytes = read_bytes(&path);
        let expect = common::oracle_decompress(&bytes);
        for threads in [1, 2, 3] {
            for chunk in [1, 100_000, 512 * 1024] {
                let opts = Options::default().threads(threads).chunk_bytes(chunk);
                let got = ours(Input::open(&path).expect("open"), opts).expect("valid file");
                assert!(
                    got == expect,
                    "{} t={threads} chunk={chunk}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn reader_implements_read_and_bufread() {
    let path = common::sample_bam();
    let expect = common::oracle_decompress(&read_bytes(&path));
    for threads in [1, 2] {
        let opts = Options::default().threads(threads).chunk_bytes(70_000);
        let mut r = Reader::new(Input::open(&path).expect("open"), opts);
        // Odd-sized reads straddle chunk boundaries.
        let mut got = Vec::new();
        let mut buf = [0u8; 4097];
        loop {
            let n = r.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == expect, "threads {threads}");
        assert_eq!(r.chunks().eof_marker(), Some(true));

        let mut r = Reader::new(
            Input::open(&path).expect("open"),
            Options::default().threads(threads),
        );
        let mut lines = 0usize;
        let mut line = Vec::new();
        while r.read_until(b'\n', &mut line).expect("read_until") > 0 {
            lines += 1;
            line.clear();
        }
        assert_eq!(
            lines,
            expect.iter().filter(|&&b| b == b'\n').count() + usize::from(!expect.ends_with(b"\n"))
        );
    }
}

#[test]
fn chunks_report_compressed_ranges_and_virtual_offsets() {
    let path = common::sample_bam();
    let bytes = read_bytes(&path);
    let index = bgzf::scan(&bytes).expect("valid");
    let opts = Options::default().threads(2).chunk_bytes(150_000);
    let mut prev_end = 0;
    for c in ChunkReader::new(Input::open(&path).expect("open"), opts) {
        let c = c.expect("valid");
        let r = c.compressed_range();
        assert_eq!(r.start, prev_end);
        prev_end = r.end;
        let blocks = &index.blocks[c.block_range().start as usize..c.block_range().end as usize];
        assert_eq!(c.blocks(), blocks);
        // Byte k of block b has virtual offset b.offset << 16 | k.
        let mut at = 0usize;
        for b in blocks {
            if b.isize > 0 {
                assert_eq!(u64::from(c.virtual_offset(at)), b.offset << 16);
                let last = at + b.isize as usize - 1;
                assert_eq!(
                    u64::from(c.virtual_offset(last)),
                    b.offset << 16 | u64::from(b.isize - 1)
                );
            }
            at += b.isize as usize;
        }
        assert_eq!(u64::from(c.virtual_offset(at)), r.end << 16);
    }
    assert_eq!(prev_end, bytes.len() as u64);
}

#[test]
fn start_mid_file_from_a_discovered_split_point() {
    let path = common::sample_bam();
    let bytes = read_bytes(&path);
    let index = bgzf::scan(&bytes).expect("valid");
    let whole = common::oracle_decompress(&bytes);
    for from in [1u64, 5000, bytes.len() as u64 / 2, bytes.len() as u64 - 40] {
        let start = bgzf::find_block_start(&bytes, from).expect("a block follows");
        let k = index
            .blocks
            .iter()
            .position(|b| b.offset == start)
            .expect("true block start");
        let skip: usize = index.blocks[..k].iter().map(|b| b.isize as usize).sum();
        let input = Arc::new(Input::open(&path).expect("open"));
        let mut got = Vec::new();
        for c in ChunkReader::range(input, start, u64::MAX, Options::default().threads(2)) {
            got.extend_from_slice(c.expect("valid").data());
        }
        assert!(got == whole[skip..], "from {from}");
    }
}

/// For every byte offset of real files, the split point equals the next block of the sequential
/// index: never a false block start, never a missed one.
#[test]
fn split_point_at_every_byte_offset_of_real_files() {
    let mut files = vec![common::sample_bam()];
    files.extend(common::corpus_bams());
    for path in files {
        let bytes = read_bytes(&path);
        if bytes.len() > 2_000_000 {
            // Large corpus file: every offset of its first 1 MB and last 200 kB.
            check_split_points(
                &path,
                &bytes,
                (0..1_000_000).chain(bytes.len() - 200_000..=bytes.len()),
            );
        } else {
            check_split_points(&path, &bytes, 0..=bytes.len());
        }
    }
}

/// BGZF files stored uncompressed inside BGZF files: their compressed bytes are full of
/// verbatim, correctly linked gzip headers that are not block starts.
#[test]
fn split_point_never_falls_for_nested_bgzf() {
    // Large inner blocks (a real BAM) and tiny inner blocks (hundreds per outer block).
    let sample = read_bytes(&common::sample_bam());
    let tiny_data: Vec<u8> = (0..120_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cuts: Vec<usize> = (0..tiny_data.len()).step_by(150).collect();
    let tiny_inner = common::flate2_bgzf(&tiny_data, &cuts, 1);
    assert!(bgzf::scan(&tiny_inner).expect("valid").blocks.len() > 700);
    for (name, inner) in [
        ("nested sample", &sample),
        ("nested tiny blocks", &tiny_inner),
    ] {
        let outer = common::flate2_bgzf(inner, &[], 0);
        let fakes = memchr::memmem::find_iter(&outer, &[0x1f, 0x8b, 0x08]).count();
        let real = bgzf::scan(&outer).expect("valid").blocks.len();
        assert!(
            fakes > real + 10,
            "{name}: the test file must contain fake headers"
        );
        assert_eq!(common::oracle_decompress(&outer), *inner);
        check_split_points(std::path::Path::new(name), &outer, 0..=outer.len());
    }
}

fn check_split_points(path: &std::path::Path, bytes: &[u8], offsets: impl Iterator<Item = usize>) {
    let index = bgzf::scan(bytes).expect("valid");
    let starts: Vec<u64> = index.blocks.iter().map(|b| b.offset).collect();
    let mut next = 0usize;
    for off in offsets {
        let off = off as u64;
        while next < starts.len() && starts[next] < off {
            next += 1;
        }
        let expect = starts.get(next).copied();
        assert_eq!(
            bgzf::find_block_start(bytes, off),
            expect,
            "{} offset {off}",
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Corruption: each error, at the right offset, at 1 and 2 threads, never a panic.

struct Corrupt {
    bytes: Vec<u8>,
    offset: u64,
}

fn sample_bytes() -> (Vec<u8>, bgzf::BlockIndex) {
    let bytes = read_bytes(&common::sample_bam());
    let index = bgzf::scan(&bytes).expect("valid");
    assert!(index.blocks.len() > 8, "sample has enough blocks");
    (bytes, index)
}

fn expect_error(c: &Corrupt, check: impl Fn(&ErrorKind) -> bool) {
    for threads in [1, 2] {
        let input = Input::from_bytes("corrupt.bam", c.bytes.clone());
        let err = ours(
            input,
            Options::default().threads(threads).chunk_bytes(100_000),
        )
        .expect_err("corruption detected");
        assert!(check(err.kind()), "t={threads}: unexpected {err}");
        assert_eq!(err.offset(), c.offset, "t={threads}: {err}");
        assert!(err.to_string().contains("corrupt.bam"), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("compressed offset {}", c.offset)),
            "{err}"
        );
    }
}

#[test]
fn flipped_crc_byte() {
    let (mut bytes, index) = sample_bytes();
    let b = index.blocks[5];
    bytes[(b.end() - 8) as usize] ^= 0x40;
    expect_error(
        &Corrupt {
            bytes,
            offset: b.offset,
        },
        |k| matches!(k, ErrorKind::CrcMismatch { .. }),
    );
}

#[test]
fn corrupt_deflate_data() {
    let (mut bytes, index) = sample_bytes();
    let b = index.blocks[3];
    // Overwrite the middle of the deflate stream: an inflate error or, rarely, a CRC error.
    let mid = (b.offset + u64::from(b.size) / 2) as usize;
    bytes[mid..mid + 64].fill(0xff);
    expect_error(
        &Corrupt {
            bytes,
            offset: b.offset,
        },
        |k| {
            matches!(
                k,
                ErrorKind::Inflate | ErrorKind::CrcMismatch { .. } | ErrorKind::BlockTooLarge
            )
        },
    );
}

#[test]
fn file_cut_inside_a_block() {
    let (bytes, index) = sample_bytes();
    let b = index.blocks[7];
    for cut in [
        b.offset + 1,
        b.offset + 10,
        b.offset + 17,
        b.offset + 100,
        b.end() - 1,
    ] {
        let c = Corrupt {
            bytes: bytes[..cut as usize].to_vec(),
            offset: b.offset,
        };
        expect_error(&c, |k| matches!(k, ErrorKind::Truncated { .. }));
    }
}

#[test]
fn block_size_below_minimum() {
    let (bytes, index) = sample_bytes();
    let b = index.blocks[2];
    for bsize in [0u16, 10, 24, 25] {
        let mut bytes = bytes.clone();
        let at = b.offset as usize + 16;
        bytes[at..at + 2].copy_from_slice(&bsize.to_le_bytes());
        let c = Corrupt {
            bytes,
            offset: b.offset,
        };
        expect_error(&c, |k| {
            *k == ErrorKind::BadBlockSize {
                size: u32::from(bsize) + 1,
            }
        });
    }
}

/// ISIZE that disagrees with the data, or exceeds 64 KiB: htslib ignores it (the CRC32 still
/// guards the data), so the data is read, the block records its true length, and a warning
/// names the first such block.
#[test]
fn wrong_isize_is_ignored_as_htslib_does() {
    let (bytes, index) = sample_bytes();
    let expect = common::oracle_decompress(&bytes);
    let b = index.blocks[4];
    let at = (b.end() - 4) as usize;
    for stated in [b.isize - 1, b.isize + 1, 70_000, 0] {
        let mut bad = bytes.clone();
        bad[at..at + 4].copy_from_slice(&stated.to_le_bytes());
        for threads in [1, 2] {
            let opts = Options::default().threads(threads).chunk_bytes(100_000);
            let mut chunks = ChunkReader::new(Input::from_bytes("isize.bam", bad.clone()), opts);
            let mut got = Vec::new();
            let mut sizes = Vec::new();
            while let Some(c) = chunks.next() {
                let c = c.expect("read as htslib reads it");
                got.extend_from_slice(c.data());
                sizes.extend(c.blocks().iter().map(|b| b.isize));
                chunks.recycle(c);
            }
            assert!(got == expect, "ISIZE {stated} t={threads}");
            let truth: Vec<u32> = index.blocks.iter().map(|b| b.isize).collect();
            assert_eq!(sizes, truth, "blocks record their inflated length");
            let w = chunks.take_warnings();
            assert_eq!(w.len(), 1, "{w:?}");
            let want = format!(
                "compressed offset {} (ISIZE {stated}, inflated {})",
                b.offset, b.isize
            );
            assert!(w[0].contains("isize.bam") && w[0].contains(&want), "{w:?}");
        }
    }
    // A block that inflates past 64 KiB is an error (htslib's buffer is 64 KiB too).
    let big = vec![b'a'; 70_000];
    let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
    let mut deflated = vec![0u8; 1 << 17];
    let n = c.deflate_compress(&big, &mut deflated).expect("fits");
    let mut block = vec![
        0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0, 0, 0,
    ];
    block.extend_from_slice(&deflated[..n]);
    block.extend_from_slice(&libdeflater::crc32(&big).to_le_bytes());
    block.extend_from_slice(&(big.len() as u32).to_le_bytes());
    let bsize = (block.len() - 1) as u16;
    block[16..18].copy_from_slice(&bsize.to_le_bytes());
    expect_error(
        &Corrupt {
            bytes: block,
            offset: 0,
        },
        |k| *k == ErrorKind::BlockTooLarge,
    );
}

/// Header fields htslib does not look at: reserved FLG bits are read as any block.
#[test]
fn reserved_flag_bits_are_ignored() {
    let (mut bytes, index) = sample_bytes();
    let expect = common::oracle_decompress(&bytes);
    for b in &index.blocks[2..5] {
        bytes[b.offset as usize + 3] |= 0xe0;
    }
    for threads in [1, 2] {
        let opts = Options::default().threads(threads).chunk_bytes(100_000);
        let got = ours(Input::from_bytes("flg.bam", bytes.clone()), opts).expect("read");
        assert!(got == expect, "t={threads}");
    }
    // Split discovery trusts only strict headers: it skips those blocks.
    assert_eq!(
        bgzf::find_block_start(&bytes, index.blocks[2].offset),
        Some(index.blocks[5].offset)
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// Gzip members that are not BGZF (plain gzip, a `BC` subfield of another length, subfields
/// that run past XLEN) are inflated sequentially, as htslib reads them, with a warning; before,
/// between and after them BGZF blocks are inflated in parallel as usual. Block-level APIs
/// refuse them.
#[test]
fn plain_gzip_members_are_read_sequentially() {
    let (bytes, index) = sample_bytes();
    let plain = common::oracle_decompress(&bytes);
    let whole = gzip(&plain);
    // BGZF blocks 0..3, block 3's data as a plain gzip member, the rest BGZF again.
    let b3 = index.blocks[3];
    let (before, after) = (b3.offset as usize, b3.end() as usize);
    let start3: usize = index.blocks[..3].iter().map(|b| b.isize as usize).sum();
    let mut mixed = bytes[..before].to_vec();
    mixed.extend_from_slice(&gzip(&plain[start3..start3 + b3.isize as usize]));
    mixed.extend_from_slice(&bytes[after..]);
    // Block 3 with its BC subfield claiming 3 bytes (past XLEN): gzip readers skip the extra
    // field whole.
    let mut slen = bytes.clone();
    slen[before + 14] = 3;
    // A plain gzip member after the EOF marker (files concatenated).
    let mut appended = bytes.clone();
    appended.extend_from_slice(&gzip(b"more"));
    let mut expect_appended = plain.clone();
    expect_appended.extend_from_slice(b"more");
    for (name, file, expect, first) in [
        ("whole", &whole, &plain, 0),
        ("mixed", &mixed, &plain, b3.offset),
        ("slen", &slen, &plain, b3.offset),
        ("appended", &appended, &expect_appended, bytes.len() as u64),
    ] {
        for threads in [1, 2] {
            for chunk in [1, 100_000] {
                let opts = Options::default().threads(threads).chunk_bytes(chunk);
                let mut chunks = ChunkReader::new(Input::from_bytes("m.gz", file.clone()), opts);
                let mut got = Vec::new();
                let mut members = 0;
                while let Some(c) = chunks.next() {
                    let c = c.expect("read");
                    got.extend_from_slice(c.data());
                    members += usize::from(c.blocks().is_empty()); // a plain gzip member's chunk
                    chunks.recycle(c);
                }
                assert!(&got == expect, "{name} t={threads} chunk={chunk}");
                assert!(members > 0, "{name}");
                let w = chunks.take_warnings();
                assert!(
                    w.len() == 1
                        && w[0].contains(&format!("the first at compressed offset {first},")),
                    "{name}: {w:?}"
                );
                // The file ends in BGZF's EOF marker only where BGZF comes last.
                let marker = (name != "whole" && name != "appended").then_some(true);
                assert_eq!(chunks.eof_marker(), marker, "{name}");
            }
        }
        assert_eq!(
            bgzf::scan(file).expect_err("not all BGZF").kind(),
            &ErrorKind::NotBgzf,
            "{name}"
        );
    }
    // Ranges (index chunks, splits) address blocks: a plain member there is an error.
    let r = ChunkReader::range(
        Input::from_bytes("m.gz", mixed.clone()),
        0,
        mixed.len() as u64,
        Options::default().threads(1),
    );
    let e = r.filter_map(Result::err).next().expect("refused");
    assert_eq!(
        (e.kind(), e.location()),
        (
            rawarrow::ErrorKind::Format,
            rawarrow::Location::Offset(b3.offset)
        )
    );
    let e = e.cause::<bgzf::Error>().expect("a BGZF error");
    assert_eq!((e.kind(), e.offset()), (&ErrorKind::NotBgzf, b3.offset));
    // A damaged or truncated plain member is an error at its offset.
    let mut damaged = whole.clone();
    let n = damaged.len();
    damaged[n - 6] ^= 1; // the CRC32
    let cut = whole[..whole.len() / 2].to_vec();
    for (file, what) in [(damaged, "crc"), (cut, "truncated")] {
        expect_error(
            &Corrupt {
                bytes: file,
                offset: 0,
            },
            |k| matches!(k, ErrorKind::Gzip { reason } if reason.to_lowercase().contains(what) || what == "crc"),
        );
    }
    // Not gzip at all is still an error.
    expect_error(
        &Corrupt {
            bytes: plain[..1000].to_vec(),
            offset: 0,
        },
        |k| matches!(k, ErrorKind::BadMagic { .. }),
    );
}

#[test]
fn garbage_after_the_eof_marker() {
    let (mut bytes, _) = sample_bytes();
    let end = bytes.len() as u64;
    let garbage = b"\x1f\x8b but not a block at all";
    bytes.extend_from_slice(garbage);
    let len = garbage.len() as u64;
    expect_error(&Corrupt { bytes, offset: end }, |k| {
        *k == ErrorKind::TrailingBytes { len }
    });
}

#[test]
fn bad_magic_in_the_middle() {
    let (mut bytes, index) = sample_bytes();
    let b = index.blocks[6];
    bytes[b.offset as usize] = b'X';
    expect_error(
        &Corrupt {
            bytes,
            offset: b.offset,
        },
        |k| matches!(k, ErrorKind::BadMagic { .. }),
    );
}

#[test]
fn chunks_before_an_error_are_delivered_in_order() {
    let (mut bytes, index) = sample_bytes();
    let bad = index.blocks[9];
    bytes[(bad.end() - 7) as usize] ^= 1; // CRC of block 9
    let expect: usize = index.blocks[..9].iter().map(|b| b.isize as usize).sum();
    for threads in [1, 2, 4] {
        let opts = Options::default().threads(threads).chunk_bytes(1);
        let mut got = 0usize;
        let mut err = None;
        for c in ChunkReader::new(Input::from_bytes("x", bytes.clone()), opts) {
            match c {
                Ok(c) => got += c.data().len(),
                Err(e) => err = Some(e),
            }
        }
        assert_eq!(got, expect, "t={threads}");
        assert_eq!(err.expect("error reported").offset(), Some(bad.offset));
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests: BGZF written by independent writers.

fn noodles_bgzf(data: &[u8]) -> Vec<u8> {
    let mut w = noodles_bgzf::io::Writer::new(Vec::new());
    w.write_all(data).expect("write");
    w.finish().expect("finish")
}

fn data_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200_000),
        // Compressible text-like data, several blocks long.
        (1usize..400_000, any::<u8>()).prop_map(|(n, seed)| {
            (0..n)
                .map(|i| b"ACGTN\t\n"[(i * 7 + usize::from(seed) + i / 13) % 7])
                .collect()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn noodles_written_bgzf_roundtrips(data in data_strategy(), threads in 1usize..4, chunk in 1usize..300_000) {
        let file = noodles_bgzf(&data);
        let got = ours(Input::from_bytes("p", file.clone()), Options::default().threads(threads).chunk_bytes(chunk));
        prop_assert!(got.expect("valid") == data);
        let idx = bgzf::scan(&file).expect("valid");
        prop_assert!(idx.eof_marker);
        prop_assert_eq!(idx.uncompressed_bytes(), data.len() as u64);
    }

    #[test]
    fn flate2_blocks_of_any_size_roundtrip(data in data_strategy(), cuts in proptest::collection::vec(any::<usize>(), 0..20), threads in 1usize..4) {
        let file = common::flate2_bgzf(&data, &cuts, 1);
        let got = ours(Input::from_bytes("p", file.clone()), Options::default().threads(threads).chunk_bytes(50_000));
        prop_assert!(got.expect("valid") == data);
        // Split points over a sample of offsets equal the sequential index.
        let starts: Vec<u64> = bgzf::scan(&file).expect("valid").blocks.iter().map(|b| b.offset).collect();
        for off in (0..=file.len() as u64).step_by(97) {
            prop_assert_eq!(bgzf::find_block_start(&file, off), starts.iter().copied().find(|&s| s >= off));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), threads in 1usize..3) {
        let _ = ours(Input::from_bytes("fuzz", bytes.clone()), Options::default().threads(threads));
        let _ = bgzf::find_block_start(&bytes, 0);
        let _ = bgzf::scan(&bytes);
    }
}
