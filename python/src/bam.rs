//! `read_bam`, `convert_bam` and the Ray datasource's BAM plan.

use std::path::PathBuf;

use pyo3::prelude::*;
use rawarrow::stream::{BamOptions, BatchStream as Stream};

use crate::*;

/// The record selection options read_bam and convert_bam share.
pub(crate) struct Select {
    min_mapq: u8,
    require_flags: Option<String>,
    exclude_flags: Option<String>,
    regions: Option<Vec<String>>,
    index: Option<PathBuf>,
    with_file: bool,
    storage_options: Vec<(String, String)>,
    reference: Option<PathBuf>,
}

impl Select {
    /// FLAG bits come as an int or as samtools' text ("0x904", "UNMAP,SECONDARY"); the
    /// library parses both.
    #[allow(clippy::too_many_arguments)]
    fn new(
        min_mapq: u8,
        require_flags: Option<&Bound<'_, PyAny>>,
        exclude_flags: Option<&Bound<'_, PyAny>>,
        regions: Option<Vec<String>>,
        index: Option<PathBuf>,
        with_file: bool,
        storage_options: Option<std::collections::BTreeMap<String, String>>,
        reference: Option<PathBuf>,
    ) -> PyResult<Self> {
        let text = |v: Option<&Bound<'_, PyAny>>| -> PyResult<Option<String>> {
            v.map(|v| Ok(v.str()?.to_string())).transpose()
        };
        Ok(Self {
            min_mapq,
            require_flags: text(require_flags)?,
            exclude_flags: text(exclude_flags)?,
            regions,
            index,
            with_file,
            storage_options: storage_options.unwrap_or_default().into_iter().collect(),
            reference,
        })
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn bam_options(
    py: Python<'_>,
    columns: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    limit: Option<u64>,
    byte_range: Option<(u64, u64)>,
    select: Select,
) -> PyResult<BamOptions> {
    let flags = |t: &Option<String>| -> PyResult<u16> {
        t.as_deref()
            .map_or(Ok(0), rawarrow::bam::parse_flags)
            .map_err(|e| py_err(py, e))
    };
    Ok(BamOptions {
        columns,
        tags: tags.unwrap_or_default(),
        threads,
        batch_rows,
        limit,
        byte_range,
        filter: rawarrow::bam::Filter::default()
            .min_mapq(select.min_mapq)
            .require_flags(flags(&select.require_flags)?)
            .exclude_flags(flags(&select.exclude_flags)?),
        regions: select.regions.unwrap_or_default(),
        index: select.index,
        with_file: select.with_file,
        storage_options: select.storage_options,
        reference: select.reference,
    })
}

/// Reads BAM files as a stream of Arrow record batches, in file order.
///
/// Args:
///     paths: a path (str or os.PathLike) or a sequence of paths. Several files go into one
///         stream, one after the other; they must have the same references. Or a binary
///         file object (anything with `read`: an open file, a socket's file, an fsspec or
///         smart_open file, sys.stdin.buffer): read as it arrives, as a pipe is, from a reader
///         thread that takes the GIL for each read; regions and byte_range need a path.
///     columns: names of the columns to decode (kept in schema order; skipped columns cost
///         nothing). Default: all of qname, flag, rname, pos, mapq, cigar, rnext, pnext, tlen,
///         seq, qual, end, bin, tags.
///     tags: typed aux-tag columns appended after the others, e.g. ["NM", "XF:f", "ZB:B"]:
///         "TAG" (type from the tag's first records) or "TAG:TYPE" with TYPE i (Int64),
///         f (Float32), Z (Utf8, any value as its SAM text), B (List<Int64>), B:f
///         (List<Float32>). Null where a record lacks the tag.
///     threads: threads in all (default: the cores this process may use), each inflating or
///         decoding, whichever job is queued first; 1 reads on the calling thread.
///     batch_rows: rows per batch (default 65,536).
///     limit: stop after this many records of each file.
///     byte_range: (start, end): only the records that begin in BGZF blocks at compressed
///         offsets start..end of the one input, found without an index; the splits of any
///         partition of a file's bytes give every record once (what rawarrow.ray plans).
///     min_mapq: only records with MAPQ at least this (255 passes; samtools view -q).
///     storage_options: settings of paths given as URLs (s3://, gs://, az://, https://), a
///         dict as polars and pyarrow take it: endpoint, region, credentials, timeouts as
///         object_store names them ("aws_endpoint", "aws_region", "timeout", ...), and
///         "fetch_bytes", "fetch_concurrency", "retries". The environment (AWS_*, GOOGLE_*,
///         AZURE_*) is read first; these win. No secret is ever put in an error.
///     require_flags, exclude_flags: only records with all of / none of these FLAG bits: an
///         int, or samtools' text ("0x904", "UNMAP,SECONDARY"); samtools view -f / -F.
///         Applied before anything else is decoded; `limit` counts records kept.
///     regions: only records overlapping these regions, samtools' syntax ("chr1",
///         "chr1:1,000-2,000", "{name:with:colons}:1-9", "*"), in the order given, read
///         through the index beside each file (IN.bam.bai, IN.bai, IN.bam.csi, IN.csi).
///     index: the BAI/CSI index for regions (one input only).
///     with_file: add a `file` column (Dictionary(Int32, Utf8): the input's path).
///     reference: the reference FASTA of CRAM inputs whose bases are stored against one
///         (its .fai beside it, else an index built in memory). A CRAM file is read wherever a
///         BAM is (same schema); CRAM written with no_ref or embed_ref needs none, and
///         sequences the FASTA lacks are found by MD5 in REF_CACHE/REF_PATH, then by the @SQ
///         line's UR, as htslib finds them.
///
/// Schema: qname Utf8 (null for "*"), flag UInt16, rname Dictionary(Int32, Utf8) (null when
/// unmapped), pos Int32 (1-based, null for 0), mapq UInt8 (null for 255), cigar Utf8 (the real
/// CIGAR when stored in a CG:B,I tag), rnext Dictionary(Int32, Utf8) (the reference name, never
/// "="), pnext Int32, tlen Int32, seq Utf8, qual Utf8 (phred+33; > 93 written as "~"), end
/// Int32 (1-based inclusive alignment end), bin UInt16 (the BAI bin samtools index files the
/// record under; null past 2^29), tags Utf8 (every aux field as samtools view prints
/// it, tab-separated).
///
/// Returns a BatchStream: iterate it for RecordBatch objects, or give it to
/// pyarrow.RecordBatchReader.from_stream, polars.DataFrame or duckdb.sql.
///
/// Raises FormatError (a ValueError with path, offset and record) for malformed input,
/// OSError when a file cannot be opened, ValueError for a bad option.
#[pyfunction]
#[pyo3(signature = (paths, *, columns=None, tags=None, threads=None, batch_rows=None, limit=None, byte_range=None, min_mapq=0, require_flags=None, exclude_flags=None, regions=None, index=None, with_file=false, storage_options=None, reference=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_bam(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    columns: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    limit: Option<u64>,
    byte_range: Option<(u64, u64)>,
    min_mapq: u8,
    require_flags: Option<&Bound<'_, PyAny>>,
    exclude_flags: Option<&Bound<'_, PyAny>>,
    regions: Option<Vec<String>>,
    index: Option<PathBuf>,
    with_file: bool,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
    reference: Option<PathBuf>,
) -> PyResult<PyBatchStream> {
    let reader = file_object(paths)?;
    let paths = match reader {
        Some(_) => Vec::new(),
        None => self::paths(paths)?,
    };
    let select = Select::new(
        min_mapq,
        require_flags,
        exclude_flags,
        regions,
        index,
        with_file,
        storage_options,
        reference,
    )?;
    let options = bam_options(
        py, columns, tags, threads, batch_rows, limit, byte_range, select,
    )?;
    match reader {
        Some((name, reader)) => open(py, move || {
            let input = rawarrow::io::Input::stream(name, Box::new(reader));
            Stream::bam_inputs(vec![input], &options)
        }),
        None => open(py, || Stream::bam(&paths, &options)),
    }
}

/// Converts BAM files to one Arrow IPC file in process, as `rawarrow bam` does.
///
/// Args:
///     inputs: a path or a sequence of paths (same references), or a binary file object
///         read as it arrives (as for read_bam).
///     output: the destination: .arrow/.feather/.ipc (IPC file), .arrows (IPC stream) or
///         .parquet (Parquet: zstd, 1,048,576-row groups, statistics, the Arrow schema
///         embedded), or any name with `format`. Written under a temporary name and renamed
///         when complete: an error or Ctrl-C leaves nothing. Or a binary file object
///         (anything with `write`: io.BytesIO, an open file, a socket's file): written as
///         standard output is, the IPC file format unless `format` says; what was written
///         before an error stays in it.
///     format: "ipc" (file), "stream", "parquet" or "sam" (SAM text, as `samtools view -h`
///         prints it; "mgf" for convert_tdf's spectra); default: from the output name (.sam:
///         SAM, .mgf: MGF).
///     compression: "none", "lz4" or "zstd"; default: none for IPC, zstd for Parquet.
///     postgres: write into PostgreSQL instead of `output` (a URL such as
///         "postgresql://user@host/db" or "host=/run/postgresql dbname=db"): the table is
///         created if missing, else appended to, by binary COPY. MIDI notes (with their files
///         table) and timsTOF peaks commit each batch in its own transaction; other tables
///         commit once at the end, so a stopped conversion leaves nothing.
///     schema: the PostgreSQL schema (default "public"); pg_table: the table (default:
///         records, peaks, precursors, spectra, windows or notes).
///     resume: continue after what a stopped run committed (MIDI files already in the files
///         table are skipped; timsTOF peaks start after the table's last frame); a table
///         without such a key (BAM records) is a ValueError.
///     threads: also the output's encoding workers (with more than one, IPC compression and
///         Parquet column chunks are encoded on them and a writer thread writes the file; the
///         bytes are those one thread writes).
///     stats: write run statistics here as JSON (bytes in and out, rows, wall time per phase,
///         CPU seconds per thread and role, peak memory), as the CLI's --stats.
///     columns, tags, threads, batch_rows, limit, byte_range, min_mapq, require_flags,
///         exclude_flags, regions, index, with_file, storage_options, reference: as for read_bam.
///     progress: a callable called with (records, input bytes done, input bytes total) at most
///         ten times a second and once at the end, or True for a progress bar on a terminal.
///
/// Returns (rows written, seconds). The GIL is released while converting; Ctrl-C raises
/// KeyboardInterrupt within one batch, after the workers are joined and the partial file is
/// removed; an exception raised by the progress callable stops the conversion the same way.
#[pyfunction]
#[pyo3(signature = (inputs, output=None, *, format=None, compression=None, postgres=None, schema=None, pg_table=None, resume=false, stats=None, columns=None, tags=None, threads=None, batch_rows=None, limit=None, byte_range=None, progress=None, min_mapq=0, require_flags=None, exclude_flags=None, regions=None, index=None, with_file=false, storage_options=None, reference=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn convert_bam(
    py: Python<'_>,
    inputs: &Bound<'_, PyAny>,
    output: Option<&Bound<'_, PyAny>>,
    format: Option<String>,
    compression: Option<&str>,
    postgres: Option<String>,
    schema: Option<String>,
    pg_table: Option<String>,
    resume: bool,
    stats: Option<PathBuf>,
    columns: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    threads: Option<usize>,
    batch_rows: Option<usize>,
    limit: Option<u64>,
    byte_range: Option<(u64, u64)>,
    progress: Option<&Bound<'_, PyAny>>,
    min_mapq: u8,
    require_flags: Option<&Bound<'_, PyAny>>,
    exclude_flags: Option<&Bound<'_, PyAny>>,
    regions: Option<Vec<String>>,
    index: Option<PathBuf>,
    with_file: bool,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
    reference: Option<PathBuf>,
) -> PyResult<(u64, f64)> {
    let reader = file_object(inputs)?;
    let paths = match reader {
        Some(_) => Vec::new(),
        None => self::paths(inputs)?,
    };
    let select = Select::new(
        min_mapq,
        require_flags,
        exclude_flags,
        regions,
        index,
        with_file,
        storage_options,
        reference,
    )?;
    let options = bam_options(
        py, columns, tags, threads, batch_rows, limit, byte_range, select,
    )?;
    let pg = Pg {
        postgres,
        schema,
        pg_table,
        resume,
        stats,
    };
    let out = self::output(dest(output)?, pg, format, compression, None, threads)
        .map_err(|e| py_err(py, e))?;
    let s = match reader {
        Some((name, reader)) => {
            let input = rawarrow::io::Input::stream(name, Box::new(reader));
            let open = move || Stream::bam_inputs(vec![input], &options);
            run_convert(
                py,
                crate::convert::Conversion::Stream(Box::new(open)),
                out,
                progress,
            )?
        }
        None => {
            let input = rawarrow::convert::Input::Bam { paths, options };
            run_convert(py, input, out, progress)?
        }
    };
    Ok((s.rows, s.seconds))
}

/// Plans byte-range splits of BAM files: [(path, start, end)] (used by rawarrow.ray). Paths
/// may be URLs; one ending in "/" is every .bam object under that prefix.
#[pyfunction]
#[pyo3(signature = (paths, split_bytes, storage_options=None))]
pub(crate) fn _plan_bam(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    split_bytes: u64,
    storage_options: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<Vec<(String, u64, u64)>> {
    let paths = self::paths(paths)?;
    let storage: Vec<(String, String)> = storage_options.unwrap_or_default().into_iter().collect();
    let splits = py
        .detach(|| rawarrow::stream::plan("bam", &paths, split_bytes, &storage))
        .map_err(|e| py_err(py, e))?;
    Ok(splits
        .into_iter()
        .filter_map(|s| match s {
            rawarrow::stream::Split::Bam { path, start, end } => Some((text(&path), start, end)),
            _ => None,
        })
        .collect())
}
