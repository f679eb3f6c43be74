//! Outputs that are never seen half-written: a temporary file beside the destination, renamed
//! onto it when complete.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Creates a temporary file beside `path` (same folder, so the final rename stays on one file
/// system), to be renamed to `path` once the output is complete. Deleted if dropped unrenamed.
pub(crate) fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".rawarrow-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| {
            // tempfile names the temporary file; the user knows only the destination.
            let os = e
                .get_ref()
                .and_then(|inner| inner.source())
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .and_then(std::io::Error::raw_os_error)
                .map(std::io::Error::from_raw_os_error);
            let cause = os.map_or_else(|| e.to_string(), |os| os.to_string());
            std::io::Error::new(
                e.kind(),
                format!("{}: cannot create output: {cause}", path.display()),
            )
        })
}

/// An output file that is not complete yet: a temporary file beside its destination, renamed
/// onto it by [`Pending::commit`] and deleted if dropped first; or nothing to do, for a device
/// or pipe written directly.
#[derive(Debug)]
pub(crate) struct Pending(Option<(tempfile::TempPath, PathBuf)>);

/// Opens `path` for an output that must never be seen half-written: the one place the CLI's
/// text outputs and the Arrow/Parquet sinks get their files from. A device or pipe
/// (`/dev/null`, a FIFO) is written directly (a rename would replace the node, and there is no
/// partial file to protect); anything else goes to a temporary file beside it.
pub(crate) fn create_output(path: &Path) -> std::io::Result<(File, Pending)> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        return Ok((file, Pending(None)));
    }
    let (file, tmp) = temp_beside(path)?.into_parts();
    Ok((file, Pending(Some((tmp, path.to_path_buf())))))
}

impl Pending {
    /// The destination the output is renamed to (none for a device, a pipe or standard output).
    pub(crate) fn destination(&self) -> Option<&Path> {
        self.0.as_ref().map(|(_, p)| p.as_path())
    }

    /// Nothing to commit (standard output).
    pub(crate) fn nothing() -> Self {
        Self(None)
    }

    /// The output in `file` is complete: makes it readable like any new file and renames it
    /// onto its destination.
    pub(crate) fn commit(self, file: &File) -> std::io::Result<()> {
        let Some((tmp, path)) = self.0 else {
            return Ok(());
        };
        make_readable(file)?;
        tmp.persist(&path).map_err(|e| {
            std::io::Error::new(
                e.error.kind(),
                format!("{}: cannot write output: {}", path.display(), e.error),
            )
        })
    }
}

/// Standard output as an unbuffered `File` (a duplicate of fd 1): `std::io::Stdout` is
/// line-buffered, which would scan every chunk of binary output for newlines.
pub(crate) fn stdout_file() -> std::io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(std::io::stdout().as_fd().try_clone_to_owned()?))
}

/// Gives a finished output file the usual permissions (`rw-r--r--`) before it is renamed into
/// place: temporary files are created private (`rw-------`).
pub(crate) fn make_readable(file: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// A file written whole or not at all: standard output, or a temporary file beside `path`
/// that becomes `path` only when [`OutputFile::finish`] succeeds (dropped unfinished — an
/// error, a signal — it is deleted). A device or a pipe named as `path` is written directly.
/// The CLI's text outputs (SAM, BGZF, indexes) are written through it.
#[derive(Debug)]
pub struct OutputFile {
    file: File,
    pending: Pending,
}

impl OutputFile {
    /// Standard output (`None`) or a file at `path`.
    pub fn create(path: Option<&Path>) -> std::io::Result<Self> {
        let (file, pending) = match path {
            None => (stdout_file()?, Pending::nothing()),
            Some(path) => create_output(path)?,
        };
        Ok(Self { file, pending })
    }

    /// Flushes and renames the file to its destination.
    pub fn finish(mut self) -> std::io::Result<()> {
        use std::io::Write;
        self.file.flush()?;
        self.pending.commit(&self.file)
    }
}

impl std::io::Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
