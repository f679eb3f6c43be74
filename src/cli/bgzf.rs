//! `rawarrow bgzf ...`

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Result;
use rawarrow::bgzf::{ChunkReader, Options};
use rawarrow::io::Input;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Decompress a BGZF file (in parallel, every block's CRC32 and size checked).
    Decompress(Decompress),
    /// Print a BGZF file's block statistics without inflating anything.
    Index(Index),
}

#[derive(Debug, Args)]
pub(super) struct Decompress {
    /// Input BGZF file (BAM, .vcf.gz, .bed.gz, ...).
    input: PathBuf,
    /// Output file (default: standard output). Written under a temporary name, renamed on success.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Worker threads (default: the cores this process may use).
    #[arg(short, long)]
    threads: Option<usize>,
}

#[derive(Debug, Args)]
pub(super) struct Index {
    /// Input BGZF file.
    input: PathBuf,
    /// Also list every block: compressed offset, compressed size, uncompressed size.
    #[arg(long)]
    blocks: bool,
}

pub(super) fn run(cmd: Command) -> Result {
    match cmd {
        Command::Decompress(args) => decompress(args),
        Command::Index(args) => index(args),
    }
}

pub(super) fn warn_missing_eof(path: &std::path::Path) {
    eprintln!(
        "rawarrow: warning: {}: no BGZF EOF marker block at the end; the file may be truncated",
        path.display()
    );
}

fn decompress(args: Decompress) -> Result {
    let input = Input::open(&args.input).map_err(rawarrow::Error::from)?;
    let mut opts = Options::default();
    if let Some(t) = args.threads {
        opts = opts.threads(t);
    }
    let mut out = rawarrow::io::OutputFile::create(args.output.as_deref())?;
    let mut chunks = ChunkReader::new(input, opts);
    while let Some(chunk) = chunks.next() {
        let chunk = chunk?;
        out.write_all(chunk.data())?;
        chunks.recycle(chunk);
    }
    if chunks.eof_marker() == Some(false) {
        warn_missing_eof(&args.input);
    }
    for w in chunks.take_warnings() {
        eprintln!("rawarrow: warning: {w}");
    }
    Ok(out.finish()?)
}

fn index(args: Index) -> Result {
    let input = Input::open(&args.input).map_err(rawarrow::Error::from)?;
    let index = rawarrow::bgzf::scan(input.bytes())
        .map_err(|e| format!("{}: {e}", input.path().display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    writeln!(out, "file\t{}", args.input.display())?;
    writeln!(out, "blocks\t{}", index.blocks.len())?;
    let compressed: u64 = index.blocks.iter().map(|b| u64::from(b.size)).sum();
    writeln!(out, "compressed_bytes\t{compressed}")?;
    writeln!(out, "uncompressed_bytes\t{}", index.uncompressed_bytes())?;
    writeln!(
        out,
        "eof_marker\t{}",
        if index.eof_marker { "yes" } else { "no" }
    )?;
    if args.blocks {
        writeln!(out, "#offset\tcompressed_size\tuncompressed_size")?;
        for b in &index.blocks {
            writeln!(out, "{}\t{}\t{}", b.offset, b.size, b.isize)?;
        }
    }
    out.flush()?;
    if !index.eof_marker {
        warn_missing_eof(&args.input);
    }
    Ok(())
}
