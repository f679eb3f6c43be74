#!/usr/bin/env python3
"""Regenerates tests/data/sample.bam: simulated paired-end reads against a random reference.

Everything here is made by this script (no third-party data), so the sample can ship with the
repository. Usage (needs samtools):

    python3 tests/data/make_sample.py > /tmp/sample.sam
    samtools sort -o tests/data/sample.bam /tmp/sample.sam
"""
import random

rng = random.Random(20261121)
REFS = [("chrS1", 60000), ("chrS2", 25000)]
seqs = {name: "".join(rng.choice("ACGT") for _ in range(n)) for name, n in REFS}
COMP = str.maketrans("ACGTN", "TGCAN")


def mutate(s):
    out = []
    for b in s:
        r = rng.random()
        out.append(rng.choice("ACGT".replace(b, "")) if r < 0.01 else ("N" if r < 0.012 else b))
    return "".join(out)


def read_at(ref, pos, length):
    """A read starting at 0-based pos, with occasional soft clips, insertions and deletions."""
    seq, ops = [], []
    i = pos
    clip = rng.choice([0] * 8 + [3, 12])
    if clip:
        seq.append("".join(rng.choice("ACGT") for _ in range(clip)))
        ops.append(f"{clip}S")
    remaining = length - clip
    while remaining > 0:
        m = min(remaining, rng.randint(20, 150))
        seq.append(ref[i:i + m])
        if ops and ops[-1].endswith("M"):
            ops[-1] = f"{int(ops[-1][:-1]) + m}M"
        else:
            ops.append(f"{m}M")
        i += m
        remaining -= m
        if remaining > 5 and rng.random() < 0.15:
            if rng.random() < 0.5:
                k = rng.randint(1, 4)
                seq.append("".join(rng.choice("ACGT") for _ in range(k)))
                ops.append(f"{k}I")
                remaining -= k
            else:
                k = rng.randint(1, 6)
                ops.append(f"{k}D")
                i += k
    s = "".join(seq)[:length]
    return mutate(s), "".join(ops), i


print("@HD\tVN:1.6\tSO:unsorted")
for name, n in REFS:
    print(f"@SQ\tSN:{name}\tLN:{n}")
print("@RG\tID:sim1\tSM:simulated\tPL:ILLUMINA")
print("@PG\tID:make_sample\tPN:make_sample.py\tVN:1")

for k in range(2000):
    qname = f"sim:{k // 100}:{k:05d}"
    if k % 97 == 0:  # unmapped pair
        for flag in (77, 141):
            seq = "".join(rng.choice("ACGTN") for _ in range(100))
            qual = "".join(chr(33 + rng.randint(2, 41)) for _ in range(100))
            print(f"{qname}\t{flag}\t*\t0\t0\t*\t*\t0\t0\t{seq}\t{qual}\tRG:Z:sim1")
        continue
    rname, rlen = rng.choice(REFS)
    ref = seqs[rname]
    length = rng.choice([100, 100, 100, 150, 76])
    p1 = rng.randint(0, rlen - 700)
    p2 = p1 + rng.randint(150, 450)
    s1, c1, e1 = read_at(ref, p1, length)
    s2, c2, e2 = read_at(ref, p2, length)
    s2 = s2.translate(COMP)[::-1]
    tlen = e2 - p1
    for (seq, cigar, pos, mpos, flag, t, mate_rev) in (
        (s1, c1, p1, p2, 99, tlen, True),
        (s2, c2, p2, p1, 147, -tlen, False),
    ):
        mapq = rng.choice([60, 60, 60, 0, 23, 255])
        qual = "*" if k % 53 == 0 else "".join(chr(33 + rng.randint(2, 41)) for _ in range(len(seq)))
        nm = rng.randint(0, 4)
        tags = [f"NM:i:{nm}", f"AS:i:{len(seq) - 5 * nm}", "RG:Z:sim1", f"XS:i:{rng.randint(-5, 40)}"]
        if k % 7 == 0:
            tags.append(f"XF:f:{rng.uniform(-1000, 1000):.4f}")
        if k % 11 == 0:
            tags.append("ZB:B:s," + ",".join(str(rng.randint(-300, 300)) for _ in range(5)))
        if k % 13 == 0:
            tags.append(f"XA:A:{rng.choice('ACGT')}")
        if k % 17 == 0:
            tags.append("ZH:H:" + "".join(rng.choice("0123456789ABCDEF") for _ in range(8)))
        print(f"{qname}\t{flag}\t{rname}\t{pos + 1}\t{mapq}\t{cigar}\t=\t{mpos + 1}\t{t}\t{seq}\t{qual}\t" + "\t".join(tags))
