"""Reading a ≥ 300 MB BAM from Python keeps memory bounded like the CLI."""

import subprocess
import sys
import textwrap

from conftest import cli_path

CHILD = textwrap.dedent(
    """
    import resource, sys
    import pyarrow as pa, rawarrow
    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    base = peak()
    reader = pa.RecordBatchReader.from_stream(rawarrow.read_bam(sys.argv[1], threads=2))
    rows = 0
    for batch in reader:
        rows += batch.num_rows
    print(rows, base, peak())
    """
)


def test_python_peak_rss_is_within_64_mib_of_the_cli(big_bam, tmp_path):
    path, records = big_bam
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows, base, peak = map(int, out.stdout.split())
    assert rows == records
    run = subprocess.run(
        ["/usr/bin/env", "python3", "-c",
         "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)",
         str(cli_path()), "bam", "--quiet", "-t", "2", str(path), "-o", "/dev/null"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    cli_peak = int(run.stdout)
    # The interpreter and pyarrow are loaded before reading (`base`); what reading adds must
    # stay within 64 MiB of everything the CLI needs.
    assert peak - base <= cli_peak + (64 << 20), (peak - base, cli_peak)
    print(f"python read adds {(peak - base) >> 20} MiB; CLI peak {cli_peak >> 20} MiB")
