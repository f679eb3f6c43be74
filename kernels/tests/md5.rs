//! MD5 of many messages at every level against the md-5 crate (an independent implementation)
//! and the naive reference: lengths around every block and padding edge, unaligned starts,
//! lanes that finish at different times and take the next message.

mod sweep;

use md5::{Digest, Md5};
use proptest::prelude::*;
use rawarrow_kernels::md5 as k;

fn oracle(m: &[u8]) -> [u8; 16] {
    Md5::digest(m).into()
}

type Many = fn(&[&[u8]], &mut [[u8; 16]]);
type Level = (&'static str, Box<dyn Fn(&[&[u8]], &mut [[u8; 16]])>);

/// Every implementation this CPU runs, by name.
fn levels() -> Vec<Level> {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut out: Vec<Level> = vec![
        ("scalar", Box::new(k::scalar::digest_many as Many)),
        ("dispatch", Box::new(k::digest_many as Many)),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(t) = k::x86_64::avx2::Avx2::new() {
            out.push(("avx2", Box::new(move |m, o| t.digest_many(m, o))));
        } else {
            eprintln!("avx2 not run: CPU lacks the features");
        }
        if let Some(t) = k::x86_64::avx512::Avx512::new() {
            out.push(("avx512", Box::new(move |m, o| t.digest_many(m, o))));
        } else {
            eprintln!("avx512 not run: CPU lacks the features");
        }
    }
    out
}

fn check(msgs: &[&[u8]]) {
    let expect: Vec<[u8; 16]> = msgs.iter().map(|m| oracle(m)).collect();
    for (name, imp) in levels() {
        let mut out = vec![[0xaa; 16]; msgs.len()];
        imp(msgs, &mut out);
        for (i, (got, want)) in out.iter().zip(&expect).enumerate() {
            assert_eq!(got, want, "{name}: message {i} of {} bytes", msgs[i].len());
        }
    }
}

#[test]
fn the_reference_and_the_scalar_code_are_rfc_1321() {
    // RFC 1321's test suite.
    let suite: [(&[u8], &str); 4] = [
        (b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ];
    for (m, hex) in suite {
        let text = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(text(k::naive(m)), hex);
        assert_eq!(text(k::scalar::digest(m)), hex);
        assert_eq!(text(k::digest(m)), hex);
    }
    for len in 0..=300 {
        let m = sweep::bytes(len, len as u64);
        assert_eq!(k::naive(&m), oracle(&m), "naive, {len} bytes");
        assert_eq!(k::scalar::digest(&m), oracle(&m), "scalar, {len} bytes");
    }
}

#[test]
fn every_length_and_start_in_every_lane() {
    // Seventeen messages (a lane of each width left over) of lengths len..len + 16 at
    // unaligned starts of one buffer: every padding edge (55, 56, 63, 64 mod 64) lands in
    // every lane.
    let buf = sweep::bytes(2000, 3);
    for len in (0..=300).step_by(3) {
        let msgs: Vec<&[u8]> = (0..17).map(|j| &buf[j * 7 % 64..][..len + j]).collect();
        check(&msgs);
    }
}

#[test]
fn lanes_finish_apart_and_take_the_next_message() {
    // Lengths from nothing to many blocks, so lanes empty at different blocks, refill, and
    // the last ones finish on the scalar code; counts around the lane widths.
    let buf = sweep::bytes(40_000, 9);
    for count in [2, 7, 8, 9, 15, 16, 17, 33, 50] {
        let msgs: Vec<&[u8]> = (0..count)
            .map(|j| {
                let len = ((j * 2_654_435_761usize) >> 7) % 20_000;
                let at = (j * 131) % 1000;
                &buf[at..at + len]
            })
            .collect();
        check(&msgs);
    }
    // One long message among short ones, and all equal.
    let mut msgs: Vec<&[u8]> = vec![&buf[..39_000]];
    msgs.extend((0..20).map(|j| &buf[j..j + 100]));
    check(&msgs);
    check(&vec![&buf[5..5 + 4096]; 16]);
    check(&[]);
    check(&[&buf[..1000]]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_message_sets(lens in prop::collection::vec(0usize..3000, 0..40), seed: u64) {
        let buf = sweep::bytes(3000 + 64, seed);
        let msgs: Vec<&[u8]> = lens
            .iter()
            .enumerate()
            .map(|(j, &len)| &buf[j % 64..j % 64 + len])
            .collect();
        check(&msgs);
    }
}
