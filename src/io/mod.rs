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
mod output;
pub(crate) mod remote;

pub use output::OutputFile;
pub(crate) use remote::is_url;

/// The objects under the URL prefix `url` (ending in `/`) whose names end in one of `suffixes` (any name, with none), sorted,
/// with their sizes: the inputs a cluster engine plans splits of.
pub(crate) fn list_objects(
    url: &str,
    storage: &[(String, String)],
    suffixes: &[&str],
) -> Result<Vec<(PathBuf, u64)>, OpenError> {
    let err = |kind| OpenError {
        path: remote::redact(url).into(),
        kind,
    };
    let settings = remote::Settings::new(storage).map_err(|m| err(OpenErrorKind::Usage(m)))?;
    let listed = remote::list(url, &settings).map_err(|e| match e.usage() {
        Some(m) => err(OpenErrorKind::Usage(m.to_owned())),
        None => err(OpenErrorKind::Io(e.into())),
    })?;
    let mut out: Vec<(PathBuf, u64)> = listed
        .into_iter()
        .filter(|(u, _)| suffixes.is_empty() || suffixes.iter().any(|x| u.ends_with(x)))
        .map(|(u, size)| (PathBuf::from(u), size))
        .collect();
    out.sort();
    if out.is_empty() {
        let none = match suffixes {
            [] => "no object under this prefix".to_string(),
            _ => format!(
                "no object whose name ends in {} under this prefix",
                suffixes.join(" or ")
            ),
        };
        return Err(err(OpenErrorKind::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            none,
        ))));
    }
    Ok(out)
}
pub(crate) use output::{create_output, stdout_file, Pending};

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap};

/// Asks for a 1 MiB buffer on `fd` when it is a pipe (Linux's `F_SETPIPE_SZ`; the default is
/// 64 KiB, and 1 MiB is the default most an unprivileged process may ask): a producer then
/// writes, and the reader thread reads, up to a piece at a time instead of 64 KiB, with four
/// times fewer wake-ups on both sides of the pipe. Anything else (not a pipe, a refusal) leaves
/// it as it was.
fn widen_pipe(fd: &impl std::os::fd::AsRawFd) {
    #[cfg(target_os = "linux")]
    {
        let fd = fd.as_raw_fd();
        // SAFETY: `fcntl(F_GETPIPE_SZ)` on a descriptor the caller holds open reads and
        // writes no memory of this process; on one that is not a pipe it fails (-1).
        let size = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        if (0..1 << 20).contains(&size) {
            // SAFETY: as above; `F_SETPIPE_SZ` only changes the pipe's capacity in the
            // kernel (growing it: smaller requests are not made), and a refusal is ignored.
            unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

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
    /// The operating system refused (missing file, permission denied, ...), or the store
    /// serving a URL did.
    Io(std::io::Error),
    /// A bad storage option.
    Usage(String),
}

impl OpenError {
    /// The path that could not be opened.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What went wrong.
    pub(crate) fn kind(&self) -> &OpenErrorKind {
        &self.kind
    }

    /// Whether the file or object is not there.
    pub(crate) fn not_found(&self) -> bool {
        matches!(&self.kind, OpenErrorKind::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            OpenErrorKind::IsDirectory => write!(f, "{path}: is a directory, not a file"),
            OpenErrorKind::Io(e) => write!(f, "{path}: {e}"),
            OpenErrorKind::Usage(m) => write!(f, "{path}: {m}"),
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
    /// An object in a store or behind HTTP(S), read by ranges: no bytes to address; the BGZF
    /// reader fetches what it reads.
    Remote(std::sync::Arc<remote::Object>),
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
        Self::open_with(path, &[])
    }

    /// [`Input::open`], where a URL (`s3://`, `gs://`, `az://`, `abfs://`, `http(s)://`) is
    /// an object read by ranges, configured by the environment and `storage` (`key`, `value`:
    /// see docs/REMOTE.md); `file://` URLs are local paths.
    pub(crate) fn open_with(
        path: impl AsRef<Path>,
        storage: &[(String, String)],
    ) -> Result<Self, OpenError> {
        let path = path.as_ref();
        if remote::is_url(path) {
            let url = path.to_str().unwrap_or_default();
            if let Some(local) = url.strip_prefix("file://") {
                return Self::open_local(Path::new(local));
            }
            return Self::open_remote(url, storage);
        }
        Self::open_local(path)
    }

    fn open_remote(url: &str, storage: &[(String, String)]) -> Result<Self, OpenError> {
        let err = |e: std::io::Error| OpenError {
            path: remote::redact(url).into(),
            kind: OpenErrorKind::Io(e),
        };
        let usage = |m| OpenError {
            path: remote::redact(url).into(),
            kind: OpenErrorKind::Usage(m),
        };
        let settings = remote::Settings::new(storage).map_err(usage)?;
        let object = remote::Object::open(url, &settings).map_err(|e| match e.usage() {
            Some(m) => usage(m.to_owned()),
            None => err(e.into()),
        })?;
        Ok(Self::remote(object))
    }

    fn remote(object: remote::Object) -> Self {
        Self {
            path: object.url().into(),
            bytes: Bytes::Remote(std::sync::Arc::new(object)),
        }
    }

    /// [`Input::open_with`], a remote object fetched whole into memory: for what is read all
    /// at once (an index, a MIDI file, a header's first bytes).
    pub(crate) fn open_whole(
        path: impl AsRef<Path>,
        storage: &[(String, String)],
    ) -> Result<Self, OpenError> {
        let input = Self::open_with(path, storage)?;
        input.into_whole()
    }

    /// This input with a remote object's bytes fetched into memory (other inputs as they are).
    pub(crate) fn into_whole(self) -> Result<Self, OpenError> {
        let Bytes::Remote(object) = &self.bytes else {
            return Ok(self);
        };
        let bytes = object.read(0..object.len()).map_err(|e| OpenError {
            path: self.path.clone(),
            kind: OpenErrorKind::Io(e.into()),
        })?;
        Ok(Self {
            path: self.path,
            bytes: Bytes::Owned(bytes),
        })
    }

    /// Another input beside this one (an index beside a BAM): a remote object is opened with
    /// this one's storage settings, a local path as [`Input::open`] opens it, and fetched
    /// whole.
    pub(crate) fn open_related_whole(&self, path: &Path) -> Result<Self, OpenError> {
        match (&self.bytes, path.to_str()) {
            (Bytes::Remote(object), Some(url)) if remote::is_url(path) => {
                let related = object.open_related(url).map_err(|e| OpenError {
                    path: remote::redact(url).into(),
                    kind: OpenErrorKind::Io(e.into()),
                })?;
                Self::remote(related).into_whole()
            }
            _ => Self::open_whole(path, &[]),
        }
    }

    /// Its first `n` bytes (fewer when it is shorter): a remote object's fetched, a stream's
    /// none.
    pub(crate) fn head(&self, n: usize) -> Result<std::borrow::Cow<'_, [u8]>, OpenError> {
        match &self.bytes {
            Bytes::Remote(object) => object
                .read(0..n as u64)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| OpenError {
                    path: self.path.clone(),
                    kind: OpenErrorKind::Io(e.into()),
                }),
            _ => Ok(std::borrow::Cow::Borrowed(
                &self.bytes()[..self.bytes().len().min(n)],
            )),
        }
    }

    /// The remote object this input reads, if it is one.
    pub(crate) fn remote_object(&self) -> Option<&std::sync::Arc<remote::Object>> {
        match &self.bytes {
            Bytes::Remote(o) => Some(o),
            _ => None,
        }
    }

    fn open_local(path: &Path) -> Result<Self, OpenError> {
        let path = path.to_path_buf();
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
            widen_pipe(&file);
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
        let stdin = std::io::stdin();
        widen_pipe(&stdin);
        Self::stream("-", Box::new(stdin))
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

    /// [`Input::open`], except that `-` means standard input ([`Input::stdin`]), as in
    /// samtools, and that a URL (`s3://`, `gs://`, `az://`, `abfs://`, `http(s)://`) is an
    /// object read by ranges, configured by the environment and `storage` (`key`, `value`;
    /// docs/REMOTE.md).
    pub fn open_or_stdin(
        path: impl AsRef<Path>,
        storage: &[(String, String)],
    ) -> Result<Self, OpenError> {
        if path.as_ref().as_os_str() == "-" {
            Ok(Self::stdin())
        } else {
            Self::open_with(path, storage)
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
            Bytes::Stream(_) | Bytes::Remote(_) => &[],
        }
    }

    /// Length in bytes (a remote object's when it was opened; 0 for a stream).
    pub fn len(&self) -> usize {
        match &self.bytes {
            Bytes::Remote(o) => o.len() as usize,
            _ => self.bytes().len(),
        }
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
