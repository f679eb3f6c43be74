"""Inputs from object stores and HTTP, against real servers started here on loopback.

nginx serves the BAMs over HTTP with Range requests; moto_server is an S3 endpoint. The oracles:
the same file read locally (the IPC bytes must be identical) and samtools reading the same URLs
(regions; the bytes it fetched bound ours). A fault proxy between rawarrow and nginx answers
503, resets connections, stalls, cuts bodies short and swaps the object mid-read.
"""

import os
import pathlib
import random
import shutil
import subprocess
import time

import pyarrow as pa
import pytest

import rawarrow
from conftest import CORPUS, DATA, bams, cli_path, read_ipc, tdf_runs
import servers


def run(*args, env=None, timeout=300):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(
        [str(cli_path()), *map(str, args)], capture_output=True, text=True, env=full, timeout=timeout
    )


def ok(*args, env=None):
    out = run(*args, env=env)
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    """Every BAM (as it is, for whole-file reads) and, for region queries, each coordinate-sorted
    by samtools with its samtools index: `NAME.bam`, `sorted/NAME.bam(.bai)`."""
    root = tmp_path_factory.mktemp("www")
    (root / "sorted").mkdir()
    for bam, _ in bams():
        os.symlink(bam, root / bam.name)
        if shutil.which("samtools"):
            out = root / "sorted" / bam.name
            subprocess.run(["samtools", "sort", "--no-PG", "-o", str(out), str(bam)], check=True, capture_output=True)
            subprocess.run(["samtools", "index", str(out)], check=True, capture_output=True)
    return root


@pytest.fixture(scope="module")
def nginx(www, tmp_path_factory):
    server = servers.Nginx(www, tmp_path_factory.mktemp("nginx"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def moto(www):
    server = servers.Moto(servers.moto_server())
    for bam, _ in bams():
        server.put("reads", f"bam/{bam.name}", bam)
    yield server
    server.close()


@pytest.fixture()
def proxy(nginx):
    p = servers.FaultProxy(nginx.port, stall_seconds=20)
    yield p
    p.close()


def need_samtools():
    if shutil.which("samtools") is None:
        assert "RAWARROW_REQUIRE_SAMTOOLS" not in os.environ, "samtools is not installed"
        pytest.skip("samtools is not installed")


BAMS = [b for b, _ in bams()]


@pytest.mark.parametrize("bam", BAMS, ids=[b.name for b in BAMS])
def test_every_bam_over_http_gives_the_local_files_ipc_bytes(bam, nginx, tmp_path):
    ok("bam", bam, "-o", tmp_path / "local.arrow", "--quiet")
    local = (tmp_path / "local.arrow").read_bytes()
    for threads in ("1", "2"):
        out = tmp_path / f"http{threads}.arrow"
        ok("bam", nginx.url(bam.name), "-t", threads, "-o", out, "--quiet")
        assert out.read_bytes() == local, f"{bam.name} over HTTP at -t {threads}"


@pytest.mark.parametrize("bam", BAMS, ids=[b.name for b in BAMS])
def test_every_bam_from_s3_gives_the_local_files_ipc_bytes(bam, moto, tmp_path):
    ok("bam", bam, "-o", tmp_path / "local.arrow", "--quiet")
    out = tmp_path / "s3.arrow"
    ok("bam", f"s3://reads/bam/{bam.name}", "-t", "2", "-o", out, "--quiet", env=moto.env())
    assert out.read_bytes() == (tmp_path / "local.arrow").read_bytes()


def test_small_fetches_and_concurrency_are_settings(nginx, tmp_path):
    """Many small ranged requests, one at a time or eight at once, give the same bytes."""
    bam = max(BAMS, key=lambda b: b.stat().st_size)
    ok("bam", bam, "-o", tmp_path / "local.arrow", "--quiet")
    for concurrency in ("1", "8"):
        out = tmp_path / f"c{concurrency}.arrow"
        before = len(nginx.served())
        ok(
            "bam", nginx.url(bam.name), "-o", out, "--quiet",
            "--storage-option", "fetch_bytes=65536",
            "--storage-option", f"fetch_concurrency={concurrency}",
        )
        assert out.read_bytes() == (tmp_path / "local.arrow").read_bytes()
        gets = [r for r in nginx.served()[before:] if r[0] == "GET"]
        assert len(gets) >= bam.stat().st_size // 65536, gets[:3]
        assert sum(r[3] for r in gets) == bam.stat().st_size


def test_python_reads_urls_with_storage_options(moto, nginx):
    bam = DATA / "sample.bam"
    local = pa.table(rawarrow.read_bam(str(bam)))
    over_http = pa.table(rawarrow.read_bam(nginx.url(bam.name)))
    assert over_http.equals(local)
    # Credentials and endpoint as polars and pyarrow take them, not from the environment.
    options = {
        "aws_endpoint": moto.endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing-secret",
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    from_s3 = pa.table(rawarrow.read_bam(f"s3://reads/bam/{bam.name}", storage_options=options))
    assert from_s3.equals(local)


def test_convert_bam_from_a_url_writes_the_clis_bytes(moto, tmp_path):
    bam = DATA / "sample.bam"
    ok("bam", bam, "-o", tmp_path / "local.arrow", "--quiet")
    options = {"aws_endpoint": moto.endpoint, "aws_allow_http": "true"}
    env = {k: v for k, v in moto.env().items() if k != "AWS_ENDPOINT_URL"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        rows, _ = rawarrow.convert_bam(
            f"s3://reads/bam/{bam.name}", str(tmp_path / "s3.arrow"), storage_options=options
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert rows == read_ipc(tmp_path / "local.arrow").num_rows
    assert (tmp_path / "s3.arrow").read_bytes() == (tmp_path / "local.arrow").read_bytes()


def test_a_missing_object_and_a_bad_secret_are_clear_errors(moto, nginx):
    with pytest.raises(FileNotFoundError, match="missing.bam"):
        rawarrow.read_bam(nginx.url("missing.bam"))
    out = run("bam", "view", "-c", nginx.url("missing.bam"))
    assert out.returncode == 1
    assert "missing.bam" in out.stderr and "not found" in out.stderr
    secret = "wrong-secret-do-not-print"
    options = {
        "aws_endpoint": moto.endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": secret,
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    # moto checks no signatures: a missing key is the error here; the secret must not show.
    with pytest.raises(FileNotFoundError) as e:
        rawarrow.read_bam("s3://reads/bam/nothing.bam", storage_options=options)
    assert secret not in str(e.value)
    with pytest.raises(ValueError, match="storage option"):
        rawarrow.read_bam(nginx.url("sample.bam"), storage_options={"no_such_option": "1"})
    with pytest.raises(ValueError, match="fetch_bytes"):
        rawarrow.read_bam(nginx.url("sample.bam"), storage_options={"fetch_bytes": "lots"})


def sorted_bams():
    return [b for b in BAMS if b.name in {"sample.bam", "ataqv_test.bam", "donors_chr22.bam", "ce_large_seq.bam", "SRR11728627.bam"}]


def random_regions(bam: pathlib.Path, n: int, seed: int):
    """`n` regions of 100 b to 1 Mb on the references that have mapped reads (samtools
    idxstats), none when no reference has."""
    stats = subprocess.run(["samtools", "idxstats", str(bam)], capture_output=True, text=True, check=True).stdout
    refs = []
    for line in stats.splitlines():
        name, length, mapped, _ = line.split("\t")
        if name != "*" and int(mapped) > 0:
            refs.append((name, int(length)))
    if not refs:
        return []
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name, length = rng.choice(refs)
        beg = rng.randint(1, length)
        end = min(length, beg + rng.choice([100, 10_000, 1_000_000]))
        out.append(f"{name}:{beg}-{end}")
    return out


def samtools_view(url, region, tmp_path):
    """`samtools view URL REGION` in a folder of its own: htslib saves a remote index in the
    working folder, and would reuse it (fetching less) next time."""
    cwd = tmp_path / f"samtools-{time.monotonic_ns()}"
    cwd.mkdir()
    return subprocess.run(["samtools", "view", url, region], capture_output=True, text=True, cwd=cwd)


def test_thirty_random_regions_per_bam_over_http_equal_samtools(www, nginx, tmp_path):
    need_samtools()
    for bam in BAMS:
        url = nginx.url(f"sorted/{bam.name}")
        for region in random_regions(www / "sorted" / bam.name, 30, seed=len(bam.name)):
            ours = run("bam", "view", url, region)
            theirs = samtools_view(url, region, tmp_path)
            assert theirs.returncode == 0, theirs.stderr
            assert ours.returncode == 0, f"{bam.name} {region}: {ours.stderr}"
            assert ours.stdout == theirs.stdout, f"{bam.name} {region}"


def test_a_region_query_fetches_no_more_than_samtools(www, nginx, tmp_path):
    """The header, the index and the index's chunks only: the bytes nginx sent for our query
    are at most 1.5 times those it sent samtools for the same one."""
    need_samtools()
    bam = max(BAMS, key=lambda b: (www / "sorted" / b.name).stat().st_size)
    url = nginx.url(f"sorted/{bam.name}")
    for region in random_regions(www / "sorted" / bam.name, 5, seed=7):
        before = len(nginx.served())
        ours = ok("bam", "view", url, region)
        mid = len(nginx.served())
        theirs = samtools_view(url, region, tmp_path)
        assert theirs.returncode == 0, theirs.stderr
        time.sleep(0.2)  # nginx writes its log line after the response
        served = nginx.served()
        ours_bytes = sum(r[3] for r in served[before:mid])
        theirs_bytes = sum(r[3] for r in served[mid:])
        assert ours.stdout == theirs.stdout
        assert ours_bytes <= 1.5 * theirs_bytes, (region, ours_bytes, theirs_bytes, served[before:mid])


def test_regions_from_s3_with_the_index_beside_equal_samtools(www, moto):
    need_samtools()
    bam = www / "sorted" / "sample.bam"
    moto.put("reads", "sorted/sample.bam", bam)
    moto.put("reads", "sorted/sample.bam.bai", pathlib.Path(str(bam) + ".bai"))
    for region in random_regions(bam, 10, seed=3):
        ours = ok("bam", "view", "s3://reads/sorted/sample.bam", region, env=moto.env())
        theirs = subprocess.run(["samtools", "view", str(bam), region], capture_output=True, text=True, check=True)
        assert ours.stdout == theirs.stdout, region


def test_cram_from_s3_http_and_file_objects_reads_as_the_file(www, nginx, moto, tmp_path):
    """CRAM 3.0 and 3.1 read from S3 and over HTTP (whole, and by regions through the .crai
    beside the object: samtools' records) and from a Python file object give the file's rows."""
    need_samtools()
    import io

    from conftest import random_reference

    bam = www / "sorted" / "sample.bam"
    fa = random_reference(bam, tmp_path / "ref.fa", 11)
    options = {
        "aws_endpoint": moto.endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing-secret",
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    for version in ("3.0", "3.1"):
        name = f"sample{version}.cram"
        cram = www / name
        subprocess.run(["samtools", "view", "-C", "--no-PG", "-T", str(fa), "--output-fmt-option",
                        f"version={version}", "--output-fmt-option", "seqs_per_slice=500",
                        str(bam), "-o", str(cram)], check=True, capture_output=True)
        subprocess.run(["samtools", "index", str(cram)], check=True, capture_output=True)
        moto.put("reads", f"cram/{name}", cram)
        moto.put("reads", f"cram/{name}.crai", pathlib.Path(str(cram) + ".crai"))
        want = pa.table(rawarrow.read_bam(cram, reference=fa))
        assert want.num_rows == 4000
        for url, storage in ((nginx.url(name), None), (f"s3://reads/cram/{name}", options)):
            got = pa.table(rawarrow.read_bam(url, reference=fa, storage_options=storage, threads=2))
            assert got.equals(want), url
        with open(cram, "rb") as f:
            assert pa.table(rawarrow.read_bam(f, reference=fa)).equals(want)
        assert pa.table(rawarrow.read_bam(io.BytesIO(cram.read_bytes()), reference=fa)).equals(want)
        for region in random_regions(bam, 5, seed=5):
            theirs = subprocess.run(["samtools", "view", "-T", str(fa), str(cram), region],
                                    capture_output=True, text=True, check=True)
            for url, env in ((nginx.url(name), None), (f"s3://reads/cram/{name}", moto.env())):
                ours = ok("bam", "view", "-T", fa, url, region, env=env)
                assert ours.stdout == theirs.stdout, (url, region)
            rows = pa.table(rawarrow.read_bam(f"s3://reads/cram/{name}", reference=fa, regions=[region],
                                              storage_options=options))
            assert rows.num_rows == theirs.stdout.count("\n"), region


# Faults: the proxy misbehaves; retried reads give the right bytes, exhausted retries and
# swapped objects are errors naming the URL and range, nothing hangs, nothing partial is left.


def test_retried_faults_give_the_right_bytes(proxy, tmp_path):
    bam = max(BAMS, key=lambda b: b.stat().st_size)
    ok("bam", bam, "-o", tmp_path / "local.arrow", "--quiet")
    for fault in ("503", "reset", "short", "stall"):
        proxy.reset()
        proxy.faults = {2 * 65536 - 1: [fault, fault], 4 * 65536 - 1: [fault]}
        out = tmp_path / f"{fault}.arrow"
        ok(
            "bam", proxy.url(bam.name), "-o", out, "--quiet",
            "--storage-option", "fetch_bytes=65536", "--storage-option", "timeout=2s",
        )
        assert out.read_bytes() == (tmp_path / "local.arrow").read_bytes(), fault
        assert any(r[3] == fault for r in proxy.requests), proxy.requests


def test_exhausted_retries_are_an_error_with_url_and_range(proxy, tmp_path):
    bam = max(BAMS, key=lambda b: b.stat().st_size)
    for fault in ("503", "short"):
        proxy.reset()
        proxy.faults = {2 * 65536 - 1: [fault] * 50}
        out = tmp_path / "x.arrow"
        started = time.monotonic()
        got = run(
            "bam", proxy.url(bam.name), "-o", out, "--quiet",
            "--storage-option", "fetch_bytes=65536", "--storage-option", "retries=2",
        )
        assert got.returncode == 1, (fault, proxy.requests)
        assert proxy.url(bam.name) in got.stderr and "bytes 65536-131071" in got.stderr, got.stderr
        assert not out.exists() and not list(tmp_path.glob(".rawarrow-*")), "partial output left"
        assert time.monotonic() - started < 60


def test_a_stalled_server_times_out(proxy, tmp_path):
    proxy.reset()
    proxy.faults = {(DATA / "sample.bam").stat().st_size - 1: ["stall"] * 20}
    started = time.monotonic()
    got = run(
        "bam", proxy.url("sample.bam"), "-o", tmp_path / "x.arrow", "--quiet",
        "--storage-option", "timeout=1s", "--storage-option", "retries=1",
    )
    assert got.returncode == 1
    assert "sample.bam" in got.stderr
    assert time.monotonic() - started < 30


def test_an_object_replaced_mid_read_is_an_error_never_wrong_rows(proxy, www, tmp_path):
    big = max(BAMS, key=lambda b: b.stat().st_size)
    other = min(BAMS, key=lambda b: b.stat().st_size)
    proxy.reset()
    proxy.swap_to = "/" + other.name
    proxy.faults = {3 * 65536 - 1: ["swap"]}
    out = tmp_path / "x.arrow"
    got = run("bam", proxy.url(big.name), "-o", out, "--quiet", "--storage-option", "fetch_bytes=65536")
    assert got.returncode == 1, got.stderr
    assert "replaced" in got.stderr and big.name in got.stderr, got.stderr
    assert not out.exists()


@pytest.mark.parametrize("bam", BAMS, ids=[b.name for b in BAMS])
def test_byte_range_splits_over_http_give_every_record_once(bam, nginx):
    """Splits of a remote object, most starting mid-block, found without an index from the
    bytes fetched from their start: together they are the whole file's records, in order."""
    whole = pa.table(rawarrow.read_bam(str(bam)))
    size = bam.stat().st_size
    step = max(7_919, size // 7)
    parts = [
        pa.table(rawarrow.read_bam(nginx.url(bam.name), byte_range=(start, min(start + step, size))))
        for start in range(0, size, step)
    ]
    got = pa.concat_tables(parts)
    assert got.num_rows == whole.num_rows
    assert got.equals(whole), bam.name


# MIDI: a bucket prefix is a folder, URLs are files.


def midi_table(paths, **kw):
    return pa.table(rawarrow.read_midi(paths, **kw))


def without_file(table: pa.Table) -> pa.Table:
    return table.drop(["file"])


@pytest.mark.parametrize("folder", __import__("conftest").midi_inputs(), ids=lambda p: p.name)
def test_a_midi_prefix_in_s3_reads_as_its_folder(folder, moto):
    songs = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi", ".kar", ".rmi", ".smf"))
    assert songs
    prefix = f"songs/{abs(hash(str(folder)))}/"
    for p in songs:
        moto.put("music", prefix + str(p.relative_to(folder)), p)
    moto.put("music", prefix + "README.txt", DATA / "sample.sam.gz")  # not MIDI: not listed
    options = {
        "aws_endpoint": moto.endpoint, "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing-secret", "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    url = f"s3://music/{prefix}"
    for table in ("notes", "files"):
        local = midi_table([folder], table=table)
        remote = midi_table([url], table=table, storage_options=options)
        assert without_file(remote).equals(without_file(local)), table
        names = remote.column("file").cast(pa.string()).unique().to_pylist()
        assert all(n.startswith(url) for n in names), names[:3]
        assert len(names) == (len(songs) if table == "files" else len(set(local.column("file").cast(pa.string()).to_pylist())))


def test_midi_files_over_http_and_a_missing_one(www, nginx):
    song = sorted(p for p in __import__("conftest").MIDI_SEEDS.iterdir() if p.suffix == ".mid")[1]
    (www / "songs").mkdir(exist_ok=True)
    os.symlink(song, www / "songs" / song.name)
    local = midi_table([song], table="files")
    remote = midi_table([nginx.url(f"songs/{song.name}"), nginx.url("songs/gone.mid")], table="files")
    assert remote.num_rows == 2
    files = remote.column("file").cast(pa.string()).to_pylist()
    gone, found = files.index(nginx.url("songs/gone.mid")), files.index(nginx.url(f"songs/{song.name}"))
    error = remote.column("error")[gone].as_py()
    assert error is not None and "not found" in error, error
    assert without_file(remote.slice(found, 1)).equals(without_file(local))


# timsTOF: a .d prefix is its two objects; analysis.tdf is fetched to a private temporary file
# (removed), analysis.tdf_bin read by ranges, each job fetching only its frames' blobs.

S3_OPTIONS = {
    "aws_access_key_id": "testing", "aws_secret_access_key": "testing-secret",
    "aws_region": "us-east-1", "aws_allow_http": "true",
}


@pytest.fixture(scope="module")
def tdf_served(www, moto, tmp_path_factory):
    """Every timsTOF run under `tdf/NAME` in nginx's root and in the `runs` bucket."""
    (www / "tdf").mkdir()
    runs = tdf_runs(tmp_path_factory)
    for run in runs:
        os.symlink(run, www / "tdf" / run.name)
        for f in run.iterdir():
            moto.put("runs", f"tdf/{run.name}/{f.name}", f)
    return runs


def tdf_tables(run: pathlib.Path):
    return ("peaks", "precursors", "spectra") if "DDPASEF" in run.name else ("peaks", "windows")


def same_conversion(local_args, remote_args, env=None):
    """The CLI's IPC bytes for a local and a remote input, or the same failure."""
    a, b = run(*local_args), run(*remote_args, env=env)
    assert a.returncode == b.returncode, (remote_args, a.stderr, b.stderr)
    return a, b


def test_every_tdf_run_over_http_and_s3_gives_the_local_ipc_bytes(tdf_served, nginx, moto, tmp_path):
    converted = 0
    for run_dir in tdf_served:
        for table in tdf_tables(run_dir):
            local = tmp_path / f"{run_dir.name}.{table}.local.arrow"
            for where, url, env in (
                ("http", nginx.url(f"tdf/{run_dir.name}"), None),
                ("s3", f"s3://runs/tdf/{run_dir.name}/", moto.env()),
            ):
                for threads in ("1", "2"):
                    out = tmp_path / f"{run_dir.name}.{table}.{where}{threads}.arrow"
                    a, b = same_conversion(
                        ("tdf", run_dir, "--table", table, "-t", threads, "-o", local, "--quiet"),
                        ("tdf", url, "--table", table, "-t", threads, "-o", out, "--quiet"),
                        env=env,
                    )
                    if a.returncode == 0:
                        assert out.read_bytes() == local.read_bytes(), (url, table, threads)
                        converted += 1
                    else:
                        # The same refusal, naming the URL instead of the path.
                        assert not out.exists()
                        assert a.stderr.replace(str(run_dir), "").split(":")[-1] == b.stderr.split(":")[-1], (a.stderr, b.stderr)
    assert converted >= 4 * len(tdf_served)


def test_read_tdf_and_convert_tdf_take_urls_and_storage_options(tdf_served, moto, tmp_path):
    run_dir = tdf_served[-1] if CORPUS is None else next(r for r in tdf_served if "DDPASEF" in r.name)
    options = dict(S3_OPTIONS, aws_endpoint=moto.endpoint)
    url = f"s3://runs/tdf/{run_dir.name}"
    table = "spectra" if "DDPASEF" in run_dir.name else "peaks"
    want = pa.table(rawarrow.read_tdf(run_dir, table=table))
    got = pa.table(rawarrow.read_tdf(url, table=table, storage_options=options, threads=2))
    assert got.num_rows > 0 and got.equals(want)
    rawarrow.convert_tdf(run_dir, tmp_path / "local.arrow", table=table)
    rawarrow.convert_tdf(url, tmp_path / "s3.arrow", table=table, storage_options=options)
    assert (tmp_path / "s3.arrow").read_bytes() == (tmp_path / "local.arrow").read_bytes()
    with pytest.raises(FileNotFoundError, match="analysis.tdf"):
        rawarrow.read_tdf("s3://runs/tdf/none.d", storage_options=options)
    with pytest.raises(ValueError, match="fetch_concurrency"):
        rawarrow.read_tdf(url, storage_options=dict(options, fetch_concurrency="none"))


def blob_extents(run_dir: pathlib.Path, where: str):
    """(TimsId, bytes to the next blob or the end of the file) of the frames `where` selects:
    their blobs' extents in analysis.tdf_bin, from the Frames table alone."""
    import sqlite3

    con = sqlite3.connect(f"file:{run_dir / 'analysis.tdf'}?mode=ro", uri=True)
    every = sorted({r[0] for r in con.execute("SELECT TimsId FROM Frames")})
    chosen = sorted({r[0] for r in con.execute(f"SELECT TimsId FROM Frames WHERE {where}")})
    con.close()
    size = (run_dir / "analysis.tdf_bin").stat().st_size
    nxt = dict(zip(every, every[1:] + [size]))
    return [(i, nxt[i] - i) for i in chosen]


def test_a_tdf_rt_slice_fetches_only_its_frames(tdf_served, nginx, tmp_path):
    """The bytes nginx sent for analysis.tdf_bin are exactly the blobs of the frames in the
    slice (each to where the next blob starts); analysis.tdf is sent whole, once."""
    import sqlite3

    checked = 0
    for run_dir in tdf_served:
        if (run_dir / "analysis.tdf_bin").stat().st_size < 256 << 10:
            continue
        con = sqlite3.connect(f"file:{run_dir / 'analysis.tdf'}?mode=ro", uri=True)
        times = [r[0] for r in con.execute("SELECT Time FROM Frames ORDER BY Id")]
        con.close()
        lo, hi = times[len(times) // 3], times[len(times) // 2]
        inside = blob_extents(run_dir, f"Time >= {lo!r} AND Time <= {hi!r}")
        before = len(nginx.served())
        ok("tdf", nginx.url(f"tdf/{run_dir.name}"), "--rt", f"{lo!r}:{hi!r}", "-t", "2", "-o", tmp_path / "slice.arrow", "--quiet")
        ok("tdf", run_dir, "--rt", f"{lo!r}:{hi!r}", "-o", tmp_path / "local.arrow", "--quiet")
        assert (tmp_path / "slice.arrow").read_bytes() == (tmp_path / "local.arrow").read_bytes()
        served = nginx.served()[before:]
        bin_bytes = sum(r[3] for r in served if r[0] == "GET" and r[1].endswith("/analysis.tdf_bin"))
        tdf_bytes = sum(r[3] for r in served if r[0] == "GET" and r[1].endswith("/analysis.tdf"))
        needed = sum(n for _, n in inside)
        assert bin_bytes == needed, (run_dir.name, bin_bytes, needed)
        assert bin_bytes < (run_dir / "analysis.tdf_bin").stat().st_size * 0.6
        assert tdf_bytes == (run_dir / "analysis.tdf").stat().st_size
        checked += 1
    assert checked >= 1


def test_tdf_faults_retried_or_reported_with_nothing_left(tdf_served, proxy, tmp_path):
    """A 503 and a cut body on the frame data are retried (same bytes); exhausted retries are an
    error naming the URL and the byte range; no temporary copy of analysis.tdf stays behind."""
    run_dir = max(tdf_served, key=lambda r: (r / "analysis.tdf_bin").stat().st_size)
    name = f"tdf/{run_dir.name}"
    ok("tdf", run_dir, "-o", tmp_path / "local.arrow", "--quiet")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    # A clean run through the proxy shows which ranges of analysis.tdf_bin are asked for.
    proxy.reset()
    ok("tdf", proxy.url(name), "-t", "1", "-o", tmp_path / "clean.arrow", "--quiet", env=env)
    ranges = [r[2] for r in proxy.requests if r[0] == "GET" and r[1].endswith("tdf_bin")]
    assert len(ranges) >= 2, ranges
    last_byte = int(ranges[1].split("-")[-1])
    for fault in ("503", "short", "reset"):
        proxy.reset()
        proxy.faults = {last_byte: [fault, fault]}
        out = tmp_path / f"{fault}.arrow"
        ok("tdf", proxy.url(name), "-t", "2", "-o", out, "--quiet", env=env)
        assert out.read_bytes() == (tmp_path / "local.arrow").read_bytes(), fault
        assert any(r[3] == fault for r in proxy.requests)
    proxy.reset()
    proxy.faults = {last_byte: ["503"] * 50}
    out = tmp_path / "x.arrow"
    got = run("tdf", proxy.url(name), "-o", out, "--quiet", "--storage-option", "retries=1", env=env)
    assert got.returncode == 1, got.stderr
    first = ranges[1].split("=")[1].split("-")[0]
    assert proxy.url(f"{name}/analysis.tdf_bin") in got.stderr and f"bytes {first}-{last_byte}" in got.stderr, got.stderr
    assert not out.exists() and not list(tmp_path.glob(".rawarrow-*"))
    assert not list(temp.iterdir()), list(temp.iterdir())


def test_aws_profile_files_give_keys_region_and_endpoint(moto, tmp_path, monkeypatch):
    """No AWS_* credentials in the environment: the profile in ~/.aws/credentials and
    ~/.aws/config (AWS_PROFILE, or the aws_profile storage option) gives the keys, the region
    and moto's endpoint; a profile that is not there is a usage error naming it."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n"
        "[moto]\naws_access_key_id = testing\naws_secret_access_key = testing-secret\n"
    )
    (home / ".aws" / "config").write_text(
        f"[profile moto]\nregion = us-east-1\nendpoint_url = {moto.endpoint}\n"
    )
    bam = DATA / "sample.bam"
    moto.put("reads", "profile/sample.bam", bam)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_PROFILE="moto", AWS_ALLOW_HTTP="true")
    out = tmp_path / "p.arrow"
    got = subprocess.run([str(cli_path()), "bam", "s3://reads/profile/sample.bam", "-o", str(out), "--quiet"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == 0, got.stderr
    ok("bam", bam, "-o", tmp_path / "local.arrow", "--quiet")
    assert out.read_bytes() == (tmp_path / "local.arrow").read_bytes()
    env["AWS_PROFILE"] = "absent"
    got = subprocess.run([str(cli_path()), "bam", "-c", "s3://reads/profile/sample.bam"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == 2 and '"absent" is in neither' in got.stderr, got.stderr
    # In Python, the profile named by a storage option; files named by the environment.
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    table = pa.table(rawarrow.read_bam("s3://reads/profile/sample.bam", storage_options={"aws_profile": "moto"}))
    assert table.equals(pa.table(rawarrow.read_bam(bam)))
    with pytest.raises(ValueError, match="absent"):
        rawarrow.read_bam("s3://reads/profile/sample.bam", storage_options={"aws_profile": "absent"})
