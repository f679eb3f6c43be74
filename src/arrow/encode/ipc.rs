//! IPC file and stream encoding: arrow-rs's writer on the writer thread, or batches encoded on the workers ([`IpcEncoded`]) and written in order.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_ipc::writer::{
    write_message, DictionaryTracker, EncodedData, FileWriter, IpcDataGenerator, IpcWriteContext,
    IpcWriteOptions, StreamWriter,
};
use arrow_schema::{ArrowError, DataType, SchemaRef};

use super::{Encode, Out};
use crate::runtime::Ordered;

/// IPC batches being encoded beyond one per worker (so no worker waits while the writer
/// thread writes).
const IPC_SLACK: usize = 1;

/// arrow-rs's IPC file or stream writer.
pub(crate) enum IpcWriter {
    /// The file format; with `true`, each batch is flushed (see [`live`]).
    File(FileWriter<Out>, bool),
    /// The stream format; with `true`, each batch is flushed.
    Stream(StreamWriter<Out>, bool),
}

/// Whether `out` is read as it is written (a pipe, a terminal, a socket: not a regular file):
/// then each batch leaves as soon as it is encoded, not when the 1 MiB buffer fills, so a
/// reader downstream of a producer that paused still gets the batches read so far.
pub(crate) fn live(out: &Out) -> bool {
    out.get_ref().metadata().is_ok_and(|m| !m.is_file())
}

impl IpcWriter {
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        match self {
            Self::File(w, live) => {
                w.write(batch)?;
                if *live {
                    w.flush()?;
                }
                Ok(())
            }
            Self::Stream(w, live) => {
                w.write(batch)?;
                if *live {
                    w.flush()?;
                }
                Ok(())
            }
        }
    }

    pub(crate) fn finish(self) -> Result<Out, ArrowError> {
        match self {
            Self::File(mut w, _) => {
                w.finish()?;
                w.into_inner()
            }
            Self::Stream(mut w, _) => {
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
    /// Each batch is flushed (see [`live`]).
    live: bool,
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
        let live = live(&out);
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
            live,
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
        if self.live {
            self.out.flush()?;
        }
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

    fn idle(&mut self) -> Result<(), ArrowError> {
        if self.live {
            while let Some(done) = self.jobs.next_result() {
                self.write_one(done?)?;
            }
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
