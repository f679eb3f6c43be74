//! Every option of every surface, declared once: the readers' options ([`BAM`], [`TDF`],
//! [`MIDI`]) and the conversions' output options ([`OUTPUT`]), each with its name, its default
//! and what it does, and how the command line, Python and C spell it — or why a surface has
//! no such option.
//!
//! The library's option structs ([`crate::stream::BamOptions`], [`crate::stream::TdfOptions`],
//! [`crate::stream::MidiOptions`], [`crate::convert::Output`]) hold the values and check them
//! (zero threads, an unknown table or calibration, a half-open range: usage errors); the
//! surfaces only carry values into them. `tests/options.rs` reads `rawarrow bam|tdf|midi
//! --help`, the Python stub (`python/rawarrow/__init__.pyi`) and the C header
//! (`capi/include/rawarrow.h`) and fails when any surface gains, loses or renames an option
//! without this list saying so; Python's test suite checks the compiled functions against the
//! stub.
//!
//! ```
//! let threads = rawarrow::options::BAM.iter().find(|o| o.name == "threads");
//! let threads = threads.expect("every reader has threads");
//! assert_eq!(threads.cli, rawarrow::options::Cli::Flag("--threads"));
//! ```
#![forbid(unsafe_code)]

/// How the command line spells an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    /// A long flag (`--threads`).
    Flag(&'static str),
    /// Positional arguments (the value name clap shows).
    Positional(&'static str),
    /// Not on the command line, for this reason.
    Absent(&'static str),
}

/// How the C ABI spells an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum C {
    /// These fields of the options struct (`struct rawarrow_bam_options`, ...; output options:
    /// `struct rawarrow_output`).
    Fields(&'static [&'static str]),
    /// Not in C, for this reason.
    Absent(&'static str),
}

/// How Python spells an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Python {
    /// A keyword argument of this name of `read_*` and `convert_*` (reader options) or of
    /// `convert_*` (output options; `output` is the second positional argument).
    Keyword(&'static str),
    /// Not in Python, for this reason.
    Absent(&'static str),
}

/// One option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    /// The library's name (the option struct's field, or the [`crate::convert::Output`] part).
    pub name: &'static str,
    /// The default, in words.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// The command line's spelling.
    pub cli: Cli,
    /// Python's spelling.
    pub python: Python,
    /// C's spelling.
    pub c: C,
    /// The formats an output option applies to (`bam`, `tdf`, `midi`); empty: all.
    pub formats: &'static [&'static str],
}

const fn opt(name: &'static str, default: &'static str, doc: &'static str) -> Opt {
    Opt {
        name,
        default,
        doc,
        cli: Cli::Absent(""),
        python: Python::Keyword(name),
        c: C::Absent(""),
        formats: &[],
    }
}

impl Opt {
    const fn cli(mut self, flag: &'static str) -> Self {
        self.cli = Cli::Flag(flag);
        self
    }

    const fn positional(mut self, value_name: &'static str) -> Self {
        self.cli = Cli::Positional(value_name);
        self
    }

    const fn no_cli(mut self, why: &'static str) -> Self {
        self.cli = Cli::Absent(why);
        self
    }

    const fn c(mut self, fields: &'static [&'static str]) -> Self {
        self.c = C::Fields(fields);
        self
    }

    const fn no_c(mut self, why: &'static str) -> Self {
        self.c = C::Absent(why);
        self
    }

    const fn no_python(mut self, why: &'static str) -> Self {
        self.python = Python::Absent(why);
        self
    }

    const fn only(mut self, formats: &'static [&'static str]) -> Self {
        self.formats = formats;
        self
    }
}

const THREADS: Opt = opt(
    "threads",
    "the cores this process may use",
    "worker threads (reading, decoding and encoding the output); 0 is a usage error",
)
.cli("--threads")
.c(&["threads"]);

/// The BAM reader's options ([`crate::stream::BamOptions`]).
pub const BAM: &[Opt] = &[
    opt(
        "columns",
        "all",
        "the columns to decode, kept in schema order",
    )
    .cli("--columns")
    .c(&["columns"]),
    opt("tags", "none", "typed tag columns: TAG or TAG:TYPE")
        .cli("--tag")
        .c(&["tags"]),
    THREADS,
    opt("batch_rows", "65,536", "rows per batch")
        .cli("--batch-rows")
        .c(&["batch_rows"]),
    opt(
        "limit",
        "no limit",
        "stop after this many records of each input",
    )
    .cli("--limit")
    .c(&["limit"]),
    opt(
        "byte_range",
        "the whole file",
        "only the records that begin in BGZF blocks at compressed offsets START..END",
    )
    .cli("--byte-range")
    .c(&["byte_range_start", "byte_range_end"]),
    opt(
        "min_mapq",
        "0",
        "only records with MAPQ at least this (samtools view -q)",
    )
    .cli("--min-mapq")
    .c(&["min_mapq"]),
    opt(
        "require_flags",
        "0",
        "only records with all these FLAG bits (samtools view -f)",
    )
    .cli("--require-flags")
    .c(&["require_flags"]),
    opt(
        "exclude_flags",
        "0",
        "only records with none of these FLAG bits (samtools view -F)",
    )
    .cli("--exclude-flags")
    .c(&["exclude_flags"]),
    opt(
        "regions",
        "the whole file",
        "only records overlapping these regions (samtools' syntax)",
    )
    .positional("IN.bam [REGION]")
    .c(&["regions", "n_regions"]),
    opt(
        "index",
        "the one beside the input",
        "the BAI or CSI index for the regions",
    )
    .cli("--index")
    .c(&["index"]),
    opt(
        "with_file",
        "off",
        "add a file column naming each row's input",
    )
    .cli("--with-file")
    .c(&["with_file"]),
    opt(
        "storage_options",
        "the environment's",
        "settings of inputs given as URLs (endpoint, region, credentials, timeouts, \
         fetch_bytes, fetch_concurrency, retries, aws_profile)",
    )
    .cli("--storage-option")
    .no_c("C callers configure URL inputs by the environment (AWS_*, GOOGLE_*, AZURE_*)"),
    opt(
        "reference",
        "none (slices without a reference, or with one embedded)",
        "the reference FASTA of CRAM inputs whose bases are stored against one (its .fai \
         beside it, else an index built in memory); sequences it lacks are looked up by MD5 \
         in REF_CACHE and REF_PATH, then by the @SQ line's UR, as htslib does",
    )
    .cli("--reference")
    .c(&["reference"]),
];

/// The timsTOF reader's options ([`crate::stream::TdfOptions`]).
pub const TDF: &[Opt] = &[
    opt(
        "table",
        "peaks (spectra for an MGF output)",
        "peaks, precursors, spectra or windows",
    )
    .cli("--table")
    .c(&["table"]),
    opt(
        "ms_level",
        "all frames",
        "only frames of this MS level (1 or 2)",
    )
    .cli("--ms-level")
    .c(&["ms_level"]),
    opt(
        "frames",
        "all frames",
        "only frames with ids in FIRST..=LAST",
    )
    .cli("--frames")
    .c(&["first_frame", "last_frame"]),
    opt(
        "rt",
        "no limit",
        "only frames or precursors with retention time in [LOW, HIGH] s",
    )
    .cli("--rt")
    .c(&["rt_low", "rt_high"]),
    opt(
        "mobility",
        "no limit",
        "only scans or precursors with 1/K0 in [LOW, HIGH]",
    )
    .cli("--mobility")
    .c(&["mobility_low", "mobility_high"]),
    opt(
        "mz",
        "no limit",
        "only peaks or precursors with m/z in [LOW, HIGH]",
    )
    .cli("--mz")
    .c(&["mz_low", "mz_high"]),
    opt(
        "centroid",
        "profile spectra",
        "spectra centroided over this many TOF indices",
    )
    .cli("--centroid")
    .c(&["centroid"]),
    opt(
        "calibration",
        "auto",
        "the m/z and 1/K0 models: auto, bruker or estimate",
    )
    .cli("--calibration")
    .c(&["calibration"]),
    opt("columns", "all", "only these columns, kept in schema order")
        .cli("--columns")
        .c(&["columns"]),
    THREADS,
    opt(
        "batch_rows",
        "262,144",
        "target rows per batch (whole frames)",
    )
    .cli("--batch-rows")
    .c(&["batch_rows"]),
    opt(
        "storage_options",
        "the environment's",
        "settings of a run given as a URL prefix (its analysis.tdf and analysis.tdf_bin under it)",
    )
    .cli("--storage-option")
    .no_c("C callers configure URL inputs by the environment (AWS_*, GOOGLE_*, AZURE_*)"),
];

/// The MIDI reader's options ([`crate::stream::MidiOptions`] and the list input of
/// [`crate::convert::Input::Midi`]).
pub const MIDI: &[Opt] = &[
    opt("table", "notes", "notes or files")
        .cli("--table")
        .c(&["table"]),
    THREADS,
    opt(
        "files_per_batch",
        "256",
        "files per job and per notes batch",
    )
    .cli("--files-per-batch")
    .c(&["files_per_batch"]),
    opt(
        "velocity_threshold",
        "0",
        "onsets ignore notes with velocity at or below this",
    )
    .cli("--velocity-threshold")
    .c(&["velocity_threshold"]),
    opt(
        "merge_window_ms",
        "30",
        "notes this close to an onset join it (milliseconds)",
    )
    .cli("--merge-window-ms")
    .c(&["merge_window_ms"]),
    opt(
        "key_profile",
        "krumhansl",
        "the key estimate's profile: krumhansl, aarden, temperley",
    )
    .cli("--key-profile")
    .c(&["key_profile"]),
    opt(
        "from_list",
        "none",
        "also the files listed in this file, one path per line (-: standard input)",
    )
    .cli("--from-list")
    .no_python("a Python caller passes the listed paths themselves")
    .no_c("a C caller passes the listed paths themselves"),
    opt(
        "storage_options",
        "the environment's",
        "settings of inputs given as URLs (a URL ending in / is every MIDI object under it)",
    )
    .cli("--storage-option")
    .no_c("C callers configure URL inputs by the environment (AWS_*, GOOGLE_*, AZURE_*)"),
];

/// The conversions' output options ([`crate::convert::Output`]).
pub const OUTPUT: &[Opt] = &[
    opt(
        "output",
        "required without postgres",
        "the output file (-: standard output)",
    )
    .cli("--output")
    .c(&["path"]),
    opt(
        "format",
        "from the output's extension",
        "ipc, stream, parquet, mgf or sam",
    )
    .cli("--format")
    .c(&["format"]),
    opt(
        "compression",
        "none for IPC, zstd for Parquet",
        "none, lz4 or zstd",
    )
    .cli("--compression")
    .c(&["compression"]),
    opt(
        "postgres",
        "none",
        "write into PostgreSQL at this URL instead of a file",
    )
    .cli("--postgres")
    .c(&["postgres"]),
    opt("schema", "public", "the PostgreSQL schema")
        .cli("--schema")
        .c(&["schema"]),
    opt("pg_table", "the stream's own name", "the PostgreSQL table")
        .cli("--pg-table")
        .c(&["pg_table"]),
    opt(
        "resume",
        "off",
        "continue after what an interrupted run committed",
    )
    .cli("--resume")
    .c(&["resume"]),
    opt(
        "files",
        "none",
        "MIDI: also write the files table to this path",
    )
    .cli("--files")
    .c(&["files"])
    .only(&["midi"]),
    opt("stats", "none", "write run statistics as JSON to this path")
        .cli("--stats")
        .c(&["stats"]),
    opt(
        "progress",
        "none",
        "called as the conversion goes; may stop it",
    )
    .no_cli("the command line draws a progress bar on a terminal (--quiet: none)")
    .c(&["progress", "context"]),
    opt(
        "quiet",
        "off",
        "no progress bar and no summary line on stderr",
    )
    .cli("--quiet")
    .no_python("Python prints nothing unless progress=True")
    .no_c("the C library prints nothing"),
    opt(
        "stream",
        "off",
        "the IPC stream format (the same as --format stream)",
    )
    .cli("--stream")
    .no_python("format=\"stream\"")
    .no_c("format = \"stream\""),
    opt(
        "out_dir",
        "none",
        "BAM: one output per input, in this folder",
    )
    .cli("--out-dir")
    .no_python("call convert_bam once per input")
    .no_c("call rawarrow_bam_convert once per input")
    .only(&["bam"]),
    opt(
        "count",
        "off",
        "BAM: count the records instead (samtools view -c)",
    )
    .cli("--count")
    .no_python("len() of read_bam's batches")
    .no_c("the rows of rawarrow_bam_open's stream")
    .only(&["bam"]),
];
