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
    Bam(Box<bam::Bam>),
    /// Standard MIDI Files (files and folders) to an Arrow `notes` table and a `files` table.
    Midi(midi::Midi),
    /// Bruker timsTOF `.d` folders to Arrow, one row per peak with calibrated m/z and 1/K0.
    Tdf(tdf::Tdf),
    /// Writes a synthetic timsTOF `.d` folder (benchmark datasets).
    TdfGenerate(tdf::TdfGenerate),
}

/// Runs the command line and returns the process exit status.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    install_signal_handlers();
    let result = match cli.command {
        Command::Bgzf(cmd) => bgzf::run(cmd),
        Command::Bam(cmd) => bam::run(*cmd),
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
            use rawarrow::ErrorKind;
            let kind = e.downcast_ref::<rawarrow::Error>().map(|s| s.kind());
            if kind == Some(ErrorKind::Interrupted) {
                eprintln!("rawarrow: {e}");
                return ExitCode::from(128 + signal().unwrap_or(2) as u8);
            }
            eprintln!("rawarrow: error: {e}");
            // A usage error exits 2, as argument errors do.
            match kind {
                Some(ErrorKind::Usage) => ExitCode::from(2),
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
            || e.downcast_ref::<rawarrow::Error>()
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

impl From<Codec> for rawarrow::convert::Compression {
    fn from(c: Codec) -> Self {
        match c {
            Codec::None => Self::None,
            Codec::Lz4 => Self::Lz4,
            Codec::Zstd => Self::Zstd,
        }
    }
}

/// Settings of inputs given as URLs.
#[derive(Debug, clap::Args)]
struct StorageArgs {
    /// A setting of inputs given as URLs (s3://, gs://, az://, https://), repeatable:
    /// endpoint, region, credentials, timeouts as object_store names them (aws_endpoint,
    /// aws_region, timeout, ...), and fetch_bytes, fetch_concurrency, retries, aws_profile.
    /// The environment (AWS_*, GOOGLE_*, AZURE_*) is read first, then for S3 the AWS profile
    /// files (~/.aws/credentials, ~/.aws/config); these win.
    #[arg(long = "storage-option", value_name = "KEY=VALUE", value_parser = key_value)]
    options: Vec<(String, String)>,
}

fn key_value(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("KEY=VALUE expected".into()),
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
    /// Mascot Generic Format (the timsTOF spectra table).
    Mgf,
    /// SAM text (BAM records).
    Sam,
}

/// The output options every converting subcommand shares.
#[derive(Debug, clap::Args)]
struct IpcOptions {
    /// Output format (default: from the output name: .arrow/.feather/.ipc, .arrows, .parquet,
    /// .mgf, .sam; standard output and devices: ipc).
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

/// The PostgreSQL output every converting subcommand offers instead of `-o`.
#[derive(Debug, clap::Args)]
struct PgArgs {
    /// Write into PostgreSQL instead (tables created if missing, else appended to; binary
    /// COPY). MIDI notes (with their files table) and timsTOF peaks commit each batch in its
    /// own transaction, so --resume continues an interrupted run; other tables commit once at
    /// the end. URL: `postgresql://user@host/db` or `host=/run/postgresql dbname=db`.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// The PostgreSQL schema of the tables.
    #[arg(long, default_value = "public", requires = "postgres")]
    schema: String,
    /// The PostgreSQL table (default: records, peaks, precursors, spectra, windows or notes).
    #[arg(long, value_name = "NAME", requires = "postgres")]
    pg_table: Option<String>,
    /// Continue after what an interrupted run committed: MIDI files whose path, size and
    /// modification time already have a files row are skipped; timsTOF peaks start after the
    /// table's last frame.
    #[arg(long, requires = "postgres")]
    resume: bool,
}

impl PgArgs {
    /// The conversion's destination: PostgreSQL when --postgres is given, else `output`.
    fn target(&self, output: Option<&Path>) -> rawarrow::convert::Target {
        match &self.postgres {
            Some(url) => rawarrow::convert::Target::Postgres(rawarrow::sink::postgres::Postgres {
                url: url.clone(),
                schema: self.schema.clone(),
                table: self.pg_table.clone(),
                resume: self.resume,
            }),
            None => rawarrow::convert::Target::Path(
                output
                    .expect("clap requires an output without --postgres")
                    .to_path_buf(),
            ),
        }
    }
}

/// `A:B` as two values of `T` (`--option`'s value; `expected` says the form).
fn pair<T: std::str::FromStr>(option: &str, text: &str, expected: &str) -> Result<(T, T)> {
    let bad = || rawarrow::Error::usage(format!("--{option} {text:?}: expected {expected}"));
    let (a, z) = text.split_once(':').ok_or_else(bad)?;
    Ok((
        a.trim().parse().map_err(|_| bad())?,
        z.trim().parse().map_err(|_| bad())?,
    ))
}

impl IpcOptions {
    /// The format name `--format`/`--stream` give, if any.
    fn format_name(&self) -> Option<&'static str> {
        match (self.stream, self.format) {
            (true, _) | (_, Some(FormatArg::Stream)) => Some("stream"),
            (_, Some(FormatArg::Ipc)) => Some("ipc"),
            (_, Some(FormatArg::Parquet)) => Some("parquet"),
            (_, Some(FormatArg::Mgf)) => Some("mgf"),
            (_, Some(FormatArg::Sam)) => Some("sam"),
            (false, None) => None,
        }
    }

    /// The library's description of the output to `target`, encoding on `threads` threads
    /// (`-t`; default: the cores this process may use).
    fn output(
        &self,
        target: rawarrow::convert::Target,
        threads: Option<usize>,
    ) -> rawarrow::convert::Output {
        rawarrow::convert::Output {
            target,
            format: self.format_name().map(str::to_string),
            compression: self.compression.map(Into::into),
            midi_files: None,
            threads,
            stats: self.stats.clone(),
        }
    }
}

/// Runs one conversion through the library's one path, with warnings and a progress bar on
/// stderr and the stop a signal asks for; prints the summary line unless quiet.
fn convert(
    input: &rawarrow::convert::Input,
    output: &rawarrow::convert::Output,
    quiet: bool,
) -> Result<rawarrow::convert::Summary> {
    let outcome = match &output.target {
        rawarrow::convert::Target::Postgres(_) => {
            "what was committed so far is kept (a resumed run continues from it)"
        }
        rawarrow::convert::Target::Path(_) | rawarrow::convert::Target::Writer(_) => {
            "no output was written"
        }
    };
    let mut bar = Bar(None);
    let summary = rawarrow::convert::run(input, output, &mut |p, warnings| {
        for w in warnings {
            bar.println(&format!("rawarrow: warning: {w}"));
        }
        bar.show(p, quiet);
        signal_error(outcome)
    })?;
    drop(bar);
    if !quiet {
        eprintln!("rawarrow: {}", summary.line);
    }
    Ok(summary)
}

/// A progress bar on stderr when it is a terminal and the user did not ask for quiet, made at
/// the first report (which tells the total and its unit); cleared when dropped.
struct Bar(Option<Option<indicatif::ProgressBar>>);

impl Bar {
    fn show(&mut self, p: rawarrow::stream::Progress, quiet: bool) {
        let bar = self.0.get_or_insert_with(|| {
            let template = match p.unit {
                "bytes" => "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
                "files" => "{bar:40} {pos}/{len} files {per_sec} ETA {eta} {msg}",
                _ => "{bar:40} {pos}/{len} rows {per_sec} ETA {eta} {msg}",
            };
            progress_bar(p.total, template, quiet)
        });
        if let Some(bar) = bar {
            bar.set_length(p.total);
            bar.set_position(p.done);
            bar.set_message(format!("{} rows", p.rows));
        }
    }

    fn println(&self, line: &str) {
        match &self.0 {
            Some(Some(bar)) => bar.suspend(|| eprintln!("{line}")),
            _ => eprintln!("{line}"),
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(Some(bar)) = &self.0 {
            bar.finish_and_clear();
        }
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

/// The signal that asked to stop, if one did.
fn signal() -> Option<usize> {
    SIGNAL
        .get()
        .map(|s| s.load(std::sync::atomic::Ordering::Relaxed))
        .filter(|&sig| sig != 0)
}

/// The stop a signal asked for, as an interrupted error saying what became of the output.
fn signal_error(outcome: &str) -> std::result::Result<(), rawarrow::Error> {
    match signal() {
        Some(sig) => Err(rawarrow::Error::new(
            rawarrow::ErrorKind::Interrupted,
            format!("interrupted by signal {sig}; {outcome}"),
        )),
        None => Ok(()),
    }
}

/// Checked between chunks by the commands that write no batches (view, count, index, bgzf).
fn check_signal() -> Result {
    Ok(signal_error("no output was written")?)
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
