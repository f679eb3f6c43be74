#!/usr/bin/env python3
"""Peer for docs/benchmarks-history.md: oxbow reads a whole BAM (all standard fields and the given tags)
and the result is written as an Arrow IPC file, the same job as `rawarrow bam IN -o OUT`.

    python3 benches/peers/oxbow_bam.py IN.bam OUT.arrow [TAG:TYPE ...]
"""
import sys

import oxbow
import pyarrow as pa

src, dst, *tags = sys.argv[1:]
tag_defs = [tuple(t.split(":")) for t in tags] or None
FIELDS = ["qname", "flag", "rname", "pos", "mapq", "cigar", "rnext", "pnext", "tlen", "seq", "qual"]
ipc = oxbow.read_bam(src, fields=FIELDS, tag_defs=tag_defs)
if ipc[:6] == b"ARROW1":  # already the IPC file format: write it out as is
    with open(dst, "wb") as f:
        f.write(ipc)
    rows = pa.ipc.open_file(pa.BufferReader(ipc)).read_all().num_rows
else:
    with pa.ipc.open_stream(ipc) as reader, pa.OSFile(dst, "wb") as sink:
        with pa.ipc.new_file(sink, reader.schema) as writer:
            rows = 0
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
print(f"oxbow: {rows} records", file=sys.stderr)
