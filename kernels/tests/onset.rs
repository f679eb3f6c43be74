//! Every onset-gate implementation against the naive reference.

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::onset;

macro_rules! onset_tests {
    ($name:ident, $imp:expr) => {
        mod $name {
            use super::*;

            fn imp() -> Option<impl Fn(&[u8], u8, &mut [u32]) -> usize> {
                $imp
            }

            fn check(imp: &impl Fn(&[u8], u8, &mut [u32]) -> usize, v: &[u8], t: u8) {
                let mut expect = vec![0u32; v.len()];
                let n = onset::naive(v, t, &mut expect);
                let mut got = vec![u32::MAX; v.len() + 4];
                let m = imp(v, t, &mut got[..v.len()]);
                assert_eq!(m, n, "count, len={} t={t}", v.len());
                assert_eq!(&got[..m], &expect[..n], "indices, len={} t={t}", v.len());
                assert!(
                    got[v.len()..].iter().all(|&x| x == u32::MAX),
                    "wrote past the output"
                );
            }

            #[test]
            fn lengths_offsets_and_every_threshold() {
                let Some(imp) = imp() else {
                    eprintln!("skipped: CPU lacks the features");
                    return;
                };
                let data = sweep::bytes(300 + 64, 11);
                sweep::sweep(|n, in_off, out_off| {
                    let t = [0u8, 1, 63, 64, 127, 128, 200, 254, 255][(in_off + out_off) % 9];
                    check(&imp, &data[in_off..in_off + n], t);
                });
                let all: Vec<u8> = (0..=255u8).collect();
                for t in 0..=255u8 {
                    check(&imp, &all, t);
                }
            }

            #[test]
            fn large() {
                let Some(imp) = imp() else { return };
                let big = sweep::bytes(1 << 18, 12);
                for t in [0, 100, 250, 255] {
                    check(&imp, &big, t);
                }
            }

            proptest! {
                #[test]
                fn random(v in proptest::collection::vec(any::<u8>(), 0..500), t in any::<u8>()) {
                    if let Some(imp) = imp() {
                        check(&imp, &v, t);
                    }
                }
            }
        }
    };
}

onset_tests!(scalar, Some(onset::scalar::gate));
onset_tests!(dispatch, Some(onset::gate));
#[cfg(target_arch = "x86_64")]
onset_tests!(
    avx2,
    onset::x86_64::avx2::Avx2::new().map(|k| move |v: &[u8], t, o: &mut [u32]| k.gate(v, t, o))
);
#[cfg(target_arch = "x86_64")]
onset_tests!(
    avx512,
    onset::x86_64::avx512::Avx512::new().map(|k| move |v: &[u8], t, o: &mut [u32]| k.gate(v, t, o))
);
