//! MIDI: our parser against midly (corpus and random files written with midly's writer),
//! malformed inputs, the Arrow tables and the reader.

mod common;
#[path = "common/midi_oracle.rs"]
mod midi_oracle;

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt16Type, UInt64Type, UInt8Type};
use arrow_array::{Array, RecordBatch};
use midi_oracle::{compare, oracle};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{live::LiveEvent, TrackEventKind as K};
use midly::{Format, Fps, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent};
use proptest::prelude::*;
use rawarrow::midi::{self, Reader};

fn corpus_midis() -> Vec<PathBuf> {
    let Some(dir) = common::corpus_dir("midi") else {
        eprintln!("RAWARROW_CORPUS not set: corpus MIDI files skipped");
        return Vec::new();
    };
    let v = midi::list_inputs(&[dir]).expect("list corpus");
    assert!(!v.is_empty(), "corpus has no MIDI files");
    v
}

#[test]
fn corpus_equals_midly() {
    for path in corpus_midis() {
        let bytes = std::fs::read(&path).expect("read");
        let want = oracle(&bytes).expect("midly parses the corpus");
        assert!(!want.midly_stopped_early, "{}", path.display());
        let song = midi::read(&path).expect("we parse the corpus");
        assert!(
            song.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            song.warnings
        );
        assert!(!song.notes.is_empty(), "{}", path.display());
        if let Err(e) = compare(&song, &want) {
            panic!("{}: {e}", path.display());
        }
    }
}

// ---- random files written with midly ----

#[derive(Debug, Clone)]
struct Spec {
    format: Format,
    timing: Timing,
    running_status: bool,
    tracks: Vec<Vec<(u32, Ev)>>,
    end_of_track: Vec<bool>,
}

#[derive(Debug, Clone)]
enum Ev {
    On(u8, u8, u8),
    Off(u8, u8, u8),
    Other(u8, u8),
    Program(u8, u8),
    Tempo(u32),
    Text(Vec<u8>),
    SysEx(Vec<u8>),
}

fn ev_strategy() -> impl Strategy<Value = Ev> {
    // Few channels and keys, so re-triggers and overlaps are common.
    prop_oneof![
        6 => (0u8..3, 58u8..62, 0u8..128).prop_map(|(c, k, v)| Ev::On(c, k, v)),
        4 => (0u8..3, 58u8..62, 0u8..128).prop_map(|(c, k, v)| Ev::Off(c, k, v)),
        2 => (0u8..16, 0u8..6).prop_map(|(c, w)| Ev::Other(c, w)),
        1 => (0u8..3, 0u8..128).prop_map(|(c, p)| Ev::Program(c, p)),
        1 => (0u32..(1 << 24)).prop_map(Ev::Tempo),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Ev::Text),
        1 => proptest::collection::vec(0u8..0x80, 0..20).prop_map(Ev::SysEx),
    ]
}

fn delta_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(0u32), 8 => 0u32..480, 1 => 0u32..(1 << 28)]
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let timing = prop_oneof![
        (1u16..0x8000).prop_map(|p| Timing::Metrical(u15::new(p))),
        (
            prop_oneof![
                Just(Fps::Fps24),
                Just(Fps::Fps25),
                Just(Fps::Fps29),
                Just(Fps::Fps30)
            ],
            1u8..=255
        )
            .prop_map(|(f, t)| Timing::Timecode(f, t)),
    ];
    let format = prop_oneof![
        Just(Format::SingleTrack),
        Just(Format::Parallel),
        Just(Format::Sequential)
    ];
    (format, timing, any::<bool>(), 1usize..4).prop_flat_map(|(format, timing, rs, n)| {
        let n = if format == Format::SingleTrack { 1 } else { n };
        let track = proptest::collection::vec((delta_strategy(), ev_strategy()), 0..120);
        (
            proptest::collection::vec(track, n),
            proptest::collection::vec(proptest::bool::weighted(0.9), n),
        )
            .prop_map(move |(tracks, end_of_track)| Spec {
                format,
                timing,
                running_status: rs,
                tracks,
                end_of_track,
            })
    })
}

fn kind(ev: &Ev) -> K<'_> {
    let midi = |c: u8, message| K::Midi {
        channel: u4::new(c),
        message,
    };
    match ev {
        Ev::On(c, k, v) => midi(
            *c,
            MidiMessage::NoteOn {
                key: u7::new(*k),
                vel: u7::new(*v),
            },
        ),
        Ev::Off(c, k, v) => midi(
            *c,
            MidiMessage::NoteOff {
                key: u7::new(*k),
                vel: u7::new(*v),
            },
        ),
        Ev::Other(c, w) => midi(
            *c,
            match w {
                0 => MidiMessage::Controller {
                    controller: u7::new(64),
                    value: u7::new(127),
                },
                1 => MidiMessage::ProgramChange {
                    program: u7::new(5),
                },
                2 => MidiMessage::PitchBend {
                    bend: midly::PitchBend(midly::num::u14::new(0x1234)),
                },
                3 => MidiMessage::ChannelAftertouch { vel: u7::new(3) },
                _ => MidiMessage::Aftertouch {
                    key: u7::new(60),
                    vel: u7::new(9),
                },
            },
        ),
        Ev::Program(c, p) => midi(
            *c,
            MidiMessage::ProgramChange {
                program: u7::new(*p),
            },
        ),
        Ev::Tempo(t) => K::Meta(MetaMessage::Tempo(u24::new(*t))),
        Ev::Text(t) => K::Meta(MetaMessage::Text(t)),
        Ev::SysEx(d) => K::SysEx(d),
    }
}

fn vlq(mut v: u32, out: &mut Vec<u8>) {
    let mut tmp = [0u8; 4];
    let mut n = 0;
    loop {
        tmp[n] = (v & 0x7F) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(tmp[i] | if i > 0 { 0x80 } else { 0 });
    }
}

/// Writes the spec: with running status through midly's SMF writer; without, event by event
/// (midly's live-event encoder for channel messages, which never uses running status).
fn write(spec: &Spec) -> Vec<u8> {
    let tracks: Vec<Vec<TrackEvent>> = spec
        .tracks
        .iter()
        .zip(&spec.end_of_track)
        .map(|(t, &eot)| {
            let mut v: Vec<TrackEvent> = t
                .iter()
                .map(|(d, e)| TrackEvent {
                    delta: u28::new(*d),
                    kind: kind(e),
                })
                .collect();
            if eot {
                v.push(TrackEvent {
                    delta: u28::new(7),
                    kind: K::Meta(MetaMessage::EndOfTrack),
                });
            }
            v
        })
        .collect();
    if spec.running_status {
        let mut smf = Smf::new(Header::new(spec.format, spec.timing));
        smf.tracks = tracks;
        let mut out = Vec::new();
        smf.write_std(&mut out).expect("midly writes");
        return out;
    }
    let mut out = b"MThd\0\0\0\x06".to_vec();
    let format: u16 = match spec.format {
        Format::SingleTrack => 0,
        Format::Parallel => 1,
        Format::Sequential => 2,
    };
    let division: u16 = match spec.timing {
        Timing::Metrical(p) => p.as_int(),
        Timing::Timecode(f, t) => {
            (u16::from((f.as_int() as i8).wrapping_neg() as u8) << 8) | u16::from(t)
        }
    };
    out.extend(format.to_be_bytes());
    out.extend((tracks.len() as u16).to_be_bytes());
    out.extend(division.to_be_bytes());
    for t in &tracks {
        let mut body = Vec::new();
        for ev in t {
            vlq(ev.delta.as_int(), &mut body);
            match ev.kind {
                K::Midi { channel, message } => LiveEvent::Midi { channel, message }
                    .write_std(&mut body)
                    .expect("midly encodes"),
                K::Meta(m) => {
                    let (ty, data): (u8, Vec<u8>) = match m {
                        MetaMessage::Tempo(t) => (0x51, t.as_int().to_be_bytes()[1..].to_vec()),
                        MetaMessage::Text(t) => (0x01, t.to_vec()),
                        MetaMessage::EndOfTrack => (0x2F, Vec::new()),
                        other => panic!("not generated: {other:?}"),
                    };
                    body.extend([0xFF, ty]);
                    vlq(data.len() as u32, &mut body);
                    body.extend(data);
                }
                K::SysEx(d) => {
                    body.push(0xF0);
                    vlq(d.len() as u32, &mut body);
                    body.extend(d);
                }
                K::Escape(_) => unreachable!("not generated"),
            }
        }
        out.extend(b"MTrk");
        out.extend((body.len() as u32).to_be_bytes());
        out.extend(body);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_files_equal_midly(spec in spec_strategy()) {
        let bytes = write(&spec);
        let want = oracle(&bytes).expect("midly reads what midly wrote");
        prop_assert!(!want.midly_stopped_early);
        let song = midi::parse(&bytes).expect("we read it");
        for w in &song.warnings {
            prop_assert!(w.message() == "track without End-of-Track", "{w}");
        }
        let missing = spec.end_of_track.iter().filter(|&&e| !e).count();
        prop_assert_eq!(song.warnings.len(), missing);
        if let Err(e) = compare(&song, &want) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// A format-1 file: one track per channel, each note `(channel, pitch, onset, length)` in ticks
/// (notes of a track sorted by onset), with a Program Change per channel first.
fn notes_file(notes: &[(u8, u8, u32, u32)], programs: &[u8; 4]) -> Vec<u8> {
    let mut tracks = Vec::new();
    for ch in 0..4u8 {
        let mut events: Vec<(u32, [u8; 3])> = vec![(0, [0xC0 | ch, programs[usize::from(ch)], 0])];
        for &(c, pitch, on, len) in notes.iter().filter(|n| n.0 == ch) {
            events.push((on, [0x90 | c, pitch, 100]));
            events.push((on + len, [0x80 | c, pitch, 0]));
        }
        events.sort_by_key(|e| (e.0, e.1[0] & 0xF0 == 0x90)); // offs before ons at a tick
        let mut body = Vec::new();
        let mut last = 0;
        for (tick, ev) in events {
            vlq(tick - last, &mut body);
            last = tick;
            let n = if ev[0] & 0xF0 == 0xC0 { 2 } else { 3 };
            body.extend(&ev[..n]);
        }
        body.extend(EOT);
        tracks.push(body);
    }
    let refs: Vec<&[u8]> = tracks.iter().map(|t| t.as_slice()).collect();
    smf(1, 4, 480, &refs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Transposing every note by k semitones moves the estimated key by k (same mode, same
    /// correlation: the 24 correlations only rotate); the programs do not matter.
    #[test]
    fn transposing_moves_the_key(
        notes in proptest::collection::vec((0u8..3, 30u8..90, 0u32..5000, 0u32..960), 8..80),
        k in -12i8..=12,
        programs in proptest::array::uniform4(0u8..128),
    ) {
        let a = midi::parse(&notes_file(&notes, &programs)).expect("parses");
        let moved: Vec<_> = notes.iter().map(|&(c, p, on, len)| (c, p.wrapping_add_signed(k), on, len)).collect();
        let b = midi::parse(&notes_file(&moved, &[0; 4])).expect("parses");
        match (a.music.key, b.music.key) {
            (Some(x), Some(y)) => {
                prop_assert_eq!(y.tonic, ((i16::from(x.tonic) + i16::from(k)).rem_euclid(12)) as u8);
                prop_assert_eq!(x.minor, y.minor);
                prop_assert!((x.correlation - y.correlation).abs() < 1e-9);
            }
            (None, None) => {}
            other => prop_assert!(false, "{:?}", other),
        }
        // Every note carries its track's program.
        for n in &a.notes {
            prop_assert_eq!(n.program, programs[usize::from(n.channel)]);
        }
        prop_assert_eq!(a.music.programs.into_iter().count(), {
            let mut used: Vec<u8> = notes.iter().map(|n| programs[usize::from(n.0)]).collect();
            used.sort_unstable();
            used.dedup();
            used.len()
        });
    }
}

// ---- malformed and unusual input ----

fn smf(format: u16, ntrks: u16, division: u16, tracks: &[&[u8]]) -> Vec<u8> {
    let mut out = b"MThd\0\0\0\x06".to_vec();
    out.extend(format.to_be_bytes());
    out.extend(ntrks.to_be_bytes());
    out.extend(division.to_be_bytes());
    for t in tracks {
        out.extend(b"MTrk");
        out.extend((t.len() as u32).to_be_bytes());
        out.extend(*t);
    }
    out
}

const NOTE: &[u8] = b"\x00\x90\x3C\x40\x60\x80\x3C\x00";
const EOT: &[u8] = b"\x00\xFF\x2F\x00";

fn track(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The warnings' messages (what the files table's `warnings` column holds after the offset).
fn kinds(song: &midi::Song) -> Vec<String> {
    song.warnings.iter().map(midi::Warning::message).collect()
}

#[test]
fn file_errors() {
    // The cause, after "offset N: ".
    let err = |b: &[u8]| {
        let e = midi::parse(b).expect_err("error").to_string();
        e.split_once(": ").expect("offset: cause").1.to_owned()
    };
    assert_eq!(err(b""), "not a Standard MIDI File (no MThd chunk)");
    assert_eq!(
        err(b"RIFF\0\0\0\0WAVE"),
        "not a Standard MIDI File (no MThd chunk)"
    );
    assert_eq!(
        err(b"MThd\0\0\0\x04\0\x01\0\x01"),
        "MThd chunk of 4 bytes, need 6"
    );
    assert_eq!(
        err(b"MThd\0\0\0\x06\0\x01"),
        "MThd chunk of 2 bytes, need 6"
    );
    assert_eq!(
        err(&smf(3, 1, 96, &[EOT])),
        "unknown SMF format 3 (expected 0, 1 or 2)"
    );
    assert_eq!(err(&smf(1, 1, 0, &[EOT])), "division of 0 ticks");
    assert_eq!(err(&smf(1, 1, 0xE700, &[EOT])), "division of 0 ticks");
    assert_eq!(
        err(&smf(1, 1, 0xE528, &[EOT])),
        "SMPTE division with -27 frames per second"
    );
    // Missing MTrk: only an unknown chunk; zero tracks declared and none present.
    let mut no_trk = smf(1, 1, 96, &[]);
    no_trk.extend(b"XTRA\0\0\0\x02ab");
    let e = midi::parse(&no_trk).expect_err("no tracks");
    assert!(e.to_string().ends_with(": no MTrk chunk"), "{e}");
    assert_eq!(e.offset, no_trk.len() as u64);
    assert_eq!(err(&smf(1, 0, 96, &[])), "no MTrk chunk");
    let e = midi::parse(&smf(3, 1, 96, &[EOT])).expect_err("format");
    assert_eq!(
        e.to_string(),
        "offset 8: unknown SMF format 3 (expected 0, 1 or 2)"
    );
}

#[test]
fn truncated_vlq_keeps_what_came_before() {
    let t = track(&[NOTE, b"\x81\x80"]); // delta VLQ cut by the end of the track
    let song = midi::parse(&smf(0, 1, 96, &[&t])).expect("read");
    assert_eq!(song.notes.len(), 1);
    assert_eq!(song.notes[0].offset_tick, 96);
    assert_eq!(kinds(&song), ["track ends inside an event"]);
    assert_eq!(song.warnings[0].offset, 22 + NOTE.len() as u64);
    assert_eq!(song.warnings[0].track, Some(0));
}

#[test]
fn long_vlq_stops_the_track() {
    let t = track(&[NOTE, b"\x81\x81\x81\x81\x01\x90\x3C\x40", EOT]);
    let song = midi::parse(&smf(0, 1, 96, &[&t])).expect("read");
    assert_eq!(song.notes.len(), 1);
    assert_eq!(
        kinds(&song),
        ["variable-length quantity longer than 4 bytes"]
    );
}

#[test]
fn length_past_eof_reads_what_is_there() {
    let t = track(&[NOTE, NOTE]);
    let mut f = smf(1, 1, 96, &[&t]);
    // Declare 1000 bytes for the track.
    f[18..22].copy_from_slice(&1000u32.to_be_bytes());
    let song = midi::parse(&f).expect("read");
    assert_eq!(song.notes.len(), 2);
    assert_eq!(
        kinds(&song),
        [
            format!(
                "chunk declares 1000 bytes but the file has {}; read what is there",
                t.len()
            ),
            "track without End-of-Track".to_owned()
        ]
    );
}

#[test]
fn running_status_without_status_byte() {
    let t = track(&[b"\x00\x3C\x40", NOTE, EOT]);
    let song = midi::parse(&smf(0, 1, 96, &[&t])).expect("read");
    assert!(song.notes.is_empty());
    assert_eq!(kinds(&song), ["data byte 0x3C with no running status"]);
    assert_eq!(song.warnings[0].offset, 23);
}

#[test]
fn bad_data_bytes_and_system_messages() {
    let t = track(&[NOTE, b"\x00\x90\x3C\x90", EOT]);
    let song = midi::parse(&smf(0, 1, 96, &[&t])).expect("read");
    assert_eq!(kinds(&song), ["data byte 0x90 has its top bit set"]);
    let t = track(&[NOTE, b"\x00\xF2\x00\x00", EOT]);
    let song = midi::parse(&smf(0, 1, 96, &[&t])).expect("read");
    assert_eq!(kinds(&song), ["system message 0xF2 in a file"]);
    assert_eq!(song.notes.len(), 1);
    let t = track(&[NOTE, b"\x00\xFF\x01\x7F"]);
    let song = midi::parse(&smf(0, 1, 96, &[&t])).expect("read");
    assert_eq!(kinds(&song), ["meta/SysEx event runs past the track end"]);
}

#[test]
fn running_status_across_meta_is_kept_with_a_warning() {
    // Note-on, a text meta event, then a running-status note-off.
    let t = track(&[b"\x00\x90\x3C\x40\x00\xFF\x01\x01x\x60\x3C\x00", EOT]);
    let song = midi::parse(&smf(0, 1, 96, &[&t])).expect("read");
    assert_eq!(song.notes.len(), 1);
    assert_eq!(song.notes[0].offset_tick, 96);
    assert_eq!(
        kinds(&song),
        ["running status continues across a meta/SysEx event"]
    );
}

#[test]
fn huge_ticks() {
    // Twenty maximal deltas (2^28 - 1 ticks each) before a note-off.
    let mut t = b"\x00\xFF\x51\x03\xFF\xFF\xFF\x00\x90\x3C\x40".to_vec();
    for _ in 0..20 {
        t.extend(b"\xFF\xFF\xFF\x7F\xB0\x01\x00");
    }
    t.extend(b"\x00\x80\x3C\x00");
    t.extend(EOT);
    let song = midi::parse(&smf(0, 1, 1, &[&t])).expect("read");
    let ticks = 20 * ((1u64 << 28) - 1);
    assert_eq!(song.notes[0].offset_tick, ticks);
    let want = ticks as f64 * 16.777215;
    assert!((song.duration_s[0] - want).abs() / want < 1e-15);
    assert_eq!(song.tempo_bpm_meta, Some(60e6 / 16_777_215.0));
}

#[test]
fn unusual_but_valid_values_are_kept() {
    // Key signature with mode 0xFF (mido rejects it), a tempo of 0, an unknown chunk, more
    // tracks than declared, a RIFF RMID wrapper.
    let t = track(&[
        b"\x00\xFF\x59\x02\x00\xFF\x00\xFF\x51\x03\x00\x00\x00",
        NOTE,
        EOT,
    ]);
    let mut f = smf(1, 1, 96, &[&t]);
    f.extend(b"XFIH\0\0\0\x01z");
    f.extend(smf(1, 1, 96, &[&t])[14..].iter());
    let mut riff = b"RIFF".to_vec();
    riff.extend(((f.len() + 12) as u32).to_le_bytes());
    riff.extend(b"RMIDdata");
    riff.extend((f.len() as u32).to_le_bytes());
    riff.extend(&f);
    for bytes in [&f, &riff] {
        let song = midi::parse(bytes).expect("read");
        assert_eq!(song.tracks, 2);
        assert_eq!(song.notes.len(), 2);
        assert_eq!(song.tempo_bpm_meta, None); // 0 µs per quarter: no meaningful BPM
        assert_eq!(song.duration_s, [0.0, 0.0]); // time stands still at tempo 0
        let k = kinds(&song);
        assert!(
            k.contains(&"header declares 1 tracks, found 2".to_owned()),
            "{k:?}"
        );
    }
    let song = midi::parse(&riff).expect("read");
    assert_eq!(song.warnings[0].message(), "skipped 20 bytes before MThd");
}

#[test]
fn fifo_pairing_and_track_end() {
    // Two overlapping C4s, then a note-off at the same tick as a re-trigger (written before
    // it), one note never released, and a stray note-off.
    let t = track(&[
        b"\x00\x90\x3C\x40", // A on @0
        b"\x10\x90\x3C\x41", // B on @16
        b"\x10\x80\x3C\x00", // off @32 -> closes A (oldest)
        b"\x10\x90\x3C\x42", // C on @48
        b"\x00\x90\x3C\x00", // off (vel 0) @48 -> closes B
        b"\x10\x80\x3C\x00", // off @64 -> closes C
        b"\x00\x80\x40\x00", // stray off, ignored
        b"\x00\x91\x3E\x50", // D on @64, channel 1, never released
        b"\x20\xFF\x2F\x00", // EOT @96
    ]);
    let song = midi::parse(&smf(0, 1, 96, &[&t])).expect("read");
    let got: Vec<(u8, u8, u64, u64)> = song
        .notes
        .iter()
        .map(|n| (n.channel, n.velocity, n.onset_tick, n.offset_tick))
        .collect();
    assert_eq!(
        got,
        [
            (0, 0x40, 0, 32),
            (0, 0x41, 16, 48),
            (0, 0x42, 48, 64),
            (1, 0x50, 64, 96)
        ]
    );
    assert!(song.warnings.is_empty());
}

#[test]
fn format_two_tracks_keep_their_own_tempo() {
    let t0 = track(&[b"\x00\xFF\x51\x03\x0F\x42\x40", NOTE, EOT]); // 60 BPM
    let t1 = track(&[NOTE, EOT]); // default 120 BPM
    let song = midi::parse(&smf(2, 2, 96, &[&t0, &t1])).expect("read");
    assert_eq!(song.duration_s, [1.0, 0.5]);
    let bytes = smf(2, 2, 96, &[&t0, &t1]);
    compare(&song, &oracle(&bytes).expect("midly")).expect("same as the oracle");
}

// ---- the reader and the tables ----

fn write_tree(dir: &Path) -> Vec<PathBuf> {
    let good = smf(0, 1, 96, &[&track(&[NOTE, NOTE, EOT])]);
    let other = smf(
        1,
        2,
        480,
        &[
            &track(&[b"\x00\xFF\x51\x03\x07\xA1\x20", EOT]),
            &track(&[NOTE, EOT]),
        ],
    );
    std::fs::create_dir_all(dir.join("b/c")).expect("mkdir");
    let files = [
        ("a.mid", good.clone()),
        ("b/c/z.MID", other),
        ("b/broken.mid", b"MThd\0\0\0\x06\0\x01\0\x01\0\x00".to_vec()),
        ("b/empty.midi", Vec::new()),
        ("b/notes.txt", good),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    let mut v: Vec<PathBuf> = files[..4].iter().map(|(n, _)| dir.join(n)).collect();
    v.sort();
    v
}

fn file_names(batch: &RecordBatch, col: usize) -> Vec<String> {
    common::cells::texts(batch.column(col).as_ref())
        .into_iter()
        .map(|s| s.expect("a file"))
        .collect()
}

#[test]
fn reader_walks_sorts_and_reports_bad_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expected = write_tree(dir.path());
    for threads in [1, 2] {
        for per_batch in [1, 3, 256] {
            let mut reader = Reader::builder()
                .threads(threads)
                .files_per_batch(per_batch)
                .build(&[dir.path()])
                .expect("build");
            assert_eq!(midi::list_inputs(&[dir.path()]).expect("list"), expected);
            let batches: Vec<RecordBatch> = (&mut reader).collect::<Result<_, _>>().expect("read");
            let notes = arrow_select::concat::concat_batches(&midi::notes_schema(), &batches)
                .expect("concat");
            let names = file_names(&notes, 0);
            let a = expected[0].to_string_lossy();
            let z = expected[2].to_string_lossy();
            assert_eq!(names, [&*a, &a, &z]);
            let files = reader.files();
            assert_eq!(files.num_rows(), 4);
            assert_eq!(
                file_names(&files, 0),
                expected
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            );
            let error = files
                .column_by_name("error")
                .expect("error")
                .as_string::<i32>();
            assert!(error.is_null(0) && error.is_null(2));
            assert_eq!(error.value(1), "offset 12: division of 0 ticks");
            assert_eq!(
                error.value(3),
                "offset 0: not a Standard MIDI File (no MThd chunk)"
            );
            let fmt = files
                .column_by_name("format")
                .expect("format")
                .as_primitive::<UInt16Type>();
            assert_eq!(fmt.null_count(), 2);
            let n = files
                .column_by_name("notes")
                .expect("notes")
                .as_primitive::<UInt64Type>();
            assert_eq!(n.values(), &[2, 0, 1, 0]);
            let bpm = files
                .column_by_name("tempo_bpm_meta")
                .expect("bpm")
                .as_primitive::<Float64Type>();
            assert!(bpm.is_null(0));
            assert!((bpm.value(2) - 120.0).abs() < 1e-12);
            let s = reader.summary();
            assert_eq!((s.files, s.notes, s.failed), (4, 3, 2));
        }
    }
}

#[test]
fn notes_table_equals_parse() {
    let mut paths = corpus_midis();
    let dir = tempfile::tempdir().expect("tempdir");
    if paths.is_empty() {
        paths = write_tree(dir.path());
    }
    for threads in [1, 2] {
        for per_batch in [1, 7, 256] {
            let mut reader = Reader::builder()
                .threads(threads)
                .files_per_batch(per_batch)
                .build_paths(paths.clone())
                .expect("build");
            let batches: Vec<RecordBatch> = (&mut reader).collect::<Result<_, _>>().expect("read");
            let t = arrow_select::concat::concat_batches(&midi::notes_schema(), &batches)
                .expect("concat");
            let names = file_names(&t, 0);
            let mut row = 0;
            for p in &paths {
                let Ok(song) = midi::read(p) else { continue };
                for (i, n) in song.notes.iter().enumerate() {
                    assert_eq!(names[row], p.to_string_lossy());
                    let u8s = |c: &str| {
                        t.column_by_name(c)
                            .expect(c)
                            .as_primitive::<UInt8Type>()
                            .value(row)
                    };
                    let u64s = |c: &str| {
                        t.column_by_name(c)
                            .expect(c)
                            .as_primitive::<UInt64Type>()
                            .value(row)
                    };
                    let f64s = |c: &str| {
                        t.column_by_name(c)
                            .expect(c)
                            .as_primitive::<Float64Type>()
                            .value(row)
                    };
                    let track = t
                        .column_by_name("track")
                        .expect("track")
                        .as_primitive::<UInt16Type>()
                        .value(row);
                    assert_eq!(
                        (track, u8s("channel"), u8s("pitch"), u8s("velocity")),
                        (n.track, n.channel, n.pitch, n.velocity)
                    );
                    assert_eq!(
                        (u64s("onset_tick"), u64s("offset_tick")),
                        (n.onset_tick, n.offset_tick)
                    );
                    assert_eq!(f64s("onset_s").to_bits(), song.onset_s[i].to_bits());
                    assert_eq!(f64s("duration_s").to_bits(), song.duration_s[i].to_bits());
                    row += 1;
                }
            }
            assert_eq!(row, t.num_rows());
            assert_eq!(reader.summary().notes, row as u64);
        }
    }
}

#[test]
fn missing_input_is_an_error() {
    let e = Reader::builder()
        .build(&["/no/such/folder"])
        .expect_err("missing");
    assert!(e.to_string().starts_with("/no/such/folder: "), "{e}");
}

#[test]
fn short_meta_events_are_skipped_not_fatal() {
    // A key signature of length 0 (midly's lenient mode silently ends the track there): the
    // meta event is skipped by its length and the notes after it are read.
    let t = track(&[b"\x00\xFF\x59\x00", NOTE, EOT]);
    let bytes = smf(0, 1, 96, &[&t]);
    let song = midi::parse(&bytes).expect("read");
    assert_eq!(song.notes.len(), 1);
    assert!(song.warnings.is_empty());
    assert!(oracle(&bytes).expect("midly").midly_stopped_early);
}
