//! `rawarrow tdf ...`

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};

use super::{progress_bar, Result};
use crate::tdf::{Calibration, Reader, Table};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Cal {
    Auto,
    Bruker,
    Estimate,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TableArg {
    /// One row per peak.
    Peaks,
    /// One row per ddaPASEF precursor.
    Precursors,
    /// One summed MS2 spectrum per ddaPASEF precursor.
    Spectra,
    /// One row per diaPASEF isolation window.
    Windows,
}

/// Reads a Bruker timsTOF `.d` folder (TimsCompressionType 2) into Arrow: one row per peak
/// (frame, scan, tof, intensity, mz, mobility (1/K0), rt, ms_level, window_group, isolation_mz,
/// isolation_width, precursor), or the precursors, spectra or windows table; `-o NAME.mgf`
/// writes the spectra as MGF.
#[derive(Debug, Args)]
pub(super) struct Tdf {
    /// The `.d` folder.
    input: PathBuf,
    /// Output file (`-` for standard output): Arrow IPC, IPC stream or Parquet by its name, or
    /// MGF (`.mgf`, the spectra table).
    #[arg(short, long)]
    output: PathBuf,
    /// The table: peaks (default), precursors and spectra (ddaPASEF), windows (diaPASEF).
    #[arg(long, value_enum)]
    table: Option<TableArg>,
    /// Only frames (or precursors) with retention times in LOW:HIGH seconds, inclusive; other
    /// frames are never decompressed.
    #[arg(long, value_name = "LOW:HIGH")]
    rt: Option<String>,
    /// Only scans (or precursors) with 1/K0 in LOW:HIGH, inclusive.
    #[arg(long, value_name = "LOW:HIGH")]
    mobility: Option<String>,
    /// Only peaks (or precursors) with m/z in LOW:HIGH, inclusive.
    #[arg(long, value_name = "LOW:HIGH")]
    mz: Option<String>,
    /// Spectra smoothed and centroided over WINDOW TOF indices as timsrust does (its default
    /// is 1); without it, the summed raw peaks.
    #[arg(long, value_name = "WINDOW")]
    centroid: Option<u32>,
    /// Worker threads for reading and for encoding the output (with more than one, a writer
    /// thread writes it; default: the cores available).
    #[arg(short, long, value_parser = super::at_least_one)]
    threads: Option<usize>,
    /// Only frames of this MS level.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    ms_level: Option<u8>,
    /// Only frames with ids in FIRST..=LAST.
    #[arg(long, value_name = "FIRST:LAST")]
    frames: Option<String>,
    /// m/z and 1/K0 models: the instrument's (`bruker`, the default when the calibration tables
    /// exist) or timsrust's boundary models (`estimate`).
    #[arg(long, value_enum, default_value = "auto")]
    calibration: Cal,
    /// Only these columns (comma-separated; kept in schema order).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Target rows per batch (whole frames).
    #[arg(long, default_value_t = 1 << 18, value_parser = super::at_least_one)]
    batch_rows: usize,
    #[command(flatten)]
    ipc: super::IpcOptions,
}

/// `LOW:HIGH` as two numbers.
fn range(option: &str, text: &str) -> Result<(f64, f64)> {
    let bad = || {
        crate::stream::Error::new(
            crate::stream::ErrorKind::Usage,
            format!("--{option} {text:?}: expected LOW:HIGH, e.g. 400:410.5"),
        )
    };
    let (a, z) = text.split_once(':').ok_or_else(bad)?;
    Ok((
        a.trim().parse().map_err(|_| bad())?,
        z.trim().parse().map_err(|_| bad())?,
    ))
}

pub(super) fn run(args: Tdf) -> Result {
    let started = Instant::now();
    let mgf = args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mgf"));
    let table = match (args.table, mgf) {
        (None, true) | (Some(TableArg::Spectra), _) => Table::Spectra,
        (Some(t), true) => {
            return Err(crate::stream::Error::new(
                crate::stream::ErrorKind::Usage,
                format!(
                    "-o {}: MGF holds spectra, not {}",
                    args.output.display(),
                    format!("{t:?}").to_lowercase()
                ),
            )
            .into())
        }
        (None, false) | (Some(TableArg::Peaks), _) => Table::Peaks,
        (Some(TableArg::Precursors), _) => Table::Precursors,
        (Some(TableArg::Windows), _) => Table::Windows,
    };
    let mut b = Reader::builder()
        .table(table)
        .batch_rows(args.batch_rows)
        .calibration(match args.calibration {
            Cal::Auto => Calibration::Auto,
            Cal::Bruker => Calibration::Bruker,
            Cal::Estimate => Calibration::Estimate,
        });
    if let Some(t) = args.threads {
        b = b.threads(t);
    }
    if let Some(l) = args.ms_level {
        b = b.ms_level(l);
    }
    if let Some(f) = &args.frames {
        let bad = || format!("--frames {f:?}: expected FIRST:LAST, e.g. 1:100");
        let (a, z) = f.split_once(':').ok_or_else(bad)?;
        let (first, last): (u32, u32) = (
            a.trim().parse().map_err(|_| bad())?,
            z.trim().parse().map_err(|_| bad())?,
        );
        if first > last {
            return Err(crate::stream::Error::new(
                crate::stream::ErrorKind::Usage,
                format!("--frames {f}: the first frame id is after the last"),
            )
            .into());
        }
        b = b.frame_range(first, last);
    }
    if let Some(c) = &args.columns {
        b = b.columns(c).map_err(crate::stream::Error::from)?;
    }
    let usage = crate::stream::Error::from;
    if let Some(r) = &args.rt {
        let (lo, hi) = range("rt", r)?;
        b = b.rt(lo, hi).map_err(usage)?;
    }
    if let Some(r) = &args.mobility {
        let (lo, hi) = range("mobility", r)?;
        b = b.mobility(lo, hi).map_err(usage)?;
    }
    if let Some(r) = &args.mz {
        let (lo, hi) = range("mz", r)?;
        b = b.mz(lo, hi).map_err(usage)?;
    }
    if let Some(w) = args.centroid {
        if table != Table::Spectra {
            return Err(crate::stream::Error::new(
                crate::stream::ErrorKind::Usage,
                "--centroid applies to the spectra table (--table spectra or -o NAME.mgf)",
            )
            .into());
        }
        b = b.centroid(w);
    }
    let inputs = [
        args.input.join("analysis.tdf"),
        args.input.join("analysis.tdf_bin"),
    ];
    crate::convert::check_output(&args.output, &inputs)?;
    if mgf {
        return write_mgf(&args, b, started);
    }
    args.ipc.format(&args.output)?;
    let mut stats = args.ipc.recorder();
    let mut reader = b.build(&args.input)?;
    for w in reader.warnings() {
        eprintln!("rawarrow: warning: {}: {w}", args.input.display());
    }
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let mut sink = args.ipc.sink(&args.output, &schema, args.threads)?;
    let total = reader.expected_rows();
    let bar = progress_bar(
        total,
        "{bar:40} {pos}/{len} rows {per_sec} ETA {eta}",
        args.ipc.quiet,
    );
    stats.pump(
        &mut reader,
        |r| Ok(r.next_batch()?),
        |r, batch| {
            sink.write(&batch)?;
            if let Some(bar) = &bar {
                bar.set_position(r.rows());
            }
            Ok(())
        },
    )?;
    sink.finish()?;
    let input_bytes = inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let path = args.ipc.stats.clone();
    stats.write(path.as_deref(), reader.rows(), input_bytes, &args.output)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if !args.ipc.quiet {
        let secs = started.elapsed().as_secs_f64();
        if table == Table::Peaks {
            eprintln!(
                "rawarrow: {} frames, {} peaks in {secs:.3} s: {:.0} peaks/s ({:?} calibration)",
                reader.frames(),
                reader.rows(),
                reader.rows() as f64 / secs,
                reader.calibration()
            );
        } else {
            eprintln!(
                "rawarrow: {} {} rows in {secs:.3} s ({:?} calibration)",
                reader.rows(),
                table.name(),
                reader.calibration()
            );
        }
    }
    Ok(())
}

/// The spectra as MGF, into a temporary file renamed to the output once complete.
fn write_mgf(args: &Tdf, b: crate::tdf::ReaderBuilder, started: Instant) -> Result {
    if args.columns.is_some() {
        return Err(crate::stream::Error::new(
            crate::stream::ErrorKind::Usage,
            "--columns does not apply to MGF output (MGF takes what it needs)",
        )
        .into());
    }
    let mut reader = b.build(&args.input)?;
    for w in reader.warnings() {
        eprintln!("rawarrow: warning: {}: {w}", args.input.display());
    }
    let dest = (args.output != std::path::Path::new("-")).then_some(args.output.as_path());
    let mut out = super::Output::create(dest)?;
    let run = args
        .input
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let name = args.output.display().to_string();
    let mut mgf = crate::tdf::mgf::MgfWriter::new(
        std::io::BufWriter::with_capacity(1 << 20, out.writer()),
        run,
    );
    while let Some(batch) = reader.next_batch()? {
        super::check_signal()?;
        mgf.write(&batch).map_err(|e| format!("{name}: {e}"))?;
    }
    let spectra = mgf.spectra();
    mgf.finish().map_err(|e| format!("{name}: {e}"))?;
    out.finish()?;
    if !args.ipc.quiet {
        eprintln!(
            "rawarrow: {spectra} spectra to {name} in {:.3} s ({:?} calibration)",
            started.elapsed().as_secs_f64(),
            reader.calibration()
        );
    }
    Ok(())
}

/// Writes a synthetic diaPASEF (or, with --dda, ddaPASEF) `.d` folder for benchmarks (realistic peak distributions, zstd
/// frames like the instrument's, real calibration tables); timsrust reads it too.
#[derive(Debug, Args)]
pub(super) struct TdfGenerate {
    /// The `.d` folder to create.
    output: PathBuf,
    /// Frames.
    #[arg(long, default_value_t = 1000)]
    frames: u32,
    /// Scans per frame.
    #[arg(long, default_value_t = 918)]
    scans: u32,
    /// Mean peaks per frame.
    #[arg(long, default_value_t = 100_000)]
    peaks_per_frame: u32,
    /// One frame in N is MS1.
    #[arg(long, default_value_t = 10)]
    ms1_every: u32,
    /// DIA window groups.
    #[arg(long, default_value_t = 8)]
    window_groups: u32,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A ddaPASEF run (precursors isolated in PASEF cycles) instead of diaPASEF.
    #[arg(long)]
    dda: bool,
}

pub(super) fn generate(args: TdfGenerate) -> Result {
    let started = Instant::now();
    let spec = crate::tdf::synth::Spec {
        frames: args.frames,
        scans: args.scans,
        peaks_per_frame: args.peaks_per_frame,
        ms1_every: args.ms1_every,
        window_groups: args.window_groups,
        seed: args.seed,
        dda: args.dda,
    };
    let peaks = crate::tdf::synth::write(&args.output, &spec)?;
    eprintln!(
        "rawarrow: wrote {} frames, {peaks} peaks to {} in {:.1} s",
        args.frames,
        args.output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
