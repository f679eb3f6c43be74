//! The one way every format declares a table: a `const` array of [`Column`]s, in schema order,
//! each with its name, how it is stored (and so its Arrow type), whether it can be null, and
//! the format's own rule for it (how BAM fills it from records, when a timsTOF peak column is
//! null; `()` when the table's builder needs none). The schema ([`fields`]), the column names
//! ([`names`]), lookups by name ([`position`], [`select`]) and each format's sizing and filling
//! walk that array, so a column is added by adding its row.

use std::sync::Arc;

use arrow_schema::{DataType, Field};

/// How a column is stored: it gives the column's Arrow type.
pub(crate) trait Storage: Copy {
    /// The Arrow type of a column stored this way.
    fn data_type(self) -> DataType;
}

/// One column of a format's table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column<S = Type, R = ()> {
    /// Its name in the schema.
    pub(crate) name: &'static str,
    /// How it is stored (its Arrow type).
    pub(crate) store: S,
    /// Whether it can hold nulls.
    pub(crate) nullable: bool,
    /// The format's rule for it.
    pub(crate) rule: R,
}

impl<S> Column<S> {
    /// A column without a rule of its own.
    pub(crate) const fn new(name: &'static str, store: S, nullable: bool) -> Self {
        Self {
            name,
            store,
            nullable,
            rule: (),
        }
    }
}

/// The storage of tables whose builders need no more than the Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    /// `Boolean`.
    Bool,
    /// `UInt8`.
    U8,
    /// `UInt16`.
    U16,
    /// `UInt32`.
    U32,
    /// `UInt64`.
    U64,
    /// `Float64`.
    F64,
    /// `Utf8`.
    Utf8,
    /// `Dictionary(Int32, Utf8)`: keys into names shared by every batch (references, files).
    Names,
    /// `List(UInt8)`, items not null.
    ListU8,
    /// `List(Float64)`, items not null.
    ListF64,
}

impl Storage for Type {
    fn data_type(self) -> DataType {
        let list = |item| DataType::List(Arc::new(Field::new_list_field(item, false)));
        match self {
            Self::Bool => DataType::Boolean,
            Self::U8 => DataType::UInt8,
            Self::U16 => DataType::UInt16,
            Self::U32 => DataType::UInt32,
            Self::U64 => DataType::UInt64,
            Self::F64 => DataType::Float64,
            Self::Utf8 => DataType::Utf8,
            Self::Names => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
            Self::ListU8 => list(DataType::UInt8),
            Self::ListF64 => list(DataType::Float64),
        }
    }
}

/// The names of a table's columns, in schema order (usable in a `const`).
pub(crate) const fn names<S, R, const N: usize>(table: &[Column<S, R>; N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = table[i].name;
        i += 1;
    }
    out
}

/// The position of column `name` in `table`, evaluated at compile time where it is used in a
/// `const` (a name not in the table fails the build).
pub(crate) const fn position<S, R>(table: &[Column<S, R>], name: &str) -> usize {
    let mut i = 0;
    while i < table.len() {
        if bytes_eq(table[i].name.as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("no such column")
}

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The fields of the columns `keep` selects (by position), in table order.
pub(crate) fn fields<S: Storage, R>(
    table: &[Column<S, R>],
    keep: impl Fn(usize) -> bool,
) -> Vec<Field> {
    table
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, c)| Field::new(c.name, c.store.data_type(), c.nullable))
        .collect()
}

/// Which columns of `table` `names` select (by position; schema order whatever order the names
/// come in, each once, the rule of every reader); an unknown name is the reason, listing the
/// table's columns (`what`: "BAM column", ...).
pub(crate) fn select<S, R, const N: usize>(
    table: &[Column<S, R>; N],
    what: &str,
    names: &[impl AsRef<str>],
) -> Result<[bool; N], String> {
    let mut on = [false; N];
    for n in names {
        let n = n.as_ref().trim();
        let i = table.iter().position(|c| c.name == n).ok_or_else(|| {
            let all: Vec<&str> = table.iter().map(|c| c.name).collect();
            format!("unknown {what} {n:?}; columns are {}", all.join(","))
        })?;
        on[i] = true;
    }
    Ok(on)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: [Column; 3] = [
        Column::new("a", Type::U8, false),
        Column::new("b", Type::Names, true),
        Column::new("c", Type::ListF64, false),
    ];

    #[test]
    fn a_table_gives_names_positions_fields_and_selections() {
        assert_eq!(names(&TABLE), ["a", "b", "c"]);
        const B: usize = position(&TABLE, "b");
        assert_eq!(B, 1);
        let all = fields(&TABLE, |_| true);
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[1].data_type(),
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        );
        assert!(all[1].is_nullable() && !all[2].is_nullable());
        let picked = fields(&TABLE, |i| i != 1);
        assert_eq!(
            picked.iter().map(|f| f.name().as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        // Schema order whatever order the names come in; unknown names list the columns.
        assert_eq!(
            select(&TABLE, "test column", &["c", " a "]),
            Ok([true, false, true])
        );
        assert_eq!(
            select(&TABLE, "test column", &["z"]),
            Err("unknown test column \"z\"; columns are a,b,c".to_string())
        );
    }
}
