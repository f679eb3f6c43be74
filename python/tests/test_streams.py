"""Streams as inputs: binary file objects, FIFOs and pipes read as they arrive, with the
file's rows; what needs random access is a ValueError that says why."""

import io
import os
import threading

import pyarrow as pa
import pytest

import rawarrow
from conftest import DATA

SAMPLE = DATA / "sample.bam"


def table(stream) -> pa.Table:
    return pa.RecordBatchReader.from_stream(stream).read_all()


@pytest.mark.parametrize("threads", [1, 2])
def test_a_file_object_reads_as_the_path(threads):
    expected = table(rawarrow.read_bam(SAMPLE, threads=threads))
    with open(SAMPLE, "rb") as f:
        assert table(rawarrow.read_bam(f, threads=threads)).equals(expected)
    # In memory, in small reads (a socket's pace), with a projection and a filter.
    data = SAMPLE.read_bytes()

    class Trickle(io.RawIOBase):
        def __init__(self):
            self.at = 0

        def readable(self):
            return True

        def read(self, n=-1):
            n = min(n if n >= 0 else len(data), 1000)
            out = data[self.at : self.at + n]
            self.at += len(out)
            return out

    for source in (io.BytesIO(data), Trickle()):
        got = table(rawarrow.read_bam(source, threads=threads, columns=["qname", "pos"], min_mapq=30))
        want = table(rawarrow.read_bam(SAMPLE, threads=threads, columns=["qname", "pos"], min_mapq=30))
        assert got.num_rows > 0 and got.equals(want)


def test_a_fifo_path_is_read_as_it_arrives(tmp_path):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    data = SAMPLE.read_bytes()

    def feed():
        with open(fifo, "wb") as f:
            f.write(data)

    t = threading.Thread(target=feed)
    t.start()
    got = table(rawarrow.read_bam(fifo))
    t.join()
    assert got.equals(table(rawarrow.read_bam(SAMPLE)))


def test_a_failing_file_object_is_an_oserror_and_random_access_a_valueerror():
    class Broken(io.RawIOBase):
        name = "broken.bam"

        def readable(self):
            return True

        def read(self, n=-1):
            raise RuntimeError("the network went away")

    with pytest.raises(OSError) as e:
        list(rawarrow.read_bam(Broken()))
    assert str(e.value).startswith("broken.bam: compressed offset 0: cannot read the stream")
    assert "the network went away" in str(e.value)
    with open(SAMPLE, "rb") as f:
        with pytest.raises(ValueError, match="is a stream"):
            rawarrow.read_bam(f, regions=["chrS1"])
    # A text file: what its read returned says why.
    with pytest.raises(OSError, match="<file object>: .*read\\(\\) returned no bytes"):
        list(rawarrow.read_bam(io.StringIO("not bytes")))


@pytest.mark.parametrize("threads", [1, 2])
def test_convert_bam_takes_a_file_object_and_writes_the_paths_bytes(threads, tmp_path):
    """The file read as it arrives converts to the same IPC and Parquet bytes as its path; a
    failing read leaves no output; resume on a stream is a ValueError."""
    for name in ("x.arrow", "x.parquet"):
        rawarrow.convert_bam(SAMPLE, tmp_path / f"path.{name}", threads=threads)
        with open(SAMPLE, "rb") as f:
            rows, _ = rawarrow.convert_bam(f, tmp_path / f"object.{name}", threads=threads)
        assert rows == 4000
        assert (tmp_path / f"object.{name}").read_bytes() == (tmp_path / f"path.{name}").read_bytes()
    # Into a file object too, in small reads.
    data = SAMPLE.read_bytes()
    out = io.BytesIO()
    rawarrow.convert_bam(io.BufferedReader(io.BytesIO(data), buffer_size=997), out, format="stream")
    assert pa.ipc.open_stream(out.getvalue()).read_all().equals(table(rawarrow.read_bam(SAMPLE)))

    class Broken(io.RawIOBase):
        name = "broken.bam"
        at = 0

        def readable(self):
            return True

        def read(self, n=-1):
            if self.at > 200_000:
                raise RuntimeError("the network went away")
            out = data[self.at : self.at + min(n, 50_000)]
            self.at += len(out)
            return out

    with pytest.raises(OSError, match="broken.bam: .*the network went away"):
        rawarrow.convert_bam(Broken(), tmp_path / "broken.arrow", threads=threads)
    assert not (tmp_path / "broken.arrow").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rawarrow-")]
    with pytest.raises(ValueError, match="resume"):
        with open(SAMPLE, "rb") as f:
            rawarrow.convert_bam(f, postgres="host=/nonexistent dbname=x", resume=True)


def test_midi_file_objects_read_as_their_files(tmp_path):
    """Open MIDI files (named by their paths) give the paths' tables and conversions; bytes in
    memory without a name are `<file object>`; a corrupt one is a files row with its error."""
    from conftest import MIDI_SEEDS

    songs = sorted(str(p) for p in MIDI_SEEDS.iterdir() if p.suffix == ".mid")[:6]
    assert len(songs) >= 3
    for table_name in ("notes", "files"):
        want = table(rawarrow.read_midi(songs, table=table_name, threads=2))
        handles = [open(s, "rb") for s in songs]
        try:
            got = table(rawarrow.read_midi(handles, table=table_name, threads=2))
        finally:
            for h in handles:
                h.close()
        assert got.num_rows > 0 and got.equals(want), table_name
    rawarrow.convert_midi(songs, tmp_path / "paths.arrow", files=tmp_path / "paths.files.arrow")
    handles = [open(s, "rb") for s in songs]
    rawarrow.convert_midi(handles, tmp_path / "objects.arrow", files=tmp_path / "objects.files.arrow")
    for h in handles:
        h.close()
    assert (tmp_path / "objects.arrow").read_bytes() == (tmp_path / "paths.arrow").read_bytes()
    assert (tmp_path / "objects.files.arrow").read_bytes() == (tmp_path / "paths.files.arrow").read_bytes()
    # One object alone, in memory; a corrupt one beside it.
    one = open(songs[0], "rb").read()
    files = table(rawarrow.read_midi([io.BytesIO(one), io.BytesIO(b"MThd junk")], table="files"))
    assert files.column("file").cast(pa.string()).to_pylist() == ["<file object>"] * 2
    assert files.column("error")[0].as_py() is None and files.column("error")[1].as_py()
    notes = table(rawarrow.read_midi(io.BytesIO(one)))
    assert notes.drop(["file"]).equals(table(rawarrow.read_midi(songs[0])).drop(["file"]))
    with pytest.raises(TypeError, match="not both"):
        rawarrow.read_midi([io.BytesIO(one), songs[0]])
