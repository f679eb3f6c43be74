//! Regions in samtools' syntax, which records overlap them, and the plan of a region query
//! (the index chunks to read).

use std::sync::Arc;

use crate::bam::error::{Error, ErrorKind};
use crate::bam::header::Header;
use crate::bam::record::Record;
use crate::bgzf::VirtualPosition;

/// A region of the reference, resolved against a header: `chr1`, `chr1:1000`,
/// `chr1:1,000-2,000`, `{name:with:colons}:1-9`, or `*` (records without a reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Region {
    /// The text it was parsed from.
    pub(crate) text: String,
    /// The reference (`None` for `*`).
    pub(crate) tid: Option<usize>,
    /// 0-based start (inclusive).
    pub(crate) beg: i64,
    /// 0-based end (exclusive); `i64::MAX` for "to the end".
    pub(crate) end: i64,
}

/// Parses `1000`, `1,000-2,000`, `1000-`, `-2000` (1-based, inclusive) into a 0-based half-open
/// range.
fn parse_range(text: &str) -> Option<(i64, i64)> {
    let num = |s: &str| -> Option<i64> {
        let digits: String = s.chars().filter(|&c| c != ',').collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (beg, end) = match text.split_once('-') {
        None => (num(text)?, i64::MAX),
        Some((b, "")) => (num(b)?, i64::MAX),
        Some(("", e)) => (1, num(e)?),
        Some((b, e)) => (num(b)?, num(e)?),
    };
    // Position 0 means 1, as in htslib.
    let beg = beg.max(1) - 1;
    (beg < end).then_some((beg, end))
}

impl Region {
    /// Parses `text` as samtools does, against the references of `header`. A name that is a
    /// reference as a whole wins unless it also reads as `name:range` of another reference,
    /// which is ambiguous (write `{name}:range` then).
    pub(crate) fn parse(text: &str, header: &Header) -> Result<Self, String> {
        let tid_of = |name: &str| header.references.iter().position(|r| r.name == name);
        let region = |tid, (beg, end)| Self {
            text: text.to_owned(),
            tid: Some(tid),
            beg,
            end,
        };
        if text == "*" {
            return Ok(Self {
                text: text.into(),
                tid: None,
                beg: 0,
                end: i64::MAX,
            });
        }
        let bad_range = |r: &str| format!("region {text:?}: {r:?} is not a range (1,000-2,000)");
        if let Some(rest) = text.strip_prefix('{') {
            let (name, after) = rest
                .split_once('}')
                .ok_or_else(|| format!("region {text:?}: no closing '}}'"))?;
            let tid = tid_of(name).ok_or_else(|| unknown(text, name))?;
            return match after {
                "" => Ok(region(tid, (0, i64::MAX))),
                _ => {
                    let r = after
                        .strip_prefix(':')
                        .ok_or_else(|| format!("region {text:?}: ':' expected after '}}'"))?;
                    Ok(region(tid, parse_range(r).ok_or_else(|| bad_range(r))?))
                }
            };
        }
        let whole = tid_of(text);
        let split = text
            .rsplit_once(':')
            .and_then(|(name, r)| Some((tid_of(name)?, r)));
        match (whole, split) {
            (Some(_), Some((_, r))) if parse_range(r).is_some() => Err(format!(
                "region {text:?} is ambiguous: a reference name, and a range of another; write \
                 {{{text}}} or {{NAME}}:RANGE"
            )),
            (Some(tid), _) => Ok(region(tid, (0, i64::MAX))),
            (None, Some((tid, r))) => Ok(region(tid, parse_range(r).ok_or_else(|| bad_range(r))?)),
            (None, None) => {
                let name = text.rsplit_once(':').map_or(text, |(n, _)| n);
                Err(unknown(text, name))
            }
        }
    }

    /// Whether `rec` is one `samtools view FILE REGION` prints: on the region's reference,
    /// starting before its end and ending after its start (the end from the CIGAR's reference
    /// span, at least one base; an unmapped record covers one base at its position). For `*`,
    /// the records without a reference.
    pub(crate) fn overlaps(&self, rec: &Record<'_>) -> bool {
        let Some(tid) = self.tid else {
            return rec.ref_id() < 0;
        };
        if rec.ref_id() != tid as i32 {
            return false;
        }
        let beg = i64::from(rec.pos());
        let span = if rec.flag() & 4 == 0 {
            rec.spans().ref_len as i64
        } else {
            0
        };
        beg < self.end && beg + span.max(1) > self.beg
    }
}

fn unknown(text: &str, name: &str) -> String {
    format!("region {text:?}: {name:?} is not a reference of the header")
}

/// What a region query reads: the regions parsed, the index chunks of each (virtual offsets
/// `[start, end)` and the region's number), in the order given, and warnings about the index.
pub(crate) struct RegionPlan {
    pub(crate) regions: Vec<crate::bam::Region>,
    pub(crate) spans: Vec<crate::bam::frame::Span>,
    pub(crate) warnings: Vec<String>,
    /// Whether each span is a CRAM container (decoded whole) rather than BAM index chunks.
    pub(crate) containers: bool,
}

/// Parses `texts` against `header` and looks each region up in the index (`index`, or the one
/// beside `bam`). Bad region text is a usage error.
pub(crate) fn plan_regions(
    input: &crate::io::Input,
    header: &Header,
    header_end: VirtualPosition,
    texts: &[String],
    index: Option<&std::path::Path>,
    cram: bool,
) -> Result<RegionPlan, Error> {
    let bam: &Arc<std::path::Path> = &input.path().into();
    let mut regions = Vec::with_capacity(texts.len());
    for text in texts {
        let r = crate::bam::Region::parse(text, header)
            .map_err(|m| Error::new(ErrorKind::Usage(m)).with_path(bam.clone()))?;
        regions.push(r);
    }
    if cram {
        return plan_cram(input, regions, index);
    }
    // Only the references the regions name are parsed (all of them for `*`, which needs
    // every reference's end offset).
    let all = regions.iter().any(|r| r.tid.is_none());
    let wanted: std::collections::HashSet<usize> = regions.iter().filter_map(|r| r.tid).collect();
    let keep = |r: usize| all || wanted.contains(&r);
    let (index, index_path) = find_index(input, index, &keep)?;
    let mut warnings = Vec::new();
    if input.remote_object().is_none() && is_older(&index_path, bam) {
        warnings.push(format!(
            "the index file is older than the data file: {}",
            index_path.display()
        ));
    }
    let spans = spans_of(&regions, |r| match r.tid {
        Some(tid) => index.chunks(tid, r.beg, r.end),
        None => vec![(index.no_coor_offset().max(u64::from(header_end)), u64::MAX)],
    });
    Ok(RegionPlan {
        regions,
        spans,
        warnings,
        containers: false,
    })
}

/// The spans of each region's chunks (virtual offsets `[start, end)` from `chunks`), in the
/// order given. On sorted data a region ends at its first record past it (as htslib's
/// iterator).
fn spans_of(
    regions: &[crate::bam::Region],
    chunks: impl Fn(&crate::bam::Region) -> Vec<(u64, u64)>,
) -> Vec<crate::bam::frame::Span> {
    let mut spans = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        let stop_past = r.tid.map(|t| (t as i32, r.end));
        spans.extend(
            chunks(r)
                .into_iter()
                .map(|(start, end)| crate::bam::frame::Span {
                    start: start.into(),
                    end: end.into(),
                    region: i,
                    stop_past,
                }),
        );
    }
    spans
}

/// A region query of a CRAM file: the containers its `.crai` says overlap each region (one
/// span each, the records that overlap kept downstream).
fn plan_cram(
    input: &crate::io::Input,
    regions: Vec<crate::bam::Region>,
    explicit: Option<&std::path::Path>,
) -> Result<RegionPlan, Error> {
    let cram = input.path();
    let with = |ext: &str| {
        let mut s = cram.as_os_str().to_owned();
        s.push(ext);
        std::path::PathBuf::from(s)
    };
    let candidates = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => vec![with(".crai"), cram.with_extension("crai")],
    };
    let fail = |kind: ErrorKind| Error::new(kind).with_path(cram.into());
    // A remote index (beside a remote CRAM, or named by URL) is fetched whole with the CRAM's
    // storage settings; one that is not there is the next candidate's turn.
    let remote = input.remote_object().is_some();
    let mut found = None;
    for c in &candidates {
        if remote {
            match input.open_related_whole(c) {
                Err(e) if explicit.is_none() && e.not_found() => continue,
                Err(e) => return Err(fail(ErrorKind::Open(e))),
                Ok(opened) => found = Some((c, opened.bytes().to_vec())),
            }
        } else if explicit.is_some() || c.is_file() {
            let bytes = std::fs::read(c).map_err(|e| {
                fail(ErrorKind::Index(format!(
                    "the CRAM index {} cannot be read: {e}",
                    c.display()
                )))
            })?;
            found = Some((c, bytes));
        }
        if found.is_some() {
            break;
        }
    }
    let Some((found, bytes)) = found else {
        let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        return Err(fail(ErrorKind::Index(format!(
            "no .crai index for region queries of a CRAM file (looked for {}); make one with \
             `samtools index {}`",
            tried.join(", "),
            cram.display()
        ))));
    };
    let entries = crate::cram::crai::parse(&bytes)
        .map_err(|m| fail(ErrorKind::Index(format!("{}: {m}", found.display()))))?;
    let mut warnings = Vec::new();
    if !remote && is_older(found, cram) {
        warnings.push(format!(
            "the index file is older than the data file: {}",
            found.display()
        ));
    }
    // A container's records all sit at its offset (virtual offset `container << 16`); its
    // range ends where the next container starts (what a remote object's request fetches).
    let len = input.len() as u64;
    let spans = spans_of(&regions, |r| {
        crate::cram::crai::containers(&entries, r.tid, r.beg, r.end, len)
            .into_iter()
            .map(|(c, next)| {
                (
                    u64::from(VirtualPosition::block(c)),
                    u64::from(VirtualPosition::block(next)),
                )
            })
            .collect()
    });
    Ok(RegionPlan {
        regions,
        spans,
        warnings,
        containers: true,
    })
}

impl RegionPlan {
    /// Whether the query is read best on the calling thread: less than 16 MiB of compressed
    /// BAM data (counting a typical 32 KiB block for each chunk's last block), or one CRAM
    /// container.
    pub(crate) fn is_small(&self) -> bool {
        if self.containers {
            return self.spans.len() <= 1;
        }
        let bytes: u64 = self
            .spans
            .iter()
            .map(|s| (s.end.compressed()).saturating_sub(s.start.compressed()) + (32 << 10))
            .fold(0, u64::saturating_add);
        bytes < 16 << 20
    }
}

/// The index for region queries, and where it was found.
fn find_index(
    input: &crate::io::Input,
    explicit: Option<&std::path::Path>,
    keep: &dyn Fn(usize) -> bool,
) -> Result<(crate::bam::Index, std::path::PathBuf), Error> {
    let bam = input.path();
    let candidates = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => crate::bam::index_candidates(bam),
    };
    let remote = input.remote_object().is_some();
    for c in &candidates {
        if explicit.is_some() || remote || c.is_file() {
            // A remote index (beside a remote BAM, or named by URL) is fetched whole with the
            // BAM's storage settings; one that is not there is the next candidate's turn.
            let opened = match input.open_related_whole(c) {
                Err(e) if remote && explicit.is_none() && e.not_found() => continue,
                other => other.map_err(|e| Error::new(ErrorKind::Open(e)))?,
            };
            return Ok((crate::bam::Index::from_input(&opened, keep)?, c.clone()));
        }
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(Error::new(ErrorKind::Index(format!(
        "no index for region queries (looked for {}); make one with `rawarrow bam index {}`",
        tried.join(", "),
        bam.display()
    )))
    .with_path(bam.into()))
}

/// Whether `index` was modified before `data` (htslib warns then).
fn is_older(index: &std::path::Path, data: &std::path::Path) -> bool {
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(index), modified(data)), (Some(i), Some(d)) if i < d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_a_region_as_samtools() -> Result<(), Box<dyn std::error::Error>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
        let reader = crate::bam::Reader::builder().build(crate::io::Input::open(path)?)?;
        let r = crate::bam::Region::parse("chrS1:1,001-2,000", reader.header())?;
        assert_eq!((r.tid, r.beg, r.end), (Some(0), 1000, 2000));
        Ok(())
    }

    use super::*;
    use crate::bam::Reference;

    fn header(names: &[&str]) -> Header {
        Header::new(
            String::new(),
            names
                .iter()
                .map(|n| Reference {
                    name: (*n).into(),
                    len: 1000,
                })
                .collect(),
        )
    }

    #[test]
    fn samtools_region_syntax() {
        let h = header(&["chr1", "chr2", "HLA-A*01:01", "x:1-5", "x"]);
        let p = |t: &str| Region::parse(t, &h).map(|r| (r.tid, r.beg, r.end));
        assert_eq!(p("chr1"), Ok((Some(0), 0, i64::MAX)));
        assert_eq!(p("chr2:1000"), Ok((Some(1), 999, i64::MAX)));
        assert_eq!(p("chr2:1,000-2,000"), Ok((Some(1), 999, 2000)));
        assert_eq!(p("chr2:-20"), Ok((Some(1), 0, 20)));
        assert_eq!(p("chr2:5-"), Ok((Some(1), 4, i64::MAX)));
        assert_eq!(p("chr2:0-3"), Ok((Some(1), 0, 3)));
        assert_eq!(p("HLA-A*01:01"), Ok((Some(2), 0, i64::MAX)));
        assert_eq!(p("HLA-A*01:01:7-9"), Ok((Some(2), 6, 9)));
        assert_eq!(p("{x:1-5}:2-3"), Ok((Some(3), 1, 3)));
        assert_eq!(p("{x}"), Ok((Some(4), 0, i64::MAX)));
        assert_eq!(p("*"), Ok((None, 0, i64::MAX)));
        assert!(p("x:1-5").expect_err("an error").contains("ambiguous"));
        assert!(p("chr3")
            .expect_err("an error")
            .contains("\"chr3\" is not a reference"));
        assert!(p("chr3:1-5")
            .expect_err("an error")
            .contains("\"chr3\" is not a reference"));
        assert!(p("chr1:9-5").expect_err("an error").contains("not a range"));
        assert!(p("chr1:a-5").expect_err("an error").contains("not a range"));
        assert!(p("{chr1").expect_err("an error").contains("closing"));
    }
}
