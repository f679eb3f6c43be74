//! The independent MIDI oracle: midly parses the file; the pairing policy documented in
//! `rawarrow::midi` (FIFO per track/channel/pitch, velocity-0 note-on = note-off, tracks end at
//! End-of-Track, unreleased notes end with their track) and the tempo map are re-implemented
//! here in the most direct way (hash maps, queues, f64 sums), independently of the fast parser.
//! Shared by `tests/midi.rs` and the `midi` fuzz target.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};

use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};

/// A note as the oracle sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OracleNote {
    pub(crate) track: u16,
    pub(crate) channel: u8,
    pub(crate) pitch: u8,
    pub(crate) velocity: u8,
    pub(crate) onset_tick: u64,
    pub(crate) offset_tick: u64,
    pub(crate) onset_s: f64,
    pub(crate) duration_s: f64,
    /// The channel's last Program Change earlier in this track (0 without one).
    pub(crate) program: u8,
}

/// A whole file as the oracle sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OracleSong {
    pub(crate) format: u16,
    pub(crate) tracks: usize,
    pub(crate) notes: Vec<OracleNote>,
    /// (tick, track, microseconds per quarter) in track order then file order.
    pub(crate) tempos: Vec<(u64, u16, u32)>,
    pub(crate) length_s: f64,
    /// midly gave up on an event it judged invalid (its lenient mode then ends the track
    /// silently), e.g. a key signature shorter than 2 bytes, which rawarrow skips over.
    pub(crate) midly_stopped_early: bool,
}

/// Seconds at `tick` for a tempo list sorted by tick (f64 arithmetic, step by step).
fn seconds(timing: Timing, tempos: &[(u64, u32)], tick: u64) -> f64 {
    match timing {
        Timing::Timecode(fps, tpf) => {
            let fps = if fps.as_int() == 29 {
                30000.0 / 1001.0
            } else {
                f64::from(fps.as_int())
            };
            tick as f64 / (fps * f64::from(tpf))
        }
        Timing::Metrical(ppq) => {
            let ppq = f64::from(ppq.as_int());
            let (mut t, mut last_tick, mut us) = (0.0, 0u64, 500_000.0);
            for &(at, tempo) in tempos {
                if at > tick {
                    break;
                }
                t += (at - last_tick) as f64 * us / ppq / 1e6;
                last_tick = at;
                us = f64::from(tempo);
            }
            t + (tick - last_tick) as f64 * us / ppq / 1e6
        }
    }
}

/// Parses `bytes` with midly and applies the documented policy.
pub(crate) fn oracle(bytes: &[u8]) -> Result<OracleSong, midly::Error> {
    let (header, track_iter) = midly::parse(bytes)?;
    let mut tracks: Vec<Vec<midly::TrackEvent>> = Vec::new();
    let mut midly_stopped_early = false;
    for t in track_iter {
        let mut events = t?;
        let mut v = Vec::new();
        loop {
            let before = events.unread().len();
            match events.next() {
                Some(ev) => v.push(ev?),
                None => {
                    // Lenient midly ends a track silently on a bad event: bytes were left.
                    midly_stopped_early |= before > 0;
                    break;
                }
            }
        }
        tracks.push(v);
    }
    let smf = Smf { header, tracks };
    let format = match smf.header.format {
        midly::Format::SingleTrack => 0,
        midly::Format::Parallel => 1,
        midly::Format::Sequential => 2,
    };
    let mut per_track: Vec<Vec<OracleNote>> = Vec::new();
    let mut tempos = Vec::new();
    let mut ends = Vec::new();
    for (ti, track) in smf.tracks.iter().enumerate() {
        let ti = ti as u16;
        let mut notes: Vec<OracleNote> = Vec::new();
        let mut open: HashMap<(u8, u8), VecDeque<usize>> = HashMap::new();
        let mut programs: HashMap<u8, u8> = HashMap::new();
        let mut tick = 0u64;
        for ev in track {
            tick += u64::from(ev.delta.as_int());
            match ev.kind {
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    let (key, on_vel) = match message {
                        MidiMessage::NoteOn { key, vel } => (key.as_int(), vel.as_int()),
                        MidiMessage::NoteOff { key, .. } => (key.as_int(), 0),
                        MidiMessage::ProgramChange { program } => {
                            programs.insert(ch, program.as_int());
                            continue;
                        }
                        _ => continue,
                    };
                    let queue = open.entry((ch, key)).or_default();
                    if on_vel > 0 {
                        queue.push_back(notes.len());
                        notes.push(OracleNote {
                            track: ti,
                            channel: ch,
                            pitch: key,
                            velocity: on_vel,
                            onset_tick: tick,
                            offset_tick: tick,
                            onset_s: 0.0,
                            duration_s: 0.0,
                            program: programs.get(&ch).copied().unwrap_or(0),
                        });
                    } else if let Some(i) = queue.pop_front() {
                        notes[i].offset_tick = tick;
                    }
                }
                TrackEventKind::Meta(MetaMessage::Tempo(t)) => tempos.push((tick, ti, t.as_int())),
                TrackEventKind::Meta(MetaMessage::EndOfTrack) => break,
                _ => {}
            }
        }
        for queue in open.values() {
            for &i in queue {
                notes[i].offset_tick = tick;
            }
        }
        ends.push(tick);
        per_track.push(notes);
    }
    let timing = smf.header.timing;
    let track_tempos = |t: Option<u16>| -> Vec<(u64, u32)> {
        let mut v: Vec<(u64, u32)> = tempos
            .iter()
            .filter(|x| t.is_none_or(|t| x.1 == t))
            .map(|x| (x.0, x.2))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    let mut notes = Vec::new();
    let mut length_s: f64 = 0.0;
    for (ti, mut track_notes) in per_track.into_iter().enumerate() {
        let map = track_tempos((format == 2).then_some(ti as u16));
        for n in &mut track_notes {
            n.onset_s = seconds(timing, &map, n.onset_tick);
            n.duration_s = seconds(timing, &map, n.offset_tick) - n.onset_s;
        }
        length_s = length_s.max(seconds(timing, &map, ends[ti]));
        notes.extend(track_notes);
    }
    if format != 2 {
        notes.sort_by_key(|n| n.onset_tick);
    }
    Ok(OracleSong {
        format,
        tracks: smf.tracks.len(),
        notes,
        tempos,
        length_s,
        midly_stopped_early,
    })
}

/// Compares our reading of a file with the oracle's; `Err` describes the first difference.
pub(crate) fn compare(song: &rawarrow::midi::Song, want: &OracleSong) -> Result<(), String> {
    if song.header.format != want.format || usize::from(song.tracks) != want.tracks {
        return Err(format!(
            "format/tracks {}/{} vs {}/{}",
            song.header.format, song.tracks, want.format, want.tracks
        ));
    }
    let tempos: Vec<(u64, u16, u32)> = song
        .tempos
        .iter()
        .map(|t| (t.tick, t.track, t.us_per_quarter))
        .collect();
    if tempos != want.tempos {
        return Err(format!("tempos {tempos:?} vs {:?}", want.tempos));
    }
    if song.notes.len() != want.notes.len() {
        return Err(format!(
            "{} notes vs {}",
            song.notes.len(),
            want.notes.len()
        ));
    }
    // Within 1e-9 s, or 1e-9 relative for times past 1 s (f64 has no more digits there);
    // durations are judged at the scale of their end (the oracle subtracts two times).
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let close_at = |a: f64, b: f64, scale: f64| (a - b).abs() <= 1e-9 * scale.abs().max(1.0);
    for (i, (n, w)) in song.notes.iter().zip(&want.notes).enumerate() {
        let same = n.track == w.track
            && n.channel == w.channel
            && n.pitch == w.pitch
            && n.velocity == w.velocity
            && n.onset_tick == w.onset_tick
            && n.offset_tick == w.offset_tick
            && n.program == w.program;
        if !same
            || !close(song.onset_s[i], w.onset_s)
            || !close_at(song.duration_s[i], w.duration_s, w.onset_s + w.duration_s)
        {
            return Err(format!(
                "note {i}: {n:?} {} {} vs {w:?}",
                song.onset_s[i], song.duration_s[i]
            ));
        }
    }
    if !close(song.length_s, want.length_s) {
        return Err(format!("length {} vs {}", song.length_s, want.length_s));
    }
    Ok(())
}
