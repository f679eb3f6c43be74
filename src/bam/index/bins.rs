//! UCSC binning (SAM spec §5.3): which bin a span falls in, and which bins may overlap a
//! region — what a record's `bin` field holds and what BAI/CSI indexes are keyed by.

pub(crate) fn bin_first(level: u32) -> u32 {
    ((1u32 << (3 * level)) - 1) / 7
}

pub(crate) fn bin_parent(bin: u32) -> u32 {
    (bin - 1) >> 3
}

/// The smallest bin holding `[beg, end)` (htslib's `hts_reg2bin`).
pub(crate) fn reg2bin(beg: i64, end: i64, min_shift: u32, depth: u32) -> u32 {
    let end = end - 1;
    let mut s = min_shift;
    let mut t = bin_first(depth) as i64;
    for l in (1..=depth).rev() {
        if beg >> s == end >> s {
            return (t + (beg >> s)) as u32;
        }
        s += 3;
        t -= 1 << (3 * l - 3);
    }
    0
}

/// The first bottom-level window of `bin` (htslib's `hts_bin_bot`).
pub(crate) fn bin_bot(bin: u32, depth: u32) -> u64 {
    let mut level = 0;
    let mut b = bin;
    while b != 0 {
        level += 1;
        b = bin_parent(b);
    }
    u64::from(bin - bin_first(level)) << (3 * (depth - level))
}

/// Which bins may overlap `[beg, end)` (htslib's `reg2bins`), as a membership test.
pub(crate) fn reg2bins(beg: i64, end: i64, min_shift: u32, depth: u32) -> impl Fn(u32) -> bool {
    let end = end - 1;
    let mut ranges = Vec::with_capacity(depth as usize + 1);
    let mut s = min_shift + 3 * depth;
    for level in 0..=depth {
        let t = i64::from(bin_first(level));
        ranges.push((t + (beg >> s), t + (end >> s)));
        s = s.saturating_sub(3);
    }
    move |bin| {
        let b = i64::from(bin);
        ranges.iter().any(|&(lo, hi)| lo <= b && b <= hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_as_the_sam_spec_computes_them() {
        // SAM spec section 5.3: reg2bin for 0-based [beg, end).
        assert_eq!(reg2bin(0, 1, 14, 5), 4681);
        assert_eq!(reg2bin(16384, 16385, 14, 5), 4682);
        assert_eq!(reg2bin(0, 16385, 14, 5), 585);
        assert_eq!(reg2bin(0, 1 << 29, 14, 5), 0);
        assert_eq!(reg2bin(-1, 0, 14, 5), 4680);
        assert_eq!(bin_bot(4681, 5), 0);
        assert_eq!(bin_bot(585, 5), 0);
        assert_eq!(bin_bot(586, 5), 8);
        let wanted = reg2bins(0, 16385, 14, 5);
        assert!(wanted(0) && wanted(1) && wanted(9) && wanted(73) && wanted(585));
        assert!(wanted(4681) && wanted(4682) && !wanted(4683) && !wanted(586));
    }
}
