//! timsTOF index → physical unit conversions over `f64` arrays.
//!
//! - [`tof_to_mz`]: `mz = (a + b·tof)²` — the square-root-TOF model (timsrust's boundary model
//!   and Bruker's closed form when only C0/C1 are set, with `a`, `b` precomputed).
//! - [`scan_to_im`]: `im = c + d·scan` — the linear 1/K0 model.
//!
//! Every implementation evaluates the same operations in the same order with separate multiply
//! and add (never a fused multiply-add), so the results are **bit for bit** those of the scalar
//! formula. `u32` → `f64` conversion is exact.
//!
//! ```
//! let mut mz = [0.0; 2];
//! rawarrow_kernels::calib::tof_to_mz(&[0, 100], 10.0, 0.5, &mut mz);
//! assert_eq!(mz, [100.0, 3600.0]);
//! ```

pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[allow(clippy::needless_range_loop)] // deliberately the textbook loop
/// The naive reference for [`tof_to_mz`].
pub fn naive_mz(tof: &[u32], a: f64, b: f64, out: &mut [f64]) {
    for i in 0..tof.len() {
        let x = a + b * f64::from(tof[i]);
        out[i] = x * x;
    }
}

#[allow(clippy::needless_range_loop)] // deliberately the textbook loop
/// The naive reference for [`scan_to_im`].
pub fn naive_im(scan: &[u32], c: f64, d: f64, out: &mut [f64]) {
    for i in 0..scan.len() {
        out[i] = c + d * f64::from(scan[i]);
    }
}

/// `out[i] = (a + b·tof[i])²` with the best implementation for this CPU.
///
/// # Panics
/// If the lengths differ.
pub fn tof_to_mz(tof: &[u32], a: f64, b: f64, out: &mut [f64]) {
    assert_eq!(tof.len(), out.len(), "m/z output length");
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if let Some(k) = avx512() {
            return k.tof_to_mz(tof, a, b, out);
        }
        if level() >= Level::Avx2 {
            if let Some(k) = x86_64::avx2::Avx2::new() {
                return k.tof_to_mz(tof, a, b, out);
            }
        }
    }
    scalar::tof_to_mz(tof, a, b, out)
}

/// `out[i] = c + d·scan[i]` with the best implementation for this CPU.
///
/// # Panics
/// If the lengths differ.
pub fn scan_to_im(scan: &[u32], c: f64, d: f64, out: &mut [f64]) {
    assert_eq!(scan.len(), out.len(), "1/K0 output length");
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if let Some(k) = avx512() {
            return k.scan_to_im(scan, c, d, out);
        }
        if level() >= Level::Avx2 {
            if let Some(k) = x86_64::avx2::Avx2::new() {
                return k.scan_to_im(scan, c, d, out);
            }
        }
    }
    scalar::scan_to_im(scan, c, d, out)
}

/// The AVX-512 implementation, when dispatch may use it: it needs AVX-512 F alone (32- and
/// 64-bit lanes), so it runs from [`Level::Avx512F`](crate::cpu::Level::Avx512F) up.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512() -> Option<x86_64::avx512::Avx512> {
    use crate::cpu::{level, Level};
    (level() >= Level::Avx512F)
        .then(x86_64::avx512::Avx512::new)
        .flatten()
}

#[cfg(all(test, target_arch = "x86_64"))]
mod dispatch_tests {
    use crate::cpu::{level, Level};

    /// Double lanes need AVX-512 F alone: the AVX-512 code from the F level up.
    #[test]
    fn dispatches_by_its_own_features() {
        assert_eq!(super::avx512().is_some(), level() >= Level::Avx512F);
    }
}
