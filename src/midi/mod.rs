//! Standard MIDI Files → Arrow: note tables with tempo-mapped onsets, per-file facts, onset
//! detection and tempo estimates, for one file or millions.
//!
//! * [`Parser`] parses a file in one pass over its bytes (memory-mapped, no copy) and pairs notes as
//!   it goes; see its docs for what is an error and what only a warning.
//! * `tempo` merges the Set Tempo events into a tick → seconds map (exact integer arithmetic).
//! * `onset` groups note starts into onsets (the kernels' onset gate) and estimates the tempo.
//! * [`Reader`] walks folders, reads files in parallel on the pinned pool and yields the `notes`
//!   table as Arrow batches in sorted path order, plus the `files` table (docs/SCHEMAS.md).
//!
//! # Note pairing
//! Notes are paired per (track, channel, pitch). A note-on (velocity > 0) opens a note; a
//! note-off, or a note-on with velocity 0, closes the **oldest** open note of that key (FIFO).
//! FIFO is what keeps re-triggers right when a file puts the next note-on before the previous
//! note's note-off at the same tick (common in sequencer exports): the note-off then closes the
//! earlier note, not the one that just started. pretty_midi instead closes *every* open note of
//! the key at a note-off (and drops notes of zero length), which merges re-triggered notes;
//! here a note-on immediately followed by its note-off is kept as a note of zero duration.
//! A note-off with no open note is ignored (counted in [`Parser::unmatched_offs`]). Notes
//! still sounding when their track ends (End-of-Track, or the last event read) end there.
//!
//! On the 31 corpus songs this gives 80,364 notes; pretty_midi and symusic each find 80,363.
//! pretty_midi drops one zero-length note (`tttheme2.mid`); symusic drops one of two
//! overlapping notes in `chuggachugga.mid` (track 6 re-triggers key 73 at tick 39,936 while the
//! note from 35,328 still sounds, and a single note-off at 42,960 follows): rawarrow closes the
//! older note with that note-off and ends the newer one at the End-of-Track at the same tick.
//!
//! ```
//! // A format-0 file: 96 ticks per quarter, tempo 100 BPM, one quarter note C4.
//! let mut smf = b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk\0\0\0\x13".to_vec();
//! smf.extend_from_slice(b"\0\xFF\x51\x03\x09\x27\xC0"); // Set Tempo 600,000 µs
//! smf.extend_from_slice(b"\0\x90\x3C\x64\x60\x80\x3C\x40"); // on, 96 ticks, off
//! smf.extend_from_slice(b"\0\xFF\x2F\0");
//! let song = rawarrow::midi::parse(&smf)?;
//! assert_eq!(song.notes.len(), 1);
//! assert_eq!((song.notes[0].pitch, song.notes[0].offset_tick), (60, 96));
//! assert!((song.duration_s[0] - 0.6).abs() < 1e-12);
//! assert_eq!(song.tempo_bpm_meta, Some(100.0));
//! # Ok::<(), rawarrow::midi::ParseError>(())
//! ```

mod analysis;
mod onset;
pub(crate) mod reader;
mod smf;
pub(crate) mod stream;
mod table;
mod tempo;

pub use analysis::{estimate_key, Key, KeyProfile, Music, Programs};
pub use onset::Onset;
pub(crate) use onset::{OnsetOptions, OnsetScratch};
pub(crate) use reader::read_list;
pub(crate) use reader::EXTENSIONS;
pub use reader::{list_inputs, Error, ErrorKind, Reader, ReaderBuilder, Summary};
pub use smf::{
    Division, Header, KeySignature, Note, ParseError, Parser, Tempo, TimeSignature, Warning,
};
pub(crate) use table::files_schema;
pub use table::notes_schema;
pub(crate) use tempo::TempoMap;

/// Per-file facts computed by [`Analyzer::analyze`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Facts {
    /// The `MThd` chunk.
    pub(crate) header: Header,
    /// `MTrk` chunks read.
    pub(crate) tracks: u16,
    /// Time of the last track end, in seconds.
    pub(crate) duration_s: f64,
    /// BPM of the first Set Tempo event (tick order, then track order); `None` without one or
    /// when it is 0 µs per quarter.
    pub(crate) tempo_bpm_meta: Option<f64>,
    /// BPM estimated from the onsets ([`OnsetScratch::estimate_tempo`]).
    pub(crate) tempo_bpm_estimate: Option<f64>,
    /// Key, meter, instruments, drums, range, polyphony ([`analysis`]).
    pub(crate) music: Music,
}

/// Reusable per-worker state: parses a file, sorts and times its notes, detects onsets and
/// estimates the tempo, allocating nothing once warmed up.
#[derive(Debug, Default)]
pub(crate) struct Analyzer {
    parser: smf::Parser,
    maps: Vec<TempoMap>,
    sorted_tempos: Vec<Tempo>,
    onset: OnsetScratch,
    options: OnsetOptions,
    profile: KeyProfile,
    music: analysis::MusicScratch,
    onset_s: Vec<f64>,
    duration_s: Vec<f64>,
    by_time: Vec<(f64, u8)>,
    times: Vec<f64>,
    vels: Vec<u8>,
}

impl Analyzer {
    /// An analyzer with these onset settings.
    pub(crate) fn new(options: OnsetOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Estimates keys with `profile` (default: Krumhansl–Kessler).
    pub(crate) fn with_key_profile(mut self, profile: KeyProfile) -> Self {
        self.profile = profile;
        self
    }

    /// Analyzes one file's bytes. On success [`Analyzer::notes`], [`Analyzer::onset_s`],
    /// [`Analyzer::duration_s`] and [`Analyzer::warnings`] describe it.
    ///
    /// Notes come in onset order (ties: track, then file order) for formats 0 and 1; for
    /// format 2 (independent sequences, each with its own tempo map) in track order.
    pub(crate) fn analyze(&mut self, bytes: &[u8]) -> Result<Facts, ParseError> {
        self.onset_s.clear();
        self.duration_s.clear();
        let header = self.parser.parse(bytes)?;
        let p = &mut self.parser;
        let tracks = p.track_ends.len();
        let per_track = header.format == 2;
        // Tempo maps: one merged map, or one per track for format 2.
        let n_maps = if per_track { tracks } else { 1 };
        if self.maps.len() < n_maps {
            self.maps
                .resize_with(n_maps, || TempoMap::new(header.division, []));
        }
        let first_tempo;
        if per_track {
            let mut rest = &p.tempos[..];
            for (t, map) in self.maps[..tracks].iter_mut().enumerate() {
                let n = rest
                    .iter()
                    .take_while(|x| usize::from(x.track) == t)
                    .count();
                map.rebuild(header.division, rest[..n].iter().copied());
                rest = &rest[n..];
            }
            first_tempo = p.tempos.first().copied();
        } else {
            self.sorted_tempos.clear();
            self.sorted_tempos.extend_from_slice(&p.tempos);
            self.sorted_tempos.sort_by_key(|t| t.tick); // stable: ties keep track/file order
            self.maps[0].rebuild(header.division, self.sorted_tempos.iter().copied());
            first_tempo = self.sorted_tempos.first().copied();
            p.notes.sort_by_key(|n| n.onset_tick);
        }
        let map_of = |track: u16| if per_track { usize::from(track) } else { 0 };
        let mut hint = 0;
        for n in &p.notes {
            let map = &self.maps[map_of(n.track)];
            hint = map.segment_from(hint, n.onset_tick);
            self.onset_s.push(map.seconds_in(hint, n.onset_tick));
            self.duration_s
                .push(map.duration_in(hint, n.onset_tick, n.offset_tick));
        }
        let duration_s = p
            .track_ends
            .iter()
            .enumerate()
            .map(|(t, &end)| self.maps[map_of(t as u16)].seconds(end))
            .fold(0.0, f64::max);
        // Onsets need ascending times: already so for formats 0/1.
        self.times.clear();
        self.vels.clear();
        if per_track {
            self.by_time.clear();
            self.by_time.extend(
                self.onset_s
                    .iter()
                    .zip(&p.notes)
                    .map(|(&t, n)| (t, n.velocity)),
            );
            self.by_time.sort_by(|a, b| a.0.total_cmp(&b.0));
            self.times.extend(self.by_time.iter().map(|x| x.0));
            self.vels.extend(self.by_time.iter().map(|x| x.1));
        } else {
            self.times.extend_from_slice(&self.onset_s);
            self.vels.extend(p.notes.iter().map(|n| n.velocity));
        }
        self.onset.detect(&self.times, &self.vels, &self.options);
        let tempo_bpm_estimate = self.onset.estimate_tempo();
        let music = Music::of(
            &p.notes,
            per_track,
            &p.time_signatures,
            &p.key_signatures,
            self.profile,
            &mut self.music,
        );
        Ok(Facts {
            header,
            tracks: tracks as u16,
            duration_s,
            tempo_bpm_meta: first_tempo
                .filter(|t| t.us_per_quarter > 0)
                .map(|t| 60_000_000.0 / f64::from(t.us_per_quarter)),
            tempo_bpm_estimate,
            music,
        })
    }

    /// Notes of the last analyzed file.
    pub(crate) fn notes(&self) -> &[Note] {
        &self.parser.notes
    }

    /// Onset of each note, in seconds.
    pub(crate) fn onset_s(&self) -> &[f64] {
        &self.onset_s
    }

    /// Duration of each note, in seconds.
    pub(crate) fn duration_s(&self) -> &[f64] {
        &self.duration_s
    }

    /// Warnings about the last file (also after an error).
    pub(crate) fn warnings(&self) -> &[Warning] {
        &self.parser.warnings
    }

    /// Set Tempo events of the last file, in track order then file order.
    pub(crate) fn tempos(&self) -> &[Tempo] {
        &self.parser.tempos
    }

    /// Onsets of the last file.
    pub(crate) fn onsets(&self) -> &[Onset] {
        &self.onset.onsets
    }
}

/// One file, read: notes with their times, tempo events, facts and warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Song {
    /// The `MThd` chunk.
    pub header: Header,
    /// `MTrk` chunks read.
    pub tracks: u16,
    /// Notes (order: see [`Analyzer::analyze`]).
    pub notes: Vec<Note>,
    /// Onset of each note, in seconds.
    pub onset_s: Vec<f64>,
    /// Duration of each note, in seconds.
    pub duration_s: Vec<f64>,
    /// Set Tempo events, in track order then file order.
    pub tempos: Vec<Tempo>,
    /// Detected onsets.
    pub onsets: Vec<Onset>,
    /// Time of the last track end, in seconds.
    pub length_s: f64,
    /// BPM of the first Set Tempo.
    pub tempo_bpm_meta: Option<f64>,
    /// Estimated BPM.
    pub tempo_bpm_estimate: Option<f64>,
    /// Key, meter, instruments, drums, range, polyphony.
    pub music: Music,
    /// What was odd about the file.
    pub warnings: Vec<Warning>,
}

/// Parses one file held in memory (default onset settings).
pub fn parse(bytes: &[u8]) -> Result<Song, ParseError> {
    let mut a = Analyzer::default();
    let facts = a.analyze(bytes)?;
    Ok(Song {
        header: facts.header,
        tracks: facts.tracks,
        notes: a.notes().to_vec(),
        onset_s: a.onset_s().to_vec(),
        duration_s: a.duration_s().to_vec(),
        tempos: a.tempos().to_vec(),
        onsets: a.onsets().to_vec(),
        length_s: facts.duration_s,
        tempo_bpm_meta: facts.tempo_bpm_meta,
        tempo_bpm_estimate: facts.tempo_bpm_estimate,
        music: facts.music,
        warnings: a.warnings().to_vec(),
    })
}

/// Reads and parses one file (memory-mapped); errors name the file.
pub fn read(path: impl AsRef<std::path::Path>) -> Result<Song, crate::Error> {
    let path = path.as_ref();
    let input = crate::io::Input::open_whole(path, &[]).map_err(Error::open)?;
    let song = parse(input.bytes());
    // A file that shrank while it was parsed was read partly as zeros.
    input.check()?;
    Ok(song.map_err(|e| Error::parse(path, e))?)
}
