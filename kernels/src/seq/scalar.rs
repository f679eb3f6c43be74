//! Fast portable version: one table lookup per input byte writes two bases.

use super::CODES;

/// Both bases of every possible input byte.
static PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [CODES[i >> 4], CODES[i & 15]];
        i += 1;
    }
    t
};

/// Decodes `out.len()` bases from `packed` (`packed.len() >= out.len().div_ceil(2)`).
///
/// # Panics
/// If `packed` is too short.
#[inline]
pub fn decode(packed: &[u8], out: &mut [u8]) {
    let n = out.len();
    let (pairs, last) = out.split_at_mut(n & !1);
    for (o, &b) in pairs.chunks_exact_mut(2).zip(packed) {
        o.copy_from_slice(&PAIRS[usize::from(b)]);
    }
    if let [last] = last {
        *last = CODES[usize::from(packed[n / 2] >> 4)];
    }
}
