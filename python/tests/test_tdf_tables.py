"""timsTOF precursors, spectra, windows and slices from Python and the CLI: the package equals the
CLI's output, MGF parses with pyteomics (an independent reader) to the spectra table, slices
equal the filtered peaks table, and bad options are ValueErrors."""

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyteomics import mgf

import rawarrow
from conftest import CORPUS, cli, read_ipc


@pytest.fixture(scope="module")
def dda(tmp_path_factory):
    run = tmp_path_factory.mktemp("dda") / "dda.d"
    cli("tdf-generate", "--dda", run, "--frames", 36, "--peaks-per-frame", 3000, "--scans", 240,
        "--ms1-every", 6, "--seed", 4)
    return run


def dda_runs(dda):
    runs = [dda]
    if CORPUS is not None:
        runs.append(CORPUS / "tdf" / "DDPASEF_10seconds.d")
    return runs


@pytest.mark.parametrize("table", ["precursors", "spectra"])
def test_tables_equal_the_cli(dda, tmp_path, table):
    for run in dda_runs(dda):
        ours = pa.table(rawarrow.read_tdf(run, table=table, threads=2))
        out = tmp_path / f"{table}.arrow"
        cli("tdf", run, "--table", table, "-o", out, "--quiet")
        assert ours == read_ipc(out)
        assert ours.num_rows > 0
        assert ours.column_names[:3] == ["precursor", "frame", "rt"]


def test_mgf_reads_back_as_the_spectra_table(dda, tmp_path):
    for run in dda_runs(dda):
        out = tmp_path / "spectra.mgf"
        cli("tdf", run, "-o", out, "--centroid", 1, "--quiet")
        table = pa.table(rawarrow.read_tdf(run, table="spectra", centroid=1)).to_pylist()
        parsed = list(mgf.read(str(out), use_index=False))
        assert len(parsed) == len(table) > 0
        for spectrum, row in zip(parsed, table):
            params = spectrum["params"]
            assert params["title"] == f"{run.name}.precursor={row['precursor']}"
            mz = row["mz_monoisotopic"] if row["mz_monoisotopic"] is not None else row["mz_largest_peak"]
            assert params["pepmass"][0] == mz
            assert params["pepmass"][1] == row["precursor_intensity"]
            assert params["rtinseconds"] == row["rt"]
            assert float(params["ion_mobility"]) == row["mobility"]
            if row["charge"] is None:
                assert "charge" not in params
            else:
                assert list(params["charge"]) == [row["charge"]]
            assert spectrum["m/z array"].tolist() == row["mz"]
            assert spectrum["intensity array"].tolist() == row["intensity"]


def test_windows_table_of_a_dia_run(tmp_path):
    run = tmp_path / "dia.d"
    cli("tdf-generate", run, "--frames", 30, "--peaks-per-frame", 500, "--scans", 100,
        "--window-groups", 4, "--seed", 2)
    windows = pa.table(rawarrow.read_tdf(run, table="windows"))
    assert windows.num_rows == 8
    assert windows.column("window_group").to_pylist() == [1, 1, 2, 2, 3, 3, 4, 4]
    assert all(u > l for u, l in zip(windows.column("mobility_upper").to_pylist(),
                                      windows.column("mobility_lower").to_pylist()))
    # Every MS2 peak of a window's scans carries that window's group.
    peaks = pa.table(rawarrow.read_tdf(run, columns=["scan", "window_group"], ms_level=2))
    for w in windows.to_pylist()[:2]:
        inside = pc.and_(pc.greater_equal(peaks["scan"], w["scan_begin"]),
                         pc.less(peaks["scan"], w["scan_end"]))
        groups = set(peaks.filter(inside).column("window_group").to_pylist())
        assert w["window_group"] in groups


def test_slices_equal_the_filtered_peaks(dda):
    full = pa.table(rawarrow.read_tdf(dda))
    box = {"rt": (0.6, 2.2), "mobility": (0.9, 1.3), "mz": (500.0, 900.0)}
    sliced = pa.table(rawarrow.read_tdf(dda, **box))
    mask = None
    for col, (lo, hi) in box.items():
        m = pc.and_(pc.greater_equal(full[col], lo), pc.less_equal(full[col], hi))
        mask = m if mask is None else pc.and_(mask, m)
    want = full.filter(mask)
    assert 0 < sliced.num_rows < full.num_rows
    assert sliced == want


def test_bad_table_options_are_value_errors(dda):
    with pytest.raises(ValueError, match="unknown timsTOF table"):
        rawarrow.read_tdf(dda, table="scans")
    with pytest.raises(ValueError, match="LOW <= HIGH"):
        rawarrow.read_tdf(dda, rt=(5.0, 1.0))
    with pytest.raises(ValueError, match="centroid applies to the spectra table"):
        rawarrow.read_tdf(dda, centroid=1)
    with pytest.raises(ValueError, match="unknown column"):
        rawarrow.read_tdf(dda, table="precursors", columns=["tof"])


def test_convert_tdf_writes_the_clis_mgf(dda, tmp_path):
    # The same sink through the one conversion path: byte for byte the CLI's MGF.
    ours, theirs = tmp_path / "py.mgf", tmp_path / "cli.mgf"
    rows, _ = rawarrow.convert_tdf(dda, ours, centroid=1, threads=2)
    cli("tdf", dda, "-o", theirs, "--centroid", 1, "--quiet")
    assert ours.read_bytes() == theirs.read_bytes()
    assert rows == len(list(mgf.read(str(ours), use_index=False))) > 0
    # MGF holds spectra: another table is a ValueError and nothing is written.
    bad = tmp_path / "peaks.mgf"
    with pytest.raises(ValueError, match="MGF holds the spectra table"):
        rawarrow.convert_tdf(dda, bad, table="peaks")
    assert not bad.exists()
