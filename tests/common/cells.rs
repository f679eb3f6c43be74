//! Batches read back as plain values: the one place tests turn Arrow columns into numbers and
//! strings (so each test compares values, not array plumbing).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_schema::DataType;

/// One cell as a plain value, whatever its Arrow type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
    List(Vec<Cell>),
}

/// Row `i` of any column this project writes: integers, floats, Utf8, Dictionary<Int32, Utf8>
/// (the string it points at) and lists of those.
pub(crate) fn cell(a: &dyn Array, i: usize) -> Cell {
    if a.is_null(i) {
        return Cell::Null;
    }
    macro_rules! prim {
        ($t:ty, $variant:ident, $conv:ty) => {
            Cell::$variant(<$conv>::from(a.as_primitive::<$t>().value(i)))
        };
    }
    match a.data_type() {
        DataType::Int8 => prim!(Int8Type, Int, i64),
        DataType::Int16 => prim!(Int16Type, Int, i64),
        DataType::Int32 => prim!(Int32Type, Int, i64),
        DataType::Int64 => prim!(Int64Type, Int, i64),
        DataType::UInt8 => prim!(UInt8Type, UInt, u64),
        DataType::UInt16 => prim!(UInt16Type, UInt, u64),
        DataType::UInt32 => prim!(UInt32Type, UInt, u64),
        DataType::UInt64 => prim!(UInt64Type, UInt, u64),
        DataType::Float32 => Cell::Float(f64::from(
            a.as_primitive::<arrow_array::types::Float32Type>().value(i),
        )),
        DataType::Float64 => Cell::Float(a.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => Cell::Text(a.as_string::<i32>().value(i).to_owned()),
        DataType::Dictionary(..) => {
            let d = a.as_dictionary::<Int32Type>();
            let key = d.keys().value(i) as usize;
            cell(d.values().as_ref(), key)
        }
        DataType::List(_) => {
            let v = a.as_list::<i32>().value(i);
            Cell::List((0..v.len()).map(|j| cell(v.as_ref(), j)).collect())
        }
        other => panic!("no plain value for {other}"),
    }
}

impl Cell {
    /// The string (`None` for null).
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Text(s) => Some(s.clone()),
            other => panic!("{other:?} is not text"),
        }
    }

    /// Any integer as i64 (`None` for null).
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Cell::Null => None,
            Cell::Int(v) => Some(*v),
            Cell::UInt(v) => Some(i64::try_from(*v).expect("fits i64")),
            other => panic!("{other:?} is not an integer"),
        }
    }
}

/// Every row of a batch, cell by cell, in column order.
pub(crate) fn rows(b: &RecordBatch) -> Vec<Vec<Cell>> {
    (0..b.num_rows())
        .map(|i| b.columns().iter().map(|c| cell(c.as_ref(), i)).collect())
        .collect()
}

fn named<'a>(b: &'a RecordBatch, name: &str) -> &'a dyn Array {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_ref()
}

/// A primitive column's value buffer as stored, null slots included (what the readers write
/// there is part of what some tests check).
pub(crate) fn values<T: ArrowPrimitiveType>(b: &RecordBatch, name: &str) -> Vec<T::Native> {
    named(b, name).as_primitive::<T>().values().to_vec()
}

/// A primitive column, `None` for nulls.
pub(crate) fn options<T: ArrowPrimitiveType>(
    b: &RecordBatch,
    name: &str,
) -> Vec<Option<T::Native>> {
    named(b, name).as_primitive::<T>().iter().collect()
}

/// A `List<Float64>` column, each row's values.
pub(crate) fn f64_lists(b: &RecordBatch, name: &str) -> Vec<Vec<f64>> {
    let a = named(b, name).as_list::<i32>();
    (0..a.len())
        .map(|i| a.value(i).as_primitive::<Float64Type>().values().to_vec())
        .collect()
}

/// A Utf8 or dictionary column's strings (`None` for nulls).
pub(crate) fn texts(a: &dyn Array) -> Vec<Option<String>> {
    (0..a.len()).map(|i| cell(a, i).text()).collect()
}
