"""read_tdf and read_midi against the CLI's output of the same Rust readers."""

import pyarrow as pa
import pytest

import rawarrow
from conftest import cli, midi_inputs, read_ipc, tdf_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tdf_runs(tmp_path_factory)


def test_read_tdf_equals_the_cli(runs, tmp_path):
    for run in runs:
        out = tmp_path / f"{run.name}.arrow"
        cli("tdf", "--quiet", run, "-o", out)
        expected = read_ipc(out)
        got = pa.table(rawarrow.read_tdf(run, threads=2))
        assert got.equals(expected), run
        assert got.num_rows > 0


def test_read_tdf_options_equal_the_cli(runs, tmp_path):
    for run in runs:
        out = tmp_path / f"{run.name}.arrow"
        cli("tdf", "--quiet", run, "-o", out, "--ms-level", 1, "--frames", "2:30",
            "--calibration", "estimate", "--columns", "mz,frame,intensity", "--batch-rows", 5000)
        got = pa.table(rawarrow.read_tdf(run, ms_level=1, frames=(2, 30), calibration="estimate",
                                         columns=["mz", "frame", "intensity"], batch_rows=5000))
        assert got.column_names == ["frame", "intensity", "mz"]  # schema order, not the caller's
        assert got.equals(read_ipc(out)), run


def test_tdf_progress_counts_peaks(runs):
    stream = rawarrow.read_tdf(runs[0])
    rows, done, total, unit = stream.progress
    assert (rows, done, unit) == (0, 0, "rows") and total > 0
    n = sum(len(b) for b in stream)
    assert n == total


@pytest.mark.parametrize("inputs", midi_inputs(), ids=lambda p: p.name)
def test_read_midi_equals_the_cli(inputs, tmp_path):
    notes, files = tmp_path / "notes.arrow", tmp_path / "files.arrow"
    cli("midi", "--quiet", inputs, "-o", notes, "--files", files)
    got = pa.table(rawarrow.read_midi(inputs, files_per_batch=3))
    assert got.equals(read_ipc(notes))
    got_files = pa.table(rawarrow.read_midi([inputs], table="files"))
    assert got_files.equals(read_ipc(files))
    assert got.num_rows == sum(got_files.column("notes").to_pylist()) > 0
