//! Fast portable version: eight bytes at a time, the first NUL found with the carry-free
//! zero-byte test (the lowest flagged byte is exact), the ASCII test folded in.

use super::Copied;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Copies the bytes of `src` before its first NUL to the start of `dst`.
///
/// # Panics
/// If `dst` is shorter than the string.
#[inline]
pub fn copy(src: &[u8], dst: &mut [u8]) -> Option<Copied> {
    let (mut i, mut high) = (0usize, 0u64);
    while let (Some(s), Some(d)) = (src.get(i..i + 8), dst.get_mut(i..i + 8)) {
        let w = u64::from_le_bytes(s.try_into().expect("8 bytes"));
        d.copy_from_slice(s);
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            let k = (zero.trailing_zeros() / 8) as usize;
            high |= w & ((1u64 << (8 * k)) - 1) & HI;
            return Some(Copied {
                len: i + k,
                ascii: high == 0,
            });
        }
        high |= w & HI;
        i += 8;
    }
    // Fewer than eight bytes left in `src` or `dst`.
    let k = src[i..].iter().position(|&b| b == 0)?;
    dst[i..i + k].copy_from_slice(&src[i..i + k]);
    let ascii = high == 0 && src[i..i + k].is_ascii();
    Some(Copied { len: i + k, ascii })
}
