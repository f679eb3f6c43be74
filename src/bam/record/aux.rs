//! Aux fields: validation, and SAM text exactly as `samtools view` prints it.

use crate::bam::error::RecordError;

/// One aux field: its tag, type code and value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// Two-character tag.
    pub(crate) tag: [u8; 2],
    /// Type code: `A c C s S i I f Z H B`.
    pub(crate) ty: u8,
    /// The value: fixed-size bytes, the string without its NUL, or for `B` the subtype, the
    /// count and the elements.
    pub(crate) value: &'a [u8],
    /// Byte range of the whole field in the aux data.
    pub(crate) start: usize,
    /// End of the field in the aux data.
    pub(crate) end: usize,
}

fn size_of(ty: u8) -> Option<usize> {
    match ty {
        b'A' | b'c' | b'C' => Some(1),
        b's' | b'S' => Some(2),
        b'i' | b'I' | b'f' => Some(4),
        _ => None,
    }
}

/// The first NUL. Most aux strings are short: eight bytes at a time as a word (one branch per
/// word instead of one per byte) up to 32 bytes, then `memchr` (qualities in `OQ`).
fn nul_in(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while i + 8 <= b.len() && i < 32 {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        // The lowest set high bit marks the first zero byte (borrows only run upwards).
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr(0, &b[i..]).map(|j| i + j)
}

/// The smallest aux field: tag, type and one byte. Fewer bytes left at the end of a record are
/// ignored, as htslib ignores them (its readers stop when fewer than 4 bytes remain).
const MIN_FIELD: usize = 4;

/// Reads the field at `at`; `Err` names what is malformed.
pub(crate) fn field_at(aux: &[u8], at: usize) -> Result<Field<'_>, RecordError> {
    let bad = |reason| RecordError::Aux { at, reason };
    let head = aux
        .get(at..at + 3)
        .ok_or(bad("field shorter than tag and type"))?;
    let (tag, ty) = ([head[0], head[1]], head[2]);
    // The SAM spec asks for [A-Za-z][A-Za-z0-9]; htslib reads any two bytes (its own test
    // files use `A!`) and prints them as they are, and so do we (the Arrow `tags` column
    // needs them ASCII).
    let body = at + 3;
    let (value_end, end) = match ty {
        b'Z' | b'H' => {
            let nul = nul_in(&aux[body..]).ok_or(bad("string value not NUL-terminated"))?;
            (body + nul, body + nul + 1)
        }
        b'B' => {
            let sub = *aux.get(body).ok_or(bad("B array without subtype"))?;
            let size = size_of(sub)
                .filter(|_| sub != b'A')
                .ok_or(bad("B array subtype is not one of cCsSiIf"))?;
            let count = aux
                .get(body + 1..body + 5)
                .ok_or(bad("B array count runs past the record"))?;
            let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as u64;
            let len = count * size as u64;
            let end = (body as u64 + 5)
                .checked_add(len)
                .filter(|&e| e <= aux.len() as u64);
            let end = end.ok_or(bad("B array elements run past the record"))? as usize;
            (end, end)
        }
        _ => {
            let size = size_of(ty).ok_or(bad("unknown aux type code"))?;
            let end = body + size;
            if end > aux.len() {
                return Err(bad("value runs past the record"));
            }
            (end, end)
        }
    };
    Ok(Field {
        tag,
        ty,
        value: &aux[body..value_end],
        start: at,
        end,
    })
}

/// Iterates over well-formed aux data (validate with [`validate`] first).
pub(crate) fn fields(aux: &[u8]) -> impl Iterator<Item = Field<'_>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if aux.len() - at < MIN_FIELD {
            return None;
        }
        let f = field_at(aux, at).ok()?;
        at = f.end;
        Some(f)
    })
}

/// Appends the SAM text of the fields (tab-separated) except the one spanning `skip`, checking
/// each as it goes: what [`field_at`] checks and, for text that must be valid in an Arrow string
/// (`arrow_text`), that `Z`/`H` values are UTF-8 and `A` values ASCII. Stops at the first bad
/// field. The reference the one-walk renderer (`tagtext::render`) is tested against.
#[cfg(test)]
pub(crate) fn push_sam_checked(
    aux: &[u8],
    skip: Option<(usize, usize)>,
    arrow_text: bool,
    out: &mut Vec<u8>,
) -> Result<(), RecordError> {
    let mut at = 0;
    let mut first = true;
    while aux.len() - at >= MIN_FIELD {
        let f = field_at(aux, at)?;
        at = f.end;
        if skip == Some((f.start, f.end)) {
            continue;
        }
        if !first {
            out.push(b'\t');
        }
        first = false;
        if arrow_text && !(f.tag[0].is_ascii() && f.tag[1].is_ascii()) {
            return Err(RecordError::Aux {
                at: f.start,
                reason: "tag name is not ASCII",
            });
        }
        out.extend_from_slice(&[f.tag[0], f.tag[1], b':']);
        match f.ty {
            b'Z' | b'H' => {
                if arrow_text && !f.value.is_ascii() && std::str::from_utf8(f.value).is_err() {
                    return Err(RecordError::Aux {
                        at: f.start,
                        reason: "string value is not UTF-8",
                    });
                }
                out.extend_from_slice(&[f.ty, b':']);
                out.extend_from_slice(f.value);
            }
            b'A' if arrow_text && !f.value[0].is_ascii() => {
                return Err(RecordError::Aux {
                    at: f.start,
                    reason: "character value is not ASCII",
                });
            }
            b'c' | b'C' | b's' | b'S' | b'i' | b'I' => {
                out.extend_from_slice(b"i:");
                push_int(int_value(&f).expect("integer type"), out);
            }
            _ => push_typed_value(&f, out),
        }
    }
    Ok(())
}

/// The error of the field at `at`, which a fast walk found malformed (what [`field_at`] says).
pub(crate) fn error_at(aux: &[u8], at: usize) -> RecordError {
    field_at(aux, at).err().unwrap_or(RecordError::Aux {
        at,
        reason: "malformed field",
    })
}

/// Checks every field; returns the (last) `CG:B,I` field if present. Walks by type code without
/// building a [`Field`] for the fixed-size ones; a field that does not fit is read again by
/// [`field_at`] for its exact error.
pub(crate) fn validate(aux: &[u8]) -> Result<Option<Field<'_>>, RecordError> {
    let mut at = 0;
    let mut cg = None;
    while aux.len() - at >= MIN_FIELD {
        let end = match aux[at + 2] {
            b'A' | b'c' | b'C' => at + 4,
            b's' | b'S' => at + 5,
            b'i' | b'I' | b'f' => at + 7,
            b'Z' | b'H' => match nul_in(&aux[at + 3..]) {
                Some(k) => at + 4 + k,
                None => aux.len() + 1,
            },
            _ => {
                let f = field_at(aux, at)?;
                if f.tag == *b"CG" && f.ty == b'B' && f.value.first() == Some(&b'I') {
                    cg = Some(f);
                }
                f.end
            }
        };
        if end > aux.len() {
            return Err(error_at(aux, at));
        }
        at = end;
    }
    Ok(cg)
}

/// Where a value's text is appended: a growing `Vec`, or [`Small`] on the stack (the tags
/// renderer's floats, which must not allocate per record).
pub(crate) trait Text {
    fn put(&mut self, bytes: &[u8]);
}

impl Text for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Up to 32 bytes of text on the stack: a float's (at most 13, `-1.17549e-38`) or one of its
/// intermediate forms (at most 17).
#[derive(Clone, Copy, Default)]
pub(crate) struct Small {
    buf: [u8; 32],
    len: usize,
}

impl Small {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("formatted numbers are ASCII")
    }

    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

impl Text for Small {
    /// # Panics
    /// Past 32 bytes (more than any number's text).
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

impl std::fmt::Write for Small {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.put(s.as_bytes());
        Ok(())
    }
}

/// Appends `d` as C's `printf("%g")` does: what `samtools view` prints for a single `f` value.
/// 6 significant digits, exactly rounded (ties to even), trailing zeros dropped, exponent form
/// below 1e-4 and from 1e6.
pub(crate) fn push_float(d: f64, out: &mut (impl Text + ?Sized)) {
    if d == 0.0 {
        out.put(if d.is_sign_negative() { b"-0" } else { b"0" });
    } else if d.is_nan() {
        out.put(if d.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
    } else {
        if d < 0.0 {
            out.put(b"-");
        }
        push_g(d.abs(), out);
    }
}

/// Appends `d` as htslib's `kputd` does: what `samtools view` prints for `B:f` array elements.
/// 6 significant digits; in [1e-4, 999999] a fixed-point conversion that rounds by adding half a
/// unit in the 7th digit and then truncates (so exact ties round up, unlike `%g`), trailing
/// zeros dropped; `%g` outside that range.
pub(crate) fn push_float_kputd(d: f64, out: &mut (impl Text + ?Sized)) {
    if d == 0.0 {
        out.put(if d.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    if d.is_nan() {
        out.put(if d.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    let mut d = d;
    if d < 0.0 {
        out.put(b"-");
        d = -d;
    }
    if !(0.0001..=999_999.0).contains(&d) {
        push_g(d, out);
        return;
    }
    let step: u64 = match d {
        x if x < 0.001 => 5,
        x if x < 0.01 => 50,
        x if x < 0.1 => 500,
        x if x < 1.0 => 5_000,
        x if x < 10.0 => 50_000,
        x if x < 100.0 => 500_000,
        x if x < 1_000.0 => 5_000_000,
        x if x < 10_000.0 => 50_000_000,
        x if x < 100_000.0 => 500_000_000,
        _ => 5_000_000_000,
    };
    // d * 1e10 < 1e16 fits u64; `as` truncates like C's conversion.
    let i = (d * 10_000_000_000.0) as u64 + step;
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(i).as_bytes();
    let mut text = Small::default();
    if digits.len() <= 10 {
        // Below 1: "0." then zeros up to 10 fractional digits, keeping 6 significant ones.
        text.put(b"0.");
        text.put(&b"0000000000"[..10 - digits.len()]);
        text.put(&digits[..6]);
    } else {
        let int_len = digits.len() - 10;
        text.put(&digits[..int_len]);
        text.put(b".");
        text.put(&digits[int_len..]);
        // 6 significant digits and the point; a 6-digit integer part loses the point.
        text.truncate(7);
        if text.as_bytes()[6] == b'.' {
            text.truncate(6);
        }
    }
    if text.as_bytes().contains(&b'.') {
        while text.as_bytes().last() == Some(&b'0') {
            text.truncate(text.len - 1);
        }
        if text.as_bytes().last() == Some(&b'.') {
            text.truncate(text.len - 1);
        }
    }
    out.put(text.as_bytes());
}

/// C's `%g` (precision 6) for a positive finite or infinite `d`.
fn push_g(d: f64, out: &mut (impl Text + ?Sized)) {
    use std::fmt::Write;
    if d.is_infinite() {
        out.put(b"inf");
        return;
    }
    // Formatted on the stack: `1.79769e308` at most.
    let mut sci = Small::default();
    write!(sci, "{d:.5e}").expect("a float's exponent form fits 32 bytes");
    let (mantissa, exp) = sci
        .as_str()
        .split_once('e')
        .expect("`{:e}` output has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if (-4..6).contains(&exp) {
        // Below 1e6 with at most 9 decimals: at most 17 bytes.
        let mut fixed = Small::default();
        write!(fixed, "{d:.*}", (5 - exp) as usize).expect("a fixed form below 1e6 fits");
        out.put(strip_zeros(fixed.as_str()).as_bytes());
    } else {
        out.put(strip_zeros(mantissa).as_bytes());
        out.put(if exp < 0 { b"e-" } else { b"e+" });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.put(b"0");
        }
        out.put(itoa::Buffer::new().format(e).as_bytes());
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn push_int(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// Appends only a field's value as SAM text: `3`, `0.5`, `text`, `s,1,-2` (for a `B` array:
/// the subtype and the elements).
pub(crate) fn push_value(f: &Field<'_>, out: &mut Vec<u8>) {
    let at = out.len();
    push_typed_value(f, out);
    // Drop the "T:" type prefix (and "B:" of arrays), keeping the subtype of arrays.
    out.drain(at..at + 2);
}

/// The integer value of a `c C s S i I` field.
pub(crate) fn int_value(f: &Field<'_>) -> Option<i64> {
    let b = f.value;
    Some(match f.ty {
        b'c' => i64::from(b[0] as i8),
        b'C' => i64::from(b[0]),
        b's' => i64::from(i16::from_le_bytes(le(b))),
        b'S' => i64::from(u16::from_le_bytes(le(b))),
        b'i' => i64::from(i32::from_le_bytes(le(b))),
        b'I' => i64::from(u32::from_le_bytes(le(b))),
        _ => return None,
    })
}

/// The elements of a `B` array field as `i64` (integer subtypes) or `f32` (subtype `f`).
pub(crate) fn array_elements<'a>(f: &Field<'a>) -> Option<(u8, std::slice::ChunksExact<'a, u8>)> {
    if f.ty != b'B' {
        return None;
    }
    let sub = f.value[0];
    let size = size_of(sub)?;
    Some((sub, f.value[5..].chunks_exact(size)))
}

/// One element of a `B` array of subtype `sub` as `i64` (`None` for `f`).
pub(crate) fn int_element(sub: u8, b: &[u8]) -> Option<i64> {
    int_value(&Field {
        tag: [0, 0],
        ty: sub,
        value: b,
        start: 0,
        end: 0,
    })
}

/// Appends one element of type `ty` (not `A`, `Z`, `H`, `B`) as SAM text; `f` as in a `B` array.
fn push_scalar(ty: u8, b: &[u8], out: &mut Vec<u8>) {
    match ty {
        b'c' => push_int(i64::from(b[0] as i8), out),
        b'C' => push_int(i64::from(b[0]), out),
        b's' => push_int(i64::from(i16::from_le_bytes(le(b))), out),
        b'S' => push_int(i64::from(u16::from_le_bytes(le(b))), out),
        b'i' => push_int(i64::from(i32::from_le_bytes(le(b))), out),
        b'I' => push_int(i64::from(u32::from_le_bytes(le(b))), out),
        b'f' => push_float_kputd(f64::from(f32::from_le_bytes(le(b))), out),
        _ => unreachable!("validated aux type"),
    }
}

/// Appends a field as SAM text (`NM:i:3`, `XF:f:0.5`, `ZB:B:s,1,-2`).
pub(crate) fn push_sam(f: &Field<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&f.tag);
    out.push(b':');
    push_typed_value(f, out);
}

/// Appends a field's type and value as SAM text (`i:3`, `Z:text`, `B:s,1,-2`).
fn push_typed_value(f: &Field<'_>, out: &mut Vec<u8>) {
    match f.ty {
        b'A' => {
            out.extend_from_slice(b"A:");
            out.push(f.value[0]);
        }
        b'Z' | b'H' => {
            out.push(f.ty);
            out.push(b':');
            out.extend_from_slice(f.value);
        }
        b'B' => {
            let sub = f.value[0];
            out.extend_from_slice(b"B:");
            out.push(sub);
            let size = size_of(sub).expect("validated subtype");
            for e in f.value[5..].chunks_exact(size) {
                out.push(b',');
                push_scalar(sub, e, out);
            }
        }
        b'f' => {
            out.extend_from_slice(b"f:");
            push_float(f64::from(f32::from_le_bytes(le(f.value))), out);
        }
        ty => {
            out.extend_from_slice(b"i:");
            push_scalar(ty, f.value, out);
        }
    }
}

#[cfg(test)]
mod tests;
