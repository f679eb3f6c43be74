//! Mascot Generic Format for search engines that read MGF: one `BEGIN IONS … END IONS` block
//! per spectrum of the spectra table.
//!
//! ```text
//! BEGIN IONS
//! TITLE=run.d.precursor=42
//! PEPMASS=1481.955344327533 1159
//! CHARGE=2+
//! RTINSECONDS=0.565015
//! ION_MOBILITY=1.1275897147611063
//! SCANS=42
//! 174.0913 12
//! …
//! END IONS
//! ```
//!
//! `PEPMASS` is the monoisotopic m/z (else the largest peak's) and the precursor's intensity when
//! known; `CHARGE` is left out when the instrument did not assign one. Numbers are written in
//! their shortest form that reads back to the same `f64`.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt8Type};
use arrow_array::{Array, RecordBatch};

/// Writes spectra batches (every column of [`SPECTRUM_COLUMNS`](super::SPECTRUM_COLUMNS) that
/// MGF needs) as MGF text.
#[derive(Debug)]
pub(crate) struct MgfWriter<W: Write> {
    out: W,
    run: String,
    spectra: u64,
}

/// The columns an MGF block is made of.
pub(crate) const MGF_COLUMNS: &[&str] = &[
    "precursor",
    "rt",
    "mz_monoisotopic",
    "mz_largest_peak",
    "charge",
    "precursor_intensity",
    "mobility",
    "mz",
    "intensity",
];

impl<W: Write> MgfWriter<W> {
    /// A writer of the spectra of run `run` (named in each `TITLE`) into `out`.
    pub(crate) fn new(out: W, run: impl Into<String>) -> Self {
        Self {
            out,
            run: run.into(),
            spectra: 0,
        }
    }

    /// Writes the spectra of `batch`; a batch without one of [`MGF_COLUMNS`] is an
    /// `InvalidInput` error.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> std::io::Result<()> {
        let col = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "MGF needs the spectra table's {name} column (MGF uses {})",
                        MGF_COLUMNS.join(",")
                    ),
                )
            })
        };
        let id = col("precursor")?.as_primitive::<UInt32Type>();
        let rt = col("rt")?.as_primitive::<Float64Type>();
        let mono = col("mz_monoisotopic")?.as_primitive::<Float64Type>();
        let largest = col("mz_largest_peak")?.as_primitive::<Float64Type>();
        let charge = col("charge")?.as_primitive::<UInt8Type>();
        let intensity = col("precursor_intensity")?.as_primitive::<Float64Type>();
        let mobility = col("mobility")?.as_primitive::<Float64Type>();
        let mz = col("mz")?.as_list::<i32>();
        let peaks = col("intensity")?.as_list::<i32>();
        let mut text = Vec::with_capacity(1 << 16);
        for i in 0..batch.num_rows() {
            text.clear();
            let pepmass = if mono.is_valid(i) {
                mono.value(i)
            } else {
                largest.value(i)
            };
            let _ = writeln!(text, "BEGIN IONS");
            let _ = writeln!(text, "TITLE={}.precursor={}", self.run, id.value(i));
            if intensity.is_valid(i) {
                let _ = writeln!(text, "PEPMASS={pepmass} {}", intensity.value(i));
            } else {
                let _ = writeln!(text, "PEPMASS={pepmass}");
            }
            if charge.is_valid(i) {
                let _ = writeln!(text, "CHARGE={}+", charge.value(i));
            }
            let _ = writeln!(text, "RTINSECONDS={}", rt.value(i));
            let _ = writeln!(text, "ION_MOBILITY={}", mobility.value(i));
            let _ = writeln!(text, "SCANS={}", id.value(i));
            let (m, p) = (mz.value(i), peaks.value(i));
            let (m, p) = (
                m.as_primitive::<Float64Type>(),
                p.as_primitive::<Float64Type>(),
            );
            for (a, b) in m.values().iter().zip(p.values().iter()) {
                let _ = writeln!(text, "{a} {b}");
            }
            let _ = writeln!(text, "END IONS\n");
            self.out.write_all(&text)?;
            self.spectra += 1;
        }
        Ok(())
    }

    /// Flushes and hands back the destination.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
