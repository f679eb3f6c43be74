//! Every quality implementation against the naive reference.

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::qual::{self, Qual};

/// The reference for the `add33` entry points (which do not test for absent quality).
fn reference(q: &[u8]) -> (Vec<u8>, bool) {
    let mut out = vec![0u8; q.len()];
    let mut probe = q.to_vec();
    if let Some(first) = probe.first_mut() {
        if *first == 0xff {
            *first = 0; // keep naive from answering Absent; fix the byte up below
        }
    }
    let Qual::Present { saturated } = qual::naive(&probe, &mut out) else {
        unreachable!("first byte is not 0xff")
    };
    let mut saturated = saturated;
    if q.first() == Some(&0xff) {
        out[0] = qual::MAX_PRINTABLE + 33;
        saturated = true;
    }
    (out, saturated)
}

macro_rules! qual_tests {
    ($name:ident, $imp:expr) => {
        mod $name {
            use super::*;

            fn imp() -> Option<impl Fn(&[u8], &mut [u8]) -> bool> {
                $imp
            }

            fn check(imp: &impl Fn(&[u8], &mut [u8]) -> bool, q: &[u8], out_off: usize) {
                let (expect, sat) = reference(q);
                let mut buf = vec![0xAAu8; q.len() + out_off + 64];
                let got = imp(q, &mut buf[out_off..out_off + q.len()]);
                assert_eq!(
                    &buf[out_off..out_off + q.len()],
                    &expect[..],
                    "len={}",
                    q.len()
                );
                assert_eq!(got, sat, "saturation flag, len={}", q.len());
                assert!(buf[..out_off]
                    .iter()
                    .chain(&buf[out_off + q.len()..])
                    .all(|&b| b == 0xAA));
            }

            #[test]
            fn lengths_and_alignments() {
                let Some(imp) = imp() else {
                    eprintln!("skipped: CPU lacks the features");
                    return;
                };
                // Mostly valid qualities (< 64) so the saturation flag is tested both ways.
                let low: Vec<u8> = sweep::bytes(400, 3).iter().map(|b| b % 64).collect();
                sweep::sweep(|n, in_off, out_off| {
                    let q = &low[in_off..in_off + n];
                    check(&imp, q, out_off);
                    if n > 0 {
                        // One byte over 93, at a position that moves through every lane.
                        let mut hot = q.to_vec();
                        hot[(in_off * 7) % n] = 94 + (n % 160) as u8;
                        check(&imp, &hot, out_off);
                    }
                });
            }

            #[test]
            fn every_byte_value() {
                let Some(imp) = imp() else { return };
                let all: Vec<u8> = (0..=255u8).collect();
                for start in 0..64 {
                    check(&imp, &all[start..], start);
                    check(&imp, &all[..256 - start], 0);
                }
                check(&imp, &sweep::bytes(1 << 20, 4), 0);
            }

            proptest! {
                #[test]
                fn random(q in proptest::collection::vec(any::<u8>(), 0..700), off in 0usize..64) {
                    if let Some(imp) = imp() {
                        check(&imp, &q, off);
                    }
                }
            }
        }
    };
}

qual_tests!(scalar, Some(qual::scalar::add33));
#[cfg(target_arch = "x86_64")]
qual_tests!(
    sse41,
    qual::x86_64::sse41::Sse41::new().map(|k| move |q: &[u8], o: &mut [u8]| k.add33(q, o))
);
#[cfg(target_arch = "x86_64")]
qual_tests!(
    avx2,
    qual::x86_64::avx2::Avx2::new().map(|k| move |q: &[u8], o: &mut [u8]| k.add33(q, o))
);
#[cfg(target_arch = "x86_64")]
qual_tests!(
    avx512,
    qual::x86_64::avx512::Avx512::new().map(|k| move |q: &[u8], o: &mut [u8]| k.add33(q, o))
);
#[cfg(target_arch = "aarch64")]
qual_tests!(
    neon,
    qual::aarch64::neon::Neon::new().map(|k| move |q: &[u8], o: &mut [u8]| k.add33(q, o))
);

#[test]
fn dispatch_matches_naive_including_absent() {
    sweep::sweep(|n, in_off, _| {
        let mut q = sweep::bytes(n, (n * 64 + in_off) as u64);
        if in_off % 5 == 0 && n > 0 {
            q[0] = 0xff;
        }
        let mut a = vec![0u8; n];
        let mut b = vec![0u8; n];
        assert_eq!(qual::encode(&q, &mut a), qual::naive(&q, &mut b));
        assert_eq!(a, b);
    });
}
