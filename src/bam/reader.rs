//! `bam::Reader`: BAM records as Arrow record batches.

use std::sync::Arc;

use arrow_array::{Array, RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};

use super::batch::{BatchBuilder, Projection};
use super::error::{Error, ErrorKind};
use super::frame::Records;
use super::header::Header;
use crate::bgzf::Options;
use crate::io::Input;

/// Settings for a [`Reader`]; see [`Reader::builder`].
#[derive(Debug, Clone)]
pub struct ReaderBuilder {
    opts: Options,
    projection: Projection,
    batch_rows: usize,
    batch_bytes: usize,
    limit: Option<u64>,
    dictionary: Option<Arc<arrow_array::StringArray>>,
}

impl Default for ReaderBuilder {
    fn default() -> Self {
        Self {
            opts: Options::default(),
            projection: Projection::default(),
            batch_rows: 64 * 1024,
            batch_bytes: 256 << 20,
            limit: None,
            dictionary: None,
        }
    }
}

impl ReaderBuilder {
    /// Worker threads for inflating (default: the cores this process may use).
    pub fn threads(mut self, n: usize) -> Self {
        self.opts = self.opts.threads(n);
        self
    }

    /// BGZF pipeline settings (threads, chunk size, pinning).
    pub fn bgzf_options(mut self, opts: Options) -> Self {
        self.opts = opts;
        self
    }

    /// Decode only these columns (names from [`COLUMNS`](super::COLUMNS)); skipped columns cost
    /// nothing.
    pub fn columns<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, Error> {
        self.projection = Projection::of(names)
            .map_err(|m| Error::new(ErrorKind::Arrow(ArrowError::InvalidArgumentError(m))))?;
        Ok(self)
    }

    /// Rows per batch (default 65,536; at least 1).
    pub fn batch_rows(mut self, n: usize) -> Self {
        self.batch_rows = n.max(1);
        self
    }

    /// Approximate cap on the bytes of one batch (default 256 MiB); a batch ends at whichever
    /// limit comes first.
    pub fn batch_bytes(mut self, n: usize) -> Self {
        self.batch_bytes = n.max(1);
        self
    }

    /// Stop after this many records.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Reuse the reference-name dictionary of another reader (so batches of several files with
    /// the same references share one dictionary, as the IPC file format requires). `build`
    /// fails if this file's references differ.
    pub fn dictionary(mut self, dictionary: Arc<arrow_array::StringArray>) -> Self {
        self.dictionary = Some(dictionary);
        self
    }

    /// Opens `input` and reads its header.
    pub fn build(self, input: impl Into<Arc<Input>>) -> Result<Reader, Error> {
        let input = input.into();
        let path: Arc<std::path::Path> = input.path().into();
        let records = Records::new(input, self.opts)?;
        let dictionary = match self.dictionary {
            None => records.header().dictionary(),
            Some(d) => {
                let same = d.len() == records.header().references.len()
                    && d.iter()
                        .zip(&records.header().references)
                        .all(|(a, b)| a == Some(b.name.as_str()));
                if !same {
                    let msg = "its reference sequences differ from the first input's (write one output per input)";
                    return Err(
                        Error::new(ErrorKind::Arrow(ArrowError::InvalidArgumentError(
                            msg.into(),
                        )))
                        .with_path(path),
                    );
                }
                d
            }
        };
        let builder =
            BatchBuilder::new(self.projection, dictionary, self.batch_rows.min(64 * 1024));
        Ok(Reader {
            records,
            builder,
            batch_rows: self.batch_rows,
            batch_bytes: self.batch_bytes,
            limit: self.limit,
            rows: 0,
            done: false,
        })
    }
}

/// Reads a BAM file as Arrow record batches (the schema of DESIGN.md), in file order.
///
/// An iterator of `Result<RecordBatch, Error>` through [`Reader::next_batch`], and an
/// [`arrow_array::RecordBatchReader`] (its errors wrap [`Error`]).
///
/// ```
/// use arrow_array::cast::AsArray;
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
/// let mut reader = rawarrow::bam::Reader::builder()
///     .threads(2)
///     .columns(&["qname", "pos", "cigar"])?
///     .batch_rows(1000)
///     .build(rawarrow::io::Input::open(path)?)?;
/// let mut rows = 0;
/// while let Some(batch) = reader.next_batch()? {
///     assert_eq!(batch.num_columns(), 3);
///     rows += batch.num_rows();
/// }
/// assert_eq!(rows, 4000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader {
    records: Records,
    builder: BatchBuilder,
    batch_rows: usize,
    batch_bytes: usize,
    limit: Option<u64>,
    rows: u64,
    done: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("records", &self.records)
            .field("rows", &self.rows)
            .finish()
    }
}

impl Reader {
    /// A builder with the defaults: all columns, 65,536 rows per batch, all threads.
    pub fn builder() -> ReaderBuilder {
        ReaderBuilder::default()
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        self.records.header()
    }

    /// The shared reference-name dictionary of the `rname` and `rnext` columns.
    pub fn dictionary(&self) -> Arc<arrow_array::StringArray> {
        self.builder.dictionary()
    }

    /// Records returned so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Compressed bytes scanned so far (for progress reporting).
    pub fn compressed_position(&self) -> u64 {
        self.records.chunks().compressed_position()
    }

    /// Whether the file ended with the BGZF EOF marker (`None` until the end is reached).
    pub fn eof_marker(&self) -> Option<bool> {
        self.records.chunks().eof_marker()
    }

    /// The next batch, `Ok(None)` at the end.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        if self.done {
            return Ok(None);
        }
        let (rows_cap, bytes_cap) = (self.batch_rows, self.batch_bytes);
        let left = self.limit.map_or(u64::MAX, |l| l - self.rows);
        loop {
            let b = &mut self.builder;
            if b.len() >= rows_cap || b.bytes() >= bytes_cap || b.len() as u64 >= left {
                break;
            }
            let more = self.records.next_chunk(|r, at| {
                b.push(r).map_err(|error| {
                    Error::new(ErrorKind::Record {
                        index: at.index,
                        voffset: at.voffset,
                        error,
                    })
                })?;
                Ok(b.len() < rows_cap && b.bytes() < bytes_cap && (b.len() as u64) < left)
            });
            let more = more.inspect_err(|_| self.done = true)?;
            if !more {
                self.done = true;
                break;
            }
        }
        if self
            .limit
            .is_some_and(|l| self.rows + self.builder.len() as u64 >= l)
        {
            self.done = true;
        }
        if self.builder.len() == 0 {
            return Ok(None);
        }
        self.rows += self.builder.len() as u64;
        Ok(Some(self.builder.finish()?))
    }
}

impl Iterator for Reader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))
            .transpose()
    }
}

impl RecordBatchReader for Reader {
    fn schema(&self) -> SchemaRef {
        self.builder.schema()
    }
}
