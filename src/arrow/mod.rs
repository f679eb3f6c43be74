//! Arrow output: arena-backed buffers ([`arena`]), and the output files: IPC file or stream with
//! optional buffer compression ([`IpcSink`]) or Parquet ([`Sink`] writes either), written to a
//! temporary file and renamed only on success.

#[allow(unsafe_code)] // Buffer::from_custom_allocation and region views; see the module docs
pub mod arena;

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
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

/// IPC format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The random-access IPC file format (`.arrow`, Feather v2).
    #[default]
    File,
    /// The IPC streaming format.
    Stream,
}

enum Writer {
    File(FileWriter<std::io::BufWriter<std::fs::File>>),
    Stream(StreamWriter<std::io::BufWriter<std::fs::File>>),
}

/// Writes record batches to `path` through a temporary file in the same folder; the file appears
/// under its name only when [`IpcSink::finish`] succeeds. Dropping the sink unfinished (an error
/// upstream) deletes the temporary file.
pub struct IpcSink {
    writer: Writer,
    /// The temporary file and the destination; `None` when writing to standard output.
    target: Target,
}

impl std::fmt::Debug for IpcSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcSink")
            .field("path", &self.target.as_ref().map(|t| &t.1))
            .finish()
    }
}

impl IpcSink {
    /// Starts writing `schema` to standard output (nothing to rename; a failure may leave
    /// partial output in the pipe, as with any streaming tool).
    pub fn stdout(
        schema: &SchemaRef,
        format: Format,
        compression: Compression,
    ) -> Result<Self, ArrowError> {
        let file = crate::io::stdout_file().map_err(|e| ArrowError::IoError(e.to_string(), e))?;
        let writer = Self::writer(file, schema, format, compression)?;
        Ok(Self {
            writer,
            target: None,
        })
    }

    fn writer(
        file: std::fs::File,
        schema: &SchemaRef,
        format: Format,
        compression: Compression,
    ) -> Result<Writer, ArrowError> {
        let out = std::io::BufWriter::with_capacity(1 << 20, file);
        let codec = match compression {
            Compression::None => None,
            Compression::Lz4 => Some(CompressionType::LZ4_FRAME),
            Compression::Zstd => Some(CompressionType::ZSTD),
        };
        let options = IpcWriteOptions::default().try_with_compression(codec)?;
        Ok(match format {
            Format::File => Writer::File(FileWriter::try_new_with_options(out, schema, options)?),
            Format::Stream => {
                Writer::Stream(StreamWriter::try_new_with_options(out, schema, options)?)
            }
        })
    }

    /// Starts writing `schema` to `path`.
    pub fn create(
        path: &Path,
        schema: &SchemaRef,
        format: Format,
        compression: Compression,
    ) -> Result<Self, ArrowError> {
        let (file, target) = open_target(path)?;
        let writer = Self::writer(file, schema, format, compression)?;
        Ok(Self { writer, target })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        match &mut self.writer {
            Writer::File(w) => w.write(batch),
            Writer::Stream(w) => w.write(batch),
        }
    }

    /// Writes the footer, flushes, and renames the temporary file to the destination.
    pub fn finish(self) -> Result<(), ArrowError> {
        let Self { writer, target } = self;
        let file = match writer {
            Writer::File(mut w) => {
                w.finish()?;
                w.into_inner()?
            }
            Writer::Stream(mut w) => {
                w.finish()?;
                w.into_inner()?
            }
        };
        commit(file, target)
    }
}

/// Where an output goes: a temporary file beside `path`, renamed to `path` by [`commit`]; or,
/// for a device or pipe (`/dev/null`, a FIFO), the path itself (it cannot be replaced by a
/// rename, and there is no partial file to protect).
type Target = Option<(tempfile::TempPath, std::path::PathBuf)>;

fn open_target(path: &Path) -> Result<(std::fs::File, Target), ArrowError> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| ArrowError::IoError(format!("{}: {e}", path.display()), e))?;
        return Ok((file, None));
    }
    let tmp = crate::io::temp_beside(path).map_err(|e| ArrowError::IoError(e.to_string(), e))?;
    let (file, tmp) = tmp.into_parts();
    Ok((file, Some((tmp, path.to_path_buf()))))
}

/// Flushes a finished output and renames its temporary file to the destination.
fn commit(out: std::io::BufWriter<std::fs::File>, target: Target) -> Result<(), ArrowError> {
    let file = out
        .into_inner()
        .map_err(|e| ArrowError::IoError(e.to_string(), e.into_error()))?;
    let Some((tmp, path)) = target else {
        return Ok(());
    };
    crate::io::make_readable(&file).map_err(|e| ArrowError::IoError(e.to_string(), e))?;
    tmp.persist(&path).map_err(|e| {
        ArrowError::IoError(
            format!("{}: cannot write output: {}", path.display(), e.error),
            e.error,
        )
    })?;
    Ok(())
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
pub const PARQUET_ROW_GROUP_ROWS: usize = 1 << 20;

/// Writes record batches to `path` (or standard output for `-`) as Arrow IPC or Parquet,
/// through a temporary file in the same folder that becomes `path` only when
/// [`Sink::finish`] succeeds; dropping an unfinished sink deletes it.
///
/// Parquet files get zstd compression unless told otherwise, [`PARQUET_ROW_GROUP_ROWS`]-row
/// groups, column statistics, dictionary encoding, and the Arrow schema (with its metadata)
/// embedded, so pyarrow, polars and DuckDB read back the same types (dictionary columns too).
///
/// ```
/// use rawarrow::arrow::{Compression, OutputFormat, Sink};
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
/// let reader = rawarrow::bam::Reader::builder().build(rawarrow::io::Input::open(path)?)?;
/// let dir = tempfile::tempdir()?;
/// let out = dir.path().join("sample.parquet");
/// let schema = arrow_array::RecordBatchReader::schema(&reader);
/// let mut sink = Sink::create(&out, &schema, OutputFormat::Parquet, None)?;
/// for batch in reader {
///     sink.write(&batch?)?;
/// }
/// sink.finish()?;
/// assert_eq!(&std::fs::read(&out)?[..4], b"PAR1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Sink {
    inner: SinkInner,
}

enum SinkInner {
    Ipc(IpcSink),
    Parquet {
        writer: parquet::arrow::ArrowWriter<std::io::BufWriter<std::fs::File>>,
        target: Target,
    },
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            SinkInner::Ipc(s) => s.fmt(f),
            SinkInner::Parquet { target, .. } => f
                .debug_struct("Sink")
                .field("parquet", &target.as_ref().map(|t| &t.1))
                .finish(),
        }
    }
}

fn parquet_error(e: parquet::errors::ParquetError) -> ArrowError {
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
    /// Starts writing `schema` to `path` (`-`: standard output) in `format`; `compression`
    /// `None` means none for IPC and zstd for Parquet.
    pub fn create(
        path: &Path,
        schema: &SchemaRef,
        format: OutputFormat,
        compression: Option<Compression>,
    ) -> Result<Self, ArrowError> {
        let ipc = |f: Format| {
            let c = compression.unwrap_or(Compression::None);
            if path == Path::new("-") {
                IpcSink::stdout(schema, f, c)
            } else {
                IpcSink::create(path, schema, f, c)
            }
        };
        let inner = match format {
            OutputFormat::IpcFile => SinkInner::Ipc(ipc(Format::File)?),
            OutputFormat::IpcStream => SinkInner::Ipc(ipc(Format::Stream)?),
            OutputFormat::Parquet => {
                use parquet::basic::{Compression as Pc, ZstdLevel};
                let codec = match compression.unwrap_or(Compression::Zstd) {
                    Compression::None => Pc::UNCOMPRESSED,
                    Compression::Lz4 => Pc::LZ4_RAW,
                    Compression::Zstd => Pc::ZSTD(ZstdLevel::default()),
                };
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(codec)
                    .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
                    .set_created_by(concat!("rawarrow ", env!("CARGO_PKG_VERSION")).into())
                    .build();
                let (file, target) = if path == Path::new("-") {
                    let f = crate::io::stdout_file()
                        .map_err(|e| ArrowError::IoError(e.to_string(), e))?;
                    (f, None)
                } else {
                    open_target(path)?
                };
                let out = std::io::BufWriter::with_capacity(1 << 20, file);
                let writer = parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(props))
                    .map_err(parquet_error)?;
                SinkInner::Parquet { writer, target }
            }
        };
        Ok(Self { inner })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        match &mut self.inner {
            SinkInner::Ipc(s) => s.write(batch),
            SinkInner::Parquet { writer, .. } => writer.write(batch).map_err(parquet_error),
        }
    }

    /// Finishes the file (IPC footer, Parquet row groups and footer), flushes it and renames
    /// it to its destination.
    pub fn finish(self) -> Result<(), ArrowError> {
        match self.inner {
            SinkInner::Ipc(s) => s.finish(),
            SinkInner::Parquet { writer, target } => {
                // Writes the last row group and the footer.
                let out = writer.into_inner().map_err(parquet_error)?;
                commit(out, target)
            }
        }
    }
}
