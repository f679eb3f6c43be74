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

__all__ = [
    "BatchStream",
    "FormatError",
    "RecordBatch",
    "__version__",
    "convert_bam",
    "convert_midi",
    "convert_tdf",
    "detect",
    "read_bam",
    "read_midi",
    "read_tdf",
]
