//! Memory-mapped input.
//!
//! [`Input`] is a read-only view of a whole input file: a memory map of a regular file (with
//! sequential-access advice), or bytes already in memory (tests, fuzzing, embedding). Readers
//! borrow its bytes; the parallel pipelines share it through an [`Arc`](std::sync::Arc).
//!
//! A mapped file that shrinks while it is read does not end the process: [`guard`] turns the
//! SIGBUS into a recorded cut, and every reader asks [`Input::check`] before it hands out what
//! it read.
//!
//! This is one of the places in the root crate that may use `unsafe` (see
//! docs/ARCHITECTURE.md, "Unsafe code"): creating a memory map, dropping already-consumed pages
//! of it with `madvise(MADV_DONTNEED)` so that a long sequential read keeps a bounded resident
//! set, and the SIGBUS handler of [`guard`].

mod guard;

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap};

/// An error opening or mapping an input file.
#[derive(Debug)]
pub struct OpenError {
    path: PathBuf,
    kind: OpenErrorKind,
}

/// What went wrong opening an input.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum OpenErrorKind {
    /// The path names a directory.
    IsDirectory,
    /// The operating system refused (missing file, permission denied, ...).
    Io(std::io::Error),
}

impl OpenError {
    /// The path that could not be opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What went wrong.
    pub(crate) fn kind(&self) -> &OpenErrorKind {
        &self.kind
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            OpenErrorKind::IsDirectory => write!(f, "{path}: is a directory, not a file"),
            OpenErrorKind::Io(e) => write!(f, "{path}: {e}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            OpenErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

enum Bytes {
    /// A map of the file, registered with the SIGBUS guard when it could be (the registration
    /// is dropped before the map is unmapped: fields drop in order).
    Mapped {
        guard: Option<guard::Registration>,
        map: Mmap,
    },
    Owned(Vec<u8>),
    /// A stream read as it arrives (standard input, a FIFO): no bytes to address; its reader
    /// is taken by the one BGZF reader that reads it.
    Stream(std::sync::Mutex<Option<Box<dyn std::io::Read + Send>>>),
}

/// Why a stream cannot be read by region or byte range.
pub(crate) const STREAM_RANDOM_ACCESS: &str = "regions and byte ranges need random access (an \
    index, blocks read out of order), and this input is a stream (standard input, a pipe) read \
    once from start to end: save it to a file first";

/// An input file that shrank while it was mapped and read: the bytes from `offset` on were
/// gone when a reader reached them.
#[derive(Debug, Clone)]
pub(crate) struct Shrunk {
    path: PathBuf,
    offset: u64,
    len: u64,
}

impl Shrunk {
    /// The offset from which the file's bytes were gone (a page boundary).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Its length when it was opened.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

impl Shrunk {
    /// The message without the path.
    pub(crate) fn reason(&self) -> String {
        format!(
            "the file shrank while it was read: its bytes from offset {} on are gone (it had \
             {} bytes when it was opened)",
            self.offset, self.len
        )
    }
}

impl fmt::Display for Shrunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason())
    }
}

impl std::error::Error for Shrunk {}

impl From<Shrunk> for std::io::Error {
    fn from(e: Shrunk) -> Self {
        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e)
    }
}

/// A whole input file, read-only, addressable as one byte slice.
pub struct Input {
    path: PathBuf,
    bytes: Bytes,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("path", &self.path)
            .field("len", &self.len())
            .field("mapped", &matches!(self.bytes, Bytes::Mapped { .. }))
            .field("stream", &self.is_stream())
            .finish()
    }
}

/// Page size used to align `madvise` ranges.
const PAGE: usize = 4096;

impl Input {
    /// Maps a regular file read-only and advises the kernel that it will be read sequentially.
    /// A FIFO, a socket or a character device (`/dev/stdin`, `<(...)`'s `/dev/fd/N`) is a
    /// stream instead: read as it arrives by the BGZF reader, never mapped or copied whole.
    ///
    /// Empty files are valid and give an empty input. Directories are refused with an error
    /// naming the path.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("x.bin");
    /// std::fs::write(&path, b"hello")?;
    /// let input = rawarrow::io::Input::open(&path)?;
    /// assert_eq!(input.bytes(), b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let err = |kind| OpenError {
            path: path.clone(),
            kind,
        };
        let meta = std::fs::metadata(&path).map_err(|e| err(OpenErrorKind::Io(e)))?;
        if meta.is_dir() {
            return Err(err(OpenErrorKind::IsDirectory));
        }
        let file = File::open(&path).map_err(|e| err(OpenErrorKind::Io(e)))?;
        if !meta.is_file() {
            return Ok(Self::stream(path, Box::new(file)));
        }
        if meta.len() == 0 {
            return Ok(Self {
                path,
                bytes: Bytes::Owned(Vec::new()),
            });
        }
        // SAFETY: the map is read-only and private to this process. A file rewritten in place
        // while it is mapped shows the new bytes (as it would to any reader); one truncated
        // raises SIGBUS on the pages past its new end, which the guard registered below turns
        // into zero pages and a recorded cut that every reader checks (`Input::check`) before
        // anything it read is handed on. No freed memory is ever read.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| err(OpenErrorKind::Io(e)))?;
        // Unguarded only off Linux, or past 4096 maps open at once (reading such a file into
        // memory instead could exhaust it: a chain of thousands of BAMs maps them all).
        let guard = guard::Registration::new(map.as_ptr(), map.len());
        Ok(Self::mapped(path, guard, map))
    }

    fn mapped(path: PathBuf, guard: Option<guard::Registration>, map: Mmap) -> Self {
        // Advice is only a hint; a kernel that ignores it changes nothing we rely on.
        let _ = map.advise(Advice::Sequential);
        Self {
            path,
            bytes: Bytes::Mapped { guard, map },
        }
    }

    /// Whether every byte read from this input so far was the file's: an error naming the
    /// file and the offset from which its bytes were gone when a read found them gone (the
    /// file shrank while it was mapped; the read saw zeros instead). Readers call it before
    /// they hand on what they read. Always `Ok` for inputs in memory.
    pub(crate) fn check(&self) -> Result<(), Shrunk> {
        let Bytes::Mapped {
            guard: Some(guard),
            map,
        } = &self.bytes
        else {
            return Ok(());
        };
        match guard.cut() {
            None => Ok(()),
            Some(at) => Err(Shrunk {
                path: self.path.clone(),
                offset: at as u64,
                len: map.len() as u64,
            }),
        }
    }

    /// Standard input as a stream (read as it arrives, never spooled); its path in messages
    /// is `-`.
    pub(crate) fn stdin() -> Self {
        Self::stream("-", Box::new(std::io::stdin()))
    }

    /// A stream read as it arrives (a pipe, a socket, a Python file object: any reader), never
    /// mapped or copied whole; `path` names it in messages. Only the BGZF reader reads it
    /// ([`stream::BatchStream::bam_inputs`](crate::stream::BatchStream::bam_inputs), a
    /// [`bam::Reader`](crate::bam::Reader), a [`bgzf::ChunkReader`](crate::bgzf::ChunkReader)),
    /// once, from a reader thread that keeps a bounded read-ahead.
    pub fn stream(path: impl Into<PathBuf>, reader: Box<dyn std::io::Read + Send>) -> Self {
        Self {
            path: path.into(),
            bytes: Bytes::Stream(std::sync::Mutex::new(Some(reader))),
        }
    }

    /// Whether this input is a stream: no bytes to address ([`bytes`](Self::bytes) is empty),
    /// read once, front to back, by one BGZF reader.
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self.bytes, Bytes::Stream(_))
    }

    /// The stream's reader, for the one reader that reads it (`None` for a file, and once it
    /// was taken).
    pub(crate) fn take_stream(&self) -> Option<Box<dyn std::io::Read + Send>> {
        match &self.bytes {
            Bytes::Stream(r) => r.lock().unwrap_or_else(|e| e.into_inner()).take(),
            _ => None,
        }
    }

    /// [`Input::open`], except that `-` means standard input ([`Input::stdin`]), as in samtools.
    pub fn open_or_stdin(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        if path.as_ref().as_os_str() == "-" {
            Ok(Self::stdin())
        } else {
            Self::open(path)
        }
    }

    /// Wraps bytes already in memory; `path` is only used in error messages.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Self {
        Self {
            path: path.into(),
            bytes: Bytes::Owned(bytes),
        }
    }

    /// The path this input was opened from (or the name given to [`Input::from_bytes`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All bytes of the input.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Mapped { map, .. } => map,
            Bytes::Owned(v) => v,
            Bytes::Stream(_) => &[],
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// Whether the input has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tells the kernel that the bytes in `range` will not be read again soon, so their pages
    /// can leave this process's resident set. The range is shrunk inward to whole pages. Reading
    /// those bytes again later stays correct: the pages are faulted back in from the file.
    /// A no-op for in-memory inputs.
    pub(crate) fn release(&self, range: std::ops::Range<usize>) {
        let Bytes::Mapped { map, .. } = &self.bytes else {
            return;
        };
        let start = range.start.div_ceil(PAGE) * PAGE;
        let end = (range.end.min(map.len()) / PAGE) * PAGE;
        if end <= start {
            return;
        }
        // SAFETY: `MADV_DONTNEED` on a read-only mapping of a file only drops clean page-cache
        // pages from our page tables; there are no private modifications to lose, and a later
        // access re-reads the same file contents. No Rust reference observes a change.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }

    /// Maps the pages of `range` into this process's page tables ahead of their reads
    /// (`MADV_POPULATE_READ`, Linux 5.14 and later; where refused, and for in-memory inputs,
    /// nothing happens and the reads fault the pages in as before): run on a worker, so the
    /// thread that scans the blocks later takes no page fault per 64 KiB.
    pub(crate) fn prefault(&self, range: std::ops::Range<usize>) {
        #[cfg(target_os = "linux")]
        if let Bytes::Mapped { map, .. } = &self.bytes {
            let start = (range.start / PAGE) * PAGE;
            let end = range.end.min(map.len());
            if end > start {
                let _ = map.advise_range(memmap2::Advice::PopulateRead, start, end - start);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = range;
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = Input::open(dir.path()).expect_err("directory");
        assert!(matches!(e.kind(), OpenErrorKind::IsDirectory));
        assert!(e.to_string().contains(&dir.path().display().to_string()));

        let missing = dir.path().join("missing.bam");
        let e = Input::open(&missing).expect_err("missing");
        match e.kind() {
            OpenErrorKind::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::NotFound),
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().contains("missing.bam"));
    }

    #[test]
    fn empty_and_mapped_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").expect("write");
        let input = Input::open(&empty).expect("empty file opens");
        assert!(input.is_empty());

        let full = dir.path().join("full");
        let data: Vec<u8> = (0..3 * PAGE as u32 + 17).map(|i| (i * 7) as u8).collect();
        std::fs::write(&full, &data).expect("write");
        let input = Input::open(&full).expect("open");
        assert_eq!(input.bytes(), &data[..]);
        // Releasing pages must not change what is read afterwards.
        input.release(0..input.len());
        assert_eq!(input.bytes(), &data[..]);
    }
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
