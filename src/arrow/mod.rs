//! Arrow output files: IPC file or stream with optional buffer compression, or Parquet
//! ([`Sink`] writes either), written to a temporary file and renamed only
//! on success, encoded on worker threads. (The readers' batches live in arena-backed buffers:
//! one aligned allocation per batch, carved into its columns and recycled once every column
//! of the batch is dropped; see docs/ARCHITECTURE.md.)

#[allow(unsafe_code)] // Buffer::from_custom_allocation and region views; see the module docs
pub(crate) mod arena;
pub(crate) mod columns;
pub(crate) mod encode;

use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::writer::{FileWriter, StreamWriter};
use arrow_ipc::CompressionType;
use arrow_schema::{ArrowError, SchemaRef};

/// IPC buffer compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compression (fastest to write and to read).
    #[default]
    None,
    /// LZ4 frame.
    Lz4,
    /// Zstandard.
    Zstd,
}

/// Flushes a finished output and renames it to its destination.
fn commit(
    out: std::io::BufWriter<std::fs::File>,
    target: crate::io::Pending,
) -> Result<(), ArrowError> {
    let file = out
        .into_inner()
        .map_err(|e| ArrowError::IoError(e.to_string(), e.into_error()))?;
    target
        .commit(&file)
        .map_err(|e| ArrowError::IoError(e.to_string(), e))
}

/// The file format of a [`Sink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Arrow IPC file format (`.arrow`, `.feather`, `.ipc`).
    #[default]
    IpcFile,
    /// Arrow IPC stream format (`.arrows`).
    IpcStream,
    /// Apache Parquet (`.parquet`).
    Parquet,
}

/// Rows per Parquet row group: 1,048,576 (arrow-rs's default), about 0.5–1 GB of BAM columns
/// before compression; every column chunk has statistics and uses dictionary encoding where
/// it pays (a writer falls back to plain encoding for a column whose dictionary grows too large).
pub(crate) const PARQUET_ROW_GROUP_ROWS: usize = 1 << 20;

/// How a [`Sink`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SinkOptions {
    /// The file format.
    pub(crate) format: OutputFormat,
    /// Compression; `None` means none for IPC and zstd for Parquet.
    pub(crate) compression: Option<Compression>,
    /// Threads for encoding and writing. `Some(1)`: the calling thread encodes and writes each
    /// batch in [`Sink::write`]. More: a writer thread and this many encoding workers do it
    /// (in order), and [`Sink::write`] only hands the batch over. `None`: the cores this
    /// process may use.
    pub(crate) threads: Option<usize>,
    /// Rows per Parquet row group; `None`: [`PARQUET_ROW_GROUP_ROWS`].
    pub(crate) parquet_row_group_rows: Option<usize>,
}

/// Writes record batches to `path` (or standard output for `-`) as Arrow IPC or Parquet,
/// through a temporary file in the same folder that becomes `path` only when
/// [`Sink::finish`] succeeds; dropping an unfinished sink deletes it.
///
/// Parquet files get zstd compression unless told otherwise, [`PARQUET_ROW_GROUP_ROWS`]-row
/// groups, column statistics, dictionary encoding, and the Arrow schema (with its metadata)
/// embedded, so pyarrow, polars and DuckDB read back the same types (dictionary columns too).
///
/// With more than one thread (the default on a machine with more than one core), IPC buffer
/// compression and Parquet column encoding run on worker threads and a writer thread writes
/// the bytes, in order: the calling thread only hands batches over. The output is
/// the same file either way (byte for byte for IPC; for Parquet the same row groups, pages
/// and values). An error on the writer thread is returned by the next [`Sink::write`] or by
/// [`Sink::finish`].
pub(crate) struct Sink {
    inner: SinkInner,
    schema: SchemaRef,
    /// The temporary file and the destination; `None` for standard output or a device.
    target: crate::io::Pending,
}

enum SinkInner {
    Ipc(Box<encode::IpcWriter>),
    Parquet(Box<parquet::arrow::ArrowWriter<encode::Out>>),
    Background(encode::Background),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.inner {
            SinkInner::Ipc(_) => "IPC on the calling thread",
            SinkInner::Parquet(_) => "Parquet on the calling thread",
            SinkInner::Background(_) => "on a writer thread",
        };
        f.debug_struct("Sink")
            .field("path", &self.target.destination())
            .field("mode", &mode)
            .finish()
    }
}

pub(crate) fn parquet_error(e: parquet::errors::ParquetError) -> ArrowError {
    match e {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<std::io::Error>() {
                Ok(io) => ArrowError::IoError(io.to_string(), *io),
                Err(other) => ArrowError::ExternalError(other),
            }
        }
        other => ArrowError::ExternalError(Box::new(other)),
    }
}

impl Sink {
    /// Starts writing `schema` to `path` (`-`: standard output) as `options` say.
    pub(crate) fn with_options(
        path: &Path,
        schema: &SchemaRef,
        options: &SinkOptions,
    ) -> Result<Self, ArrowError> {
        let threads = match options.threads {
            Some(0) => {
                return Err(ArrowError::InvalidArgumentError(
                    "a sink needs at least one thread".into(),
                ))
            }
            Some(n) => n,
            None => crate::runtime::default_threads(),
        };
        let io = |e: std::io::Error| ArrowError::IoError(e.to_string(), e);
        let (file, target) = if path == Path::new("-") {
            (
                crate::io::stdout_file().map_err(io)?,
                crate::io::Pending::nothing(),
            )
        } else {
            crate::io::create_output(path).map_err(io)?
        };
        let out = std::io::BufWriter::with_capacity(1 << 20, file);
        let background = |e: Box<dyn encode::Encode>| -> Result<SinkInner, ArrowError> {
            Ok(SinkInner::Background(encode::Background::spawn(e)?))
        };
        let inner = match options.format {
            OutputFormat::IpcFile | OutputFormat::IpcStream => {
                let file = options.format == OutputFormat::IpcFile;
                let codec = match options.compression.unwrap_or(Compression::None) {
                    Compression::None => None,
                    Compression::Lz4 => Some(CompressionType::LZ4_FRAME),
                    Compression::Zstd => Some(CompressionType::ZSTD),
                };
                let ipc = encode::ipc_options(codec)?;
                if codec.is_some() && threads > 1 {
                    background(Box::new(encode::IpcEncoded::new(
                        out, schema, ipc, file, threads,
                    )?))?
                } else {
                    let live = encode::live(&out);
                    let writer = if file {
                        let w = FileWriter::try_new_with_options(out, schema, ipc)?;
                        encode::IpcWriter::File(w, live)
                    } else {
                        let w = StreamWriter::try_new_with_options(out, schema, ipc)?;
                        encode::IpcWriter::Stream(w, live)
                    };
                    if threads > 1 {
                        background(Box::new(writer))?
                    } else {
                        SinkInner::Ipc(Box::new(writer))
                    }
                }
            }
            OutputFormat::Parquet => {
                let rows = options
                    .parquet_row_group_rows
                    .unwrap_or(PARQUET_ROW_GROUP_ROWS);
                if rows == 0 {
                    return Err(ArrowError::InvalidArgumentError(
                        "a Parquet row group needs at least one row".into(),
                    ));
                }
                let props = parquet_properties(options.compression, rows);
                if threads > 1 {
                    background(Box::new(encode::ParquetEncoded::new(
                        out, schema, props, threads,
                    )?))?
                } else {
                    let writer =
                        parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(props))
                            .map_err(parquet_error)?;
                    SinkInner::Parquet(Box::new(writer))
                }
            }
        };
        Ok(Self {
            inner,
            schema: schema.clone(),
            target,
        })
    }

    /// Appends a batch (with a writer thread: hands it over, waiting while a few batches are
    /// still being encoded).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        self.check(batch)?;
        match &mut self.inner {
            SinkInner::Ipc(w) => w.write(batch),
            SinkInner::Parquet(w) => w.write(batch).map_err(parquet_error),
            SinkInner::Background(b) => b.write(batch),
        }
    }

    /// Refuses a batch whose columns are not those of the output's schema (arrow-rs's IPC
    /// writers would write it, making a file no reader can read).
    fn check(&self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let fields = self.schema.fields();
        if Arc::ptr_eq(&batch.schema(), &self.schema) {
            return Ok(());
        }
        if batch.num_columns() != fields.len() {
            return Err(ArrowError::SchemaError(format!(
                "a batch of {} columns cannot be written to an output of {} columns",
                batch.num_columns(),
                fields.len()
            )));
        }
        for (i, (field, column)) in fields.iter().zip(batch.columns()).enumerate() {
            if field.data_type() != column.data_type() {
                return Err(ArrowError::SchemaError(format!(
                    "column {i} (`{}`) of a batch is {}, the output's schema says {}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                )));
            }
        }
        Ok(())
    }

    /// Finishes the file (IPC footer, Parquet row groups and footer), flushes it and renames
    /// it to its destination.
    pub(crate) fn finish(self) -> Result<(), ArrowError> {
        let out = match self.inner {
            SinkInner::Ipc(w) => w.finish()?,
            // Writes the last row group and the footer.
            SinkInner::Parquet(w) => w.into_inner().map_err(parquet_error)?,
            SinkInner::Background(b) => b.finish()?,
        };
        commit(out, self.target)
    }
}

/// Parquet writer properties: `compression` (zstd when `None`), row groups of `rows` rows,
/// rawarrow as the writer.
pub(crate) fn parquet_properties(
    compression: Option<Compression>,
    rows: usize,
) -> parquet::file::properties::WriterProperties {
    use parquet::basic::{Compression as Pc, ZstdLevel};
    let codec = match compression.unwrap_or(Compression::Zstd) {
        Compression::None => Pc::UNCOMPRESSED,
        Compression::Lz4 => Pc::LZ4_RAW,
        Compression::Zstd => Pc::ZSTD(ZstdLevel::default()),
    };
    parquet::file::properties::WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(rows))
        .set_created_by(concat!("rawarrow ", env!("CARGO_PKG_VERSION")).into())
        .build()
}

#[cfg(test)]
mod tests;
