//! Arrow columns as PostgreSQL types and as the binary `COPY` format.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch};
use arrow_schema::DataType;

/// The PostgreSQL type of an Arrow column, `None` when there is no mapping.
pub(crate) fn pg_type(t: &DataType) -> Option<String> {
    if let DataType::List(f) = t {
        return match f.data_type() {
            DataType::List(_) | DataType::Utf8 | DataType::LargeUtf8 | DataType::Dictionary(..) => {
                None
            }
            item => Some(format!("{}[]", pg_type(item)?)),
        };
    }
    Some(
        match t {
            DataType::Int8 | DataType::UInt8 | DataType::Int16 => "smallint",
            DataType::UInt16 | DataType::Int32 => "integer",
            DataType::UInt32 | DataType::Int64 | DataType::UInt64 => "bigint",
            DataType::Float32 => "real",
            DataType::Float64 => "double precision",
            DataType::Boolean => "boolean",
            DataType::Utf8 | DataType::LargeUtf8 => "text",
            DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8) => {
                "text"
            }
            _ => return None,
        }
        .to_string(),
    )
}

/// The type OID of a scalar PostgreSQL type named by [`pg_type`] (array elements).
pub(super) fn oid(t: &DataType) -> Option<i32> {
    Some(match pg_type(t)?.as_str() {
        "smallint" => 21,
        "integer" => 23,
        "bigint" => 20,
        "real" => 700,
        "double precision" => 701,
        "boolean" => 16,
        "text" => 25,
        _ => return None,
    })
}

/// The binary COPY stream of `batch`: header, one tuple per row, trailer.
pub(crate) fn encode(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), String> {
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    let columns: Vec<_> = batch
        .columns()
        .iter()
        .map(Column::new)
        .collect::<Result<_, _>>()?;
    let n = i16::try_from(columns.len()).map_err(|_| "more than 32,767 columns".to_string())?;
    for row in 0..batch.num_rows() {
        out.extend_from_slice(&n.to_be_bytes());
        for (c, nulls) in &columns {
            if nulls.is_some_and(|n| n.is_null(row)) {
                out.extend_from_slice(&(-1i32).to_be_bytes());
            } else {
                c.write(row, out)?;
            }
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(())
}

/// A column resolved once to its typed array (no downcast per value).
enum Column<'a> {
    I8(&'a PrimitiveArray<Int8Type>),
    U8(&'a PrimitiveArray<UInt8Type>),
    I16(&'a PrimitiveArray<Int16Type>),
    U16(&'a PrimitiveArray<UInt16Type>),
    I32(&'a PrimitiveArray<Int32Type>),
    U32(&'a PrimitiveArray<UInt32Type>),
    I64(&'a PrimitiveArray<Int64Type>),
    U64(&'a PrimitiveArray<UInt64Type>),
    F32(&'a PrimitiveArray<Float32Type>),
    F64(&'a PrimitiveArray<Float64Type>),
    Bool(&'a arrow_array::BooleanArray),
    Text(&'a arrow_array::StringArray),
    LargeText(&'a arrow_array::LargeStringArray),
    Dict(&'a PrimitiveArray<Int32Type>, &'a arrow_array::StringArray),
    /// A one-dimensional array: the list, its elements as a column, the elements' type OID.
    List(
        &'a arrow_array::ListArray,
        Box<(Column<'a>, Option<&'a arrow_buffer::NullBuffer>)>,
        i32,
    ),
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A fixed-width field: its length and its big-endian bytes in one append.
macro_rules! fixed {
    ($out:expr, $value:expr, $n:literal) => {{
        let mut f = [0u8; 4 + $n];
        f[3] = $n;
        f[4..].copy_from_slice(&$value.to_be_bytes());
        $out.extend_from_slice(&f);
    }};
}

impl<'a> Column<'a> {
    fn new(a: &'a ArrayRef) -> Result<(Self, Option<&'a arrow_buffer::NullBuffer>), String> {
        let c = match a.data_type() {
            DataType::Int8 => Self::I8(a.as_primitive()),
            DataType::UInt8 => Self::U8(a.as_primitive()),
            DataType::Int16 => Self::I16(a.as_primitive()),
            DataType::UInt16 => Self::U16(a.as_primitive()),
            DataType::Int32 => Self::I32(a.as_primitive()),
            DataType::UInt32 => Self::U32(a.as_primitive()),
            DataType::Int64 => Self::I64(a.as_primitive()),
            DataType::UInt64 => Self::U64(a.as_primitive()),
            DataType::Float32 => Self::F32(a.as_primitive()),
            DataType::Float64 => Self::F64(a.as_primitive()),
            DataType::Boolean => Self::Bool(a.as_boolean()),
            DataType::Utf8 => Self::Text(a.as_string::<i32>()),
            DataType::LargeUtf8 => Self::LargeText(a.as_string::<i64>()),
            DataType::Dictionary(k, v)
                if **k == DataType::Int32 && matches!(**v, DataType::Utf8) =>
            {
                let d = a.as_dictionary::<Int32Type>();
                Self::Dict(d.keys(), d.values().as_string::<i32>())
            }
            DataType::List(f) if pg_type(a.data_type()).is_some() => {
                let list = a.as_list::<i32>();
                let oid = oid(f.data_type())
                    .ok_or_else(|| format!("no PostgreSQL array of {}", f.data_type()))?;
                Self::List(list, Box::new(Column::new(list.values())?), oid)
            }
            other => return Err(format!("no PostgreSQL encoding for {other}")),
        };
        Ok((c, a.nulls()))
    }

    /// Appends row `i`'s field (inlined into the row loop: one match per value, no call).
    #[inline(always)]
    fn write(&self, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Self::List(list, items, oid) => write_list(list, items, *oid, i, out),
            scalar => scalar.write_scalar(i, out),
        }
    }

    /// [`Column::write`] for a column of scalars (an array's elements too).
    #[inline(always)]
    fn write_scalar(&self, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Self::I8(a) => fixed!(out, i16::from(a.value(i)), 2),
            Self::U8(a) => fixed!(out, i16::from(a.value(i)), 2),
            Self::I16(a) => fixed!(out, a.value(i), 2),
            Self::U16(a) => fixed!(out, i32::from(a.value(i)), 4),
            Self::I32(a) => fixed!(out, a.value(i), 4),
            Self::U32(a) => fixed!(out, i64::from(a.value(i)), 8),
            Self::I64(a) => fixed!(out, a.value(i), 8),
            Self::U64(a) => {
                let v = a.value(i);
                let v = i64::try_from(v).map_err(|_| format!("{v} does not fit a bigint"))?;
                fixed!(out, v, 8);
            }
            Self::F32(a) => fixed!(out, a.value(i), 4),
            Self::F64(a) => fixed!(out, a.value(i), 8),
            Self::Bool(a) => fixed!(out, u8::from(a.value(i)), 1),
            Self::Text(a) => field(out, a.value(i).as_bytes()),
            Self::LargeText(a) => field(out, a.value(i).as_bytes()),
            Self::Dict(keys, values) => {
                let k = keys.value(i);
                let k = usize::try_from(k).map_err(|_| format!("dictionary key {k}"))?;
                if k >= values.len() {
                    return Err(format!("dictionary key {k} past {} values", values.len()));
                }
                field(out, values.value(k).as_bytes());
            }
            Self::List(..) => return Err("arrays of arrays have no PostgreSQL encoding".into()),
        }
        Ok(())
    }
}

/// Row `i` of a list column as a one-dimensional PostgreSQL array of `oid` elements.
#[inline(never)]
fn write_list(
    list: &arrow_array::ListArray,
    items: &(Column<'_>, Option<&arrow_buffer::NullBuffer>),
    oid: i32,
    i: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let (items, nulls) = items;
    let offsets = list.value_offsets();
    let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
    let n = end - start;
    let has_null = nulls.is_some_and(|m| (start..end).any(|j| m.is_null(j)));
    let mut body = Vec::with_capacity(20 + 12 * n);
    let ndim = i32::from(n > 0);
    body.extend_from_slice(&ndim.to_be_bytes());
    body.extend_from_slice(&i32::from(has_null).to_be_bytes());
    body.extend_from_slice(&oid.to_be_bytes());
    if n > 0 {
        let len = i32::try_from(n).map_err(|_| format!("an array of {n} elements"))?;
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes()); // lower bound
        for j in start..end {
            if nulls.is_some_and(|m| m.is_null(j)) {
                body.extend_from_slice(&(-1i32).to_be_bytes());
            } else {
                items.write_scalar(j, &mut body)?;
            }
        }
    }
    field(out, &body);
    Ok(())
}
