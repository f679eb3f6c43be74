#!/usr/bin/env python3
"""A mutation campaign against samtools: mutants of real BAMs, each read by `samtools view` and
by `rawarrow bam view` and `rawarrow bam -o`, for a bounded time.

Mutations: byte flips, interesting values in a record's fixed fields, flips in aux data and
qualities above 93 in the decompressed stream (re-compressed as BGZF, so every CRC passes);
flips in BGZF header fields and trailers, blocks duplicated, removed or rewritten as plain gzip
in the compressed file; truncations of either; bytes inserted or deleted.

CRAM: the same records written by samtools as CRAM 3.0 and 3.1 (no reference, 50 records a
slice), mutated with blocks changed and re-sealed (their CRC32 recomputed, so that the change
reaches the codecs and record decoders), container header fields changed and re-sealed, raw sizes
changed, containers dropped or duplicated, raw flips and truncations.

Asserted for every mutant (the campaign fails otherwise, keeping the mutant under --keep):
  - rawarrow never panics, hangs or dies of a signal (exit 0 or 1 only);
  - no false rejection of BAM: when samtools reads the mutant (exit 0), rawarrow does too. For
    CRAM such refusals are counted, not failed: where samtools printed text other than the
    unmutated file's (htslib decodes a corrupt entropy stream into whatever it yields), where
    the refusal is a CRC32 mismatch (htslib never checks a slice header block's), and the
    rest, kept under --keep as `strict-*` (htslib reads corrupt CRAM structures leniently in
    ways rawarrow matches one by one as the campaign finds them);
  - no differing text: then `rawarrow bam view -h` prints exactly what `samtools view -h` does
    (for CRAM, unless samtools' text is not the unmutated file's either: both decoded a corrupt
    block into altered records; counted and kept as `altered-*`);
  - every refusal names the file and an offset;
  - no leftover file: a refused `rawarrow bam -o OUT` leaves neither OUT nor a temporary file.

Usage: tests/mutants.py --binary target/release/rawarrow [--seconds 100] [--seed 1] [BAM...]
(default inputs: tests/data/*.bam and $RAWARROW_CORPUS/bam/*.bam, each cut to its first
records so a mutant reads in milliseconds).
"""
import argparse
import glob
import gzip
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

EOF_MARKER = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def bgzf_block(data, level=1):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    deflated = c.compress(data) + c.flush()
    header = bytes([0x1F, 0x8B, 8, 4, 0, 0, 0, 0, 0, 0xFF, 6, 0, ord("B"), ord("C"), 2, 0])
    bsize = len(header) + 2 + len(deflated) + 8 - 1
    return (header + struct.pack("<H", bsize) + deflated
            + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data)))


def bgzf(data, cut=0xFF00):
    return b"".join(bgzf_block(data[i:i + cut]) for i in range(0, len(data), cut)) + EOF_MARKER


def blocks(file):
    """(offset, size) of each BGZF block."""
    out, at = [], 0
    while at + 18 <= len(file):
        size = struct.unpack_from("<H", file, at + 16)[0] + 1
        out.append((at, size))
        at += size
    return out


class Bam:
    """A decompressed BAM: its bytes, where the records start, and the header's end."""

    def __init__(self, raw, max_records):
        l_text = struct.unpack_from("<i", raw, 4)[0]
        at = 8 + l_text
        n_ref = struct.unpack_from("<i", raw, at)[0]
        at += 4
        for _ in range(n_ref):
            l_name = struct.unpack_from("<i", raw, at)[0]
            at += 8 + l_name
        self.header_end = at
        self.records = []
        while at + 4 <= len(raw) and len(self.records) < max_records:
            self.records.append(at)
            at += 4 + struct.unpack_from("<I", raw, at)[0]
        self.raw = raw[:at]


# Interesting values for 32-bit and 16-bit fields, 8-bit ones.
I32 = [0, 1, -1, -2, 2, 31, 32, 0x7FFFFFFF, -0x80000000, 0x7FFFFFFE, 255, 256, 65535, 65536]
I16 = [0, 1, 2, 0xFFFF, 0x8000, 0x7FFF, 9, 10, 15, 16]
I8 = [0, 1, 2, 93, 94, 127, 128, 254, 255]
# Fixed fields: (offset after block_size, width).
FIELDS = [(0, 4), (4, 4), (8, 1), (9, 1), (10, 2), (12, 2), (14, 2), (16, 4), (20, 4), (24, 4),
          (28, 4)]


def put(b, at, width, value):
    fmt = {1: "<B", 2: "<H", 4: "<i"}[width]
    if width == 1:
        value &= 0xFF
    elif width == 2:
        value &= 0xFFFF
    struct.pack_into(fmt, b, at, value)


def mutate(bam, file, rng):
    """A mutant (bytes) and a short description."""
    raw = bytearray(bam.raw)
    kind = rng.choice(["raw-flip", "raw-field", "raw-aux", "raw-qual", "raw-cut", "raw-indel",
                       "gz-header", "gz-trailer", "gz-flip", "gz-cut", "gz-dup", "gz-drop",
                       "gz-plain"])
    rec = rng.choice(bam.records) if bam.records else bam.header_end
    if kind == "raw-flip":
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(raw))
            raw[at] ^= 1 << rng.randrange(8)
        return bgzf(bytes(raw)), kind
    if kind == "raw-field":
        off, width = rng.choice(FIELDS)
        value = rng.choice({1: I8, 2: I16, 4: I32}[width])
        put(raw, rec + 4 + off, width, value)
        return bgzf(bytes(raw)), f"{kind}@{off}={value}"
    if kind in ("raw-aux", "raw-qual"):
        l_name, n_cigar, l_seq = raw[rec + 12], struct.unpack_from("<H", raw, rec + 16)[0], \
            struct.unpack_from("<i", raw, rec + 20)[0]
        size = struct.unpack_from("<I", raw, rec)[0]
        qual = rec + 36 + l_name + 4 * n_cigar + (l_seq + 1) // 2
        aux, end = qual + l_seq, rec + 4 + size
        if kind == "raw-qual" and l_seq > 0 and raw[qual] != 0xFF:
            for _ in range(rng.randint(1, 3)):
                raw[qual + rng.randrange(l_seq)] = rng.choice([94, 100, 126, 200, 254])
        elif kind == "raw-aux" and aux < end:
            raw[rng.randrange(aux, end)] = rng.choice([0, 0x41, 0x5A, 0x42, 0x69, 0xFF, 0x80])
        return bgzf(bytes(raw)), kind
    if kind == "raw-cut":
        return bgzf(bytes(raw[:rng.randrange(len(raw))])), kind
    if kind == "raw-indel":
        at = rng.randrange(bam.header_end, len(raw) + 1)
        if rng.random() < 0.5:
            raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        else:
            del raw[at:at + rng.randint(1, 4)]
        return bgzf(bytes(raw)), kind
    f = bytearray(file)
    bl = blocks(file)
    off, size = rng.choice(bl)
    if kind == "gz-header":
        at = off + rng.choice([2, 3, 3, 3, 10, 11, 12, 13, 14, 15, 16, 17])
        f[at] = rng.choice([0, 1, 0x20, 0x40, 0x80, 0xFF, f[at] ^ 1, f[at] + 1 & 0xFF])
        return bytes(f), kind
    if kind == "gz-trailer":
        at = off + size - rng.randint(1, 8)
        f[at] ^= 1 << rng.randrange(8)
        return bytes(f), kind
    if kind == "gz-flip":
        f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
        return bytes(f), kind
    if kind == "gz-cut":
        return bytes(f[:rng.randrange(len(f))]), kind
    if kind == "gz-dup":
        return bytes(f[:off + size] + f[off:]), kind
    if kind == "gz-drop":
        return bytes(f[:off] + f[off + size:]), kind
    # gz-plain: the block's data as a plain gzip member.
    data = zlib.decompress(bytes(f[off + 18:off + size - 8]), -15)
    return bytes(f[:off]) + gzip.compress(data, 1) + bytes(f[off + size:]), kind


# CRAM: mutants of CRAM 3.0 and 3.1 files samtools writes from the same inputs (no reference:
# bases stored, so samtools needs no FASTA either).


def itf8(b, at):
    """An ITF8 integer at `at`: (value, next offset)."""
    x = b[at]
    if x < 0x80:
        return x, at + 1
    if x < 0xC0:
        return (x & 0x3F) << 8 | b[at + 1], at + 2
    if x < 0xE0:
        return (x & 0x1F) << 16 | b[at + 1] << 8 | b[at + 2], at + 3
    if x < 0xF0:
        return (x & 0x0F) << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3], at + 4
    return (x & 0x0F) << 28 | b[at + 1] << 20 | b[at + 2] << 12 | b[at + 3] << 4 | b[at + 4] & 0x0F, at + 5


def ltf8(b, at):
    """An LTF8 integer's extent (the campaign never changes one): its next offset."""
    x, n = b[at], 0
    while n < 8 and x & (0x80 >> n):
        n += 1
    return at + 1 + n


class Cram:
    """A CRAM 3.x file's containers: (offset, header end, end, [(block offset, data offset,
    data end, block end)], [(field offset, field end)] of the header's ITF8 fields)."""

    def __init__(self, data):
        self.data = data
        self.containers = []
        at = 26
        while at + 4 <= len(data):
            length = struct.unpack_from("<i", data, at)[0]
            fields, p = [], at + 4
            for _ in range(4):  # reference, start, span, records
                _, q = itf8(data, p)
                fields.append((p, q))
                p = q
            p = ltf8(data, ltf8(data, p))
            nblocks, p = itf8(data, p)
            n, p = itf8(data, p)
            for _ in range(n):
                _, p = itf8(data, p)
            header_end = p + 4
            blocks, b = [], header_end
            for _ in range(nblocks):
                q = b + 2
                _, q = itf8(data, q)
                size, q = itf8(data, q)
                _, q = itf8(data, q)
                blocks.append((b, q, q + size, q + size + 4))
                b = q + size + 4
            self.containers.append((at, header_end, header_end + length, blocks, fields))
            at = header_end + length


def mutate_cram(cram, rng):
    """A CRAM mutant (bytes) and a short description: blocks changed and re-sealed (their
    CRC32 recomputed, so the change reaches the codecs and record decoders), header fields
    changed and re-sealed, containers dropped or duplicated, raw flips and truncations."""
    f = bytearray(cram.data)
    data_containers = [c for c in cram.containers[1:] if c[3]]
    kind = rng.choice(["cram-block", "cram-block", "cram-block", "cram-size", "cram-field",
                       "cram-flip", "cram-cut", "cram-drop", "cram-dup"])
    if kind == "cram-flip" or not data_containers:
        for _ in range(rng.randint(1, 3)):
            f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
        return bytes(f), "cram-flip"
    if kind == "cram-cut":
        return bytes(f[:rng.randrange(len(f))]), kind
    at, header_end, end, blocks, fields = rng.choice(data_containers)
    if kind == "cram-drop":
        return bytes(f[:at] + f[end:]), kind
    if kind == "cram-dup":
        return bytes(f[:end] + f[at:]), kind
    if kind == "cram-field":
        p, q = rng.choice(fields)
        if q - p == 1:
            f[p] = rng.choice([0, 1, 2, 5, 100, 127, rng.randrange(128)])
        else:
            f[q - 1] ^= 1 << rng.randrange(8)
        struct.pack_into("<I", f, header_end - 4, zlib.crc32(bytes(f[at:header_end - 4])))
        return bytes(f), kind
    b, d, e, block_end = rng.choice(blocks)
    if kind == "cram-size":
        # The raw size (ITF8 before the data): one byte of it changed.
        f[d - 1] = rng.choice([0, 1, f[d - 1] ^ 1, f[d - 1] + 1 & 0xFF, 0xFF & (f[d - 1] - 1)])
    elif e > d:
        for _ in range(rng.randint(1, 3)):
            f[rng.randrange(d, e)] ^= 1 << rng.randrange(8)
    struct.pack_into("<I", f, e, zlib.crc32(bytes(f[b:e])))
    return bytes(f), f"{kind}-method{f[b]}-content{f[b + 1]}"


def run(cmd, timeout=30):
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timeout", b"", ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--seconds", type=float, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--records", type=int, default=400, help="records kept per input")
    ap.add_argument("--keep", default="target/mutants", help="where failing mutants are kept")
    ap.add_argument("inputs", nargs="*")
    args = ap.parse_args()
    inputs = args.inputs or sorted(glob.glob("tests/data/*.bam"))
    if not args.inputs and os.environ.get("RAWARROW_CORPUS"):
        inputs += sorted(glob.glob(os.path.join(os.environ["RAWARROW_CORPUS"], "bam", "*.bam")))
    rng = random.Random(args.seed)
    bases = []
    work = tempfile.mkdtemp(prefix="rawarrow-mutants-")
    for path in inputs:
        with gzip.open(path) as g:
            raw = g.read(4 << 20)
        bam = Bam(raw, args.records)
        bases.append((os.path.basename(path), bam, bgzf(bam.raw)))
        # The same records as CRAM 3.0 and 3.1 (small slices: several containers).
        cut = os.path.join(work, "cut.bam")
        with open(cut, "wb") as f:
            f.write(bgzf(bam.raw))
        for version in ("3.0", "3.1"):
            out = os.path.join(work, "cut.cram")
            subprocess.run(["samtools", "view", "-C", "--no-PG", "--output-fmt-option", "no_ref=1",
                            "--output-fmt-option", f"version={version}", "--output-fmt-option",
                            "seqs_per_slice=50", cut, "-o", out], check=True, capture_output=True)
            with open(out, "rb") as f:
                cram = Cram(f.read())
            # What samtools prints for the unmutated file: a mutant it reads into other text
            # carries corruption it let through.
            original = subprocess.run(["samtools", "view", "-h", "--no-PG", out], check=True,
                                      capture_output=True).stdout
            bases.append((os.path.basename(path) + f".{version}.cram", cram, original))
        for e in os.listdir(work):
            os.remove(os.path.join(work, e))
    counts = {"mutants": 0, "samtools reads": 0, "identical": 0, "both refuse": 0,
              "only samtools refuses": 0, "samtools prints altered records, rawarrow refuses": 0,
              "rawarrow refuses a CRC32 mismatch samtools does not check": 0,
              "only rawarrow refuses (CRAM, kept)": 0,
              "both print altered records, differently (CRAM, kept)": 0}
    failures = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < args.seconds:
            name, bam, file = rng.choice(bases)
            if isinstance(bam, Cram):
                mutant, kind = mutate_cram(bam, rng)
            else:
                mutant, kind = mutate(bam, file, rng)
            path = os.path.join(work, "m.cram" if isinstance(bam, Cram) else "m.bam")
            with open(path, "wb") as f:
                f.write(mutant)
            counts["mutants"] += 1
            s_rc, s_out, _ = run(["samtools", "view", "-h", "--no-PG", path])
            threads = rng.choice(["1", "2"])
            r_rc, r_out, r_err = run([args.binary, "bam", "view", "-h", "-t", threads, path])
            out = os.path.join(work, "out.arrow")
            a_rc, _, a_err = run([args.binary, "bam", "--quiet", "-t", threads, "-o", out, path])
            problems = []
            for what, rc, err in [("view", r_rc, r_err), ("convert", a_rc, a_err)]:
                if rc not in (0, 1) or "panicked" in err:
                    problems.append(f"{what}: exit {rc}: {err.strip()[:300]}")
                elif rc == 1 and not (path in err and "offset" in err):
                    problems.append(f"{what}: refusal without file and offset: {err.strip()[:300]}")
            leftovers = [e for e in os.listdir(work) if e not in (os.path.basename(path), "out.arrow")]
            if a_rc != 0 and os.path.exists(out):
                leftovers.append("out.arrow")
            if leftovers:
                problems.append(f"leftover files after a refused conversion: {leftovers}")
            if s_rc == 0:
                counts["samtools reads"] += 1
                if r_rc != 0 and isinstance(bam, Cram) and s_out != file:
                    # htslib checks the CRC32 of the blocks it decompresses only and decodes a
                    # corrupt entropy stream into whatever it yields; rawarrow checks every
                    # block and stream. A refusal is right when samtools printed altered text.
                    counts["samtools prints altered records, rawarrow refuses"] += 1
                elif r_rc != 0 and isinstance(bam, Cram) and "CRC32 is" in r_err:
                    # The slice header block's CRC32, which htslib never checks.
                    counts["rawarrow refuses a CRC32 mismatch samtools does not check"] += 1
                elif r_rc != 0 and isinstance(bam, Cram):
                    # htslib reads corrupt CRAM structures leniently in more ways than one
                    # (skipping, guessing, clamping): such a refusal is kept for study and
                    # counted; rawarrow follows htslib where it found one (see the README).
                    counts["only rawarrow refuses (CRAM, kept)"] += 1
                    os.makedirs(args.keep, exist_ok=True)
                    n = counts["only rawarrow refuses (CRAM, kept)"]
                    kept = os.path.join(args.keep, f"strict-{n}-{name}-{kind}")
                    shutil.copy(path, kept)
                    print(f"note: rawarrow refuses, samtools reads the same text: {kept}: "
                          f"{r_err.strip()[:200]}", flush=True)
                elif r_rc != 0:
                    problems.append(f"false rejection: {r_err.strip()[:300]}")
                elif r_out != s_out and isinstance(bam, Cram) and s_out != file:
                    # samtools printed altered records too (a corrupt stream decoded into
                    # whatever came out); rawarrow's differ: kept for study and counted.
                    counts["both print altered records, differently (CRAM, kept)"] += 1
                    os.makedirs(args.keep, exist_ok=True)
                    n = counts["both print altered records, differently (CRAM, kept)"]
                    shutil.copy(path, os.path.join(args.keep, f"altered-{n}-{name}-{kind}"))
                elif r_out != s_out:
                    problems.append("SAM text differs from samtools")
                else:
                    counts["identical"] += 1
            elif r_rc == 0:
                counts["only samtools refuses"] += 1
                if counts["only samtools refuses"] <= 3:
                    os.makedirs(args.keep, exist_ok=True)
                    kept = os.path.join(args.keep, f"lenient-{counts['only samtools refuses']}-{name}-{kind}")
                    shutil.copy(path, kept)
                    print(f"note: samtools refuses, rawarrow reads: {kept}", flush=True)
            else:
                counts["both refuse"] += 1
            if problems:
                os.makedirs(args.keep, exist_ok=True)
                kept = os.path.join(args.keep, f"mutant-{len(failures)}-{name}-{kind}")
                shutil.copy(path, kept)
                failures.append((kept, problems))
                print(f"FAIL {kept} (t={threads}): " + "; ".join(problems), flush=True)
            for e in os.listdir(work):
                p = os.path.join(work, e)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    secs = time.monotonic() - start
    print(f"{counts['mutants']} mutants of {len(bases)} BAM and CRAM files in {secs:.0f} s: "
          + ", ".join(f"{v} {k}" for k, v in counts.items() if k != "mutants")
          + f", {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
