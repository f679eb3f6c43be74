//! MIDI as a format of the stream: its options, a reader of the `notes` or the `files` table as
//! a [`Source`], its splits (lists of files), and its registration.

use std::path::PathBuf;

use arrow_array::RecordBatch;

use super::{KeyProfile, Reader};
use crate::format::{at_least_one, kernels_env, Format, Kind, Progress, Source, Split};
use crate::Error;

/// MIDI's registration: Standard MIDI Files, and folders walked for them; splits of so many
/// files.
pub(crate) const FORMAT: Format = Format {
    name: "midi",
    reads: |kind| matches!(kind, Kind::Smf | Kind::Folder),
    plan,
};

/// The table a MIDI stream yields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MidiTable {
    /// One row per note ([`notes_schema`](super::notes_schema)).
    #[default]
    Notes,
    /// One row per file (the files table of docs/SCHEMAS.md), yielded as one batch once every file is read.
    Files,
}

impl std::str::FromStr for MidiTable {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "notes" => Ok(Self::Notes),
            "files" => Ok(Self::Files),
            _ => Err(Error::usage(format!(
                "unknown MIDI table {s:?}; the tables are notes, files"
            ))),
        }
    }
}

/// Options of [`BatchStream::midi`](crate::stream::BatchStream::midi).
#[derive(Debug, Clone)]
pub struct MidiOptions {
    /// The table to yield.
    pub table: MidiTable,
    /// Worker threads (`None`: the cores this process may use).
    pub threads: Option<usize>,
    /// Files per job and per `notes` batch (`None`: 256).
    pub files_per_batch: Option<usize>,
    /// Onset detection: notes with velocity at or below this are ignored.
    pub velocity_threshold: u8,
    /// Onset detection: notes within this many milliseconds of an onset join it.
    pub merge_window_ms: f64,
    /// Key profile of `files.key_estimate`.
    pub key_profile: KeyProfile,
    /// Settings of inputs given as URLs (as [`BamOptions::storage_options`](super::super::stream::BamOptions)):
    /// a URL ending in `/` is every MIDI object under that prefix, other URLs are files.
    pub storage_options: Vec<(String, String)>,
}

impl Default for MidiOptions {
    fn default() -> Self {
        let onsets = super::OnsetOptions::default();
        Self {
            table: MidiTable::Notes,
            threads: None,
            files_per_batch: None,
            velocity_threshold: onsets.velocity_threshold,
            merge_window_ms: onsets.merge_window_s * 1000.0,
            key_profile: KeyProfile::default(),
            storage_options: Vec::new(),
        }
    }
}

/// Opens exactly these MIDI files, in this order, as a stream's source (no folder is walked; a
/// file that cannot be read is a `files` row with `error` set).
pub(crate) fn open(paths: Vec<PathBuf>, options: &MidiOptions) -> Result<MidiSource, Error> {
    let reader = builder(options)?.build_paths(paths)?;
    Ok(MidiSource::new(reader, options))
}

/// Reads these inputs (streams read whole, files, bytes in memory) as [`open`] reads paths.
pub(crate) fn open_inputs(
    inputs: Vec<crate::io::Input>,
    options: &MidiOptions,
) -> Result<MidiSource, Error> {
    let reader = builder(options)?.build_inputs(inputs)?;
    Ok(MidiSource::new(reader, options))
}

/// The reader's settings from `options`, checked.
fn builder(options: &MidiOptions) -> Result<super::ReaderBuilder, Error> {
    kernels_env()?;
    let ms = options.merge_window_ms;
    if !(ms.is_finite() && ms >= 0.0) {
        return Err(Error::usage(format!(
            "merge_window_ms {ms}: expected a finite number >= 0"
        )));
    }
    let mut b = Reader::builder()
        .onsets(super::OnsetOptions {
            velocity_threshold: options.velocity_threshold,
            merge_window_s: ms / 1000.0,
        })
        .key_profile(options.key_profile)
        .storage(&options.storage_options);
    if let Some(t) = at_least_one("threads", options.threads)? {
        b = b.threads(t);
    }
    if let Some(n) = options.files_per_batch {
        if n == 0 {
            return Err(Error::usage("files_per_batch must be at least 1"));
        }
        b = b.files_per_batch(n);
    }
    Ok(b)
}

impl MidiSource {
    fn new(reader: Reader, options: &MidiOptions) -> Self {
        Self {
            reader,
            table: options.table,
            files_done: false,
            jobs: None,
        }
    }
}

/// The `notes` or the `files` table of a list of files.
pub(crate) struct MidiSource {
    reader: Reader,
    table: MidiTable,
    files_done: bool,
    /// The `files` rows of the jobs read since the last [`Source::take_job_files`], kept once
    /// it was first called.
    jobs: Option<Vec<RecordBatch>>,
}

impl MidiSource {
    /// The schema of every batch.
    pub(crate) fn schema(&self) -> arrow_schema::SchemaRef {
        match self.table {
            MidiTable::Notes => super::notes_schema(),
            MidiTable::Files => super::files_schema(),
        }
    }
}

impl Source for MidiSource {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        match (self.table, &mut self.jobs) {
            (MidiTable::Notes, Some(jobs)) => {
                while let Some((notes, files)) = self.reader.next_job()? {
                    jobs.push(files);
                    if notes.num_rows() > 0 {
                        return Ok(Some(notes));
                    }
                }
                Ok(None)
            }
            (MidiTable::Notes, None) => self.reader.next_batch(),
            (MidiTable::Files, _) => {
                if self.files_done {
                    return Ok(None);
                }
                while self.reader.next_batch()?.is_some() {}
                self.files_done = true;
                Ok(Some(self.reader.files()))
            }
        }
    }

    fn progress(&self) -> Progress {
        let s = self.reader.summary();
        Progress {
            rows: match self.table {
                MidiTable::Notes => s.notes,
                MidiTable::Files => s.files,
            },
            done: s.files,
            total: self.reader.paths().len() as u64,
            unit: "files",
            blocks: s.files,
        }
    }

    fn inputs(&self) -> Vec<PathBuf> {
        self.reader.paths().to_vec()
    }

    fn table(&self) -> &'static str {
        match self.table {
            MidiTable::Notes => "notes",
            MidiTable::Files => "files",
        }
    }

    fn run_path(&self) -> Option<PathBuf> {
        self.reader.paths().first().cloned()
    }

    fn summary_line(&self, seconds: f64, _input_bytes: u64) -> String {
        let (s, secs) = (self.reader.summary(), seconds.max(1e-9));
        format!(
            "{} files ({} failed, {} with warnings), {} notes in {seconds:.3} s: \
             {:.0} files/s, {:.0} notes/s",
            s.files,
            s.failed,
            s.warned,
            s.notes,
            s.files as f64 / secs,
            s.notes as f64 / secs
        )
    }

    fn take_job_files(&mut self) -> Vec<RecordBatch> {
        match self.table {
            MidiTable::Notes => std::mem::take(self.jobs.get_or_insert_with(Vec::new)),
            MidiTable::Files => Vec::new(),
        }
    }

    fn companion(&self) -> Option<RecordBatch> {
        Some(self.reader.files())
    }
}

/// The MIDI files of `paths` (folders walked as a stream walks them, sorted) in groups of
/// `files_per_split`.
fn plan(
    paths: &[PathBuf],
    files_per_split: u64,
    storage: &[(String, String)],
) -> Result<Vec<Split>, Error> {
    let files_per_split = usize::try_from(files_per_split).unwrap_or(usize::MAX);
    if files_per_split == 0 {
        return Err(Error::usage("files_per_split must be at least 1"));
    }
    // (A URL's size is not asked for: 0 in the estimate.)
    let files = super::reader::list(paths, storage)?;
    Ok(files
        .chunks(files_per_split)
        .map(|c| Split::Midi {
            bytes: c
                .iter()
                .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
                .sum(),
            paths: c.to_vec(),
        })
        .collect())
}
