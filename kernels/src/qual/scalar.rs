//! Fast portable version: branch-free saturation, written so the compiler can vectorise it.

use super::MAX_PRINTABLE;

/// Writes `min(q, 93) + 33` for every byte; returns whether any byte exceeded 93.
/// Does not test for absent quality (see [`super::encode`]).
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn add33(qual: &[u8], out: &mut [u8]) -> bool {
    assert_eq!(qual.len(), out.len(), "quality output length");
    let mut over = 0u8;
    for (o, &q) in out.iter_mut().zip(qual) {
        over |= q.saturating_sub(MAX_PRINTABLE);
        *o = q.min(MAX_PRINTABLE) + 33;
    }
    over != 0
}
