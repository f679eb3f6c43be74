//! Record filters on the fixed fields (MAPQ and FLAG), applied before any variable-length field
//! is decoded: `samtools view -q/-f/-F`.

/// Which records to keep, by the fixed fields alone: `samtools view -q MIN -f REQUIRE -F
/// EXCLUDE` keeps exactly the records this keeps.
///
/// ```
/// use rawarrow::bam::{parse_flags, Filter};
/// let f = Filter::default().min_mapq(30).exclude_flags(parse_flags("UNMAP,SECONDARY")?);
/// assert!(f.keeps(0x0, 60));
/// assert!(!f.keeps(0x100, 60)); // secondary
/// assert!(!f.keeps(0x0, 29)); // MAPQ below 30
/// # Ok::<(), rawarrow::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    min_mapq: u8,
    require: u16,
    exclude: u16,
    /// Only records overlapping `[beg, end)` (0-based) of reference `tid`.
    window: Option<(i32, i64, i64)>,
}

impl Filter {
    /// Keep records whose MAPQ is at least `q` (255, "unavailable", passes every threshold, as
    /// in samtools).
    pub fn min_mapq(mut self, q: u8) -> Self {
        self.min_mapq = q;
        self
    }

    /// Keep records with all of these FLAG bits set.
    pub fn require_flags(mut self, flags: u16) -> Self {
        self.require = flags;
        self
    }

    /// Keep records with none of these FLAG bits set.
    pub fn exclude_flags(mut self, flags: u16) -> Self {
        self.exclude = flags;
        self
    }

    /// Keep only records overlapping `[beg, end)` (0-based, half-open) of the reference at
    /// index `tid` of the header, as `samtools view FILE REGION` prints them (the record's end
    /// from its CIGAR) — without an index: every record is looked at, on the workers, before
    /// anything else is decoded. What lazy scans push for a region of an unindexed file.
    pub fn window(mut self, tid: usize, beg: i64, end: i64) -> Self {
        self.window = Some((i32::try_from(tid).unwrap_or(i32::MAX), beg, end));
        self
    }

    /// The window as a region, for the overlap test that needs the parsed record.
    pub(crate) fn window_region(&self) -> Option<crate::bam::index::region::Region> {
        self.window
            .map(|(tid, beg, end)| crate::bam::index::region::Region {
                text: String::new(),
                tid: usize::try_from(tid).ok(),
                beg,
                end,
            })
    }

    /// The minimum MAPQ.
    pub fn mapq_floor(&self) -> u8 {
        self.min_mapq
    }

    /// The FLAG bits a record must have.
    pub fn required_flags(&self) -> u16 {
        self.require
    }

    /// The FLAG bits a record must not have.
    pub fn excluded_flags(&self) -> u16 {
        self.exclude
    }

    /// Whether the filter keeps every record.
    pub(crate) fn is_all(&self) -> bool {
        *self == Self::default()
    }

    /// Whether a record with this FLAG and MAPQ is kept.
    #[inline]
    pub fn keeps(&self, flag: u16, mapq: u8) -> bool {
        mapq >= self.min_mapq && flag & self.require == self.require && flag & self.exclude == 0
    }

    /// Whether the record whose bytes (after `block_size`) are `body` is kept; `body` holds at
    /// least the 32 bytes of fixed fields (framing guarantees it).
    #[inline]
    pub(crate) fn keeps_raw(&self, body: &[u8]) -> bool {
        let fixed = self.keeps(u16::from_le_bytes([body[14], body[15]]), body[9]);
        match self.window {
            None => fixed,
            // The reference and a start before the window's end: the overlap test, which
            // needs the CIGAR, follows on the parsed record.
            Some((tid, _, end)) => {
                let word =
                    |i: usize| i32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
                fixed && word(0) == tid && i64::from(word(4)) < end
            }
        }
    }
}

/// The FLAG names samtools accepts, with their bits.
const NAMES: [(&str, u16); 12] = [
    ("PAIRED", 0x1),
    ("PROPER_PAIR", 0x2),
    ("UNMAP", 0x4),
    ("MUNMAP", 0x8),
    ("REVERSE", 0x10),
    ("MREVERSE", 0x20),
    ("READ1", 0x40),
    ("READ2", 0x80),
    ("SECONDARY", 0x100),
    ("QCFAIL", 0x200),
    ("DUP", 0x400),
    ("SUPPLEMENTARY", 0x800),
];

/// Parses FLAG bits as samtools does: a number (decimal, `0x` hex or `0` octal) or
/// comma-separated names (`UNMAP,SECONDARY`; any case).
///
/// ```
/// use rawarrow::bam::parse_flags;
/// assert_eq!(parse_flags("0x904")?, 0x904);
/// assert_eq!(parse_flags("2308")?, 0x904);
/// assert_eq!(parse_flags("UNMAP,SECONDARY,SUPPLEMENTARY")?, 0x904);
/// assert!(parse_flags("UNMAPPED").is_err());
/// # Ok::<(), rawarrow::Error>(())
/// ```
pub fn parse_flags(text: &str) -> Result<u16, crate::Error> {
    parse_flags_text(text).map_err(crate::Error::usage)
}

/// [`parse_flags`] with the reason as text.
pub(crate) fn parse_flags_text(text: &str) -> Result<u16, String> {
    let t = text.trim();
    let number = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(u32::from_str_radix(hex, 16))
    } else if t.len() > 1 && t.starts_with('0') {
        Some(u32::from_str_radix(&t[1..], 8))
    } else if t.starts_with(|c: char| c.is_ascii_digit()) {
        Some(t.parse::<u32>())
    } else {
        None
    };
    if let Some(n) = number {
        return n
            .ok()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("{text:?} is not a FLAG value (0 to 65535)"));
    }
    let mut bits = 0;
    for name in t.split(',') {
        let Some((_, bit)) = NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        else {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "{name:?} is not a FLAG name (a number, or names among {})",
                names.join(",")
            ));
        };
        bits |= bit;
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_as_samtools_reads_them() {
        assert_eq!(parse_flags_text("0"), Ok(0));
        assert_eq!(parse_flags_text("4"), Ok(4));
        assert_eq!(parse_flags_text("010"), Ok(8));
        assert_eq!(parse_flags_text("0xF04"), Ok(0xf04));
        assert_eq!(parse_flags_text("paired,read1"), Ok(0x41));
        assert_eq!(parse_flags_text("DUP"), Ok(0x400));
        assert!(parse_flags_text("65536").is_err());
        assert!(parse_flags_text("0x").is_err());
        assert!(parse_flags_text("UNMAP,").is_err());
        assert!(parse_flags_text("").is_err());
    }

    #[test]
    fn keeps_matches_samtools_rule() {
        let f = Filter::default()
            .min_mapq(1)
            .require_flags(0x1)
            .exclude_flags(0x4);
        assert!(f.keeps(0x1, 1));
        assert!(f.keeps(0x3, 255));
        assert!(!f.keeps(0x1, 0));
        assert!(!f.keeps(0x0, 60));
        assert!(!f.keeps(0x5, 60));
        assert!(Filter::default().is_all());
        assert!(Filter::default().keeps(0xffff, 0));
    }
}
