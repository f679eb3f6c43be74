#!/usr/bin/env python3
"""Writes synthetic timsTOF frame blobs as seeds for the `tdf_frame` fuzz target (needs the
`zstandard` module). Each seed is 8 bytes (u16 NumScans, u16 NumPeaks, u8 TimsId, 3 spare) and a
tdf_bin holding the blob at that offset."""
import os, struct, zstandard

def blob(scan_peaks, rng_seed):
    scans = len(scan_peaks)
    words = [scans] + [2 * n for n in scan_peaks[:-1]]
    x = rng_seed
    for n in scan_peaks:
        for _ in range(n):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            words += [1 + x % 300, 1 + (x >> 8) % 5000]
    raw = b"".join(bytes((w >> (8 * p)) & 0xFF for w in words) for p in range(4))
    z = zstandard.ZstdCompressor(level=1).compress(raw)
    return struct.pack("<II", 8 + len(z), scans) + z, scans, sum(scan_peaks)

here = os.path.join(os.path.dirname(__file__), "tdf_frame")
os.makedirs(here, exist_ok=True)
for name, peaks, off in [("small", [2, 0, 3, 1], 0), ("offset", [0, 5, 0, 0, 7, 2], 3)]:
    b, scans, n = blob(peaks, 7)
    with open(os.path.join(here, name), "wb") as f:
        f.write(struct.pack("<HHB3x", scans, n, off) + b"\0" * off + b)
