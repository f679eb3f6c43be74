#!/usr/bin/env python3
"""rawarrow.ray on a local Ray cluster against the single-process reader (docs/benchmarks-history.md,
"Past one machine").

    python3 benches/peers/ray_bam.py BIG.bam [--workers 2] [--split-mib 32,128] [--repeat 3]

Starts a cluster on loopback (a head without CPUs and N worker nodes of one CPU each), reads
the whole file as a dataset (every block materialized in the object store) for each split size,
and reads it once more in this process with `threads=N` (all columns, a pyarrow Table). Then
measures the per-task overhead: 64 read tasks over a 4,000-record file (tiny splits).
"""
import argparse
import os
import statistics
import time

import pyarrow as pa
import ray
from ray.cluster_utils import Cluster

import rawarrow
import rawarrow.ray


def timed(f, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = f()
        out.append(time.perf_counter() - t0)
    return statistics.median(out), out, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bam")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--split-mib", default="32,128")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(args.workers):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    size = os.path.getsize(args.bam)
    print(f"{args.bam}: {size:,} bytes; {args.workers} worker nodes x 1 CPU; ray {ray.__version__}")

    def single():
        return pa.table(rawarrow.read_bam(args.bam, threads=args.workers)).num_rows

    base, runs, rows = timed(single, args.repeat)
    print(f"| single process, threads={args.workers} | {base:.2f} s ({', '.join(f'{t:.2f}' for t in runs)}) | {rows:,} rows | {rows / base:,.0f} rows/s | 1.00 |")
    for mib in map(int, args.split_mib.split(",")):
        def dataset():
            ds = rawarrow.ray.read_bam(args.bam, split_bytes=mib << 20).materialize()
            return ds.count()

        t, runs, n = timed(dataset, args.repeat)
        tasks = -(-size // (mib << 20))
        print(f"| ray, {tasks} tasks of {mib} MiB | {t:.2f} s ({', '.join(f'{x:.2f}' for x in runs)}) | {n:,} rows | {n / t:,.0f} rows/s | {base / t:.2f} |")

    sample = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "sample.bam")
    sample_size = os.path.getsize(sample)

    def tiny():
        return rawarrow.ray.read_bam(sample, split_bytes=-(-sample_size // 64)).materialize().count()

    t, runs, n = timed(tiny, args.repeat)
    print(f"per-task overhead: 64 tasks over {sample_size:,} bytes ({n} rows) in {t:.2f} s = {t / 64 * 1000:.0f} ms per task on {args.workers} nodes ({t / 64 * args.workers * 1000:.0f} ms of a worker each)")
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main()
