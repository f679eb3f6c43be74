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

macro_rules! pairs_tests {
    ($name:ident, $imp:expr) => {
        mod $name {
            use super::*;

            type Pairs = dyn Fn(&[u8], usize, &mut [u32], &mut [u32]);

            fn imp() -> Option<Box<Pairs>> {
                $imp
            }

            /// Values `from..` of `planes` split, against the naive split, with guard values
            /// around both outputs.
            fn check(imp: &Pairs, planes: &[u8], from: usize, out_off: usize) {
                let k = (planes.len() / 4 - from) / 2;
                let (mut e0, mut o0) = (vec![0u32; k], vec![0u32; k]);
                unshuffle::naive_pairs(planes, from, &mut e0, &mut o0);
                let mut e = vec![0xDEAD_BEEFu32; k + out_off + 16];
                let mut o = vec![0xFEED_F00Du32; k + out_off + 16];
                imp(planes, from, &mut e[out_off..out_off + k], &mut o[out_off..out_off + k]);
                assert_eq!(&e[out_off..out_off + k], &e0[..], "even n={} from={from}", planes.len() / 4);
                assert_eq!(&o[out_off..out_off + k], &o0[..], "odd n={} from={from}", planes.len() / 4);
                assert!(e[..out_off].iter().chain(&e[out_off + k..]).all(|&v| v == 0xDEAD_BEEF));
                assert!(o[..out_off].iter().chain(&o[out_off + k..]).all(|&v| v == 0xFEED_F00D));
            }

            #[test]
            fn lengths_offsets_and_alignments() {
                let Some(imp) = imp() else {
                    eprintln!("skipped: CPU lacks the features");
                    return;
                };
                let data = sweep::bytes(4 * 300 + 64, 15);
                sweep::sweep(|n, in_off, out_off| {
                    // Every `from` of the same parity as `n` (whole pairs), a few per length.
                    for from in (n % 2..=n).step_by(2).filter(|f| f % 7 < 2 || n - f < 4) {
                        check(&*imp, &data[in_off..in_off + 4 * n], from, out_off % 16);
                    }
                });
            }

            #[test]
            fn a_frame_sized_run() {
                let Some(imp) = imp() else { return };
                // 918 scan words then 100,000 pairs, like a generated frame.
                let n = 918 + 200_000;
                check(&*imp, &sweep::bytes(4 * n, 16), 918, 0);
            }

            proptest! {
                #[test]
                fn random(head in proptest::collection::vec(any::<u32>(), 0..40), pairs in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..200)) {
                    if let Some(imp) = imp() {
                        // Planes built from known values; the kernel must give the pairs back.
                        let v: Vec<u32> = head.iter().copied().chain(pairs.iter().flat_map(|&(a, b)| [a, b])).collect();
                        let n = v.len();
                        let mut planes = vec![0u8; 4 * n];
                        for (i, x) in v.iter().enumerate() {
                            for (k, b) in x.to_le_bytes().into_iter().enumerate() {
                                planes[i + k * n] = b;
                            }
                        }
                        let (mut e, mut o) = (vec![0; pairs.len()], vec![0; pairs.len()]);
                        imp(&planes, head.len(), &mut e, &mut o);
                        prop_assert_eq!(e, pairs.iter().map(|p| p.0).collect::<Vec<_>>());
                        prop_assert_eq!(o, pairs.iter().map(|p| p.1).collect::<Vec<_>>());
                    }
                }
            }
        }
    };
}

pairs_tests!(pairs_scalar, Some(Box::new(unshuffle::scalar::pairs)));
pairs_tests!(pairs_dispatch, Some(Box::new(unshuffle::pairs)));
#[cfg(target_arch = "x86_64")]
pairs_tests!(
    pairs_avx2,
    unshuffle::x86_64::avx2::Avx2::new().map(|k| Box::new(
        move |p: &[u8], f: usize, e: &mut [u32], o: &mut [u32]| k.pairs(p, f, e, o)
    ) as Box<Pairs>)
);
#[cfg(target_arch = "x86_64")]
pairs_tests!(
    pairs_avx512,
    unshuffle::x86_64::avx512::Avx512::new().map(|k| Box::new(
        move |p: &[u8], f: usize, e: &mut [u32], o: &mut [u32]| k.pairs(p, f, e, o)
    ) as Box<Pairs>)
);

#[test]
#[should_panic(expected = "from `from` to the end")]
fn pairs_must_reach_the_end() {
    unshuffle::pairs(&[0; 20], 0, &mut [0; 2], &mut [0; 2]);
}
