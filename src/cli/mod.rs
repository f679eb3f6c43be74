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
use std::path::Path;
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
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("rawarrow: error: {e}");
            ExitCode::FAILURE
        }
    }
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

/// The Arrow output options every converting subcommand shares.
#[derive(Debug, clap::Args)]
struct IpcOptions {
    /// IPC buffer compression.
    #[arg(long, value_enum, default_value = "none")]
    compression: Codec,
    /// Write the IPC stream format instead of the file format.
    #[arg(long)]
    stream: bool,
    /// No progress bar and no summary line on stderr.
    #[arg(short, long)]
    quiet: bool,
}

impl IpcOptions {
    /// An IPC sink writing to `path` (`-` for standard output).
    fn sink(&self, path: &Path, schema: &arrow_schema::SchemaRef) -> Result<crate::arrow::IpcSink> {
        use crate::arrow::{Format, IpcSink};
        let format = if self.stream {
            Format::Stream
        } else {
            Format::File
        };
        let compression = self.compression.into();
        Ok(if path == Path::new("-") {
            IpcSink::stdout(schema, format, compression)?
        } else {
            IpcSink::create(path, schema, format, compression)?
        })
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

/// Where a command's bytes go: standard output, or a temporary file that becomes `path` only
/// when [`Output::finish`] is called.
enum Output {
    Stdout(std::fs::File),
    File {
        tmp: tempfile::NamedTempFile,
        path: std::path::PathBuf,
    },
}

impl Output {
    fn create(path: Option<&Path>) -> Result<Self> {
        Ok(match path {
            None => Self::Stdout(crate::io::stdout_file()?),
            // A device or pipe (`/dev/null`, a FIFO) is written directly: renaming a temporary
            // file over it would replace the device node.
            Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
                Self::Stdout(std::fs::OpenOptions::new().write(true).open(path)?)
            }
            Some(path) => Self::File {
                tmp: crate::io::temp_beside(path)?,
                path: path.to_path_buf(),
            },
        })
    }

    fn writer(&mut self) -> &mut std::fs::File {
        match self {
            Self::Stdout(f) => f,
            Self::File { tmp, .. } => tmp.as_file_mut(),
        }
    }

    fn finish(self) -> Result {
        match self {
            Self::Stdout(mut f) => Ok(f.flush()?),
            Self::File { mut tmp, path } => {
                tmp.as_file_mut().flush()?;
                crate::io::make_readable(tmp.as_file())?;
                tmp.persist(&path)
                    .map_err(|e| format!("{}: cannot write output: {}", path.display(), e.error))?;
                Ok(())
            }
        }
    }
}
