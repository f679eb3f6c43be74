//! Portable version (iterators; the compiler may vectorise, never fuse: Rust does not contract
//! floating-point operations).

/// `out[i] = (a + b·tof[i])²`.
///
/// # Panics
/// If the lengths differ.
pub fn tof_to_mz(tof: &[u32], a: f64, b: f64, out: &mut [f64]) {
    assert_eq!(tof.len(), out.len(), "m/z output length");
    for (o, &t) in out.iter_mut().zip(tof) {
        let x = a + b * f64::from(t);
        *o = x * x;
    }
}

/// `out[i] = c + d·scan[i]`.
///
/// # Panics
/// If the lengths differ.
pub fn scan_to_im(scan: &[u32], c: f64, d: f64, out: &mut [f64]) {
    assert_eq!(scan.len(), out.len(), "1/K0 output length");
    for (o, &s) in out.iter_mut().zip(scan) {
        *o = c + d * f64::from(s);
    }
}
