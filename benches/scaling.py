#!/usr/bin/env python3
"""Where a run's CPU goes, per thread role, and what that predicts on more cores.

Runs a command once per thread count --repeat times for wall and CPU seconds (the fastest run
kept), then once under `perf record` (software clock, every thread), and reports for each count:
wall and CPU seconds, the share of CPU samples of each thread role (the
pools name their threads ROLE-i: inflate, decode, frames, spectra, files, write, encode; the
calling thread is the process name), and Amdahl's projection from the calling thread's share s
— the serial part that no number of workers shortens:

    speed-up on N cores = 1 / (s + (1 - s) / N)      (against the same work on one core)

Where a machine with more cores is lent, list the thread counts up to its cores to put the
measured curve next to the projection.

    python3 benches/scaling.py --threads 1,2 -- \\
        target/release/rawarrow bam big.bam -o /dev/null -t {t} --quiet --stats {stats}

`{t}` in the command is replaced by the thread count. With `{stats}` (a rawarrow run's
`--stats` file), the shares come from the run's own per-thread CPU times instead of perf: a BAM
reader's workers both inflate and decode (one crew), and the statistics divide each worker's
time between its roles by the time its tasks took, which perf's per-thread samples cannot.
"""

import argparse
import collections
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def timed(cmd):
    """Wall and CPU seconds (user + sys) of one plain run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def profiled(cmd, perf_data):
    """One run under perf record, every thread sampled (software clock)."""
    proc = subprocess.run(
        ["perf", "record", "-F", "999", "-q", "-o", perf_data, "--", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"perf record {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")


def shares(perf_data, main_comm):
    out = subprocess.run(
        ["perf", "report", "-i", perf_data, "--sort", "comm", "--stdio", "-q"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    roles = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if not m:
            continue
        comm = m.group(2)
        role = "calling thread" if comm == main_comm else re.sub(r"-\d+$", "", comm)
        roles[role] += float(m.group(1)) / 100
    return roles


def stats_shares(path):
    """Role shares of CPU from a rawarrow `--stats` file."""
    import json

    with open(path) as f:
        by_role = json.load(f)["cpu_seconds_by_role"]
    total = sum(by_role.values()) or 1.0
    return collections.Counter(
        {("calling thread" if r == "main" else r): s / total for r, s in by_role.items()}
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--cores", default="16,64,256", help="core counts to project to")
    ap.add_argument("--repeat", type=int, default=3, help="runs per thread count (the fastest is kept)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- COMMAND with {t} for the thread count")
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command")
    own_stats = any("{stats}" in c for c in cmd)
    if not own_stats and shutil.which("perf") is None:
        sys.exit("perf is needed (apt-get install linux-perf), or a rawarrow command with --stats {stats}")
    main_comm = os.path.basename(cmd[0])[:15]
    cores = [int(c) for c in a.cores.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        stats = os.path.join(tmp, "stats.json")
        for t in [int(x) for x in a.threads.split(",")]:
            argv = [c.replace("{t}", str(t)).replace("{stats}", stats) for c in cmd]
            runs = []
            for _ in range(a.repeat):
                wall, cpu = timed(argv)
                runs.append((wall, cpu, stats_shares(stats) if own_stats else None))
            wall, cpu, share = min(runs, key=lambda r: r[0])
            if share is None:
                profiled(argv, data)
                share = shares(data, main_comm)
            rows.append((t, wall, cpu, share))
    print(f"command: {' '.join(cmd)}\n")
    roles = sorted({r for row in rows for r in row[3]}, key=lambda r: (r != "calling thread", r))
    print("| threads | wall s | CPU s | " + " | ".join(roles) + " | " + " | ".join(f"Amdahl {n}" for n in cores) + " |")
    print("|---" * (3 + len(roles) + len(cores)) + "|")
    base = rows[0][1] * rows[0][0] if rows[0][0] == 1 else None
    for t, wall, cpu, share in rows:
        s = share.get("calling thread", 0.0)
        # One thread runs inline (the calling thread does everything): nothing to project.
        proj = [None if t == 1 else 1 / (s + (1 - s) / n) if s > 0 else float(n) for n in cores]
        print(
            f"| {t} | {wall:.3f} | {cpu:.3f} | "
            + " | ".join(f"{100 * share.get(r, 0):.1f} %" for r in roles)
            + " | "
            + " | ".join("—" if p is None else f"{p:.1f}×" for p in proj)
            + " |"
        )
    if base is not None:
        print()
        for t, wall, _, _ in rows[1:]:
            print(f"measured speed-up at {t} threads: {rows[0][1] / wall:.2f}× (wall, against 1 thread)")


if __name__ == "__main__":
    main()
