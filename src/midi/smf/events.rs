//! What a parsed file holds: its header, notes and the meta events the tables use.

/// How ticks relate to time (the `division` field of `MThd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Division {
    /// Ticks per quarter note; the tempo map gives a quarter note's duration.
    Ppq(u16),
    /// SMPTE time code: frames per second (24, 25, 29 = 29.97 drop-frame, 30) and ticks per
    /// frame. Tempo events do not change the time of a tick.
    Smpte {
        /// Frames per second as stored (29 means 30000/1001).
        fps: u8,
        /// Ticks per frame.
        ticks_per_frame: u8,
    },
}

/// The `MThd` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 0 (one track), 1 (simultaneous tracks), 2 (independent sequences).
    pub format: u16,
    /// Track count declared in the header (the chunks actually found may differ).
    pub declared_tracks: u16,
    /// Time division.
    pub division: Division,
}

/// A paired note, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    /// Track (index of the `MTrk` chunk, from 0).
    pub track: u16,
    /// Channel 0..=15.
    pub channel: u8,
    /// Key number 0..=127.
    pub pitch: u8,
    /// Note-on velocity 1..=127.
    pub velocity: u8,
    /// Tick of the note-on.
    pub onset_tick: u64,
    /// Tick of the matching note-off, or of the end of the track when never released.
    pub offset_tick: u64,
    /// The General MIDI program of the note's channel at its note-on: the last Program Change
    /// on that channel earlier in the same track, 0 when there was none (as pretty_midi keeps
    /// programs: per track and channel).
    pub program: u8,
}

/// A Time Signature meta event (`FF 58`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSignature {
    /// Absolute tick.
    pub tick: u64,
    /// Track it was found in.
    pub track: u16,
    /// Beats per bar.
    pub numerator: u8,
    /// The beat unit as a power of two (2: quarter notes).
    pub denominator_power: u8,
}

/// A Key Signature meta event (`FF 59`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySignature {
    /// Absolute tick.
    pub tick: u64,
    /// Track it was found in.
    pub track: u16,
    /// Sharps (positive) or flats (negative), -7..=7 when valid.
    pub sharps: i8,
    /// 0 major, 1 minor.
    pub mode: u8,
}

/// A Set Tempo event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tempo {
    /// Absolute tick.
    pub tick: u64,
    /// Track it was found in.
    pub track: u16,
    /// Microseconds per quarter note (24 bits).
    pub us_per_quarter: u32,
}
