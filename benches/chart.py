#!/usr/bin/env python3
"""Draw benches/chart.svg from benches/results.csv (BENCHMARKS.md's table of today's figures).

    python3 benches/chart.py            # rewrite benches/chart.svg
    python3 benches/chart.py --check    # exit 1 if benches/chart.svg is not what the CSV gives

Standard library only. The output depends on the CSV alone (no time stamps, fixed number
formatting), so the same CSV always gives the same bytes and CI can run `--check`.

The CSV has one line per tool and job: job,input,tool,seconds_or_rate,unit,date,commit,machine,
source_section. In each job exactly one tool's name starts with "rawarrow": it is the reference.
Each bar is that tool's cost relative to rawarrow's, on a log scale: its time over rawarrow's
time (units s, ms, µs, ns), or rawarrow's rate over its rate (units ending in "/s"). rawarrow is
1×; a bar past 1× is a peer that rawarrow beats by that factor. A value "LOW..HIGH" is a range
(a solid bar to the end that favours the peer, a pale one to the other end); an empty value is a
peer not measured. A job whose unit is neither a time nor a rate (an accuracy count) is listed
under the chart, not drawn.
"""

import argparse
import csv
import math
import sys
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
CSV_PATH = HERE / "results.csv"
SVG_PATH = HERE / "chart.svg"
FIELDS = ["job", "input", "tool", "seconds_or_rate", "unit", "date", "commit", "machine",
          "source_section"]
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}

# Layout (pixels).
WIDTH = 1100
NAME_X = 28          # tool names
JOB_X = 12           # job titles
PLOT_X0 = 330        # left edge of the plot (the smallest tick)
PLOT_X1 = 770        # right edge (the largest tick)
TOP = 78             # first row
JOB_H = 20
ROW_H = 16
BAR_H = 10
GAP = 6
COLOR_RAWARROW = "#d95f02"
COLOR_PEER = "#5e60a8"
COLOR_GRID = "#dddddd"
COLOR_MUTED = "#888888"


def kind(unit):
    if unit in TIME_UNITS:
        return "time"
    if unit.endswith("/s"):
        return "rate"
    return "other"


def parse_value(text):
    """None (not measured), or (low, high) as floats (equal unless a range)."""
    text = text.strip()
    if not text:
        return None
    if ".." in text:
        low, high = text.split("..", 1)
        return float(low), float(high)
    v = float(text)
    return v, v


def fmt_number(text):
    """A recorded figure as written in the CSV, thousands separated when it is a whole number."""
    if "." in text or "e" in text.lower():
        return text
    return f"{int(text):,}"


def fmt_value(text, unit):
    text = text.strip()
    if ".." in text:
        low, high = text.split("..", 1)
        return f"{fmt_number(low)}–{fmt_number(high)} {unit}"
    return f"{fmt_number(text)} {unit}"


def fmt_ratio(r):
    if r >= 100:
        return f"{r:,.0f}"
    if r >= 10:
        return f"{r:.1f}"
    return f"{r:.2f}"


def ratios(row, ref):
    """(low, high) cost of row relative to ref (ref = 1), or None if not measured."""
    v = parse_value(row["seconds_or_rate"])
    if v is None:
        return None
    r = parse_value(ref["seconds_or_rate"])[0]
    if kind(row["unit"]) == "time":
        base = r * TIME_UNITS[ref["unit"]]
        scale = TIME_UNITS[row["unit"]]
        a, b = v[0] * scale / base, v[1] * scale / base
    else:
        a, b = r / v[0], r / v[1]
    return min(a, b), max(a, b)


def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != FIELDS:
            raise SystemExit(f"{path}: header must be {','.join(FIELDS)}")
        rows = list(reader)
    jobs = {}
    for row in rows:
        jobs.setdefault(row["job"], []).append(row)
    out = []
    for job, tools in jobs.items():
        refs = [t for t in tools if t["tool"].startswith("rawarrow")]
        if len(refs) != 1 or parse_value(refs[0]["seconds_or_rate"]) is None:
            raise SystemExit(f"{path}: job {job!r} needs exactly one measured rawarrow row")
        kinds = {kind(t["unit"]) for t in tools}
        if len(kinds) != 1:
            raise SystemExit(f"{path}: job {job!r} mixes times, rates or counts")
        out.append((job, refs[0], tools, kinds.pop()))
    return out


def ticks(low, high):
    """1-2-5 ticks covering [low, high]."""
    exp = math.floor(math.log10(low))
    values = []
    while True:
        for m in (1, 2, 5):
            v = m * 10.0 ** exp
            if v <= low * (1 + 1e-9):
                values = [v]
            elif values:
                values.append(v)
                if v >= high * (1 - 1e-9):
                    return values
        exp += 1


def tick_label(v):
    if v >= 1:
        return f"{v:,.0f}×"
    return f"{v:g}×"


def render(jobs):
    drawn = [j for j in jobs if j[3] != "other"]
    skipped = [j for j in jobs if j[3] == "other"]
    all_ratios = [1.0]
    for _, ref, tools, _ in drawn:
        for t in tools:
            r = ratios(t, ref)
            if r is not None:
                all_ratios.extend(r)
    tv = ticks(min(all_ratios), max(all_ratios))
    lo, hi = math.log10(tv[0]), math.log10(tv[-1])

    def x(r):
        return PLOT_X0 + (math.log10(r) - lo) / (hi - lo) * (PLOT_X1 - PLOT_X0)

    body = []
    y = TOP
    for job, ref, tools, _ in drawn:
        body.append(f'<text x="{JOB_X}" y="{y + 14:.1f}" class="job">{escape(job)}'
                    f' <tspan class="muted">— {escape(ref["input"])}</tspan></text>')
        y += JOB_H
        for t in [ref] + [t for t in tools if t is not ref]:
            is_ref = t is ref
            name = t["tool"]
            body.append(f'<text x="{NAME_X}" y="{y + 11:.1f}" class="{"ref" if is_ref else "tool"}">'
                        f'{escape(name)}</text>')
            r = ratios(t, ref)
            if r is None:
                body.append(f'<text x="{PLOT_X0 + 4}" y="{y + 11:.1f}" class="muted">'
                            'not measured</text>')
                y += ROW_H
                continue
            color = COLOR_RAWARROW if is_ref else COLOR_PEER
            by = y + (ROW_H - BAR_H) / 2
            body.append(f'<rect x="{PLOT_X0:.1f}" y="{by:.1f}" width="{x(r[0]) - PLOT_X0:.1f}" '
                        f'height="{BAR_H}" fill="{color}"/>')
            if r[1] > r[0]:
                body.append(f'<rect x="{x(r[0]):.1f}" y="{by:.1f}" width="{x(r[1]) - x(r[0]):.1f}" '
                            f'height="{BAR_H}" fill="{color}" fill-opacity="0.35"/>')
            label = fmt_value(t["seconds_or_rate"], t["unit"])
            if not is_ref:
                ratio = fmt_ratio(r[0]) if r[0] == r[1] else f"{fmt_ratio(r[0])}–{fmt_ratio(r[1])}"
                label += f"  ·  {ratio}×"
            body.append(f'<text x="{x(r[1]) + 5:.1f}" y="{y + 11:.1f}" class="label">'
                        f'{escape(label)}</text>')
            y += ROW_H
        y += GAP
    bottom = y

    notes = []
    for job, ref, tools, _ in skipped:
        figures = "; ".join(f'{t["tool"]}: {fmt_value(t["seconds_or_rate"], t["unit"])}'
                            for t in tools)
        notes.append(f"Not drawn (not a time or a rate): {job} — {figures}.")
    height = bottom + 34 + 16 * len(notes) + 10

    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="DejaVu Sans, Verdana, Arial, sans-serif">',
        "<style>"
        ".title{font-size:15px;font-weight:bold}"
        ".sub{font-size:11px;fill:#444444}"
        ".job{font-size:12px;font-weight:bold}"
        ".tool{font-size:11px}"
        ".ref{font-size:11px;fill:" + COLOR_RAWARROW + "}"
        ".label{font-size:11px}"
        ".muted{font-size:11px;font-weight:normal;fill:" + COLOR_MUTED + "}"
        ".tick{font-size:10px;fill:#444444}"
        "</style>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>',
        f'<text x="{JOB_X}" y="22" class="title">rawarrow against its peers: '
        "each tool's cost relative to rawarrow's (rawarrow = 1×, log scale)</text>",
        f'<text x="{JOB_X}" y="40" class="sub">Bar length: the tool\'s time ÷ rawarrow\'s time '
        "(for rates, rawarrow's rate ÷ the tool's). Past 1×, rawarrow is faster by that factor; "
        "labels give the recorded figures.</text>",
        f'<text x="{JOB_X}" y="55" class="sub">Generated by benches/chart.py from '
        "benches/results.csv; sources, dates, commits and machine in BENCHMARKS.md.</text>",
    ]
    grid = []
    for v in tv:
        gx = x(v)
        strong = abs(math.log10(v) - round(math.log10(v))) < 1e-9 or v == tv[0]
        grid.append(f'<line x1="{gx:.1f}" y1="{TOP - 6}" x2="{gx:.1f}" y2="{bottom:.1f}" '
                    f'stroke="{COLOR_GRID}" stroke-width="{1 if strong else 0.5}"/>')
        if strong:
            for ty in (TOP - 9, bottom + 12):
                grid.append(f'<text x="{gx:.1f}" y="{ty:.1f}" class="tick" '
                            f'text-anchor="middle">{escape(tick_label(v))}</text>')
    one = x(1.0)
    grid.append(f'<line x1="{one:.1f}" y1="{TOP - 6}" x2="{one:.1f}" y2="{bottom:.1f}" '
                f'stroke="{COLOR_RAWARROW}" stroke-width="1" stroke-dasharray="4 3"/>')
    legend_y = bottom + 28
    legend = [
        f'<rect x="{JOB_X}" y="{legend_y - 9}" width="12" height="{BAR_H}" fill="{COLOR_RAWARROW}"/>',
        f'<text x="{JOB_X + 16}" y="{legend_y}" class="tool">rawarrow (the reference, 1×)</text>',
        f'<rect x="{JOB_X + 200}" y="{legend_y - 9}" width="12" height="{BAR_H}" fill="{COLOR_PEER}"/>',
        f'<text x="{JOB_X + 216}" y="{legend_y}" class="tool">peer</text>',
        f'<rect x="{JOB_X + 260}" y="{legend_y - 9}" width="12" height="{BAR_H}" fill="{COLOR_PEER}" '
        'fill-opacity="0.35"/>',
        f'<text x="{JOB_X + 276}" y="{legend_y}" class="tool">range over the runs the log records</text>',
    ]
    for i, note in enumerate(notes):
        legend.append(f'<text x="{JOB_X}" y="{legend_y + 16 * (i + 1)}" class="sub">'
                      f"{escape(note)}</text>")
    return "\n".join(head + grid + body + legend + ["</svg>"]) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true",
                   help="exit 1 if the SVG differs from what the CSV gives; write nothing")
    p.add_argument("--csv", type=Path, default=CSV_PATH)
    p.add_argument("--svg", type=Path, default=SVG_PATH)
    args = p.parse_args()
    svg = render(load(args.csv)).encode("utf-8")
    if args.check:
        current = args.svg.read_bytes() if args.svg.exists() else None
        if current != svg:
            print(f"{args.svg} is out of date with {args.csv}: run `python3 benches/chart.py` "
                  "and commit the SVG", file=sys.stderr)
            return 1
        return 0
    args.svg.write_bytes(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
