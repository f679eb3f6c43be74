//! The BAM columns: one table row per column says its name, how it is stored, whether it can be
//! null and how it is filled from a block of validated records. Sizing the batch's arena, taking
//! each column's regions, filling and finishing into an Arrow array all walk this table, so a
//! column is added by adding its row (schema in docs/SCHEMAS.md).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, PrimitiveArray, StringArray, UInt16Array, UInt8Array,
};
use arrow_buffer::ArrowNativeType;
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};
use rawarrow_kernels::{cigar, qual, seq};

use super::buffers::{PrimCol, TextCol};
use crate::arrow::arena::{Arena, ArenaSize};
use crate::arrow::columns::{fields, names, position, select, Storage};
use crate::bam::error::RecordError;
use crate::bam::record::tagtext::{self, TextBuf};
use crate::bam::record::Record;

/// How a column's values are stored in the batch's arena, and so its Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    /// `UInt8`.
    U8,
    /// `UInt16`.
    U16,
    /// `Int32`.
    I32,
    /// `Dictionary<Int32, Utf8>` keys into the header's reference names.
    Ref,
    /// `Utf8` whose byte total the records' fixed fields give before decoding.
    Sized(Bytes),
    /// `Utf8` rendered into a region sized by the column's rate in the last batch, spilling
    /// into a reused buffer past it.
    Rendered,
}

/// Which fixed-field total sizes a [`Store::Sized`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bytes {
    /// `l_read_name` summed.
    Names,
    /// `l_seq` summed.
    Bases,
}

/// Fills rows `row0..row0 + recs.len()` of one column; a rendered column appends to its text
/// buffer. An error names the row.
type Fill = fn(&mut Values, usize, &[Record<'_>], &mut TextBuf) -> Result<(), (usize, RecordError)>;

/// One column of the BAM schema: its rule is how it is filled.
type Column = crate::arrow::columns::Column<Store, Fill>;

impl Storage for Store {
    fn data_type(self) -> DataType {
        match self {
            Self::U8 => DataType::UInt8,
            Self::U16 => DataType::UInt16,
            Self::I32 => DataType::Int32,
            Self::Ref => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            Self::Sized(_) | Self::Rendered => DataType::Utf8,
        }
    }
}

/// Every BAM column, in schema order.
const TABLE: [Column; 14] = [
    Column {
        name: "qname",
        store: Store::Sized(Bytes::Names),
        nullable: true,
        rule: |v, row0, recs, _| {
            v.text().fill(
                row0,
                recs,
                |r| r.name().len(),
                |r, out| {
                    let valid = r.name() != b"*";
                    if valid {
                        out.copy_from_slice(r.name());
                    }
                    valid
                },
            );
            Ok(())
        },
    },
    Column {
        name: "flag",
        store: Store::U16,
        nullable: false,
        rule: |v, row0, recs, _| prim(v, row0, recs, |r| Some(r.flag())),
    },
    Column {
        name: "rname",
        store: Store::Ref,
        nullable: true,
        rule: |v, row0, recs, _| prim(v, row0, recs, |r| (r.ref_id() >= 0).then_some(r.ref_id())),
    },
    Column {
        name: "pos",
        store: Store::I32,
        nullable: true,
        // -1 is "no position"; htslib keeps values below it, so the column does too.
        rule: |v, row0, recs, _| prim(v, row0, recs, |r| (r.pos() != -1).then(|| r.pos() + 1)),
    },
    Column {
        name: "mapq",
        store: Store::U8,
        nullable: true,
        rule: |v, row0, recs, _| prim(v, row0, recs, |r| (r.mapq() != 255).then_some(r.mapq())),
    },
    Column {
        name: "cigar",
        store: Store::Rendered,
        nullable: true,
        rule: |v, row0, recs, text| {
            let room = |r: &Record<'_>| r.cigar_raw().len() / 4 * cigar::MAX_TEXT_PER_OP;
            v.text().render(row0, recs, text, room, |r, out| {
                let ops = r.cigar_raw();
                if ops.is_empty() {
                    return Ok((false, 0));
                }
                Ok((true, cigar::to_text(ops, out).text_len))
            })
        },
    },
    Column {
        name: "rnext",
        store: Store::Ref,
        nullable: true,
        rule: |v, row0, recs, _| {
            prim(v, row0, recs, |r| {
                (r.next_ref_id() >= 0).then_some(r.next_ref_id())
            })
        },
    },
    Column {
        name: "pnext",
        store: Store::I32,
        nullable: true,
        rule: |v, row0, recs, _| {
            prim(v, row0, recs, |r| {
                (r.next_pos() != -1).then(|| r.next_pos() + 1)
            })
        },
    },
    Column {
        name: "tlen",
        store: Store::I32,
        nullable: false,
        rule: |v, row0, recs, _| prim(v, row0, recs, |r| Some(r.tlen())),
    },
    Column {
        name: "seq",
        store: Store::Sized(Bytes::Bases),
        nullable: true,
        rule: |v, row0, recs, _| {
            v.text().fill(
                row0,
                recs,
                |r| r.seq_len(),
                |r, out| {
                    if !out.is_empty() {
                        seq::decode(r.seq_packed(), out);
                    }
                    !out.is_empty()
                },
            );
            Ok(())
        },
    },
    Column {
        name: "qual",
        store: Store::Sized(Bytes::Bases),
        nullable: true,
        rule: |v, row0, recs, _| {
            let present = |r: &Record<'_>| r.seq_len() > 0 && r.qual_raw()[0] != 0xff;
            let len = |r: &Record<'_>| if present(r) { r.seq_len() } else { 0 };
            v.text().fill(row0, recs, len, |r, out| {
                if present(r) {
                    qual::encode(r.qual_raw(), out);
                }
                present(r)
            });
            Ok(())
        },
    },
    Column {
        name: "end",
        store: Store::I32,
        nullable: true,
        rule: |v, row0, recs, _| {
            let clamp = |e: i64| e.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            prim(v, row0, recs, |r| r.end().map(clamp))
        },
    },
    Column {
        name: "bin",
        store: Store::U16,
        nullable: true,
        rule: |v, row0, recs, _| prim(v, row0, recs, |r| r.bai_bin()),
    },
    Column {
        name: "tags",
        store: Store::Rendered,
        nullable: false,
        rule: |v, row0, recs, text| {
            let room = |r: &Record<'_>| tagtext::room_for(r.aux().len());
            v.text().render(row0, recs, text, room, |r, out| {
                Ok((true, tagtext::render(r.aux(), r.cg_range(), true, out)?))
            })
        },
    },
];

/// Number of columns in the default schema.
const N: usize = TABLE.len();

/// The columns of the default schema, in order.
pub const COLUMNS: [&str; N] = names(&TABLE);

/// The position of a column in [`TABLE`] (evaluated at compile time).
const fn column(name: &str) -> usize {
    position(&TABLE, name)
}

/// Columns the decoder asks about by name (checks that depend on what is projected).
pub(in crate::bam) const QNAME: usize = column("qname");
pub(in crate::bam) const POS: usize = column("pos");
pub(in crate::bam) const PNEXT: usize = column("pnext");
pub(in crate::bam) const TAGS: usize = column("tags");

/// Which columns to decode. A projection keeps the schema order of [`COLUMNS`] whatever order
/// the names come in (the rule of every reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Projection([bool; N]);

impl Default for Projection {
    fn default() -> Self {
        Self([true; N])
    }
}

impl Projection {
    /// A projection of the named columns; unknown names are a usage error listing the valid
    /// ones.
    pub fn of<S: AsRef<str>>(names: &[S]) -> Result<Self, crate::Error> {
        Self::parse(names).map_err(crate::Error::usage)
    }

    /// [`Projection::of`] with the reason as text.
    pub(crate) fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        select(&TABLE, "BAM column", names).map(Self)
    }

    /// Number of projected columns.
    pub(in crate::bam) fn count(&self) -> usize {
        self.0.iter().filter(|on| **on).count()
    }

    /// Indexed by [`TABLE`] position (no name lookups on the hot path).
    #[inline]
    pub(in crate::bam) fn on(&self, column: usize) -> bool {
        self.0[column]
    }

    /// Whether a column sized from the fixed fields' byte totals is projected.
    pub(in crate::bam) fn needs_totals(&self) -> bool {
        TABLE
            .iter()
            .zip(self.0)
            .any(|(c, on)| on && matches!(c.store, Store::Sized(_)))
    }

    /// Whether a column sized by the bases (sequence, quality) is projected.
    pub(in crate::bam) fn reads_bases(&self) -> bool {
        TABLE
            .iter()
            .zip(self.0)
            .any(|(c, on)| on && c.store == Store::Sized(Bytes::Bases))
    }

    /// The Arrow schema of this projection.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(fields(&TABLE, |i| self.0[i])))
    }
}

/// Bytes to reserve for a batch's sized text columns before they are decoded: bounds from the
/// records' lengths, or the exact totals from their fixed fields (regions are cut to what was
/// written).
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::bam) struct Totals {
    pub(in crate::bam) names: u64,
    pub(in crate::bam) bases: u64,
}

/// The projected columns of one batch being filled, in schema order, each with its reused
/// rendering buffer (empty unless [`Store::Rendered`]).
pub(in crate::bam) struct Columns {
    cols: Vec<(&'static Column, Values)>,
}

/// The arena bytes of the projected columns of an `n`-row batch; `texts` are the columns'
/// rendering buffers, whose estimates size the rendered columns.
pub(in crate::bam) fn arena_size(
    p: Projection,
    n: usize,
    t: Totals,
    texts: &[TextBuf],
) -> ArenaSize {
    let mut size = ArenaSize::default();
    let bits = n.div_ceil(8);
    for (c, text) in TABLE
        .iter()
        .zip(p.0)
        .filter(|(_, on)| *on)
        .map(|(c, _)| c)
        .zip(texts)
    {
        match c.store {
            Store::U8 => size.add::<u8>(n),
            Store::U16 => size.add::<u16>(n),
            Store::I32 | Store::Ref => size.add::<i32>(n),
            Store::Sized(b) => size.add::<i32>(n + 1).add::<u8>(t.bytes(b)),
            Store::Rendered => size.add::<i32>(n + 1).add::<u8>(text.estimate(n)),
        };
        if c.nullable {
            size.add::<u8>(bits);
        }
    }
    size
}

impl Totals {
    fn bytes(&self, b: Bytes) -> usize {
        match b {
            Bytes::Names => self.names as usize,
            Bytes::Bases => self.bases as usize,
        }
    }
}

impl Columns {
    /// Takes every projected column's regions from `arena` (sized by [`arena_size`] with the
    /// same `texts`).
    pub(in crate::bam) fn new(
        p: Projection,
        arena: &mut Arena,
        n: usize,
        t: Totals,
        texts: &[TextBuf],
    ) -> Self {
        let cols = TABLE
            .iter()
            .zip(p.0)
            .filter(|(_, on)| *on)
            .map(|(c, _)| c)
            .zip(texts)
            .map(|(c, text)| {
                let v = match c.store {
                    Store::U8 => Values::U8(PrimCol::new(arena, n, c.nullable)),
                    Store::U16 => Values::U16(PrimCol::new(arena, n, c.nullable)),
                    Store::I32 | Store::Ref => Values::I32(PrimCol::new(arena, n, c.nullable)),
                    Store::Sized(b) => {
                        Values::Text(TextCol::sized(arena, n, t.bytes(b), c.nullable))
                    }
                    Store::Rendered => {
                        Values::Text(TextCol::rendering(arena, n, text.estimate(n), c.nullable))
                    }
                };
                (c, v)
            })
            .collect();
        Self { cols }
    }

    /// Fills rows `row0..row0 + recs.len()` of every column, a column at a time; `texts` holds
    /// one rendering buffer per column.
    pub(in crate::bam) fn fill(
        &mut self,
        row0: usize,
        recs: &[Record<'_>],
        texts: &mut [TextBuf],
    ) -> Result<(), (usize, RecordError)> {
        for ((c, v), text) in self.cols.iter_mut().zip(texts) {
            (c.rule)(v, row0, recs, text)?;
        }
        Ok(())
    }

    /// The arrays, in schema order; rendered text that spilled out of its region is joined in
    /// an arena from `arena`, and each rendering buffer learns its column's rate.
    pub(in crate::bam) fn finish(
        self,
        rows: usize,
        texts: &mut [TextBuf],
        dictionary: &Arc<StringArray>,
        arena: impl Fn(ArenaSize) -> Arena,
    ) -> Result<Vec<ArrayRef>, ArrowError> {
        let bytes = |n: usize| arena(*ArenaSize::default().add::<u8>(n));
        let mut out = Vec::with_capacity(self.cols.len());
        for ((c, v), text) in self.cols.into_iter().zip(texts) {
            let array: ArrayRef = match (c.store, v) {
                (Store::U8, Values::U8(col)) => {
                    let (v, n) = col.finish(rows);
                    Arc::new(UInt8Array::new(v, n))
                }
                (Store::U16, Values::U16(col)) => {
                    let (v, n) = col.finish(rows);
                    Arc::new(UInt16Array::new(v, n))
                }
                (Store::I32, Values::I32(col)) => {
                    let (v, n) = col.finish(rows);
                    Arc::new(Int32Array::new(v, n))
                }
                (Store::Ref, Values::I32(col)) => {
                    let (v, n) = col.finish(rows);
                    let keys = PrimitiveArray::<Int32Type>::new(v, n);
                    // Keys were range-checked against the header when the record was validated.
                    Arc::new(DictionaryArray::<Int32Type>::try_new(
                        keys,
                        dictionary.clone(),
                    )?)
                }
                (Store::Sized(_), Values::Text(col)) => col.finish(rows, None, bytes)?,
                (Store::Rendered, Values::Text(col)) => {
                    let rendered = col.rendered(text);
                    let array = col.finish(rows, Some(text), bytes)?;
                    text.learn(rendered, rows);
                    array
                }
                _ => unreachable!("values are made from the store"),
            };
            out.push(array);
        }
        Ok(out)
    }
}

/// One column's values being filled.
enum Values {
    U8(PrimCol<u8>),
    U16(PrimCol<u16>),
    I32(PrimCol<i32>),
    Text(TextCol),
}

impl Values {
    fn text(&mut self) -> &mut TextCol {
        match self {
            Self::Text(t) => t,
            _ => unreachable!("text fill on a text column"),
        }
    }
}

/// The Arrow native types primitive columns hold.
trait Native: ArrowNativeType {
    fn col(v: &mut Values) -> &mut PrimCol<Self>;
}

macro_rules! native {
    ($t:ty, $variant:ident) => {
        impl Native for $t {
            fn col(v: &mut Values) -> &mut PrimCol<Self> {
                match v {
                    Values::$variant(c) => c,
                    _ => unreachable!("primitive fill of its own type"),
                }
            }
        }
    };
}
native!(u8, U8);
native!(u16, U16);
native!(i32, I32);

/// Fills a primitive column: `get` gives a record's value, or `None` for null.
fn prim<T: Native>(
    v: &mut Values,
    row0: usize,
    recs: &[Record<'_>],
    get: impl Fn(&Record<'_>) -> Option<T>,
) -> Result<(), (usize, RecordError)> {
    T::col(v).fill(row0, recs, get);
    Ok(())
}
