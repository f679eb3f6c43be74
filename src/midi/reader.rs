//! [`Reader`]: many MIDI files in parallel on the pinned pool, batches in sorted path order.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{ArrowError, SchemaRef};

use super::table::{files_batch, notes_batch, FileRow, NoteRow};
use super::{Analyzer, KeyProfile, OnsetOptions, ParseError};
use crate::arrow::arena::ArenaPool;
use crate::io::{Input, OpenError};
use crate::runtime::{arenas_per_pool, default_threads, jobs_ahead, workers, Ordered};

/// File name extensions collected when walking a folder (case-insensitive). Files named
/// explicitly are read whatever their name.
pub(crate) const EXTENSIONS: &[&str] = &["mid", "midi", "kar", "rmi", "smf"];

/// An error of the MIDI reader: what went wrong ([`ErrorKind`], with the cause underneath as
/// [`source`](std::error::Error::source)) and the path it concerns. A file that cannot be parsed
/// is not an error of the [`Reader`]: it becomes a `files` row with `error` set.
#[derive(Debug)]
pub struct Error {
    path: Option<PathBuf>,
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be opened (single-file [`super::read`]).
    Open(OpenError),
    /// A file is not a readable SMF (single-file [`super::read`]); the error holds the offset.
    Parse(ParseError),
    /// An input path or a folder below it could not be listed.
    Walk(std::io::Error),
    /// A setting the reader refuses (zero threads, more files than the `file` dictionary can
    /// index): the caller's mistake, not a file's.
    Usage(String),
    /// A worker thread panicked (a bug; reported instead of hanging), or (with the operating
    /// system's error) the workers could not be started.
    Worker(Option<std::io::Error>),
}

impl Error {
    fn at(path: &Path, kind: ErrorKind) -> Self {
        Self {
            path: Some(path.to_path_buf()),
            kind,
        }
    }

    pub(crate) fn open(e: OpenError) -> Self {
        Self::bare(ErrorKind::Open(e))
    }

    pub(crate) fn parse(path: &Path, e: ParseError) -> Self {
        Self::at(path, ErrorKind::Parse(e))
    }

    fn bare(kind: ErrorKind) -> Self {
        Self { path: None, kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The file or folder concerned, when there is one.
    pub(crate) fn path(&self) -> Option<&Path> {
        match &self.kind {
            ErrorKind::Open(o) => Some(o.path()),
            _ => self.path.as_deref(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(path), false) = (&self.path, matches!(self.kind, ErrorKind::Open(_))) {
            write!(f, "{}: ", path.display())?;
        }
        match &self.kind {
            ErrorKind::Open(e) => e.fmt(f),
            ErrorKind::Parse(e) => e.fmt(f),
            ErrorKind::Walk(e) => e.fmt(f),
            ErrorKind::Usage(m) => f.write_str(m),
            ErrorKind::Worker(None) => f.write_str("a worker thread panicked"),
            ErrorKind::Worker(Some(e)) => write!(f, "cannot start worker threads: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Open(e) => Some(e),
            ErrorKind::Parse(e) => Some(e),
            ErrorKind::Walk(e) | ErrorKind::Worker(Some(e)) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for ArrowError {
    fn from(e: Error) -> Self {
        ArrowError::ExternalError(Box::new(e))
    }
}

fn has_midi_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let werr = |e| Error::at(dir, ErrorKind::Walk(e));
    for entry in std::fs::read_dir(dir).map_err(werr)? {
        let entry = entry.map_err(werr)?;
        let path = entry.path();
        let ty = entry.file_type().map_err(werr)?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if has_midi_extension(&path) && (ty.is_file() || path.is_file()) {
            // Symbolic links are followed to files only, never into folders (no cycles).
            out.push(path);
        }
    }
    Ok(())
}

/// The files a reader would read for `inputs`: files as given, folders walked recursively for
/// [`EXTENSIONS`]; sorted by path, duplicates removed.
pub fn list_inputs<P: AsRef<Path>>(inputs: &[P]) -> Result<Vec<PathBuf>, crate::Error> {
    list(inputs, &[])
}

/// [`list_inputs`], where a URL ending in `/` is every object under that prefix with a MIDI
/// extension (listed with `storage`'s settings), and other URLs are files as given.
pub(crate) fn list<P: AsRef<Path>>(
    inputs: &[P],
    storage: &[(String, String)],
) -> Result<Vec<PathBuf>, crate::Error> {
    let mut out = Vec::new();
    for p in inputs {
        let p = p.as_ref();
        if crate::io::is_url(p) {
            if p.to_str().is_some_and(|u| u.ends_with('/')) {
                let listed = crate::io::list_objects(p.to_str().unwrap_or_default(), storage, &[])?;
                out.extend(
                    listed
                        .into_iter()
                        .map(|(u, _)| u)
                        .filter(|u| has_midi_extension(u)),
                );
            } else {
                out.push(p.to_path_buf());
            }
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|e| Error::at(p, ErrorKind::Walk(e)))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.to_path_buf());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Reads a list of files, one path per line (as a catalogue hands paths over): a trailing
/// `\r` is dropped, empty lines are skipped, bytes are taken as they are (paths need not be
/// UTF-8). The paths are not checked here: one that cannot be read becomes a `files` row with
/// `error` set, as any unreadable file does.
pub(crate) fn read_list(mut list: impl std::io::BufRead) -> std::io::Result<Vec<PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if list.read_until(b'\n', &mut line)? == 0 {
            return Ok(out);
        }
        let mut path = line.as_slice();
        path = path.strip_suffix(b"\n").unwrap_or(path);
        path = path.strip_suffix(b"\r").unwrap_or(path);
        if !path.is_empty() {
            out.push(PathBuf::from(std::ffi::OsStr::from_bytes(path)));
        }
    }
}

/// Counts over the files read so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files read (parsed or failed).
    pub files: u64,
    /// Notes in the `notes` batches yielded.
    pub notes: u64,
    /// Files with `error` set.
    pub failed: u64,
    /// Files read with at least one warning.
    pub warned: u64,
}

/// Settings for a [`Reader`].
#[derive(Debug, Clone)]
pub struct ReaderBuilder {
    threads: usize,
    pin: bool,
    files_per_batch: usize,
    onsets: OnsetOptions,
    key_profile: KeyProfile,
    storage: Arc<[(String, String)]>,
}

impl Default for ReaderBuilder {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            pin: true,
            files_per_batch: 256,
            onsets: OnsetOptions::default(),
            key_profile: KeyProfile::default(),
            storage: Arc::new([]),
        }
    }
}

impl ReaderBuilder {
    /// Worker threads (default: the cores available; 0 is refused when the reader is built).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Files per job and per `notes` batch (default 256; 0 is refused when the reader is
    /// built).
    pub fn files_per_batch(mut self, n: usize) -> Self {
        self.files_per_batch = n;
        self
    }

    /// Onset detection settings used for the tempo estimate.
    pub(crate) fn onsets(mut self, opts: OnsetOptions) -> Self {
        self.onsets = opts;
        self
    }

    /// The key profile of `files.key_estimate` (default Krumhansl–Kessler; see
    /// [`super::analysis`]).
    pub(crate) fn key_profile(mut self, profile: KeyProfile) -> Self {
        self.key_profile = profile;
        self
    }

    /// Settings of inputs given as URLs (see
    /// [`MidiOptions::storage_options`](crate::stream::MidiOptions)).
    pub(crate) fn storage(mut self, storage: &[(String, String)]) -> Self {
        self.storage = storage.into();
        self
    }

    /// Lists `inputs` (see [`list_inputs`]) and starts reading.
    pub fn build<P: AsRef<Path>>(self, inputs: &[P]) -> Result<Reader, crate::Error> {
        self.build_paths(list_inputs(inputs)?)
    }

    /// Starts reading exactly these files, in this order.
    pub fn build_paths(self, paths: Vec<PathBuf>) -> Result<Reader, crate::Error> {
        self.open(paths, Vec::new()).map_err(crate::Error::from)
    }

    /// Starts reading these inputs (a stream is read whole by the worker that reads it, a
    /// file or bytes in memory as they are), named by their paths.
    pub(crate) fn build_inputs(self, inputs: Vec<Input>) -> Result<Reader, crate::Error> {
        let paths = inputs.iter().map(|i| i.path().to_path_buf()).collect();
        self.open(paths, inputs).map_err(crate::Error::from)
    }

    /// Reads `paths`; where `given` has the input of a path (by position), that input.
    fn open(self, paths: Vec<PathBuf>, given: Vec<Input>) -> Result<Reader, Error> {
        if i32::try_from(paths.len()).is_err() {
            let n = paths.len();
            let m = format!("{n} files: at most 2147483647 per reader");
            return Err(Error::bare(ErrorKind::Usage(m)));
        }
        for (name, n) in [
            ("threads", self.threads),
            ("files_per_batch", self.files_per_batch),
        ] {
            if n == 0 {
                let m = format!("{name} must be at least 1");
                return Err(Error::bare(ErrorKind::Usage(m)));
            }
        }
        let names: StringArray = paths.iter().map(|p| Some(p.to_string_lossy())).collect();
        let dictionary: ArrayRef = Arc::new(names);
        let paths: Arc<[PathBuf]> = paths.into();
        let (wpaths, wdict, opts) = (paths.clone(), dictionary.clone(), self.onsets);
        let given: Arc<[Input]> = given.into();
        let storage = self.storage.clone();
        let profile = self.key_profile;
        let keep = arenas_per_pool(workers(self.threads), workers(self.threads));
        let pool = Ordered::spawn_named(
            "midi",
            self.threads,
            self.pin,
            jobs_ahead(workers(self.threads)),
            move |_| {
                let analyzer = Analyzer::new(opts).with_key_profile(profile);
                // Each worker recycles the memory of its own batches.
                let arenas = ArenaPool::new(keep);
                (analyzer, Vec::<NoteRow>::new(), Vec::<u8>::new(), arenas)
            },
            move |(analyzer, rows, buf, arenas), range: Range<usize>| {
                rows.clear();
                let files: Vec<FileRow> = range
                    .map(|i| {
                        let source = match given.get(i) {
                            Some(input) => Source::Given(input),
                            None => Source::Path(&wpaths[i], &storage),
                        };
                        read_one(analyzer, source, i as i32, rows, buf)
                    })
                    .collect();
                (notes_batch(rows, &wdict, arenas), files)
            },
        )
        .map_err(|e| Error::bare(ErrorKind::Worker(Some(e))))?;
        Ok(Reader {
            paths,
            dictionary,
            pool,
            files_per_batch: self.files_per_batch,
            next_file: 0,
            files: Vec::new(),
            summary: Summary::default(),
        })
    }
}

/// Files up to this size are read into a reused buffer; larger ones are memory-mapped.
///
/// Mapping costs five system calls and a page fault per 4 KiB, and every `mmap`/`munmap` takes
/// the process-wide memory-map lock, so workers mapping thousands of small files queue behind
/// each other. One `read` into a warm buffer costs less than that for a typical song (tens of
/// KiB); big files still get the copy-free map.
const READ_LIMIT: u64 = 1 << 20;

/// Where one file's bytes come from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A path or URL (with the storage settings of URLs).
    Path(&'a Path, &'a [(String, String)]),
    /// An input the caller opened (a stream, bytes in memory).
    Given(&'a Input),
}

/// The bytes of `source`: a path read into `buf` when small, else mapped; a stream read whole
/// into `buf`.
fn load<'a>(
    source: Source<'a>,
    buf: &'a mut Vec<u8>,
    map: &'a mut Option<Input>,
) -> Result<&'a [u8], String> {
    use std::io::Read;
    let (path, storage) = match source {
        Source::Path(path, storage) => (path, storage),
        Source::Given(input) => {
            let Some(mut stream) = input.take_stream() else {
                return Ok(input.bytes());
            };
            buf.clear();
            stream.read_to_end(buf).map_err(|e| e.to_string())?;
            return Ok(buf);
        }
    };
    if crate::io::is_url(path) {
        // An object in a store or behind HTTP: fetched whole (songs are small).
        let input = Input::open_whole(path, storage).map_err(|e| e.to_string())?;
        return Ok(map.insert(input).bytes());
    }
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if meta.is_file() && meta.len() <= READ_LIMIT {
        buf.clear();
        file.read_to_end(buf).map_err(|e| e.to_string())?;
        return Ok(buf);
    }
    let input = Input::open(path).map_err(|e| e.to_string())?;
    Ok(map.insert(input).bytes())
}

/// Reads one file into `rows` and describes it.
fn read_one(
    a: &mut Analyzer,
    source: Source<'_>,
    key: i32,
    rows: &mut Vec<NoteRow>,
    buf: &mut Vec<u8>,
) -> FileRow {
    let mut row = FileRow {
        file: key,
        ..FileRow::default()
    };
    let mut map = None;
    let bytes = match load(source, buf, &mut map) {
        Ok(b) => b,
        Err(e) => {
            row.error = Some(format!("cannot open: {e}"));
            return row;
        }
    };
    let result = a.analyze(bytes);
    // A mapped file that shrank while it was read was read partly as zeros: a failed file.
    if let Some(Err(cut)) = map.as_ref().map(Input::check) {
        row.error = Some(cut.reason());
        return row;
    }
    if !a.warnings().is_empty() {
        let w: Vec<String> = a.warnings().iter().map(|w| w.to_string()).collect();
        row.warnings = Some(w.join("; "));
    }
    match result {
        Err(e) => row.error = Some(e.to_string()),
        Ok(f) => {
            row.format = Some(f.header.format);
            row.ppq = match f.header.division {
                super::Division::Ppq(p) => Some(p),
                super::Division::Smpte { .. } => None,
            };
            row.tracks = Some(f.tracks);
            row.notes = a.notes().len() as u64;
            row.duration_s = Some(f.duration_s);
            row.tempo_bpm_meta = f.tempo_bpm_meta;
            row.tempo_bpm_estimate = f.tempo_bpm_estimate;
            row.music = Some(f.music);
            row.note_density = (f.duration_s > 0.0).then(|| row.notes as f64 / f.duration_s);
            rows.extend(
                a.notes()
                    .iter()
                    .zip(a.onset_s().iter().zip(a.duration_s()))
                    .map(|(n, (&on, &d))| NoteRow {
                        file: key,
                        track: n.track,
                        channel: n.channel,
                        pitch: n.pitch,
                        velocity: n.velocity,
                        onset_tick: n.onset_tick,
                        offset_tick: n.offset_tick,
                        onset_s: on,
                        duration_s: d,
                        program: n.program,
                    }),
            );
        }
    }
    row
}

/// Reads many MIDI files into the `notes` table (an iterator of batches, in sorted path order)
/// and the `files` table ([`Reader::files`]).
///
/// ```no_run
/// use rawarrow::midi::Reader;
/// let mut reader = Reader::builder().threads(2).build(&["songs/"])?;
/// for batch in &mut reader {
///     let batch = batch?;
///     println!("{} notes", batch.num_rows());
/// }
/// let files = reader.files(); // one row per file, `error` set for corrupt ones
/// println!("{} files, {} failed", files.num_rows(), reader.summary().failed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader {
    paths: Arc<[PathBuf]>,
    dictionary: ArrayRef,
    pool: Ordered<Range<usize>, (RecordBatch, Vec<FileRow>)>,
    files_per_batch: usize,
    next_file: usize,
    files: Vec<FileRow>,
    summary: Summary,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("files", &self.paths.len())
            .field("summary", &self.summary)
            .finish()
    }
}

impl Reader {
    /// A builder with default settings.
    pub fn builder() -> ReaderBuilder {
        ReaderBuilder::default()
    }

    /// The files being read, in output order.
    pub(crate) fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Counts so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The `files` table of the files whose notes have been yielded so far (all files once the
    /// iterator is exhausted).
    pub fn files(&self) -> RecordBatch {
        files_batch(&self.files, &self.dictionary)
    }

    fn submit(&mut self) {
        while self.next_file < self.paths.len() && self.pool.has_room() {
            let end = (self.next_file + self.files_per_batch).min(self.paths.len());
            self.pool.submit(self.next_file..end);
            self.next_file = end;
        }
    }

    /// The next `notes` batch (batches of files without notes are skipped, their `files` rows
    /// are still recorded), or `None` when every file has been read.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, crate::Error> {
        self.next_notes().map_err(crate::Error::from)
    }

    fn next_notes(&mut self) -> Result<Option<RecordBatch>, Error> {
        while let Some((batch, files)) = self.next_rows()? {
            self.files.extend(files);
            if batch.num_rows() > 0 {
                return Ok(Some(batch));
            }
        }
        Ok(None)
    }

    /// The next job's `notes` batch (possibly empty) and its `files` rows (one per file of the
    /// job, the files table of docs/SCHEMAS.md), or `None` when every file has been read:
    /// what a sink that commits files and notes together (the PostgreSQL sink) needs.
    pub(crate) fn next_job(&mut self) -> Result<Option<(RecordBatch, RecordBatch)>, Error> {
        let Some((batch, files)) = self.next_rows()? else {
            return Ok(None);
        };
        let table = files_batch(&files, &self.dictionary);
        self.files.extend(files);
        Ok(Some((batch, table)))
    }

    fn next_rows(&mut self) -> Result<Option<(RecordBatch, Vec<FileRow>)>, Error> {
        self.submit();
        let Some(out) = self.pool.next_result() else {
            return Ok(None);
        };
        let (batch, files) = out.map_err(|_| Error::bare(ErrorKind::Worker(None)))?;
        self.summary.files += files.len() as u64;
        self.summary.failed += files.iter().filter(|f| f.error.is_some()).count() as u64;
        self.summary.warned += files.iter().filter(|f| f.warnings.is_some()).count() as u64;
        self.summary.notes += batch.num_rows() as u64;
        Ok(Some((batch, files)))
    }
}

impl Iterator for Reader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().map_err(ArrowError::from).transpose()
    }
}

impl RecordBatchReader for Reader {
    fn schema(&self) -> SchemaRef {
        super::notes_schema()
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn read_a_list() -> Result<(), Box<dyn std::error::Error>> {
        let list = b"songs/a.mid\r\n\nsongs/b.mid\n";
        let paths = crate::midi::read_list(&list[..])?;
        assert_eq!(
            paths,
            ["songs/a.mid", "songs/b.mid"].map(std::path::PathBuf::from)
        );
        Ok(())
    }
}
