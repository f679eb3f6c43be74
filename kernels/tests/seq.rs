//! Every sequence-decoding implementation against the naive reference.

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::seq;

/// One test module per implementation; skipped only when this CPU lacks the features.
macro_rules! seq_tests {
    ($name:ident, $imp:expr) => {
        mod $name {
            use super::*;

            fn imp() -> Option<impl Fn(&[u8], &mut [u8])> {
                $imp
            }

            fn check(imp: &impl Fn(&[u8], &mut [u8]), packed: &[u8], n: usize, out_off: usize) {
                let mut expect = vec![0u8; n];
                seq::naive(packed, &mut expect);
                let mut buf = vec![0xAAu8; n + out_off + 64];
                imp(packed, &mut buf[out_off..out_off + n]);
                assert_eq!(&buf[out_off..out_off + n], &expect[..], "n={n} out_off={out_off}");
                assert!(buf[..out_off].iter().all(|&b| b == 0xAA), "wrote before the output");
                assert!(buf[out_off + n..].iter().all(|&b| b == 0xAA), "wrote past the output");
            }

            #[test]
            fn lengths_and_alignments() {
                let Some(imp) = imp() else {
                    eprintln!("skipped: CPU lacks the features");
                    return;
                };
                let data = sweep::bytes(300 + 64, 1);
                sweep::sweep(|n, in_off, out_off| {
                    // Exactly as many packed bytes as needed: no over-read is tolerated.
                    let packed = &data[in_off..in_off + n.div_ceil(2)];
                    check(&imp, packed, n, out_off);
                });
            }

            #[test]
            fn every_byte_value_and_large() {
                let Some(imp) = imp() else { return };
                let all: Vec<u8> = (0..=255u8).collect();
                for n in [511, 512] {
                    check(&imp, &all, n, 3);
                }
                let big = sweep::bytes(1 << 19, 2);
                check(&imp, &big, (1 << 20) - 1, 0);
            }

            proptest! {
                #[test]
                fn random(packed in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..2, off in 0usize..64) {
                    if let Some(imp) = imp() {
                        let n = (packed.len() * 2).saturating_sub(cut);
                        check(&imp, &packed, n, off);
                    }
                }
            }
        }
    };
}

seq_tests!(scalar, Some(seq::scalar::decode));
seq_tests!(dispatch, Some(seq::decode));
#[cfg(target_arch = "x86_64")]
seq_tests!(
    ssse3,
    seq::x86_64::ssse3::Ssse3::new().map(|k| move |p: &[u8], o: &mut [u8]| k.decode(p, o))
);
#[cfg(target_arch = "x86_64")]
seq_tests!(
    avx2,
    seq::x86_64::avx2::Avx2::new().map(|k| move |p: &[u8], o: &mut [u8]| k.decode(p, o))
);
#[cfg(target_arch = "x86_64")]
seq_tests!(
    avx512,
    seq::x86_64::avx512::Avx512::new().map(|k| move |p: &[u8], o: &mut [u8]| k.decode(p, o))
);
#[cfg(target_arch = "aarch64")]
seq_tests!(
    neon,
    seq::aarch64::neon::Neon::new().map(|k| move |p: &[u8], o: &mut [u8]| k.decode(p, o))
);

#[test]
fn naive_matches_the_spec_table() {
    let mut out = [0u8; 16];
    seq::naive(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef], &mut out);
    assert_eq!(&out, b"=ACMGRSVTWYHKDBN");
}

#[test]
#[should_panic(expected = "too short")]
fn short_input_is_refused() {
    seq::decode(&[0x12], &mut [0u8; 3]);
}
