//! BAM: the first byte picks what the rest is: (0) the input of a record generator that writes
//! a header and well-framed records (consistent lengths, mostly valid CIGARs and aux fields,
//! occasional raw bytes) so mutations reach the decoders instead of the framing; (1) arbitrary
//! bytes as the decompressed stream (compressed into BGZF here); (2) arbitrary bytes as the
//! BGZF file itself. Everything runs inline on the calling thread (one thread: no thread or pool
//! start-up per input); the 1- vs 2-thread comparison runs over the seeds and corpus in
//! `tests/fuzz_seeds.rs`.
//!
//! Decoding must never panic or hang; SAM text of whatever decodes must not panic either. The
//! Arrow reader (which checks aux fields while rendering the tags) and the record-by-record
//! path (which checks them first) must accept the same records and report the same first bad
//! record, except for what only an Arrow column refuses (text that is not UTF-8, a tag of
//! another type than its typed column).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawarrow::bam::{self, Reader, Records};
use rawarrow::bgzf::Options;
use rawarrow::io::Input;

fn batches(file: &[u8]) -> Result<u64, String> {
    let input = Input::from_bytes("fuzz.bam", file.to_vec());
    let mut reader = Reader::builder()
        .threads(1)
        .bgzf_options(Options::default().threads(1).chunk_bytes(4096))
        .batch_rows(3)
        .tags(&["NM", "XF", "ZB", "RG:i"])
        .map_err(|e| e.to_string())?
        .build(input)
        .map_err(|e| e.to_string())?;
    let mut rows = 0;
    while let Some(b) = reader.next_batch().map_err(|e| e.to_string())? {
        rows += b.num_rows() as u64;
    }
    Ok(rows)
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
    [
        "is not UTF-8",
        "is not ASCII",
        "but its column holds",
        "exceed 2 GiB",
        "does not fit the Int32",
    ]
    .iter()
    .any(|m| e.contains(m))
}

/// The record index an error message names.
fn record_index(e: &str) -> Option<u64> {
    let rest = &e[e.find(": record ")? + 9..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()
}

fn check(file: &[u8]) {
    match (batches(file), sam(file)) {
        (Ok(b), Ok(n)) => assert_eq!(b, n, "row count"),
        (Err(a), Err(s)) if a == s => {}
        (Err(a), Ok(_)) if arrow_only(&a) => {}
        (Err(a), Err(s)) if arrow_only(&a) => {
            // An Arrow-only fault at an earlier (or the same) record comes first.
            assert!(record_index(&a) <= record_index(&s), "arrow: {a}\nsam: {s}");
        }
        (a, s) => panic!("arrow: {a:?}\nsam: {s:?}"),
    }
}

/// Bytes taken from the front of the input; zeros once it is used up.
struct Src<'a>(&'a [u8]);

impl Src<'_> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }
}

/// One aux field: a tag, a type and a value of that type's shape.
fn aux_field(s: &mut Src, out: &mut Vec<u8>) {
    const TAG: &[u8] = b"NMXFZBRGMDASOQCGxy01";
    let t = s.u8();
    out.extend_from_slice(&[
        TAG[usize::from(t) % TAG.len()],
        TAG[usize::from(t / 20) % TAG.len()],
    ]);
    let types = b"AcCsSiIfZHB";
    let ty = types[usize::from(s.u8()) % types.len()];
    out.push(ty);
    let width = |t: u8| match t {
        b'A' | b'c' | b'C' => 1,
        b's' | b'S' => 2,
        _ => 4,
    };
    match ty {
        b'Z' | b'H' => {
            let n = usize::from(s.u8() % 12);
            let v = s.take(n);
            out.extend(v.iter().map(|&c| {
                if ty == b'H' {
                    b"0123456789ABCDEF"[usize::from(c % 16)]
                } else {
                    c.max(1)
                }
            }));
            out.push(0);
        }
        b'B' => {
            let sub = b"cCsSiIf"[usize::from(s.u8()) % 7];
            let n = u32::from(s.u8() % 6);
            out.push(sub);
            out.extend_from_slice(&n.to_le_bytes());
            let v = s.take(n as usize * width(sub));
            out.extend_from_slice(&v);
        }
        t => {
            let v = s.take(width(t));
            out.extend_from_slice(&v);
        }
    }
}

/// A header with two references and records built from `s` (see the module docs).
fn generate(mut s: Src) -> Vec<u8> {
    let text = b"@HD\tVN:1.6\n@SQ\tSN:c1\tLN:1000\n@SQ\tSN:c2\tLN:500\n";
    let mut out = b"BAM\x01".to_vec();
    out.extend_from_slice(&(text.len() as i32).to_le_bytes());
    out.extend_from_slice(text);
    out.extend_from_slice(&2i32.to_le_bytes());
    for (name, len) in [(&b"c1\0"[..], 1000i32), (b"c2\0", 500)] {
        out.extend_from_slice(&(name.len() as i32).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&len.to_le_bytes());
    }
    while !s.0.is_empty() {
        let control = s.u8();
        let mut body = Vec::new();
        let ref_id = i32::from(s.u8() % 3) - 1;
        let pos = i32::from(s.u16() % 1200) - 1;
        let l_name = s.u8() % 12 + 1;
        let mapq = s.u8();
        let flag = s.u16();
        let n_cigar = usize::from(s.u8() % 4);
        let mut cigar = Vec::new();
        let mut query = 0u32;
        for _ in 0..n_cigar {
            let op = u32::from(s.u8() % 9);
            let len = u32::from(s.u8() % 20) + 1;
            if matches!(op, 0 | 1 | 4 | 7 | 8) {
                query += len;
            }
            cigar.extend_from_slice(&(len << 4 | op).to_le_bytes());
        }
        let l_seq = if n_cigar == 0 {
            u32::from(s.u8() % 30)
        } else {
            query
        };
        body.extend_from_slice(&ref_id.to_le_bytes());
        body.extend_from_slice(&pos.to_le_bytes());
        body.extend_from_slice(&[l_name, mapq, 0, 0]);
        body.extend_from_slice(&(n_cigar as u16).to_le_bytes());
        body.extend_from_slice(&flag.to_le_bytes());
        body.extend_from_slice(&l_seq.to_le_bytes());
        let next_ref = i32::from(s.u8() % 3) - 1;
        body.extend_from_slice(&next_ref.to_le_bytes());
        body.extend_from_slice(&(i32::from(s.u16()) - 2).to_le_bytes());
        body.extend_from_slice(&(i32::from(s.u16() as i16)).to_le_bytes());
        let name = s.take(usize::from(l_name) - 1);
        body.extend(
            name.iter()
                .map(|&c| if control & 1 != 0 { c } else { b'!' + c % 94 }),
        );
        body.push(if control & 2 != 0 && control & 4 != 0 {
            b'x'
        } else {
            0
        });
        body.extend_from_slice(&cigar);
        let seq = s.take(l_seq.div_ceil(2) as usize);
        body.extend_from_slice(&seq);
        let qual = s.take(l_seq as usize);
        body.extend(
            qual.iter()
                .map(|&q| if control & 8 != 0 { 0xff } else { q % 94 }),
        );
        for _ in 0..(control >> 4) % 5 {
            aux_field(&mut s, &mut body);
        }
        if control >> 4 == 15 {
            // Raw bytes: the validators' error paths.
            let n = usize::from(s.u8() % 8);
            let raw = s.take(n);
            body.extend_from_slice(&raw);
        }
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&mode, rest)) = bytes.split_first() else {
        return;
    };
    match mode % 3 {
        0 => check(&rawarrow::bgzf::compress(&generate(Src(rest)), 1)),
        1 => check(&rawarrow::bgzf::compress(rest, 1)),
        _ => check(rest),
    }
});
