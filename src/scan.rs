//! Predicate pushdown for lazy scans: the conditions of a query (polars' or pyarrow's filter,
//! taken apart by the binding into [`Condition`]s, all of which must hold) become the readers'
//! own selections — BAM/CRAM regions read through the index, samtools' FLAG and MAPQ filters,
//! timsTOF frame, retention-time, mobility and m/z slices — so that only what the query can
//! keep is inflated and decoded.
//!
//! What is pushed always keeps a superset of the rows the conditions keep: the caller applies
//! its whole predicate to what the reader yields, so a condition that cannot be pushed (an
//! `OR`, a column the reader cannot select by, a reference name the header lacks) costs speed,
//! never rows. Each planner returns one line per condition saying what became of it.
//!
//! ```
//! use rawarrow::scan::{push_bam, Condition, Literal};
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
//! let conditions = [
//!     Condition { column: "mapq".into(), op: ">=".into(), values: vec![Literal::Int(30)] },
//!     Condition { column: "flag".into(), op: "&==".into(), values: vec![Literal::Int(4), Literal::Int(0)] },
//! ];
//! let mut options = rawarrow::stream::BamOptions::default();
//! let notes = push_bam(&[path], &conditions, &mut options)?;
//! assert_eq!(options.filter, rawarrow::bam::Filter::default().min_mapq(30).exclude_flags(4));
//! assert_eq!(notes.len(), 2);
//! # Ok::<(), rawarrow::Error>(())
//! ```
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::path::Path;

use crate::stream::{BamOptions, BatchStream, TdfOptions};
use crate::Error;

/// A literal a condition compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text (a reference name).
    Text(String),
}

impl Literal {
    fn int(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            _ => None,
        }
    }

    fn float(&self) -> Option<f64> {
        match self {
            Self::Int(v) => Some(*v as f64),
            Self::Float(v) => Some(*v),
            Self::Text(_) => None,
        }
    }
}

/// One condition of a conjunction: `column op values`. `op` is `==`, `!=`, `<`, `<=`, `>`, `>=`
/// (one value), `in` (any number of values), or, for integer columns, `&==` and `&!=` (two
/// values `m`, `v`: `column & m == v`, `column & m != v`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The column's name.
    pub column: String,
    /// The comparison.
    pub op: String,
    /// What it compares with.
    pub values: Vec<Literal>,
}

impl Condition {
    fn text(&self) -> String {
        let values: Vec<String> = self
            .values
            .iter()
            .map(|v| match v {
                Literal::Int(i) => i.to_string(),
                Literal::Float(f) => f.to_string(),
                Literal::Text(t) => format!("{t:?}"),
            })
            .collect();
        format!("{} {} {}", self.column, self.op, values.join(", "))
    }

    /// The one value, as an integer.
    fn one_int(&self) -> Option<i64> {
        match self.values.as_slice() {
            [v] => v.int(),
            _ => None,
        }
    }
}

/// Integer bounds `[lo, hi]` that an integer column's conditions allow (`None`: not a bound).
fn int_bound(c: &Condition) -> Option<(i64, i64)> {
    let all = (i64::MIN, i64::MAX);
    match c.op.as_str() {
        "in" => {
            let v: Option<Vec<i64>> = c.values.iter().map(Literal::int).collect();
            let v = v?;
            Some((*v.iter().min()?, *v.iter().max()?))
        }
        op => {
            let v = c.one_int()?;
            match op {
                "==" => Some((v, v)),
                ">=" => Some((v, all.1)),
                ">" => Some((v.saturating_add(1), all.1)),
                "<=" => Some((all.0, v)),
                "<" => Some((all.0, v.saturating_sub(1))),
                _ => None,
            }
        }
    }
}

/// Float bounds `[lo, hi]` (inclusive whatever the comparison: a superset), widened by a
/// relative 1e-9 so that a reader comparing a value computed another way keeps the boundary.
fn float_bound(c: &Condition) -> Option<(f64, f64)> {
    let (lo, hi) = match c.op.as_str() {
        "in" => {
            let v: Option<Vec<f64>> = c.values.iter().map(Literal::float).collect();
            let v = v?;
            if v.is_empty() || v.iter().any(|x| x.is_nan()) {
                return None;
            }
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            (lo, v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        }
        op => {
            let [v] = c.values.as_slice() else {
                return None;
            };
            let v = v.float().filter(|v| !v.is_nan())?;
            match op {
                "==" => (v, v),
                ">=" | ">" => (v, f64::INFINITY),
                "<=" | "<" => (f64::NEG_INFINITY, v),
                _ => return None,
            }
        }
    };
    let widen = |x: f64| x.abs() * 1e-9 + 1e-12;
    Some((lo - widen(lo), hi + widen(hi)))
}

fn meet<T: PartialOrd + Copy>(a: Option<(T, T)>, b: (T, T)) -> (T, T) {
    match a {
        None => b,
        Some(a) => (
            if b.0 > a.0 { b.0 } else { a.0 },
            if b.1 < a.1 { b.1 } else { a.1 },
        ),
    }
}

/// Pushes `conditions` into `options` for reading `paths` as BAM or CRAM (the first input's
/// header names the references): `rname` (`==`, `in`) with `pos`/`end` bounds become regions
/// read through the index (when `options.index` is given or every input has one beside it;
/// local files only), in the header's order; `flag` tests become the required and excluded
/// FLAG bits (`flag & m == 0`, `flag & m == m`, `flag & b != 0` for one bit `b`, `flag == v`);
/// `mapq` lower bounds the minimum MAPQ. Regions or filters already in `options` are kept
/// (the conditions narrow them). Returns what became of each condition.
pub fn push_bam<P: AsRef<Path>>(
    paths: &[P],
    conditions: &[Condition],
    options: &mut BamOptions,
) -> Result<Vec<String>, Error> {
    let mut notes = Vec::new();
    let mut names: Option<BTreeSet<String>> = None;
    let mut span: Option<(i64, i64)> = None;
    let mut ranged = Vec::new();
    let (mut require, mut exclude, mut min_mapq) = (0u16, 0u16, 0u8);
    for c in conditions {
        let said = c.text();
        let pushed = match c.column.as_str() {
            "rname" => {
                let set: Option<BTreeSet<String>> = match c.op.as_str() {
                    "==" | "in" => c
                        .values
                        .iter()
                        .map(|v| match v {
                            Literal::Text(t) => Some(t.clone()),
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                };
                set.map(|set| {
                    names = Some(match names.take() {
                        None => set,
                        Some(n) => n.intersection(&set).cloned().collect(),
                    });
                    ranged.push(said.clone());
                    "regions".to_owned()
                })
            }
            // A record's end is its last reference base; an alignment spanning no base ends
            // before it starts: bounds on `end` are widened by one.
            col @ ("pos" | "end") => int_bound(c).map(|(lo, hi)| {
                let w = i64::from(col == "end");
                span = Some(meet(span, (lo.saturating_sub(w), hi.saturating_add(w))));
                ranged.push(said.clone());
                "regions".to_owned()
            }),
            "flag" => flag_bits(c).map(|(r, x)| {
                require |= r;
                exclude |= x;
                format!("FLAG filter (required {r:#x}, excluded {x:#x})")
            }),
            "mapq" => mapq_floor(c).map(|q| {
                min_mapq = min_mapq.max(q);
                format!("MAPQ filter (at least {q})")
            }),
            _ => None,
        };
        match pushed {
            Some(to) if to != "regions" => notes.push(format!("{said}: pushed as the {to}")),
            Some(_) => {}
            None => notes.push(format!("{said}: not pushed (filtered after reading)")),
        }
    }
    let filter = options.filter;
    options.filter = filter
        .min_mapq(filter.mapq_floor().max(min_mapq))
        .require_flags(filter.required_flags() | require)
        .exclude_flags(filter.excluded_flags() | exclude);
    if ranged.is_empty() {
        return Ok(notes);
    }
    let Some(names) = names else {
        notes.extend(ranged.iter().map(|r| {
            format!("{r}: not pushed (a position needs rname == or rname in to be a region)")
        }));
        return Ok(notes);
    };
    let why = unindexed(paths, options);
    let references = references(paths, options)?;
    let (lo, hi) = span.unwrap_or((i64::MIN, i64::MAX));
    let (lo, hi) = (lo.max(1), hi.min(i64::from(i32::MAX)));
    if let Some(why) = why {
        // Without an index, one reference's window is tested on the workers, record by record,
        // before anything else is decoded (every block is still inflated).
        let matching: Vec<(usize, &String)> = references
            .iter()
            .enumerate()
            .filter(|(_, r)| names.contains(*r))
            .collect();
        let free = options.regions.is_empty() && options.filter.window_region().is_none();
        let to = match matching.as_slice() {
            [] => {
                options.limit = Some(0);
                "nothing to read (no reference of the header matches)".to_owned()
            }
            [(tid, name)] if free && lo <= hi => {
                options.filter = options.filter.window(*tid, lo - 1, hi);
                format!(
                    "a filter on the workers for {{{name}}}:{lo}-{hi} ({why}: every block is inflated)"
                )
            }
            _ => {
                notes.extend(ranged.iter().map(|r| format!("{r}: not pushed ({why})")));
                return Ok(notes);
            }
        };
        notes.extend(ranged.iter().map(|r| format!("{r}: pushed as {to}")));
        return Ok(notes);
    }
    let mut regions = Vec::new();
    if lo <= hi {
        for name in references.iter().filter(|r| names.contains(*r)) {
            regions.push(format!("{{{name}}}:{lo}-{hi}"));
        }
    }
    let narrowed = !options.regions.is_empty();
    let regions_text = if regions.is_empty() {
        // No reference of the header can hold a row: nothing is read.
        options.limit = Some(0);
        "nothing to read (no reference of the header matches)".to_owned()
    } else {
        let text = format!("regions {}", regions.join(" "));
        if !narrowed {
            options.regions = regions;
        }
        text
    };
    for r in &ranged {
        if narrowed {
            notes.push(format!("{r}: not pushed (regions were given)"));
        } else {
            notes.push(format!("{r}: pushed as {regions_text}, through the index"));
        }
    }
    Ok(notes)
}

/// Why regions cannot be read through an index (`None`: they can).
fn unindexed<P: AsRef<Path>>(paths: &[P], options: &BamOptions) -> Option<String> {
    if options.byte_range.is_some() {
        return Some("a byte range is read".into());
    }
    if options.index.is_some() {
        return None;
    }
    for p in paths {
        let p = p.as_ref();
        if !p.is_file() {
            return Some(format!(
                "{} is not a local file: give its index to push regions",
                p.display()
            ));
        }
        let mut candidates = crate::bam::index_candidates(p);
        let mut crai = p.as_os_str().to_owned();
        crai.push(".crai");
        candidates.push(crai.into());
        candidates.push(p.with_extension("crai"));
        if !candidates.iter().any(|c| c.is_file()) {
            return Some(format!("no index beside {}", p.display()));
        }
    }
    None
}

/// The reference names of the first input's header, in order.
fn references<P: AsRef<Path>>(paths: &[P], options: &BamOptions) -> Result<Vec<String>, Error> {
    let first = BamOptions {
        columns: Some(vec!["flag".into()]),
        tags: Vec::new(),
        threads: Some(1),
        limit: Some(0),
        regions: Vec::new(),
        index: None,
        with_file: false,
        ..options.clone()
    };
    let stream = BatchStream::bam(&paths[..paths.len().min(1)], &first)?;
    let header = crate::bam::Header::from_schema(&stream.schema())
        .ok_or_else(|| Error::usage("the stream's schema carries no header"))?;
    Ok(header.references.into_iter().map(|r| r.name).collect())
}

/// The required and excluded FLAG bits a `flag` condition implies.
fn flag_bits(c: &Condition) -> Option<(u16, u16)> {
    let ints: Option<Vec<i64>> = c.values.iter().map(Literal::int).collect();
    let bits = |v: i64| u16::try_from(v).ok();
    match (c.op.as_str(), ints?.as_slice()) {
        ("==", &[v]) => bits(v).map(|v| (v, !v)),
        ("&==", &[m, v]) => {
            let (m, v) = (bits(m)?, bits(v)?);
            if v == 0 {
                Some((0, m))
            } else if v == m {
                Some((m, 0))
            } else {
                None
            }
        }
        ("&!=", &[m, 0]) => bits(m).filter(|m| m.count_ones() == 1).map(|m| (m, 0)),
        _ => None,
    }
}

/// The minimum MAPQ a `mapq` condition implies (255, null in the table, passes it as in
/// samtools: a superset).
fn mapq_floor(c: &Condition) -> Option<u8> {
    let (lo, _) = int_bound(c)?;
    (lo > 0).then(|| u8::try_from(lo).unwrap_or(u8::MAX))
}

/// Pushes `conditions` into `options` for reading a timsTOF run's peaks: `frame` bounds become
/// the frame range, `rt`, `mobility` and `mz` bounds their slices (widened by a relative 1e-9),
/// `ms_level == 1|2` the MS level. Other tables, and conditions on other columns, are not
/// pushed. Returns what became of each condition.
pub fn push_tdf(conditions: &[Condition], options: &mut TdfOptions) -> Vec<String> {
    let mut notes = Vec::new();
    let peaks = options.table == crate::tdf::Table::Peaks;
    for c in conditions {
        let said = c.text();
        let pushed = match c.column.as_str() {
            _ if !peaks => None,
            "frame" => int_bound(c).and_then(|(lo, hi)| {
                let clamp = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
                let (lo, hi) = meet(options.frames, (clamp(lo), clamp(hi)));
                (lo <= hi).then(|| {
                    options.frames = Some((lo, hi));
                    format!("frames {lo}..={hi}")
                })
            }),
            col @ ("rt" | "mobility" | "mz") => float_bound(c).and_then(|b| {
                let slot = match col {
                    "rt" => &mut options.rt,
                    "mobility" => &mut options.mobility,
                    _ => &mut options.mz,
                };
                // Finite bounds: the m/z slice is turned into TOF indices by bisection.
                let (lo, hi) = meet(*slot, (b.0.max(-1e300), b.1.min(1e300)));
                (lo <= hi).then(|| {
                    *slot = Some((lo, hi));
                    format!("{col} slice [{lo}, {hi}]")
                })
            }),
            "ms_level" => match (c.op.as_str(), c.one_int()) {
                ("==", Some(v @ (1 | 2))) if options.ms_level.is_none_or(|l| i64::from(l) == v) => {
                    options.ms_level = Some(v as u8);
                    Some(format!("MS level {v}"))
                }
                _ => None,
            },
            _ => None,
        };
        notes.push(match pushed {
            Some(to) => format!("{said}: pushed as the {to}"),
            None => format!("{said}: not pushed (filtered after reading)"),
        });
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(column: &str, op: &str, values: &[Literal]) -> Condition {
        Condition {
            column: column.into(),
            op: op.into(),
            values: values.to_vec(),
        }
    }

    use arrow_array::RecordBatch;
    use Literal::{Float, Int, Text};

    #[test]
    fn flag_tests_become_samtools_bits() {
        assert_eq!(
            flag_bits(&c("flag", "&==", &[Int(0x904), Int(0)])),
            Some((0, 0x904))
        );
        assert_eq!(
            flag_bits(&c("flag", "&==", &[Int(0x41), Int(0x41)])),
            Some((0x41, 0))
        );
        assert_eq!(flag_bits(&c("flag", "&==", &[Int(0x41), Int(0x40)])), None);
        assert_eq!(
            flag_bits(&c("flag", "&!=", &[Int(0x10), Int(0)])),
            Some((0x10, 0))
        );
        // Any of two bits is not one filter.
        assert_eq!(flag_bits(&c("flag", "&!=", &[Int(0x30), Int(0)])), None);
        assert_eq!(flag_bits(&c("flag", "==", &[Int(99)])), Some((99, !99)));
        assert_eq!(flag_bits(&c("flag", "==", &[Int(70000)])), None);
        assert_eq!(flag_bits(&c("flag", "<", &[Int(4)])), None);
    }

    #[test]
    fn bounds_are_inclusive_supersets() {
        assert_eq!(int_bound(&c("pos", ">", &[Int(10)])), Some((11, i64::MAX)));
        assert_eq!(int_bound(&c("pos", "<", &[Int(10)])), Some((i64::MIN, 9)));
        assert_eq!(int_bound(&c("pos", "in", &[Int(7), Int(3)])), Some((3, 7)));
        assert_eq!(int_bound(&c("pos", "!=", &[Int(7)])), None);
        assert_eq!(int_bound(&c("pos", "==", &[Float(7.5)])), None);
        let (lo, hi) = float_bound(&c("rt", "==", &[Float(600.25)])).expect("a bound");
        assert!(lo < 600.25 && hi > 600.25 && hi - lo < 1e-5);
        assert_eq!(float_bound(&c("rt", ">", &[Float(f64::NAN)])), None);
        assert_eq!(mapq_floor(&c("mapq", ">", &[Int(300)])), Some(255));
        assert_eq!(mapq_floor(&c("mapq", ">=", &[Int(0)])), None);
    }

    #[test]
    fn timstof_conditions_become_slices() {
        let mut o = TdfOptions::default();
        let notes = push_tdf(
            &[
                c("frame", ">=", &[Int(5)]),
                c("frame", "<", &[Int(9)]),
                c("rt", "<=", &[Float(60.0)]),
                c("ms_level", "==", &[Int(1)]),
                c("intensity", ">", &[Int(100)]),
                c("mz", ">", &[Float(9.0)]),
                c("mz", "<", &[Float(5.0)]),
            ],
            &mut o,
        );
        assert_eq!(o.frames, Some((5, 8)));
        assert_eq!(o.ms_level, Some(1));
        let (lo, hi) = o.rt.expect("an rt slice");
        assert!(lo <= -1e299 && hi > 60.0 && hi < 60.001);
        // A contradiction is left to the filter (the reader refuses an empty slice).
        assert_eq!(o.mz.map(|m| m.0 > 8.9), Some(true));
        assert!(notes[4].ends_with("not pushed (filtered after reading)"));
        assert!(notes[6].ends_with("not pushed (filtered after reading)"));
        let mut spectra = TdfOptions {
            table: crate::tdf::Table::Spectra,
            ..Default::default()
        };
        push_tdf(&[c("rt", "<=", &[Float(60.0)])], &mut spectra);
        assert_eq!(spectra.rt, None);
    }

    #[test]
    fn regions_need_a_name_and_an_index() -> Result<(), Box<dyn std::error::Error>> {
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
        let dir = tempfile::tempdir()?;
        let bam = dir.path().join("s.bam");
        std::fs::copy(sample, &bam)?;
        let conditions = [
            c(
                "rname",
                "in",
                &[Text("chrS2".into()), Text("chrS1".into()), Text("x".into())],
            ),
            c("pos", ">=", &[Int(1000)]),
            c("end", "<", &[Int(2000)]),
            c("mapq", ">", &[Int(29)]),
        ];
        let mut o = BamOptions::default();
        let notes = push_bam(&[&bam], &conditions, &mut o)?;
        assert_eq!(o.filter.mapq_floor(), 30);
        // Two references without an index: not pushed; one: a window on the workers.
        assert!(
            o.regions.is_empty() && notes[1].contains("not pushed (no index beside"),
            "{notes:?}"
        );
        let mut o = BamOptions::default();
        let one = [
            c("rname", "==", &[Text("chrS2".into())]),
            c("pos", "<", &[Int(900)]),
        ];
        let notes = push_bam(&[&bam], &one, &mut o)?;
        assert!(
            notes[0].contains("a filter on the workers for {chrS2}:1-899"),
            "{notes:?}"
        );
        assert_eq!(o.filter, crate::bam::Filter::default().window(1, 0, 899));
        let input = crate::io::Input::open(&bam)?;
        let index =
            crate::bam::Index::build(input, crate::bam::IndexFormat::Bai, Default::default())?;
        std::fs::write(dir.path().join("s.bam.bai"), index.to_bytes())?;
        let mut o = BamOptions::default();
        push_bam(&[&bam], &conditions, &mut o)?;
        // The header's order; the end bound widened by one.
        assert_eq!(o.regions, ["{chrS1}:1000-2000", "{chrS2}:1000-2000"]);
        // The workers' window keeps exactly the records the index's region does.
        for (lo, hi) in [(1, 60000), (1000, 2000), (24990, 25000), (59000, 59001)] {
            let rows = |o: &BamOptions| -> Result<Vec<RecordBatch>, Error> {
                let mut s = BatchStream::bam(&[&bam], o)?;
                std::iter::from_fn(|| s.next_batch().transpose()).collect()
            };
            let windowed = BamOptions {
                filter: crate::bam::Filter::default().window(0, lo - 1, hi),
                ..Default::default()
            };
            let indexed = BamOptions {
                regions: vec![format!("chrS1:{lo}-{hi}")],
                ..Default::default()
            };
            let (a, b) = (rows(&windowed)?, rows(&indexed)?);
            let n = |v: &[RecordBatch]| v.iter().map(RecordBatch::num_rows).sum::<usize>();
            assert_eq!(n(&a), n(&b), "{lo}-{hi}");
            assert!(n(&a) > 0, "{lo}-{hi}");
            let one = |v: &[RecordBatch]| arrow_select::concat::concat_batches(&v[0].schema(), v);
            assert_eq!(one(&a)?, one(&b)?, "{lo}-{hi}");
        }
        let mut o = BamOptions::default();
        let notes = push_bam(&[&bam], &[c("rname", "==", &[Text("x".into())])], &mut o)?;
        assert_eq!((o.regions.len(), o.limit), (0, Some(0)), "{notes:?}");
        let mut o = BamOptions::default();
        let notes = push_bam(&[&bam], &[c("pos", ">", &[Int(5)])], &mut o)?;
        assert!(
            o.regions.is_empty() && notes[0].contains("needs rname"),
            "{notes:?}"
        );
        Ok(())
    }
}
