//! Typed tag columns: one Arrow column per requested aux tag, typed from the BAM type code.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Int64Array, ListArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field};

use super::aux;
use super::Record;
use crate::bam::decode::buffers::Strings;
use crate::bam::error::RecordError;

/// The Arrow type of a typed tag column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// `c C s S i I` → Int64.
    Int,
    /// `f` → Float32.
    Float,
    /// `Z H A` → Utf8 (any other type is rendered as its SAM text value).
    Text,
    /// `B` arrays of integers → List of Int64.
    IntList,
    /// `B:f` arrays → List of Float32.
    FloatList,
}

impl TagKind {
    /// The column type for a BAM type code (and array subtype).
    pub(crate) fn of(ty: u8, sub: Option<u8>) -> TagKind {
        match (ty, sub) {
            (b'c' | b'C' | b's' | b'S' | b'i' | b'I', _) => TagKind::Int,
            (b'f', _) => TagKind::Float,
            (b'B', Some(b'f')) => TagKind::FloatList,
            (b'B', _) => TagKind::IntList,
            _ => TagKind::Text,
        }
    }

    fn item(elem: DataType) -> DataType {
        DataType::List(Arc::new(Field::new("item", elem, false)))
    }

    /// The Arrow data type.
    pub(crate) fn data_type(self) -> DataType {
        match self {
            TagKind::Int => DataType::Int64,
            TagKind::Float => DataType::Float32,
            TagKind::Text => DataType::Utf8,
            TagKind::IntList => Self::item(DataType::Int64),
            TagKind::FloatList => Self::item(DataType::Float32),
        }
    }

    fn name(self) -> &'static str {
        match self {
            TagKind::Int => "an integer",
            TagKind::Float => "a float",
            TagKind::Text => "text",
            TagKind::IntList => "an integer array",
            TagKind::FloatList => "a float array",
        }
    }
}

/// Parses `NM` or `NM:TYPE` (TYPE one of `i`, `f`, `Z`, `B`, `B:f`; `H` and `A` mean `Z`).
pub(crate) fn parse_spec(spec: &str) -> Result<([u8; 2], Option<TagKind>), String> {
    let (tag, ty) = spec
        .split_once(':')
        .map_or((spec, None), |(t, ty)| (t, Some(ty)));
    let b = tag.as_bytes();
    if b.len() != 2 || !b.iter().all(u8::is_ascii_graphic) {
        return Err(format!("tag {tag:?} is not two printable characters"));
    }
    let kind = match ty {
        None => None,
        Some("i" | "c" | "C" | "s" | "S" | "I") => Some(TagKind::Int),
        Some("f") => Some(TagKind::Float),
        Some("Z" | "H" | "A") => Some(TagKind::Text),
        Some("B" | "B:i") => Some(TagKind::IntList),
        Some("B:f") => Some(TagKind::FloatList),
        Some(other) => {
            return Err(format!(
                "tag {tag}: unknown type {other:?} (use i, f, Z, B or B:f)"
            ))
        }
    };
    Ok(([b[0], b[1]], kind))
}

enum Values {
    Int(Vec<i64>),
    Float(Vec<f32>),
    Text(Strings),
    IntList(Vec<i32>, Vec<i64>),
    FloatList(Vec<i32>, Vec<f32>),
}

/// One typed tag column being built.
pub(crate) struct TagColumn {
    tag: [u8; 2],
    kind: TagKind,
    values: Values,
    nulls: NullBufferBuilder,
}

impl TagColumn {
    pub(crate) fn new(tag: [u8; 2], kind: TagKind) -> Self {
        let mut c = Self {
            tag,
            kind,
            values: Values::Int(Vec::new()),
            nulls: NullBufferBuilder::new(0),
        };
        c.reset();
        c
    }

    fn reset(&mut self) {
        self.values = match self.kind {
            TagKind::Int => Values::Int(Vec::new()),
            TagKind::Float => Values::Float(Vec::new()),
            TagKind::Text => Values::Text(Strings::with_capacity(0, 0)),
            TagKind::IntList => Values::IntList(vec![0], Vec::new()),
            TagKind::FloatList => Values::FloatList(vec![0], Vec::new()),
        };
        self.nulls = NullBufferBuilder::new(0);
    }

    /// The schema field.
    pub(crate) fn field(&self) -> Field {
        Field::new(
            String::from_utf8_lossy(&self.tag),
            self.kind.data_type(),
            true,
        )
    }

    fn offset(len: usize) -> Result<i32, RecordError> {
        i32::try_from(len).map_err(|_| RecordError::BatchTextOverflow)
    }

    /// Appends this record's value (null when the record lacks the tag).
    // Text columns keep their validity in their `Strings`; the others in `self.nulls`.
    pub(crate) fn push(&mut self, r: &Record<'_>) -> Result<(), RecordError> {
        let field = r.tags().find(|f| f.tag == self.tag);
        let mismatch = |f: &aux::Field<'_>, kind: TagKind| RecordError::TagType {
            tag: f.tag,
            expected: kind.name(),
            found: f.ty,
        };
        let kind = self.kind;
        match (&mut self.values, field) {
            (Values::Int(v), None) => v.push(0),
            (Values::Float(v), None) => v.push(0.0),
            (Values::Text(t), None) => t
                .end_value(false)
                .map_err(|_| RecordError::BatchTextOverflow)?,
            (Values::IntList(o, v), None) => o.push(Self::offset(v.len())?),
            (Values::FloatList(o, v), None) => o.push(Self::offset(v.len())?),
            (Values::Int(v), Some(f)) => {
                v.push(aux::int_value(&f).ok_or_else(|| mismatch(&f, kind))?)
            }
            (Values::Float(v), Some(f)) => {
                if f.ty != b'f' {
                    return Err(mismatch(&f, kind));
                }
                v.push(f32::from_le_bytes([
                    f.value[0], f.value[1], f.value[2], f.value[3],
                ]));
            }
            (Values::Text(t), Some(f)) => {
                if matches!(f.ty, b'Z' | b'H')
                    && !f.value.is_ascii()
                    && std::str::from_utf8(f.value).is_err()
                {
                    return Err(RecordError::Aux {
                        at: f.start,
                        reason: "string value is not UTF-8",
                    });
                }
                if f.ty == b'A' && !f.value[0].is_ascii() {
                    return Err(RecordError::Aux {
                        at: f.start,
                        reason: "character value is not ASCII",
                    });
                }
                aux::push_value(&f, &mut t.values);
                t.end_value(true)
                    .map_err(|_| RecordError::BatchTextOverflow)?;
            }
            (Values::IntList(o, v), Some(f)) => {
                let (sub, elems) = aux::array_elements(&f).ok_or_else(|| mismatch(&f, kind))?;
                if sub == b'f' {
                    return Err(mismatch(&f, kind));
                }
                v.extend(elems.map(|e| aux::int_element(sub, e).expect("integer subtype")));
                o.push(Self::offset(v.len())?);
            }
            (Values::FloatList(o, v), Some(f)) => {
                let (sub, elems) = aux::array_elements(&f).ok_or_else(|| mismatch(&f, kind))?;
                if sub != b'f' {
                    return Err(mismatch(&f, kind));
                }
                v.extend(elems.map(|e| f32::from_le_bytes([e[0], e[1], e[2], e[3]])));
                o.push(Self::offset(v.len())?);
            }
        }
        if !matches!(self.values, Values::Text(_)) {
            self.nulls.append(field.is_some());
        }
        Ok(())
    }

    /// Finishes the column for the batch and starts a new one.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let nulls = self.nulls.finish();
        let values = std::mem::replace(&mut self.values, Values::Int(Vec::new()));
        let item = |dt| Arc::new(Field::new("item", dt, false));
        let array: ArrayRef = match values {
            Values::Int(v) => Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls)),
            Values::Float(v) => Arc::new(Float32Array::new(ScalarBuffer::from(v), nulls)),
            Values::Text(mut t) => t.finish()?,
            Values::IntList(o, v) => Arc::new(ListArray::try_new(
                item(DataType::Int64),
                OffsetBuffer::new(ScalarBuffer::from(o)),
                Arc::new(Int64Array::new(ScalarBuffer::from(v), None)),
                nulls,
            )?),
            Values::FloatList(o, v) => Arc::new(ListArray::try_new(
                item(DataType::Float32),
                OffsetBuffer::new(ScalarBuffer::from(o)),
                Arc::new(Float32Array::new(ScalarBuffer::from(v), None)),
                nulls,
            )?),
        };
        self.reset();
        Ok(array)
    }
}
