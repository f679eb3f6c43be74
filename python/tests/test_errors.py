"""Bad input and bad options: the documented exceptions, with path, offset and record."""

import struct

import pyarrow as pa
import pytest

import rawarrow
from conftest import DATA, bam_header_length, bgzf_blocks, bgzf_compress, cli_path, inflate


def sample_raw() -> bytes:
    return b"".join(inflate(b) for _, b in bgzf_blocks((DATA / "sample.bam").read_bytes()))


def test_missing_file_and_folder_are_oserrors():
    missing = DATA / "no-such.bam"
    with pytest.raises(FileNotFoundError) as e:
        rawarrow.read_bam(missing)
    assert e.value.filename == str(missing)
    assert e.value.errno == 2
    with pytest.raises(IsADirectoryError) as e:
        rawarrow.read_bam(DATA)
    assert e.value.filename == str(DATA)
    with pytest.raises(FileNotFoundError):
        rawarrow.read_tdf(DATA / "no-such.d")
    with pytest.raises(NotADirectoryError):
        rawarrow.read_tdf(DATA / "sample.bam")
    with pytest.raises(FileNotFoundError):
        rawarrow.read_midi([DATA / "no-such.mid"])


def test_truncated_bam_is_a_format_error_with_path_and_offset(tmp_path):
    data = (DATA / "sample.bam").read_bytes()
    cut = tmp_path / "cut.bam"
    cut.write_bytes(data[: len(data) // 2])
    stream = rawarrow.read_bam(cut)
    with pytest.raises(rawarrow.FormatError) as e:
        for _ in stream:
            pass
    assert isinstance(e.value, ValueError)
    assert e.value.path == str(cut)
    assert isinstance(e.value.offset, int) and 0 < e.value.offset < len(data) // 2
    assert str(e.value).startswith(f"{cut}: compressed offset {e.value.offset}")
    # The same message as the CLI prints.
    import subprocess

    out = subprocess.run([str(cli_path()), "bam", "--quiet", str(cut), "-o", str(tmp_path / "x.arrow")],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip() == f"rawarrow: error: {e.value}"
    assert not (tmp_path / "x.arrow").exists()


def test_bad_record_names_its_index(tmp_path):
    raw = bytearray(sample_raw())
    at = bam_header_length(raw)
    for _ in range(1234):
        at += 4 + struct.unpack_from("<i", raw, at)[0]
    struct.pack_into("<i", raw, at, 31)  # block_size below the 32 fixed bytes
    bad = tmp_path / "bad.bam"
    bad.write_bytes(bgzf_compress(bytes(raw)))
    for threads in (1, 2):
        with pytest.raises(rawarrow.FormatError) as e:
            list(rawarrow.read_bam(bad, threads=threads))
        assert e.value.record == 1234
        assert e.value.path == str(bad)
        block_offsets = [o for o, _ in bgzf_blocks(bad.read_bytes())]
        assert e.value.offset == block_offsets[at // 0xFF00]
        assert "record 1234" in str(e.value) and "block_size" in str(e.value)


def test_errors_through_the_c_stream_reach_pyarrow(tmp_path):
    data = (DATA / "sample.bam").read_bytes()
    cut = tmp_path / "cut.bam"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(pa.ArrowException, match="compressed offset"):
        pa.RecordBatchReader.from_stream(rawarrow.read_bam(cut)).read_all()


def test_not_bam_at_all(tmp_path):
    sam = tmp_path / "x.bam"
    sam.write_text("@HD\tVN:1.6\n")
    with pytest.raises(rawarrow.FormatError) as e:
        rawarrow.read_bam(sam)
    assert e.value.offset == 0 and e.value.path == str(sam)
    assert "it is SAM text" in str(e.value)
    empty = tmp_path / "empty.bam"
    empty.write_bytes(b"")
    with pytest.raises(rawarrow.FormatError):
        list(rawarrow.read_bam(empty))


def test_bad_options_are_value_errors():
    sample = DATA / "sample.bam"
    with pytest.raises(ValueError, match="threads must be at least 1"):
        rawarrow.read_bam(sample, threads=0)
    with pytest.raises(ValueError, match="batch_rows must be at least 1"):
        rawarrow.read_bam(sample, batch_rows=0)
    with pytest.raises(ValueError, match="unknown BAM column \"nope\"; columns are qname,"):
        rawarrow.read_bam(sample, columns=["qname", "nope"])
    with pytest.raises(ValueError):
        rawarrow.read_bam(sample, tags=["TOOLONG"])
    with pytest.raises(ValueError, match="calibration"):
        rawarrow.read_tdf(DATA, calibration="magic")
    with pytest.raises(ValueError, match="ms_level"):
        rawarrow.read_tdf(DATA, ms_level=3)
    with pytest.raises(ValueError, match="after the last"):
        rawarrow.read_tdf(DATA, frames=(5, 2))
    with pytest.raises(ValueError, match="table"):
        rawarrow.read_midi(DATA, table="chords")
    with pytest.raises(ValueError, match="merge_window_ms"):
        rawarrow.read_midi(DATA, merge_window_ms=-1.0)
    with pytest.raises(ValueError, match="no input"):
        rawarrow.read_bam([])
    with pytest.raises(TypeError):
        rawarrow.read_bam(42)
    with pytest.raises(TypeError):
        rawarrow.read_bam(sample, columns="qname")
    with pytest.raises(OverflowError):
        rawarrow.read_bam(sample, threads=-1)


def test_missing_eof_marker_warns(tmp_path):
    data = (DATA / "sample.bam").read_bytes()
    noeof = tmp_path / "noeof.bam"
    noeof.write_bytes(data[:-28])
    with pytest.warns(UserWarning, match="no BGZF EOF marker"):
        rows = sum(len(b) for b in rawarrow.read_bam(noeof))
    assert rows == 4000


def test_plain_gzip_bam_reads_with_a_warning(tmp_path):
    # htslib reads a plain-gzip BAM (sequentially): so does rawarrow, with a warning, and the
    # rows are those of the BGZF file.
    import gzip

    raw = gzip.decompress((DATA / "sample.bam").read_bytes())
    plain = tmp_path / "plain.bam"
    plain.write_bytes(gzip.compress(raw))
    want = pa.table(rawarrow.read_bam(DATA / "sample.bam"))
    with pytest.warns(UserWarning, match="plain gzip member"):
        got = pa.Table.from_batches([pa.record_batch(b) for b in rawarrow.read_bam(plain)])
    assert got.equals(want)


def test_a_worker_panic_is_a_runtime_error():
    # The test hook RAWARROW_TEST_PANIC makes every BAM decode job panic; it is read once per
    # process, so the check runs in a fresh interpreter, which must survive to report it.
    import os
    import subprocess
    import sys

    code = (
        "import rawarrow, sys\n"
        "try:\n"
        f"    list(rawarrow.read_bam({str(DATA / 'sample.bam')!r}, threads=2))\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    env = dict(os.environ, RAWARROW_TEST_PANIC="bam-decode")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("RuntimeError"), out.stdout
    assert "internal error" in out.stdout and "sample.bam" in out.stdout, out.stdout


def test_an_unknown_kernel_level_is_a_value_error(monkeypatch):
    monkeypatch.setenv("RAWARROW_KERNELS", "avx9000")
    with pytest.raises(ValueError, match="avx9000.*scalar"):
        rawarrow.read_bam(DATA / "sample.bam")


def test_conflicting_tag_types_across_inputs_are_a_usage_error(tmp_path):
    """floats.bam's XF is a float, xf_int.bam's an integer: the CLI's usage error (exit 2) is a
    ValueError here, with the same message, and no output is left."""
    out = tmp_path / "mixed.arrow"
    with pytest.raises(ValueError) as e:
        rawarrow.convert_bam([DATA / "floats.bam", DATA / "xf_int.bam"], out, tags=["XF"])
    assert "xf_int.bam: its tag columns get other types" in str(e.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="its tag columns get other types"):
        list(rawarrow.read_bam([DATA / "floats.bam", DATA / "xf_int.bam"], tags=["XF"]))
    import subprocess

    run = subprocess.run(
        [cli_path(), "bam", "--tag", "XF", "-o", str(out), str(DATA / "floats.bam"),
         str(DATA / "xf_int.bam")],
        capture_output=True, text=True,
    )
    assert run.returncode == 2
    assert str(e.value) in run.stderr


def test_detect_names_the_format_or_what_the_input_is(tmp_path):
    assert rawarrow.detect(DATA / "sample.bam") == "bam"
    song = tmp_path / "a.mid"
    song.write_bytes(b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk\0\0\0\x04\0\xff\x2f\0")
    assert rawarrow.detect(song) == "midi"
    assert rawarrow.detect(str(tmp_path)) == "midi"
    from conftest import cli

    run = tmp_path / "gen.d"
    cli("tdf-generate", run, "--frames", 2, "--peaks-per-frame", 5, "--scans", 4, "--seed", 1)
    assert rawarrow.detect(run) == "tdf"
    cram = tmp_path / "x.cram"
    cram.write_bytes(b"CRAM\x03\x00rest")
    # CRAM is read wherever BAM is; this one ends inside its file definition.
    assert rawarrow.detect(cram) == "bam"
    with pytest.raises(rawarrow.FormatError, match="CRAM container") as e:
        rawarrow.read_bam(cram)
    assert e.value.path == str(cram)
    with pytest.raises(OSError):
        rawarrow.detect(tmp_path / "missing")


def _read_until_error(stream, cut):
    """Reads `stream`'s first batch, runs `cut`, then reads on: the rows before the error."""
    batches = iter(stream)
    rows = next(batches).num_rows
    cut()
    with pytest.raises(OSError) as e:
        for b in batches:
            rows += b.num_rows
    return rows, e.value


@pytest.mark.parametrize("threads", [1, 2])
def test_a_bam_cut_while_it_is_read_raises_and_the_interpreter_lives(tmp_path, threads):
    import os

    # The sample's records 20 times over: more than any read-ahead holds.
    raw = sample_raw()
    head = bam_header_length(raw)
    data = bgzf_compress(raw[:head] + raw[head:] * 20)
    at = len(data) // 2 // 4096 * 4096
    path = tmp_path / "cut.bam"
    path.write_bytes(data)
    stream = rawarrow.read_bam(path, threads=threads, batch_rows=100)
    rows, e = _read_until_error(stream, lambda: os.truncate(path, at))
    # Without the guard, the SIGBUS of reading the vanished pages ends this interpreter.
    assert str(e).startswith(f"{path}: compressed offset ")
    assert "the file shrank while it was read" in str(e) and f"it had {len(data)} bytes" in str(e)
    assert 0 < rows < 80000
    # The interpreter and its other streams go on.
    assert sum(b.num_rows for b in rawarrow.read_bam(DATA / "sample.bam", threads=threads)) == 4000


@pytest.mark.parametrize("threads", [1, 2])
def test_a_timstof_run_cut_while_it_is_read_raises(tmp_path, threads):
    import os

    from conftest import cli

    run = tmp_path / "run.d"
    cli("tdf-generate", run, "--frames", 60, "--peaks-per-frame", 4000, "--scans", 200, "--seed", 3)
    bin_path = run / "analysis.tdf_bin"
    size = bin_path.stat().st_size
    stream = rawarrow.read_tdf(run, threads=threads, batch_rows=4000)
    rows, e = _read_until_error(stream, lambda: os.truncate(bin_path, size // 2 // 4096 * 4096))
    assert str(e).startswith(f"{bin_path}: ") and "the file shrank while it was read" in str(e)
    assert rows > 0
