#!/usr/bin/env python3
"""In-process Python readers, same file, one run, interleaved (docs/benchmarks-history.md "Python").

    python3 benches/peers/python_readers.py bam BIG.bam [--repeat 3] [--only a,b]
    python3 benches/peers/python_readers.py tdf RUN.d [--repeat 3]
    python3 benches/peers/python_readers.py midi DIR [--repeat 3]

Every job runs in a fresh interpreter (imports excluded from the time) and ends with the whole
input in memory as Arrow (a pyarrow Table or a polars DataFrame), or, for the peers without an
Arrow reader, as the Python objects they build. Prints the median wall time of each job, its
rows, and the ratio to rawarrow's Python path. Peers: `pip install oxbow polars-bio pysam
timsrust_pyo3 symusic pyarrow polars` (versions are printed).
"""
import argparse
import json
import statistics
import subprocess
import sys

PRELUDE = "import sys, time, json\nsrc = sys.argv[1]\n"

BAM = {
    # The Python path: rawarrow's C stream into a pyarrow Table (all 13 columns).
    "rawarrow_pyarrow": """
import pyarrow as pa, rawarrow
t0 = time.perf_counter()
t = pa.RecordBatchReader.from_stream(rawarrow.read_bam(src)).read_all()
rows = t.num_rows
""",
    # The Rust reader alone: every batch decoded and dropped, no Python object per batch but
    # the wrapper.
    "rawarrow_batches": """
import rawarrow
t0 = time.perf_counter()
rows = sum(len(b) for b in rawarrow.read_bam(src))
""",
    # The same, every batch kept (the memory a Table holds: no arena is recycled).
    "rawarrow_batches_kept": """
import rawarrow
t0 = time.perf_counter()
kept = list(rawarrow.read_bam(src))
rows = sum(len(b) for b in kept)
""",
    "rawarrow_polars": """
import polars as pl, rawarrow
t0 = time.perf_counter()
rows = pl.DataFrame(rawarrow.read_bam(src)).height
""",
    # oxbow 0.8: the same eleven SAM fields as an IPC stream in memory, read into a Table.
    "oxbow": """
import oxbow, pyarrow as pa
t0 = time.perf_counter()
FIELDS = ["qname", "flag", "rname", "pos", "mapq", "cigar", "rnext", "pnext", "tlen", "seq", "qual"]
ipc = oxbow.read_bam(src, fields=FIELDS)
if ipc[:6] == b"ARROW1":  # the IPC file format
    t = pa.ipc.open_file(pa.BufferReader(ipc)).read_all()
else:
    t = pa.ipc.open_stream(ipc).read_all()
rows = t.num_rows
""",
    "polars_bio": """
import polars_bio as pb
t0 = time.perf_counter()
rows = pb.read_bam(src).height
""",
    # pysam: a loop building the same columns (tags as samtools prints them), then a Table.
    "pysam": """
import pysam, pyarrow as pa
t0 = time.perf_counter()
cols = {k: [] for k in ["qname", "flag", "rname", "pos", "mapq", "cigar", "rnext", "pnext",
                        "tlen", "seq", "qual", "end", "tags"]}
with pysam.AlignmentFile(src, "rb", threads=2) as f:
    for r in f:
        cols["qname"].append(r.query_name)
        cols["flag"].append(r.flag)
        cols["rname"].append(r.reference_name)
        cols["pos"].append(r.reference_start + 1 if r.reference_start >= 0 else None)
        cols["mapq"].append(r.mapping_quality)
        cols["cigar"].append(r.cigarstring)
        cols["rnext"].append(r.next_reference_name)
        cols["pnext"].append(r.next_reference_start + 1 if r.next_reference_start >= 0 else None)
        cols["tlen"].append(r.template_length)
        cols["seq"].append(r.query_sequence)
        cols["qual"].append(r.qual)
        cols["end"].append(r.reference_end)
        cols["tags"].append("\\t".join(r.to_string().split("\\t")[11:]))
t = pa.table(cols)
rows = t.num_rows
""",
}

TDF = {
    "rawarrow_pyarrow": """
import pyarrow as pa, rawarrow
t0 = time.perf_counter()
rows = pa.RecordBatchReader.from_stream(rawarrow.read_tdf(src)).read_all().num_rows
""",
    # The six columns timsrust's frames hold (frame, scan, tof, intensity, rt, ms_level).
    "rawarrow_pyarrow_6col": """
import pyarrow as pa, rawarrow
t0 = time.perf_counter()
cols = ["frame", "scan", "tof", "intensity", "rt", "ms_level"]
rows = pa.RecordBatchReader.from_stream(rawarrow.read_tdf(src, columns=cols)).read_all().num_rows
""",
    "timsrust_pyo3": """
import timsrust_pyo3
t0 = time.perf_counter()
frames = timsrust_pyo3.read_all_frames(src)
rows = sum(len(f.tof_indices) for f in frames)
""",
}

MIDI = {
    "rawarrow_pyarrow": """
import pyarrow as pa, rawarrow
t0 = time.perf_counter()
rows = pa.RecordBatchReader.from_stream(rawarrow.read_midi(src)).read_all().num_rows
""",
    # symusic: every file parsed (C++) and its notes as numpy arrays, seconds.
    "symusic": """
import glob, os
from symusic import Score
t0 = time.perf_counter()
rows = 0
for p in sorted(glob.glob(os.path.join(src, "**", "*.mid"), recursive=True)):
    s = Score(p, ttype="second")
    rows += sum(len(t.notes.numpy()["time"]) for t in s.tracks)
""",
}

JOBS = {"bam": BAM, "tdf": TDF, "midi": MIDI}


def run(code, src):
    script = PRELUDE + code + "\nprint(json.dumps([time.perf_counter() - t0, rows]))\n"
    out = subprocess.run([sys.executable, "-c", script, src], capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr else "failed"
    secs, rows = json.loads(out.stdout.strip().splitlines()[-1])
    return secs, rows


def versions():
    import importlib.metadata as md

    found = []
    for name in ["rawarrow", "pyarrow", "polars", "oxbow", "polars-bio", "pysam", "timsrust_pyo3", "symusic"]:
        try:
            found.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            pass
    return ", ".join(found)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=JOBS)
    ap.add_argument("src")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    jobs = JOBS[args.kind]
    if args.only:
        jobs = {k: v for k, v in jobs.items() if k in args.only.split(",")}
    times = {k: [] for k in jobs}
    rows = {}
    for _ in range(args.repeat):
        for name, code in jobs.items():
            secs, n = run(code, args.src)
            if secs is None:
                print(f"{name}: {n}", file=sys.stderr)
                continue
            times[name].append(secs)
            rows[name] = n
    print(versions())
    base = statistics.median(times["rawarrow_pyarrow"])
    print(f"| job | median s (runs) | rows | rows/s | rawarrow_pyarrow is N× faster |")
    print("|---|---:|---:|---:|---:|")
    for name, ts in times.items():
        if not ts:
            print(f"| {name} | failed | | | |")
            continue
        m = statistics.median(ts)
        runs = ", ".join(f"{t:.2f}" for t in ts)
        print(f"| {name} | {m:.3f} ({runs}) | {rows[name]:,} | {rows[name] / m:,.0f} | {m / base:.2f} |")


if __name__ == "__main__":
    main()
