//! MIDI: arbitrary bytes as a Standard MIDI File. Parsing must never panic or hang, and the
//! results must be consistent (every note inside its track, durations finite and >= 0). Where
//! our parser reads the file without any warning, midly must read it too and — unless midly
//! rejected an event whose contents we do not judge — the notes, tempo events and times must
//! equal the oracle's (the same checks as the tests).
#![no_main]

#[path = "../../tests/common/midi_oracle.rs"]
mod midi_oracle;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(song) = rawarrow::midi::parse(data) else {
        return;
    };
    assert_eq!(song.notes.len(), song.onset_s.len());
    assert_eq!(song.notes.len(), song.duration_s.len());
    for (i, n) in song.notes.iter().enumerate() {
        assert!(n.onset_tick <= n.offset_tick, "{n:?}");
        assert!(usize::from(n.track) < usize::from(song.tracks));
        assert!(n.velocity > 0 && n.pitch < 128 && n.channel < 16);
        assert!(song.onset_s[i].is_finite() && song.duration_s[i] >= 0.0);
    }
    if song.warnings.is_empty() {
        let want = midi_oracle::oracle(data).expect("midly reads what we read without warnings");
        if want.midly_stopped_early {
            return; // midly rejected an event we skip over (see the oracle); nothing to compare
        }
        if let Err(e) = midi_oracle::compare(&song, &want) {
            panic!("differs from midly: {e}");
        }
    }
});
