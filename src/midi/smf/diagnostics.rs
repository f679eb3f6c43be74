//! What stops a file ([`ParseError`]) and what is only odd about it ([`Warning`]).

use std::fmt;

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseErrorKind {
    /// No `MThd` chunk at the start (nor within the first 4 KiB, nor in a RIFF `data` chunk).
    NotSmf,
    /// `MThd` shorter than 6 bytes (the length field, or the bytes actually present).
    HeaderTooShort(u32),
    /// Format other than 0, 1, 2.
    Format(u16),
    /// Division of 0 ticks per quarter note or per frame.
    ZeroDivision,
    /// SMPTE frame rate not 24, 25, 29 or 30.
    SmpteRate(i8),
    /// No `MTrk` chunk in the file.
    NoTracks,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSmf => f.write_str("not a Standard MIDI File (no MThd chunk)"),
            Self::HeaderTooShort(n) => write!(f, "MThd chunk of {n} bytes, need 6"),
            Self::Format(v) => write!(f, "unknown SMF format {v} (expected 0, 1 or 2)"),
            Self::ZeroDivision => f.write_str("division of 0 ticks"),
            Self::SmpteRate(r) => write!(f, "SMPTE division with {r} frames per second"),
            Self::NoTracks => f.write_str("no MTrk chunk"),
        }
    }
}

/// A file that cannot be read: the byte offset and the cause (its `Display`: `offset N: cause`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Offset in the file where the problem was found.
    pub offset: u64,
    /// What was wrong.
    pub(crate) kind: ParseErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for ParseError {}

/// Something odd that did not stop the file from being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WarningKind {
    /// Bytes before `MThd` that were skipped (RIFF wrapper, MacBinary header...).
    LeadingBytes(u64),
    /// A chunk declares more bytes than the file has left.
    ChunkPastEof {
        /// Declared length.
        declared: u32,
        /// Bytes present.
        present: u64,
    },
    /// The track has no End-of-Track event.
    MissingEndOfTrack,
    /// The track ends in the middle of an event.
    TruncatedEvent,
    /// A variable-length quantity of more than 4 bytes.
    LongVarLen,
    /// A data byte >= 0x80 inside a channel message.
    DataByteTopBit(u8),
    /// A data byte where a status byte was needed and there is no running status.
    NoRunningStatus(u8),
    /// A system common / real-time status byte (not allowed in files).
    SystemMessage(u8),
    /// A meta or SysEx event longer than the rest of its track.
    EventPastTrackEnd,
    /// Running status continued across a meta or SysEx event.
    RunningStatusAcrossMeta,
    /// A Set Tempo event whose length is not 3 (ignored).
    TempoLength(u32),
    /// The header declares a different number of tracks than the chunks found.
    TrackCount {
        /// From `MThd`.
        declared: u16,
        /// `MTrk` chunks found.
        found: u32,
    },
    /// Bytes after the last chunk too short to be a chunk header.
    TrailingBytes(u64),
    /// More than 65,535 tracks: the rest are skipped.
    TooManyTracks,
    /// A second `MThd` chunk (skipped; the first one counts).
    DuplicateHeader,
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LeadingBytes(n) => write!(f, "skipped {n} bytes before MThd"),
            Self::ChunkPastEof { declared, present } => write!(
                f,
                "chunk declares {declared} bytes but the file has {present}; read what is there"
            ),
            Self::MissingEndOfTrack => f.write_str("track without End-of-Track"),
            Self::TruncatedEvent => f.write_str("track ends inside an event"),
            Self::LongVarLen => f.write_str("variable-length quantity longer than 4 bytes"),
            Self::DataByteTopBit(b) => write!(f, "data byte 0x{b:02X} has its top bit set"),
            Self::NoRunningStatus(b) => {
                write!(f, "data byte 0x{b:02X} with no running status")
            }
            Self::SystemMessage(b) => write!(f, "system message 0x{b:02X} in a file"),
            Self::EventPastTrackEnd => f.write_str("meta/SysEx event runs past the track end"),
            Self::RunningStatusAcrossMeta => {
                f.write_str("running status continues across a meta/SysEx event")
            }
            Self::TempoLength(n) => write!(f, "Set Tempo of length {n} ignored"),
            Self::TrackCount { declared, found } => {
                write!(f, "header declares {declared} tracks, found {found}")
            }
            Self::TrailingBytes(n) => write!(f, "{n} bytes after the last chunk"),
            Self::TooManyTracks => f.write_str("more than 65535 tracks; the rest skipped"),
            Self::DuplicateHeader => f.write_str("second MThd chunk skipped"),
        }
    }
}

/// A warning with the byte offset it refers to and its track, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Byte offset in the file.
    pub offset: u64,
    /// Track index, for warnings inside a track.
    pub track: Option<u16>,
    /// What was odd.
    pub(crate) kind: WarningKind,
}

impl Warning {
    /// What was odd, in words (the text after the offset in the files table's `warnings`).
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.track {
            Some(t) => write!(f, "offset {} (track {t}): {}", self.offset, self.kind),
            None => write!(f, "offset {}: {}", self.offset, self.kind),
        }
    }
}
