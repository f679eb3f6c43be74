//! Musical facts of one file: its key (Krumhansl–Schmuckler), meter, instruments, drums, pitch
//! range and polyphony — what a catalogue's analysis pass stores per file.
//!
//! # Key
//! The Krumhansl–Schmuckler method: every pitched note (channel 10, the General MIDI drum
//! channel, excluded) adds its duration in ticks to its pitch class; the 12-bin distribution is
//! correlated (Pearson) with a major and a minor key profile rotated to each of the 12 tonics,
//! and the best of the 24 correlations names the key; the correlation is its confidence. Ticks
//! and beats give the same correlations (a constant factor), so this is music21's
//! `analyze('krumhansl')`, which sums quarter lengths; keys are spelled as music21 spells them
//! (`"E- major"`, `"F# minor"`: tonic name, `-` for flat, then the mode). A file with fewer than
//! [`MIN_KEY_NOTES`] pitched notes, or whose distribution is flat, has no key.
//!
//! The profile is a choice ([`KeyProfile`]): Krumhansl–Kessler's probe-tone ratings (the
//! default; "a strong tendency to identify the dominant key as the tonic", as the Humdrum
//! `keycor` notes say), Aarden–Essen's (note frequencies in the Essen folk-song collection:
//! music21's default `analyze('key')`), or Temperley's (Kostka–Payne corpus).
//!
//! ```
//! use rawarrow::midi::{estimate_key, KeyProfile};
//! // A C major scale, the tonic held longest.
//! let mut d = [0.0; 12];
//! for (pc, w) in [(0, 4.0), (2, 1.0), (4, 2.0), (5, 1.0), (7, 2.0), (9, 1.0), (11, 1.0)] {
//!     d[pc] = w;
//! }
//! let key = estimate_key(&d, KeyProfile::KrumhanslKessler).expect("a key");
//! assert_eq!(key.name(), "C major");
//! assert!(key.correlation > 0.9);
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::smf::{KeySignature, Note, TimeSignature};

/// Pitched notes a file needs for a key estimate.
pub(crate) const MIN_KEY_NOTES: usize = 8;

/// The General MIDI drum channel (channel 10, numbered 9 from 0), as pretty_midi decides drums.
pub(crate) const DRUM_CHANNEL: u8 = 9;

/// Key profiles for [`estimate_key`]: weights of the 12 scale degrees from the tonic up, for
/// major and minor keys (the values music21 uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyProfile {
    /// Krumhansl & Kessler (1982), probe-tone ratings (music21 `'krumhansl'`).
    #[default]
    KrumhanslKessler,
    /// Aarden (2003), Essen folk-song collection (music21 `'key'`, `'aarden'`).
    AardenEssen,
    /// Temperley (2007), Kostka–Payne corpus (music21 `'temperley'`).
    TemperleyKostkaPayne,
}

impl KeyProfile {
    /// Every profile.
    pub(crate) const ALL: [KeyProfile; 3] = [
        Self::KrumhanslKessler,
        Self::AardenEssen,
        Self::TemperleyKostkaPayne,
    ];

    /// The name used on the command line and in Python.
    pub fn name(self) -> &'static str {
        match self {
            Self::KrumhanslKessler => "krumhansl",
            Self::AardenEssen => "aarden",
            Self::TemperleyKostkaPayne => "temperley",
        }
    }

    /// Major and minor weights.
    pub(crate) fn weights(self) -> (&'static [f64; 12], &'static [f64; 12]) {
        match self {
            Self::KrumhanslKessler => (
                &[
                    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
                ],
                &[
                    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
                ],
            ),
            Self::AardenEssen => (
                &[
                    17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062,
                    0.145624, 8.15494, 0.232998, 4.95122,
                ],
                &[
                    18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161,
                    4.56621, 1.93186, 7.37619, 1.75623,
                ],
            ),
            Self::TemperleyKostkaPayne => (
                &[
                    0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057,
                    0.400,
                ],
                &[
                    0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133,
                    0.330,
                ],
            ),
        }
    }
}

impl std::str::FromStr for KeyProfile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown key profile `{s}` (krumhansl, aarden, temperley)"))
    }
}

/// An estimated key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Key {
    /// Pitch class of the tonic, 0 (C) to 11 (B).
    pub tonic: u8,
    /// Minor (else major).
    pub minor: bool,
    /// The correlation of the pitch-class distribution with the key's profile, -1..=1.
    pub correlation: f64,
}

const MAJOR: [&str; 12] = [
    "C major", "C# major", "D major", "E- major", "E major", "F major", "F# major", "G major",
    "A- major", "A major", "B- major", "B major",
];
const MINOR: [&str; 12] = [
    "C minor", "C# minor", "D minor", "E- minor", "E minor", "F minor", "F# minor", "G minor",
    "G# minor", "A minor", "B- minor", "B minor",
];

impl Key {
    /// The key as music21 spells it: `"E- major"`, `"G# minor"`.
    pub fn name(&self) -> &'static str {
        let names = if self.minor { &MINOR } else { &MAJOR };
        names[usize::from(self.tonic % 12)]
    }
}

/// The best of the 24 keys for a pitch-class distribution (`None` when it is flat, so that
/// every correlation is undefined).
pub fn estimate_key(distribution: &[f64; 12], profile: KeyProfile) -> Option<Key> {
    let mean = distribution.iter().sum::<f64>() / 12.0;
    let dev: Vec<f64> = distribution.iter().map(|d| d - mean).collect();
    let dist_ss: f64 = dev.iter().map(|d| d * d).sum();
    if dist_ss.is_nan() || dist_ss <= 0.0 || dist_ss.is_infinite() {
        return None;
    }
    let (major, minor) = profile.weights();
    let mut best: Option<Key> = None;
    for (weights, is_minor) in [(major, false), (minor, true)] {
        let wmean = weights.iter().sum::<f64>() / 12.0;
        let w_ss: f64 = weights.iter().map(|w| (w - wmean) * (w - wmean)).sum();
        for tonic in 0..12 {
            let top: f64 = (0..12)
                .map(|j| (weights[(j + 12 - tonic) % 12] - wmean) * dev[j])
                .sum();
            let r = top / (w_ss * dist_ss).sqrt();
            if best.is_none_or(|b| r > b.correlation) {
                best = Some(Key {
                    tonic: tonic as u8,
                    minor: is_minor,
                    correlation: r,
                });
            }
        }
    }
    best
}

impl TimeSignature {
    /// `"3/4"`; `None` when the denominator's power is too large to be a note value.
    pub fn name(&self) -> Option<String> {
        (self.denominator_power < 32)
            .then(|| format!("{}/{}", self.numerator, 1u64 << self.denominator_power))
    }
}

const MAJOR_BY_SHARPS: [&str; 15] = [
    "C- major", "G- major", "D- major", "A- major", "E- major", "B- major", "F major", "C major",
    "G major", "D major", "A major", "E major", "B major", "F# major", "C# major",
];
const MINOR_BY_SHARPS: [&str; 15] = [
    "A- minor", "E- minor", "B- minor", "F minor", "C minor", "G minor", "D minor", "A minor",
    "E minor", "B minor", "F# minor", "C# minor", "G# minor", "D# minor", "A# minor",
];

impl KeySignature {
    /// The key it declares, spelled as [`Key::name`] spells keys (`"E minor"`); `None` for
    /// sharps outside -7..=7 or a mode other than 0 (major) or 1 (minor).
    pub fn name(&self) -> Option<&'static str> {
        let i = usize::try_from(i16::from(self.sharps) + 7).ok()?;
        match self.mode {
            0 => MAJOR_BY_SHARPS.get(i).copied(),
            1 => MINOR_BY_SHARPS.get(i).copied(),
            _ => None,
        }
    }
}

/// A set of General MIDI programs (0..=127).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Programs(pub u128);

impl Programs {
    /// Adds a program.
    pub(crate) fn insert(&mut self, program: u8) {
        self.0 |= 1u128 << (program & 0x7F);
    }
}

impl IntoIterator for Programs {
    type Item = u8;
    type IntoIter = std::vec::IntoIter<u8>;

    /// The programs, ascending.
    fn into_iter(self) -> Self::IntoIter {
        (0..128u8)
            .filter(|&p| self.0 >> p & 1 == 1)
            .collect::<Vec<u8>>()
            .into_iter()
    }
}

/// The musical facts of one file ([`super::Facts::music`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Music {
    /// Estimated key; `None` with fewer than [`MIN_KEY_NOTES`] pitched notes.
    pub key: Option<Key>,
    /// The first Key Signature event (tick order, then track order).
    pub key_signature: Option<KeySignature>,
    /// The first Time Signature event (tick order, then track order).
    pub time_signature: Option<TimeSignature>,
    /// Time Signature events after the first that change the meter.
    pub time_signature_changes: u32,
    /// Programs of the pitched notes (drums excluded).
    pub programs: Programs,
    /// A note on the drum channel.
    pub has_drums: bool,
    /// Lowest and highest pitched note.
    pub pitch_range: Option<(u8, u8)>,
    /// Most notes sounding at once (a note sounds from its onset tick up to, not including,
    /// its offset tick, so notes of zero length never do; in format 2 files per track, the
    /// sequences being independent).
    pub max_polyphony: u32,
}

/// Reusable scratch for [`Music::of`].
#[derive(Debug, Default)]
pub(crate) struct MusicScratch {
    polyphony: Polyphony,
    time_signatures: Vec<TimeSignature>,
    key_signatures: Vec<KeySignature>,
}

impl Music {
    /// The facts of a parsed file: `notes` in onset order (per track for format 2,
    /// `per_track`), its meta events in track order.
    pub(crate) fn of(
        notes: &[Note],
        per_track: bool,
        time_signatures: &[TimeSignature],
        key_signatures: &[KeySignature],
        profile: KeyProfile,
        scratch: &mut MusicScratch,
    ) -> Self {
        let mut m = Music::default();
        let mut distribution = [0.0f64; 12];
        let mut pitched = 0usize;
        for n in notes {
            if n.channel == DRUM_CHANNEL {
                m.has_drums = true;
                continue;
            }
            pitched += 1;
            m.programs.insert(n.program);
            distribution[usize::from(n.pitch % 12)] +=
                n.offset_tick.saturating_sub(n.onset_tick) as f64;
            m.pitch_range = Some(match m.pitch_range {
                None => (n.pitch, n.pitch),
                Some((lo, hi)) => (lo.min(n.pitch), hi.max(n.pitch)),
            });
        }
        if pitched >= MIN_KEY_NOTES {
            m.key = estimate_key(&distribution, profile);
        }
        m.max_polyphony = polyphony(notes, per_track, &mut scratch.polyphony);
        // First events in tick order; ties keep track order (a stable sort).
        let ts = &mut scratch.time_signatures;
        ts.clear();
        ts.extend_from_slice(time_signatures);
        ts.sort_by_key(|t| t.tick);
        m.time_signature = ts.first().copied();
        m.time_signature_changes = ts
            .windows(2)
            .filter(|w| {
                (w[0].numerator, w[0].denominator_power) != (w[1].numerator, w[1].denominator_power)
            })
            .count() as u32;
        let ks = &mut scratch.key_signatures;
        ks.clear();
        ks.extend_from_slice(key_signatures);
        ks.sort_by_key(|k| k.tick);
        m.key_signature = ks.first().copied();
        m
    }
}

/// Sounding notes kept in a plain list before they move to a heap: most music has a few dozen
/// at most, and filtering a short list is cheaper than a heap (or a sort of every offset).
const SMALL_POLYPHONY: usize = 64;

/// Most notes sounding at once; `notes` in onset order (per track when `per_track`).
///
/// Walking the notes in onset order, the offsets of the notes still sounding are kept; at each
/// onset those that ended by then are dropped and the count is taken once every note starting
/// there has been added.
fn polyphony(notes: &[Note], per_track: bool, scratch: &mut Polyphony) -> u32 {
    let Polyphony { small, heap } = scratch;
    small.clear();
    heap.clear();
    let mut best = 0;
    let mut track = None;
    // The onset whose ended notes were last dropped.
    let mut dropped_at = None;
    let mut it = notes
        .iter()
        .filter(|n| n.offset_tick > n.onset_tick)
        .peekable();
    while let Some(n) = it.next() {
        if per_track && track != Some(n.track) {
            small.clear();
            heap.clear();
            track = Some(n.track);
            dropped_at = None;
        }
        if dropped_at != Some(n.onset_tick) {
            // Once per distinct onset (chords share one).
            small.retain(|&e| e > n.onset_tick);
            while heap.peek().is_some_and(|e| e.0 <= n.onset_tick) {
                heap.pop();
            }
            dropped_at = Some(n.onset_tick);
        }
        if heap.is_empty() && small.len() < SMALL_POLYPHONY {
            small.push(n.offset_tick);
        } else {
            heap.extend(small.drain(..).map(Reverse));
            heap.push(Reverse(n.offset_tick));
        }
        let same = it
            .peek()
            .is_some_and(|m| m.onset_tick == n.onset_tick && (!per_track || m.track == n.track));
        if !same {
            best = best.max(small.len() + heap.len());
        }
    }
    best as u32
}

/// Scratch of [`polyphony`].
#[derive(Debug, Default)]
struct Polyphony {
    small: Vec<u64>,
    heap: BinaryHeap<Reverse<u64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, on: u64, off: u64) -> Note {
        Note {
            track: 0,
            channel: 0,
            pitch,
            velocity: 64,
            onset_tick: on,
            offset_tick: off,
            program: 0,
        }
    }

    #[test]
    fn names_as_music21_spells_them() {
        let k = |tonic, minor| Key {
            tonic,
            minor,
            correlation: 0.0,
        };
        assert_eq!(k(3, false).name(), "E- major");
        assert_eq!(k(8, false).name(), "A- major");
        assert_eq!(k(8, true).name(), "G# minor");
        assert_eq!(k(10, true).name(), "B- minor");
        let ks = |sharps, mode| KeySignature {
            tick: 0,
            track: 0,
            sharps,
            mode,
        };
        assert_eq!(ks(1, 1).name(), Some("E minor"));
        assert_eq!(ks(-3, 0).name(), Some("E- major"));
        assert_eq!(ks(7, 0).name(), Some("C# major"));
        assert_eq!(ks(-7, 1).name(), Some("A- minor"));
        assert_eq!(ks(8, 0).name(), None);
        assert_eq!(ks(0, 2).name(), None);
        let ts = TimeSignature {
            tick: 0,
            track: 0,
            numerator: 6,
            denominator_power: 3,
        };
        assert_eq!(ts.name().as_deref(), Some("6/8"));
    }

    #[test]
    fn correlation_is_pearson_and_rotates_with_the_music() {
        // A minor triad on D held, with passing tones.
        let mut d = [0.0; 12];
        for (pc, w) in [(2, 6.0), (5, 4.0), (9, 5.0), (4, 1.0), (7, 1.0), (0, 1.0)] {
            d[pc] = w;
        }
        let key = estimate_key(&d, KeyProfile::KrumhanslKessler).expect("key");
        assert_eq!(key.name(), "D minor");
        // The correlation by hand for the winning rotation.
        let (_, minor) = KeyProfile::KrumhanslKessler.weights();
        let x: Vec<f64> = (0..12).map(|j| minor[(j + 12 - 2) % 12]).collect();
        let (mx, my) = (x.iter().sum::<f64>() / 12.0, d.iter().sum::<f64>() / 12.0);
        let cov: f64 = (0..12).map(|j| (x[j] - mx) * (d[j] - my)).sum();
        let sx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
        let sy: f64 = d.iter().map(|v| (v - my).powi(2)).sum();
        assert!((key.correlation - cov / (sx * sy).sqrt()).abs() < 1e-12);
        for k in 1..12 {
            let mut r = [0.0; 12];
            for pc in 0..12 {
                r[(pc + k) % 12] = d[pc];
            }
            let t = estimate_key(&r, KeyProfile::KrumhanslKessler).expect("key");
            assert_eq!((t.tonic, t.minor), (((2 + k) % 12) as u8, true));
            assert!((t.correlation - key.correlation).abs() < 1e-12);
        }
        assert_eq!(estimate_key(&[1.0; 12], KeyProfile::KrumhanslKessler), None);
        assert_eq!(estimate_key(&[0.0; 12], KeyProfile::AardenEssen), None);
    }

    #[test]
    fn polyphony_counts_overlaps_not_touching_notes() {
        let mut heap = Polyphony::default();
        let notes = [
            note(60, 0, 10),
            note(64, 0, 10),
            note(67, 5, 20),
            note(72, 10, 12),
        ];
        assert_eq!(polyphony(&notes, false, &mut heap), 3);
        let legato = [note(60, 0, 10), note(62, 10, 20), note(64, 20, 30)];
        assert_eq!(polyphony(&legato, false, &mut heap), 1);
        let zero = [note(60, 5, 5), note(62, 5, 9), note(64, 5, 5)];
        assert_eq!(
            polyphony(&zero, false, &mut heap),
            1,
            "zero-length notes never sound"
        );
        assert_eq!(polyphony(&[], false, &mut heap), 0);
        let mut two = [note(60, 0, 10), note(62, 0, 10), note(64, 0, 10)];
        two[2].track = 1;
        assert_eq!(polyphony(&two, true, &mut heap), 2, "format 2: per track");
        // Past the small list: a heap, same answer.
        let many: Vec<Note> = (0..200)
            .map(|i| note(60, i, 1000 + i))
            .chain((0..50).map(|i| note(61, 2000 + i * 10, 2005 + i * 10)))
            .collect();
        assert_eq!(polyphony(&many, false, &mut heap), 200);
        let mut ramp: Vec<Note> = (0..300).map(|i| note(60, i, i + 100)).collect();
        ramp.push(note(60, 5000, 5001));
        assert_eq!(polyphony(&ramp, false, &mut heap), 100);
    }

    #[test]
    fn facts_of_notes() {
        let mut notes: Vec<Note> = (0..8)
            .map(|i| {
                note(
                    [60, 62, 64, 65, 67, 69, 71, 72][i],
                    i as u64 * 10,
                    i as u64 * 10 + 10,
                )
            })
            .collect();
        notes[3].program = 40;
        let mut drum = note(36, 0, 5);
        drum.channel = DRUM_CHANNEL;
        drum.program = 7;
        notes.push(drum);
        let ts = [
            TimeSignature {
                tick: 50,
                track: 1,
                numerator: 3,
                denominator_power: 2,
            },
            TimeSignature {
                tick: 0,
                track: 2,
                numerator: 4,
                denominator_power: 2,
            },
            TimeSignature {
                tick: 80,
                track: 0,
                numerator: 3,
                denominator_power: 2,
            },
        ];
        let m = Music::of(
            &notes,
            false,
            &ts,
            &[],
            KeyProfile::default(),
            &mut MusicScratch::default(),
        );
        assert!(m.has_drums);
        assert_eq!(
            m.programs.into_iter().collect::<Vec<_>>(),
            vec![0, 40],
            "drums excluded"
        );
        assert_eq!(m.pitch_range, Some((60, 72)));
        assert_eq!(
            m.time_signature.and_then(|t| t.name()).as_deref(),
            Some("4/4")
        );
        assert_eq!(m.time_signature_changes, 1, "4/4 → 3/4, then 3/4 again");
        assert_eq!(m.key.map(|k| k.name()), Some("C major"));
        assert_eq!(m.key_signature, None);
        let few = Music::of(
            &notes[..7],
            false,
            &[],
            &[],
            KeyProfile::default(),
            &mut MusicScratch::default(),
        );
        assert_eq!(few.key, None, "fewer than MIN_KEY_NOTES pitched notes");
    }
}
