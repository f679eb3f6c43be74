"""Shared fixtures of the Python tests.

The oracles are independent of the package: samtools' text (`*.sam.gz` beside each BAM), and the
rawarrow command line's IPC output read back with pyarrow (the Rust readers the package must
equal, through a different path). The CLI is `target/release/rawarrow` (built by
`tests/run-all`), or `$RAWARROW_CLI`.
"""

import gzip
import os
import pathlib
import struct
import subprocess
import zlib

import pyarrow as pa
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
CORPUS = pathlib.Path(os.environ["RAWARROW_CORPUS"]) if os.environ.get("RAWARROW_CORPUS") else None
MIDI_SEEDS = REPO / "fuzz" / "seeds" / "midi"


def cli_path() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("RAWARROW_CLI", REPO / "target" / "release" / "rawarrow"))
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `cargo build --release` (tests/run-all does)")
    return path


def cli(*args) -> subprocess.CompletedProcess:
    """Runs the rawarrow CLI; fails the test on a non-zero exit."""
    out = subprocess.run([str(cli_path()), *map(str, args)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out


def read_ipc(path) -> pa.Table:
    return pa.ipc.open_file(str(path)).read_all()


def bams():
    """(BAM, samtools text) pairs: the repository's files, and the corpus's when given."""
    out = [(DATA / "sample.bam", DATA / "sample.sam.gz"), (DATA / "floats.bam", DATA / "floats.sam.gz")]
    if CORPUS is not None:
        found = sorted((CORPUS / "bam").glob("*.bam"))
        assert len(found) >= 4, f"expected the corpus BAMs in {CORPUS / 'bam'}"
        out += [(b, b.with_suffix(".sam.gz")) for b in found]
    return out


def sam_records(sam_gz):
    with gzip.open(sam_gz, "rt") as f:
        return [line.rstrip("\n").split("\t") for line in f]


def tdf_runs(tmp_factory):
    """timsTOF runs: a generated DIA run, and the corpus's when given."""
    gen = tmp_factory.mktemp("tdf") / "gen.d"
    cli("tdf-generate", gen, "--frames", 40, "--peaks-per-frame", 3000, "--scans", 200, "--seed", 7)
    runs = [gen]
    if CORPUS is not None:
        found = sorted((CORPUS / "tdf").glob("*.d"))
        assert len(found) >= 4, f"expected the corpus runs in {CORPUS / 'tdf'}"
        runs += found
    return runs


def midi_inputs():
    out = [MIDI_SEEDS]
    if CORPUS is not None:
        out.append(CORPUS / "midi")
    return out


# ---------------------------------------------------------------------------------------------
# BGZF files written here (zlib), independent of rawarrow.


def bgzf_blocks(data: bytes):
    """The BGZF blocks of a file: (offset, bytes) of each member, from its BSIZE field."""
    at, out = 0, []
    while at < len(data):
        assert data[at : at + 4] == b"\x1f\x8b\x08\x04", at
        bsize = struct.unpack_from("<H", data, at + 16)[0]
        out.append((at, data[at : at + bsize + 1]))
        at += bsize + 1
    return out


def inflate(block: bytes) -> bytes:
    return zlib.decompress(block[18:-8], -15)


def bgzf_compress(raw: bytes, eof=True) -> bytes:
    """BGZF of `raw` in 0xff00-byte members, as htslib writes them, plus the EOF marker."""
    out = bytearray()
    for i in range(0, len(raw), 0xFF00):
        chunk = raw[i : i + 0xFF00]
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = c.compress(chunk) + c.flush()
        header = struct.pack("<4BIBBHBBHH", 0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, 0x42, 0x43, 2, len(body) + 25)
        out += header + body + struct.pack("<II", zlib.crc32(chunk), len(chunk))
    if eof:
        out += EOF_BLOCK
    return bytes(out)


EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def bam_header_length(raw: bytes) -> int:
    l_text = struct.unpack_from("<i", raw, 4)[0]
    at = 8 + l_text
    n_ref = struct.unpack_from("<i", raw, at)[0]
    at += 4
    for _ in range(n_ref):
        l_name = struct.unpack_from("<i", raw, at)[0]
        at += 4 + l_name + 4
    return at


def repeat_bam(src: pathlib.Path, dst: pathlib.Path, min_bytes: int) -> int:
    """Writes a BAM made of `src`'s header and its record blocks repeated until the file has at
    least `min_bytes` (what `samtools cat` does with copies of one file); returns the records."""
    data = src.read_bytes()
    blocks = bgzf_blocks(data)
    assert blocks[-1][1] == EOF_BLOCK
    raw, head, body = bytearray(), None, None
    for i, (_, b) in enumerate(blocks):
        raw += inflate(b)
        if head is None and len(raw) >= 12:
            try:
                n = bam_header_length(raw)
            except struct.error:
                continue
            if n <= len(raw):
                # The header's blocks, recompressed when the first records share its last block.
                head = bgzf_compress(bytes(raw[:n]), eof=False)
                tail = bytes(raw[n:])
                body = (bgzf_compress(tail, eof=False) if tail else b"") + b"".join(
                    blk for _, blk in blocks[i + 1 : -1]
                )
    records = 0
    raw_body = raw[bam_header_length(raw) :]
    at = 0
    while at < len(raw_body):
        at += 4 + struct.unpack_from("<i", raw_body, at)[0]
        records += 1
    copies = max(1, -(-(min_bytes - len(head)) // len(body)))
    with open(dst, "wb") as f:
        f.write(head)
        for _ in range(copies):
            f.write(body)
        f.write(EOF_BLOCK)
    return records * copies


@pytest.fixture(scope="session")
def big_bam(tmp_path_factory):
    """A ≥ 300 MB BAM of mapped reads: the corpus's donors_chr22.bam repeated (or the sample
    when there is no corpus). Returns (path, records)."""
    src = CORPUS / "bam" / "donors_chr22.bam" if CORPUS is not None else DATA / "sample.bam"
    dst = tmp_path_factory.mktemp("big") / "big.bam"
    records = repeat_bam(src, dst, 300 << 20)
    return dst, records


def samtools_or_skip() -> None:
    """Skips the test when samtools is not installed (fails when RAWARROW_REQUIRE_SAMTOOLS says
    it must be)."""
    import shutil

    if shutil.which("samtools") is None:
        assert "RAWARROW_REQUIRE_SAMTOOLS" not in os.environ, "samtools is not installed"
        pytest.skip("samtools is not installed")


def random_reference(bam: pathlib.Path, fa: pathlib.Path, seed: int) -> pathlib.Path:
    """A FASTA of random bases for every @SQ line of `bam`'s header (samtools writes CRAM
    against it)."""
    import random

    header = subprocess.run(["samtools", "view", "-H", bam], check=True, capture_output=True,
                            text=True).stdout
    rng = random.Random(seed)
    with open(fa, "w") as out:
        for line in header.splitlines():
            if line.startswith("@SQ"):
                f = dict(x.split(":", 1) for x in line.split("\t")[1:])
                seq = "".join(rng.choice("ACGT") for _ in range(int(f["LN"])))
                out.write(f">{f['SN']}\n" + "\n".join(seq[i:i + 70] for i in range(0, len(seq), 70)) + "\n")
    return fa
