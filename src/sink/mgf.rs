//! The timsTOF spectra table as MGF text ([`crate::tdf::mgf::MgfWriter`]) at a path.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::Sink;
use crate::Error;

/// MGF at a path (`-`: standard output), written under a temporary name and renamed when
/// finished; dropped unfinished, it leaves nothing.
#[derive(Debug)]
pub(crate) struct MgfSink {
    writer: crate::tdf::mgf::MgfWriter<BufWriter<std::fs::File>>,
    pending: crate::io::Pending,
    path: PathBuf,
}

impl MgfSink {
    /// Starts writing the spectra of run `run` (named in each `TITLE`) to `path`. `schema` must
    /// be the spectra table's (with every column of [`crate::tdf::mgf::MGF_COLUMNS`]).
    pub(crate) fn create(path: &Path, schema: &SchemaRef, run: &str) -> Result<Self, Error> {
        let missing: Vec<&str> = crate::tdf::mgf::MGF_COLUMNS
            .iter()
            .copied()
            .filter(|c| schema.field_with_name(c).is_err())
            .collect();
        if !missing.is_empty() {
            return Err(Error::usage(format!(
                "{}: MGF holds the spectra table (with its columns {}); this stream lacks {}",
                path.display(),
                crate::tdf::mgf::MGF_COLUMNS.join(","),
                missing.join(",")
            )));
        }
        let io = |e: std::io::Error| Error::from(e).named(path, String::new());
        let (file, pending) = if path == Path::new("-") {
            (
                crate::io::stdout_file().map_err(io)?,
                crate::io::Pending::nothing(),
            )
        } else {
            crate::io::create_output(path).map_err(io)?
        };
        Ok(Self {
            writer: crate::tdf::mgf::MgfWriter::new(BufWriter::with_capacity(1 << 20, file), run),
            pending,
            path: path.to_path_buf(),
        })
    }

    fn fail(&self, e: std::io::Error) -> Error {
        let message = format!("{}: {e}", self.path.display());
        Error::from(e).named(&self.path, message)
    }
}

impl Sink for MgfSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let r = self.writer.write(batch);
        r.map_err(|e| self.fail(e))
    }

    fn finish(self: Box<Self>) -> Result<(), Error> {
        let Self {
            writer,
            pending,
            path,
        } = *self;
        let fail = |e: std::io::Error| {
            let message = format!("{}: {e}", path.display());
            Error::from(e).named(&path, message)
        };
        let mut out = writer.finish().map_err(fail)?;
        out.flush().map_err(fail)?;
        let file = out.into_inner().map_err(|e| fail(e.into_error()))?;
        pending.commit(&file).map_err(fail)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
