//! Parquet encoding: each row group's columns encoded on the workers, written in order.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, FieldRef, SchemaRef};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use super::{panicked, Encode, Out};
use crate::arrow::parquet_error;
use crate::runtime::{Pool, WorkerPanicked};

/// Arrays a Parquet column may have queued or in encoding before the writer thread waits for
/// the slowest column.
const PARQUET_BACKLOG: usize = 2;

/// One top-level column of one row group: its writers (away while a job has them), the arrays
/// waiting for them, and its finished chunks.
struct Column {
    writers: Option<Vec<ArrowColumnWriter>>,
    queue: Vec<ArrayRef>,
    /// Arrays queued or being encoded.
    pending: usize,
    /// A job closing the writers was sent.
    closing: bool,
    chunks: Option<Vec<ArrowColumnChunk>>,
}

struct RowGroup {
    rows: usize,
    /// Full (or the last): no more rows come.
    full: bool,
    columns: Vec<Column>,
}

impl RowGroup {
    fn done(&self) -> bool {
        self.columns.iter().all(|c| c.chunks.is_some())
    }
}

struct ColumnJob {
    group: usize,
    column: usize,
    field: FieldRef,
    writers: Vec<ArrowColumnWriter>,
    arrays: Vec<ArrayRef>,
    close: bool,
}

enum ColumnOut {
    Writers(Vec<ArrowColumnWriter>),
    Chunks(Vec<ArrowColumnChunk>),
}

type ColumnDone = (usize, usize, usize, parquet::errors::Result<ColumnOut>);

fn encode_column(job: ColumnJob) -> ColumnDone {
    let ColumnJob {
        group,
        column,
        field,
        mut writers,
        arrays,
        close,
    } = job;
    let n = arrays.len();
    let run = || -> parquet::errors::Result<ColumnOut> {
        for array in &arrays {
            for (writer, leaf) in writers.iter_mut().zip(compute_leaves(&field, array)?) {
                writer.write(&leaf)?;
            }
        }
        drop(arrays);
        if close {
            let chunks = writers
                .into_iter()
                .map(ArrowColumnWriter::close)
                .collect::<parquet::errors::Result<Vec<_>>>()?;
            Ok(ColumnOut::Chunks(chunks))
        } else {
            Ok(ColumnOut::Writers(writers))
        }
    };
    (group, column, n, run())
}

/// The writer thread's side of Parquet output.
pub(crate) struct ParquetEncoded {
    writer: SerializedFileWriter<Out>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// Leaf columns of each top-level column.
    leaves: Vec<usize>,
    max_rows: usize,
    /// Row groups not yet written, oldest first; index of the first one.
    groups: VecDeque<RowGroup>,
    first: usize,
    pool: Pool<ColumnJob, ColumnDone>,
    running: usize,
    limit: usize,
}

impl ParquetEncoded {
    /// Starts a Parquet file (its magic) on `out` and `threads` encoders.
    pub(crate) fn new(
        out: Out,
        schema: &SchemaRef,
        mut props: WriterProperties,
        threads: usize,
    ) -> Result<Self, ArrowError> {
        let parquet_schema = parquet::arrow::ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(schema)
            .map_err(parquet_error)?;
        parquet::arrow::add_encoded_arrow_schema_to_metadata(schema, &mut props);
        let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let writer =
            SerializedFileWriter::new(out, parquet_schema.root_schema_ptr(), Arc::new(props))
                .map_err(parquet_error)?;
        let mut leaves = vec![0; schema.fields().len()];
        for leaf in 0..writer.schema_descr().num_columns() {
            leaves[writer.schema_descr().get_column_root_idx(leaf)] += 1;
        }
        let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
        let pool = Pool::spawn_named(
            "encode",
            threads,
            false,
            |_| (),
            |(), job| encode_column(job),
        )
        .map_err(|e| ArrowError::IoError(format!("cannot start the encoding threads: {e}"), e))?;
        let mut me = Self {
            writer,
            factory,
            schema: schema.clone(),
            leaves,
            max_rows,
            groups: VecDeque::new(),
            first: 0,
            pool,
            running: 0,
            limit: PARQUET_BACKLOG,
        };
        me.open_group()?;
        Ok(me)
    }

    fn open_group(&mut self) -> Result<(), ArrowError> {
        let index = self.first + self.groups.len();
        let mut writers = self
            .factory
            .create_column_writers(index)
            .map_err(parquet_error)?
            .into_iter();
        let columns = self
            .leaves
            .iter()
            .map(|&n| Column {
                writers: Some(writers.by_ref().take(n).collect()),
                queue: Vec::new(),
                pending: 0,
                closing: false,
                chunks: None,
            })
            .collect();
        self.groups.push_back(RowGroup {
            rows: 0,
            full: false,
            columns,
        });
        Ok(())
    }

    /// Queues a batch's columns in the open row group (which it fits).
    fn queue(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let group = self.groups.back_mut().expect("a row group is open");
        for (column, array) in group.columns.iter_mut().zip(batch.columns()) {
            column.queue.push(array.clone());
            column.pending += 1;
        }
        group.rows += batch.num_rows();
        if group.rows >= self.max_rows {
            group.full = true;
            self.open_group()?;
        }
        Ok(())
    }

    /// Sends a job for every column whose writers are home and have work.
    fn dispatch(&mut self) {
        for (g, group) in self.groups.iter_mut().enumerate() {
            for (c, column) in group.columns.iter_mut().enumerate() {
                let close = group.full && !column.closing;
                if column.writers.is_none() || (column.queue.is_empty() && !close) {
                    continue;
                }
                let writers = column.writers.take().expect("checked above");
                column.closing |= close;
                self.pool.submit(
                    0,
                    ColumnJob {
                        group: self.first + g,
                        column: c,
                        field: self.schema.fields()[c].clone(),
                        writers,
                        arrays: std::mem::take(&mut column.queue),
                        close,
                    },
                );
                self.running += 1;
            }
        }
    }

    /// Takes in one finished job.
    fn settle(
        &mut self,
        done: (u64, Result<ColumnDone, WorkerPanicked>),
    ) -> Result<(), ArrowError> {
        self.running -= 1;
        let (group, c, n, out) = done.1?;
        let column = &mut self.groups[group - self.first].columns[c];
        column.pending -= n;
        match out.map_err(parquet_error)? {
            ColumnOut::Writers(w) => column.writers = Some(w),
            ColumnOut::Chunks(chunks) => column.chunks = Some(chunks),
        }
        Ok(())
    }

    /// Writes every finished row group at the front, in order.
    fn write_ready(&mut self) -> Result<(), ArrowError> {
        while self.groups.front().is_some_and(|g| g.full && g.done()) {
            let group = self.groups.pop_front().expect("checked above");
            self.first += 1;
            let mut rg = self.writer.next_row_group().map_err(parquet_error)?;
            for column in group.columns {
                for chunk in column.chunks.expect("the row group is done") {
                    chunk.append_to_row_group(&mut rg).map_err(parquet_error)?;
                }
            }
            rg.close().map_err(parquet_error)?;
        }
        Ok(())
    }

    /// Arrays the slowest column has not encoded yet.
    fn backlog(&self) -> usize {
        let per_column = self.leaves.len();
        (0..per_column)
            .map(|c| {
                self.groups
                    .iter()
                    .map(|g| g.columns[c].pending)
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0)
    }

    /// Takes in finished jobs (waiting for one when `block`), sends new ones, writes what is
    /// finished.
    fn step(&mut self, block: bool) -> Result<(), ArrowError> {
        if block && self.running > 0 {
            let done = self.pool.recv().ok_or_else(|| panicked("encoding"))?;
            self.settle(done)?;
        }
        while let Some(done) = self.pool.try_recv() {
            self.settle(done)?;
        }
        self.dispatch();
        self.write_ready()
    }
}

impl Encode for ParquetEncoded {
    fn push(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        if batch.num_columns() != self.schema.fields().len() {
            return Err(ArrowError::SchemaError(
                "a batch does not match the output's schema".into(),
            ));
        }
        // Split where the open row group fills up, as ArrowWriter does.
        let mut rest = batch;
        while rest.num_rows() > 0 {
            let room = self.max_rows - self.groups.back().map_or(0, |g| g.rows);
            let n = rest.num_rows().min(room);
            self.queue(&rest.slice(0, n))?;
            rest = rest.slice(n, rest.num_rows() - n);
        }
        self.step(false)?;
        while self.backlog() > self.limit {
            self.step(true)?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Out, ArrowError> {
        let mut me = *self;
        // The open row group is the last; an empty one is not written.
        let last = me.groups.back_mut().expect("a row group is open");
        if last.rows == 0 {
            me.groups.pop_back();
        } else {
            last.full = true;
        }
        me.step(false)?;
        while !me.groups.is_empty() {
            if me.running == 0 {
                return Err(ArrowError::ExternalError(
                    "Parquet encoding stalled (a bug)".into(),
                ));
            }
            me.step(true)?;
        }
        // Writes the footer.
        let mut out = me.writer.into_inner().map_err(parquet_error)?;
        out.flush()?;
        Ok(out)
    }
}
