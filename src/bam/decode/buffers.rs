//! The buffers a batch's columns are filled into: primitive values and Utf8 text in arena
//! regions (sized before decoding), validity bits, and growable Utf8 for typed tag columns.

use std::sync::Arc;

use arrow_array::{ArrayRef, StringArray};
use arrow_buffer::{
    ArrowNativeType, Buffer, NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::ArrowError;

use crate::arrow::arena::{Arena, AsciiText, Region};
use crate::bam::error::RecordError;
use crate::bam::record::tagtext::TextBuf;
use crate::bam::record::Record;

/// A Utf8 column being built: offsets, values and (unless never null) validity.
#[derive(Default)]
pub(in crate::bam) struct Strings {
    offsets: Vec<i32>,
    pub(in crate::bam) values: Vec<u8>,
    pub(in crate::bam) nulls: Option<NullBufferBuilder>,
}

impl Strings {
    pub(in crate::bam) fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            values: Vec::with_capacity(bytes),
            nulls: Some(NullBufferBuilder::new(rows)),
        }
    }

    pub(in crate::bam) fn end_value(&mut self, valid: bool) -> Result<(), ArrowError> {
        let end = i32::try_from(self.values.len()).map_err(|_| {
            ArrowError::ComputeError(
                "string column over 2 GiB in one batch: lower --batch-rows".into(),
            )
        })?;
        self.offsets.push(end);
        if let Some(n) = &mut self.nulls {
            n.append(valid);
        }
        Ok(())
    }

    pub(in crate::bam) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut self.offsets)));
        let values = Buffer::from_vec(std::mem::take(&mut self.values));
        let nulls = self.nulls.as_mut().and_then(NullBufferBuilder::finish);
        Ok(Arc::new(StringArray::try_new(offsets, values, nulls)?))
    }
}

/// A validity bitmap in an arena region (bits start cleared), and how many are set.
pub(in crate::bam) struct Bits {
    bits: Region<u8>,
    valid: usize,
}

impl Bits {
    pub(in crate::bam) fn new(arena: &mut Arena, rows: usize) -> Self {
        let mut bits = arena.take::<u8>(rows.div_ceil(8));
        bits.zeroed();
        Self { bits, valid: 0 }
    }

    /// `None` when every row is valid.
    pub(in crate::bam) fn finish(self, rows: usize) -> Option<NullBuffer> {
        (self.valid < rows).then(|| {
            NullBuffer::new(arrow_buffer::BooleanBuffer::new(
                self.bits.into_buffer(),
                0,
                rows,
            ))
        })
    }
}

/// A primitive column of one batch: values and (for nullable columns) validity.
pub(in crate::bam) struct PrimCol<T> {
    values: Region<T>,
    bits: Option<Bits>,
}

impl<T: ArrowNativeType> PrimCol<T> {
    pub(in crate::bam) fn new(arena: &mut Arena, rows: usize, nullable: bool) -> Self {
        Self {
            values: arena.take::<T>(rows),
            bits: nullable.then(|| Bits::new(arena, rows)),
        }
    }

    /// Rows `row0..row0 + recs.len()` (`row0` a multiple of 8): `get` gives the value, or
    /// `None` for null (stored as 0). One pass: values and a validity byte per eight rows.
    pub(in crate::bam) fn fill(
        &mut self,
        row0: usize,
        recs: &[Record<'_>],
        get: impl Fn(&Record<'_>) -> Option<T>,
    ) {
        let out = &mut self.values.as_mut_slice()[row0..row0 + recs.len()];
        let Some(bits) = &mut self.bits else {
            for (o, r) in out.iter_mut().zip(recs) {
                *o = get(r).unwrap_or_default();
            }
            return;
        };
        assert_eq!(row0 % 8, 0, "blocks start on a validity byte");
        let bytes = &mut bits.bits.as_mut_slice()[row0 / 8..];
        let mut valid = 0;
        for ((o8, r8), byte) in out.chunks_mut(8).zip(recs.chunks(8)).zip(bytes) {
            let mut b = 0u8;
            for (k, (o, r)) in o8.iter_mut().zip(r8).enumerate() {
                let v = get(r);
                b |= u8::from(v.is_some()) << k;
                *o = v.unwrap_or_default();
            }
            *byte = b;
            valid += b.count_ones() as usize;
        }
        bits.valid += valid;
    }

    pub(in crate::bam) fn finish(self, rows: usize) -> (ScalarBuffer<T>, Option<NullBuffer>) {
        (
            self.values.into_scalar_buffer(),
            self.bits.and_then(|b| b.finish(rows)),
        )
    }
}

/// Where a Utf8 column's bytes go: an arena region sized in advance (exactly or by a bound), or
/// for text whose length is only known once rendered, a region sized by an estimate that spills
/// into a reused [`TextBuf`] once it runs out (the two are joined into one arena at the end).
/// A region's bytes are checked for ASCII after each block of rows, while they are in cache.
pub(in crate::bam) enum TextValues {
    Region {
        values: AsciiText,
        at: usize,
    },
    Rendered {
        values: AsciiText,
        at: usize,
        spilled: bool,
    },
}

/// A Utf8 column of one batch.
pub(in crate::bam) struct TextCol {
    offsets: Region<i32>,
    values: TextValues,
    bits: Option<Bits>,
}

impl TextCol {
    /// A column whose text takes at most `bytes` bytes (an exact total or a bound).
    pub(in crate::bam) fn sized(
        arena: &mut Arena,
        rows: usize,
        bytes: usize,
        nullable: bool,
    ) -> Self {
        Self::with(arena, rows, bytes, nullable, |values| TextValues::Region {
            values,
            at: 0,
        })
    }

    /// A rendered column: a region of `estimate` bytes, then the spill buffer.
    pub(in crate::bam) fn rendering(
        arena: &mut Arena,
        rows: usize,
        estimate: usize,
        nullable: bool,
    ) -> Self {
        Self::with(arena, rows, estimate, nullable, |values| {
            TextValues::Rendered {
                values,
                at: 0,
                spilled: false,
            }
        })
    }

    fn with(
        arena: &mut Arena,
        rows: usize,
        bytes: usize,
        nullable: bool,
        values: impl FnOnce(AsciiText) -> TextValues,
    ) -> Self {
        let mut offsets = arena.take::<i32>(rows + 1);
        offsets.as_mut_slice()[0] = 0;
        let values = values(AsciiText::new(arena.take::<u8>(bytes)));
        Self {
            offsets,
            values,
            bits: nullable.then(|| Bits::new(arena, rows)),
        }
    }

    /// Rows `row0..`: `put` writes a record's text into the slice it is given (exactly
    /// `len(r)` bytes, or none for null) and says whether the value is valid.
    pub(in crate::bam) fn fill(
        &mut self,
        row0: usize,
        recs: &[Record<'_>],
        len: impl Fn(&Record<'_>) -> usize,
        put: impl Fn(&Record<'_>, &mut [u8]) -> bool,
    ) {
        let TextValues::Region { values: text, at } = &mut self.values else {
            unreachable!("sized text column")
        };
        // `pos` counts from the start of the unchecked bytes.
        let ((base, values), offsets) = (text.unchecked_mut(), self.offsets.as_mut_slice());
        let mut pos = *at - base;
        let mut valid = 0usize;
        for (i, r) in recs.iter().enumerate() {
            let n = len(r);
            let ok = put(r, &mut values[pos..pos + n]);
            if ok {
                pos += n;
            }
            // Sizes were checked to fit in i32 before the arena was made.
            offsets[row0 + i + 1] = (base + pos) as i32;
            if let Some(bits) = &mut self.bits {
                let row = row0 + i;
                bits.bits.as_mut_slice()[row / 8] |= u8::from(ok) << (row % 8);
                valid += usize::from(ok);
            }
        }
        if let Some(bits) = &mut self.bits {
            bits.valid += valid;
        }
        *at = base + pos;
        text.check(*at);
    }

    /// Rows `row0..` of a rendered column: `room(r)` is the most bytes record `r` may write,
    /// `render` writes its text at the start of the slice it is given and returns whether the
    /// value is valid and its length. Text goes into the region while `room(r)` fits there,
    /// then into `spill`.
    pub(in crate::bam) fn render(
        &mut self,
        row0: usize,
        recs: &[Record<'_>],
        spill: &mut TextBuf,
        room: impl Fn(&Record<'_>) -> usize,
        mut render: impl FnMut(&Record<'_>, &mut [u8]) -> Result<(bool, usize), RecordError>,
    ) -> Result<(), (usize, RecordError)> {
        let TextValues::Rendered {
            values: text,
            at,
            spilled,
        } = &mut self.values
        else {
            unreachable!("rendered text column")
        };
        // `values[0]` is byte `base` of the region.
        let ((base, values), offsets) = (text.unchecked_mut(), self.offsets.as_mut_slice());
        let mut failed = None;
        for (i, r) in recs.iter().enumerate() {
            let room = room(r);
            *spilled |= base + values.len() - *at < room;
            let out = if *spilled {
                spill.room(room)
            } else {
                &mut values[*at - base..*at - base + room]
            };
            let (ok, n) = match render(r, out) {
                Ok(done) => done,
                Err(e) => {
                    failed = Some((row0 + i, e));
                    break;
                }
            };
            if *spilled {
                spill.advance(n);
            } else {
                *at += n;
            }
            let Ok(end) = i32::try_from(*at + spill.len()) else {
                failed = Some((row0 + i, RecordError::BatchTextOverflow));
                break;
            };
            offsets[row0 + i + 1] = end;
            if let Some(bits) = &mut self.bits {
                let row = row0 + i;
                bits.bits.as_mut_slice()[row / 8] |= u8::from(ok) << (row % 8);
                bits.valid += usize::from(ok);
            }
        }
        text.check(*at);
        failed.map_or(Ok(()), Err)
    }

    /// The bytes of rendered text written into the region and into the spill buffer.
    pub(in crate::bam) fn rendered(&self, spill: &TextBuf) -> usize {
        match &self.values {
            TextValues::Rendered { at, .. } => at + spill.len(),
            TextValues::Region { .. } => 0,
        }
    }

    /// The column. Rendered text that spilled is joined with its region's in an arena taken
    /// from `arena`.
    pub(in crate::bam) fn finish(
        self,
        rows: usize,
        spill: Option<&TextBuf>,
        arena: impl FnOnce(usize) -> Arena,
    ) -> Result<ArrayRef, ArrowError> {
        let (values, len) = match self.values {
            TextValues::Region { values, at }
            | TextValues::Rendered {
                values,
                at,
                spilled: false,
            } => (values, at),
            TextValues::Rendered { mut values, at, .. } => {
                let spill = spill.expect("a spilled column's buffer").as_slice();
                let len = at + spill.len();
                let mut joined = AsciiText::new(arena(len).take::<u8>(len));
                let (_, out) = joined.unchecked_mut();
                out[..at].copy_from_slice(&values.as_slice()[..at]);
                out[at..].copy_from_slice(spill);
                joined.check(len);
                (joined, len)
            }
        };
        let offsets = OffsetBuffer::new(self.offsets.into_scalar_buffer());
        let nulls = self.bits.and_then(|b| b.finish(rows));
        Ok(Arc::new(values.into_string_array(len, offsets, nulls)?))
    }
}
