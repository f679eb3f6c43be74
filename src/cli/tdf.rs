//! `rawarrow tdf ...`

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};

use super::{progress_bar, Result};
use crate::stats::Phase;
use crate::tdf::{Calibration, Reader};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Cal {
    Auto,
    Bruker,
    Estimate,
}

/// Reads a Bruker timsTOF `.d` folder (TimsCompressionType 2) into one Arrow row per peak:
/// frame, scan, tof, intensity, mz, mobility (1/K0), rt, ms_level, window_group, isolation_mz,
/// isolation_width, precursor.
#[derive(Debug, Args)]
pub(super) struct Tdf {
    /// The `.d` folder.
    input: PathBuf,
    /// Output Arrow IPC file (`-` for standard output).
    #[arg(short, long)]
    output: PathBuf,
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
    /// Only these columns, in this order (comma-separated).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Target rows per batch (whole frames).
    #[arg(long, default_value_t = 1 << 18, value_parser = super::at_least_one)]
    batch_rows: usize,
    #[command(flatten)]
    ipc: super::IpcOptions,
}

pub(super) fn run(args: Tdf) -> Result {
    let started = Instant::now();
    let mut b = Reader::builder()
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
    let inputs = [
        args.input.join("analysis.tdf"),
        args.input.join("analysis.tdf_bin"),
    ];
    crate::convert::check_output(&args.output, &inputs)?;
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
        "{bar:40} {pos}/{len} peaks {per_sec} ETA {eta}",
        args.ipc.quiet,
    );
    stats.phase(Phase::Read);
    while let Some(batch) = reader.next_batch()? {
        stats.phase(Phase::Write);
        super::check_signal()?;
        sink.write(&batch)?;
        if let Some(bar) = &bar {
            bar.set_position(reader.rows());
        }
        stats.sample();
        stats.phase(Phase::Read);
    }
    stats.phase(Phase::Finish);
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
        eprintln!(
            "rawarrow: {} frames, {} peaks in {secs:.3} s: {:.0} peaks/s ({:?} calibration)",
            reader.frames(),
            reader.rows(),
            reader.rows() as f64 / secs,
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
