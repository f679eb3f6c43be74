//! Decimal text of unsigned 32-bit integers, two digits at a time from a table: the digit count
//! from comparisons, then the text written from its end (the divisions are by the constant 100,
//! which compile to a multiply). Used for CIGAR lengths and aux integers. Scalar on purpose: the
//! data-dependent length is what the loop waits on, where SIMD does not pay.
//!
//! ```
//! let mut out = [0u8; 10];
//! let n = rawarrow_kernels::decimal::write_u32(4_294_967_295, &mut out);
//! assert_eq!(&out[..n], b"4294967295");
//! ```

static PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Most bytes [`write_u32`] writes.
pub const MAX_DIGITS: usize = 10;

/// Number of decimal digits of `v`.
#[inline]
pub fn digits(v: u32) -> usize {
    match v {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1_000..=9_999 => 4,
        10_000..=99_999 => 5,
        100_000..=999_999 => 6,
        1_000_000..=9_999_999 => 7,
        10_000_000..=99_999_999 => 8,
        100_000_000..=999_999_999 => 9,
        _ => 10,
    }
}

/// Writes `v` in decimal at the start of `out`; returns its length ([`digits`]).
///
/// # Panics
/// If `out` is shorter than that.
#[inline]
pub fn write_u32(v: u32, out: &mut [u8]) -> usize {
    let n = digits(v);
    let (mut v, mut end) = (v, n);
    while v >= 100 {
        end -= 2;
        out[end..end + 2].copy_from_slice(&PAIRS[(v % 100) as usize]);
        v /= 100;
    }
    if v >= 10 {
        out[..2].copy_from_slice(&PAIRS[v as usize]);
    } else {
        out[0] = b'0' + v as u8;
    }
    n
}

/// The text of every `u8`, left-aligned in three bytes, and its length.
static BYTES: [([u8; 3], u8); 256] = {
    let mut t = [([0u8; 3], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let (h, d, u) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = if i >= 100 {
            ([b'0' + h, b'0' + d, b'0' + u], 3)
        } else if i >= 10 {
            ([b'0' + d, b'0' + u, 0], 2)
        } else {
            ([b'0' + u, 0, 0], 1)
        };
        i += 1;
    }
    t
};

/// Writes `v` in decimal at the start of `out` with one three-byte store from a table (the
/// bytes past the returned length, up to the third, are overwritten); returns its length.
///
/// # Panics
/// If `out` is shorter than three bytes.
#[inline]
pub fn write_u8(v: u8, out: &mut [u8]) -> usize {
    let (text, len) = &BYTES[usize::from(v)];
    out[..3].copy_from_slice(text);
    usize::from(*len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_like_the_standard_formatter() {
        for v in 0..=255u8 {
            let mut out = [0xaau8; 4];
            let n = write_u8(v, &mut out);
            assert_eq!(&out[..n], v.to_string().as_bytes(), "{v}");
            assert_eq!(out[3], 0xaa, "wrote past the third byte");
        }
    }

    #[test]
    fn every_width_and_its_edges_like_the_standard_formatter() {
        let mut values = vec![0, u32::MAX];
        for p in 0..10 {
            let t = 10u32.pow(p);
            values.extend([t - 1, t, t + 1, t.saturating_mul(3) / 2]);
        }
        values.extend((0..100_000u32).map(|i| i.wrapping_mul(2_654_435_761)));
        let mut out = [0xaau8; MAX_DIGITS];
        for v in values {
            let n = write_u32(v, &mut out);
            assert_eq!(&out[..n], v.to_string().as_bytes(), "{v}");
        }
    }
}
