//! BGZF: the first byte picks what the rest is: (0) arbitrary bytes as a file; (1) data written
//! as valid BGZF framing, cut into blocks where the input says, then one byte of the file
//! (header, deflate payload or trailer) changed as the input says: deep mutations of real
//! blocks instead of headers that never parse. Scanning, split-point discovery and the inline
//! (one-thread) inflate must never panic or hang; a file of well-formed headers must inflate
//! exactly when an independent decoder (flate2, block by block, each block delimited by its
//! BSIZE and checked against its CRC32, as htslib reads it) accepts every block, to the same
//! bytes; an unmutated file must inflate to its data. The 1- vs 2-thread comparison runs over the seeds and corpus
//! in `tests/fuzz_seeds.rs` (no thread start-up per input here).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawarrow::bgzf::{self, ChunkReader, Options};
use rawarrow::io::Input;

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, bgzf::Error> {
    let mut out = Vec::new();
    let input = Input::from_bytes("fuzz", bytes.to_vec());
    let mut chunks = ChunkReader::new(input, Options::default().threads(1).chunk_bytes(1));
    while let Some(chunk) = chunks.next() {
        let chunk = chunk.map_err(|e| e.cause::<bgzf::Error>().expect("a BGZF error").clone())?;
        out.extend_from_slice(chunk.data());
        chunks.recycle(chunk);
    }
    let _ = chunks.take_warnings();
    Ok(out)
}

/// `data` as BGZF: a block ends at each cut (control bytes give the cut lengths).
fn framed(control: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    for &c in control.iter().cycle().take(64) {
        if rest.is_empty() {
            break;
        }
        let n = (usize::from(c) * 13 + 1).min(rest.len());
        let block = bgzf::compress(&rest[..n], 1);
        out.extend_from_slice(&block[..block.len() - bgzf::EOF_MARKER.len()]);
        rest = &rest[n..];
    }
    if !rest.is_empty() {
        let block = bgzf::compress(rest, 1);
        out.extend_from_slice(&block[..block.len() - bgzf::EOF_MARKER.len()]);
    }
    out.extend_from_slice(&bgzf::EOF_MARKER);
    out
}

fn check(bytes: &[u8], expect: Option<&[u8]>) {
    let index = bgzf::scan(bytes);
    let ours = inflate(bytes);
    // Blocks with only FEXTRA set and ISIZE ≤ 64 KiB: what split discovery trusts, and where
    // BGZF and plain gzip read the same bytes (htslib, and so rawarrow, ignore FNAME, FCOMMENT
    // and FHCRC in a BGZF block; a gzip decoder honours them).
    let strict = |b: &bgzf::BlockInfo| {
        let end = b.end() as usize;
        let isize = u32::from_le_bytes(bytes[end - 4..end].try_into().expect("4 bytes"));
        bytes[b.offset as usize + 3] == 4 && isize <= 65536
    };
    let all_strict = index.as_ref().is_ok_and(|i| i.blocks.iter().all(strict));
    if let (Ok(index), true) = (&index, all_strict) {
        // Resynchronising at a block start of a valid file finds that block.
        for b in index.blocks.iter().take(8) {
            assert_eq!(bgzf::find_block_start(bytes, b.offset), Some(b.offset));
        }
    }
    if let Some(expect) = expect {
        assert_eq!(
            ours.as_deref().ok(),
            Some(expect),
            "a valid file inflates to its data"
        );
    }
    if let (Ok(index), true) = (&index, all_strict) {
        // Each block, delimited by its BSIZE as htslib delimits it, inflated by flate2 (which,
        // like libdeflate, stops at the end of the deflate stream) and checked against its
        // trailer's CRC32: the file is valid exactly when every block is, and then the bytes
        // are the same.
        let mut theirs = Vec::new();
        let mut valid = true;
        for b in &index.blocks {
            let (start, end) = (
                b.offset as usize + usize::from(b.header_len),
                b.end() as usize,
            );
            // The stream must end (a read that merely runs out of input is not a block).
            let mut out = Vec::with_capacity(65537);
            let ok = matches!(
                flate2::Decompress::new(false).decompress_vec(
                    &bytes[start..end - 8],
                    &mut out,
                    flate2::FlushDecompress::Finish
                ),
                Ok(flate2::Status::StreamEnd)
            );
            let crc = u32::from_le_bytes(bytes[end - 8..end - 4].try_into().expect("4 bytes"));
            let mut c = flate2::Crc::new();
            c.update(&out);
            if !ok || out.len() > 65536 || c.sum() != crc {
                valid = false;
                break;
            }
            theirs.extend_from_slice(&out);
        }
        match &ours {
            Ok(ours) if valid => assert!(*ours == theirs, "differs from flate2 block by block"),
            // libdeflate (and so htslib) decodes some streams zlib and flate2 call invalid
            // (e.g. an unused literal/length code after the data); every block's CRC32 was
            // checked, so the bytes are what was written.
            Ok(_) => {}
            Err(e) => assert!(!valid, "refused a file flate2 reads block by block: {e}"),
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&mode, rest)) = bytes.split_first() else {
        return;
    };
    if mode % 2 == 0 || rest.len() < 8 {
        check(rest, None);
        return;
    }
    let (control, data) = rest.split_at(8);
    let file = framed(&control[3..], data);
    check(&file, Some(data));
    // One byte changed: control[0..2] says where, control[2] how.
    let mut mutated = file.clone();
    let at = usize::from(u16::from_le_bytes([control[0], control[1]])) % mutated.len();
    mutated[at] ^= control[2].max(1);
    check(&mutated, None);
});
