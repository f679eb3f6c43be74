//! Tempo map: ticks → seconds with integer arithmetic, one rounding at the end.
//!
//! With a PPQ division the time of tick `t` is `Σ Δticks · tempo_µs / (ppq · 10⁶)` over the tempo
//! segments before `t` (default tempo 500,000 µs per quarter, 120 BPM, until the first Set Tempo).
//! The sum is kept exactly as a `u128` numerator; only the final division is rounded. With an
//! SMPTE division a tick lasts `1 / (fps · ticks_per_frame)` s (29 fps means 30000/1001) and
//! Set Tempo events change nothing.

use super::smf::{Division, Tempo};

/// Default tempo before the first Set Tempo event: 120 BPM.
pub(crate) const DEFAULT_US_PER_QUARTER: u32 = 500_000;

#[derive(Debug, Clone, Copy)]
struct Segment {
    tick: u64,
    /// Exact numerator of the segment start's time.
    acc: u128,
    rate: u64,
}

/// Converts ticks of one file (or one format-2 track) to seconds.
#[derive(Debug, Clone)]
pub(crate) struct TempoMap {
    segments: Vec<Segment>,
    denom: u128,
}

impl TempoMap {
    /// Builds the map from Set Tempo events sorted by tick (ties: file order; the last one at a
    /// tick wins).
    pub(crate) fn new(division: Division, tempos: impl IntoIterator<Item = Tempo>) -> Self {
        let mut map = Self {
            segments: Vec::new(),
            denom: 1,
        };
        map.rebuild(division, tempos);
        map
    }

    /// Rebuilds in place (reusing the allocation).
    pub(crate) fn rebuild(&mut self, division: Division, tempos: impl IntoIterator<Item = Tempo>) {
        self.segments.clear();
        match division {
            Division::Ppq(ppq) => {
                self.denom = u128::from(ppq) * 1_000_000;
                self.segments.push(Segment {
                    tick: 0,
                    acc: 0,
                    rate: u64::from(DEFAULT_US_PER_QUARTER),
                });
                for t in tempos {
                    let last = *self.segments.last().expect("one segment at least");
                    let acc = last.acc + u128::from(t.tick - last.tick) * u128::from(last.rate);
                    let seg = Segment {
                        tick: t.tick,
                        acc,
                        rate: u64::from(t.us_per_quarter),
                    };
                    if last.tick == t.tick {
                        *self.segments.last_mut().expect("checked") = seg;
                    } else {
                        self.segments.push(seg);
                    }
                }
            }
            Division::Smpte {
                fps,
                ticks_per_frame,
            } => {
                let (rate, denom) = if fps == 29 {
                    (1001, 30_000 * u128::from(ticks_per_frame))
                } else {
                    (1, u128::from(fps) * u128::from(ticks_per_frame))
                };
                self.denom = denom;
                self.segments.push(Segment {
                    tick: 0,
                    acc: 0,
                    rate,
                });
            }
        }
    }

    /// Seconds at `tick`.
    pub(crate) fn seconds(&self, tick: u64) -> f64 {
        let i = self.segments.partition_point(|s| s.tick <= tick) - 1;
        self.seconds_in(i, tick)
    }

    /// Index of the segment holding `tick`, searching forward from `hint` (a segment at or
    /// before it; otherwise from the start): a few steps for nearby ticks, then binary search.
    #[inline]
    pub(crate) fn segment_from(&self, hint: usize, tick: u64) -> usize {
        let segs = &self.segments;
        let mut i = if hint < segs.len() && segs[hint].tick <= tick {
            hint
        } else {
            0
        };
        for _ in 0..4 {
            if i + 1 < segs.len() && segs[i + 1].tick <= tick {
                i += 1;
            } else {
                return i;
            }
        }
        i + segs[i..].partition_point(|s| s.tick <= tick) - 1
    }

    /// Seconds at `tick`, which lies in segment `i`.
    #[inline]
    pub(crate) fn seconds_in(&self, i: usize, tick: u64) -> f64 {
        self.to_seconds(self.numerator_in(i, tick))
    }

    /// Seconds from `from` (in segment `i`) to `to` (`from <= to`), rounded once: exact for
    /// short notes late in long files, where subtracting two rounded times would lose the low
    /// digits.
    pub(crate) fn duration_in(&self, i: usize, from: u64, to: u64) -> f64 {
        let a = self.numerator_in(i, from);
        let j = self.segment_from(i, to);
        self.to_seconds(self.numerator_in(j, to) - a)
    }

    #[inline]
    fn numerator_in(&self, i: usize, tick: u64) -> u128 {
        let s = &self.segments[i];
        s.acc + u128::from(tick - s.tick) * u128::from(s.rate)
    }

    #[inline]
    fn to_seconds(&self, num: u128) -> f64 {
        // Both exactly representable: one correctly rounded division.
        if num < 1 << 53 {
            return num as u64 as f64 / self.denom as u64 as f64;
        }
        let q = num / self.denom;
        let r = num % self.denom;
        q as f64 + r as f64 / self.denom as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempo(tick: u64, us: u32) -> Tempo {
        Tempo {
            tick,
            track: 0,
            us_per_quarter: us,
        }
    }

    #[test]
    fn default_tempo_and_changes() {
        let m = TempoMap::new(Division::Ppq(480), []);
        assert_eq!(m.seconds(480), 0.5);
        let m = TempoMap::new(
            Division::Ppq(96),
            [tempo(96, 1_000_000), tempo(192, 250_000)],
        );
        assert_eq!(m.seconds(96), 0.5);
        assert_eq!(m.seconds(192), 1.5);
        assert_eq!(m.seconds(288), 1.75);
        assert_eq!(m.seconds(0), 0.0);
    }

    #[test]
    fn same_tick_last_wins() {
        let m = TempoMap::new(
            Division::Ppq(100),
            [tempo(0, 1_000_000), tempo(0, 2_000_000)],
        );
        assert_eq!(m.seconds(100), 2.0);
        assert_eq!(m.segments.len(), 1);
    }

    #[test]
    fn smpte() {
        let m = TempoMap::new(
            Division::Smpte {
                fps: 25,
                ticks_per_frame: 40,
            },
            [tempo(0, 1)],
        );
        assert_eq!(m.seconds(1000), 1.0);
        let m = TempoMap::new(
            Division::Smpte {
                fps: 29,
                ticks_per_frame: 1,
            },
            [],
        );
        assert_eq!(m.seconds(30_000), 1001.0);
    }

    #[test]
    fn huge_ticks_do_not_overflow() {
        let m = TempoMap::new(Division::Ppq(1), [tempo(1 << 40, 0xFF_FFFF)]);
        let s = m.seconds(1 << 60);
        let expect = (1u128 << 40) as f64 * 0.5 + ((1u128 << 60) - (1 << 40)) as f64 * 16.777215;
        assert!((s - expect).abs() / expect < 1e-15, "{s} vs {expect}");
    }
}
