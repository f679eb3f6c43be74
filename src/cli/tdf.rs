//! `rawarrow tdf ...`

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Result;
use rawarrow::tdf::{Calibration, Table};

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
    /// The `.d` folder, or a URL prefix holding its two files (`s3://bucket/run.d`,
    /// `https://host/run.d/`).
    input: PathBuf,
    /// Output file (`-` for standard output): Arrow IPC, IPC stream or Parquet by its name, or
    /// MGF (`.mgf`, the spectra table).
    #[arg(
        short,
        long,
        required_unless_present = "postgres",
        conflicts_with = "postgres"
    )]
    output: Option<PathBuf>,
    #[command(flatten)]
    pg: super::PgArgs,
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
    storage: super::StorageArgs,
    #[command(flatten)]
    ipc: super::IpcOptions,
}

fn range(option: &str, text: &str) -> Result<(f64, f64)> {
    super::pair(option, text, "LOW:HIGH, e.g. 400:410.5")
}

pub(super) fn run(args: Tdf) -> Result {
    let mgf = args.output.as_deref().is_some_and(|o| {
        matches!(
            rawarrow::sink::Format::of(o, args.ipc.format_name()),
            Ok(rawarrow::sink::Format::Mgf)
        )
    });
    let table = match (args.table, mgf) {
        (None, true) | (Some(TableArg::Spectra), _) => Table::Spectra,
        (Some(t), true) => {
            return Err(rawarrow::Error::usage(format!(
                "-o {}: MGF holds spectra, not {}",
                args.output
                    .as_deref()
                    .unwrap_or(std::path::Path::new("-"))
                    .display(),
                format!("{t:?}").to_lowercase()
            ))
            .into())
        }
        (None, false) | (Some(TableArg::Peaks), _) => Table::Peaks,
        (Some(TableArg::Precursors), _) => Table::Precursors,
        (Some(TableArg::Windows), _) => Table::Windows,
    };
    if mgf && args.columns.is_some() {
        return Err(rawarrow::Error::usage(
            "--columns does not apply to MGF output (MGF takes what it needs)",
        )
        .into());
    }
    let frames = match &args.frames {
        Some(f) => {
            let (first, last) = super::pair::<u32>("frames", f, "FIRST:LAST, e.g. 1:100")?;
            if first > last {
                return Err(rawarrow::Error::usage(format!(
                    "--frames {f}: the first frame id is after the last"
                ))
                .into());
            }
            Some((first, last))
        }
        None => None,
    };
    let options = rawarrow::stream::TdfOptions {
        ms_level: args.ms_level,
        frames,
        calibration: match args.calibration {
            Cal::Auto => Calibration::Auto,
            Cal::Bruker => Calibration::Bruker,
            Cal::Estimate => Calibration::Estimate,
        },
        columns: args.columns.clone(),
        threads: args.threads,
        batch_rows: Some(args.batch_rows),
        table,
        rt: args.rt.as_deref().map(|r| range("rt", r)).transpose()?,
        mobility: args
            .mobility
            .as_deref()
            .map(|r| range("mobility", r))
            .transpose()?,
        mz: args.mz.as_deref().map(|r| range("mz", r)).transpose()?,
        centroid: args.centroid,
        storage_options: args.storage.options.clone(),
    };
    if options.centroid.is_some() && table != Table::Spectra {
        return Err(rawarrow::Error::usage(
            "--centroid applies to the spectra table (--table spectra or -o NAME.mgf)",
        )
        .into());
    }
    let target = args.pg.target(args.output.as_deref());
    let input = rawarrow::convert::Input::Tdf {
        path: args.input.clone(),
        options,
    };
    super::convert(
        &input,
        &args.ipc.output(target, args.threads),
        args.ipc.quiet,
    )?;
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
    let started = std::time::Instant::now();
    let spec = rawarrow::tdf::synth::Spec {
        frames: args.frames,
        scans: args.scans,
        peaks_per_frame: args.peaks_per_frame,
        ms1_every: args.ms1_every,
        window_groups: args.window_groups,
        seed: args.seed,
        dda: args.dda,
    };
    let peaks = rawarrow::tdf::synth::write(&args.output, &spec)?;
    eprintln!(
        "rawarrow: wrote {} frames, {peaks} peaks to {} in {:.1} s",
        args.frames,
        args.output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
