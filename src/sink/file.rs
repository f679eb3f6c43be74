//! Arrow IPC files and streams and Parquet: to a path ([`FileSink`], written under a temporary
//! name and renamed when finished) or into any writer ([`WriterSink`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_ipc::writer::{FileWriter, StreamWriter};
use arrow_schema::{ArrowError, SchemaRef};

use super::{output_error, Sink};
use crate::arrow::{OutputFormat, SinkOptions};
use crate::Error;

/// An Arrow IPC file, IPC stream or Parquet file at a path (`-`: standard output), encoded on
/// worker threads as [`crate::arrow::Sink`] says; dropped unfinished, it leaves nothing.
#[derive(Debug)]
pub(crate) struct FileSink {
    inner: crate::arrow::Sink,
    path: PathBuf,
}

impl FileSink {
    /// Starts writing `schema` to `path` as `options` say.
    pub(crate) fn create(
        path: &Path,
        schema: &SchemaRef,
        options: &SinkOptions,
    ) -> Result<Self, Error> {
        let inner = crate::arrow::Sink::with_options(path, schema, options)
            .map_err(|e| output_error(path, e))?;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
        })
    }
}

impl Sink for FileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        self.inner
            .write(batch)
            .map_err(|e| output_error(&self.path, e))
    }

    fn finish(self: Box<Self>) -> Result<(), Error> {
        let path = self.path;
        self.inner.finish().map_err(|e| output_error(&path, e))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

enum Encoder<W: Write + Send> {
    File(FileWriter<W>),
    Stream(StreamWriter<W>),
    Parquet(Box<parquet::arrow::ArrowWriter<W>>),
}

/// An Arrow IPC file, IPC stream or Parquet file written into any writer (a socket, a pipe, a
/// buffer, a Python file object), on the calling thread. Nothing is renamed: an unfinished
/// sink leaves what it wrote so far in the writer, as any streaming writer does.
pub struct WriterSink<W: Write + Send> {
    encoder: Encoder<W>,
    name: String,
}

impl<W: Write + Send> std::fmt::Debug for WriterSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterSink")
            .field("name", &self.name)
            .finish()
    }
}

impl<W: Write + Send> WriterSink<W> {
    /// Starts writing `schema` into `out` in `format` (`compression` as for
    /// [`crate::arrow::SinkOptions`]); `name` names the writer in errors.
    pub fn new(
        out: W,
        name: impl Into<String>,
        schema: &SchemaRef,
        format: OutputFormat,
        compression: Option<crate::arrow::Compression>,
    ) -> Result<Self, Error> {
        use crate::arrow::Compression;
        let name = name.into();
        let fail = |e: ArrowError| output_error(Path::new(&name), e);
        let codec = match compression.unwrap_or(Compression::None) {
            Compression::None => None,
            Compression::Lz4 => Some(arrow_ipc::CompressionType::LZ4_FRAME),
            Compression::Zstd => Some(arrow_ipc::CompressionType::ZSTD),
        };
        let encoder = match format {
            OutputFormat::IpcFile | OutputFormat::IpcStream => {
                let ipc = crate::arrow::encode::ipc_options(codec).map_err(fail)?;
                if format == OutputFormat::IpcFile {
                    Encoder::File(FileWriter::try_new_with_options(out, schema, ipc).map_err(fail)?)
                } else {
                    Encoder::Stream(
                        StreamWriter::try_new_with_options(out, schema, ipc).map_err(fail)?,
                    )
                }
            }
            OutputFormat::Parquet => {
                let props = crate::arrow::parquet_properties(
                    compression,
                    crate::arrow::PARQUET_ROW_GROUP_ROWS,
                );
                Encoder::Parquet(Box::new(
                    parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(props))
                        .map_err(|e| fail(crate::arrow::parquet_error(e)))?,
                ))
            }
        };
        Ok(Self { encoder, name })
    }

    /// Finishes the output and hands the writer back.
    pub fn into_inner(self) -> Result<W, Error> {
        let fail = |e: ArrowError| output_error(Path::new(&self.name), e);
        let mut out = match self.encoder {
            Encoder::File(mut w) => {
                w.finish().map_err(fail)?;
                w.into_inner().map_err(fail)?
            }
            Encoder::Stream(mut w) => {
                w.finish().map_err(fail)?;
                w.into_inner().map_err(fail)?
            }
            Encoder::Parquet(w) => w
                .into_inner()
                .map_err(|e| fail(crate::arrow::parquet_error(e)))?,
        };
        out.flush()
            .map_err(|e| fail(ArrowError::IoError(e.to_string(), e)))?;
        Ok(out)
    }
}

impl<W: Write + Send> Sink for WriterSink<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let r = match &mut self.encoder {
            Encoder::File(w) => w.write(batch),
            Encoder::Stream(w) => w.write(batch),
            Encoder::Parquet(w) => w.write(batch).map_err(crate::arrow::parquet_error),
        };
        r.map_err(|e| output_error(Path::new(&self.name), e))
    }

    fn finish(self: Box<Self>) -> Result<(), Error> {
        self.into_inner().map(drop)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
