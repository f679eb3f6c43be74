//! Arrow columns for BAM records (schema in DESIGN.md), filled record by record.
//!
//! Buffers are sized from the previous batch (framing statistics), so a steady-state batch
//! allocates each column once; values are written in place by the kernels and handed to Arrow
//! without copying (`Buffer::from_vec`).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, PrimitiveArray, RecordBatch, StringArray, UInt16Array,
    UInt8Array,
};
use arrow_buffer::{Buffer, NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use rawarrow_kernels::{cigar, qual, seq};

use super::aux;
use super::error::RecordError;
use super::record::Record;

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

    fn has(&self, name: &str) -> bool {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .is_some_and(|i| self.0[i])
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

    /// Grows the values by `n` bytes for a kernel to fill.
    fn grow(&mut self, n: usize) -> &mut [u8] {
        let at = self.values.len();
        self.values.resize(at + n, 0);
        &mut self.values[at..]
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

struct Prim<T> {
    values: Vec<T>,
    nulls: NullBufferBuilder,
}

impl<T: Copy + Default> Prim<T> {
    fn with_capacity(rows: usize) -> Self {
        Self {
            values: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
        }
    }
    fn push(&mut self, v: Option<T>) {
        self.values.push(v.unwrap_or_default());
        self.nulls.append(v.is_some());
    }
    fn take(&mut self) -> (ScalarBuffer<T>, Option<NullBuffer>)
    where
        T: arrow_buffer::ArrowNativeType,
    {
        (
            ScalarBuffer::from(std::mem::take(&mut self.values)),
            self.nulls.finish(),
        )
    }
}

/// Sizes of the last batch, to size the next one.
#[derive(Debug, Clone, Copy, Default)]
struct Sizes {
    rows: usize,
    qname: usize,
    cigar: usize,
    seq: usize,
    tags: usize,
}

/// Builds record batches of the projected columns.
pub(crate) struct BatchBuilder {
    proj: Projection,
    typed: Vec<super::tags::TagColumn>,
    schema: SchemaRef,
    dictionary: Arc<StringArray>,
    rows: usize,
    bytes: usize,
    last: Sizes,
    qname: Strings,
    flag: Vec<u16>,
    rname: Prim<i32>,
    pos: Prim<i32>,
    mapq: Prim<u8>,
    cigar: Strings,
    rnext: Prim<i32>,
    pnext: Prim<i32>,
    tlen: Vec<i32>,
    seq: Strings,
    qual: Strings,
    end: Prim<i32>,
    tags: Strings,
}

impl BatchBuilder {
    pub(crate) fn new(
        proj: Projection,
        typed: &[([u8; 2], super::tags::TagKind)],
        dictionary: Arc<StringArray>,
        expect_rows: usize,
    ) -> Self {
        let last = Sizes {
            rows: expect_rows,
            qname: expect_rows * 24,
            cigar: expect_rows * 8,
            seq: expect_rows * 150,
            tags: expect_rows * 64,
        };
        let typed: Vec<super::tags::TagColumn> = typed
            .iter()
            .map(|&(tag, kind)| super::tags::TagColumn::new(tag, kind))
            .collect();
        let schema = {
            let base = proj.schema();
            let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.extend(typed.iter().map(super::tags::TagColumn::field));
            Arc::new(Schema::new(fields))
        };
        let mut b = Self {
            proj,
            typed,
            schema,
            dictionary,
            rows: 0,
            bytes: 0,
            last,
            qname: Strings::default(),
            flag: Vec::new(),
            rname: Prim::with_capacity(0),
            pos: Prim::with_capacity(0),
            mapq: Prim::with_capacity(0),
            cigar: Strings::default(),
            rnext: Prim::with_capacity(0),
            pnext: Prim::with_capacity(0),
            tlen: Vec::new(),
            seq: Strings::default(),
            qual: Strings::default(),
            end: Prim::with_capacity(0),
            tags: Strings::default(),
        };
        b.reset();
        b
    }

    pub(crate) fn dictionary(&self) -> Arc<StringArray> {
        self.dictionary.clone()
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn reset(&mut self) {
        let s = self.last;
        let r = s.rows + s.rows / 8 + 16;
        let grow = |n: usize| n + n / 8 + 64;
        let p = self.proj;
        if p.has("qname") {
            self.qname = Strings::with_capacity(r, grow(s.qname));
        }
        self.flag = Vec::with_capacity(if p.has("flag") { r } else { 0 });
        self.rname = Prim::with_capacity(if p.has("rname") { r } else { 0 });
        self.pos = Prim::with_capacity(if p.has("pos") { r } else { 0 });
        self.mapq = Prim::with_capacity(if p.has("mapq") { r } else { 0 });
        if p.has("cigar") {
            self.cigar = Strings::with_capacity(r, grow(s.cigar));
        }
        self.rnext = Prim::with_capacity(if p.has("rnext") { r } else { 0 });
        self.pnext = Prim::with_capacity(if p.has("pnext") { r } else { 0 });
        self.tlen = Vec::with_capacity(if p.has("tlen") { r } else { 0 });
        if p.has("seq") {
            self.seq = Strings::with_capacity(r, grow(s.seq));
        }
        if p.has("qual") {
            self.qual = Strings::with_capacity(r, grow(s.seq));
        }
        self.end = Prim::with_capacity(if p.has("end") { r } else { 0 });
        if p.has("tags") {
            self.tags = Strings::with_capacity(r, grow(s.tags));
            self.tags.nulls = None; // never null: empty text when a record has no tags
        }
    }

    /// Rows so far.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Approximate bytes so far (variable-length columns plus 24 per row).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes + 24 * self.rows
    }

    /// Appends one record to the projected columns.
    pub(crate) fn push(&mut self, r: &Record<'_>) -> Result<(), RecordError> {
        let p = self.proj;
        let before = self.qname.values.len()
            + self.cigar.values.len()
            + self.seq.values.len()
            + self.qual.values.len()
            + self.tags.values.len();
        let arrow = |_: ArrowError| RecordError::BatchTextOverflow;
        if p.on(QNAME) {
            let name = r.name();
            let valid = name != b"*";
            if valid {
                self.qname.values.extend_from_slice(name);
            }
            self.qname.end_value(valid).map_err(arrow)?;
        }
        if p.on(FLAG) {
            self.flag.push(r.flag());
        }
        if p.on(RNAME) {
            self.rname.push((r.ref_id() >= 0).then_some(r.ref_id()));
        }
        if p.on(POS) {
            self.pos.push((r.pos() >= 0).then(|| r.pos() + 1));
        }
        if p.on(MAPQ) {
            self.mapq.push((r.mapq() != 255).then_some(r.mapq()));
        }
        if p.on(CIGAR) {
            let ops = r.cigar_raw();
            if !ops.is_empty() {
                let max = ops.len() / 4 * cigar::MAX_TEXT_PER_OP;
                let at = self.cigar.values.len();
                let n = cigar::to_text(ops, self.cigar.grow(max))
                    .expect("CIGAR validated")
                    .text_len;
                self.cigar.values.truncate(at + n);
            }
            self.cigar.end_value(!ops.is_empty()).map_err(arrow)?;
        }
        if p.on(RNEXT) {
            self.rnext
                .push((r.next_ref_id() >= 0).then_some(r.next_ref_id()));
        }
        if p.on(PNEXT) {
            self.pnext
                .push((r.next_pos() >= 0).then(|| r.next_pos() + 1));
        }
        if p.on(TLEN) {
            self.tlen.push(r.tlen());
        }
        let n = r.seq_len();
        if p.on(SEQ) {
            if n > 0 {
                seq::decode(r.seq_packed(), self.seq.grow(n));
            }
            self.seq.end_value(n > 0).map_err(arrow)?;
        }
        if p.on(QUAL) {
            let raw = r.qual_raw();
            let present = n > 0 && raw[0] != 0xff;
            if present {
                qual::encode(raw, self.qual.grow(n));
            }
            self.qual.end_value(present).map_err(arrow)?;
        }
        if p.on(END) {
            self.end.push(
                r.end()
                    .map(|e| e.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32),
            );
        }
        if p.on(TAGS) {
            for (i, f) in r.tags().enumerate() {
                if i > 0 {
                    self.tags.values.push(b'\t');
                }
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
                aux::push_sam(&f, &mut self.tags.values);
            }
            self.tags.end_value(true).map_err(arrow)?;
        }
        let after = self.qname.values.len()
            + self.cigar.values.len()
            + self.seq.values.len()
            + self.qual.values.len()
            + self.tags.values.len();
        for t in &mut self.typed {
            t.push(r)?;
        }
        self.bytes += after - before;
        self.rows += 1;
        Ok(())
    }

    fn dict(&self, keys: &mut Prim<i32>) -> ArrayRef {
        let (values, nulls) = keys.take();
        let keys = PrimitiveArray::<Int32Type>::new(values, nulls);
        // Keys were range-checked against the header when the record was validated.
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(keys, self.dictionary.clone())
                .expect("keys validated against the header"),
        )
    }

    /// Finishes the rows so far as a batch (the builder starts a new one).
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let p = self.proj;
        self.last = Sizes {
            rows: self.rows,
            qname: self.qname.values.len(),
            cigar: self.cigar.values.len(),
            seq: self.seq.values.len(),
            tags: self.tags.values.len(),
        };
        let mut cols: Vec<ArrayRef> = Vec::new();
        for name in COLUMNS {
            if !p.has(name) {
                continue;
            }
            let col: ArrayRef = match name {
                "qname" => self.qname.finish()?,
                "flag" => Arc::new(UInt16Array::new(
                    ScalarBuffer::from(std::mem::take(&mut self.flag)),
                    None,
                )),
                "rname" => {
                    let mut k = std::mem::replace(&mut self.rname, Prim::with_capacity(0));
                    self.dict(&mut k)
                }
                "pos" => {
                    let (v, n) = self.pos.take();
                    Arc::new(Int32Array::new(v, n))
                }
                "mapq" => {
                    let (v, n) = self.mapq.take();
                    Arc::new(UInt8Array::new(v, n))
                }
                "cigar" => self.cigar.finish()?,
                "rnext" => {
                    let mut k = std::mem::replace(&mut self.rnext, Prim::with_capacity(0));
                    self.dict(&mut k)
                }
                "pnext" => {
                    let (v, n) = self.pnext.take();
                    Arc::new(Int32Array::new(v, n))
                }
                "tlen" => Arc::new(Int32Array::new(
                    ScalarBuffer::from(std::mem::take(&mut self.tlen)),
                    None,
                )),
                "seq" => self.seq.finish()?,
                "qual" => self.qual.finish()?,
                "end" => {
                    let (v, n) = self.end.take();
                    Arc::new(Int32Array::new(v, n))
                }
                _ => self.tags.finish()?,
            };
            cols.push(col);
        }
        for t in &mut self.typed {
            cols.push(t.finish()?);
        }
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(self.rows));
        let batch = RecordBatch::try_new_with_options(self.schema.clone(), cols, &options)?;
        self.rows = 0;
        self.bytes = 0;
        self.reset();
        Ok(batch)
    }
}
