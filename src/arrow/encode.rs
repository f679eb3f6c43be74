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

use std::fs::File;
use std::io::BufWriter;
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use crossbeam_channel::{Receiver, Sender};

use crate::runtime::WorkerPanicked;

mod ipc;
mod parquet_file;

pub(crate) use ipc::{ipc_options, live, IpcEncoded, IpcWriter};
pub(crate) use parquet_file::ParquetEncoded;

/// The buffered output file (or standard output).
pub(crate) type Out = BufWriter<File>;

/// Batches handed over but not yet taken by the writer thread (each holds its reader's arena:
/// measured on a 313 MB BAM at `-t 2`, one is as fast as two and 40–60 MB smaller).
const QUEUE: usize = 1;

pub(super) fn panicked(what: &str) -> ArrowError {
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
    /// No batch came for a while (the reader waits for its input): an output read as it is
    /// written gets the batches still being encoded.
    fn idle(&mut self) -> Result<(), ArrowError> {
        Ok(())
    }
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

/// How long the writer thread waits for a batch before it calls [`Encode::idle`].
const IDLE: std::time::Duration = std::time::Duration::from_millis(20);

fn run(rx: &Receiver<Msg>, mut encode: Box<dyn Encode>) -> Result<Out, ArrowError> {
    loop {
        let msg = match rx.recv_timeout(IDLE) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                encode.idle()?;
                rx.recv()
                    .map_err(|_| crossbeam_channel::RecvTimeoutError::Disconnected)
            }
            other => other,
        };
        match msg {
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
