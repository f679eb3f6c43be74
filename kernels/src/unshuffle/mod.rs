//! Byte-plane unshuffle: timsTOF frame blobs store `n` `u32` values as four planes of `n` bytes
//! (`planes[i + k*n]` is byte `k`, little-endian order, of value `i`). [`unshuffle`] rebuilds the
//! values; [`pairs`] rebuilds those from an offset on, split alternately into two outputs (a
//! frame's (TOF delta, intensity) pairs after its per-scan counts), without the interleaved copy.
//!
//! ```
//! // Values 0x04030201 and 0x08070605, plane by plane.
//! let planes = [1, 5, 2, 6, 3, 7, 4, 8];
//! let mut out = [0u32; 2];
//! rawarrow_kernels::unshuffle::unshuffle(&planes, &mut out);
//! assert_eq!(out, [0x0403_0201, 0x0807_0605]);
//! ```

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[allow(clippy::needless_range_loop)] // deliberately the textbook loop
/// The naive reference.
pub fn naive(planes: &[u8], out: &mut [u32]) {
    let n = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = u32::from_le_bytes([
            planes[i],
            planes[i + n],
            planes[i + 2 * n],
            planes[i + 3 * n],
        ]);
    }
}

#[allow(clippy::needless_range_loop)] // deliberately the textbook loop
/// The naive reference for [`pairs`].
pub fn naive_pairs(planes: &[u8], from: usize, even: &mut [u32], odd: &mut [u32]) {
    let n = planes.len() / 4;
    for k in 0..even.len() {
        for (j, out) in [
            (from + 2 * k, &mut even[k]),
            (from + 2 * k + 1, &mut odd[k]),
        ] {
            *out = u32::from_le_bytes([
                planes[j],
                planes[j + n],
                planes[j + 2 * n],
                planes[j + 3 * n],
            ]);
        }
    }
}

/// Checks [`pairs`]' preconditions.
///
/// # Panics
/// If `planes` is not whole values or `from + 2·even.len()` is not its value count, or the
/// outputs differ in length.
#[inline]
pub(crate) fn check_pairs(planes: &[u8], from: usize, even: &[u32], odd: &[u32]) {
    assert_eq!(
        planes.len() % 4,
        0,
        "byte planes must hold 4 bytes per value"
    );
    assert_eq!(
        even.len(),
        odd.len(),
        "pair outputs must have equal lengths"
    );
    assert_eq!(
        from.checked_add(2 * even.len()),
        Some(planes.len() / 4),
        "the pairs must be the values from `from` to the end"
    );
}

/// Values `from..` of the `planes.len() / 4` values in `planes`, split alternately: value
/// `from + 2k` into `even[k]`, value `from + 2k + 1` into `odd[k]`, with the best implementation
/// for this CPU.
///
/// ```
/// // Values 10, 11, 12, 13, 14 (one byte each): from 1 on, pairs (11, 12) and (13, 14).
/// let mut planes = vec![0u8; 20];
/// planes[..5].copy_from_slice(&[10, 11, 12, 13, 14]);
/// let (mut even, mut odd) = ([0u32; 2], [0u32; 2]);
/// rawarrow_kernels::unshuffle::pairs(&planes, 1, &mut even, &mut odd);
/// assert_eq!((even, odd), ([11, 13], [12, 14]));
/// ```
///
/// # Panics
/// If `planes` is not whole values, the outputs differ in length, or `from + 2·even.len()` is not
/// the number of values.
pub fn pairs(planes: &[u8], from: usize, even: &mut [u32], odd: &mut [u32]) {
    // Every implementation checks the preconditions itself.
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if level() >= Level::Avx512 {
            if let Some(k) = x86_64::avx512::Avx512::new() {
                return k.pairs(planes, from, even, odd);
            }
        }
        if level() >= Level::Avx2 {
            if let Some(k) = x86_64::avx2::Avx2::new() {
                return k.pairs(planes, from, even, odd);
            }
        }
    }
    scalar::pairs(planes, from, even, odd)
}

/// Rebuilds `out.len()` values from `planes` (`4 * out.len()` bytes) with the best implementation
/// for this CPU.
///
/// # Panics
/// If `planes.len() != 4 * out.len()`.
pub fn unshuffle(planes: &[u8], out: &mut [u32]) {
    assert_eq!(
        planes.len(),
        4 * out.len(),
        "byte planes must hold 4 bytes per value"
    );
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if level() >= Level::Avx512 {
            if let Some(k) = x86_64::avx512::Avx512::new() {
                return k.unshuffle(planes, out);
            }
        }
        if level() >= Level::Avx2 {
            if let Some(k) = x86_64::avx2::Avx2::new() {
                return k.unshuffle(planes, out);
            }
        }
        if level() >= Level::Simd128 {
            if let Some(k) = x86_64::ssse3::Ssse3::new() {
                return k.unshuffle(planes, out);
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use crate::cpu::{level, Level};
        if level() >= Level::Simd128 {
            if let Some(k) = aarch64::neon::Neon::new() {
                return k.unshuffle(planes, out);
            }
        }
    }
    scalar::unshuffle(planes, out)
}

/// The four planes of `planes` for `n` values.
#[inline]
pub(crate) fn split(planes: &[u8], n: usize) -> [&[u8]; 4] {
    let (p0, rest) = planes.split_at(n);
    let (p1, rest) = rest.split_at(n);
    let (p2, p3) = rest.split_at(n);
    [p0, p1, p2, &p3[..n]]
}

/// Scalar tail of [`pairs`] shared by the SIMD versions: pairs `k..`.
#[inline]
pub(crate) fn pairs_tail(planes: &[u8], from: usize, even: &mut [u32], odd: &mut [u32], k: usize) {
    let [p0, p1, p2, p3] = split(planes, planes.len() / 4);
    let word = |j: usize| u32::from_le_bytes([p0[j], p1[j], p2[j], p3[j]]);
    for (i, (e, o)) in even.iter_mut().zip(odd.iter_mut()).enumerate().skip(k) {
        *e = word(from + 2 * i);
        *o = word(from + 2 * i + 1);
    }
}

/// Scalar tail shared by the SIMD versions: values `from..` of `out`.
#[inline]
pub(crate) fn tail(planes: &[u8], out: &mut [u32], from: usize) {
    let [p0, p1, p2, p3] = split(planes, out.len());
    for (i, o) in out.iter_mut().enumerate().skip(from) {
        *o = u32::from_le_bytes([p0[i], p1[i], p2[i], p3[i]]);
    }
}
