//! Onset detection over a note table and a tempo estimate from inter-onset intervals.
//!
//! **Onsets**: the notes whose velocity is above a threshold (the kernels' onset gate) are
//! grouped: a note starting within `merge_window_s` of the first note of the current group joins
//! it (chords and flams are one onset). Each onset carries its time (the group's first note) and
//! its weight (the number of notes in it).
//!
//! **Tempo**: every pair of onsets at most [`HORIZON_S`] apart adds the product of their weights
//! to a histogram of inter-onset intervals (5 ms bins, smoothed) — the autocorrelation of the
//! onset train. A candidate beat period `P` (30–300 BPM, 0.5 % steps, then 0.05 % around the best) scores the histogram at
//! `P, 2P, 3P, 4P` (a true beat repeats at its multiples; a sub-beat only at some) plus, at half
//! weight, at the odd multiples of `P/2` (the duple subdivision: it tells the quarter note that
//! Set Tempo counts from a compound-meter dotted quarter), times a log-normal preference for
//! periods near 0.45 s (133 BPM, σ = one octave) that settles the octave ambiguity. The best period is refined as the weighted mean of
//! the intervals within 4 % of its multiples. Unlike pretty_midi's `estimate_tempo` (greedy IOI
//! clustering whose nearest-cluster step adds the distance with the wrong sign, then a score that
//! prefers short clusters), this neither drifts nor prefers sub-beats;
//! docs/benchmarks-history.md has the accuracy of both on the same files.

use rawarrow_kernels::onset::gate;

/// Longest inter-onset interval considered, in seconds.
pub(crate) const HORIZON_S: f64 = 4.0;
const BIN_S: f64 = 0.005;
const BINS: usize = (HORIZON_S / BIN_S) as usize + 2;
const MIN_BPM: f64 = 30.0;
/// Centre of the period preference (133 BPM) and the half weight of the subdivision terms were
/// chosen on the 31-song corpus (docs/benchmarks-history.md); a larger held-out set may move them.
const PREFERRED_PERIOD_S: f64 = 0.45;
const MAX_BPM: f64 = 300.0;

/// Candidate beat periods (30–300 BPM, 0.5 % apart; a finer search follows around the best)
/// with their [`prior`] weight. Computed once.
fn candidates() -> &'static [(f64, f64)] {
    static C: std::sync::OnceLock<Vec<(f64, f64)>> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        let mut v = Vec::new();
        let mut p = 60.0 / MAX_BPM;
        while p <= 60.0 / MIN_BPM {
            v.push((p, prior(p)));
            p *= 1.005;
        }
        v
    })
}

/// The preference for a beat period: log-normal around [`PREFERRED_PERIOD_S`], σ = 1 octave.
fn prior(p: f64) -> f64 {
    let octaves = (p / PREFERRED_PERIOD_S).log2();
    (-0.5 * octaves * octaves).exp()
}

/// Onset detection settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OnsetOptions {
    /// Notes with a velocity at or below this are not onsets (default 0: every note counts).
    pub(crate) velocity_threshold: u8,
    /// Notes starting within this many seconds of a group's first note join that onset
    /// (default 0.03 s).
    pub(crate) merge_window_s: f64,
}

impl Default for OnsetOptions {
    fn default() -> Self {
        Self {
            velocity_threshold: 0,
            merge_window_s: 0.03,
        }
    }
}

/// One detected onset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Onset {
    /// Time of the group's first note, in seconds.
    pub time_s: f64,
    /// Number of notes merged into this onset.
    pub notes: u32,
}

/// Reusable buffers for onset detection and tempo estimation.
#[derive(Debug, Default)]
pub(crate) struct OnsetScratch {
    gated: Vec<u32>,
    /// Onsets of the last [`OnsetScratch::detect`] call.
    pub(crate) onsets: Vec<Onset>,
    fine: Vec<i64>,
    weights: Vec<u64>,
    counts: Vec<u64>,
    hist: Vec<f64>,
    smooth: Vec<f64>,
}

impl OnsetScratch {
    /// Detects the onsets of notes given by their onset times (ascending) and velocities; the
    /// result is in `self.onsets`.
    ///
    /// # Panics
    /// If the two slices differ in length or `onset_s` has more than `u32::MAX` entries.
    pub(crate) fn detect(
        &mut self,
        onset_s: &[f64],
        velocity: &[u8],
        opts: &OnsetOptions,
    ) -> &[Onset] {
        assert_eq!(onset_s.len(), velocity.len(), "one velocity per onset");
        self.gated.clear();
        self.gated.resize(velocity.len(), 0);
        let n = gate(velocity, opts.velocity_threshold, &mut self.gated);
        self.onsets.clear();
        for &i in &self.gated[..n] {
            let t = onset_s[i as usize];
            match self.onsets.last_mut() {
                Some(last) if t - last.time_s <= opts.merge_window_s => last.notes += 1,
                _ => self.onsets.push(Onset {
                    time_s: t,
                    notes: 1,
                }),
            }
        }
        &self.onsets
    }

    /// Estimates the tempo in BPM from `self.onsets` (call [`OnsetScratch::detect`] first).
    /// `None` with fewer than 4 onsets or no interval in range.
    pub(crate) fn estimate_tempo(&mut self) -> Option<f64> {
        let on = &self.onsets;
        if on.len() < 4 {
            return None;
        }
        // Onset times in eighths of a bin, so the pair loop is integer-only.
        const SUB: f64 = 8.0 / BIN_S;
        self.fine.clear();
        self.fine
            .extend(on.iter().map(|o| (o.time_s * SUB + 0.5) as i64));
        self.weights.clear();
        self.weights.extend(on.iter().map(|o| u64::from(o.notes)));
        let horizon = (HORIZON_S * SUB) as i64;
        self.counts.clear();
        self.counts.resize(horizon as usize + 1, 0);
        // Local slices: the loop must not reload the vectors through `self` on every store.
        let (fine, weights, counts) = (&self.fine[..], &self.weights[..], &mut self.counts[..]);
        for i in 0..fine.len() {
            let (qa, wa) = (fine[i], weights[i]);
            for (&qb, &wb) in fine[i + 1..].iter().zip(&weights[i + 1..]) {
                let d = qb - qa;
                if d > horizon {
                    break;
                }
                // 0 <= d <= horizon: in range.
                counts[d as usize] += wa * wb;
            }
        }
        // Coarse bins: bin c holds the fine lags that round to it, [8c - 4, 8c + 4).
        self.hist.clear();
        self.hist.resize(BINS, 0.0);
        for (d, &c) in self.counts.iter().enumerate() {
            self.hist[(d + 4) >> 3] += c as f64;
        }
        // Smooth with a [1, 2, 3, 2, 1] kernel (±10 ms) so quantisation jitter lands together.
        self.smooth.clear();
        self.smooth.resize(BINS, 0.0);
        const K: [f64; 5] = [1.0, 2.0, 3.0, 2.0, 1.0];
        for (i, s) in self.smooth.iter_mut().enumerate() {
            for (j, k) in K.iter().enumerate() {
                if let Some(h) = (i + j).checked_sub(2).and_then(|x| self.hist.get(x)) {
                    *s += k * h;
                }
            }
        }
        let at = |t: f64| -> f64 {
            let x = t * (1.0 / BIN_S);
            let i = x as usize; // t >= 0: truncation is floor
            if i + 1 >= BINS {
                return 0.0;
            }
            let f = x - i as f64;
            self.smooth[i] * (1.0 - f) + self.smooth[i + 1] * f
        };
        // The beat's multiples at full weight, its duple subdivisions (odd multiples of P/2) at
        // half weight: a compound-meter grouping (a dotted quarter) has no P/2 pulse, so the
        // quarter note that Set Tempo counts wins over it.
        let comb = |p: f64| -> f64 {
            (1..=8)
                .map(|k| (k, f64::from(k) * p / 2.0))
                .filter(|&(_, t)| t <= HORIZON_S)
                .map(|(k, t)| if k % 2 == 1 { 0.5 * at(t) } else { at(t) })
                .sum()
        };
        let mut best = (0.0, 0.0);
        for &(p, prior) in candidates() {
            let score = comb(p) * prior;
            if score > best.0 {
                best = (score, p);
            }
        }
        // Then 0.05 % steps across the best coarse step.
        let coarse = best.1;
        for j in -10..=10 {
            let p = coarse * (1.0 + 0.0005 * f64::from(j));
            let score = comb(p) * prior(p);
            if score > best.0 {
                best = (score, p);
            }
        }
        if best.0 <= 0.0 {
            return None;
        }
        // Refine: weighted mean of the intervals near the multiples of the best period.
        // The fine histogram (0.625 ms lags) stands in for the pairs themselves.
        let p = best.1;
        let (mut sum, mut weight) = (0.0, 0.0);
        for k in 1..=4 {
            let centre = f64::from(k) * p * SUB;
            let lo = (centre * 0.96).ceil() as usize;
            let hi = ((centre * 1.04).floor() as usize).min(self.counts.len() - 1);
            for d in lo..=hi {
                let w = self.counts[d] as f64;
                sum += w * d as f64 / (SUB * f64::from(k));
                weight += w;
            }
        }
        let period = if weight > 0.0 { sum / weight } else { p };
        Some(60.0 / period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(period: f64, n: usize, jitter: f64) -> (Vec<f64>, Vec<u8>) {
        let t: Vec<f64> = (0..n)
            .map(|i| i as f64 * period + if i % 3 == 0 { jitter } else { 0.0 })
            .collect();
        (t, vec![100; n])
    }

    #[test]
    fn merges_chords_and_gates_velocity() {
        let mut s = OnsetScratch::default();
        let t = [0.0, 0.01, 0.02, 0.5, 0.52, 1.0];
        let v = [90, 90, 10, 80, 80, 5];
        let opts = OnsetOptions {
            velocity_threshold: 20,
            merge_window_s: 0.03,
        };
        let on = s.detect(&t, &v, &opts);
        assert_eq!(
            on,
            &[
                Onset {
                    time_s: 0.0,
                    notes: 2
                },
                Onset {
                    time_s: 0.5,
                    notes: 2
                }
            ]
        );
    }

    fn estimate(t: &[f64]) -> f64 {
        let v = vec![90; t.len()];
        let mut s = OnsetScratch::default();
        s.detect(t, &v, &OnsetOptions::default());
        s.estimate_tempo().expect("enough onsets")
    }

    #[test]
    fn bare_pulses_give_their_tempo_up_to_an_octave() {
        // Without subdivisions a pulse train is ambiguous by an octave, like for a listener.
        for bpm in [72.0, 96.0, 120.0, 140.0, 168.0] {
            let (t, _) = grid(60.0 / bpm, 64, 0.004);
            let est = estimate(&t);
            let ok = [bpm, bpm / 2.0, bpm * 2.0]
                .iter()
                .any(|c| (est / c - 1.0).abs() < 0.01);
            assert!(ok, "{bpm}: {est}");
        }
    }

    #[test]
    fn eighth_notes_with_accented_beats_give_the_beat() {
        // Eighths: chords (3 notes) on the beat, single notes between.
        for bpm in [90.0, 110.0, 128.0, 150.0] {
            let beat = 60.0 / bpm;
            let mut t = Vec::new();
            for i in 0..64 {
                let b = i as f64 * beat;
                t.extend([b, b + 0.001, b + 0.002, b + beat / 2.0]);
            }
            let est = estimate(&t);
            assert!((est / bpm - 1.0).abs() < 0.02, "{bpm}: {est}");
        }
    }

    #[test]
    fn compound_meter_gives_the_quarter_note() {
        // 6/8 at quarter = 180 BPM: a melody in eighths, a bass note with each group of three.
        // A listener taps dotted quarters (120 BPM); Set Tempo counts quarters (180 BPM).
        let eighth = 60.0 / 180.0 / 2.0;
        let mut t = Vec::new();
        for i in 0..96 {
            let e = i as f64 * eighth;
            t.push(e);
            if i % 3 == 0 {
                t.push(e + 0.001);
            }
        }
        let est = estimate(&t);
        assert!((est / 180.0 - 1.0).abs() < 0.02, "{est}");
    }

    #[test]
    fn too_few_onsets() {
        let mut s = OnsetScratch::default();
        s.detect(&[0.0, 1.0, 2.0], &[1, 1, 1], &OnsetOptions::default());
        assert_eq!(s.estimate_tempo(), None);
    }
}
