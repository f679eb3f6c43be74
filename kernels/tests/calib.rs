//! TOF → m/z and scan → 1/K0: every implementation bit for bit equal to the scalar formula.

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::calib;

/// Realistic calibrations (timsTOF: m/z 100–1700 over ~400k TOF bins; 1/K0 0.6–1.6 over ~1000 scans)
/// and edge values.
const MZ: &[(f64, f64)] = &[
    (10.0, 0.5),
    (9.974_526_347, 1.013_847_1e-4),
    (0.0, 0.0),
    (-3.5, 1e-9),
    (1e6, -2.5e-3),
];
const IM: &[(f64, f64)] = &[
    (1.6, -0.001),
    (0.6, 0.001_046_8),
    (0.0, 1.0),
    (-1e300, 1e300),
];

fn tofs(n: usize, seed: u64) -> Vec<u32> {
    let mut v: Vec<u32> = sweep::bytes(4 * n, seed)
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    // Edge values at varied lanes: 0, max, around 2^31 (the signed-conversion boundary).
    for (i, e) in [0, u32::MAX, 1 << 31, (1 << 31) - 1, (1 << 31) + 1, 1]
        .into_iter()
        .enumerate()
    {
        if let Some(x) = v.get_mut(i * 5 % n.max(1)) {
            *x = e;
        }
    }
    v
}

macro_rules! calib_tests {
    ($name:ident, $mz:expr, $im:expr) => {
        mod $name {
            use super::*;

            #[allow(clippy::type_complexity)]
            fn imps() -> Option<(impl Fn(&[u32], f64, f64, &mut [f64]), impl Fn(&[u32], f64, f64, &mut [f64]))> {
                Some(($mz?, $im?))
            }

            fn check(f: &impl Fn(&[u32], f64, f64, &mut [f64]), naive: fn(&[u32], f64, f64, &mut [f64]), x: &[u32], a: f64, b: f64) {
                let mut expect = vec![0f64; x.len()];
                naive(x, a, b, &mut expect);
                let mut got = vec![f64::NAN; x.len() + 8];
                f(x, a, b, &mut got[..x.len()]);
                for (i, (g, e)) in got.iter().zip(&expect).enumerate() {
                    assert_eq!(g.to_bits(), e.to_bits(), "i={i} x={} a={a} b={b}", x[i]);
                }
                assert!(got[x.len()..].iter().all(|v| v.is_nan()), "wrote past the output");
            }

            #[test]
            fn bit_exact_on_every_length() {
                let Some((mz, im)) = imps() else {
                    eprintln!("skipped: CPU lacks the features");
                    return;
                };
                let data = tofs(300 + 64, 10);
                sweep::sweep(|n, in_off, _| {
                    if in_off % 4 == 0 {
                        let x = &data[in_off..in_off + n];
                        let (a, b) = MZ[n % MZ.len()];
                        check(&mz, calib::naive_mz, x, a, b);
                        let (c, d) = IM[in_off / 4 % IM.len()];
                        check(&im, calib::naive_im, x, c, d);
                    }
                });
            }

            proptest! {
                #[test]
                fn random(x in proptest::collection::vec(any::<u32>(), 0..200), a in -1e4f64..1e4, b in -1.0f64..1.0) {
                    if let Some((mz, im)) = imps() {
                        check(&mz, calib::naive_mz, &x, a, b);
                        check(&im, calib::naive_im, &x, a, b);
                    }
                }
            }
        }
    };
}

calib_tests!(
    scalar,
    Some(calib::scalar::tof_to_mz),
    Some(calib::scalar::scan_to_im)
);
calib_tests!(dispatch, Some(calib::tof_to_mz), Some(calib::scan_to_im));
#[cfg(target_arch = "x86_64")]
calib_tests!(
    avx2,
    calib::x86_64::avx2::Avx2::new()
        .map(|k| move |t: &[u32], a, b, o: &mut [f64]| k.tof_to_mz(t, a, b, o)),
    calib::x86_64::avx2::Avx2::new()
        .map(|k| move |t: &[u32], a, b, o: &mut [f64]| k.scan_to_im(t, a, b, o))
);
#[cfg(target_arch = "x86_64")]
calib_tests!(
    avx512,
    calib::x86_64::avx512::Avx512::new()
        .map(|k| move |t: &[u32], a, b, o: &mut [f64]| k.tof_to_mz(t, a, b, o)),
    calib::x86_64::avx512::Avx512::new()
        .map(|k| move |t: &[u32], a, b, o: &mut [f64]| k.scan_to_im(t, a, b, o))
);
