//! Every NUL-terminated string implementation against the naive reference.

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::cstr::{self, Copied};

macro_rules! cstr_tests {
    ($name:ident, $imp:expr) => {
        mod $name {
            use super::*;

            fn imp() -> Option<impl Fn(&[u8], &mut [u8]) -> Option<Copied>> {
                $imp
            }

            /// `src` copied into a `room`-byte slice at `out_off` of a larger buffer: the result
            /// and the string's bytes match the reference, nothing outside the slice is written.
            fn check(
                imp: &impl Fn(&[u8], &mut [u8]) -> Option<Copied>,
                src: &[u8],
                room: usize,
                out_off: usize,
            ) {
                let mut want = vec![0u8; room];
                let expect = cstr::naive(src, &mut want);
                let mut buf = vec![0xAAu8; room + out_off + 64];
                let got = imp(src, &mut buf[out_off..out_off + room]);
                assert_eq!(got, expect, "len={} room={room}", src.len());
                if let Some(c) = expect {
                    assert_eq!(&buf[out_off..out_off + c.len], &src[..c.len]);
                }
                assert!(
                    buf[..out_off]
                        .iter()
                        .chain(&buf[out_off + room..])
                        .all(|&b| b == 0xAA),
                    "wrote outside dst"
                );
            }

            #[test]
            fn lengths_alignments_nul_and_high_bytes() {
                let Some(imp) = imp() else {
                    eprintln!("skipped: CPU lacks the features");
                    return;
                };
                // Printable bytes, so the only NUL and high byte are the ones placed.
                let text: Vec<u8> = sweep::bytes(400, 5).iter().map(|b| 33 + b % 90).collect();
                sweep::sweep(|n, in_off, out_off| {
                    let s = &text[in_off..in_off + n];
                    // No NUL at all, into more room or less than `src` holds.
                    check(&imp, s, n + 8, out_off);
                    check(&imp, s, n / 2, out_off);
                    if n == 0 {
                        return;
                    }
                    // A NUL at a position that moves through every lane, a high byte before or
                    // after it, and a destination exactly as long as the string.
                    let mut t = s.to_vec();
                    let nul = (in_off * 7 + n / 2) % n;
                    t[nul] = 0;
                    check(&imp, &t, n + 64, out_off);
                    check(&imp, &t, nul, out_off);
                    let hot = (in_off * 13) % n;
                    if hot != nul {
                        t[hot] = 0x80 | (n as u8);
                        check(&imp, &t, nul, out_off);
                    }
                });
            }

            #[test]
            #[should_panic]
            fn a_destination_shorter_than_the_string_panics() {
                let Some(imp) = imp() else {
                    panic!("skipped: CPU lacks the features");
                };
                let mut out = [0u8; 70];
                let mut long = vec![b'K'; 150];
                long.push(0);
                imp(&long, &mut out);
            }

            proptest! {
                #[test]
                fn random(
                    s in proptest::collection::vec(prop_oneof![4 => 1u8..=255, 1 => Just(0u8)], 0..300),
                    extra in 0usize..80,
                    off in 0usize..64,
                ) {
                    if let Some(imp) = imp() {
                        let len = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                        check(&imp, &s, len + extra, off);
                    }
                }
            }
        }
    };
}

cstr_tests!(scalar, Some(cstr::scalar::copy));
#[cfg(target_arch = "x86_64")]
cstr_tests!(
    avx2,
    cstr::x86_64::avx2::Avx2::new().map(|k| move |s: &[u8], o: &mut [u8]| k.copy(s, o))
);
#[cfg(target_arch = "x86_64")]
cstr_tests!(
    avx512,
    cstr::x86_64::avx512::Avx512::new().map(|k| move |s: &[u8], o: &mut [u8]| k.copy(s, o))
);

#[test]
fn dispatch_matches_naive() {
    let text: Vec<u8> = sweep::bytes(400, 9).iter().map(|b| b % 200).collect();
    sweep::sweep(|n, in_off, _| {
        let s = &text[in_off..in_off + n];
        let (mut a, mut b) = (vec![0u8; n], vec![0u8; n]);
        assert_eq!(cstr::copy(s, &mut a), cstr::naive(s, &mut b));
    });
}
