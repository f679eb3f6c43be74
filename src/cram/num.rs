//! CRAM's integer encodings, read through `&mut &[u8]` cursors: ITF8 (1–5 bytes, 32 bits),
//! LTF8 (1–9 bytes, 64 bits), fixed little-endian words.

use super::error::Cause;

/// Takes `n` bytes.
#[inline]
pub(crate) fn take<'a>(
    src: &mut &'a [u8],
    n: usize,
    what: &'static str,
) -> Result<&'a [u8], Cause> {
    if src.len() < n {
        return Err(Cause::Truncated(what));
    }
    let (head, rest) = src.split_at(n);
    *src = rest;
    Ok(head)
}

#[inline]
pub(crate) fn u8(src: &mut &[u8], what: &'static str) -> Result<u8, Cause> {
    Ok(take(src, 1, what)?[0])
}

pub(crate) fn u32le(src: &mut &[u8], what: &'static str) -> Result<u32, Cause> {
    let b = take(src, 4, what)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn i32le(src: &mut &[u8], what: &'static str) -> Result<i32, Cause> {
    Ok(u32le(src, what)? as i32)
}

/// ITF8: the count of leading 1 bits of the first byte is the count of bytes that follow (the
/// fifth byte gives only its low 4 bits).
#[inline]
pub(crate) fn itf8(src: &mut &[u8], what: &'static str) -> Result<i32, Cause> {
    let b0 = u32::from(u8(src, what)?);
    let v = if b0 < 0x80 {
        b0
    } else if b0 < 0xc0 {
        let b = take(src, 1, what)?;
        ((b0 & 0x3f) << 8) | u32::from(b[0])
    } else if b0 < 0xe0 {
        let b = take(src, 2, what)?;
        ((b0 & 0x1f) << 16) | (u32::from(b[0]) << 8) | u32::from(b[1])
    } else if b0 < 0xf0 {
        let b = take(src, 3, what)?;
        ((b0 & 0x0f) << 24) | (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
    } else {
        let b = take(src, 4, what)?;
        ((b0 & 0x0f) << 28)
            | (u32::from(b[0]) << 20)
            | (u32::from(b[1]) << 12)
            | (u32::from(b[2]) << 4)
            | (u32::from(b[3]) & 0x0f)
    };
    Ok(v as i32)
}

/// An ITF8 that must be a count or size (not negative).
#[inline]
pub(crate) fn itf8_len(src: &mut &[u8], what: &'static str) -> Result<usize, Cause> {
    let v = itf8(src, what)?;
    usize::try_from(v).map_err(|_| Cause::Negative(what, v.into()))
}

/// LTF8: as ITF8, up to 9 bytes for 64 bits.
pub(crate) fn ltf8(src: &mut &[u8], what: &'static str) -> Result<i64, Cause> {
    let b0 = u8(src, what)?;
    let extra = b0.leading_ones() as usize;
    let bytes = take(src, extra, what)?;
    let mut v: u64 = if extra >= 7 {
        0
    } else {
        u64::from(b0 & (0x7f >> extra))
    };
    for &b in bytes {
        v = (v << 8) | u64::from(b);
    }
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itf8_values_of_every_length() {
        let cases: &[(&[u8], i32)] = &[
            (&[0x00], 0),
            (&[0x7f], 127),
            (&[0x80, 0x80], 128),
            (&[0xbf, 0xff], 0x3fff),
            (&[0xc0, 0x40, 0x00], 0x4000),
            (&[0xe0, 0x20, 0x00, 0x00], 0x20_0000),
            (&[0xf1, 0x00, 0x00, 0x00, 0x00], 0x1000_0000),
            (&[0xf0, 0x10, 0x00, 0x00, 0x01], 0x0100_0001),
            (&[0xff, 0xff, 0xff, 0xff, 0x0f], -1),
        ];
        for (bytes, want) in cases {
            let mut src = *bytes;
            assert_eq!(
                itf8(&mut src, "x").expect("test input"),
                *want,
                "{bytes:x?}"
            );
            assert!(src.is_empty());
        }
        let mut short: &[u8] = &[0xe0, 1];
        assert!(matches!(itf8(&mut short, "x"), Err(Cause::Truncated("x"))));
    }

    #[test]
    fn ltf8_values_of_every_length() {
        let cases: &[(&[u8], i64)] = &[
            (&[0x05], 5),
            (&[0x81, 0x00], 256),
            (&[0xfe, 1, 2, 3, 4, 5, 6, 7], 0x01020304050607),
            (&[0xff, 0, 0, 0, 0, 0, 0, 1, 0], 256),
        ];
        for (bytes, want) in cases {
            let mut src = *bytes;
            assert_eq!(
                ltf8(&mut src, "x").expect("test input"),
                *want,
                "{bytes:x?}"
            );
            assert!(src.is_empty());
        }
    }
}
