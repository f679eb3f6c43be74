//! Opening a `.d` run where it is: a local folder, or a URL prefix in an object store or behind
//! HTTP (`s3://bucket/run.d`, `https://host/run.d/`) whose two objects are `analysis.tdf` and
//! `analysis.tdf_bin` under it.
//!
//! SQLite reads files, so a remote `analysis.tdf` is fetched (by concurrent ranged requests)
//! into a private temporary file (`TMPDIR`, mode 0600), read whole into [`Metadata`], and removed
//! before the first frame is decoded — also when reading it fails or a signal stops the
//! process's conversion. `analysis.tdf_bin` is opened (one `HEAD`) and read by ranges, each job
//! fetching the blobs of its own frames (`blobs`).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::blobs::Bin;
use super::meta::Metadata;
use super::Error;
use crate::io::remote::{Feed, Fetch};
use crate::io::{is_url, Input};

/// A run's folder (a URL for a remote one: without a trailing `/`, user information or
/// query) and where its two files are.
#[derive(Debug)]
pub(super) struct Location {
    pub(super) folder: PathBuf,
    pub(super) tdf: PathBuf,
    pub(super) bin: PathBuf,
    remote: Option<(String, String)>,
}

impl Location {
    /// Where the files of the run at `dir` are.
    pub(super) fn of(dir: &Path) -> Self {
        let local = |dir: &Path| Self {
            folder: dir.to_path_buf(),
            tdf: dir.join("analysis.tdf"),
            bin: dir.join("analysis.tdf_bin"),
            remote: None,
        };
        let Some(url) = dir.to_str().filter(|_| is_url(dir)) else {
            return local(dir);
        };
        if let Some(path) = url.strip_prefix("file://") {
            return local(Path::new(path));
        }
        // A query (an Azure SAS token for the container) goes with each object's URL.
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (url, String::new()),
        };
        let base = base.trim_end_matches('/');
        let shown = crate::io::remote::redact(base);
        let shown = shown.trim_end_matches('/');
        Self {
            folder: PathBuf::from(shown),
            tdf: PathBuf::from(format!("{shown}/analysis.tdf")),
            bin: PathBuf::from(format!("{shown}/analysis.tdf_bin")),
            remote: Some((
                format!("{base}/analysis.tdf{query}"),
                format!("{base}/analysis.tdf_bin{query}"),
            )),
        }
    }

    /// Reads the metadata (the frames with `Time` in `time` when given; see
    /// [`Metadata::read_in`]) and opens the frame data, configured by `storage` when remote.
    pub(super) fn open(
        &self,
        storage: &[(String, String)],
        time: Option<(f64, f64)>,
    ) -> Result<(Metadata, Bin), Error> {
        let Some((tdf_url, bin_url)) = &self.remote else {
            self.check_local()?;
            let meta = Metadata::read_in(&self.tdf, time)?;
            let bin = Input::open(&self.bin)
                .map_err(|e| Error::open(self.bin.clone(), e.to_string()).caused_by(e))?;
            return Ok((meta, Bin::new(bin, self.bin.clone(), Vec::new())));
        };
        let open = |url: &str, shown: &Path| {
            Input::open_with(url, storage)
                .map_err(|e| Error::open(shown.to_path_buf(), reason(&e)).caused_by(e))
        };
        // Both objects are looked up before anything is fetched.
        let tdf = open(tdf_url, &self.tdf)?;
        let bin = open(bin_url, &self.bin)?;
        let (meta, starts) = self.fetch_metadata(&tdf, time)?;
        Ok((meta, Bin::new(bin, self.bin.clone(), starts)))
    }

    /// The local folder and its `analysis.tdf` exist.
    fn check_local(&self) -> Result<(), Error> {
        if !self.folder.is_dir() {
            return Err(Error::open(
                self.folder.clone(),
                "not a folder (a timsTOF .d folder is expected)",
            ));
        }
        if !self.tdf.is_file() {
            return Err(Error::open(self.tdf.clone(), "missing"));
        }
        Ok(())
    }

    /// A remote `analysis.tdf`, fetched into a private temporary file and read: the metadata,
    /// and where every frame's blob starts (also of frames outside `time`: a blob ends where
    /// the next one starts, so each job can fetch exactly its frames' bytes).
    fn fetch_metadata(
        &self,
        tdf: &Input,
        time: Option<(f64, f64)>,
    ) -> Result<(Metadata, Vec<u64>), Error> {
        let object = tdf.remote_object().expect("a remote run's input is remote");
        let local = |e: std::io::Error| {
            let message = format!("cannot write a temporary copy: {e}");
            Error::open(self.tdf.clone(), message).caused_by(e)
        };
        // Removed when dropped: on every return from here, and when a signal stops a
        // conversion (the process unwinds to its exit).
        let mut file = tempfile::Builder::new()
            .prefix(".rawarrow-")
            .suffix(".tdf")
            .tempfile()
            .map_err(local)?;
        let mut feed = Feed::new(object.clone(), 0, object.len(), Fetch::Ahead);
        let mut at = 0u64;
        loop {
            let piece = feed
                .next_piece(true)
                .expect("a waited-for piece is there")
                .map_err(|e| {
                    let message = e.to_string();
                    Error::read(self.tdf.clone(), at, message).caused_by(e)
                })?;
            if piece.is_empty() {
                break;
            }
            file.write_all(&piece).map_err(local)?;
            at += piece.len() as u64;
        }
        file.flush().map_err(local)?;
        let meta = Metadata::read_file_in(file.path(), &self.tdf, time)?;
        let starts = Metadata::blob_starts(file.path(), &self.tdf)?;
        Ok((meta, starts))
    }
}

/// An open error's message without the name it already carries (the reader's error names
/// the file).
fn reason(e: &crate::io::OpenError) -> String {
    let text = e.to_string();
    let name = e.path().display().to_string();
    match text.strip_prefix(&name) {
        Some(rest) => rest.trim_start_matches(':').trim_start().to_owned(),
        None => text,
    }
}
