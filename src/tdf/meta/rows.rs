//! The rows the reader keeps from `analysis.tdf`.

/// One row of `Frames`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FrameRow {
    /// Frame id (1-based).
    pub(crate) id: u32,
    /// Retention time in seconds.
    pub(crate) time: f64,
    /// 0 MS1, 2 MS/MS, 8 ddaPASEF, 9 diaPASEF, 10 PRM.
    pub(crate) msms_type: u8,
    /// Byte offset of the frame blob in `analysis.tdf_bin`.
    pub(crate) tims_id: u64,
    /// Scans in the frame.
    pub(crate) num_scans: u32,
    /// Peaks in the frame.
    pub(crate) num_peaks: u64,
    /// `MzCalibration` row id, T1, T2 (absent in files without calibration tables).
    pub(crate) mz_calibration: Option<(i64, f64, f64)>,
    /// `TimsCalibration` row id.
    pub(crate) tims_calibration: Option<i64>,
}

/// A DIA isolation window: scans `[scan_begin, scan_end)` of the frames of a window group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Window {
    /// First scan.
    pub(crate) scan_begin: u32,
    /// One past the last scan.
    pub(crate) scan_end: u32,
    /// Isolation m/z.
    pub(crate) isolation_mz: f64,
    /// Isolation width.
    pub(crate) isolation_width: f64,
    /// Window group (DIA) or precursor id (DDA).
    pub(crate) group: u32,
}

/// One row of `Precursors` (ddaPASEF): an ion the instrument picked in an MS1 frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PrecursorRow {
    /// `Id`.
    pub(crate) id: u32,
    /// `Parent`: the MS1 frame it was found in.
    pub(crate) parent: u32,
    /// `MonoisotopicMz` (NULL when no isotope pattern was found).
    pub(crate) mz_monoisotopic: Option<f64>,
    /// `LargestPeakMz`.
    pub(crate) mz_largest_peak: f64,
    /// `AverageMz`.
    pub(crate) mz_average: Option<f64>,
    /// `Charge` (NULL when unknown).
    pub(crate) charge: Option<u8>,
    /// `ScanNumber`: the intensity-weighted mean scan, fractional.
    pub(crate) scan: f64,
    /// `Intensity`.
    pub(crate) intensity: Option<f64>,
}

/// One row of `PasefFrameMsMsInfo`: scans `[scan_begin, scan_end)` of an MS2 frame isolate one
/// precursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PasefRow {
    /// `Frame`.
    pub(crate) frame: u32,
    /// `Precursor`.
    pub(crate) precursor: u32,
    /// Scans, isolation window and collision energy.
    pub(crate) isolation: Isolation,
}

/// One row of `DiaFrameMsMsWindows`: scans `[scan_begin, scan_end)` of the frames of a window
/// group isolate one m/z window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DiaWindowRow {
    /// `WindowGroup`.
    pub(crate) group: u32,
    /// Scans, isolation window and collision energy.
    pub(crate) isolation: Isolation,
}

/// What both window tables say of a window: scans `[scan_begin, scan_end)` isolate
/// `isolation_mz ± isolation_width / 2` at a collision energy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Isolation {
    /// `ScanNumBegin`.
    pub(crate) scan_begin: u32,
    /// `ScanNumEnd` (exclusive).
    pub(crate) scan_end: u32,
    /// `IsolationMz`.
    pub(crate) isolation_mz: f64,
    /// `IsolationWidth`.
    pub(crate) isolation_width: f64,
    /// `CollisionEnergy` (eV; NaN when the column is absent or NULL).
    pub(crate) collision_energy: f64,
}

impl Window {
    pub(crate) fn new(group: u32, i: &Isolation) -> Self {
        Self {
            scan_begin: i.scan_begin,
            scan_end: i.scan_end,
            isolation_mz: i.isolation_mz,
            isolation_width: i.isolation_width,
            group,
        }
    }
}
