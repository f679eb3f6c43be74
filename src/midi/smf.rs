//! Standard MIDI File parser: one pass over the bytes (no copy), notes paired as they are read.
//!
//! What is a file error and what is only a warning:
//!
//! * **Errors** (the file yields no notes): no `MThd` chunk (a `RIFF`/`RMID` wrapper and up to
//!   4 KiB of leading bytes, e.g. a MacBinary header, are accepted with a warning), a header
//!   chunk shorter than 6 bytes, format > 2, a division of 0 ticks, an SMPTE rate other than 24,
//!   25, 29 (29.97 drop-frame) or 30 fps, no `MTrk` chunk at all.
//! * **Warnings** (the file is read as far as it makes sense, like midly's and mido's lenient
//!   modes): a chunk length that runs past the end of the file (the rest of the file is used),
//!   a track without End-of-Track, and inside a track any event that cannot be read — a
//!   truncated event or variable-length quantity, a quantity longer than 4 bytes, a data byte
//!   with its top bit set, running status with no status byte before it, a system common or
//!   real-time status (not allowed in files), a meta or SysEx length past the end of the track.
//!   The track ends at the bad event; what came before it is kept. Also: a header track count
//!   that differs from the chunks found, a Set Tempo whose length is not 3, bytes after the last
//!   chunk, and running status that continues across a meta or SysEx event (the standard says
//!   those cancel it; files in the wild rely on it, and mido reads it the same way), a second
//!   `MThd` chunk (skipped).
//!
//! Values that are unusual but well-formed (a key signature with mode 0xFF, a tempo of 0, channel
//! messages after End-of-Track in another track...) are not judged: meta events other than Set
//! Tempo and End-of-Track are skipped over by their length.

mod diagnostics;
mod events;

pub use diagnostics::{ParseError, Warning};
pub(crate) use diagnostics::{ParseErrorKind, WarningKind};
pub use events::{Division, Header, KeySignature, Note, Tempo, TimeSignature};

const NONE: u32 = u32::MAX;
const KEYS: usize = 16 * 128;

/// Reusable parser state: the event lists of the last file and the note-pairing queues.
///
/// Parsing many files with one `Parser` allocates nothing once its vectors have grown to the
/// largest file.
#[derive(Debug)]
pub struct Parser {
    /// Notes of the last file, in track order, each track's notes in note-on order.
    pub(crate) notes: Vec<Note>,
    /// Set Tempo events of the last file, in track order then file order.
    pub(crate) tempos: Vec<Tempo>,
    /// Time Signature events of the last file, in track order then file order.
    pub(crate) time_signatures: Vec<TimeSignature>,
    /// Key Signature events of the last file, in track order then file order.
    pub(crate) key_signatures: Vec<KeySignature>,
    /// Tick of each track's end (its End-of-Track, or its last event).
    pub(crate) track_ends: Vec<u64>,
    /// Warnings about the last file.
    pub(crate) warnings: Vec<Warning>,
    /// Note-offs that matched no sounding note (ignored).
    pub(crate) unmatched_offs: u64,
    // FIFO of open notes per (channel, pitch): linked through `next` (parallel to `notes`).
    head: Box<[u32; KEYS]>,
    tail: Box<[u32; KEYS]>,
    next: Vec<u32>,
    touched: Vec<u16>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads a big-endian u32 at `at` (caller checked the length).
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Finds where the SMF starts: 0, inside a RIFF RMID `data` chunk, or after leading junk.
fn smf_start(bytes: &[u8]) -> Option<usize> {
    if bytes.starts_with(b"MThd") {
        return Some(0);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"RMID" {
        let mut at = 12;
        while at + 8 <= bytes.len() {
            let len =
                u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
                    as usize;
            if &bytes[at..at + 4] == b"data" {
                return Some(at + 8);
            }
            at = at.saturating_add(8).saturating_add(len + (len & 1));
        }
        return None;
    }
    memchr::memmem::find(&bytes[..bytes.len().min(4096)], b"MThd")
}

impl Parser {
    /// Notes of the last file, in track order, each track's notes in note-on order.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// A parser with empty state.
    pub fn new() -> Self {
        Self {
            notes: Vec::new(),
            tempos: Vec::new(),
            time_signatures: Vec::new(),
            key_signatures: Vec::new(),
            track_ends: Vec::new(),
            warnings: Vec::new(),
            unmatched_offs: 0,
            head: Box::new([NONE; KEYS]),
            tail: Box::new([NONE; KEYS]),
            next: Vec::new(),
            touched: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.notes.clear();
        self.tempos.clear();
        self.time_signatures.clear();
        self.key_signatures.clear();
        self.track_ends.clear();
        self.warnings.clear();
        self.unmatched_offs = 0;
        self.next.clear();
    }

    fn warn(&mut self, offset: usize, track: Option<u16>, kind: WarningKind) {
        self.warnings.push(Warning {
            offset: offset as u64,
            track,
            kind,
        });
    }

    /// Parses one file. On success the notes, tempos, track ends and warnings of this file are
    /// in the parser's public fields (they are cleared on entry, also when an error is returned).
    pub fn parse(&mut self, bytes: &[u8]) -> Result<Header, ParseError> {
        self.clear();
        let err = |offset: usize, kind| ParseError {
            offset: offset as u64,
            kind,
        };
        let start = smf_start(bytes).ok_or(err(0, ParseErrorKind::NotSmf))?;
        if start > 0 {
            self.warn(0, None, WarningKind::LeadingBytes(start as u64));
        }
        if bytes.len() < start + 8 {
            return Err(err(start, ParseErrorKind::NotSmf));
        }
        let hlen = be32(bytes, start + 4);
        let hbody = start + 8;
        if hlen < 6 || bytes.len() < hbody + 6 {
            let present = hlen.min(bytes.len().saturating_sub(hbody) as u32);
            return Err(err(start + 4, ParseErrorKind::HeaderTooShort(present)));
        }
        let format = u16::from_be_bytes([bytes[hbody], bytes[hbody + 1]]);
        let declared_tracks = u16::from_be_bytes([bytes[hbody + 2], bytes[hbody + 3]]);
        let div = u16::from_be_bytes([bytes[hbody + 4], bytes[hbody + 5]]);
        if format > 2 {
            return Err(err(hbody, ParseErrorKind::Format(format)));
        }
        let division = if div & 0x8000 == 0 {
            if div == 0 {
                return Err(err(hbody + 4, ParseErrorKind::ZeroDivision));
            }
            Division::Ppq(div)
        } else {
            let rate = (div >> 8) as u8 as i8;
            let tpf = div as u8;
            let fps = rate.unsigned_abs();
            if !matches!(fps, 24 | 25 | 29 | 30) {
                return Err(err(hbody + 4, ParseErrorKind::SmpteRate(rate)));
            }
            if tpf == 0 {
                return Err(err(hbody + 5, ParseErrorKind::ZeroDivision));
            }
            Division::Smpte {
                fps,
                ticks_per_frame: tpf,
            }
        };
        let header = Header {
            format,
            declared_tracks,
            division,
        };

        let mut at = match hbody.checked_add(hlen as usize) {
            Some(a) if a <= bytes.len() => a,
            _ => {
                self.warn(
                    start + 4,
                    None,
                    WarningKind::ChunkPastEof {
                        declared: hlen,
                        present: (bytes.len() - hbody) as u64,
                    },
                );
                bytes.len()
            }
        };
        let mut found: u32 = 0;
        while at < bytes.len() {
            if bytes.len() - at < 8 {
                self.warn(
                    at,
                    None,
                    WarningKind::TrailingBytes((bytes.len() - at) as u64),
                );
                break;
            }
            let id = &bytes[at..at + 4];
            let len = be32(bytes, at + 4);
            let body = at + 8;
            let end = match body.checked_add(len as usize) {
                Some(e) if e <= bytes.len() => e,
                _ => {
                    self.warn(
                        at + 4,
                        None,
                        WarningKind::ChunkPastEof {
                            declared: len,
                            present: (bytes.len() - body) as u64,
                        },
                    );
                    bytes.len()
                }
            };
            if id == b"MTrk" {
                match u16::try_from(found) {
                    Ok(track) => self.track(bytes, body, end, track),
                    Err(_) => {
                        self.warn(at, None, WarningKind::TooManyTracks);
                        break;
                    }
                }
                found += 1;
            } else if id == b"MThd" {
                self.warn(at, None, WarningKind::DuplicateHeader);
            }
            at = end;
        }
        if found == 0 {
            return Err(err(at.min(bytes.len()), ParseErrorKind::NoTracks));
        }
        if found != u32::from(declared_tracks) {
            self.warn(
                hbody + 2,
                None,
                WarningKind::TrackCount {
                    declared: declared_tracks,
                    found,
                },
            );
        }
        Ok(header)
    }

    /// Parses the events of one track chunk `bytes[start..end]`.
    fn track(&mut self, bytes: &[u8], start: usize, end: usize, track: u16) {
        let b = &bytes[..end];
        let mut pos = start;
        let mut tick: u64 = 0;
        let mut status: u8 = 0; // running status (0 = none)
        let mut after_meta = false;
        let mut warned_across = false;
        let mut ended = false;
        let mut programs = [0u8; 16];
        let t = Some(track);
        while pos < end {
            let ev = pos;
            // Delta time.
            let Some((delta, p)) = read_vlq(b, pos) else {
                let kind = if end - pos >= 4 && b[pos..pos + 4].iter().all(|&x| x & 0x80 != 0) {
                    WarningKind::LongVarLen
                } else {
                    WarningKind::TruncatedEvent
                };
                self.warn(pos, t, kind);
                break;
            };
            pos = p;
            if pos >= end {
                self.warn(ev, t, WarningKind::TruncatedEvent);
                break;
            }
            let first = b[pos];
            let st = if first >= 0x80 {
                pos += 1;
                first
            } else {
                if status == 0 {
                    self.warn(pos, t, WarningKind::NoRunningStatus(first));
                    break;
                }
                if after_meta && !warned_across {
                    self.warn(pos, t, WarningKind::RunningStatusAcrossMeta);
                    warned_across = true;
                }
                status
            };
            match st {
                0x80..=0xEF => {
                    let n = if matches!(st & 0xF0, 0xC0 | 0xD0) {
                        1
                    } else {
                        2
                    };
                    if end - pos < n {
                        self.warn(ev, t, WarningKind::TruncatedEvent);
                        break;
                    }
                    let d1 = b[pos];
                    let d2 = if n == 2 { b[pos + 1] } else { 0 };
                    if (d1 | d2) & 0x80 != 0 {
                        let (bad, at) = if d1 & 0x80 != 0 {
                            (d1, pos)
                        } else {
                            (d2, pos + 1)
                        };
                        self.warn(at, t, WarningKind::DataByteTopBit(bad));
                        break;
                    }
                    pos += n;
                    tick += u64::from(delta);
                    status = st;
                    after_meta = false;
                    let key = usize::from(st & 0x0F) << 7 | usize::from(d1);
                    match st & 0xF0 {
                        0x90 if d2 > 0 => {
                            let program = programs[usize::from(st & 0x0F)];
                            self.note_on(track, key, d2, program, tick);
                        }
                        0x80 | 0x90 => self.note_off(key, tick),
                        0xC0 => programs[usize::from(st & 0x0F)] = d1,
                        _ => {}
                    }
                }
                0xFF => {
                    if pos >= end {
                        self.warn(ev, t, WarningKind::TruncatedEvent);
                        break;
                    }
                    let ty = b[pos];
                    let (p, len) = match payload(b, pos + 1, end) {
                        Ok(x) => x,
                        Err(kind) => {
                            self.warn(ev, t, kind);
                            break;
                        }
                    };
                    pos = p + len as usize;
                    tick += u64::from(delta);
                    after_meta = status != 0;
                    match ty {
                        0x2F => {
                            ended = true;
                            break;
                        }
                        0x51 if len == 3 => self.tempos.push(Tempo {
                            tick,
                            track,
                            us_per_quarter: u32::from_be_bytes([0, b[p], b[p + 1], b[p + 2]]),
                        }),
                        0x51 => self.warn(ev, t, WarningKind::TempoLength(len)),
                        // The standard's length is 4 (the last two bytes, MIDI clocks per
                        // metronome click and 32nd notes per quarter, are not used here).
                        0x58 if len >= 2 => self.time_signatures.push(TimeSignature {
                            tick,
                            track,
                            numerator: b[p],
                            denominator_power: b[p + 1],
                        }),
                        0x59 if len == 2 => self.key_signatures.push(KeySignature {
                            tick,
                            track,
                            sharps: b[p] as i8,
                            mode: b[p + 1],
                        }),
                        _ => {}
                    }
                }
                0xF0 | 0xF7 => {
                    let (p, len) = match payload(b, pos, end) {
                        Ok(x) => x,
                        Err(kind) => {
                            self.warn(ev, t, kind);
                            break;
                        }
                    };
                    pos = p + len as usize;
                    tick += u64::from(delta);
                    after_meta = status != 0;
                }
                _ => {
                    self.warn(pos - 1, t, WarningKind::SystemMessage(st));
                    break;
                }
            }
        }
        if !ended && !self.warnings.iter().any(|w| w.track == t) {
            self.warn(end, t, WarningKind::MissingEndOfTrack);
        }
        // Notes still sounding end with the track.
        for i in 0..self.touched.len() {
            let key = usize::from(self.touched[i]);
            let mut idx = self.head[key];
            while idx != NONE {
                self.notes[idx as usize].offset_tick = tick;
                idx = self.next[idx as usize];
            }
            self.head[key] = NONE;
            self.tail[key] = NONE;
        }
        self.touched.clear();
        self.track_ends.push(tick);
    }

    #[inline]
    fn note_on(&mut self, track: u16, key: usize, velocity: u8, program: u8, tick: u64) {
        let idx = self.notes.len() as u32;
        self.notes.push(Note {
            track,
            channel: (key >> 7) as u8,
            pitch: (key & 0x7F) as u8,
            velocity,
            onset_tick: tick,
            offset_tick: tick,
            program,
        });
        self.next.push(NONE);
        let tail = self.tail[key];
        if tail == NONE {
            self.head[key] = idx;
            self.touched.push(key as u16);
        } else {
            self.next[tail as usize] = idx;
        }
        self.tail[key] = idx;
    }

    #[inline]
    fn note_off(&mut self, key: usize, tick: u64) {
        let idx = self.head[key];
        if idx == NONE {
            self.unmatched_offs += 1;
            return;
        }
        self.notes[idx as usize].offset_tick = tick;
        let next = self.next[idx as usize];
        self.head[key] = next;
        if next == NONE {
            self.tail[key] = NONE;
            // The key stays in `touched`; it is reset (already empty) at the track end.
        }
    }
}

/// The length-prefixed payload of a meta or SysEx event whose length starts at `pos`: its start
/// and length, checked to end by `end`.
#[inline]
fn payload(b: &[u8], pos: usize, end: usize) -> Result<(usize, u32), WarningKind> {
    let (len, p) = read_vlq(b, pos).ok_or(WarningKind::TruncatedEvent)?;
    if end - p < len as usize {
        return Err(WarningKind::EventPastTrackEnd);
    }
    Ok((p, len))
}

/// Reads a variable-length quantity (at most 4 bytes) at `pos`; `None` when it is truncated by
/// the end of `b` or longer than 4 bytes.
#[inline]
fn read_vlq(b: &[u8], mut pos: usize) -> Option<(u32, usize)> {
    let mut v: u32 = 0;
    for _ in 0..4 {
        let byte = *b.get(pos)?;
        pos += 1;
        v = v << 7 | u32::from(byte & 0x7F);
        if byte & 0x80 == 0 {
            return Some((v, pos));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlq_values_and_limits() {
        assert_eq!(read_vlq(&[0x00], 0), Some((0, 1)));
        assert_eq!(read_vlq(&[0x7F], 0), Some((0x7F, 1)));
        assert_eq!(read_vlq(&[0x81, 0x00], 0), Some((0x80, 2)));
        assert_eq!(
            read_vlq(&[0xFF, 0xFF, 0xFF, 0x7F], 0),
            Some((0x0FFF_FFFF, 4))
        );
        assert_eq!(read_vlq(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F], 0), None);
        assert_eq!(read_vlq(&[0x81], 0), None);
    }
}
