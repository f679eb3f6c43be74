//! Arrow columns for BAM records (schema in docs/SCHEMAS.md).
//!
//! A batch is sized before it is decoded: the records' fixed fields give the exact bytes of the
//! names, bases and qualities, so every column except the rendered CIGAR and tags text lives in
//! one arena allocation from a pool shared by the workers; the CIGAR and tags text is rendered
//! into reused buffers and copied into a second arena once its length is known. Records are
//! validated and decoded in blocks of [`BLOCK`], a column at a time, while their bytes are in
//! cache; the kernels write sequence and quality straight into the arena, which is handed to
//! Arrow without copying.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, PrimitiveArray, RecordBatch, StringArray, UInt16Array,
    UInt8Array,
};
use arrow_buffer::{
    ArrowNativeType, Buffer, NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use rawarrow_kernels::{cigar, qual, seq};

use super::aux;
use super::error::RecordError;
use super::record::Record;
use crate::arrow::arena::{Arena, ArenaPool, ArenaSize, Region};

/// The columns of the default schema, in order.
pub const COLUMNS: [&str; 13] = [
    "qname", "flag", "rname", "pos", "mapq", "cigar", "rnext", "pnext", "tlen", "seq", "qual",
    "end", "tags",
];

fn data_type(name: &str) -> DataType {
    match name {
        "flag" => DataType::UInt16,
        "mapq" => DataType::UInt8,
        "pos" | "pnext" | "tlen" | "end" => DataType::Int32,
        "rname" | "rnext" => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        _ => DataType::Utf8,
    }
}

const QNAME: usize = 0;
const FLAG: usize = 1;
const RNAME: usize = 2;
const POS: usize = 3;
const MAPQ: usize = 4;
const CIGAR: usize = 5;
const RNEXT: usize = 6;
const PNEXT: usize = 7;
const TLEN: usize = 8;
const SEQ: usize = 9;
const QUAL: usize = 10;
const END: usize = 11;
const TAGS: usize = 12;

/// Which columns to decode (a projection keeps the schema order of [`COLUMNS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Projection([bool; 13]);

impl Default for Projection {
    fn default() -> Self {
        Self([true; 13])
    }
}

impl Projection {
    /// A projection of the named columns; unknown names are an error listing the valid ones.
    pub fn of<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut p = [false; 13];
        for n in names {
            let n = n.as_ref().trim();
            let i = COLUMNS.iter().position(|c| *c == n).ok_or_else(|| {
                format!(
                    "unknown BAM column {n:?}; columns are {}",
                    COLUMNS.join(",")
                )
            })?;
            p[i] = true;
        }
        Ok(Self(p))
    }

    /// Indexed by the column constants (no name lookups on the hot path).
    #[inline]
    fn on(&self, column: usize) -> bool {
        self.0[column]
    }

    /// The Arrow schema of this projection.
    pub fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> = COLUMNS
            .iter()
            .zip(self.0)
            .filter(|(_, on)| *on)
            .map(|(name, _)| {
                Field::new(
                    *name,
                    data_type(name),
                    !matches!(*name, "flag" | "tlen" | "tags"),
                )
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// A Utf8 column being built: offsets, values and (unless never null) validity.
#[derive(Default)]
pub(super) struct Strings {
    offsets: Vec<i32>,
    pub(super) values: Vec<u8>,
    pub(super) nulls: Option<NullBufferBuilder>,
}

impl Strings {
    pub(super) fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            values: Vec::with_capacity(bytes),
            nulls: Some(NullBufferBuilder::new(rows)),
        }
    }

    pub(super) fn end_value(&mut self, valid: bool) -> Result<(), ArrowError> {
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

    pub(super) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut self.offsets)));
        let values = Buffer::from_vec(std::mem::take(&mut self.values));
        let nulls = self.nulls.as_mut().and_then(NullBufferBuilder::finish);
        Ok(Arc::new(StringArray::try_new(offsets, values, nulls)?))
    }
}

/// A validity bitmap in an arena region (bits start cleared), and how many are set.
struct Bits {
    bits: Region<u8>,
    valid: usize,
}

impl Bits {
    fn new(arena: &mut Arena, rows: usize) -> Self {
        let mut bits = arena.take::<u8>(rows.div_ceil(8));
        bits.zeroed();
        Self { bits, valid: 0 }
    }

    /// Sets the bits of rows `row0..` where `valid` yields true.
    fn set(&mut self, row0: usize, valid: impl Iterator<Item = bool>) {
        let bits = self.bits.as_mut_slice();
        for (i, v) in valid.enumerate() {
            let row = row0 + i;
            bits[row / 8] |= u8::from(v) << (row % 8);
            self.valid += usize::from(v);
        }
    }

    /// `None` when every row is valid.
    fn finish(self, rows: usize) -> Option<NullBuffer> {
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
struct PrimCol<T> {
    values: Region<T>,
    bits: Option<Bits>,
}

impl<T: ArrowNativeType> PrimCol<T> {
    fn new(arena: &mut Arena, rows: usize, nullable: bool) -> Self {
        Self {
            values: arena.take::<T>(rows),
            bits: nullable.then(|| Bits::new(arena, rows)),
        }
    }

    /// Rows `row0..row0 + recs.len()`: `get` gives the value, or `None` for null (stored as 0).
    fn fill(&mut self, row0: usize, recs: &[Record<'_>], get: impl Fn(&Record<'_>) -> Option<T>) {
        let out = &mut self.values.as_mut_slice()[row0..row0 + recs.len()];
        for (o, r) in out.iter_mut().zip(recs) {
            *o = get(r).unwrap_or_default();
        }
        if let Some(bits) = &mut self.bits {
            bits.set(row0, out.iter().zip(recs).map(|(_, r)| get(r).is_some()));
        }
    }

    fn finish(self, rows: usize) -> (ScalarBuffer<T>, Option<NullBuffer>) {
        (
            self.values.into_scalar_buffer(),
            self.bits.and_then(|b| b.finish(rows)),
        )
    }
}

/// Where a Utf8 column's bytes go: an arena region sized in advance, or (for text whose length
/// is only known once rendered) a reused buffer copied into the arena at the end.
enum TextValues {
    Region { values: Region<u8>, at: usize },
    Rendered,
}

/// A Utf8 column of one batch.
struct TextCol {
    offsets: Region<i32>,
    values: TextValues,
    bits: Option<Bits>,
}

impl TextCol {
    fn new(arena: &mut Arena, rows: usize, bytes: Option<usize>, nullable: bool) -> Self {
        let mut offsets = arena.take::<i32>(rows + 1);
        offsets.as_mut_slice()[0] = 0;
        let values = match bytes {
            Some(n) => TextValues::Region {
                values: arena.take::<u8>(n),
                at: 0,
            },
            None => TextValues::Rendered,
        };
        Self {
            offsets,
            values,
            bits: nullable.then(|| Bits::new(arena, rows)),
        }
    }

    /// Rows `row0..`: `put` writes a record's text into the slice it is given (exactly
    /// `len(r)` bytes, or none for null) and says whether the value is valid.
    fn fill(
        &mut self,
        row0: usize,
        recs: &[Record<'_>],
        len: impl Fn(&Record<'_>) -> usize,
        put: impl Fn(&Record<'_>, &mut [u8]) -> bool,
    ) {
        let TextValues::Region { values, at } = &mut self.values else {
            unreachable!("sized text column")
        };
        let (values, offsets) = (values.as_mut_slice(), self.offsets.as_mut_slice());
        let mut pos = *at;
        let mut valid = 0usize;
        for (i, r) in recs.iter().enumerate() {
            let n = len(r);
            let ok = put(r, &mut values[pos..pos + n]);
            if ok {
                pos += n;
            }
            // Sizes were checked to fit in i32 before the arena was made.
            offsets[row0 + i + 1] = pos as i32;
            if let Some(bits) = &mut self.bits {
                let row = row0 + i;
                bits.bits.as_mut_slice()[row / 8] |= u8::from(ok) << (row % 8);
                valid += usize::from(ok);
            }
        }
        if let Some(bits) = &mut self.bits {
            bits.valid += valid;
        }
        *at = pos;
    }

    /// Rows `row0..` of a rendered column: `render` appends a record's text to `text` and says
    /// whether the value is valid.
    fn render(
        &mut self,
        row0: usize,
        recs: &[Record<'_>],
        text: &mut Vec<u8>,
        mut render: impl FnMut(&Record<'_>, &mut Vec<u8>) -> Result<bool, RecordError>,
    ) -> Result<(), (usize, RecordError)> {
        let offsets = self.offsets.as_mut_slice();
        for (i, r) in recs.iter().enumerate() {
            let ok = render(r, text).map_err(|e| (row0 + i, e))?;
            let end = i32::try_from(text.len())
                .map_err(|_| (row0 + i, RecordError::BatchTextOverflow))?;
            offsets[row0 + i + 1] = end;
            if let Some(bits) = &mut self.bits {
                let row = row0 + i;
                bits.bits.as_mut_slice()[row / 8] |= u8::from(ok) << (row % 8);
                bits.valid += usize::from(ok);
            }
        }
        Ok(())
    }

    /// The column; a rendered one takes its bytes from `text` (copied into `arena`).
    fn finish(
        self,
        rows: usize,
        text: Option<(&[u8], &mut Arena)>,
    ) -> Result<ArrayRef, ArrowError> {
        let values = match (self.values, text) {
            (TextValues::Region { mut values, at }, _) => {
                values.truncate(at);
                values.into_buffer()
            }
            (TextValues::Rendered, Some((text, arena))) => {
                let mut values = arena.take::<u8>(text.len());
                values.as_mut_slice().copy_from_slice(text);
                values.into_buffer()
            }
            (TextValues::Rendered, None) => unreachable!("rendered text handed over"),
        };
        let offsets = OffsetBuffer::new(self.offsets.into_scalar_buffer());
        let nulls = self.bits.and_then(|b| b.finish(rows));
        Ok(Arc::new(StringArray::try_new(offsets, values, nulls)?))
    }
}

/// The columns of one batch being filled, each `None` unless projected.
struct Columns {
    qname: Option<TextCol>,
    flag: Option<PrimCol<u16>>,
    rname: Option<PrimCol<i32>>,
    pos: Option<PrimCol<i32>>,
    mapq: Option<PrimCol<u8>>,
    cigar: Option<TextCol>,
    rnext: Option<PrimCol<i32>>,
    pnext: Option<PrimCol<i32>>,
    tlen: Option<PrimCol<i32>>,
    seq: Option<TextCol>,
    qual: Option<TextCol>,
    end: Option<PrimCol<i32>>,
    tags: Option<TextCol>,
}

/// Byte totals of a batch's sized text columns, read from the records' fixed fields before
/// they are decoded.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    names: u64,
    bases: u64,
}

/// Records validated and decoded together (small enough that their bytes stay in cache while
/// every column is filled from them).
const BLOCK: usize = 256;

/// A batch that could not be decoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// A record is malformed: its index among the records given, and what is wrong.
    Record(usize, RecordError),
    /// Arrow rejected a column (a string value that is not UTF-8).
    Arrow(ArrowError),
}

impl From<ArrowError> for DecodeError {
    fn from(e: ArrowError) -> Self {
        Self::Arrow(e)
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Record(i, e) => write!(f, "record {i} of the batch: {e}"),
            Self::Arrow(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes BAM records that are already decompressed and framed into record batches of the
/// projected columns: what [`Reader`](super::Reader) does on its workers, for callers with their
/// own input layer. Each record is validated first (the checks of
/// [`Record::parse`](super::Record::parse)); batches reuse their memory once dropped.
///
/// ```
/// # use std::io::Read;
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
/// let mut raw = Vec::new();
/// flate2::read::MultiGzDecoder::new(std::fs::File::open(path)?).read_to_end(&mut raw)?;
/// let (header, mut at) = rawarrow::bam::Header::parse(&raw)?.expect("whole header");
/// let mut records: Vec<&[u8]> = Vec::new();
/// while at < raw.len() {
///     let n = u32::from_le_bytes(raw[at..at + 4].try_into()?) as usize;
///     records.push(&raw[at + 4..at + 4 + n]);
///     at += 4 + n;
/// }
/// let projection = rawarrow::bam::Projection::of(&["qname", "pos", "seq"])?;
/// let mut decoder = rawarrow::bam::BatchDecoder::new(&header, projection);
/// let batch = decoder.decode(&records)?;
/// assert_eq!((batch.num_rows(), batch.num_columns()), (4000, 3));
/// // A malformed record is named by its index.
/// let mut bad = records[7].to_vec();
/// bad[8] = 0; // l_read_name
/// records[7] = &bad;
/// let err = decoder.decode(&records).unwrap_err();
/// assert!(matches!(err, rawarrow::bam::DecodeError::Record(7, _)), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BatchDecoder {
    builder: BatchBuilder,
    n_refs: usize,
}

impl std::fmt::Debug for BatchDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchDecoder")
            .field("schema", &self.builder.schema)
            .finish()
    }
}

impl BatchDecoder {
    /// A decoder for records of a file with this header.
    pub fn new(header: &super::Header, projection: Projection) -> Self {
        Self {
            builder: BatchBuilder::new(
                projection,
                &[],
                header.dictionary(),
                header.metadata(),
                ArenaPool::new(4),
            ),
            n_refs: header.references.len(),
        }
    }

    /// The schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.builder.schema()
    }

    /// One batch of `records` (each the bytes after its `block_size` field).
    pub fn decode(&mut self, records: &[&[u8]]) -> Result<RecordBatch, DecodeError> {
        self.builder
            .build(records.len(), |i| records[i], self.n_refs)
    }
}

/// Builds record batches of the projected columns, one arena allocation per batch (from a pool
/// shared by the reader's workers, so steady-state batches reuse memory).
pub(crate) struct BatchBuilder {
    proj: Projection,
    typed_spec: Vec<([u8; 2], super::tags::TagKind)>,
    typed: Vec<super::tags::TagColumn>,
    schema: SchemaRef,
    dictionary: Arc<StringArray>,
    metadata: std::collections::HashMap<String, String>,
    arenas: ArenaPool,
    /// Reused: the validated records of a block, and the rendered CIGAR and tags text.
    cigar_text: Vec<u8>,
    tags_text: Vec<u8>,
    /// Rows of the last batch whose read name lacked its NUL (htslib keeps every byte).
    pub(crate) unterminated: Vec<usize>,
}

/// What a valid record holds that a projected column cannot: a read name that is not UTF-8
/// (the Utf8 `qname`; SAM text prints any bytes) or a position of 2³¹ − 1 (the Int32 `pos` and
/// `pnext` hold 1-based values; htslib prints 2147483648).
fn column_fault_of(r: &Record<'_>, p: Projection) -> Option<RecordError> {
    let name = r.name();
    if p.on(QNAME) && !name.is_ascii() && std::str::from_utf8(name).is_err() {
        return Some(RecordError::ReadNameNotUtf8);
    }
    for (on, field, value) in [
        (p.on(POS), "pos", r.pos()),
        (p.on(PNEXT), "next_pos", r.next_pos()),
    ] {
        if on && value == i32::MAX {
            return Some(RecordError::PositionOutOfRange { field, value });
        }
    }
    None
}

impl BatchBuilder {
    pub(crate) fn new(
        proj: Projection,
        typed_spec: &[([u8; 2], super::tags::TagKind)],
        dictionary: Arc<StringArray>,
        metadata: std::collections::HashMap<String, String>,
        arenas: ArenaPool,
    ) -> Self {
        let typed: Vec<super::tags::TagColumn> = typed_spec
            .iter()
            .map(|&(tag, kind)| super::tags::TagColumn::new(tag, kind))
            .collect();
        let schema = {
            let base = proj.schema();
            let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.extend(typed.iter().map(super::tags::TagColumn::field));
            Arc::new(Schema::new_with_metadata(fields, metadata.clone()))
        };
        Self {
            proj,
            typed_spec: typed_spec.to_vec(),
            typed,
            schema,
            dictionary,
            metadata,
            arenas,
            cigar_text: Vec::new(),
            tags_text: Vec::new(),
            unterminated: Vec::new(),
        }
    }

    pub(crate) fn dictionary(&self) -> Arc<StringArray> {
        self.dictionary.clone()
    }

    /// A builder of the same batches (for another worker), sharing the arena pool.
    pub(crate) fn clone_empty(&self) -> Self {
        Self::new(
            self.proj,
            &self.typed_spec,
            self.dictionary.clone(),
            self.metadata.clone(),
            self.arenas.clone(),
        )
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Byte totals of the records' names and bases from their fixed fields. When a record's
    /// fixed fields do not fit its length, the records up to it are validated for the first
    /// error.
    fn totals<'a>(
        n: usize,
        body: &impl Fn(usize) -> &'a [u8],
        n_refs: usize,
    ) -> Result<Totals, DecodeError> {
        let mut t = Totals::default();
        for i in 0..n {
            let b = body(i);
            let fits = b.len() >= 32 && {
                let l_seq = i32::from_le_bytes([b[16], b[17], b[18], b[19]]);
                let (name, bases) = (u64::from(b[8]), u64::try_from(l_seq).unwrap_or(u64::MAX));
                t.names += name;
                t.bases = t.bases.saturating_add(bases);
                32 + name + bases.saturating_mul(3) / 2 <= b.len() as u64 + 1
            };
            if !fits {
                // The first record that fails full validation: this one, or an earlier one
                // with another fault.
                let first =
                    (0..=i).find_map(|j| Record::parse(body(j), n_refs).err().map(|e| (j, e)));
                let (j, e) = first.unwrap_or((i, RecordError::BlockSizeTooSmall(b.len() as u32)));
                return Err(DecodeError::Record(j, e));
            }
        }
        if t.names > i32::MAX as u64 || t.bases > i32::MAX as u64 {
            return Err(DecodeError::Record(n - 1, RecordError::BatchTextOverflow));
        }
        Ok(t)
    }

    /// Validates and decodes `n` records (`body(i)`: the bytes of record `i` after its
    /// `block_size`) into one batch.
    pub(crate) fn build<'a>(
        &mut self,
        n: usize,
        body: impl Fn(usize) -> &'a [u8],
        n_refs: usize,
    ) -> Result<RecordBatch, DecodeError> {
        let p = self.proj;
        let t = if p.on(QNAME) || p.on(SEQ) || p.on(QUAL) {
            Self::totals(n, &body, n_refs)?
        } else {
            Totals::default()
        };
        let (names, bases) = (t.names as usize, t.bases as usize);
        let mut size = ArenaSize::default();
        let bits = n.div_ceil(8);
        let text = |size: &mut ArenaSize, on: bool, bytes: usize, nullable: bool| {
            if on {
                size.add::<i32>(n + 1).add::<u8>(bytes);
                if nullable {
                    size.add::<u8>(bits);
                }
            }
        };
        text(&mut size, p.on(QNAME), names, true);
        text(&mut size, p.on(CIGAR), 0, true);
        text(&mut size, p.on(SEQ), bases, true);
        text(&mut size, p.on(QUAL), bases, true);
        text(&mut size, p.on(TAGS), 0, false);
        for (col, bytes, nullable) in [
            (FLAG, 2, false),
            (RNAME, 4, true),
            (POS, 4, true),
            (MAPQ, 1, true),
            (RNEXT, 4, true),
            (PNEXT, 4, true),
            (TLEN, 4, false),
            (END, 4, true),
        ] {
            if p.on(col) {
                size.add::<u8>(n * bytes);
                if nullable {
                    size.add::<u8>(bits);
                }
            }
        }
        let mut arena = self.arenas.arena(size);
        let a = &mut arena;
        let mut c = Columns {
            qname: p.on(QNAME).then(|| TextCol::new(a, n, Some(names), true)),
            flag: p.on(FLAG).then(|| PrimCol::new(a, n, false)),
            rname: p.on(RNAME).then(|| PrimCol::new(a, n, true)),
            pos: p.on(POS).then(|| PrimCol::new(a, n, true)),
            mapq: p.on(MAPQ).then(|| PrimCol::new(a, n, true)),
            cigar: p.on(CIGAR).then(|| TextCol::new(a, n, None, true)),
            rnext: p.on(RNEXT).then(|| PrimCol::new(a, n, true)),
            pnext: p.on(PNEXT).then(|| PrimCol::new(a, n, true)),
            tlen: p.on(TLEN).then(|| PrimCol::new(a, n, false)),
            seq: p.on(SEQ).then(|| TextCol::new(a, n, Some(bases), true)),
            qual: p.on(QUAL).then(|| TextCol::new(a, n, Some(bases), true)),
            end: p.on(END).then(|| PrimCol::new(a, n, true)),
            tags: p.on(TAGS).then(|| TextCol::new(a, n, None, false)),
        };
        self.cigar_text.clear();
        self.tags_text.clear();
        self.unterminated.clear();
        let mut recs: Vec<Record<'a>> = Vec::with_capacity(BLOCK.min(n));
        // Worth it when most of each record is read: sequence, quality or tags.
        let sweep = p.on(SEQ) || p.on(QUAL) || p.on(TAGS);
        let mut row0 = 0;
        while row0 < n {
            let k = BLOCK.min(n - row0);
            recs.clear();
            // With the tags column, aux fields are checked as they are rendered.
            let check_aux = !p.on(TAGS);
            // One sequential sweep brings the block's bytes into cache (the hardware prefetcher
            // follows it), so the column passes below do not each wait on memory.
            if sweep {
                let mut touched = 0u8;
                for i in row0..row0 + k {
                    touched ^= body(i).iter().step_by(64).fold(0, |a, &b| a ^ b);
                }
                std::hint::black_box(touched);
            }
            // A value only an Arrow column refuses (its record is still valid): reported once
            // the records before it are filled, so an earlier fault found while filling wins.
            let mut column_fault = None;
            for i in row0..row0 + k {
                match Record::parse_with(body(i), n_refs, check_aux) {
                    Ok(r) => {
                        if let Some(e) = column_fault_of(&r, p) {
                            column_fault = Some(DecodeError::Record(i, e));
                            break;
                        }
                        if r.name_unterminated() {
                            self.unterminated.push(i);
                        }
                        recs.push(r)
                    }
                    Err(e) => {
                        // An earlier record of the block may have bad aux fields, or this one
                        // (full validation checks them before the CIGAR): report as it does.
                        let first = (row0..=i)
                            .find_map(|j| Record::parse(body(j), n_refs).err().map(|e| (j, e)));
                        let (j, e) = first.unwrap_or((i, e));
                        return Err(DecodeError::Record(j, e));
                    }
                }
            }
            self.fill_block(&mut c, row0, &recs)
                .map_err(|(i, e)| DecodeError::Record(i, e))?;
            for t in &mut self.typed {
                for (i, r) in recs.iter().enumerate() {
                    t.push(r).map_err(|e| DecodeError::Record(row0 + i, e))?;
                }
            }
            if let Some(e) = column_fault {
                return Err(e);
            }
            row0 += k;
        }
        self.finish(c, n)
    }

    /// Fills rows `row0..row0 + recs.len()` of every projected column, a column at a time (the
    /// rows of a block that ends early at a column fault are never handed out).
    fn fill_block(
        &mut self,
        c: &mut Columns,
        row0: usize,
        recs: &[Record<'_>],
    ) -> Result<(), (usize, RecordError)> {
        if let Some(col) = &mut c.qname {
            col.fill(
                row0,
                recs,
                |r| r.name().len(),
                |r, out| {
                    let name = r.name();
                    let valid = name != b"*";
                    if valid {
                        out.copy_from_slice(name);
                    }
                    valid
                },
            );
        }
        if let Some(col) = &mut c.flag {
            col.fill(row0, recs, |r| Some(r.flag()));
        }
        if let Some(col) = &mut c.rname {
            col.fill(row0, recs, |r| (r.ref_id() >= 0).then_some(r.ref_id()));
        }
        if let Some(col) = &mut c.pos {
            // -1 is "no position"; htslib keeps values below it, so the column does too.
            col.fill(row0, recs, |r| (r.pos() != -1).then(|| r.pos() + 1));
        }
        if let Some(col) = &mut c.mapq {
            col.fill(row0, recs, |r| (r.mapq() != 255).then_some(r.mapq()));
        }
        if let Some(col) = &mut c.cigar {
            col.render(row0, recs, &mut self.cigar_text, |r, text| {
                let ops = r.cigar_raw();
                if !ops.is_empty() {
                    let at = text.len();
                    text.resize(at + ops.len() / 4 * cigar::MAX_TEXT_PER_OP, 0);
                    let n = cigar::to_text(ops, &mut text[at..]).text_len;
                    text.truncate(at + n);
                }
                Ok(!ops.is_empty())
            })?;
        }
        if let Some(col) = &mut c.rnext {
            col.fill(row0, recs, |r| {
                (r.next_ref_id() >= 0).then_some(r.next_ref_id())
            });
        }
        if let Some(col) = &mut c.pnext {
            col.fill(row0, recs, |r| {
                (r.next_pos() != -1).then(|| r.next_pos() + 1)
            });
        }
        if let Some(col) = &mut c.tlen {
            col.fill(row0, recs, |r| Some(r.tlen()));
        }
        if let Some(col) = &mut c.seq {
            col.fill(
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
        }
        if let Some(col) = &mut c.qual {
            let present = |r: &Record<'_>| r.seq_len() > 0 && r.qual_raw()[0] != 0xff;
            col.fill(
                row0,
                recs,
                |r| if present(r) { r.seq_len() } else { 0 },
                |r, out| {
                    if present(r) {
                        qual::encode(r.qual_raw(), out);
                    }
                    present(r)
                },
            );
        }
        if let Some(col) = &mut c.end {
            col.fill(row0, recs, |r| {
                r.end()
                    .map(|e| e.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
            });
        }
        if let Some(col) = &mut c.tags {
            col.render(row0, recs, &mut self.tags_text, |r, text| {
                aux::push_sam_checked(r.aux(), r.cg_range(), true, text)?;
                Ok(true)
            })?;
        }
        Ok(())
    }

    fn dict(&self, keys: PrimCol<i32>, rows: usize) -> ArrayRef {
        let (values, nulls) = keys.finish(rows);
        let keys = PrimitiveArray::<Int32Type>::new(values, nulls);
        // Keys were range-checked against the header when the record was validated.
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(keys, self.dictionary.clone())
                .expect("keys validated against the header"),
        )
    }

    /// The batch of the filled columns.
    fn finish(&mut self, c: Columns, rows: usize) -> Result<RecordBatch, DecodeError> {
        // The rendered text columns, copied into one more arena.
        let mut size = ArenaSize::default();
        size.add::<u8>(self.cigar_text.len())
            .add::<u8>(self.tags_text.len());
        let mut text_arena = self.arenas.arena(size);
        let mut cols: Vec<ArrayRef> = Vec::new();
        let int32 = |col: PrimCol<i32>| -> ArrayRef {
            let (v, n) = col.finish(rows);
            Arc::new(Int32Array::new(v, n))
        };
        if let Some(col) = c.qname {
            cols.push(col.finish(rows, None)?);
        }
        if let Some(col) = c.flag {
            let (v, _) = col.finish(rows);
            cols.push(Arc::new(UInt16Array::new(v, None)));
        }
        if let Some(col) = c.rname {
            cols.push(self.dict(col, rows));
        }
        if let Some(col) = c.pos {
            cols.push(int32(col));
        }
        if let Some(col) = c.mapq {
            let (v, n) = col.finish(rows);
            cols.push(Arc::new(UInt8Array::new(v, n)));
        }
        if let Some(col) = c.cigar {
            cols.push(col.finish(rows, Some((&self.cigar_text, &mut text_arena)))?);
        }
        if let Some(col) = c.rnext {
            cols.push(self.dict(col, rows));
        }
        if let Some(col) = c.pnext {
            cols.push(int32(col));
        }
        if let Some(col) = c.tlen {
            cols.push(int32(col));
        }
        if let Some(col) = c.seq {
            cols.push(col.finish(rows, None)?);
        }
        if let Some(col) = c.qual {
            cols.push(col.finish(rows, None)?);
        }
        if let Some(col) = c.end {
            cols.push(int32(col));
        }
        if let Some(col) = c.tags {
            cols.push(col.finish(rows, Some((&self.tags_text, &mut text_arena)))?);
        }
        for t in &mut self.typed {
            cols.push(t.finish()?);
        }
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &options,
        )?)
    }
}
