#!/usr/bin/env python3
"""Writes small hand-made Standard MIDI Files as seeds for the `midi` fuzz target."""
import struct, os

def vlq(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append(0x80 | (v & 0x7F))
        v >>= 7
    return bytes(reversed(out))

def smf(fmt, division, tracks):
    out = b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), division)
    for t in tracks:
        out += b"MTrk" + struct.pack(">I", len(t)) + t
    return out

EOT = b"\x00\xFF\x2F\x00"
tempo = b"\x00\xFF\x51\x03\x07\xA1\x20"
notes = b"".join(vlq(d) + ev for d, ev in [
    (0, b"\x90\x3C\x64"), (0, b"\x3E\x64"), (96, b"\x3C\x00"), (0, b"\x80\x3E\x40"),
    (10, b"\xC1\x05"), (0, b"\xB1\x40\x7F"), (0, b"\x91\x40\x50"), (200, b"\xE1\x00\x40"),
    (0, b"\xF0\x03\x7E\x7F\xF7"), (0, b"\xFF\x59\x02\x00\xFF"), (48, b"\x81\x40\x00"),
])
here = os.path.join(os.path.dirname(__file__), "midi")
os.makedirs(here, exist_ok=True)
seeds = {
    "format1.mid": smf(1, 96, [tempo + EOT, notes + EOT]),
    "format0_running_status.mid": smf(0, 480, [tempo + notes + EOT]),
    "format2_smpte.mid": smf(2, 0xE728, [notes + EOT, tempo + notes]),
}
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
