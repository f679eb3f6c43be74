#!/usr/bin/env python3
"""Peers for `rawarrow midi`: files/s and notes/s of symusic, pretty_midi and mido in one process,
on the same files, plus tempo-estimate accuracy of pretty_midi vs rawarrow's files table.

usage: midi_peers.py DIR [--limit N] [--files FILES.arrow] [--peers symusic,pretty_midi,mido]

Files are read from DIR recursively (*.mid), sorted. Each peer reads every file (up to --limit);
its failures are counted, not fatal. With --files (rawarrow's files table for the same DIR), the
tempo accuracy is reported: the share of files whose estimate is within 4 % of the first Set Tempo
(strict), and within 4 % of it, its double or its half (octave).
"""
import argparse, glob, os, sys, time


def load_symusic(path):
    from symusic import Score
    s = Score(path, ttype="second")
    return sum(len(t.notes.numpy()["time"]) for t in s.tracks)


def load_pretty_midi(path):
    import pretty_midi
    m = pretty_midi.PrettyMIDI(path)
    return sum(len(i.notes) for i in m.instruments)


def load_mido(path):
    import mido
    m = mido.MidiFile(path)
    return sum(1 for t in m.tracks for msg in t if msg.type == "note_on" and msg.velocity > 0)


PEERS = {"symusic": load_symusic, "pretty_midi": load_pretty_midi, "mido": load_mido}


def within(est, ref, octave):
    if est is None or ref is None:
        return False
    cands = (ref, 2 * ref, ref / 2) if octave else (ref,)
    return any(abs(est / c - 1) <= 0.04 for c in cands)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--files", default=None)
    ap.add_argument("--peers", default="symusic,pretty_midi,mido")
    a = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(a.dir, "**", "*.mid"), recursive=True))[: a.limit]
    for name in a.peers.split(","):
        load = PEERS[name]
        load(paths[0])  # import and warm up outside the clock
        failed = notes = 0
        t0 = time.perf_counter()
        for p in paths:
            try:
                notes += load(p)
            except Exception:
                failed += 1
        dt = time.perf_counter() - t0
        print(f"{name:12s} files={len(paths)} failed={failed} notes={notes} "
              f"seconds={dt:.3f} files/s={len(paths)/dt:.1f} notes/s={notes/dt:.0f}")
    if a.files:
        import pyarrow as pa
        import pretty_midi
        rows = pa.ipc.open_file(a.files).read_all().to_pylist()
        by_name = {r["file"]: r for r in rows}
        n = 0
        score = {"pretty_midi": [0, 0], "rawarrow": [0, 0]}
        for p in paths:
            r = by_name.get(p)
            if r is None or r["tempo_bpm_meta"] is None:
                continue
            n += 1
            ref = r["tempo_bpm_meta"]
            try:
                pm = pretty_midi.PrettyMIDI(p).estimate_tempo()
            except Exception:
                pm = None
            for name, est in (("pretty_midi", pm), ("rawarrow", r["tempo_bpm_estimate"])):
                score[name][0] += within(est, ref, False)
                score[name][1] += within(est, ref, True)
        for name, (strict, octave) in score.items():
            print(f"tempo {name:12s} files={n} within 4%: {strict} ({100*strict/n:.0f}%), "
                  f"with x2/x0.5: {octave} ({100*octave/n:.0f}%)")


if __name__ == "__main__":
    sys.exit(main())
