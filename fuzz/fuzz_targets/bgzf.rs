//! BGZF: scan, split-point discovery and parallel inflate of arbitrary bytes must never panic,
//! hang or disagree with each other; where our inflate succeeds, an independent gzip decoder
//! (flate2) that also accepts the bytes must produce the same output.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use rawarrow::bgzf::{self, ChunkReader, Options};
use rawarrow::io::Input;

fn inflate(bytes: &[u8], threads: usize) -> Result<Vec<u8>, bgzf::Error> {
    let mut out = Vec::new();
    let input = Input::from_bytes("fuzz", bytes.to_vec());
    for chunk in ChunkReader::new(input, Options::default().threads(threads).chunk_bytes(1)) {
        out.extend_from_slice(chunk?.data());
    }
    Ok(out)
}

fuzz_target!(|bytes: &[u8]| {
    let index = bgzf::scan(bytes);
    let one = inflate(bytes, 1);
    let two = inflate(bytes, 2);
    assert_eq!(one, two, "thread count changed the result");

    if let Ok(index) = &index {
        // Resynchronising at a block start of a valid file finds that block.
        for b in &index.blocks {
            assert_eq!(bgzf::find_block_start(bytes, b.offset), Some(b.offset));
        }
    }
    if let Ok(ours) = one {
        let index = index.expect("inflate succeeded, so the scan did");
        assert_eq!(ours.len() as u64, index.uncompressed_bytes());
        let mut theirs = Vec::new();
        if flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut theirs).is_ok() {
            assert_eq!(ours, theirs, "differs from flate2");
        }
    }
});
