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

/// Values `from..` split alternately into `even` and `odd` (see [`super::pairs`]).
///
/// # Panics
/// As [`super::pairs`].
pub fn pairs(planes: &[u8], from: usize, even: &mut [u32], odd: &mut [u32]) {
    super::check_pairs(planes, from, even, odd);
    let n = planes.len() / 4;
    let [p0, p1, p2, p3] = super::split(planes, n);
    let (p0, p1, p2, p3) = (&p0[from..], &p1[from..], &p2[from..], &p3[from..]);
    let planes = p0
        .chunks_exact(2)
        .zip(p1.chunks_exact(2))
        .zip(p2.chunks_exact(2))
        .zip(p3.chunks_exact(2));
    for ((e, o), (((a, b), c), d)) in even.iter_mut().zip(odd.iter_mut()).zip(planes) {
        *e = u32::from_le_bytes([a[0], b[0], c[0], d[0]]);
        *o = u32::from_le_bytes([a[1], b[1], c[1], d[1]]);
    }
}
