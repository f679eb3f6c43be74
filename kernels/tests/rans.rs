//! The rANS decoders against streams htscodecs (htslib's codec library) wrote: every order,
//! 4 and 32 states, STRIPE, RLE, PACK and CAT; then hostile input: every truncation and
//! random byte flips of those streams end in an error or a result, never a panic.

use std::io::Read;
use std::path::PathBuf;

use proptest::prelude::*;
use rawarrow_kernels::arith;
use rawarrow_kernels::cpu::Level;
use rawarrow_kernels::rans::{nx16, r4x8, RansError, Scratch};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rans")
        .join(name)
}

fn expected(name: &str) -> Vec<u8> {
    let path = data(&format!("{name}.expected"));
    match std::fs::read(&path) {
        Ok(b) => b,
        Err(_) => {
            let gz = std::fs::read(path.with_extension("expected.gz")).expect("expected output");
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut out)
                .expect("gzip");
            out
        }
    }
}

fn streams(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(data(dir))
        .expect("test streams")
        .map(|e| {
            let p = e.expect("entry").path();
            let name = p
                .file_name()
                .expect("test data")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("stream"))
        })
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

fn decode_4x8(stream: &[u8], s: &mut Scratch) -> Result<Vec<u8>, RansError> {
    let (_, len) = r4x8::sizes(stream)?;
    if len > 1 << 24 {
        return Err(RansError::Truncated);
    }
    let mut out = vec![0; len];
    r4x8::decode(stream, &mut out, s)?;
    Ok(out)
}

fn decode_nx16(stream: &[u8], len: usize, s: &mut Scratch) -> Result<Vec<u8>, RansError> {
    let len = nx16::stated_len(stream)?.unwrap_or(len);
    if len > 1 << 24 {
        return Err(RansError::Truncated);
    }
    let mut out = vec![0; len];
    nx16::decode(stream, &mut out, s)?;
    Ok(out)
}

#[test]
fn rans_4x8_streams_of_htscodecs() {
    let mut s = Scratch::new();
    let mut orders = Vec::new();
    for (name, stream) in streams("r4x8") {
        let (base, order) = name.rsplit_once('.').expect("test data");
        let out = decode_4x8(&stream, &mut s).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out, expected(base), "{name}");
        orders.push(order.to_string());
    }
    assert_eq!(orders, ["0", "1"]);
}

#[test]
fn rans_nx16_streams_of_htscodecs() {
    let mut s = Scratch::new();
    let mut flags = Vec::new();
    for (name, stream) in streams("r4x16") {
        let (base, f) = name.rsplit_once('.').expect("test data");
        let want = expected(base);
        let out =
            decode_nx16(&stream, want.len(), &mut s).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.len(), want.len(), "{name}");
        assert!(
            out == want,
            "{name}: first difference at {:?}",
            out.iter().zip(&want).position(|(a, b)| a != b)
        );
        flags.push(f.parse::<u32>().expect("test data"));
    }
    // Order 0/1, 32 states, STRIPE, RLE, PACK, PACK+RLE, and CAT's bit in the small stream.
    for f in [0, 1, 4, 5, 8, 9, 64, 65, 128, 129, 192, 193, 69] {
        assert!(flags.contains(&f), "flags {f} not covered");
    }
}

/// bzip2 (the arithmetic coder's EXT streams), as a CRAM reader supplies it.
fn bzip2(input: &[u8], out: &mut [u8]) -> Result<(), RansError> {
    let mut d = bzip2::read::BzDecoder::new(input);
    d.read_exact(out).map_err(|_| RansError::Truncated)
}

fn decode_arith(stream: &[u8], len: usize) -> Result<Vec<u8>, RansError> {
    let len = arith::stated_len(stream)?.unwrap_or(len);
    if len > 1 << 24 {
        return Err(RansError::Truncated);
    }
    let mut out = vec![0; len];
    arith::decode(stream, &mut out, Some(bzip2))?;
    Ok(out)
}

#[test]
fn arithmetic_coder_streams_of_htscodecs() {
    let mut flags = Vec::new();
    for (name, stream) in streams("arith") {
        let (base, f) = name.rsplit_once('.').expect("test data");
        let want = expected(base);
        let out = decode_arith(&stream, want.len()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            out == want,
            "{name}: first difference at {:?}",
            out.iter().zip(&want).position(|(a, b)| a != b)
        );
        flags.push(f.parse::<u32>().expect("test data"));
    }
    // Order 0/1, bzip2, STRIPE, RLE, PACK, PACK+RLE.
    for f in [0, 1, 4, 8, 9, 64, 65, 128, 129, 192, 193] {
        assert!(flags.contains(&f), "flags {f} not covered");
    }
}

/// htscodecs' name lists (newline-separated) as the tokeniser's output (NUL-terminated names).
fn names(name: &str) -> Vec<u8> {
    let gz = std::fs::read(data(&format!("tok3/{name}.names.gz"))).expect("test data");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut text)
        .expect("gzip");
    text.iter()
        .map(|&c| if c == b'\n' { 0 } else { c })
        .collect()
}

#[test]
fn name_tokeniser_streams_of_htscodecs() {
    let mut s = Scratch::new();
    let mut n = 0;
    for (name, stream) in streams("tok3")
        .into_iter()
        .filter(|(n, _)| !n.ends_with(".gz"))
    {
        let (base, level) = name.split_once(".names.").expect("test data");
        let mut out = Vec::new();
        rawarrow_kernels::tok3::decode(&stream, &mut out, 1 << 20, &mut s, Some(bzip2))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = names(base);
        assert!(
            out == want,
            "{name} (level {level}): first difference at {:?}",
            out.iter().zip(&want).position(|(a, b)| a != b)
        );
        assert_eq!(
            rawarrow_kernels::tok3::stated_len(&stream).expect("length"),
            want.len()
        );
        n += 1;
        // Every truncation is an error.
        for cut in (0..stream.len()).step_by(stream.len() / 50 + 1) {
            assert!(
                rawarrow_kernels::tok3::decode(
                    &stream[..cut],
                    &mut out,
                    1 << 20,
                    &mut s,
                    Some(bzip2)
                )
                .is_err(),
                "{name} cut at {cut}"
            );
        }
    }
    // rANS (levels 1-9) and arithmetic-coded (11-19) streams of three name styles.
    assert_eq!(n, 30);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn flipped_name_streams_never_panic(level in 0usize..10, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let lv = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19][level];
        let mut stream = std::fs::read(data(&format!("tok3/01.names.{lv}"))).expect("test data");
        for (at, x) in flips {
            let n = stream.len();
            stream[at % n] ^= x | 1;
        }
        let mut out = Vec::new();
        let _ = rawarrow_kernels::tok3::decode(&stream, &mut out, 1 << 20, &mut Scratch::new(), Some(bzip2));
    }
}

#[test]
fn fqzcomp_streams_of_htscodecs() {
    let raw = |name: &str| -> Vec<u8> {
        let gz = std::fs::read(data(&format!("fqzcomp/{name}.raw.gz"))).expect("test data");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .expect("gzip");
        out
    };
    // q4: fixed lengths, quality map, selectors; the strategies 0-3 (overlapping context
    // fields in 3). q40+dir.multi: two parameter blocks. qdup: reversed reads and repeated
    // records. Output: phred values (the ASCII of the files minus 33).
    let q4: Vec<u8> = expected("q4").iter().map(|&c| c - 33).collect();
    let cases: Vec<(String, Vec<u8>)> = (0..4)
        .map(|n| (format!("q4.{n}"), q4.clone()))
        .chain([
            ("q40+dir.multi".to_string(), raw("q40+dir")),
            ("qdup.rev.0".to_string(), raw("qdup")),
        ])
        .collect();
    for (name, want) in cases {
        let stream = std::fs::read(data(&format!("fqzcomp/{name}"))).expect("test data");
        assert_eq!(
            rawarrow_kernels::fqzcomp::stated_len(&stream).expect("length"),
            want.len()
        );
        let mut out = Vec::new();
        rawarrow_kernels::fqzcomp::decode(&stream, &mut out, 1 << 20)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            out == want,
            "{name}: first difference at {:?}",
            out.iter().zip(&want).position(|(a, b)| a != b)
        );
        for cut in (1..stream.len()).step_by(stream.len() / 40 + 1) {
            assert!(
                rawarrow_kernels::fqzcomp::decode(&stream[..cut], &mut out, 1 << 20).is_err(),
                "{name} cut at {cut}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    #[test]
    fn flipped_fqzcomp_streams_never_panic(which in 0usize..3, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let name = ["q4.0", "q4.3", "qdup.rev.0"][which];
        let mut stream = std::fs::read(data(&format!("fqzcomp/{name}"))).expect("test data");
        for (at, x) in flips {
            let n = stream.len().min(200);
            stream[at % n] ^= x | 1;
        }
        let mut out = Vec::new();
        let _ = rawarrow_kernels::fqzcomp::decode(&stream, &mut out, 1 << 20);
    }
}

#[test]
fn pack_of_more_than_16_symbols_stores_the_bytes() {
    // htscodecs marks data of too many symbols to pack with a symbol count of 0 (256) and
    // no map: the bytes follow as they are (here stored, CAT).
    let mut s = Scratch::new();
    let stream = [0xa0, 3, 0, 3, b'x', b'y', b'z'];
    let mut out = [0u8; 3];
    nx16::decode(&stream, &mut out, &mut s).expect("decodes");
    assert_eq!(&out, b"xyz");
    arith::decode(&stream, &mut out, None).expect("decodes");
    assert_eq!(&out, b"xyz");
    // A packed length other than the output's is an error.
    let short = [0xa0, 3, 0, 2, b'x', b'y'];
    assert!(nx16::decode(&short, &mut out, &mut s).is_err());
}

#[test]
fn a_one_symbol_pack_with_nothing_after_it_is_that_symbol() {
    // A PACK of one symbol needs no packed bytes: with none following, htscodecs decodes the
    // symbol repeated whatever packed length the metadata states, and so do both decoders
    // (a mutant of a samtools-written CRAM 3.1 found it).
    let mut s = Scratch::new();
    for stated in [0u8, 1, 16] {
        let stream = [0xa0, 50, 1, 0x28, stated];
        let mut out = [0u8; 50];
        nx16::decode(&stream, &mut out, &mut s).expect("decodes");
        assert_eq!(out, [0x28; 50], "rANS Nx16, packed length {stated}");
        let mut out = [0u8; 50];
        arith::decode(&stream, &mut out, None).expect("decodes");
        assert_eq!(out, [0x28; 50], "arithmetic coder, packed length {stated}");
    }
    // A packed length cut short by the stream's end reads as far as it goes (htscodecs).
    let stream = [0xa4, 50, 1, 0x28, 0x84];
    let mut out = [0u8; 50];
    nx16::decode(&stream, &mut out, &mut s).expect("decodes");
    assert_eq!(out, [0x28; 50]);
    // Two symbols need their bits: none following is an error.
    let mut out = [0u8; 50];
    assert!(nx16::decode(&[0xa0, 50, 2, 0x28, 0x29, 7], &mut out, &mut s).is_err());
}

#[test]
fn a_wrong_output_length_is_an_error() {
    let mut s = Scratch::new();
    let stream = std::fs::read(data("r4x8/q4.0")).expect("test data");
    let (_, len) = r4x8::sizes(&stream).expect("test data");
    let mut out = vec![0; len + 1];
    assert!(matches!(
        r4x8::decode(&stream, &mut out, &mut s),
        Err(RansError::WrongLength { .. })
    ));
    let stream = std::fs::read(data("r4x16/q4.0")).expect("test data");
    let mut out = vec![0; len - 1];
    assert!(nx16::decode(&stream, &mut out, &mut s).is_err());
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let mut s = Scratch::new();
    for (dir, name) in [
        ("r4x8", "q4.1"),
        ("r4x16", "q4.193"),
        ("r4x16", "q4.9"),
        ("r4x16", "qsimd.69"),
    ] {
        let stream = std::fs::read(data(&format!("{dir}/{name}"))).expect("test data");
        let want = expected(name.rsplit_once('.').expect("test data").0);
        let step = (stream.len() / 400).max(1);
        for cut in (0..stream.len()).step_by(step) {
            let r = match dir {
                "r4x8" => decode_4x8(&stream[..cut], &mut s),
                "arith" => decode_arith(&stream[..cut], want.len()),
                _ => decode_nx16(&stream[..cut], want.len(), &mut s),
            };
            match (dir, r) {
                // rANS 4x8 states its compressed size: every cut is an error.
                ("r4x8", r) => assert!(r.is_err(), "{dir}/{name} cut at {cut}"),
                // rANS Nx16 does not: as in htslib, the states stop renormalising where the
                // stream ends, so a cut in the last renormalisations decodes (to the length
                // asked for); CRAM's block CRC32s catch such cuts.
                (_, Ok(out)) => assert_eq!(out.len(), want.len(), "{dir}/{name} cut at {cut}"),
                (_, Err(_)) => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn flipped_bytes_never_panic(which in 0usize..4, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let (dir, name) = [("r4x8", "q4.0"), ("r4x8", "q4.1"), ("r4x16", "q4.193"), ("arith", "q4.65")][which];
        let mut stream = std::fs::read(data(&format!("{dir}/{name}"))).expect("test data");
        // Flips in the first 600 bytes hit the headers and tables too.
        for (at, x) in flips {
            let n = stream.len().min(600);
            stream[at % n] ^= x | 1;
        }
        let mut s = Scratch::new();
        let _ = match dir {
            "r4x8" => decode_4x8(&stream, &mut s).map(|_| ()),
            "arith" => decode_arith(&stream, 151_000).map(|_| ()),
            _ => decode_nx16(&stream, 151_000, &mut s).map(|_| ()),
        };
    }
}

#[path = "common/rans_encode.rs"]
mod rans_encode;

/// One scratch per kernel level this CPU has (scalar, AVX2, AVX-512 F), each capped there.
fn scratch_per_level() -> Vec<Scratch> {
    let mut v: Vec<Scratch> = Vec::new();
    for l in [Level::Scalar, Level::Avx2, Level::Avx512F] {
        let s = Scratch::with_level(l);
        if v.iter().all(|o| o.level() != s.level()) {
            v.push(s);
        }
    }
    v
}

/// Quality-like bytes: `k` symbols from a seed, runs and a drifting mean as real qualities
/// have (and, for `k` = 1, a single symbol whose frequency is the whole table).
fn qualities(len: usize, k: u8, seed: u64) -> Vec<u8> {
    let mut st = seed | 1;
    let mut next = move || {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        st
    };
    let mut prev = 0u8;
    (0..len)
        .map(|_| {
            let r = next();
            prev = match r % 8 {
                0..=3 => prev,
                4..=5 => (prev + 1) % k,
                _ => (r >> 8) as u8 % k,
            };
            b'!' + prev
        })
        .collect()
}

#[test]
fn nx16_round_trips_long_streams_at_every_level() {
    let data = qualities(300_000, 41, 7);
    for (order, x32, shift) in [
        (0, true, 12),
        (1, true, 12),
        (1, true, 10),
        (0, false, 12),
        (1, false, 12),
    ] {
        let stream = rans_encode::encode(&data, order, x32, shift);
        assert!(
            stream.len() < data.len() * 4 / 5,
            "compressed: {} bytes",
            stream.len()
        );
        for mut s in scratch_per_level() {
            let out = decode_nx16(&stream, data.len(), &mut s).expect("decodes");
            assert!(
                out == data,
                "order {order} x32 {x32} shift {shift} at {:?}: first difference at {:?}",
                s.level(),
                out.iter().zip(&data).position(|(a, b)| a != b)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Random streams of every shape decode to their input at every level: lengths around
    /// the 32-state rounds, one to 64 symbols, orders 0 and 1, both order-1 totals.
    #[test]
    fn nx16_round_trips_at_every_level(len in 1usize..3000, k in 1u8..64, seed in any::<u64>(), order in 0u8..2, x32 in any::<bool>(), shift10 in any::<bool>()) {
        let data = qualities(len, k, seed);
        let stream = rans_encode::encode(&data, order, x32, if shift10 { 10 } else { 12 });
        for mut s in scratch_per_level() {
            let out = decode_nx16(&stream, data.len(), &mut s);
            prop_assert_eq!(out.as_ref(), Ok(&data), "level {:?}", s.level());
        }
    }

    /// Damaged 32-state streams give every level the same result: the same bytes or the same
    /// error (a state entering a context without a table, a cut stream).
    #[test]
    fn nx16_levels_agree_on_damaged_streams(len in 200usize..3000, k in 2u8..40, seed in any::<u64>(), order in 0u8..2, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let data = qualities(len, k, seed);
        let mut stream = rans_encode::encode(&data, order, true, 12);
        for (at, x) in flips {
            let n = stream.len();
            stream[at % n] ^= x | 1;
        }
        let results: Vec<_> = scratch_per_level()
            .into_iter()
            .map(|mut s| (s.level(), decode_nx16(&stream, data.len(), &mut s)))
            .collect();
        for (level, r) in &results[1..] {
            prop_assert_eq!(r, &results[0].1, "{:?} against {:?}", level, results[0].0);
        }
    }
}
