//! NUL-terminated strings (the `Z` and `H` values of BAM aux fields) copied out of a record:
//! the bytes before the first NUL, whether they are all ASCII, in one pass.
//!
//! [`copy`] writes the string to the start of `dst` and returns its length and whether it is
//! ASCII, or `None` when `src` holds no NUL. Bytes of `dst` past the string may be overwritten
//! (the AVX2 version stores whole vectors); bytes past `dst` never are.
//!
//! ```
//! use rawarrow_kernels::cstr::{copy, Copied};
//! let mut out = [0u8; 16];
//! assert_eq!(copy(b"151M\0NM", &mut out), Some(Copied { len: 4, ascii: true }));
//! assert_eq!(&out[..4], b"151M");
//! assert_eq!(copy("r\u{e9}\0".as_bytes(), &mut out), Some(Copied { len: 3, ascii: false }));
//! assert_eq!(copy(b"no end", &mut out), None);
//! ```

pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

/// What [`copy`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Bytes before the NUL (written to the start of `dst`).
    pub len: usize,
    /// Whether all of them are below 0x80.
    pub ascii: bool,
}

/// The naive reference.
///
/// # Panics
/// If `dst` is shorter than the string.
pub fn naive(src: &[u8], dst: &mut [u8]) -> Option<Copied> {
    let len = src.iter().position(|&b| b == 0)?;
    dst[..len].copy_from_slice(&src[..len]);
    Some(Copied {
        len,
        ascii: src[..len].is_ascii(),
    })
}

/// Copies the string at the start of `src` with the best implementation for this CPU.
///
/// # Panics
/// If `dst` is shorter than the string (nothing past `dst` is written). A `src` without a NUL is
/// `None` whatever the room.
#[inline]
pub fn copy(src: &[u8], dst: &mut [u8]) -> Option<Copied> {
    // The entry points are sound for any slices once their features are present, which the
    // resolver guarantees.
    crate::ifunc!(
        unsafe fn(src: &[u8], dst: &mut [u8]) -> Option<Copied>,
        resolve()
    )
}

pub(crate) fn resolve() -> unsafe fn(&[u8], &mut [u8]) -> Option<Copied> {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::{level, Level};
        if level() >= Level::Avx512Bw {
            return x86_64::avx512::entry;
        }
        if level() >= Level::Avx2 {
            return x86_64::avx2::entry;
        }
    }
    scalar_entry
}

/// # Safety
/// Always safe; `unsafe` only to share the dispatch pointer type.
unsafe fn scalar_entry(src: &[u8], dst: &mut [u8]) -> Option<Copied> {
    scalar::copy(src, dst)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod dispatch_tests {
    use crate::cpu::{level, Level};

    /// NUL search needs AVX-512 BW for byte masks: AVX-512 from the F/BW level, else AVX2.
    #[test]
    fn dispatches_by_its_own_features() {
        type Cstr = unsafe fn(&[u8], &mut [u8]) -> Option<super::Copied>;
        let got = super::resolve() as usize;
        let avx512 = super::x86_64::avx512::entry as Cstr as usize;
        let avx2 = super::x86_64::avx2::entry as Cstr as usize;
        match level() {
            Level::Avx512 | Level::Avx512Bw => assert_eq!(got, avx512),
            Level::Avx512F | Level::Avx2 => assert_eq!(got, avx2),
            _ => assert!(got != avx512 && got != avx2),
        }
    }
}
