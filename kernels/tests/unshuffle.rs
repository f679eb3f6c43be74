//! Every unshuffle implementation against the naive reference.

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::unshuffle;

macro_rules! unshuffle_tests {
    ($name:ident, $imp:expr) => {
        mod $name {
            use super::*;

            fn imp() -> Option<impl Fn(&[u8], &mut [u32])> {
                $imp
            }

            fn check(imp: &impl Fn(&[u8], &mut [u32]), planes: &[u8], out_off: usize) {
                let n = planes.len() / 4;
                let mut expect = vec![0u32; n];
                unshuffle::naive(planes, &mut expect);
                let mut buf = vec![0xDEAD_BEEFu32; n + out_off + 16];
                imp(planes, &mut buf[out_off..out_off + n]);
                assert_eq!(&buf[out_off..out_off + n], &expect[..], "n={n}");
                assert!(buf[..out_off]
                    .iter()
                    .chain(&buf[out_off + n..])
                    .all(|&v| v == 0xDEAD_BEEF));
            }

            #[test]
            fn lengths_and_alignments() {
                let Some(imp) = imp() else {
                    eprintln!("skipped: CPU lacks the features");
                    return;
                };
                let data = sweep::bytes(4 * 300 + 64, 5);
                sweep::sweep(|n, in_off, out_off| {
                    check(&imp, &data[in_off..in_off + 4 * n], out_off % 16);
                });
            }

            #[test]
            fn large_and_every_byte() {
                let Some(imp) = imp() else { return };
                check(&imp, &sweep::bytes(4 * 100_003, 6), 0);
                let all: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
                check(&imp, &all, 1);
            }

            proptest! {
                #[test]
                fn random(v in proptest::collection::vec(any::<u32>(), 0..300)) {
                    if let Some(imp) = imp() {
                        // Build the planes from known values; the kernel must give them back.
                        let n = v.len();
                        let mut planes = vec![0u8; 4 * n];
                        for (i, x) in v.iter().enumerate() {
                            for (k, b) in x.to_le_bytes().into_iter().enumerate() {
                                planes[i + k * n] = b;
                            }
                        }
                        let mut out = vec![0u32; n];
                        imp(&planes, &mut out);
                        prop_assert_eq!(out, v);
                    }
                }
            }
        }
    };
}

unshuffle_tests!(scalar, Some(unshuffle::scalar::unshuffle));
unshuffle_tests!(dispatch, Some(unshuffle::unshuffle));
#[cfg(target_arch = "x86_64")]
unshuffle_tests!(
    ssse3,
    unshuffle::x86_64::ssse3::Ssse3::new()
        .map(|k| move |p: &[u8], o: &mut [u32]| k.unshuffle(p, o))
);
#[cfg(target_arch = "x86_64")]
unshuffle_tests!(
    avx2,
    unshuffle::x86_64::avx2::Avx2::new().map(|k| move |p: &[u8], o: &mut [u32]| k.unshuffle(p, o))
);
#[cfg(target_arch = "x86_64")]
unshuffle_tests!(
    avx512,
    unshuffle::x86_64::avx512::Avx512::new()
        .map(|k| move |p: &[u8], o: &mut [u32]| k.unshuffle(p, o))
);
#[cfg(target_arch = "aarch64")]
unshuffle_tests!(
    neon,
    unshuffle::aarch64::neon::Neon::new().map(|k| move |p: &[u8], o: &mut [u32]| k.unshuffle(p, o))
);
