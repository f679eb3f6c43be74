//! Every per-scan delta decoder against the naive reference.

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::delta;

fn words(n: usize, seed: u64, small: bool) -> Vec<u32> {
    sweep::bytes(4 * n, seed)
        .chunks_exact(4)
        .map(|b| {
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if small {
                v % 300
            } else {
                v
            }
        })
        .collect()
}

/// Splits `n` peaks into scans of varied sizes, empty scans included.
fn scans(n: usize, seed: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let mut left = n;
    let mut k = seed;
    while left > 0 {
        k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let take = ((k >> 8) % 70).min(left);
        out.push(take as u32);
        if k.is_multiple_of(7) {
            out.push(0);
        }
        left -= take;
    }
    out
}

macro_rules! delta_tests {
    ($name:ident, $imp:expr) => {
        mod $name {
            use super::*;

            fn imp() -> Option<impl Fn(&[u32], &[u32], &mut [u32])> {
                $imp
            }

            fn check(imp: &impl Fn(&[u32], &[u32], &mut [u32]), d: &[u32], s: &[u32], out_off: usize) {
                let mut expect = vec![0u32; d.len()];
                delta::naive(d, s, &mut expect);
                let mut buf = vec![7u32; d.len() + out_off + 16];
                imp(d, s, &mut buf[out_off..out_off + d.len()]);
                assert_eq!(&buf[out_off..out_off + d.len()], &expect[..], "n={} scans={s:?}", d.len());
                assert!(buf[..out_off].iter().chain(&buf[out_off + d.len()..]).all(|&v| v == 7));
            }

            #[test]
            fn lengths_and_alignments() {
                let Some(imp) = imp() else {
                    eprintln!("skipped: CPU lacks the features");
                    return;
                };
                let data = words(300 + 64, 8, true);
                sweep::sweep(|n, in_off, out_off| {
                    let d = &data[in_off..in_off + n];
                    // One scan holding everything, and varied scans.
                    check(&imp, d, &[n as u32], out_off % 16);
                    check(&imp, d, &scans(n, n * 64 + in_off), out_off % 16);
                });
            }

            #[test]
            fn wrapping_and_large() {
                let Some(imp) = imp() else { return };
                let big = words(50_000, 9, false); // sums wrap many times
                check(&imp, &big, &[50_000], 0);
                check(&imp, &big, &scans(50_000, 3), 0);
                check(&imp, &[0, 0, 0], &[3], 0); // 0 - 1 wraps to u32::MAX
                check(&imp, &[], &[], 0);
                check(&imp, &[], &[0, 0], 0);
            }

            proptest! {
                #[test]
                fn random(d in proptest::collection::vec(any::<u32>(), 0..400), seed in any::<usize>()) {
                    if let Some(imp) = imp() {
                        check(&imp, &d, &scans(d.len(), seed), 0);
                    }
                }
            }
        }
    };
}

delta_tests!(scalar, Some(delta::scalar::decode));
delta_tests!(dispatch, Some(delta::decode));
#[cfg(target_arch = "x86_64")]
delta_tests!(
    sse41,
    delta::x86_64::sse41::Sse41::new()
        .map(|k| move |d: &[u32], s: &[u32], o: &mut [u32]| k.decode(d, s, o))
);
#[cfg(target_arch = "x86_64")]
delta_tests!(
    avx2,
    delta::x86_64::avx2::Avx2::new()
        .map(|k| move |d: &[u32], s: &[u32], o: &mut [u32]| k.decode(d, s, o))
);
#[cfg(target_arch = "x86_64")]
delta_tests!(
    avx512,
    delta::x86_64::avx512::Avx512::new()
        .map(|k| move |d: &[u32], s: &[u32], o: &mut [u32]| k.decode(d, s, o))
);

#[test]
#[should_panic(expected = "sum to the number")]
fn scan_counts_must_cover_the_deltas() {
    delta::decode(&[1, 2, 3], &[1, 1], &mut [0; 3]);
}
