//! The `rawarrow` command line (feature `cli`).
//!
//! Every subcommand reports failures as one line on stderr naming the file, the offset and the
//! cause, and exits with status 1. Output files are written to a temporary file beside the
//! destination and renamed only on success, so a failed run never leaves a partial file.
#![forbid(unsafe_code)]

mod bam;
mod bgzf;

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
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bgzf(cmd) => bgzf::run(cmd),
        Command::Bam(cmd) => bam::run(cmd),
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
