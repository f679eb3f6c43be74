//! BAM: arbitrary bytes as the decompressed stream of a BAM file (compressed into BGZF here)
//! and as a BGZF file themselves. Decoding must never panic or hang; 1 and 2 threads must agree
//! on every batch or on the error; SAM text of whatever decodes must not panic either. The Arrow
//! reader (which checks aux fields while rendering the tags) and the record-by-record path (which
//! checks them first) must accept the same records and report the same first bad record, except
//! for what only an Arrow column refuses (text that is not UTF-8, a tag of another type than its
//! typed column).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawarrow::bam::{self, Reader, Records};
use rawarrow::bgzf::Options;
use rawarrow::io::Input;

fn batches(file: &[u8], threads: usize) -> Result<Vec<arrow_array::RecordBatch>, String> {
    let input = Input::from_bytes("fuzz.bam", file.to_vec());
    let mut reader = Reader::builder()
        .bgzf_options(Options::default().threads(threads).chunk_bytes(4096))
        .batch_rows(3)
        .tags(&["NM", "XF", "ZB", "RG:i"])
        .map_err(|e| e.to_string())?
        .build(input)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(b) = reader.next_batch().map_err(|e| e.to_string())? {
        out.push(b);
    }
    Ok(out)
}

/// SAM text of every record: the record count, or the error.
fn sam(file: &[u8]) -> Result<u64, String> {
    let mut records = Records::new(
        Input::from_bytes("fuzz.bam", file.to_vec()),
        Options::default().threads(1),
    )
    .map_err(|e| e.to_string())?;
    let header = records.header().clone();
    let mut out = Vec::new();
    while records
        .next_chunk(|r, _| {
            bam::push_sam(r, &header, &mut out);
            Ok(true)
        })
        .map_err(|e| e.to_string())?
    {}
    Ok(records.count())
}

/// Errors only an Arrow column gives.
fn arrow_only(e: &str) -> bool {
    ["is not UTF-8", "is not ASCII", "but its column holds", "exceed 2 GiB"]
        .iter()
        .any(|m| e.contains(m))
}

/// The record index an error message names.
fn record_index(e: &str) -> Option<u64> {
    let rest = &e[e.find(": record ")? + 9..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?].parse().ok()
}

fuzz_target!(|bytes: &[u8]| {
    let compressed = rawarrow::bgzf::compress_for_tests(bytes);
    for file in [&compressed[..], bytes] {
        let one = batches(file, 1);
        let two = batches(file, 2);
        match (&one, &two) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "thread count changed the batches"),
            (Err(a), Err(b)) => assert_eq!(a, b, "thread count changed the error"),
            _ => panic!("1 thread: {one:?}\n2 threads: {two:?}"),
        }
        match (&one, sam(file)) {
            (Ok(b), Ok(n)) => {
                assert_eq!(b.iter().map(|b| b.num_rows() as u64).sum::<u64>(), n, "row count")
            }
            (Err(a), Err(s)) if a == &s => {}
            (Err(a), Ok(_)) if arrow_only(a) => {}
            (Err(a), Err(s)) if arrow_only(a) => {
                // An Arrow-only fault at an earlier (or the same) record comes first.
                assert!(record_index(a) <= record_index(&s), "arrow: {a}\nsam: {s}");
            }
            (a, s) => panic!("arrow: {a:?}\nsam: {s:?}"),
        }
    }
});
