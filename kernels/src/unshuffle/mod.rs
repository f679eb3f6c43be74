//! Byte-plane unshuffle: timsTOF frame blobs store `n` `u32` values as four planes of `n` bytes
//! (`planes[i + k*n]` is byte `k`, little-endian order, of value `i`). [`unshuffle`] rebuilds the
//! values.
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

/// Scalar tail shared by the SIMD versions: values `from..` of `out`.
#[inline]
pub(crate) fn tail(planes: &[u8], out: &mut [u32], from: usize) {
    let [p0, p1, p2, p3] = split(planes, out.len());
    for (i, o) in out.iter_mut().enumerate().skip(from) {
        *o = u32::from_le_bytes([p0[i], p1[i], p2[i], p3[i]]);
    }
}
