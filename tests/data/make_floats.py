#!/usr/bin/env python3
"""Regenerates tests/data/floats.bam and floats.sam.gz: float tags in every magnitude, to check
that `f` and `B:f` values print exactly as `samtools view` prints them. Usage (needs samtools):

    python3 tests/data/make_floats.py > /tmp/floats.sam
    samtools view -b -o tests/data/floats.bam /tmp/floats.sam
    samtools view tests/data/floats.bam | gzip -9n > tests/data/floats.sam.gz
"""
import random
import struct

rng = random.Random(7)
edges = [0.0, -0.0, 1.0, 0.1, 0.0001, 0.00009999, 999999.0, 999999.4, 999999.6, 1e-10, 100000.0,
         9.9999999, 0.99999999, 1e30, 65504.0, 7.0000004, 12345.678, 3.4e38, 1.17549435e-38, 1.4e-45]
vals = list(edges)
for _ in range(6000):
    e = rng.uniform(-12, 12)
    vals.append(rng.choice([1, -1]) * 10 ** e)
for _ in range(1500):  # short decimals, the kind tools write
    vals.append(round(rng.uniform(-1000, 1000), rng.randint(0, 4)))
# Round to float32 as BAM stores them, and print with enough digits to be exact.
vals = [struct.unpack("<f", struct.pack("<f", v))[0] for v in vals]
print("@HD\tVN:1.6")
for i in range(0, len(vals), 3):
    chunk = vals[i:i + 3]
    arr = ",".join(repr(v) for v in chunk)
    print(f"f{i}\t4\t*\t0\t0\t*\t*\t0\t0\tA\tI\tXF:f:{chunk[0]!r}\tZB:B:f,{arr}")
