//! Arrow columns for BAM records (schema in docs/SCHEMAS.md).
//!
//! A batch is sized before it is decoded: the records' lengths bound the bytes of the names,
//! bases and qualities (regions are cut to what was written), so every column except the
//! rendered CIGAR and tags text lives in one arena allocation from a pool shared by the workers; the CIGAR and tags text is rendered
//! into reused buffers and copied into a second arena once its length is known. Records are
//! validated and decoded in blocks of [`BLOCK`], a column at a time, while their bytes are in
//! cache; the kernels write sequence and quality straight into the arena, which is handed to
//! Arrow without copying.

use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{ArrowError, Field, Schema, SchemaRef};

use super::columns::{arena_size, Columns, Projection, Totals, PNEXT, POS, QNAME, TAGS};
use crate::arrow::arena::ArenaPool;
use crate::bam::error::RecordError;
use crate::bam::record::tagtext::TextBuf;
use crate::bam::record::Record;

/// Records validated and decoded together (small enough that their bytes stay in cache while
/// every column is filled from them).
const BLOCK: usize = 256;
// Primitive columns write a validity byte per eight rows of a block.
const _: () = assert!(BLOCK.is_multiple_of(8));

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
/// projected columns: what [`Reader`](crate::bam::Reader) does on its workers, for callers with their
/// own input layer. Each record is validated first (the checks of
/// [`Record::parse`](crate::bam::Record::parse)); batches reuse their memory once dropped.
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
    pub fn new(header: &crate::bam::Header, projection: Projection) -> Self {
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
    typed_spec: Vec<([u8; 2], crate::bam::record::tags::TagKind)>,
    typed: Vec<crate::bam::record::tags::TagColumn>,
    schema: SchemaRef,
    dictionary: Arc<StringArray>,
    metadata: std::collections::HashMap<String, String>,
    arenas: ArenaPool,
    /// Reused: one rendering buffer per projected column (used by the rendered CIGAR and tags:
    /// the text that spills past its region, and the rate that sizes the next region).
    texts: Vec<TextBuf>,
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
        typed_spec: &[([u8; 2], crate::bam::record::tags::TagKind)],
        dictionary: Arc<StringArray>,
        metadata: std::collections::HashMap<String, String>,
        arenas: ArenaPool,
    ) -> Self {
        let typed: Vec<crate::bam::record::tags::TagColumn> = typed_spec
            .iter()
            .map(|&(tag, kind)| crate::bam::record::tags::TagColumn::new(tag, kind))
            .collect();
        let schema = {
            let base = proj.schema();
            let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.extend(typed.iter().map(crate::bam::record::tags::TagColumn::field));
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
            texts: Vec::new(),
            unterminated: Vec::new(),
        }
    }

    pub(crate) fn dictionary(&self) -> Arc<StringArray> {
        self.dictionary.clone()
    }

    /// A builder of the same batches for a worker, taking arenas from `arenas` (the pool of the
    /// worker's NUMA node), so the worker recycles memory its node touched first.
    pub(crate) fn clone_with(&self, arenas: ArenaPool) -> Self {
        Self::new(
            self.proj,
            &self.typed_spec,
            self.dictionary.clone(),
            self.metadata.clone(),
            arenas,
        )
    }

    /// Its arena pool (whose size the workers' pools copy).
    pub(crate) fn arenas(&self) -> &ArenaPool {
        &self.arenas
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Upper bounds of the records' name and base bytes from their lengths alone, so that no
    /// record byte is read before the block loop brings it into cache (an exact pass over a
    /// batch bigger than the cache reads every record from memory twice). After its 32 fixed
    /// bytes a record of `len` bytes holds a name of at most `min(255, len − 32)` bytes and, as
    /// the name takes at least one byte, `l_seq + ⌈l_seq / 2⌉ ≤ len − 33`. `None` when a bound
    /// does not fit a Utf8 column (the exact totals may).
    fn bounds<'a>(n: usize, body: &impl Fn(usize) -> &'a [u8]) -> Option<Totals> {
        let mut t = Totals::default();
        for i in 0..n {
            let len = body(i).len() as u64;
            t.names += len.saturating_sub(32).min(255);
            t.bases += len.saturating_sub(33) * 2 / 3;
        }
        (t.names <= i32::MAX as u64 && t.bases <= i32::MAX as u64).then_some(t)
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
        let t = if p.needs_totals() {
            Self::bounds(n, &body).map_or_else(|| Self::totals(n, &body, n_refs), Ok)?
        } else {
            Totals::default()
        };
        self.texts.resize_with(p.count(), Default::default);
        self.texts.iter_mut().for_each(TextBuf::clear);
        let mut arena = self.arenas.arena(arena_size(p, n, t, &self.texts));
        let mut c = Columns::new(p, &mut arena, n, t, &self.texts);
        self.unterminated.clear();
        let mut recs: Vec<Record<'a>> = Vec::with_capacity(BLOCK.min(n));
        // Worth it when most of each record is read: sequence, quality or tags.
        let sweep = p.reads_bases() || p.on(TAGS);
        let mut row0 = 0;
        while row0 < n {
            let k = BLOCK.min(n - row0);
            recs.clear();
            // With the tags column, aux fields are checked as they are rendered.
            let check_aux = !p.on(TAGS);
            // The column passes below must not each wait on memory: the first block is brought
            // into cache by a sequential sweep (a read per line, which the hardware prefetcher
            // follows), each later one by prefetches issued while the block before it is parsed,
            // so its memory latency overlaps that block's work.
            if sweep && row0 == 0 {
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
                if sweep && i + BLOCK < n {
                    rawarrow_kernels::cache::prefetch(body(i + BLOCK));
                }
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
            c.fill(row0, &recs, &mut self.texts)
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

    /// The batch of the filled columns.
    fn finish(&mut self, c: Columns, rows: usize) -> Result<RecordBatch, DecodeError> {
        let arenas = &self.arenas;
        let mut cols = c.finish(rows, &mut self.texts, &self.dictionary, |size| {
            arenas.arena(size)
        })?;
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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn each_node_recycles_the_memory_of_its_own_batches() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
        let mut raw = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("sample"))
            .read_to_end(&mut raw)
            .expect("BGZF");
        let (header, mut at) = crate::bam::Header::parse(&raw)
            .expect("header")
            .expect("whole header");
        let mut records: Vec<&[u8]> = Vec::new();
        while at < raw.len() {
            let n = u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes")) as usize;
            records.push(&raw[at + 4..at + 4 + n]);
            at += 4 + n;
        }
        let proto = BatchBuilder::new(
            Projection::default(),
            &[],
            header.dictionary(),
            header.metadata(),
            ArenaPool::new(2),
        );
        // Workers of two nodes: a pool each.
        let (mut a, mut b) = (
            proto.clone_with(proto.arenas().empty_like()),
            proto.clone_with(proto.arenas().empty_like()),
        );
        let refs = header.references.len();
        let build = |w: &mut BatchBuilder| {
            let batch = w.build(records.len(), |i| records[i], refs).expect("valid");
            // Where the `flag` column's values live: the same place in a recycled arena.
            batch.column(1).to_data().buffers()[0].as_ptr() as usize
        };
        let first = build(&mut a);
        assert_ne!(
            build(&mut b),
            first,
            "another worker used the first one's memory"
        );
        assert_eq!(build(&mut a), first, "a worker reuses the memory it filled");
    }
}
