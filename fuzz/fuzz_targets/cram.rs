//! CRAM: the first byte picks what the rest is: (0) a CRAM file whose container headers and
//! blocks are re-sealed here (their CRC32s recomputed after the mutation, so that mutations
//! reach the codecs, the compression header and the record decoders instead of stopping at
//! the checksums); (1) arbitrary bytes as the file. Everything runs inline on the calling
//! thread. Decoding must never panic or hang; what decodes is read twice (Arrow batches and
//! SAM text of the same records), which must agree on the row count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawarrow::bam::{self, Reader, Records};
use rawarrow::bgzf::Options;
use rawarrow::io::Input;

fn batches(file: &[u8]) -> Result<u64, String> {
    let input = Input::from_bytes("fuzz.cram", file.to_vec());
    let mut reader = Reader::builder()
        .threads(1)
        .bgzf_options(Options::default().threads(1))
        .batch_rows(7)
        .build(input)
        .map_err(|e| e.to_string())?;
    let mut rows = 0;
    while let Some(b) = reader.next_batch().map_err(|e| e.to_string())? {
        rows += b.num_rows() as u64;
    }
    Ok(rows)
}

fn sam(file: &[u8]) -> Result<u64, String> {
    let mut records = Records::new(
        Input::from_bytes("fuzz.cram", file.to_vec()),
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

/// An ITF8 at `at`: its value and length (`None` past the end).
fn itf8(b: &[u8], at: usize) -> Option<(u32, usize)> {
    let x = u32::from(*b.get(at)?);
    let n = (x as u8).leading_ones().min(4) as usize;
    let rest = b.get(at + 1..at + 1 + n)?;
    let v = match n {
        0 => x,
        1 => ((x & 0x3f) << 8) | u32::from(rest[0]),
        2 => ((x & 0x1f) << 16) | (u32::from(rest[0]) << 8) | u32::from(rest[1]),
        3 => {
            ((x & 0x0f) << 24)
                | (u32::from(rest[0]) << 16)
                | (u32::from(rest[1]) << 8)
                | u32::from(rest[2])
        }
        _ => {
            ((x & 0x0f) << 28)
                | (u32::from(rest[0]) << 20)
                | (u32::from(rest[1]) << 12)
                | (u32::from(rest[2]) << 4)
                | (u32::from(rest[3]) & 0x0f)
        }
    };
    Some((v, 1 + n))
}

/// An LTF8's length at `at`.
fn ltf8_len(b: &[u8], at: usize) -> Option<usize> {
    Some(1 + b.get(at)?.leading_ones() as usize)
}

fn seal(b: &mut [u8], from: usize, to: usize) -> Option<()> {
    let crc = libdeflater::crc32(b.get(from..to)?);
    b.get_mut(to..to + 4)?.copy_from_slice(&crc.to_le_bytes());
    Some(())
}

/// Recomputes the CRC32 of every container header and block of a CRAM 3 file, as far as its
/// structure can be followed.
fn reseal(b: &mut [u8]) -> Option<()> {
    if b.len() < 26 || &b[..4] != b"CRAM" || b[4] < 3 {
        return None;
    }
    let mut at = 26;
    while at + 4 < b.len() {
        let length = u32::from_le_bytes(b[at..at + 4].try_into().ok()?) as usize;
        let mut p = at + 4;
        for _ in 0..4 {
            p += itf8(b, p)?.1;
        }
        p += ltf8_len(b, p)?;
        p += ltf8_len(b, p)?;
        let (blocks, n) = itf8(b, p)?;
        p += n;
        let (landmarks, n) = itf8(b, p)?;
        p += n;
        for _ in 0..landmarks.min(10_000) {
            p += itf8(b, p)?.1;
        }
        seal(b, at, p)?;
        let body = p + 4;
        let end = body.checked_add(length)?.min(b.len());
        let mut q = body;
        for _ in 0..blocks.min(10_000) {
            if q >= end {
                break;
            }
            let start = q;
            q += 2;
            q += itf8(b, q)?.1;
            let (size, n) = itf8(b, q)?;
            q += n;
            q += itf8(b, q)?.1;
            q = q.checked_add(size as usize)?;
            seal(b, start, q)?;
            q += 4;
        }
        at = end;
    }
    Some(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut file = rest.to_vec();
    if mode % 2 == 0 {
        let _ = reseal(&mut file);
    }
    match (batches(&file), sam(&file)) {
        (Ok(b), Ok(n)) => assert_eq!(b, n, "row count"),
        (Err(_), Err(_)) => {}
        // What only an Arrow column refuses (text that is not UTF-8, a tag of another type).
        (Err(a), Ok(_)) => assert!(
            [
                "is not UTF-8",
                "is not ASCII",
                "but its column holds",
                "exceed 2 GiB",
                "does not fit"
            ]
            .iter()
            .any(|m| a.contains(m)),
            "arrow: {a}"
        ),
        (Ok(_), Err(s)) => panic!("sam only: {s}"),
    }
});
