//! Where a conversion writes: [`Target`] (a file, PostgreSQL, any writer) and [`Output`] (the
//! target with its format, compression, threads and statistics).

use std::path::{Path, PathBuf};

use super::Compression;
use crate::sink::postgres::Postgres;
use crate::sink::Format;
use crate::Error;

/// Where a conversion writes.
#[derive(Clone)]
pub enum Target {
    /// A file (`-`: standard output; a device or a pipe is written directly).
    Path(PathBuf),
    /// PostgreSQL tables.
    Postgres(Postgres),
    /// Any writer (a socket, a buffer, a Python file object), written as standard output is:
    /// an Arrow IPC file unless [`Output::format`] names the IPC stream or Parquet. What the
    /// conversion wrote before an error stays in the writer (it is the caller's to discard).
    Writer(std::sync::Arc<std::sync::Mutex<dyn std::io::Write + Send>>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(p) => f.debug_tuple("Path").field(p).finish(),
            Self::Postgres(pg) => f.debug_tuple("Postgres").field(pg).finish(),
            Self::Writer(_) => f.write_str("Writer"),
        }
    }
}

/// A [`Target::Writer`] as a [`std::io::Write`] for the sink.
pub(super) struct Shared(pub(super) std::sync::Arc<std::sync::Mutex<dyn std::io::Write + Send>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.lock()?.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.lock()?.flush()
    }
}

impl Shared {
    fn lock(
        &self,
    ) -> std::io::Result<std::sync::MutexGuard<'_, dyn std::io::Write + Send + 'static>> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("the output writer panicked in an earlier write"))
    }
}

/// Where and how a conversion writes.
#[derive(Debug, Clone)]
pub struct Output {
    /// The destination.
    pub target: Target,
    /// The format by name (see [`Format::of`]); `None`: from the file name's extension.
    pub format: Option<String>,
    /// Compression (`None`: none for IPC, zstd for Parquet).
    pub compression: Option<Compression>,
    /// For a MIDI `notes` stream: also write the `files` table to this path (same format).
    pub midi_files: Option<PathBuf>,
    /// Threads encoding and writing the output (see [`crate::arrow::SinkOptions::threads`]);
    /// `None`: the cores this process may use.
    pub threads: Option<usize>,
    /// Write run statistics as JSON here ([`crate::stats::Stats::to_json`]); nothing is
    /// measured without it.
    pub stats: Option<PathBuf>,
}

impl Output {
    /// An output to `path`, format from its name, the format's default compression.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::to(Target::Path(path.into()))
    }

    /// An output into PostgreSQL.
    pub fn postgres(target: Postgres) -> Self {
        Self::to(Target::Postgres(target))
    }

    fn to(target: Target) -> Self {
        Self {
            target,
            format: None,
            compression: None,
            midi_files: None,
            threads: None,
            stats: None,
        }
    }

    /// The output the bindings describe: a file `path` or a PostgreSQL `url` (exactly one),
    /// PostgreSQL's `schema` (default `public`), `table` and `resume`, the file's `format`
    /// and `compression` by name, the MIDI `files` table's path and the encoding `threads`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        path: Option<PathBuf>,
        url: Option<String>,
        schema: Option<String>,
        table: Option<String>,
        resume: bool,
        format: Option<String>,
        compression: Option<&str>,
        files: Option<PathBuf>,
        threads: Option<usize>,
    ) -> Result<Self, Error> {
        if threads == Some(0) {
            return Err(Error::usage("threads must be at least 1"));
        }
        let target = match (path, url) {
            (Some(path), None) => {
                if schema.is_some() || table.is_some() || resume {
                    return Err(Error::usage(
                        "schema, table and resume apply to a PostgreSQL output (postgres=URL)",
                    ));
                }
                Target::Path(path)
            }
            (None, Some(url)) => {
                if format.is_some() || compression.is_some() {
                    return Err(Error::usage(
                        "format and compression apply to a file output, not to PostgreSQL",
                    ));
                }
                Target::Postgres(Postgres {
                    url,
                    schema: schema.unwrap_or_else(|| "public".into()),
                    table,
                    resume,
                })
            }
            (Some(_), Some(_)) => {
                return Err(Error::usage(
                    "give an output file or a PostgreSQL URL (postgres=...), not both",
                ))
            }
            (None, None) => {
                return Err(Error::usage(
                    "no output: give an output file or a PostgreSQL URL (postgres=...)",
                ))
            }
        };
        Ok(Self {
            target,
            format,
            compression: compression.map(self::compression).transpose()?,
            midi_files: files,
            threads,
            stats: None,
        })
    }

    /// The table a timsTOF conversion writes unless told otherwise: the spectra for MGF, else
    /// the peaks.
    pub fn tdf_table(&self) -> crate::tdf::Table {
        match &self.target {
            Target::Path(p) if matches!(Format::of(p, self.format.as_deref()), Ok(Format::Mgf)) => {
                crate::tdf::Table::Spectra
            }
            _ => crate::tdf::Table::Peaks,
        }
    }

    /// The destination's file, if it is one.
    pub(crate) fn path(&self) -> Option<&Path> {
        match &self.target {
            Target::Path(p) => Some(p),
            Target::Postgres(_) | Target::Writer(_) => None,
        }
    }
}

/// Compression by name: `none` (or `uncompressed`), `lz4`, `zstd`.
pub(crate) fn compression(name: &str) -> Result<Compression, Error> {
    match name {
        "none" | "uncompressed" => Ok(Compression::None),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        _ => Err(Error::usage(format!(
            "unknown compression {name:?}; expected none, lz4 or zstd"
        ))),
    }
}
