#!/usr/bin/env python3
"""A real Arrow client opens what rawarrow writes (run by .ci/run):

    python3 tests/clients/pyarrow_check.py FILE.arrow STREAM.arrows SAM_TEXT.gz

Checks both IPC formats against `samtools view` text: row count, schema, and every QNAME, FLAG,
POS, CIGAR, SEQ and QUAL.
"""
import gzip
import sys

import pyarrow as pa

file_path, stream_path, sam_path = sys.argv[1:]
with gzip.open(sam_path, "rt") as f:
    sam = [line.rstrip("\n").split("\t") for line in f]

tables = [pa.ipc.open_file(file_path).read_all(), pa.ipc.open_stream(pa.OSFile(stream_path)).read_all()]
for table in tables:
    assert table.num_rows == len(sam), (table.num_rows, len(sam))
    expect = ["qname", "flag", "rname", "pos", "mapq", "cigar", "rnext", "pnext", "tlen", "seq", "qual", "end", "bin", "tags"]
    assert table.column_names == expect, table.column_names
    assert pa.types.is_dictionary(table.schema.field("rname").type)
    cols = {name: table.column(name).to_pylist() for name in ["qname", "flag", "pos", "cigar", "seq", "qual", "rname"]}
    for i, f in enumerate(sam):
        assert cols["qname"][i] == (None if f[0] == "*" else f[0]), i
        assert cols["flag"][i] == int(f[1]), i
        assert cols["rname"][i] == (None if f[2] == "*" else f[2]), i
        assert cols["pos"][i] == (None if f[3] == "0" else int(f[3])), i
        assert cols["cigar"][i] == (None if f[5] == "*" else f[5]), i
        assert cols["seq"][i] == (None if f[9] == "*" else f[9]), i
        assert cols["qual"][i] == (None if f[10] == "*" else f[10]), i
print(f"pyarrow {pa.__version__}: {tables[0].num_rows} rows in the IPC file and stream match samtools view")
