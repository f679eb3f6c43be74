//! The aux fields of a record as SAM text, checked and rendered in one walk into a slice sized
//! in advance: a `match` on the type code per field (the compiler's jump table), strings copied
//! while the NUL is looked for and the ASCII test is folded in (eight bytes inline, longer ones
//! by [`rawarrow_kernels::cstr`]), integers written two digits at a time
//! ([`rawarrow_kernels::decimal`]). What `samtools view` prints, byte for byte; anything
//! malformed falls back to [`aux::field_at`] for the exact error.

use rawarrow_kernels::{cstr, decimal};

use super::aux::{self, error_at, field_at};
use crate::bam::error::RecordError;

/// Bytes of SAM text an aux field can take per byte it holds, tab included: a `B:c` element
/// (one byte) prints as `,-128`. Every other shape takes less: `c` 4 bytes → `\tXX:i:-128` (10),
/// `i` 7 → 17, `f` 7 → 18, `Z` 4 + n → 6 + n, `B:f` 4 per element → 13.
const TEXT_PER_BYTE: usize = 5;

/// Room past the text the renderer may write into: a field's head and a string's last word are
/// stored eight bytes at a time.
const SLACK: usize = 16;

/// The bytes [`render`] needs for `aux_len` bytes of aux data.
pub(crate) fn room_for(aux_len: usize) -> usize {
    aux_len * TEXT_PER_BYTE + SLACK
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Writes `v` (an aux integer: within `i32`/`u32`) at the start of `out`; returns its length.
fn put_int(v: i64, out: &mut [u8]) -> usize {
    if v < 0 {
        out[0] = b'-';
        1 + decimal::write_u32(v.unsigned_abs() as u32, &mut out[1..])
    } else {
        decimal::write_u32(v as u32, out)
    }
}

/// Copies `text` to the start of `out`; returns its length.
fn put(text: &[u8], out: &mut [u8]) -> usize {
    out[..text.len()].copy_from_slice(text);
    text.len()
}

fn word(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

/// Renders the fields of `aux` as SAM text (tab-separated) into `out`, leaving out the field
/// that starts and ends at `skip`, and returns the text's length. `out` must hold
/// [`room_for`]`(aux.len())` bytes; bytes past the returned length may be overwritten. Checks
/// each field as [`field_at`] does and, for text that must be valid in an Arrow string
/// (`arrow_text`), that tags and `A` values are ASCII and `Z`/`H` values UTF-8; the first bad
/// field is the error.
pub(crate) fn render(
    aux: &[u8],
    skip: Option<(usize, usize)>,
    arrow_text: bool,
    out: &mut [u8],
) -> Result<usize, RecordError> {
    debug_assert!(out.len() >= room_for(aux.len()));
    let (mut at, mut p) = (0usize, 0usize);
    // At most 3 bytes left are ignored, as htslib ignores them.
    while aux.len() - at >= 4 {
        if let Some((start, end)) = skip.filter(|s| s.0 == at) {
            // The CG tag that supplied the CIGAR (a field found by the same walk).
            debug_assert!(end > start);
            at = end;
            continue;
        }
        let (t0, t1, ty) = (aux[at], aux[at + 1], aux[at + 2]);
        if arrow_text && (t0 | t1) >= 0x80 {
            // A malformed field is reported before its tag name.
            field_at(aux, at)?;
            return Err(RecordError::Aux {
                at,
                reason: "tag name is not ASCII",
            });
        }
        if p != 0 {
            out[p] = b'\t';
            p += 1;
        }
        let shown = match ty {
            b'c' | b'C' | b's' | b'S' | b'i' | b'I' => b'i',
            other => other,
        };
        out[p..p + 8].copy_from_slice(&[t0, t1, b':', shown, b':', 0, 0, 0]);
        p += 5;
        let body = at + 3;
        at = match ty {
            b'Z' | b'H' => {
                // The first eight bytes inline (most strings end there), longer ones by the
                // kernel: the string stored, its NUL found, its high bits gathered in one pass.
                let first = aux.get(body..body + 8).and_then(|w| {
                    let w = word(w);
                    let zero = w.wrapping_sub(LO) & !w & HI;
                    (zero != 0).then(|| {
                        out[p..p + 8].copy_from_slice(&w.to_le_bytes());
                        // The lowest flagged byte is the first NUL.
                        let k = (zero.trailing_zeros() / 8) as usize;
                        (k, w & ((1u64 << (8 * k)) - 1) & HI == 0)
                    })
                });
                let (len, ascii) = match first {
                    Some(done) => done,
                    None => {
                        let c = cstr::copy(&aux[body..], &mut out[p..])
                            .ok_or_else(|| error_at(aux, at))?;
                        (c.len, c.ascii)
                    }
                };
                p += len;
                let end = body + len;
                if arrow_text && !ascii && std::str::from_utf8(&aux[body..end]).is_err() {
                    return Err(RecordError::Aux {
                        at,
                        reason: "string value is not UTF-8",
                    });
                }
                end + 1
            }
            b'A' => {
                let c = aux[body];
                if arrow_text && !c.is_ascii() {
                    return Err(RecordError::Aux {
                        at,
                        reason: "character value is not ASCII",
                    });
                }
                out[p] = c;
                p += 1;
                body + 1
            }
            b'c' => {
                let v = aux[body] as i8;
                out[p] = b'-';
                p += usize::from(v < 0);
                p += decimal::write_u8(v.unsigned_abs(), &mut out[p..]);
                body + 1
            }
            b'C' => {
                p += decimal::write_u8(aux[body], &mut out[p..]);
                body + 1
            }
            b's' | b'S' => {
                let b = aux.get(body..body + 2).ok_or_else(|| error_at(aux, at))?;
                let b = [b[0], b[1]];
                let v = if ty == b's' {
                    i64::from(i16::from_le_bytes(b))
                } else {
                    i64::from(u16::from_le_bytes(b))
                };
                p += put_int(v, &mut out[p..]);
                body + 2
            }
            b'i' | b'I' | b'f' => {
                let b = aux.get(body..body + 4).ok_or_else(|| error_at(aux, at))?;
                let b = [b[0], b[1], b[2], b[3]];
                match ty {
                    b'i' => p += put_int(i64::from(i32::from_le_bytes(b)), &mut out[p..]),
                    b'I' => p += decimal::write_u32(u32::from_le_bytes(b), &mut out[p..]),
                    _ => {
                        let mut text = aux::Small::default();
                        aux::push_float(f64::from(f32::from_le_bytes(b)), &mut text);
                        p += put(text.as_bytes(), &mut out[p..]);
                    }
                }
                body + 4
            }
            b'B' => {
                let f = field_at(aux, at)?;
                p += array(&f, &mut out[p..]);
                f.end
            }
            _ => return Err(error_at(aux, at)),
        };
    }
    Ok(p)
}

/// A `B` array's subtype and elements (`c,1,-2`); returns the text's length.
fn array(f: &aux::Field<'_>, out: &mut [u8]) -> usize {
    let (sub, elements) = aux::array_elements(f).expect("a validated B array");
    out[0] = sub;
    let mut p = 1;
    for e in elements {
        out[p] = b',';
        p += 1;
        match aux::int_element(sub, e) {
            Some(v) => p += put_int(v, &mut out[p..]),
            None => {
                let mut float = aux::Small::default();
                aux::push_float_kputd(
                    f64::from(f32::from_le_bytes(e.try_into().expect("4"))),
                    &mut float,
                );
                p += put(float.as_bytes(), &mut out[p..]);
            }
        }
    }
    p
}

/// A rendered column's reused buffer: the text that spills past the column's arena region (its
/// bytes stay allocated, and zeroed once, across batches, so rendering writes into room already
/// there), and the column's rate that sizes the next batch's region.
#[derive(Default)]
pub(crate) struct TextBuf {
    bytes: Vec<u8>,
    len: usize,
    /// Bytes per row to reserve: the last batch's rate and a quarter more (0 before any).
    per_row: usize,
}

impl TextBuf {
    /// Bytes to reserve for `rows` rows of the column: enough for a batch like the last one.
    pub(crate) fn estimate(&self, rows: usize) -> usize {
        if self.per_row == 0 {
            0
        } else {
            rows * self.per_row + 4096
        }
    }

    /// Notes that the last batch rendered `bytes` for `rows` rows. A spill of more than 1 MiB
    /// (a first batch, or one much wider than the last) is not kept: the next region is sized
    /// for it.
    pub(crate) fn learn(&mut self, bytes: usize, rows: usize) {
        self.per_row = (bytes + bytes / 4).div_ceil(rows.max(1));
        if self.bytes.len() > 1 << 20 {
            self.bytes = Vec::new();
        }
    }

    /// Empties the buffer, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// The text so far.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Bytes so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// `n` writable bytes after the text (their contents are unspecified).
    pub(crate) fn room(&mut self, n: usize) -> &mut [u8] {
        let need = self.len + n;
        if self.bytes.len() < need {
            self.bytes.resize(need.max(self.bytes.len() * 2), 0);
        }
        &mut self.bytes[self.len..need]
    }

    /// Keeps `n` more bytes of what was written into [`TextBuf::room`].
    pub(crate) fn advance(&mut self, n: usize) {
        assert!(self.len + n <= self.bytes.len(), "text past its room");
        self.len += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the field-by-field renderer.
    fn reference(aux: &[u8], skip: Option<(usize, usize)>) -> Result<Vec<u8>, RecordError> {
        let mut out = Vec::new();
        aux::push_sam_checked(aux, skip, true, &mut out).map(|()| out)
    }

    fn fast(aux: &[u8], skip: Option<(usize, usize)>) -> Result<Vec<u8>, RecordError> {
        fast_as(aux, skip, true)
    }

    fn fast_as(
        aux: &[u8],
        skip: Option<(usize, usize)>,
        arrow_text: bool,
    ) -> Result<Vec<u8>, RecordError> {
        let mut out = vec![0xaa; room_for(aux.len())];
        let n = render(aux, skip, arrow_text, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// One aux field of a random type with a random value (strings of any bytes but NUL).
    fn any_field() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let tag = any::<[u8; 2]>();
        let value = prop_oneof![
            (prop::sample::select(b"AcC".to_vec()), any::<u8>()).prop_map(|(t, v)| vec![t, v]),
            (prop::sample::select(b"sS".to_vec()), any::<[u8; 2]>()).prop_map(|(t, v)| [
                &[t][..],
                &v
            ]
            .concat()),
            (prop::sample::select(b"iIf".to_vec()), any::<[u8; 4]>()).prop_map(|(t, v)| [
                &[t][..],
                &v
            ]
            .concat()),
            (
                prop::sample::select(b"ZH".to_vec()),
                // Mostly ASCII, with a stray byte above it now and then (valid UTF-8 or not);
                // long enough for several kernel steps.
                prop::collection::vec(prop_oneof![12 => 0x20u8..0x7f, 1 => 0x80u8..=0xff], 0..160)
            )
                .prop_map(|(t, v)| [&[t][..], &v, &[0]].concat()),
            (
                prop::sample::select(b"cCsSiIf".to_vec()),
                prop::collection::vec(any::<u8>(), 0..24)
            )
                .prop_map(|(sub, v)| {
                    let size = match sub {
                        b'c' | b'C' => 1,
                        b's' | b'S' => 2,
                        _ => 4,
                    };
                    let n = (v.len() / size) as u32;
                    [&[b'B', sub][..], &n.to_le_bytes(), &v[..n as usize * size]].concat()
                }),
        ];
        (tag, value).prop_map(|(tag, value)| [&tag[..], &value].concat())
    }

    proptest::proptest! {
        /// Well-formed fields of every type, then a corruption: one byte set anywhere and the
        /// data cut anywhere. The one-walk renderer says exactly what the field-by-field one
        /// says (text or error), for Arrow and for SAM text, and never writes past its room.
        #[test]
        fn random_fields_render_like_the_field_renderer(
            fields in proptest::collection::vec(any_field(), 0..12),
            poke in proptest::option::of((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>())),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let mut aux = fields.concat();
            if let (Some((at, b)), false) = (poke, aux.is_empty()) {
                let at = at % aux.len();
                aux[at] = b;
            }
            let cut = cut % (aux.len() + 1);
            for aux in [&aux[..], &aux[..cut]] {
                proptest::prop_assert_eq!(fast(aux, None), reference(aux, None));
                let mut sam = Vec::new();
                let want = aux::push_sam_checked(aux, None, false, &mut sam).map(|()| sam);
                proptest::prop_assert_eq!(fast_as(aux, None, false), want);
            }
        }
    }

    #[test]
    fn integers_at_every_width() {
        let mut v: Vec<i64> = vec![0, 9, 10, 99, 100, 999, 1000, i64::from(i32::MIN)];
        v.extend([i64::from(i32::MAX), i64::from(u32::MAX), -1, -10, -128, 255]);
        for p in 0..10 {
            let t = 10i64.pow(p);
            v.extend([t - 1, t, t + 1, -(t - 1), -t]);
        }
        let mut out = [0u8; 12];
        for v in v
            .into_iter()
            .filter(|v| *v >= i64::from(i32::MIN) && *v <= i64::from(u32::MAX))
        {
            let n = put_int(v, &mut out);
            assert_eq!(&out[..n], v.to_string().as_bytes(), "{v}");
        }
    }

    fn field(tag: &[u8; 2], ty: u8, value: &[u8]) -> Vec<u8> {
        let mut f = vec![tag[0], tag[1], ty];
        f.extend_from_slice(value);
        f
    }

    #[test]
    fn every_type_like_the_field_renderer() {
        let mut aux = Vec::new();
        for v in [0i8, 1, -1, 127, -128] {
            aux.extend(field(b"XC", b'c', &v.to_le_bytes()));
        }
        aux.extend(field(b"XU", b'C', &[255]));
        aux.extend(field(b"XS", b's', &(-32768i16).to_le_bytes()));
        aux.extend(field(b"XT", b'S', &65535u16.to_le_bytes()));
        aux.extend(field(b"XI", b'i', &i32::MIN.to_le_bytes()));
        aux.extend(field(b"XJ", b'I', &u32::MAX.to_le_bytes()));
        aux.extend(field(b"XF", b'f', &0.1f32.to_le_bytes()));
        aux.extend(field(b"XA", b'A', b"="));
        for len in 0..40 {
            let s: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            aux.extend(field(b"ZZ", b'Z', &[&s[..], b"\0"].concat()));
        }
        aux.extend(field(b"XH", b'H', b"1AE301\0"));
        aux.extend(field(b"XE", b'Z', "é tout".as_bytes()));
        aux.push(0);
        for (sub, elems) in [
            (b'c', vec![0x80u8, 0x7f, 0]),
            (b'C', vec![0xff, 0]),
            (b's', vec![0x00, 0x80, 1, 0]),
            (b'S', vec![0xff, 0xff]),
            (b'i', i32::MIN.to_le_bytes().to_vec()),
            (b'I', u32::MAX.to_le_bytes().to_vec()),
            (
                b'f',
                [1.5f32.to_le_bytes(), 123456.5f32.to_le_bytes()].concat(),
            ),
            (b'c', vec![]),
        ] {
            let size = match sub {
                b'c' | b'C' => 1,
                b's' | b'S' => 2,
                _ => 4,
            };
            let mut v = vec![sub];
            v.extend(((elems.len() / size) as u32).to_le_bytes());
            v.extend(elems);
            aux.extend(field(b"XB", b'B', &v));
        }
        aux.extend(b"NM"); // too short to be a field: ignored
        let want = reference(&aux, None).expect("valid");
        assert_eq!(fast(&aux, None).expect("valid"), want);
        // Every prefix: the same text or the same error.
        for end in 0..aux.len() {
            assert_eq!(
                fast(&aux[..end], None),
                reference(&aux[..end], None),
                "prefix {end}"
            );
        }
        // Skipping a field by its range.
        let first = field_at(&aux, 0).expect("valid");
        let skip = Some((first.start, first.end));
        assert_eq!(fast(&aux, skip), reference(&aux, skip));
    }

    #[test]
    fn malformed_fields_give_the_field_renderer_errors() {
        for aux in [
            &b"NMq\x01"[..],
            b"NMi\x01\x00",
            b"XZZabc",
            b"XZZabcdefghijklmnop",
            b"XBBc\xff\xff\xff\x7f",
            b"XBBZ\x00\x00\x00\x00",
            b"NMC\x01XBBc\x02\x00\x00\x00\x01",
            b"\xffMC\x01",
            b"\xffMi\x01",
            b"XAA\xc3",
            b"XZZ\xc3\x28\0",
            b"XZZ\xc3\x28abcdefghij\0",
        ] {
            let want = reference(aux, None);
            assert!(want.is_err(), "{aux:?}");
            assert_eq!(fast(aux, None), want, "{aux:?}");
        }
    }

    #[test]
    fn the_room_bound_holds_for_the_widest_fields() {
        // The widest text per byte: B:c of -128, then small fields with long numbers.
        let mut aux = field(b"XB", b'B', &[b'c', 200, 0, 0, 0]);
        aux.extend(std::iter::repeat_n(0x80u8, 200));
        for _ in 0..50 {
            aux.extend(field(b"XC", b'c', &[0x80]));
            aux.extend(field(b"XI", b'i', &i32::MIN.to_le_bytes()));
            aux.extend(field(b"XF", b'f', &(-1.17549e-38f32).to_le_bytes()));
            aux.extend(field(b"XA", b'A', b"x"));
        }
        // `render` indexes its slice: a bound too small panics here.
        let mut out = vec![0; room_for(aux.len())];
        let n = render(&aux, None, true, &mut out).expect("valid");
        assert_eq!(&out[..n], &reference(&aux, None).expect("valid")[..]);
    }
}
