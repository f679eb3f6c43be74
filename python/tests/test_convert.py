"""convert_* in process: the CLI's output, progress, Ctrl-C, no partial files."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pytest

import rawarrow
from conftest import DATA, MIDI_SEEDS, cli, read_ipc


def test_convert_bam_equals_the_cli(tmp_path):
    ours, theirs = tmp_path / "py.arrow", tmp_path / "cli.arrow"
    rows, secs = rawarrow.convert_bam(DATA / "sample.bam", ours, compression="zstd", tags=["NM"])
    cli("bam", "--quiet", DATA / "sample.bam", "-o", theirs, "--compression", "zstd", "--tag", "NM")
    assert rows == 4000 and secs >= 0
    assert read_ipc(ours).equals(read_ipc(theirs))
    stream_out = tmp_path / "py.arrows"
    rawarrow.convert_bam([DATA / "sample.bam"], stream_out, compression="lz4")
    assert pa.ipc.open_stream(pa.OSFile(str(stream_out))).read_all().equals(read_ipc(theirs).drop(["NM"]))
    named = tmp_path / "data.bin"
    rawarrow.convert_bam(DATA / "sample.bam", named, format="stream")
    assert pa.ipc.open_stream(pa.OSFile(str(named))).read_all().num_rows == 4000


def test_convert_bam_to_sam_is_samtools_text(tmp_path):
    import gzip

    out = tmp_path / "py.sam"
    rows, _ = rawarrow.convert_bam(DATA / "sample.bam", out)
    assert rows == 4000
    text = out.read_bytes()
    records = b"".join(l for l in text.splitlines(keepends=True) if not l.startswith(b"@"))
    assert records == gzip.decompress((DATA / "sample.sam.gz").read_bytes())
    assert text.startswith(b"@HD\t")
    with pytest.raises(ValueError, match="this stream lacks"):
        rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "x.sam", columns=["qname"])
    assert not (tmp_path / "x.sam").exists()


def test_convert_into_a_binary_file_object(tmp_path):
    import io

    theirs = tmp_path / "file.parquet"
    rawarrow.convert_bam(DATA / "sample.bam", theirs)
    buffer = io.BytesIO()
    rows, _ = rawarrow.convert_bam(DATA / "sample.bam", buffer, format="parquet")
    assert rows == 4000
    assert buffer.getvalue() == theirs.read_bytes()
    import pyarrow.parquet as pq

    assert pq.read_table(io.BytesIO(buffer.getvalue())).num_rows == 4000
    # The default, as for standard output: the IPC file format; an open file works the same.
    with open(tmp_path / "opened.arrow", "wb") as f:
        rawarrow.convert_bam(DATA / "sample.bam", f)
    assert read_ipc(tmp_path / "opened.arrow").num_rows == 4000
    with pytest.raises(ValueError, match="goes to a file"):
        rawarrow.convert_bam(DATA / "sample.bam", io.BytesIO(), format="sam")
    with pytest.raises(TypeError, match="binary file object"):
        rawarrow.convert_bam(DATA / "sample.bam", 42)


def test_convert_midi_writes_both_tables(tmp_path):
    notes, files = tmp_path / "notes.arrow", tmp_path / "files.arrow"
    rows, _ = rawarrow.convert_midi(MIDI_SEEDS, notes, files=files)
    cli("midi", "--quiet", MIDI_SEEDS, "-o", tmp_path / "n.arrow", "--files", tmp_path / "f.arrow")
    assert read_ipc(notes).equals(read_ipc(tmp_path / "n.arrow"))
    assert read_ipc(files).equals(read_ipc(tmp_path / "f.arrow"))
    assert rows == read_ipc(notes).num_rows


def test_progress_callback(tmp_path):
    calls = []
    rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "x.arrow", batch_rows=100,
                         progress=lambda *a: calls.append(a))
    size = (DATA / "sample.bam").stat().st_size
    # At most ~10 a second (40 batches here, in well under a second), and the final state.
    assert 1 <= len(calls) <= 5, calls
    assert calls[-1] == (4000, size, size)
    assert all(a[2] == size for a in calls)
    assert [a[0] for a in calls] == sorted(a[0] for a in calls)
    rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "y.arrow", progress=True)  # not a tty: quiet


def test_an_exception_in_the_callback_stops_and_leaves_nothing(tmp_path):
    class Stop(Exception):
        pass

    def stop(*_):
        raise Stop()

    with pytest.raises(Stop):
        rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "x.arrow", progress=stop)
    assert os.listdir(tmp_path) == []


def test_output_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown output format"):
        rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "x.arrow", format="orc")
    with pytest.raises(ValueError, match="cannot tell the output format"):
        rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "x.out")
    with pytest.raises(ValueError, match="compression"):
        rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "x.arrow", compression="brotli")
    with pytest.raises(FileNotFoundError) as e:
        rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "no" / "x.arrow")
    assert e.value.filename == str(tmp_path / "no" / "x.arrow")
    with pytest.raises(rawarrow.FormatError):
        data = (DATA / "sample.bam").read_bytes()
        (tmp_path / "cut.bam").write_bytes(data[: len(data) // 2])
        rawarrow.convert_bam(tmp_path / "cut.bam", tmp_path / "x.arrow")
    assert sorted(os.listdir(tmp_path)) == ["cut.bam"]


CHILD = textwrap.dedent(
    """
    import os, sys, time, rawarrow
    src, out, mode = sys.argv[1:]
    tasks = lambda: len(os.listdir("/proc/self/task"))
    before = tasks()
    started = [False]
    def progress(*a):
        if not started[0]:
            started[0] = True
            print("started", flush=True)
    try:
        if mode == "convert":
            rawarrow.convert_bam(src, out, threads=2, batch_rows=20000, progress=progress)
        else:
            for i, b in enumerate(rawarrow.read_bam(src, threads=2, batch_rows=20000)):
                if i == 0:
                    print("started", flush=True)
        print("finished", flush=True)
    except KeyboardInterrupt:
        caught = time.monotonic()
        time.sleep(0.05)
        print(f"interrupted {caught} {tasks() - before}", flush=True)
    """
)


@pytest.mark.parametrize("mode", ["convert", "iterate"])
def test_ctrl_c_stops_within_a_fifth_of_a_second(big_bam, tmp_path, mode):
    path, _ = big_bam
    out = tmp_path / "big.arrow"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(out), mode],
        stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout.readline().strip() == "started"
    time.sleep(0.3)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    line = child.stdout.readline().split()
    child.wait(timeout=30)
    assert line[0] == "interrupted", line
    caught, extra_threads = float(line[1]), int(line[2])
    assert caught - sent < 0.2, f"KeyboardInterrupt {caught - sent:.3f} s after SIGINT"
    assert extra_threads == 0, f"{extra_threads} threads still running"
    assert os.listdir(tmp_path) == [], "a partial output was left behind"


def decoded(table: pa.Table) -> pa.Table:
    cols = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.table(cols, names=table.column_names)


def _parquet_cases(tmp_factory):
    from conftest import bams, midi_inputs, tdf_runs

    cases = [("bam", b) for b, _ in bams()]
    cases += [("tdf", r) for r in tdf_runs(tmp_factory)]
    cases += [("midi", m) for m in midi_inputs()]
    return cases


def test_parquet_equals_ipc_for_every_format(tmp_path, tmp_path_factory):
    import duckdb
    import polars as pl
    import pyarrow.parquet as pq

    for kind, src in _parquet_cases(tmp_path_factory):
        ipc, parquet = tmp_path / f"{kind}.arrow", tmp_path / f"{kind}.parquet"
        convert = {"bam": rawarrow.convert_bam, "tdf": rawarrow.convert_tdf, "midi": rawarrow.convert_midi}[kind]
        convert(src, ipc)
        rows, _ = convert(src, parquet)
        expected = read_ipc(ipc)
        got = pq.read_table(parquet)
        assert got.schema == expected.schema, (kind, src)  # dictionary columns stay dictionaries
        # Values compared (a dictionary read back from Parquet may be laid out differently).
        assert decoded(got).equals(decoded(expected)), (kind, src)
        meta = pq.ParquetFile(parquet).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        assert meta.row_group(0).column(0).statistics is not None
        assert pl.read_parquet(parquet).height == rows == expected.num_rows
        assert duckdb.sql(f"select count(*) from '{parquet}'").fetchall() == [(rows,)]
        ipc.unlink()
        parquet.unlink()
    # MIDI's files table in Parquet too, and LZ4 on request.
    rawarrow.convert_midi(MIDI_SEEDS, tmp_path / "n.parquet", files=tmp_path / "f.parquet",
                          compression="lz4")
    assert pq.read_table(tmp_path / "f.parquet").num_rows == 5
    # LZ4_RAW, which pyarrow names "LZ4".
    assert pq.ParquetFile(tmp_path / "f.parquet").metadata.row_group(0).column(0).compression == "LZ4"


def test_encoding_threads_write_the_bytes_one_thread_writes(tmp_path):
    """Encoding on workers and a writer thread changes nothing in the file."""
    for name, kw in [("a.parquet", {}), ("a.arrow", {"compression": "lz4"}),
                     ("a.arrows", {"compression": "zstd"})]:
        one, many = tmp_path / f"1{name}", tmp_path / f"4{name}"
        rawarrow.convert_bam(DATA / "sample.bam", one, threads=1, batch_rows=300, **kw)
        rawarrow.convert_bam(DATA / "sample.bam", many, threads=4, batch_rows=300, **kw)
        assert one.read_bytes() == many.read_bytes(), name
        assert one.stat().st_size > 100_000


def _check_stats(path, rows, output, roles):
    import json
    s = json.loads(path.read_text())
    assert s["rows"] == rows > 0
    assert s["output_bytes"] == output.stat().st_size
    assert s["input_bytes"] > 0
    phases = sum(s["phases"].values())
    assert abs(phases - s["wall_seconds"]) <= 0.1 * s["wall_seconds"], s
    assert s["peak_rss_bytes"] > 1 << 20
    by_role = s["cpu_seconds_by_role"]
    assert set(roles) <= set(by_role), by_role
    assert abs(sum(t["cpu_seconds"] for t in s["threads"]) - s["cpu_seconds"]) < 1e-3
    assert s["calling_thread_cpu_seconds"] == pytest.approx(by_role["main"])
    return s


def test_stats_json_for_every_format(tmp_path):
    """--stats: rows equal the output's, phases add up to the wall time, every role's CPU."""
    bam_out, st = tmp_path / "b.parquet", tmp_path / "b.json"
    cli("bam", "--quiet", "-t", 2, DATA / "sample.bam", "-o", bam_out, "--stats", st)
    import pyarrow.parquet as pq
    s = _check_stats(st, pq.read_table(bam_out).num_rows, bam_out,
                     ["main", "inflate", "decode", "encode", "write"])
    assert s["threads"][0]["name"] == "main"
    run = tmp_path / "gen.d"
    cli("tdf-generate", run, "--frames", 20, "--peaks-per-frame", 2000, "--scans", 100, "--seed", 3)
    tdf_out, st = tmp_path / "t.arrow", tmp_path / "t.json"
    cli("tdf", "--quiet", "-t", 2, run, "-o", tdf_out, "--stats", st)
    _check_stats(st, read_ipc(tdf_out).num_rows, tdf_out, ["main", "frames"])
    midi_out, st = tmp_path / "m.arrow", tmp_path / "m.json"
    cli("midi", "--quiet", "-t", 2, MIDI_SEEDS, "-o", midi_out, "--stats", st)
    _check_stats(st, read_ipc(midi_out).num_rows, midi_out, ["main", "midi"])
