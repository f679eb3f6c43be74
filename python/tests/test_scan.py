"""Lazy polars scans (rawarrow.polars): random predicates give exactly the rows of the eager read
filtered by polars, and the library's counters show what was pushed (blocks and frames
decompressed, columns decoded)."""

import logging
import random
import re
import shutil
import subprocess

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rawarrow
import rawarrow.polars as rp
from conftest import MIDI_SEEDS, bams, samtools_or_skip, tdf_runs

BAM_COLUMNS = ["qname", "flag", "rname", "pos", "mapq", "cigar", "rnext", "pnext", "tlen", "seq",
               "qual", "end", "bin", "tags"]


def plain(df: pl.DataFrame) -> pl.DataFrame:
    """Categoricals as text (two reads build their own dictionaries)."""
    return df.with_columns(pl.col(pl.Categorical).cast(pl.Utf8))


@pytest.fixture(scope="module")
def indexed_bams(tmp_path_factory):
    """Every BAM, coordinate-sorted and indexed by samtools."""
    samtools_or_skip()
    out = []
    for i, (bam, _) in enumerate(bams()):
        dst = tmp_path_factory.mktemp("scan") / f"{i}_{bam.stem}.bam"
        subprocess.run(["samtools", "sort", "-@2", "-o", dst, bam], check=True, capture_output=True)
        subprocess.run(["samtools", "index", dst], check=True)
        out.append(dst)
    return out


def pushed(caplog) -> list:
    """The debug lines of the scans since the last call: (line, blocks)."""
    out = []
    for r in caplog.records:
        m = re.search(r"; (\d+) rows, (\d+) blocks decompressed", r.getMessage())
        if r.name == "rawarrow" and m:
            out.append((r.getMessage(), int(m.group(2))))
    caplog.clear()
    return out


def random_predicate(rng: random.Random, df: pl.DataFrame, refs: list):
    """A conjunction of random terms over the BAM columns: regions, FLAG and MAPQ tests (all
    pushable), and terms that are not."""
    terms = []
    mapped = df.filter(pl.col("pos").is_not_null())
    if refs and rng.random() < 0.7:
        if rng.random() < 0.25:
            names = rng.sample(refs + ["no_such_reference"], min(2, len(refs) + 1))
            terms.append(pl.col("rname").is_in(names))
        else:
            name = rng.choice(refs)
            terms.append(pl.col("rname") == name)
        if mapped.height and rng.random() < 0.8:
            # Bounds on records' own positions half the time: the boundaries are exercised.
            jitter = 500 if rng.random() < 0.5 else 0
            a, b = sorted(rng.choice(mapped["pos"].to_list()) + rng.randint(-jitter, jitter)
                          for _ in range(2))
            kind = rng.randrange(4)
            if kind == 0:
                terms.append(pl.col("pos").is_between(a, b))
            elif kind == 1:
                terms.append((pl.col("end") >= a) & (pl.col("pos") <= b))
            elif kind == 2:
                terms.append(pl.col("pos") > a)
            else:
                terms.append(pl.col("end") < b)
    r = rng.random()
    if r < 0.2:
        terms.append((pl.col("flag") & 0x904) == 0)
    elif r < 0.35:
        terms.append((pl.col("flag") & 0x10) != 0)
    elif r < 0.45:
        terms.append((pl.col("flag") & 0x41) == 0x41)
    elif r < 0.5 and df.height:
        terms.append(pl.col("flag") == rng.choice(df["flag"].to_list()))
    r = rng.random()
    if r < 0.3:
        terms.append(pl.col("mapq") >= rng.choice([0, 1, 20, 30, 60]))
    elif r < 0.4:
        terms.append(pl.col("mapq") > rng.choice([0, 10, 59]))
    r = rng.random()
    if r < 0.15:
        terms.append(pl.col("tlen").abs() > 100)  # not pushable
    elif r < 0.25:
        terms.append((pl.col("mapq") < 10) | (pl.col("flag") & 4 != 0))  # an OR: not pushed
    if not terms:
        terms.append(pl.col("mapq") >= 1)
    pred = terms[0]
    for t in terms[1:]:
        pred = pred & t
    return pred


def test_scan_bam_random_predicates_equal_the_eager_read_filtered(indexed_bams, caplog):
    caplog.set_level(logging.DEBUG, logger="rawarrow")
    rng = random.Random(35)
    lines = []
    # Indexed (regions through the index), and the files as they are, without an index
    # (one reference's window tested on the workers).
    plain_bams = [b for b, _ in bams()]
    for bam, n in [(b, 50) for b in indexed_bams] + [(b, 15) for b in plain_bams]:
        eager = pl.DataFrame(rawarrow.read_bam(bam))
        refs = eager["rname"].drop_nulls().unique().cast(pl.Utf8).to_list()
        lf = rp.scan_bam(bam)
        assert lf.collect_schema() == eager.schema
        pushed(caplog)
        for i in range(n):
            pred = random_predicate(rng, eager, sorted(refs))
            if i == 7:
                pred = pred & (pl.col("rname") == "no_such_reference")
            cols = rng.sample(BAM_COLUMNS, rng.randint(1, 4)) if rng.random() < 0.6 else None
            want = eager.filter(pred)
            got = lf.filter(pred)
            if cols is not None:
                want, got = want.select(cols), got.select(cols)
            got = got.collect()
            assert_frame_equal(plain(got), plain(want)), (bam, pred, cols)
        found = pushed(caplog)
        assert len(found) == n, found
        lines += [line for line, _ in found]
    for what in ["through the index", "FLAG filter", "MAPQ filter", "nothing to read",
                 "a filter on the workers",
                 "not pushed (filtered after reading)"]:
        assert any(what in line for line in lines), what


def test_scan_bam_reads_only_what_the_query_needs(indexed_bams, caplog):
    """Counters, not time: a region reads a few blocks, a projection decodes its columns."""
    caplog.set_level(logging.DEBUG, logger="rawarrow")
    bam = max(indexed_bams, key=lambda p: p.stat().st_size)
    lf = rp.scan_bam(bam)
    full = lf.select(pl.len()).collect().item()
    (_, all_blocks), = pushed(caplog)
    eager = pl.DataFrame(rawarrow.read_bam(bam, columns=["rname", "pos"])).drop_nulls()
    row = eager.row(eager.height // 2, named=True)
    name, pos = str(row["rname"]), row["pos"]
    q = lf.filter((pl.col("rname") == name) & pl.col("pos").is_between(pos, pos + 1000))
    n = q.select("pos").collect().height
    assert 0 < n < full
    ((line, blocks),) = pushed(caplog)
    assert f"regions {{{name}}}:{pos}-{pos + 1000}" in line and "decoded rname, pos;" in line, line
    assert blocks * 4 < all_blocks, (blocks, all_blocks)
    # A name the header lacks reads nothing; a 2-column projection decodes 2 columns.
    assert lf.filter(pl.col("rname") == "no_such_reference").collect().height == 0
    ((line, blocks),) = pushed(caplog)
    assert blocks == 0 and "nothing to read" in line, line
    s = rawarrow.read_bam(bam, columns=["pos", "mapq"])
    assert s.column_names == ["pos", "mapq"]
    # head(n) without a filter stops the reader.
    assert lf.head(7).collect().height == 7
    ((line, blocks),) = pushed(caplog)
    assert "pushed as limit" in line and blocks < all_blocks, (line, blocks)


def test_scan_bam_without_an_index_is_exact_and_says_why(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="rawarrow")
    bam = bams()[0][0]
    eager = pl.DataFrame(rawarrow.read_bam(bam))
    pred = (pl.col("rname") == eager["rname"].drop_nulls()[0]) & (pl.col("pos") < 5000)
    got = rp.scan_bam(bam).filter(pred).collect()
    assert_frame_equal(plain(got), plain(eager.filter(pred)))
    ((line, _),) = pushed(caplog)
    assert "a filter on the workers" in line and "no index beside" in line, line


def test_scan_bam_explain_names_the_scan(indexed_bams):
    plan = rp.scan_bam(indexed_bams[0]).filter(pl.col("mapq") >= 30).select("pos").explain()
    assert "rawarrow.scan_bam" in plan, plan
    # The package's aliases are the same scans.
    lf = rawarrow.scan_bam(indexed_bams[0]).filter(pl.col("mapq") >= 30).select("pos")
    assert_frame_equal(lf.collect(), rp.scan_bam(indexed_bams[0]).filter(
        pl.col("mapq") >= 30).select("pos").collect())


def test_scan_tdf_random_predicates_equal_the_eager_read_filtered(tmp_path_factory, caplog):
    caplog.set_level(logging.DEBUG, logger="rawarrow")
    rng = random.Random(7)
    for run in tdf_runs(tmp_path_factory):
        eager = pl.DataFrame(rawarrow.read_tdf(run))
        lf = rp.scan_tdf(run)
        assert lf.collect_schema() == eager.schema
        frames = eager["frame"].unique().sort().to_list()
        pushed(caplog)
        for i in range(50):
            terms = []
            pick = lambda col: eager[col][rng.randrange(eager.height)]  # noqa: E731
            if rng.random() < 0.5:
                a, b = sorted(rng.sample(frames, 2)) if len(frames) > 1 else (frames[0],) * 2
                terms.append(pl.col("frame").is_between(a, b))
            if rng.random() < 0.5:
                a, b = sorted([pick("rt"), pick("rt")])
                terms.append((pl.col("rt") >= a) & (pl.col("rt") < b))
            if rng.random() < 0.4:
                a, b = sorted([pick("mz"), pick("mz")])
                terms.append(pl.col("mz").is_between(a, b))
            if rng.random() < 0.4:
                a, b = sorted([pick("mobility"), pick("mobility")])
                terms.append((pl.col("mobility") > a) & (pl.col("mobility") <= b))
            if rng.random() < 0.3:
                terms.append(pl.col("ms_level") == rng.choice([1, 2]))
            if rng.random() < 0.3:
                terms.append(pl.col("intensity") > pick("intensity"))  # not pushable
            if not terms:
                terms.append(pl.col("frame") == frames[-1])
            pred = terms[0]
            for t in terms[1:]:
                pred = pred & t
            cols = ["frame", "mz", "intensity"] if i % 3 == 0 else None
            want, got = eager.filter(pred), lf.filter(pred)
            if cols:
                want, got = want.select(cols), got.select(cols)
            assert_frame_equal(got.collect(), want), (run, pred)
        lines = pushed(caplog)
        assert any("pushed as the rt slice" in line for line, _ in lines), lines


def test_scan_tdf_rt_slice_decompresses_only_its_frames(tmp_path_factory, caplog):
    caplog.set_level(logging.DEBUG, logger="rawarrow")
    run = tdf_runs(tmp_path_factory)[0]
    lf = rp.scan_tdf(run)
    lf.select(pl.len()).collect()
    ((_, all_frames),) = pushed(caplog)
    rts = pl.DataFrame(rawarrow.read_tdf(run, columns=["rt"]))["rt"].unique().sort()
    a, b = rts[len(rts) // 4], rts[len(rts) // 2]
    n = lf.filter(pl.col("rt").is_between(a, b)).select("mz").collect().height
    ((line, frames),) = pushed(caplog)
    assert n > 0 and "rt slice" in line, line
    assert frames < all_frames and frames <= len(rts) // 4 + 2, (frames, all_frames)


def test_scan_midi_equals_the_eager_read_filtered(tmp_path):
    folder = shutil.copytree(MIDI_SEEDS, tmp_path / "songs")
    eager = pl.DataFrame(rawarrow.read_midi(folder))
    pred = (pl.col("velocity") > 60) & (pl.col("pitch") < 72)
    got = rp.scan_midi(folder).filter(pred).select("pitch", "velocity").collect()
    assert_frame_equal(plain(got), plain(eager.filter(pred).select("pitch", "velocity")))
    assert rp.scan_midi(folder).head(3).collect().height == min(3, eager.height)


def test_scan_bam_bad_input_is_the_readers_error(tmp_path):
    bad = tmp_path / "bad.bam"
    bad.write_bytes(b"not a bam at all")
    with pytest.raises(rawarrow.FormatError):
        rp.scan_bam(bad)


# ---------------------------------------------------------------------------------------------
# rawarrow.dataset: a pyarrow Dataset that DuckDB and pyarrow scan with pushdown.


def test_duckdb_over_the_dataset_equals_duckdb_over_the_eager_table(indexed_bams, caplog):
    import duckdb
    import pyarrow as pa

    caplog.set_level(logging.DEBUG, logger="rawarrow")
    rng = random.Random(5)
    con = duckdb.connect()
    pushed_regions = 0
    for bam in indexed_bams:
        reads = rawarrow.dataset(bam)
        eager = pa.table(rawarrow.read_bam(bam))
        refs = sorted(set(eager.column("rname").to_pylist()) - {None})
        positions = [p for p in eager.column("pos").to_pylist() if p is not None]
        con.register("reads", reads)
        con.register("eager", eager)
        for _ in range(8):
            terms = []
            if refs:
                terms.append(f"rname = '{rng.choice(refs)}'")
            if positions and rng.random() < 0.7:
                a, b = sorted(rng.sample(positions, 2) if len(positions) > 1 else positions * 2)
                terms.append(f"pos between {a} and {b}")
            if rng.random() < 0.4:
                terms.append(f"mapq >= {rng.choice([1, 20, 60])}")
            if rng.random() < 0.3:
                terms.append("(flag = 99 or flag = 147)")
            where = " and ".join(terms) or "true"
            q = "select qname, flag, rname::varchar as rname, pos, mapq, cigar from {} where " + \
                where + " order by all"
            got, want = con.sql(q.format("reads")).fetchall(), con.sql(q.format("eager")).fetchall()
            assert got == want, (bam, where)
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dataset")]
        pushed_regions += sum("through the index" in line for line in lines)
        caplog.clear()
    assert pushed_regions > 0


def test_pyarrow_filters_on_the_dataset_equal_the_eager_table_filtered(indexed_bams, caplog):
    import pyarrow as pa
    import pyarrow.compute as pc

    caplog.set_level(logging.DEBUG, logger="rawarrow")
    rng = random.Random(11)
    bam = max(indexed_bams, key=lambda p: p.stat().st_size)
    reads = rawarrow.dataset(bam)
    eager = pa.table(rawarrow.read_bam(bam))
    refs = sorted(set(eager.column("rname").to_pylist()) - {None})
    positions = [p for p in eager.column("pos").to_pylist() if p is not None]
    for _ in range(20):
        a, b = sorted(rng.sample(positions, 2))
        terms = [pc.field("rname") == rng.choice(refs), pc.field("pos") >= a, pc.field("pos") <= b]
        if rng.random() < 0.5:
            terms.append(pc.field("flag").isin([99, 147, 83, 163]))
        if rng.random() < 0.5:
            terms.append(pc.field("mapq") > 10)
        f = terms[0]
        for t in terms[1:]:
            f = f & t
        cols = ["qname", "pos", "mapq"]
        got = reads.to_table(columns=cols, filter=f)
        want = eager.filter(f).select(cols)
        assert got.equals(want), f
    assert reads.count_rows(filter=pc.field("mapq") >= 30) == \
        eager.filter(pc.field("mapq") >= 30).num_rows
    assert any("through the index" in r.getMessage() for r in caplog.records)
    with pytest.raises(NotImplementedError):
        reads.take([0])
    with pytest.raises(TypeError):
        rawarrow.dataset(bam, regions=["x"])


def test_duckdb_over_a_timstof_dataset_reads_the_frame_range(tmp_path_factory, caplog):
    import duckdb
    import pyarrow as pa

    caplog.set_level(logging.DEBUG, logger="rawarrow")
    run = tdf_runs(tmp_path_factory)[0]
    peaks = rawarrow.dataset(run)
    eager = pa.table(rawarrow.read_tdf(run))
    frames = sorted(set(eager.column("frame").to_pylist()))
    a, b = frames[len(frames) // 4], frames[len(frames) // 2]
    # DuckDB pushes integer bounds (not float ones: NaN may satisfy them), so the frame range.
    q = f"select frame, scan, tof, intensity, mz from {{}} where frame between {a} and {b} " \
        "and intensity > 10 order by all"
    got = duckdb.sql(q.format("peaks")).fetchall()
    want = duckdb.sql(q.format("eager")).fetchall()
    assert got == want and len(got) > 0
    assert any(f"pushed as the frames {a}..={b}" in r.getMessage() for r in caplog.records)


def test_fragments_partition_the_dataset(indexed_bams, tmp_path_factory, caplog):
    """Byte-range, frame-range and file-list fragments: their rows, in order, are the
    dataset's, with the filter pushed into each (a window on the workers for BAM splits)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    caplog.set_level(logging.DEBUG, logger="rawarrow")
    bam = max(indexed_bams, key=lambda p: p.stat().st_size)
    reads = rawarrow.dataset(bam)
    eager = pa.table(rawarrow.read_bam(bam))
    ref = sorted(set(eager.column("rname").to_pylist()) - {None})[0]
    f = (pc.field("rname") == ref) & (pc.field("pos") < 30_000_000) & (pc.field("mapq") >= 20)
    frags = reads.get_fragments(split_bytes=max(1, bam.stat().st_size // 7))
    assert len(frags) >= 5
    got = pa.concat_tables([fr.to_table(columns=["qname", "pos"], filter=f) for fr in frags])
    assert got.equals(eager.filter(f).select(["qname", "pos"]))
    assert sum(fr.count_rows() for fr in frags) == eager.num_rows
    assert any("a filter on the workers" in r.getMessage() for r in caplog.records)

    run = tdf_runs(tmp_path_factory)[0]
    peaks = rawarrow.dataset(run)
    eager = pa.table(rawarrow.read_tdf(run))
    frags = peaks.get_fragments(peaks_per_split=eager.num_rows // 5)
    assert len(frags) >= 4
    f = pc.field("frame") >= 7
    got = pa.concat_tables([fr.to_table(filter=f) for fr in frags])
    assert got.equals(eager.filter(f))

    songs = rawarrow.dataset(MIDI_SEEDS)
    eager = pa.table(rawarrow.read_midi(MIDI_SEEDS))
    frags = songs.get_fragments(files_per_split=2)
    assert len(frags) >= 2
    got = pa.concat_tables([fr.to_table() for fr in frags])
    assert got.select(["pitch", "onset_tick"]).equals(eager.select(["pitch", "onset_tick"]))
