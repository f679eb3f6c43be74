#!/usr/bin/env python3
"""One lazy-scan job per process, for whole-process A/B timing (BENCHMARKS.md, "Lazy scans").

    python3 benches/peers/scans.py JOB INPUT [ARGS]

BAM jobs (INPUT an indexed BAM; ARGS: REFERENCE START END, 1-based inclusive):
    scan-region        rawarrow.polars.scan_bam(p).filter(rname, pos in [START, END]).collect()
    eager-region       pl.DataFrame(rawarrow.read_bam(p)).filter(the same)
    polars-bio-region  polars_bio.scan_bam(p).filter(chrom, start in [START, END]).collect()
    scan-all           scan_bam(p).collect()            (every column)
    scan-proj2         scan_bam(p).select("pos", "mapq").collect()
    duckdb-dataset     DuckDB: select count(*), avg(mapq) ... where rname, pos between, over
                       rawarrow.dataset(p)
    duckdb-stream      the same query over the plain stream rawarrow.read_bam(p)
timsTOF jobs (INPUT a .d folder; ARGS: RT_LO RT_HI seconds):
    tdf-scan-rt        rawarrow.polars.scan_tdf(p).filter(rt in [RT_LO, RT_HI]).collect()
    tdf-eager-rt       pl.DataFrame(rawarrow.read_tdf(p)).filter(the same)

Prints the rows kept, so that both sides of a pair can be seen to agree. With
RAWARROW_BENCH_REPEAT=N the job also runs N more times in the same process and the median of
those in-process times is printed (the interpreter and imports left out).
"""

import sys

import polars as pl


def main() -> None:
    import os
    import statistics
    import time

    repeat = int(os.environ.get("RAWARROW_BENCH_REPEAT", "0"))
    rows = job_once(*sys.argv[1:])
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        job_once(*sys.argv[1:])
        times.append(time.perf_counter() - t)
    print(rows, f"in-process median {statistics.median(times):.4f} s" if times else "")


def job_once(job, path, *args) -> int:
    if job.startswith("tdf-"):
        lo, hi = map(float, args)
        pred = pl.col("rt").is_between(lo, hi)
        if job == "tdf-scan-rt":
            import rawarrow.polars as rp
            df = rp.scan_tdf(path).filter(pred).collect()
        else:
            import rawarrow
            df = pl.DataFrame(rawarrow.read_tdf(path)).filter(pred)
    elif job == "polars-bio-region":
        import polars_bio as pb
        ref, start, end = args[0], int(args[1]), int(args[2])
        # polars-bio's start is 0-based unless told otherwise.
        lf = pb.scan_bam(path, use_zero_based=False)
        df = lf.filter((pl.col("chrom") == ref) & pl.col("start").is_between(start, end)).collect()
    else:
        import rawarrow
        import rawarrow.polars as rp
        if job in ("scan-region", "eager-region"):
            ref, start, end = args[0], int(args[1]), int(args[2])
            pred = (pl.col("rname") == ref) & pl.col("pos").is_between(start, end)
            if job == "scan-region":
                df = rp.scan_bam(path).filter(pred).collect()
            else:
                df = pl.DataFrame(rawarrow.read_bam(path)).filter(pred)
        elif job in ("duckdb-dataset", "duckdb-stream"):
            import duckdb
            ref, start, end = args[0], int(args[1]), int(args[2])
            src = rawarrow.dataset(path) if job == "duckdb-dataset" else rawarrow.read_bam(path)
            con = duckdb.connect()
            con.register("reads", src)
            n, _ = con.sql(f"select count(*), avg(mapq) from reads where rname = '{ref}' "
                           f"and pos between {start} and {end}").fetchall()[0]
            return n
        elif job == "scan-all":
            df = rp.scan_bam(path).collect()
        elif job == "scan-proj2":
            df = rp.scan_bam(path).select("pos", "mapq").collect()
        else:
            sys.exit(f"unknown job {job}")
    return df.height


if __name__ == "__main__":
    main()
