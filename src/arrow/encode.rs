//! Encoding and writing off the calling thread.
//!
//! A [`Sink`](super::Sink) with more than one thread hands each batch to a **writer thread**
//! (named `write`) through a short bounded queue and returns: the calling thread does no encoding
//! and no write system calls. The writer thread owns the output file and writes finished bytes in
//! order; the encoding itself runs on a pool of `encode-i` workers:
//!
//! * **IPC without compression** has nothing to encode: the writer thread writes each batch's
//!   buffers as they are (arrow-rs's own writer, no copy).
//! * **IPC with LZ4 or ZSTD**: each batch is one job — its record-batch message, with every
//!   buffer compressed, is built on a worker ([`IpcDataGenerator::encode`]); the writer thread
//!   writes the messages in submission order, decides which dictionaries to write (its own
//!   [`DictionaryTracker`], so a dictionary is written once, or again when a stream replaces it,
//!   exactly as arrow-rs's writers decide) and builds the file footer from the block offsets.
//!   The bytes equal those of arrow-rs's single-threaded writers.
//! * **Parquet**: a row group's column chunks are independent; each top-level column of a row
//!   group has its own column writers, which travel with the jobs: a job takes the column's
//!   queued arrays (and, once the row group is full, closes the writers into finished, compressed
//!   chunks). Columns of one batch encode on different workers at once, the next row group's
//!   columns start while the last one's close, and the writer thread appends each row group's
//!   chunks, in column order, as soon as all of them are finished. Row groups are split at the
//!   same rows as [`parquet::arrow::ArrowWriter`] splits them.
//!
//! Work in flight is bounded (about one batch per worker), so memory stays that of a few batches
//! plus, for Parquet, the row group being encoded (which arrow-rs buffers too). An error on the
//! writer thread stops it; the calling thread gets it from its next `write` or from `finish`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::writer::{
    write_message, DictionaryTracker, EncodedData, FileWriter, IpcDataGenerator, IpcWriteContext,
    IpcWriteOptions, StreamWriter,
};
use arrow_schema::{ArrowError, DataType, FieldRef, SchemaRef};
use crossbeam_channel::{Receiver, Sender};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use super::parquet_error;
use crate::runtime::{Ordered, Pool, WorkerPanicked};

/// The buffered output file (or standard output).
pub(crate) type Out = BufWriter<File>;

/// Batches handed over but not yet taken by the writer thread (each holds its reader's arena:
/// measured on a 313 MB BAM at `-t 2`, one is as fast as two and 40–60 MB smaller).
const QUEUE: usize = 1;

/// IPC batches being encoded beyond one per worker (so no worker waits while the writer
/// thread writes).
const IPC_SLACK: usize = 1;

/// Arrays a Parquet column may have queued or in encoding before the writer thread waits for
/// the slowest column.
const PARQUET_BACKLOG: usize = 2;

fn panicked(what: &str) -> ArrowError {
    ArrowError::ExternalError(format!("an output {what} thread panicked (a bug)").into())
}

impl From<WorkerPanicked> for ArrowError {
    fn from(_: WorkerPanicked) -> Self {
        panicked("encoding")
    }
}

/// What the writer thread runs.
pub(crate) trait Encode: Send {
    /// Takes the next batch; may write finished bytes.
    fn push(&mut self, batch: RecordBatch) -> Result<(), ArrowError>;
    /// Writes everything still in flight and the file's end; returns the output, flushed.
    fn finish(self: Box<Self>) -> Result<Out, ArrowError>;
}

enum Msg {
    Batch(RecordBatch),
    Finish,
}

/// The calling thread's end of a writer thread.
pub(crate) struct Background {
    tx: Option<Sender<Msg>>,
    handle: Option<JoinHandle<Result<Out, ArrowError>>>,
}

impl Background {
    /// Starts the writer thread running `encode`.
    pub(crate) fn spawn(encode: Box<dyn Encode>) -> Result<Self, ArrowError> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let handle = std::thread::Builder::new()
            .name("write-0".into())
            .spawn(move || {
                let _cpu = crate::stats::ExitRecord;
                run(&rx, encode)
            })
            .map_err(|e| ArrowError::IoError(format!("cannot start the writer thread: {e}"), e))?;
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Hands a batch over (waits while the queue is full).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let sent = match &self.tx {
            Some(tx) => tx.send(Msg::Batch(batch.clone())).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer thread stopped: it failed; its error is the answer.
        self.tx = None;
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(ArrowError::IoError(
                "the output was already finished".into(),
                std::io::Error::other("finished"),
            )),
        }
    }

    /// Waits for everything to be written; returns the output.
    pub(crate) fn finish(mut self) -> Result<Out, ArrowError> {
        if let Some(tx) = self.tx.take() {
            // A failed send means the thread already stopped with its error.
            let _ = tx.send(Msg::Finish);
        }
        self.join()
    }

    fn join(&mut self) -> Result<Out, ArrowError> {
        match self.handle.take() {
            Some(h) => h.join().unwrap_or_else(|_| Err(panicked("writer"))),
            None => Err(ArrowError::IoError(
                "the output writer already stopped".into(),
                std::io::Error::other("stopped"),
            )),
        }
    }
}

impl Drop for Background {
    /// Unfinished: the writer thread stops at its next batch (the caller removes the file).
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(rx: &Receiver<Msg>, mut encode: Box<dyn Encode>) -> Result<Out, ArrowError> {
    loop {
        match rx.recv() {
            Ok(Msg::Batch(b)) => encode.push(b)?,
            Ok(Msg::Finish) => return encode.finish(),
            Err(_) => {
                return Err(ArrowError::IoError(
                    "the output was abandoned unfinished".into(),
                    std::io::Error::other("abandoned"),
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// IPC without compression

/// arrow-rs's IPC file or stream writer.
pub(crate) enum IpcWriter {
    File(FileWriter<Out>),
    Stream(StreamWriter<Out>),
}

impl IpcWriter {
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        match self {
            Self::File(w) => w.write(batch),
            Self::Stream(w) => w.write(batch),
        }
    }

    pub(crate) fn finish(self) -> Result<Out, ArrowError> {
        match self {
            Self::File(mut w) => {
                w.finish()?;
                w.into_inner()
            }
            Self::Stream(mut w) => {
                w.finish()?;
                w.into_inner()
            }
        }
    }
}

impl Encode for IpcWriter {
    fn push(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        self.write(&batch)
    }

    fn finish(self: Box<Self>) -> Result<Out, ArrowError> {
        IpcWriter::finish(*self)
    }
}

// ---------------------------------------------------------------------------------------------
// IPC with buffer compression

const MAGIC: &[u8; 6] = b"ARROW1";

/// Buffer alignment and metadata version of every IPC output (arrow-rs's defaults, set
/// explicitly so the footer and the file's start agree with the messages).
const ALIGNMENT: u8 = 64;
const VERSION: arrow_ipc::MetadataVersion = arrow_ipc::MetadataVersion::V5;

/// The options every IPC output is written with.
pub(crate) fn ipc_options(
    compression: Option<arrow_ipc::CompressionType>,
) -> Result<IpcWriteOptions, ArrowError> {
    IpcWriteOptions::try_new(ALIGNMENT.into(), false, VERSION)?.try_with_compression(compression)
}

/// A worker's IPC encoder.
struct IpcWorker {
    generator: IpcDataGenerator,
    /// Assigns the dictionary ids as the schema does; the dictionaries it emits are dropped
    /// (the writer thread writes dictionaries).
    tracker: DictionaryTracker,
    context: IpcWriteContext,
}

type Encoded = Result<(RecordBatch, EncodedData), ArrowError>;

/// The writer thread's side of compressed IPC output.
pub(crate) struct IpcEncoded {
    out: Out,
    options: IpcWriteOptions,
    schema: SchemaRef,
    /// `true`: the IPC file format (blocks and a footer), `false`: the stream format.
    file: bool,
    generator: IpcDataGenerator,
    tracker: DictionaryTracker,
    context: IpcWriteContext,
    offset: usize,
    dictionary_blocks: Vec<arrow_ipc::Block>,
    record_blocks: Vec<arrow_ipc::Block>,
    jobs: Ordered<RecordBatch, Encoded>,
}

fn schema_tracker(
    schema: &SchemaRef,
    options: &IpcWriteOptions,
    file: bool,
) -> (DictionaryTracker, EncodedData) {
    let mut tracker = DictionaryTracker::new(file);
    let message = IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
        schema,
        &mut tracker,
        options,
    );
    (tracker, message)
}

impl IpcEncoded {
    /// Writes the file's start (magic, schema message) to `out` and starts `threads` encoders.
    pub(crate) fn new(
        mut out: Out,
        schema: &SchemaRef,
        options: IpcWriteOptions,
        file: bool,
        threads: usize,
    ) -> Result<Self, ArrowError> {
        let mut offset = 0;
        if file {
            // The magic padded to the alignment, as arrow-rs writes it.
            out.write_all(MAGIC)?;
            out.write_all(&[0; ALIGNMENT as usize][MAGIC.len()..])?;
            offset = ALIGNMENT.into();
        }
        let (tracker, message) = schema_tracker(schema, &options, file);
        let (meta, body) = write_message(&mut out, message, &options)?;
        offset += meta + body;
        let (worker_schema, worker_options) = (schema.clone(), options.clone());
        let jobs = Ordered::spawn_named(
            "encode",
            threads,
            false,
            // The batches being encoded plus a few finished ones waiting for the writer.
            threads + IPC_SLACK + 1,
            move |_| IpcWorker {
                generator: IpcDataGenerator::default(),
                tracker: schema_tracker(&worker_schema, &worker_options, false).0,
                context: IpcWriteContext::default(),
            },
            {
                let options = options.clone();
                move |w: &mut IpcWorker, batch: RecordBatch| -> Encoded {
                    let (_, message) =
                        w.generator
                            .encode(&batch, &mut w.tracker, &options, &mut w.context)?;
                    Ok((batch, message))
                }
            },
        )
        .map_err(|e| ArrowError::IoError(format!("cannot start the encoding threads: {e}"), e))?;
        Ok(Self {
            out,
            options,
            schema: schema.clone(),
            file,
            generator: IpcDataGenerator::default(),
            tracker,
            context: IpcWriteContext::default(),
            offset,
            dictionary_blocks: Vec::new(),
            record_blocks: Vec::new(),
            jobs,
        })
    }

    /// Writes one encoded batch, preceded by the dictionaries it needs written.
    fn write_one(&mut self, encoded: Encoded) -> Result<(), ArrowError> {
        let (batch, message) = encoded?;
        if self
            .schema
            .fields()
            .iter()
            .any(|f| has_dictionary(f.data_type()))
        {
            // The dictionaries of a row-less view of the batch: the values are all there.
            let (dictionaries, _) = self.generator.encode(
                &batch.slice(0, 0),
                &mut self.tracker,
                &self.options,
                &mut self.context,
            )?;
            for d in dictionaries {
                let (meta, body) = write_message(&mut self.out, d, &self.options)?;
                self.dictionary_blocks.push(block(self.offset, meta, body)?);
                self.offset += meta + body;
            }
        }
        let (meta, body) = write_message(&mut self.out, message, &self.options)?;
        self.record_blocks.push(block(self.offset, meta, body)?);
        self.offset += meta + body;
        Ok(())
    }

    fn footer(&mut self) -> Result<(), ArrowError> {
        let mut fbb = flatbuffers::FlatBufferBuilder::new();
        let dictionaries = fbb.create_vector(&self.dictionary_blocks);
        let record_batches = fbb.create_vector(&self.record_blocks);
        let mut tracker = DictionaryTracker::new(true);
        let schema = arrow_ipc::convert::IpcSchemaEncoder::new()
            .with_dictionary_tracker(&mut tracker)
            .schema_to_fb_offset(&mut fbb, &self.schema);
        let root = {
            let mut footer = arrow_ipc::FooterBuilder::new(&mut fbb);
            footer.add_version(VERSION);
            footer.add_schema(schema);
            footer.add_dictionaries(dictionaries);
            footer.add_recordBatches(record_batches);
            footer.finish()
        };
        fbb.finish(root, None);
        let data = fbb.finished_data();
        self.out.write_all(data)?;
        self.out.write_all(&(data.len() as i32).to_le_bytes())?;
        self.out.write_all(MAGIC)?;
        Ok(())
    }
}

fn has_dictionary(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(..) => true,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::Map(f, _) => has_dictionary(f.data_type()),
        DataType::Struct(fs) => fs.iter().any(|f| has_dictionary(f.data_type())),
        DataType::Union(fs, _) => fs.iter().any(|(_, f)| has_dictionary(f.data_type())),
        DataType::RunEndEncoded(_, v) => has_dictionary(v.data_type()),
        _ => false,
    }
}

fn block(offset: usize, meta: usize, body: usize) -> Result<arrow_ipc::Block, ArrowError> {
    let too_large = || ArrowError::IpcError("an IPC message is larger than 2 GiB".into());
    Ok(arrow_ipc::Block::new(
        i64::try_from(offset).map_err(|_| too_large())?,
        i32::try_from(meta).map_err(|_| too_large())?,
        i64::try_from(body).map_err(|_| too_large())?,
    ))
}

impl Encode for IpcEncoded {
    fn push(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        self.jobs.submit(batch);
        while let Some(done) = self.jobs.try_next_result() {
            self.write_one(done?)?;
        }
        while !self.jobs.has_room() {
            let done = self.jobs.next_result().expect("jobs are in flight")?;
            self.write_one(done)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Out, ArrowError> {
        while let Some(done) = self.jobs.next_result() {
            self.write_one(done?)?;
        }
        // End of stream: a continuation marker and a zero length.
        self.out.write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])?;
        if self.file {
            self.footer()?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

// ---------------------------------------------------------------------------------------------
// Parquet

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
