//! Every run-length expander against the naive reference, bit for bit, with guard slots around
//! the output (the SIMD versions store past a run's end and must never pass the output's).

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::runs::{self, Lane};

/// Splits `n` slots into runs of varied lengths, empty runs included (also at both ends).
fn counts(n: usize, seed: usize) -> Vec<u32> {
    let mut out = vec![0];
    let mut left = n;
    let mut k = seed | 1;
    while left > 0 {
        k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        // Mostly short runs, some longer than a vector, some much longer.
        let take = match (k >> 4) % 8 {
            0 => (k >> 9) % 200,
            1..=3 => (k >> 9) % 20,
            _ => (k >> 9) % 5,
        }
        .min(left);
        out.push(take as u32);
        if k.is_multiple_of(5) {
            out.push(0);
        }
        left -= take;
    }
    out.push(0);
    out
}

fn u32s(n: usize, seed: u64) -> Vec<u32> {
    sweep::bytes(4 * n, seed)
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Random bit patterns as `f64`: NaNs with payloads, infinities, subnormals, signed zeros.
fn f64s(n: usize, seed: u64) -> Vec<f64> {
    sweep::bytes(8 * n, seed)
        .chunks_exact(8)
        .map(|b| f64::from_bits(u64::from_le_bytes(b.try_into().expect("8 bytes"))))
        .collect()
}

type Imp<T> = fn(&[u32], &[T], &mut [T]) -> bool;

/// Runs `imp` into a guarded buffer and compares bit patterns with the naive expansion.
fn check<T: Lane + PartialEq + std::fmt::Debug>(
    imp: Imp<T>,
    counts: &[u32],
    values: &[T],
    out_off: usize,
    guard: T,
    bits: impl Fn(T) -> u64,
) -> bool {
    let n: usize = counts.iter().map(|&c| c as usize).sum();
    let mut expect = vec![guard; n];
    runs::naive(counts, values, &mut expect);
    let mut buf = vec![guard; n + out_off + 40];
    if !imp(counts, values, &mut buf[out_off..out_off + n]) {
        return false;
    }
    let got: Vec<u64> = buf[out_off..out_off + n].iter().map(|&v| bits(v)).collect();
    let want: Vec<u64> = expect.iter().map(|&v| bits(v)).collect();
    assert_eq!(got, want, "n={n} counts={counts:?}");
    assert!(
        buf[..out_off]
            .iter()
            .chain(&buf[out_off + n..])
            .all(|&v| bits(v) == bits(guard)),
        "wrote outside the output: n={n} counts={counts:?}"
    );
    true
}

fn check_both(imp32: Imp<u32>, imp64: Imp<f64>, counts: &[u32], seed: u64, out_off: usize) -> bool {
    let a = check(
        imp32,
        counts,
        &u32s(counts.len(), seed),
        out_off,
        0xDEAD_BEEF,
        u64::from,
    );
    let b = check(
        imp64,
        counts,
        &f64s(counts.len(), seed + 1),
        out_off,
        f64::from_bits(0x7FF8_DEAD_BEEF_0001),
        f64::to_bits,
    );
    a && b
}

macro_rules! runs_tests {
    ($name:ident, $imp:ident) => {
        mod $name {
            use super::*;

            #[test]
            fn lengths_and_alignments() {
                let mut ran = false;
                sweep::sweep(|n, in_off, out_off| {
                    let c = counts(n, n * 64 + in_off);
                    ran |= check_both($imp::<u32>, $imp::<f64>, &c, in_off as u64, out_off % 16);
                });
                if !ran {
                    eprintln!("skipped: CPU lacks the features");
                }
            }

            #[test]
            fn single_runs_unit_runs_and_vector_boundaries() {
                for n in [0usize, 1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 100, 1000] {
                    check_both($imp::<u32>, $imp::<f64>, &[n as u32], 3, 5);
                    check_both($imp::<u32>, $imp::<f64>, &vec![1; n], 4, 0);
                    // Runs ending exactly on 4-, 8- and 16-lane boundaries, then empty runs.
                    check_both($imp::<u32>, $imp::<f64>, &[4, 8, 16, n as u32, 0, 0], 5, 1);
                    check_both($imp::<u32>, $imp::<f64>, &[n as u32, 1, 0, 2], 6, 7);
                }
                check_both($imp::<u32>, $imp::<f64>, &[], 7, 0);
                check_both($imp::<u32>, $imp::<f64>, &[0, 0, 0], 8, 3);
            }

            #[test]
            fn other_lane_types() {
                let c = counts(500, 11);
                let i: Vec<i32> = u32s(c.len(), 12).into_iter().map(|v| v as i32).collect();
                check($imp::<i32>, &c, &i, 3, -1, |v| u64::from(v as u32));
                let u: Vec<u64> = f64s(c.len(), 13).into_iter().map(f64::to_bits).collect();
                check($imp::<u64>, &c, &u, 1, u64::MAX, |v| v);
            }

            proptest! {
                #[test]
                fn random(c in proptest::collection::vec(0u32..40, 0..60), seed in any::<u64>(), off in 0usize..16) {
                    check_both($imp::<u32>, $imp::<f64>, &c, seed, off);
                }
            }
        }
    };
}

fn scalar<T: Lane>(c: &[u32], v: &[T], o: &mut [T]) -> bool {
    runs::scalar::expand(c, v, o);
    true
}

fn dispatch<T: Lane>(c: &[u32], v: &[T], o: &mut [T]) -> bool {
    runs::expand(c, v, o);
    true
}

/// `fill` as one run.
fn fill<T: Lane>(c: &[u32], v: &[T], o: &mut [T]) -> bool {
    let mut at = 0;
    for (&c, &v) in c.iter().zip(v) {
        runs::fill(v, &mut o[at..at + c as usize]);
        at += c as usize;
    }
    true
}

#[cfg(target_arch = "x86_64")]
fn avx2<T: Lane>(c: &[u32], v: &[T], o: &mut [T]) -> bool {
    runs::x86_64::avx2::Avx2::new()
        .map(|k| k.expand(c, v, o))
        .is_some()
}

#[cfg(target_arch = "x86_64")]
fn avx512<T: Lane>(c: &[u32], v: &[T], o: &mut [T]) -> bool {
    runs::x86_64::avx512::Avx512::new()
        .map(|k| k.expand(c, v, o))
        .is_some()
}

runs_tests!(scalar_tests, scalar);
runs_tests!(dispatch_tests, dispatch);
runs_tests!(fill_tests, fill);
#[cfg(target_arch = "x86_64")]
runs_tests!(avx2_tests, avx2);
#[cfg(target_arch = "x86_64")]
runs_tests!(avx512_tests, avx512);

#[test]
#[should_panic(expected = "sum to the output length")]
fn counts_must_cover_the_output() {
    runs::expand(&[1, 1], &[1u32, 2], &mut [0; 3]);
}

#[test]
#[should_panic(expected = "one value per run")]
fn one_value_per_run() {
    runs::expand(&[1, 1], &[1u32], &mut [0; 2]);
}
