//! Arrow output: arena-backed buffers ([`arena`]), and IPC file or stream with optional buffer
//! compression, written to a temporary file and renamed only on success.

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
    target: Option<(tempfile::TempPath, std::path::PathBuf)>,
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
        // A device or pipe (`/dev/null`, a FIFO) is written directly: it cannot be replaced by
        // a rename, and there is no partial file to protect.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| ArrowError::IoError(format!("{}: {e}", path.display()), e))?;
            return Ok(Self {
                writer: Self::writer(file, schema, format, compression)?,
                target: None,
            });
        }
        let tmp =
            crate::io::temp_beside(path).map_err(|e| ArrowError::IoError(e.to_string(), e))?;
        let (file, tmp) = tmp.into_parts();
        let writer = Self::writer(file, schema, format, compression)?;
        Ok(Self {
            writer,
            target: Some((tmp, path.to_path_buf())),
        })
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
        let file = file
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
}
