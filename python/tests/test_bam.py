"""read_bam against the Rust reader (the CLI's IPC output) and samtools' text; the stream
consumed by pyarrow, polars and DuckDB."""

import collections

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import rawarrow
from conftest import DATA, bams, cli, read_ipc, sam_records

BAMS = bams()
IDS = [b.name for b, _ in BAMS]


@pytest.mark.parametrize("bam,sam", BAMS, ids=IDS)
def test_read_bam_equals_the_rust_reader_and_samtools(bam, sam, tmp_path):
    out = tmp_path / "cli.arrow"
    cli("bam", "--quiet", "-t", 2, bam, "-o", out)
    expected = read_ipc(out)
    for threads in (1, 2):
        stream = rawarrow.read_bam(bam, threads=threads, batch_rows=5000)
        got = pa.RecordBatchReader.from_stream(stream).read_all()
        assert got.equals(expected), bam
    records = sam_records(sam)
    assert got.num_rows == len(records)
    count = bam.with_suffix(".count")
    if count.exists():
        assert got.num_rows == int(count.read_text())
    # Spot columns against samtools' text directly.
    qname = got.column("qname").to_pylist()
    flag = got.column("flag").to_pylist()
    pos = got.column("pos").to_pylist()
    for i, f in enumerate(records):
        assert qname[i] == (None if f[0] == "*" else f[0])
        assert flag[i] == int(f[1])
        assert pos[i] == (None if f[3] == "0" else int(f[3]))


@pytest.mark.parametrize("bam,sam", BAMS, ids=IDS)
def test_projection_and_typed_tags_equal_the_cli(bam, sam, tmp_path):
    out = tmp_path / "cli.arrow"
    cli("bam", "--quiet", bam, "-o", out, "--columns", "pos,qname,flag", "--tag", "NM", "--tag", "XF:Z")
    expected = read_ipc(out)
    got = pa.table(rawarrow.read_bam(bam, columns=["pos", "qname", "flag"], tags=["NM", "XF:Z"]))
    assert got.column_names == ["qname", "flag", "pos", "NM", "XF"]
    assert got.equals(expected)


def test_several_paths_make_one_stream():
    sample = DATA / "sample.bam"
    one = pa.table(rawarrow.read_bam(sample))
    two = pa.table(rawarrow.read_bam([sample, str(sample)], batch_rows=3000))
    assert two.num_rows == 2 * one.num_rows
    assert two.slice(0, one.num_rows).equals(one)
    assert two.slice(one.num_rows).equals(one)
    limited = pa.table(rawarrow.read_bam([sample, sample], limit=10))
    assert limited.num_rows == 20


def test_iteration_yields_batches_without_pyarrow_objects():
    stream = rawarrow.read_bam(DATA / "sample.bam", batch_rows=1000, columns=["qname", "pos"])
    assert stream.column_names == ["qname", "pos"]
    assert stream.progress[0] == 0 and stream.progress[3] == "bytes"
    batches = list(stream)
    assert [len(b) for b in batches] == [1000] * 4
    assert all(isinstance(b, rawarrow.RecordBatch) for b in batches)
    assert batches[0].column_names == ["qname", "pos"] and batches[0].num_columns == 2
    # The PyCapsule array interface: pyarrow and polars take a batch as it is.
    assert pa.record_batch(batches[0]).num_rows == 1000
    assert pl.DataFrame(batches[1]).height == 1000
    whole = pa.table(rawarrow.read_bam(DATA / "sample.bam", columns=["qname", "pos"]))
    assert pa.Table.from_batches([pa.record_batch(b) for b in batches]).equals(whole)
    # Finished: iteration ends, the capsule is refused, progress is gone.
    assert list(stream) == [] and stream.progress is None
    with pytest.raises(ValueError, match="already read"):
        stream.__arrow_c_stream__()


def test_a_stream_is_read_once_and_closes():
    stream = rawarrow.read_bam(DATA / "sample.bam")
    pa.RecordBatchReader.from_stream(stream).read_all()
    with pytest.raises(ValueError, match="already read"):
        pa.RecordBatchReader.from_stream(stream)
    with rawarrow.read_bam(DATA / "sample.bam") as s:
        next(iter(s))
    assert s.progress is None and list(s) == []
    assert "rows so far" in repr(rawarrow.read_bam(DATA / "sample.bam"))


def test_schema_capsule_matches_the_batches():
    stream = rawarrow.read_bam(DATA / "sample.bam", tags=["NM"])
    schema = pa.schema(stream)
    assert schema.names[-1] == "NM" and schema.field("NM").type == pa.int64()
    assert schema.field("rname").type == pa.dictionary(pa.int32(), pa.utf8())
    assert pa.table(stream).schema == schema


@pytest.mark.parametrize("bam,sam", BAMS, ids=IDS)
def test_polars_and_duckdb_consume_the_stream(bam, sam):
    expected = collections.Counter(None if f[2] == "*" else f[2] for f in sam_records(sam))
    df = pl.DataFrame(rawarrow.read_bam(bam, columns=["rname", "mapq"]))
    assert df.height == sum(expected.values())
    assert df.schema["rname"] == pl.Categorical  # the shared reference dictionary
    counts = dict(df.group_by("rname").len().iter_rows())
    assert {k: v for k, v in counts.items()} == dict(expected)

    s = rawarrow.read_bam(bam, columns=["rname"])
    rows = duckdb.sql("select rname, count(*) from s group by rname").fetchall()
    assert dict(rows) == dict(expected)


def test_batches_cross_without_a_copy_and_outlive_their_stream():
    import gc

    stream = rawarrow.read_bam(DATA / "sample.bam", batch_rows=1000, columns=["qname", "pos"])
    ours = next(iter(stream))
    a, b = pa.record_batch(ours), pa.record_batch(ours)
    # Two exports of one batch share the reader's memory (64-byte aligned arena regions).
    for i in range(2):
        ba, bb = a.column(i).buffers(), b.column(i).buffers()
        assert [x.address for x in ba if x] == [x.address for x in bb if x]
        assert all(x.address % 64 == 0 for x in ba if x)
    expected = a.to_pylist()
    # The stream and the wrapper go away; the pyarrow batch still owns its buffers.
    stream.close()
    del stream, ours, b
    gc.collect()
    for _ in range(3):  # new batches from new readers reuse freed memory if any was freed
        pa.table(rawarrow.read_bam(DATA / "sample.bam", batch_rows=1000, columns=["qname", "pos"]))
    assert a.to_pylist() == expected


def test_the_header_is_schema_metadata(tmp_path):
    stream = rawarrow.read_bam(DATA / "sample.bam")
    meta = pa.schema(stream).metadata
    assert meta[b"rawarrow:sam_header"].startswith(b"@HD\tVN:1.6\tSO:coordinate\n")
    assert meta[b"rawarrow:references"] == b"chrS1\t60000\nchrS2\t25000\n"
    import pyarrow.parquet as pq

    rawarrow.convert_bam(DATA / "sample.bam", tmp_path / "s.parquet")
    assert pq.read_schema(tmp_path / "s.parquet").metadata[b"rawarrow:references"] == meta[b"rawarrow:references"]


def test_filters_regions_and_file_column_equal_the_cli(tmp_path):
    """min_mapq/require_flags/exclude_flags/regions select what `rawarrow bam` selects (itself
    checked against samtools view in the Rust tests); with_file names each row's input."""
    bam = tmp_path / "s.bam"
    bam.write_bytes((DATA / "sample.bam").read_bytes())
    cli("bam", "index", bam)
    regions = ["chrS1:1,001-30,000", "chrS1:20000-21000"]
    out = tmp_path / "cli.arrow"
    cli("bam", "--quiet", bam, *regions, "-q", 30, "-F", "UNMAP,SECONDARY", "-f", "0x1", "-o", out)
    expected = read_ipc(out)
    assert 0 < expected.num_rows < 4000
    for flags in (("UNMAP,SECONDARY", "0x1"), (0x104, 1)):
        got = pa.table(rawarrow.read_bam(bam, regions=regions, min_mapq=30,
                                         exclude_flags=flags[0], require_flags=flags[1]))
        assert got.equals(expected)
    converted = tmp_path / "py.arrow"
    rows, _ = rawarrow.convert_bam(bam, converted, regions=regions, min_mapq=30,
                                   exclude_flags="UNMAP,SECONDARY", require_flags=1)
    assert rows == expected.num_rows and read_ipc(converted).equals(expected)
    both = pa.table(rawarrow.read_bam([DATA / "sample.bam", bam], columns=["pos"], with_file=True))
    files = both.column("file").to_pylist()
    assert files == [str(DATA / "sample.bam")] * 4000 + [str(bam)] * 4000
    with pytest.raises(ValueError, match="not a FLAG name"):
        rawarrow.read_bam(bam, exclude_flags="UNMAPPED")
    with pytest.raises(ValueError, match="not a reference of the header"):
        rawarrow.read_bam(bam, regions=["chrNope:1-5"])
    with pytest.raises(rawarrow.FormatError, match="no index for region queries"):
        rawarrow.read_bam(DATA / "sample.bam", regions=["chrS1"])


def test_read_bam_reads_cram_as_samtools_decodes_it(tmp_path):
    """A CRAM file (samtools writes it, against a reference and without one) reads into the
    same rows as the BAM samtools decodes it into; reference= gives the FASTA."""
    import subprocess

    from conftest import random_reference, samtools_or_skip

    samtools_or_skip()
    bam = DATA / "sample.bam"
    fa = random_reference(bam, tmp_path / "ref.fa", 7)
    for name, opts, ref in [("ref", ["-T", str(fa)], fa), ("noref", ["--output-fmt-option", "no_ref=1"], None)]:
        cram = tmp_path / f"{name}.cram"
        subprocess.run(["samtools", "view", "-C", "--no-PG", *opts, bam, "-o", cram], check=True)
        decoded = tmp_path / f"{name}.bam"
        subprocess.run(["samtools", "view", "-b", "--no-PG", *opts, cram, "-o", decoded], check=True)
        got = pa.RecordBatchReader.from_stream(rawarrow.read_bam(cram, reference=ref, threads=2)).read_all()
        want = pa.RecordBatchReader.from_stream(rawarrow.read_bam(decoded)).read_all()
        assert got.num_rows == 4000
        assert got.equals(want), name
    # Without reference=, the @SQ lines' UR (the FASTA samtools wrote against) finds it; once
    # the FASTA is gone, the error names the MD5 and every place tried.
    by_ur = pa.RecordBatchReader.from_stream(rawarrow.read_bam(tmp_path / "ref.cram")).read_all()
    assert by_ur.num_rows == 4000
    fa.rename(tmp_path / "moved.fa")
    with pytest.raises(rawarrow.FormatError, match="found nowhere.*UR:"):
        list(rawarrow.read_bam(tmp_path / "ref.cram"))
