//! `rawarrow bam ...`

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Output, Result};
use crate::bam::Records;
use crate::bgzf::Options;
use crate::io::Input;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Print the records as SAM text, exactly as `samtools view` prints them (no header).
    View(View),
}

#[derive(Debug, Args)]
pub(super) struct View {
    /// Input BAM file.
    input: PathBuf,
    /// Output file (default: standard output). Written under a temporary name, renamed on success.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Worker threads (default: the cores this process may use).
    #[arg(short, long)]
    threads: Option<usize>,
}

pub(super) fn run(cmd: Command) -> Result {
    match cmd {
        Command::View(args) => view(args),
    }
}

fn view(args: View) -> Result {
    let input = Input::open(&args.input)?;
    let mut opts = Options::default();
    if let Some(t) = args.threads {
        opts = opts.threads(t);
    }
    let mut records = Records::new(input, opts)?;
    let header = records.header().clone();
    let mut out = Output::create(args.output.as_deref())?;
    let mut buf = Vec::with_capacity(4 << 20);
    loop {
        let more = records.next_chunk(|r, _| {
            crate::bam::push_sam(r, &header, &mut buf);
            Ok(true)
        })?;
        if buf.len() >= 1 << 20 || !more {
            out.writer().write_all(&buf)?;
            buf.clear();
        }
        if !more {
            break;
        }
    }
    if records.chunks().eof_marker() == Some(false) {
        super::bgzf::warn_missing_eof(&args.input);
    }
    out.finish()
}
