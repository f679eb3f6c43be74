//! BAM: arbitrary bytes as the decompressed stream of a BAM file (compressed into BGZF here)
//! and as a BGZF file themselves. Decoding must never panic or hang; 1 and 2 threads must agree
//! on every batch or on the error; SAM text of whatever decodes must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawarrow::bam::{self, Reader, Records};
use rawarrow::bgzf::Options;
use rawarrow::io::Input;

fn batches(file: &[u8], threads: usize) -> Result<Vec<arrow_array::RecordBatch>, String> {
    let input = Input::from_bytes("fuzz.bam", file.to_vec());
    let reader = Reader::builder()
        .bgzf_options(Options::default().threads(threads).chunk_bytes(4096))
        .batch_rows(3)
        .tags(&["NM", "XF", "ZB", "RG:i"])
        .map_err(|e| e.to_string())?
        .build(input)
        .map_err(|e| e.to_string())?;
    reader.map(|b| b.map_err(|e| e.to_string())).collect()
}

fn sam(file: &[u8]) {
    let Ok(mut records) = Records::new(Input::from_bytes("fuzz.bam", file.to_vec()), Options::default().threads(1)) else {
        return;
    };
    let header = records.header().clone();
    let mut out = Vec::new();
    while let Ok(true) = records.next_chunk(|r, _| {
        bam::push_sam(r, &header, &mut out);
        Ok(true)
    }) {}
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
        sam(file);
    }
});
