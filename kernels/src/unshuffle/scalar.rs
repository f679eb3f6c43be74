//! Fast portable version: the four planes zipped, no index arithmetic per byte.

/// Rebuilds `out.len()` values from `planes`.
///
/// # Panics
/// If `planes.len() != 4 * out.len()`.
pub fn unshuffle(planes: &[u8], out: &mut [u32]) {
    assert_eq!(
        planes.len(),
        4 * out.len(),
        "byte planes must hold 4 bytes per value"
    );
    let [p0, p1, p2, p3] = super::split(planes, out.len());
    for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(p0).zip(p1).zip(p2).zip(p3) {
        *o = u32::from_le_bytes([a, b, c, d]);
    }
}
