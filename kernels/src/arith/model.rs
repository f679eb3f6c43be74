//! htscodecs' adaptive frequency model (`c_simple_model.h`): symbols kept roughly in
//! decreasing frequency order by swapping a symbol past its predecessor when it overtakes
//! it; each decoded symbol gains 16, and all frequencies halve past 65,519.

use super::RangeDecoder;
use crate::rans::RansError;

const MAX_FREQ: u32 = (1 << 16) - 17;
const STEP: u32 = 16;

/// An adaptive model over the symbols `0..n` (`n` ≤ 256).
#[derive(Debug, Clone)]
pub struct Model {
    /// `(frequency, symbol)` in search order.
    f: Vec<(u32, u16)>,
    total: u32,
}

impl Model {
    /// Every symbol of `0..n` at frequency 1.
    pub fn new(n: usize) -> Self {
        Self {
            f: (0..n as u16).map(|s| (1, s)).collect(),
            total: n as u32,
        }
    }

    /// Decodes a symbol and adapts.
    #[inline]
    pub fn decode(&mut self, r: &mut RangeDecoder<'_>) -> Result<u16, RansError> {
        let freq = r.freq(self.total)?;
        if freq >= self.total {
            return Err(RansError::BadState);
        }
        let mut acc = 0u32;
        let mut x = 0usize;
        while acc + self.f[x].0 <= freq {
            acc += self.f[x].0;
            x += 1;
        }
        r.take(acc, self.f[x].0);
        self.f[x].0 += STEP;
        self.total += STEP;
        if self.total > MAX_FREQ {
            self.total = 0;
            for e in &mut self.f {
                e.0 -= e.0 >> 1;
                self.total += e.0;
            }
        }
        let sym = self.f[x].1;
        if x > 0 && self.f[x].0 > self.f[x - 1].0 {
            self.f.swap(x, x - 1);
        }
        Ok(sym)
    }
}
