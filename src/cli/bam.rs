//! `rawarrow bam ...`

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Result;
use rawarrow::bam::Filter;
use rawarrow::bgzf::Options;
use rawarrow::io::Input;

/// Convert BAM files to Arrow IPC, or print them as SAM text (`rawarrow bam view`).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(super) struct Bam {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    convert: Convert,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the records as SAM text, exactly as `samtools view` prints them (`-h`: with the
    /// header, `-H`: the header only, as `samtools view --no-PG` prints it).
    View(View),
    /// Write a BAI (or CSI) index of a coordinate-sorted BAM, byte for byte what `samtools
    /// index` (or `samtools index -c`) writes: IN.bam.bai (IN.bam.csi) unless -o says.
    Index(IndexArgs),
}

#[derive(Debug, Args)]
struct IndexArgs {
    /// Input BAM file (coordinate-sorted).
    input: PathBuf,
    /// Write a CSI index instead of BAI (as `samtools index -c`).
    #[arg(short = 'c', long)]
    csi: bool,
    /// CSI: bits of the smallest bin (as `samtools index -m`; implies --csi).
    #[arg(short = 'm', long, value_name = "INT")]
    min_shift: Option<u32>,
    /// Output index file (default: IN.bam.bai, or IN.bam.csi).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Worker threads for inflating (default: the cores this process may use).
    #[arg(short, long, value_parser = super::at_least_one)]
    threads: Option<usize>,
}

fn index(args: IndexArgs) -> Result {
    use rawarrow::bam::{Index, IndexFormat};
    let format = match (args.csi, args.min_shift) {
        (_, Some(m)) if !(1..=30).contains(&m) => {
            return Err(rawarrow::Error::usage(format!(
                "--min-shift {m}: must be between 1 and 30"
            ))
            .into())
        }
        (_, Some(m)) => IndexFormat::Csi { min_shift: m },
        (true, None) => IndexFormat::Csi { min_shift: 14 },
        (false, None) => IndexFormat::Bai,
    };
    let out = args.output.clone().unwrap_or_else(|| {
        let mut s = args.input.as_os_str().to_owned();
        s.push(if args.csi || args.min_shift.is_some() {
            ".csi"
        } else {
            ".bai"
        });
        PathBuf::from(s)
    });
    rawarrow::convert::check_output(&out, std::slice::from_ref(&args.input))?;
    let index = Index::build(
        Input::open(&args.input).map_err(rawarrow::Error::from)?,
        format,
        options(args.threads),
    )?;
    super::check_signal()?;
    let mut file = rawarrow::io::OutputFile::create(Some(&out))?;
    file.write_all(&index.to_bytes())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(file.finish()?)
}

#[derive(Debug, Args)]
struct Convert {
    /// Input BAM files, then regions (samtools' syntax: chr1, chr1:1,000-2,000,
    /// {name:with:colons}:1-9, * for unplaced reads; read through the index beside each file).
    /// Several inputs with the same references go to one output (or use --out-dir for one
    /// output each).
    #[arg(required = true, value_name = "IN.bam [REGION]")]
    inputs: Vec<PathBuf>,
    /// The BAI or CSI index for regions (default: IN.bam.bai, IN.bai, IN.bam.csi or IN.csi;
    /// for CRAM the .crai: IN.cram.crai or IN.crai).
    #[arg(long, value_name = "PATH")]
    index: Option<PathBuf>,
    /// The reference FASTA of CRAM inputs whose bases are stored against one (its .fai beside
    /// it, else an index built in memory); not needed for BAM, for CRAM written with no_ref
    /// or embed_ref, or where REF_CACHE/REF_PATH or the @SQ line's UR find the sequences.
    #[arg(short = 'T', long, value_name = "FASTA")]
    reference: Option<PathBuf>,
    /// Output Arrow IPC file (`-` for standard output). Written under a temporary name, renamed
    /// on success.
    #[arg(
        short,
        long,
        required_unless_present_any = ["out_dir", "count", "postgres"],
        conflicts_with_all = ["out_dir", "postgres"]
    )]
    output: Option<PathBuf>,
    #[command(flatten)]
    pg: super::PgArgs,
    /// Write one `NAME.arrow` per input into this folder.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Threads for reading (default: the cores this process may use), each inflating or
    /// decoding, whichever job is queued first (1 runs both on the calling thread); the same
    /// number encodes the output (with more than one, a writer thread writes it).
    #[arg(short, long, value_parser = super::at_least_one)]
    threads: Option<usize>,
    /// Comma-separated columns to decode (default all:
    /// qname,flag,rname,pos,mapq,cigar,rnext,pnext,tlen,seq,qual,end,bin,tags).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// A typed column for this aux tag, after the default columns (repeatable): `NM`, or
    /// `NM:TYPE` with TYPE one of i (Int64), f (Float32), Z (Utf8), B (List<Int64>),
    /// B:f (List<Float32>). Without TYPE, the tag's type in the first records decides.
    #[arg(long = "tag", value_name = "TAG[:TYPE]")]
    tags: Vec<String>,
    /// Rows per record batch.
    #[arg(long, default_value_t = 65536, value_parser = super::at_least_one)]
    batch_rows: usize,
    /// Stop after this many records (per input).
    #[arg(long)]
    limit: Option<u64>,
    /// Only the records that begin in BGZF blocks at compressed offsets START..END (one input:
    /// a split of the file, as a cluster engine reads it; the splits of a file cover each
    /// record once).
    #[arg(long, value_name = "START:END", conflicts_with = "out_dir")]
    byte_range: Option<String>,
    /// Add a `file` column (Dictionary(Int32, Utf8): the input's path, as given) saying which
    /// input each row came from.
    #[arg(long)]
    with_file: bool,
    #[command(flatten)]
    storage: super::StorageArgs,
    #[command(flatten)]
    select: Select,
    #[command(flatten)]
    ipc: super::IpcOptions,
}

/// Which records to keep, as `samtools view` chooses them.
#[derive(Debug, Args)]
struct Select {
    /// Keep records with MAPQ at least this (as `samtools view -q`).
    #[arg(short = 'q', long, value_name = "INT", default_value_t = 0)]
    min_mapq: u8,
    /// Keep records with all these FLAG bits (decimal, 0x hex, or names such as
    /// PAIRED,PROPER_PAIR; as `samtools view -f`).
    #[arg(short = 'f', long, value_name = "FLAGS", value_parser = flags)]
    require_flags: Option<u16>,
    /// Drop records with any of these FLAG bits (as `samtools view -F`, e.g. UNMAP,SECONDARY or
    /// 0x904).
    #[arg(short = 'F', long, value_name = "FLAGS", value_parser = flags)]
    exclude_flags: Option<u16>,
    /// Print only the number of records kept (as `samtools view -c`); nothing else is decoded.
    #[arg(short = 'c', long)]
    count: bool,
}

fn flags(s: &str) -> std::result::Result<u16, String> {
    rawarrow::bam::parse_flags(s).map_err(|e| e.to_string())
}

impl Select {
    fn filter(&self) -> Filter {
        Filter::default()
            .min_mapq(self.min_mapq)
            .require_flags(self.require_flags.unwrap_or(0))
            .exclude_flags(self.exclude_flags.unwrap_or(0))
    }
}

/// Counts the records of `inputs` (in `regions`, if any) that `filter` keeps, checking every
/// record read as `samtools view -c` does, and prints the total.
fn count(
    inputs: &[PathBuf],
    regions: &[String],
    index: Option<&Path>,
    reference: Option<&Path>,
    threads: Option<usize>,
    filter: Filter,
    storage: &[(String, String)],
) -> Result {
    let mut n = 0u64;
    for path in inputs {
        let input = std::sync::Arc::new(
            Input::open_or_stdin(path, storage).map_err(rawarrow::Error::from)?,
        );
        walk(
            input,
            regions,
            index,
            reference,
            threads,
            &mut |_| Ok(true),
            || (),
            |r, _| {
                n += u64::from(filter.keeps(r.flag(), r.mapq()));
                Ok(())
            },
        )?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{n}").map_err(|e| format!("standard output: {e}"))?;
    Ok(())
}

/// `rawarrow::bam::walk` with `between` and the signal check between chunks, and its warnings
/// on stderr.
#[allow(clippy::too_many_arguments)]
fn walk(
    input: std::sync::Arc<Input>,
    regions: &[String],
    index: Option<&Path>,
    reference: Option<&Path>,
    threads: Option<usize>,
    header: &mut dyn FnMut(&rawarrow::bam::Header) -> std::result::Result<bool, rawarrow::Error>,
    mut between: impl FnMut(),
    f: impl FnMut(
        &rawarrow::bam::Record<'_>,
        rawarrow::bam::Located,
    ) -> std::result::Result<(), rawarrow::Error>,
) -> Result {
    let mut check = || {
        between();
        super::signal_error("no output was written")
    };
    let warnings = rawarrow::bam::walk(
        input, regions, index, reference, threads, &mut check, header, f,
    )?;
    warn_all(warnings);
    Ok(())
}

fn warn_all(warnings: Vec<String>) {
    for w in warnings {
        eprintln!("rawarrow: warning: {w}");
    }
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
struct View {
    /// Input BAM file.
    input: PathBuf,
    /// Regions (samtools' syntax), read through the index; records are printed region by
    /// region, in the order given.
    regions: Vec<String>,
    /// The BAI or CSI index (CRAM: the .crai) for regions (default: found beside the input).
    #[arg(long, value_name = "PATH")]
    index: Option<PathBuf>,
    /// The reference FASTA of a CRAM input whose bases are stored against one (as samtools
    /// view -T; without it, REF_CACHE/REF_PATH and the @SQ line's UR as samtools).
    #[arg(short = 'T', long, value_name = "FASTA")]
    reference: Option<PathBuf>,
    /// Print the header before the records (as `samtools view --no-PG -h`).
    #[arg(short = 'h', long = "with-header")]
    with_header: bool,
    /// Print only the header (as `samtools view --no-PG -H`).
    #[arg(short = 'H', long = "header-only", conflicts_with = "with_header")]
    header_only: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Output file (default: standard output). Written under a temporary name, renamed on success.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Worker threads (default: the cores this process may use).
    #[arg(short, long, value_parser = super::at_least_one)]
    threads: Option<usize>,
    #[command(flatten)]
    storage: super::StorageArgs,
    #[command(flatten)]
    select: Select,
}

pub(super) fn run(args: Bam) -> Result {
    match args.command {
        Some(Command::View(v)) => view(v),
        Some(Command::Index(i)) => index(i),
        None => convert(args.convert),
    }
}

fn options(threads: Option<usize>) -> Options {
    let opts = Options::default();
    match threads {
        Some(t) => opts.threads(t),
        None => opts,
    }
}

fn view(args: View) -> Result {
    if args.select.count {
        return count(
            std::slice::from_ref(&args.input),
            &args.regions,
            args.index.as_deref(),
            args.reference.as_deref(),
            args.threads,
            args.select.filter(),
            &args.storage.options,
        );
    }
    let filter = args.select.filter();
    if let Some(out) = &args.output {
        rawarrow::convert::check_output(out, std::slice::from_ref(&args.input))?;
    }
    // The input is opened once (a stream is read once): the header comes from the walk.
    let input = std::sync::Arc::new(
        Input::open_or_stdin(&args.input, &args.storage.options).map_err(rawarrow::Error::from)?,
    );
    let out = RefCell::new(rawarrow::io::OutputFile::create(args.output.as_deref())?);
    let buf = RefCell::new(Vec::with_capacity(4 << 20));
    let header = std::cell::OnceCell::new();
    let path: std::sync::Arc<std::path::Path> = args.input.as_path().into();
    let write_error = RefCell::new(None);
    // The text gathered so far goes out once there is `at_least` of it (1 MiB per write), and
    // between chunks whatever there is: a reader of a pipe gets the records of a producer that
    // paused, not only once 1 MiB more has come.
    let drain = |at_least: usize| {
        let mut buf = buf.borrow_mut();
        if buf.len() >= at_least.max(1) {
            let mut error = write_error.borrow_mut();
            if error.is_none() {
                if let Err(e) = out.borrow_mut().write_all(&buf) {
                    *error = Some(e);
                }
            }
            buf.clear();
        }
    };
    let mut take_header = |h: &rawarrow::bam::Header| {
        if args.with_header || args.header_only {
            buf.borrow_mut().extend_from_slice(&h.sam_bytes());
        }
        let _ = header.set(h.clone());
        Ok(!args.header_only)
    };
    // Aux fields are checked once, as they are written.
    walk(
        input,
        &args.regions,
        args.index.as_deref(),
        args.reference.as_deref(),
        args.threads,
        &mut take_header,
        || drain(1),
        |r, at| {
            if !filter.keeps(r.flag(), r.mapq()) {
                return Ok(());
            }
            let header = header.get().expect("the walk gives the header first");
            rawarrow::bam::push_sam_checked(r, header, at, &path, &mut buf.borrow_mut())?;
            drain(1 << 20);
            Ok(())
        },
    )?;
    if let Some(e) = write_error.into_inner() {
        return Err(e.into());
    }
    let mut out = out.into_inner();
    out.write_all(&buf.borrow())?;
    Ok(out.finish()?)
}

fn convert(mut args: Convert) -> Result {
    // Positional arguments after the first: files are inputs, anything else a region.
    let mut regions = Vec::new();
    let mut inputs = Vec::new();
    for (i, a) in std::mem::take(&mut args.inputs).into_iter().enumerate() {
        if i == 0
            || a.is_file()
            || a.as_os_str() == "-"
            || a.to_str().is_some_and(|s| s.contains("://"))
        {
            inputs.push(a);
        } else {
            regions.push(a.to_string_lossy().into_owned());
        }
    }
    if args.select.count {
        return count(
            &inputs,
            &regions,
            args.index.as_deref(),
            args.reference.as_deref(),
            args.threads,
            args.select.filter(),
            &args.storage.options,
        );
    }
    let options = rawarrow::stream::BamOptions {
        columns: args.columns.clone(),
        tags: args.tags.clone(),
        threads: args.threads,
        batch_rows: Some(args.batch_rows),
        limit: args.limit,
        byte_range: args
            .byte_range
            .as_deref()
            .map(|r| super::pair::<u64>("byte-range", r, "START:END, e.g. 0:1048576"))
            .transpose()?,
        filter: args.select.filter(),
        regions,
        index: args.index.clone(),
        with_file: args.with_file,
        storage_options: args.storage.options.clone(),
        reference: args.reference.clone(),
    };
    let Some(dir) = &args.out_dir else {
        let input = rawarrow::convert::Input::Bam {
            paths: inputs,
            options,
        };
        let target = args.pg.target(args.output.as_deref());
        super::convert(
            &input,
            &args.ipc.output(target, args.threads),
            args.ipc.quiet,
        )?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Checked before anything is read or written: no output is one of the inputs.
    let outputs = inputs
        .iter()
        .map(|path| out_path(dir, path, &args.ipc))
        .collect::<Result<Vec<_>>>()?;
    for out in &outputs {
        rawarrow::convert::check_output(out, &inputs)?;
    }
    for (path, out) in inputs.iter().zip(outputs) {
        let input = rawarrow::convert::Input::Bam {
            paths: vec![path.clone()],
            options: options.clone(),
        };
        let output = args
            .ipc
            .output(rawarrow::convert::Target::Path(out), args.threads);
        super::convert(&input, &output, args.ipc.quiet)?;
    }
    Ok(())
}

/// `DIR/NAME.arrow` (or `.arrows`, `.parquet` after the chosen format) for input `NAME.bam`.
fn out_path(dir: &Path, input: &Path, opts: &super::IpcOptions) -> Result<PathBuf> {
    let stem = input
        .file_stem()
        .map_or_else(|| "out".into(), |s| s.to_os_string());
    let mut name = stem;
    let format = rawarrow::sink::Format::of(Path::new("out.arrow"), opts.format_name())?;
    name.push(".");
    name.push(format.extension());
    Ok(dir.join(name))
}
