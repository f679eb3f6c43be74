//! [`Reader`]: frames decoded in parallel on the pinned pool into arena-backed batches.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};

use super::blobs::Fetch;
use super::peaks::Shared;
use super::Error;
use crate::runtime::Ordered;

/// A job: frames (or precursors) by index, and their blobs being fetched.
pub(super) type Job = (Range<usize>, Fetch);

/// Which m/z and 1/K0 models to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Calibration {
    /// `Bruker` when `MzCalibration` and `TimsCalibration` exist, else `Estimate`.
    #[default]
    Auto,
    /// The instrument's models, per frame (an error when the tables are missing).
    Bruker,
    /// timsrust's boundary models from `GlobalMetadata`.
    Estimate,
}

/// Reads the peaks of a timsTOF `.d` folder as Arrow batches, in frame order.
///
/// ```no_run
/// use rawarrow::tdf::{Calibration, Reader};
/// let reader = Reader::builder()
///     .threads(2)
///     .ms_level(1)
///     .calibration(Calibration::Bruker)
///     .columns(&["frame", "mz", "mobility", "intensity"])?
///     .build("run.d")?;
/// for batch in reader {
///     println!("{} peaks", batch?.num_rows());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader {
    pub(super) shared: Arc<Shared>,
    pub(super) pool: Option<Ordered<Job, Result<RecordBatch, Error>>>,
    pub(super) jobs: Vec<Range<usize>>,
    pub(super) next_job: usize,
    pub(super) rows: u64,
    pub(super) failed: bool,
    pub(super) calibration: Calibration,
    pub(super) folder: std::path::PathBuf,
    pub(super) warnings: Vec<String>,
    /// The precursors or windows table, built at open and yielded once.
    pub(super) ready: Option<RecordBatch>,
    /// Rows to come in total (at most, for sliced peaks).
    pub(super) expected: u64,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("frames", &self.shared.frames.len())
            .field("rows", &self.rows)
            .finish()
    }
}

impl Reader {
    /// The warnings, handed over once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The calibration in use (`Auto` resolved).
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// The `.d` folder being read.
    pub(crate) fn folder(&self) -> &Path {
        &self.folder
    }

    /// Frames selected for reading (peaks table; after the rt slice).
    pub(crate) fn frames(&self) -> usize {
        self.shared.frames.len()
    }

    /// Frames decompressed so far (frames outside the rt slice never are).
    pub fn frames_decoded(&self) -> u64 {
        self.shared.decoded.load(Ordering::Relaxed)
    }

    /// The rows to come in total: the peaks the selected frames declare (`Frames.NumPeaks`; an
    /// upper bound when mobility or m/z slices drop peaks), or the precursors, spectra or
    /// windows.
    pub fn expected_rows(&self) -> u64 {
        self.expected
    }

    /// Rows yielded so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// The next batch, or `None` after the last one; the first error ends the reading.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, crate::Error> {
        self.next_typed().map_err(crate::Error::from)
    }

    fn next_typed(&mut self) -> Result<Option<RecordBatch>, Error> {
        if self.failed {
            return Ok(None);
        }
        if let Some(b) = self.ready.take() {
            self.rows += b.num_rows() as u64;
            return Ok(Some(b));
        }
        let Some(pool) = &mut self.pool else {
            return Ok(None);
        };
        while self.next_job < self.jobs.len() && pool.has_room() {
            // A remote run's job has its blobs on their way before a worker takes it.
            let job = self.jobs[self.next_job].clone();
            let fetch = self.shared.fetch(&job);
            pool.submit((job, fetch));
            self.next_job += 1;
        }
        match pool.next_result() {
            None => Ok(None),
            Some(Ok(Ok(b))) => {
                self.rows += b.num_rows() as u64;
                Ok(Some(b))
            }
            Some(Ok(Err(e))) => {
                self.failed = true;
                Err(e)
            }
            Some(Err(_)) => {
                self.failed = true;
                Err(Error::worker())
            }
        }
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
        self.shared.schema.clone()
    }
}
