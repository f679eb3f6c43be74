//! The `rawarrow` command line (feature `cli`).
//!
//! Every subcommand reports failures as one line on stderr naming the file, the offset and the
//! cause, and exits with status 1. Output files are written to a temporary file beside the
//! destination and renamed only on success, so a failed run never leaves a partial file.
#![forbid(unsafe_code)]

mod bam;
mod bgzf;
mod midi;
mod tdf;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Raw scientific files to Apache Arrow at memory speed.
#[derive(Debug, Parser)]
#[command(name = "rawarrow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// BGZF files: parallel decompression and block indexes.
    #[command(subcommand)]
    Bgzf(bgzf::Command),
    /// BAM files to Arrow IPC (`rawarrow bam IN.bam -o OUT.arrow`), or to SAM text
    /// (`rawarrow bam view IN.bam`).
    Bam(bam::Bam),
    /// Standard MIDI Files (files and folders) to an Arrow `notes` table and a `files` table.
    Midi(midi::Midi),
    /// Bruker timsTOF `.d` folders to Arrow, one row per peak with calibrated m/z and 1/K0.
    Tdf(tdf::Tdf),
    /// Writes a synthetic timsTOF `.d` folder (benchmark datasets).
    TdfGenerate(tdf::TdfGenerate),
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    install_signal_handlers();
    let result = match cli.command {
        Command::Bgzf(cmd) => bgzf::run(cmd),
        Command::Bam(cmd) => bam::run(cmd),
        Command::Midi(cmd) => midi::run(cmd),
        Command::Tdf(cmd) => tdf::run(cmd),
        Command::TdfGenerate(cmd) => tdf::generate(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`| head`) is how the reader says it has enough: not an error.
            if is_broken_pipe(e.as_ref()) {
                return ExitCode::SUCCESS;
            }
            if let Some(stop) = e.downcast_ref::<Interrupted>() {
                eprintln!("rawarrow: {stop}");
                return ExitCode::from(128 + stop.0 as u8);
            }
            eprintln!("rawarrow: error: {e}");
            // A usage error exits 2, as argument errors do.
            match e.downcast_ref::<crate::stream::Error>() {
                Some(s) if s.kind() == crate::stream::ErrorKind::Usage => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// Whether the error, or one it wraps, is a write to a closed pipe.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        let pipe = std::io::ErrorKind::BrokenPipe;
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == pipe)
            || e.downcast_ref::<crate::stream::Error>()
                .is_some_and(|s| s.io_kind() == Some(pipe))
            || matches!(e.downcast_ref::<arrow_schema::ArrowError>(),
                Some(arrow_schema::ArrowError::IoError(_, io)) if io.kind() == pipe)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// IPC buffer compression, as a command-line value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Codec {
    None,
    Lz4,
    Zstd,
}

impl From<Codec> for crate::arrow::Compression {
    fn from(c: Codec) -> Self {
        match c {
            Codec::None => Self::None,
            Codec::Lz4 => Self::Lz4,
            Codec::Zstd => Self::Zstd,
        }
    }
}

/// A count that must be at least 1 (threads, rows per batch, ...).
fn at_least_one(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// An output file format, as a command-line value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    /// Arrow IPC file format.
    Ipc,
    /// Arrow IPC stream format.
    Stream,
    /// Apache Parquet.
    Parquet,
}

/// The output options every converting subcommand shares.
#[derive(Debug, clap::Args)]
struct IpcOptions {
    /// Output format (default: from the output name: .arrow/.feather/.ipc, .arrows, .parquet;
    /// standard output and devices: ipc).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Compression: IPC buffers (default none) or Parquet column chunks (default zstd).
    #[arg(long, value_enum)]
    compression: Option<Codec>,
    /// Write the IPC stream format (the same as --format stream).
    #[arg(long, conflicts_with = "format")]
    stream: bool,
    /// No progress bar and no summary line on stderr.
    #[arg(long)]
    quiet: bool,
    /// Write run statistics here as JSON: bytes in and out, rows, wall time per phase (open,
    /// read, write, finish), CPU seconds per thread and role, peak memory.
    #[arg(long, value_name = "PATH")]
    stats: Option<PathBuf>,
}

/// The `--stats` recorder of a run (nothing is measured without `--stats`).
struct Stats(Option<crate::stats::Recorder>);

impl Stats {
    fn phase(&mut self, phase: crate::stats::Phase) {
        if let Some(r) = &mut self.0 {
            r.phase(phase);
        }
    }

    fn sample(&mut self) {
        if let Some(r) = &mut self.0 {
            r.sample();
        }
    }

    /// The output loop of every conversion: each batch `next` reads from `reader` is checked
    /// against a stop signal, handed to `write` (which writes it and reports progress), and
    /// its read and write time recorded.
    fn pump<R>(
        &mut self,
        reader: &mut R,
        mut next: impl FnMut(&mut R) -> Result<Option<arrow_array::RecordBatch>>,
        mut write: impl FnMut(&R, arrow_array::RecordBatch) -> Result,
    ) -> Result {
        use crate::stats::Phase;
        self.phase(Phase::Read);
        while let Some(batch) = next(reader)? {
            self.phase(Phase::Write);
            check_signal()?;
            write(reader, batch)?;
            self.sample();
            self.phase(Phase::Read);
        }
        self.phase(Phase::Finish);
        Ok(())
    }

    /// Writes the JSON to `path` (under a temporary name, renamed when complete).
    fn write(self, path: Option<&Path>, rows: u64, input_bytes: u64, output: &Path) -> Result {
        let (Some(r), Some(path)) = (self.0, path) else {
            return Ok(());
        };
        let json = r.finish(rows, input_bytes, Some(output)).to_json();
        let mut out = Output::create(Some(path))?;
        out.writer()
            .write_all(json.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        out.finish()
    }
}

impl IpcOptions {
    /// A recorder, started now, when `--stats` asks for one.
    fn recorder(&self) -> Stats {
        Stats(self.stats.as_ref().map(|_| crate::stats::Recorder::new()))
    }

    /// The format for `path`.
    fn format(&self, path: &Path) -> Result<crate::arrow::OutputFormat> {
        let name = match (self.stream, self.format) {
            (true, _) | (_, Some(FormatArg::Stream)) => Some("stream"),
            (_, Some(FormatArg::Ipc)) => Some("ipc"),
            (_, Some(FormatArg::Parquet)) => Some("parquet"),
            (false, None) => None,
        };
        Ok(crate::convert::format(path, name)?)
    }

    /// A sink writing to `path` (`-` for standard output), encoding on `threads` threads
    /// (`-t`; default: the cores this process may use).
    fn sink(
        &self,
        path: &Path,
        schema: &arrow_schema::SchemaRef,
        threads: Option<usize>,
    ) -> Result<crate::arrow::Sink> {
        let options = crate::arrow::SinkOptions {
            format: self.format(path)?,
            compression: self.compression.map(Into::into),
            threads,
            ..Default::default()
        };
        Ok(crate::arrow::Sink::with_options(path, schema, &options)
            .map_err(|e| crate::convert::output_error(path, e))?)
    }
}

/// Set by SIGINT, SIGTERM or SIGHUP to the signal's number; converting loops check it after
/// every batch and stop, so the temporary output file is removed and the process exits with
/// 128 + the signal's number, as shells expect. A second Ctrl-C exits at once.
static SIGNAL: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicUsize>> =
    std::sync::OnceLock::new();

fn install_signal_handlers() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = SIGNAL.get_or_init(Default::default).clone();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        // Registration fails only for forbidden signals; these three are not.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, seen.clone());
        let _ = signal_hook::flag::register(sig, seen.clone());
        let _ = signal_hook::flag::register_usize(sig, flag.clone(), sig as usize);
    }
}

/// The stop a signal asked for, as an error (checked between batches).
#[derive(Debug)]
struct Interrupted(usize, &'static str);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by signal {}; {}", self.0, self.1)
    }
}

impl std::error::Error for Interrupted {}

fn check_signal() -> Result {
    check_signal_then("no output was written")
}

/// [`check_signal`], saying what became of the output.
fn check_signal_then(outcome: &'static str) -> Result {
    match SIGNAL
        .get()
        .map(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    {
        Some(sig) if sig != 0 => Err(Box::new(Interrupted(sig, outcome))),
        _ => Ok(()),
    }
}

/// A progress bar on stderr when it is a terminal and the user did not ask for quiet.
fn progress_bar(total: u64, template: &str, quiet: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
        bar
    })
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Where a command's bytes go: standard output, or (through [`crate::io::create_output`]) a
/// temporary file that becomes `path` only when [`Output::finish`] is called.
struct Output {
    file: std::fs::File,
    pending: crate::io::Pending,
}

impl Output {
    fn create(path: Option<&Path>) -> Result<Self> {
        let (file, pending) = match path {
            None => (crate::io::stdout_file()?, crate::io::Pending::nothing()),
            Some(path) => crate::io::create_output(path)?,
        };
        Ok(Self { file, pending })
    }

    fn writer(&mut self) -> &mut std::fs::File {
        &mut self.file
    }

    fn finish(mut self) -> Result {
        self.file.flush()?;
        Ok(self.pending.commit(&self.file)?)
    }
}
