#!/bin/sh
# Regenerates tests/data/xf_int.bam: three unmapped records like floats.bam's (no @SQ lines) whose
# XF tag is an integer where floats.bam's is a float, so a conversion of both with `--tag XF`
# (type taken from the first input) must refuse the second input. Needs samtools.
set -eu
cd "$(dirname "$0")"
printf '@HD\tVN:1.6\ni0\t4\t*\t0\t0\t*\t*\t0\t0\tA\tI\tXF:i:7\ni1\t4\t*\t0\t0\t*\t*\t0\t0\tC\tI\tXF:i:-3\ni2\t4\t*\t0\t0\t*\t*\t0\t0\tG\tI\tXF:i:100000\n' \
  | samtools view --no-PG -b -o xf_int.bam -
