"""rawarrow: BAM, Bruker timsTOF .d and Standard MIDI Files to Apache Arrow at memory speed.

Readers return a :class:`BatchStream`, which follows the Arrow PyCapsule interface, so any
Arrow consumer reads it without a copy and without rawarrow depending on it::

    import pyarrow as pa, polars as pl, duckdb, rawarrow

    table = pa.table(rawarrow.read_bam("x.bam"))                 # pyarrow
    df = pl.DataFrame(rawarrow.read_bam("x.bam", columns=["rname", "pos", "mapq"]))
    s = rawarrow.read_bam("x.bam", columns=["rname"])
    duckdb.sql("select rname, count(*) from s group by rname")   # DuckDB

    for batch in rawarrow.read_midi("songs/"):                    # or batch by batch
        print(batch.num_rows)

``convert_bam``, ``convert_tdf`` and ``convert_midi`` write Arrow IPC files in process, as the
``rawarrow`` command line does, with a progress callback and Ctrl-C handling.

Errors: :class:`FormatError` (a ``ValueError`` with ``path``, ``offset`` and ``record``) for
malformed input, ``OSError`` when a file cannot be opened, ``ValueError`` for a bad option.
"""

from ._rawarrow import (
    BatchStream,
    FormatError,
    RecordBatch,
    __version__,
    convert_bam,
    convert_midi,
    convert_tdf,
    detect,
    read_bam,
    read_midi,
    read_tdf,
)



def dataset(paths, format=None, **options):
    """A ``pyarrow.dataset.Dataset`` over BAM/CRAM files, a timsTOF run or MIDI files whose
    scans push their projection and filter into the reader: DuckDB (``select ... from ds where
    rname = 'chr1' and pos between a and b``), ``ds.to_table(columns=..., filter=...)``, Dask and
    Ray's pyarrow-dataset readers read only the columns, regions (through the index), FLAG and
    MAPQ selections and timsTOF frames and slices the filter allows; pyarrow then applies the
    whole filter, so the rows are exactly the filter's. Needs pyarrow.

    Args:
        paths: as the matching ``read_*`` function takes them.
        format: "bam" (BAM or CRAM), "tdf" or "midi"; default: detected from the first input.
        options: the reader's other keyword arguments (``threads``, ``tags``, ``index``,
            ``reference``, ``storage_options``, ``table``, ``calibration``, ...); the selection
            arguments (columns, regions, flags, MAPQ, frames, slices) come from the query.

    ``get_fragments()`` cuts it as the Ray datasource does (BAM byte ranges, timsTOF frame
    groups, MIDI file lists), each fragment scanned with the same pushdown. Methods that need
    pyarrow's own files (``take``, joins) raise NotImplementedError. What each scan pushed is a
    DEBUG line on the ``rawarrow`` logger.
    """
    from ._dataset import dataset as make

    return make(paths, format, **options)


def scan_bam(paths, **options):
    """``rawarrow.polars.scan_bam``: a lazy polars scan with pushdown (needs polars)."""
    from .polars import scan_bam as scan

    return scan(paths, **options)


def scan_tdf(path, **options):
    """``rawarrow.polars.scan_tdf``: a lazy polars scan with pushdown (needs polars)."""
    from .polars import scan_tdf as scan

    return scan(path, **options)


def scan_midi(paths, **options):
    """``rawarrow.polars.scan_midi``: a lazy polars scan (needs polars)."""
    from .polars import scan_midi as scan

    return scan(paths, **options)


__all__ = [
    "BatchStream",
    "FormatError",
    "RecordBatch",
    "__version__",
    "convert_bam",
    "convert_midi",
    "convert_tdf",
    "dataset",
    "detect",
    "read_bam",
    "read_midi",
    "read_tdf",
    "scan_bam",
    "scan_midi",
    "scan_tdf",
]
