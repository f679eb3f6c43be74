//! Byte-range splits of BAM files (`ReaderBuilder::byte_range`, `bam::split_start`): the splits
//! of a partition of the file give every record once, in order, for every split size; the
//! first record of a split is found at every byte offset, never a false start — also in files
//! whose compressed bytes are full of fake BGZF headers and whose records are larger than a
//! block.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use rawarrow::bam::{split_start, Reader, Records};
use rawarrow::bgzf::{self, Options};
use rawarrow::io::Input;

/// Every record's virtual position (packed: the tests shift by hand, independently of
/// `bgzf::VirtualPosition`), read sequentially.
fn record_voffsets(input: Input) -> Vec<u64> {
    let mut records = Records::new(input, Options::default().threads(1)).expect("header");
    let mut out = Vec::new();
    while records
        .next_chunk(|_, at| {
            out.push(u64::from(at.voffset));
            Ok(true)
        })
        .expect("valid records")
    {}
    out
}

fn whole(input: &Arc<Input>) -> (RecordBatch, Arc<arrow_array::StringArray>) {
    let reader = Reader::builder()
        .threads(1)
        .tags(&["NM", "XB:B"])
        .expect("tags")
        .build(input.clone())
        .expect("opens");
    let dict = reader.dictionary();
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("valid")).collect();
    (
        arrow_select::concat::concat_batches(&schema, &batches).expect("one schema"),
        dict,
    )
}

/// Reads `[0, len)` as splits of `size` bytes and checks their concatenation equals the whole.
fn check_partition(name: &str, input: &Arc<Input>, size: u64, threads: usize) {
    let (expected, dict) = whole(input);
    let len = input.len() as u64;
    let mut batches = Vec::new();
    let mut splits = 0;
    for start in (0..len).step_by(size as usize) {
        let reader = Reader::builder()
            .threads(threads)
            .batch_rows(777)
            .tags(&["NM", "XB:B"])
            .expect("tags")
            .dictionary(dict.clone())
            .byte_range(start, start + size)
            .build(input.clone())
            .expect("a split opens");
        assert_eq!(
            arrow_array::RecordBatchReader::schema(&reader),
            expected.schema(),
            "{name}: every split has the file's schema"
        );
        batches.extend(reader.map(|b| b.expect("valid split")));
        splits += 1;
    }
    let got = arrow_select::concat::concat_batches(&expected.schema(), &batches).expect("concat");
    assert_eq!(
        got.num_rows(),
        expected.num_rows(),
        "{name}: {splits} splits of {size} bytes"
    );
    assert!(
        got == expected,
        "{name}: splits of {size} bytes differ from the whole file"
    );
}

/// For every offset (or block start plus the offsets around it), the first record of the split
/// starting there is the first record in a block at or after it.
fn check_split_starts(name: &str, bytes: &[u8], voffsets: &[u64], every_offset: bool) {
    let blocks: Vec<u64> = bgzf::scan(bytes)
        .expect("valid BGZF")
        .blocks
        .iter()
        .map(|b| b.offset)
        .collect();
    let expected = |off: u64| voffsets.iter().copied().find(|v| v >> 16 >= off);
    let mut by_block: HashMap<Option<u64>, Option<u64>> = HashMap::new();
    let offsets: Box<dyn Iterator<Item = u64>> = if every_offset {
        Box::new(0..=bytes.len() as u64)
    } else {
        Box::new(
            blocks
                .iter()
                .flat_map(|&b| [b.saturating_sub(1), b, b + 1, b + 7919])
                .chain([bytes.len() as u64]),
        )
    };
    let mut checked = 0;
    for off in offsets {
        // The answer depends on the first block start at or after `off` only (that function
        // is tested at every offset in tests/bgzf.rs); compute it once per block.
        let block = bgzf::find_block_start(bytes, off);
        let got = *by_block.entry(block).or_insert_with(|| {
            split_start(bytes, off, u64::MAX)
                .expect("header")
                .map(u64::from)
        });
        assert_eq!(got, expected(off), "{name}: split starting at byte {off}");
        checked += 1;
    }
    assert!(checked > blocks.len(), "{name}: too few offsets checked");
    // A range with no block start, or past the end, is empty.
    assert_eq!(
        split_start(bytes, bytes.len() as u64 + 5, u64::MAX)
            .expect("header")
            .map(u64::from),
        None
    );
    if blocks.len() > 2 {
        let (b1, b2) = (blocks[1], blocks[2]);
        let inside: Vec<u64> = voffsets.iter().copied().filter(|v| v >> 16 == b1).collect();
        assert_eq!(
            split_start(bytes, b1, b2).expect("header").map(u64::from),
            inside.first().copied()
        );
    }
}

#[test]
fn splits_of_every_bam_give_every_record_once() {
    for path in common::all_bams() {
        let input = Arc::new(Input::open(&path).expect("opens"));
        let name = path.display().to_string();
        for size in [7_919, 64 << 10, 1 << 20] {
            check_partition(&name, &input, size, 1);
        }
        check_partition(&name, &input, 64 << 10, 2);
    }
}

#[test]
fn split_start_at_every_byte_offset() {
    for path in common::all_bams() {
        let bytes = std::fs::read(&path).expect("readable");
        let voffsets = record_voffsets(Input::open(&path).expect("opens"));
        let small = bytes.len() <= 1 << 20;
        check_split_starts(&path.display().to_string(), &bytes, &voffsets, small);
    }
}

// ---------------------------------------------------------------------------------------------
// A BAM made to mislead: records carrying BGZF files (the sample BAM) as aux arrays, larger
// than a block, compressed with stored (level 0) deflate blocks so that the file's compressed
// bytes hold verbatim gzip headers. (A record whose array holds a chain of valid uncompressed
// BAM records would defeat any index-free start finder; see `bam::SPLIT_CHAIN`.)

/// An unmapped record named `name` with a `XB:B:C` array holding `payload`.
fn big_record(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i32).to_le_bytes()); // refID
    body.extend_from_slice(&(-1i32).to_le_bytes()); // pos
    body.push((name.len() + 1) as u8); // l_read_name
    body.push(0); // mapq
    body.extend_from_slice(&4680u16.to_le_bytes()); // bin
    body.extend_from_slice(&0u16.to_le_bytes()); // n_cigar_op
    body.extend_from_slice(&4u16.to_le_bytes()); // flag: unmapped
    body.extend_from_slice(&0i32.to_le_bytes()); // l_seq
    body.extend_from_slice(&(-1i32).to_le_bytes()); // next refID
    body.extend_from_slice(&(-1i32).to_le_bytes()); // next pos
    body.extend_from_slice(&0i32.to_le_bytes()); // tlen
    body.extend_from_slice(name.as_bytes());
    body.push(0);
    body.extend_from_slice(b"XBBC");
    body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    body.extend_from_slice(payload);
    let mut rec = (body.len() as u32).to_le_bytes().to_vec();
    rec.extend_from_slice(&body);
    rec
}

fn misleading_bam() -> Vec<u8> {
    let sample = std::fs::read(common::sample_bam()).expect("the sample");
    let raw = common::oracle_decompress(&sample);
    let (_, header_len) = rawarrow::bam::Header::parse(&raw)
        .expect("valid")
        .expect("complete");
    // Record boundaries of the sample, to insert the big records between records.
    let mut bounds = vec![header_len];
    while *bounds.last().expect("one") < raw.len() {
        let at = *bounds.last().expect("one");
        bounds.push(at + 4 + u32::from_le_bytes(raw[at..at + 4].try_into().expect("4")) as usize);
    }
    // Decoys: runs of SPLIT_CHAIN − 1 real records, each run followed by a byte that breaks
    // the chain. A checker that accepted shorter chains would start a split inside them.
    let mut decoys = Vec::new();
    for run in 0..80 {
        let first = 1 + run * (rawarrow::bam::SPLIT_CHAIN - 1);
        decoys
            .extend_from_slice(&raw[bounds[first]..bounds[first + rawarrow::bam::SPLIT_CHAIN - 1]]);
        decoys.push(0xff);
    }
    assert!(decoys.len() > 2 << 16, "the decoys span several blocks");
    let (a, b, c) = (bounds[1000], bounds[2500], bounds[3000]);
    let mut out = raw[..a].to_vec();
    out.extend_from_slice(&big_record("nested_bgzf_1", &sample));
    out.extend_from_slice(&raw[a..b]);
    out.extend_from_slice(&big_record("nested_bgzf_2", &sample[..200_000]));
    out.extend_from_slice(&raw[b..c]);
    out.extend_from_slice(&big_record("decoys", &decoys));
    out.extend_from_slice(&raw[c..]);
    common::flate2_bgzf(&out, &[], 0)
}

#[test]
fn splits_of_a_file_full_of_fake_headers_and_records() {
    let file = misleading_bam();
    let fakes = memchr::memmem::find_iter(&file, &[0x1f, 0x8b, 0x08]).count();
    let real = bgzf::scan(&file).expect("valid").blocks.len();
    assert!(fakes > real + 10, "the file must hold fake block headers");
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("misleading.bam");
    std::fs::write(&path, &file).expect("writable");
    let voffsets = record_voffsets(Input::open(&path).expect("opens"));
    assert_eq!(voffsets.len(), 4003);
    check_split_starts("misleading.bam", &file, &voffsets, false);
    let input = Arc::new(Input::open(&path).expect("opens"));
    for size in [7_919, 64 << 10, 300_000] {
        check_partition("misleading.bam", &input, size, 1);
    }
}

#[test]
fn empty_splits_have_the_schema_and_no_rows() {
    let path = common::sample_bam();
    let len = std::fs::metadata(&path).expect("exists").len();
    let input = Arc::new(Input::open(&path).expect("opens"));
    for (start, end) in [
        (len, len + 10),
        (len + 100, len + 200),
        (5, 5),
        (100_000, 100_001),
    ] {
        let reader = Reader::builder()
            .threads(2)
            .columns(&["qname", "pos"])
            .expect("columns")
            .byte_range(start, end)
            .build(input.clone())
            .expect("opens");
        assert_eq!(
            arrow_array::RecordBatchReader::schema(&reader)
                .fields()
                .len(),
            2
        );
        let rows: usize = reader.map(|b| b.expect("valid").num_rows()).sum();
        // (100000, 100001) holds no block start; (5, 5) is empty.
        assert_eq!(rows, 0, "[{start}, {end})");
    }
}
