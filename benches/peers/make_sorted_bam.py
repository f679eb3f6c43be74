"""A coordinate-sorted benchmark BAM of realistic density: 30 copies of a corpus BAM's records,
each copy moved to its own 60 Mb slot of the large references (so sorting does not put identical
reads side by side, which would compress them away), piped into `samtools sort`.

    python3 benches/peers/make_sorted_bam.py ../shared/corpus/bam/donors_chr22.bam 22 \
        | samtools sort -@2 -m 1500M -o /tmp/bench/big.sorted.bam -
"""

import subprocess
import sys

src, ref = sys.argv[1], sys.argv[2]
hdr = subprocess.run(["samtools", "view", "-H", src], capture_output=True, text=True, check=True).stdout
refs = [(l.split("\t")[1][3:], int(l.split("\t")[2][3:])) for l in hdr.splitlines() if l.startswith("@SQ")]
slots = [(n, j * 60_000_000) for n, ln in refs if ln > 60_000_000 for j in range(ln // 60_000_000)][:30]
sam = subprocess.run(["samtools", "view", src], capture_output=True, text=True, check=True).stdout.splitlines()
out = sys.stdout
out.write(hdr)
for k, (name, off) in enumerate(slots):
    for line in sam:
        f = line.split("\t")
        f[0] = f"{f[0]}.{k}"
        if f[2] == ref:
            f[2] = name
            f[3] = str(int(f[3]) + off)
        if f[6] == ref:
            f[6] = name
        if f[6] in ("=", name) and f[7] != "0":
            f[7] = str(int(f[7]) + off)
        out.write("\t".join(f) + "\n")
