//! A generator of realistic diaPASEF and ddaPASEF `.d` folders for benchmarks and tests.
//!
//! The layout is the instrument's: `analysis.tdf` with `GlobalMetadata`, `Frames` (every column
//! timsrust and rawarrow read), `MzCalibration` (ModelType 1, coefficients of a real run),
//! `TimsCalibration` (ModelType 2), `DiaFrameMsMsInfo` and `DiaFrameMsMsWindows` (DIA) or
//! `Precursors` and `PasefFrameMsMsInfo` (DDA); and `analysis.tdf_bin` with one zstd blob per
//! frame in the TimsCompressionType 2 layout. One frame in `ms1_every` is MS1; in DIA the others
//! cycle through the window groups, in DDA each MS1 frame picks `scans / 40` precursors (at most
//! 12) at disjoint scan ranges and every MS2 frame up to the next MS1 frame isolates all of them,
//! as a PASEF cycle does. Peaks follow
//! what real frames show: more of them in the middle of the mobility ramp (a bell over the
//! scans), sorted TOF indices with geometric gaps inside each scan, and intensities that are
//! mostly small counts with a heavy tail. Deterministic for a given seed.

use std::io::Write;
use std::path::Path;

use rusqlite::{params, Connection};

use super::Error;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Frames.
    pub frames: u32,
    /// Scans per frame.
    pub scans: u32,
    /// Mean peaks per frame.
    pub peaks_per_frame: u32,
    /// Every `ms1_every`-th frame (the first one included) is MS1.
    pub ms1_every: u32,
    /// DIA window groups (MS2 frames cycle through them).
    pub window_groups: u32,
    /// Random seed.
    pub seed: u64,
    /// ddaPASEF (precursors) instead of diaPASEF (window groups).
    pub dda: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            frames: 1000,
            scans: 918,
            peaks_per_frame: 100_000,
            ms1_every: 10,
            window_groups: 8,
            seed: 1,
            dda: false,
        }
    }
}

/// TOF indices span this many samples (DigitizerNumSamples).
pub(crate) const NUM_SAMPLES: u32 = 400_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn io_err(dir: &Path, e: impl std::fmt::Display) -> Error {
    Error::open(dir.to_path_buf(), e.to_string())
}

/// Writes a `.d` folder at `dir` (created; existing files are replaced) and returns the number of
/// peaks written.
pub fn write(dir: &Path, spec: &Spec) -> Result<u64, crate::Error> {
    write_run(dir, spec).map_err(crate::Error::from)
}

fn write_run(dir: &Path, spec: &Spec) -> Result<u64, Error> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let tdf = dir.join("analysis.tdf");
    let _ = std::fs::remove_file(&tdf);
    let sql = |e: rusqlite::Error| io_err(&tdf, e);
    let mut conn = Connection::open(&tdf).map_err(sql)?;
    conn.execute_batch(
        "CREATE TABLE GlobalMetadata (Key TEXT PRIMARY KEY, Value TEXT);
         CREATE TABLE Frames (Id INTEGER PRIMARY KEY, Time REAL, Polarity TEXT, ScanMode INTEGER,
           MsMsType INTEGER, TimsId INTEGER, MaxIntensity INTEGER, SummedIntensities INTEGER,
           NumScans INTEGER, NumPeaks INTEGER, MzCalibration INTEGER, T1 REAL, T2 REAL,
           TimsCalibration INTEGER, PropertyGroup INTEGER, AccumulationTime REAL, RampTime REAL);
         CREATE TABLE MzCalibration (Id INTEGER PRIMARY KEY, ModelType INTEGER,
           DigitizerTimebase REAL, DigitizerDelay REAL, T1 REAL, T2 REAL, dC1 REAL, dC2 REAL,
           C0 REAL, C1 REAL, C2 REAL, C3 REAL, C4 REAL);
         CREATE TABLE TimsCalibration (Id INTEGER PRIMARY KEY, ModelType INTEGER, C0 REAL,
           C1 REAL, C2 REAL, C3 REAL, C4 REAL, C5 REAL, C6 REAL, C7 REAL, C8 REAL, C9 REAL);
         CREATE TABLE DiaFrameMsMsWindowGroups (Id INTEGER PRIMARY KEY);
         CREATE TABLE DiaFrameMsMsWindows (WindowGroup INTEGER, ScanNumBegin INTEGER,
           ScanNumEnd INTEGER, IsolationMz REAL, IsolationWidth REAL, CollisionEnergy REAL);
         CREATE TABLE DiaFrameMsMsInfo (Frame INTEGER PRIMARY KEY, WindowGroup INTEGER);
         CREATE TABLE Precursors (Id INTEGER PRIMARY KEY, LargestPeakMz REAL, AverageMz REAL,
           MonoisotopicMz REAL, Charge INTEGER, ScanNumber REAL, Intensity REAL,
           Parent INTEGER);
         CREATE TABLE PasefFrameMsMsInfo (Frame INTEGER, ScanNumBegin INTEGER,
           ScanNumEnd INTEGER, IsolationMz REAL, IsolationWidth REAL, CollisionEnergy REAL,
           Precursor INTEGER, PRIMARY KEY (Frame, ScanNumBegin));",
    )
    .map_err(sql)?;
    let tx = conn.transaction().map_err(sql)?;
    let scans = spec.scans.max(2);
    for (k, v) in [
        ("SchemaType", "TDF".to_string()),
        ("TimsCompressionType", "2".into()),
        ("DigitizerNumSamples", NUM_SAMPLES.to_string()),
        ("MzAcqRangeLower", "100.000000".into()),
        ("MzAcqRangeUpper", "1700.000000".into()),
        ("OneOverK0AcqRangeLower", "0.600000".into()),
        ("OneOverK0AcqRangeUpper", "1.600000".into()),
        ("AcquisitionSoftware", "timsTOF".into()),
        ("SampleName", format!("rawarrow synth seed {}", spec.seed)),
    ] {
        tx.execute("INSERT INTO GlobalMetadata VALUES (?1, ?2)", params![k, v])
            .map_err(sql)?;
    }
    // The calibrations of a real run (DDPASEF_10seconds.d).
    tx.execute(
        "INSERT INTO MzCalibration VALUES (1, 1, 0.2, 25687.6, 25.84516568311012, \
         27.42610203195191, 20.0, 0.0, 323.0799471916107, 155432.66591206135, 0, 0, 0)",
        [],
    )
    .map_err(sql)?;
    tx.execute(
        "INSERT INTO TimsCalibration VALUES (1, 2, 1, ?1, 173.77261506050363, \
         91.09081367147019, 33.333333333333336, 1, 0.01211464733299413, 131.56604840664343, \
         13.059915876294479, 2205.4837699871955)",
        params![f64::from(scans - 1)],
    )
    .map_err(sql)?;
    let groups = spec.window_groups.max(1);
    for g in (1..=groups).filter(|_| !spec.dda) {
        tx.execute(
            "INSERT INTO DiaFrameMsMsWindowGroups VALUES (?1)",
            params![g],
        )
        .map_err(sql)?;
        // Two windows per group, splitting the ramp.
        for (i, (b, e)) in [(0, scans / 2), (scans / 2, scans)].into_iter().enumerate() {
            let mz = 400.0 + 25.0 * f64::from(g - 1) + 400.0 * i as f64;
            tx.execute(
                "INSERT INTO DiaFrameMsMsWindows VALUES (?1, ?2, ?3, ?4, 25.0, 30.0)",
                params![g, b, e, mz],
            )
            .map_err(sql)?;
        }
    }

    let bin_path = dir.join("analysis.tdf_bin");
    let file = std::fs::File::create(&bin_path).map_err(|e| io_err(&bin_path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut zstd = zstd::bulk::Compressor::new(1).map_err(|e| io_err(&bin_path, e))?;
    let mut rng = Rng(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (mut offset, mut total) = (0u64, 0u64);
    let mut counts = vec![0u32; scans as usize];
    let mut words: Vec<u32> = Vec::new();
    let mut planes: Vec<u8> = Vec::new();
    // DDA: the precursors of the current cycle, (id, scan begin, scan end, isolation m/z).
    let mut cycle: Vec<(u32, u32, u32, f64)> = Vec::new();
    let mut next_precursor = 1u32;
    for f in 1..=spec.frames {
        let ms1 = (f - 1) % spec.ms1_every.max(1) == 0;
        // MS2 frames hold fewer peaks, as on the instrument.
        let mean = f64::from(spec.peaks_per_frame) * if ms1 { 1.6 } else { 0.9 };
        // Peaks per scan: a bell over the mobility ramp, with noise.
        let centre = f64::from(scans) * (0.45 + 0.1 * rng.unit());
        let width = f64::from(scans) * 0.22;
        let weights: Vec<f64> = (0..scans)
            .map(|s| {
                let z = (f64::from(s) - centre) / width;
                (-0.5 * z * z).exp() * (0.5 + rng.unit())
            })
            .collect();
        let wsum: f64 = weights.iter().sum();
        let mut peaks = 0u64;
        for (c, w) in counts.iter_mut().zip(&weights) {
            *c = (mean * w / wsum).round() as u32;
            peaks += u64::from(*c);
        }
        words.clear();
        words.push(scans);
        words.extend(counts[..scans as usize - 1].iter().map(|&c| 2 * c));
        let (mut max_int, mut sum_int) = (0u64, 0u64);
        for &c in &counts {
            if c == 0 {
                continue;
            }
            // Geometric gaps that spread the scan's peaks over the TOF range.
            let mean_gap = f64::from(NUM_SAMPLES - 1) / (f64::from(c) + 1.0);
            let mut tof = 0u32;
            for k in 0..c {
                let gap = (1.0 + (-rng.unit().max(1e-12).ln()) * (mean_gap - 1.0)).max(1.0) as u32;
                // Every index stays below DigitizerNumSamples, with room for the peaks left.
                let room = (NUM_SAMPLES - 2 - (c - 1 - k)).saturating_sub(tof);
                let gap = gap.min(room).max(1);
                tof += gap;
                // Mostly small counts, a heavy tail.
                let u = rng.unit().max(1e-12);
                let intensity = (10.0 * u.powf(-0.8)).min(1e6) as u32;
                max_int = max_int.max(u64::from(intensity));
                sum_int += u64::from(intensity);
                words.push(gap);
                words.push(intensity);
            }
        }
        let n = words.len();
        planes.clear();
        planes.resize(4 * n, 0);
        for (i, w) in words.iter().enumerate() {
            for b in 0..4 {
                planes[b * n + i] = (w >> (8 * b)) as u8;
            }
        }
        let z = zstd.compress(&planes).map_err(|e| io_err(&bin_path, e))?;
        let size = 8 + z.len() as u32;
        out.write_all(&size.to_le_bytes())
            .and_then(|_| out.write_all(&scans.to_le_bytes()))
            .and_then(|_| out.write_all(&z))
            .map_err(|e| io_err(&bin_path, e))?;
        let msms = match (ms1, spec.dda) {
            (true, _) => 0,
            (false, true) => 8,
            (false, false) => 9,
        };
        tx.execute(
            "INSERT INTO Frames VALUES (?1, ?2, '+', ?9, ?3, ?4, ?5, ?6, ?7, ?8, 1, 25.84, 27.0, \
             1, 1, 100.0, 100.0)",
            params![
                f,
                0.1 * f64::from(f),
                msms,
                offset as i64,
                max_int as i64,
                sum_int as i64,
                scans,
                peaks as i64,
                // ScanMode: the acquisition (timsrust tells DDA from DIA by it).
                if spec.dda { 8 } else { 9 }
            ],
        )
        .map_err(sql)?;
        if spec.dda && ms1 {
            cycle.clear();
            let n = (scans / 40).clamp(1, 12);
            for j in 0..n {
                let (b, e) = (j * scans / n + 2, (j + 1) * scans / n - 2);
                let mono = 300.0 + 1200.0 * rng.unit();
                let charge = 1 + (rng.next() % 4) as i64;
                // One precursor in seven without an isotope pattern, as the instrument writes.
                let (mono_v, charge_v) = if next_precursor.is_multiple_of(7) {
                    (None, None)
                } else {
                    (Some(mono), Some(charge))
                };
                let largest = mono + 1.003_355 / charge as f64 * (rng.next() % 3) as f64;
                tx.execute(
                    "INSERT INTO Precursors VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        next_precursor,
                        largest,
                        largest + 0.3,
                        mono_v,
                        charge_v,
                        f64::from(b + e) / 2.0 + rng.unit() - 0.5,
                        (1000.0 + 1e5 * rng.unit()).round(),
                        f
                    ],
                )
                .map_err(sql)?;
                cycle.push((next_precursor, b, e, largest + 0.5));
                next_precursor += 1;
            }
        }
        if spec.dda && !ms1 {
            for &(id, b, e, mz) in &cycle {
                tx.execute(
                    "INSERT INTO PasefFrameMsMsInfo VALUES (?1, ?2, ?3, ?4, 2.0, ?5, ?6)",
                    params![f, b, e, mz, 20.0 + mz / 50.0, id],
                )
                .map_err(sql)?;
            }
        }
        if !ms1 && !spec.dda {
            let g = 1 + (f - 1) % groups;
            tx.execute(
                "INSERT INTO DiaFrameMsMsInfo VALUES (?1, ?2)",
                params![f, g],
            )
            .map_err(sql)?;
        }
        offset += u64::from(size);
        total += peaks;
    }
    out.flush().map_err(|e| io_err(&bin_path, e))?;
    tx.commit().map_err(sql)?;
    Ok(total)
}
