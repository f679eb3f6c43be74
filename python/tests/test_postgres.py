"""The PostgreSQL sink from Python: convert_bam, convert_tdf and convert_midi with postgres=URL
write the rows the Arrow stream holds into a real server started here (initdb + pg_ctl on a
private socket folder), read back with psql (an independent client); a MIDI run stopped by the
progress callback and resumed equals a clean run."""

import glob
import os
import pathlib
import shutil
import subprocess
import tempfile

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import rawarrow
from conftest import DATA, MIDI_SEEDS, cli


def _pg_bin():
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return pathlib.Path(found).parent
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return pathlib.Path(cands[-1]).parent if cands else None


@pytest.fixture(scope="module")
def pg():
    """A PostgreSQL server for this module: its connection string, and a psql runner."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        assert "RAWARROW_REQUIRE_POSTGRES" not in os.environ, "no PostgreSQL server binaries"
        pytest.skip("PostgreSQL server binaries not found")
    root = os.geteuid() == 0
    # Not under pytest's tmp_path: its parent folder is private to us, and the server runs as
    # the postgres user when we are root.
    d = pathlib.Path(tempfile.mkdtemp(prefix="rawarrow-pg-"))
    as_pg = ["runuser", "-u", "postgres", "--"] if root else []
    if root:
        shutil.chown(d, "postgres")
    data = d / "data"
    run = lambda *a: subprocess.run(as_pg + [str(bin_dir / a[0]), *map(str, a[1:])],
                                    check=True, capture_output=True, cwd=d)
    run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    run("pg_ctl", "-D", data, "-o", f"-k {d} -c listen_addresses='' -c fsync=off",
        "-l", d / "log", "-w", "start")
    url = f"host={d} user=postgres dbname=postgres"

    def psql(sql):
        out = subprocess.run(["psql", "-X", "-At", "-h", str(d), "-U", "postgres", "-d", "postgres",
                              "-c", sql], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    yield url, psql
    subprocess.run(as_pg + [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                   capture_output=True, cwd=d)
    shutil.rmtree(d, ignore_errors=True)


def test_bam_records_equal_the_stream(pg):
    url, psql = pg
    rows, _ = rawarrow.convert_bam(DATA / "sample.bam", postgres=url, schema="py",
                                   tags=["NM"], batch_rows=999)
    t = pa.table(rawarrow.read_bam(DATA / "sample.bam", tags=["NM"]))
    assert rows == t.num_rows == 4000
    got = psql("SELECT count(*), sum(flag), sum(pos), sum(\"NM\"), sum(length(tags)) FROM py.records")
    want = [t.num_rows, pc.sum(t["flag"]).as_py(), pc.sum(t["pos"]).as_py(),
            pc.sum(t["NM"]).as_py(), pc.sum(pc.utf8_length(t["tags"])).as_py()]
    assert got == "|".join(map(str, want))


def test_tdf_peaks_into_a_named_table(pg, tmp_path):
    url, psql = pg
    run = tmp_path / "gen.d"
    cli("tdf-generate", run, "--frames", 12, "--peaks-per-frame", 400, "--scans", 50)
    rows, _ = rawarrow.convert_tdf(run, postgres=url, pg_table="run1", ms_level=1)
    t = pa.table(rawarrow.read_tdf(run, ms_level=1))
    assert rows == t.num_rows > 0
    got = psql("SELECT count(*), sum(intensity), sum(frame) FROM public.run1")
    assert got == f"{t.num_rows}|{pc.sum(t['intensity']).as_py()}|{pc.sum(t['frame']).as_py()}"


def test_midi_stopped_then_resumed_equals_a_clean_run(pg, tmp_path):
    url, psql = pg
    songs = tmp_path / "songs"
    songs.mkdir()
    for i, seed in enumerate(sorted(MIDI_SEEDS.glob("*.mid"))):
        for copy in range(600):
            shutil.copy(seed, songs / f"{copy}-{i}-{seed.name}")
    calls = []

    def stop_after_two(*progress):
        # Called before the first batch, then at most ten times a second: the second call
        # comes ~0.1 s in, some jobs committed, and stops the run.
        calls.append(progress)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rawarrow.convert_midi(songs, postgres=url, schema="stopped", files_per_batch=2,
                              threads=1, progress=stop_after_two)
    partial = int(psql("SELECT count(*) FROM stopped.files"))
    total = len(list(songs.iterdir()))
    assert 0 < partial < total
    rawarrow.convert_midi(songs, postgres=url, schema="stopped", resume=True, files_per_batch=2)
    rawarrow.convert_midi(songs, postgres=url, schema="clean", files_per_batch=5)
    q = "SELECT count(*), sum(pitch), sum(onset_tick) FROM {}.notes"
    assert psql(q.format("stopped")) == psql(q.format("clean"))
    assert psql("SELECT count(*), count(DISTINCT file) FROM stopped.files") == f"{total}|{total}"


def test_bad_combinations_are_value_errors(pg, tmp_path):
    url, _ = pg
    with pytest.raises(ValueError, match="not both"):
        rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "x.arrow", postgres=url)
    with pytest.raises(ValueError, match="no output"):
        rawarrow.convert_bam(DATA / "sample.bam")
    with pytest.raises(ValueError, match="no natural key"):
        rawarrow.convert_bam(DATA / "sample.bam", postgres=url, resume=True)
    with pytest.raises(ValueError, match="PostgreSQL output"):
        rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "x.arrow", resume=True)
