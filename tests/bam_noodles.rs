//! Property tests: random records written by an independent encoder (noodles-bam), read by
//! rawarrow; every column must equal the values given to noodles.

use std::num::NonZeroUsize;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt16Type, UInt8Type};
use arrow_array::{Array, RecordBatch};
use noodles_bam as nbam;
use noodles_sam as sam;
use proptest::prelude::*;
use rawarrow::bam::Reader;
use rawarrow::io::Input;
use sam::alignment::io::Write as _;
use sam::alignment::record::cigar::op::Kind;
use sam::alignment::record::cigar::Op;
use sam::alignment::record::data::field::Tag;
use sam::alignment::record::{Flags, MappingQuality};
use sam::alignment::record_buf::data::field::value::Array as NArray;
use sam::alignment::record_buf::data::field::Value;
use sam::alignment::RecordBuf;
use sam::header::record::value::map::ReferenceSequence;
use sam::header::record::value::Map;

const REFS: [(&str, usize); 3] = [("chr1", 1_000_000), ("chrM", 16_569), ("contig_3", 5_000)];
const KINDS: [(Kind, char); 9] = [
    (Kind::Match, 'M'),
    (Kind::Insertion, 'I'),
    (Kind::Deletion, 'D'),
    (Kind::Skip, 'N'),
    (Kind::SoftClip, 'S'),
    (Kind::HardClip, 'H'),
    (Kind::Pad, 'P'),
    (Kind::SequenceMatch, '='),
    (Kind::SequenceMismatch, 'X'),
];

#[derive(Debug, Clone)]
enum TagValue {
    Char(u8),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    F32(f32),
    Str(String),
    Hex(String),
    ArrI8(Vec<i8>),
    ArrU16(Vec<u16>),
    ArrI32(Vec<i32>),
    ArrU32(Vec<u32>),
    ArrF32(Vec<f32>),
}

#[derive(Debug, Clone)]
struct Spec {
    name: Option<String>,
    flags: u16,
    ref_id: Option<usize>,
    pos: Option<usize>,
    mapq: Option<u8>,
    ops: Vec<(usize, usize)>,
    unaligned_len: usize,
    bases: Vec<u8>,
    qual: bool,
    mate: Option<(usize, usize)>,
    tlen: i32,
    tags: Vec<TagValue>,
}

fn tag_value() -> impl Strategy<Value = TagValue> {
    let printable = proptest::collection::vec(0x20u8..0x7f, 0..30).prop_map(|v| {
        v.into_iter()
            .map(char::from)
            .filter(|&c| c != '\t')
            .collect::<String>()
    });
    let hex = proptest::collection::vec(0u8..16, 0..10).prop_map(|v| {
        v.iter()
            .flat_map(|&n| [n, 15 - n])
            .map(|n| char::from(b"0123456789ABCDEF"[n as usize]))
            .collect()
    });
    let finite = any::<f32>().prop_filter("finite", |f| f.is_finite());
    prop_oneof![
        (0x21u8..0x7f).prop_map(TagValue::Char),
        any::<i8>().prop_map(TagValue::I8),
        any::<u8>().prop_map(TagValue::U8),
        any::<i16>().prop_map(TagValue::I16),
        any::<u16>().prop_map(TagValue::U16),
        any::<i32>().prop_map(TagValue::I32),
        any::<u32>().prop_map(TagValue::U32),
        finite.clone().prop_map(TagValue::F32),
        printable.prop_map(TagValue::Str),
        hex.prop_map(TagValue::Hex),
        proptest::collection::vec(any::<i8>(), 0..8).prop_map(TagValue::ArrI8),
        proptest::collection::vec(any::<u16>(), 0..8).prop_map(TagValue::ArrU16),
        proptest::collection::vec(any::<i32>(), 0..8).prop_map(TagValue::ArrI32),
        proptest::collection::vec(any::<u32>(), 0..8).prop_map(TagValue::ArrU32),
        proptest::collection::vec(finite, 0..8).prop_map(TagValue::ArrF32),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            proptest::option::weighted(0.9, "[A-Za-z0-9:_]{1,40}"),
            0u16..0x1000,
            proptest::option::weighted(0.85, 0usize..3),
        ),
        (
            proptest::option::weighted(0.9, 1usize..=4000),
            proptest::option::weighted(0.9, 0u8..255),
        ),
        (
            proptest::collection::vec((0usize..9, 1usize..60), 0..8),
            0usize..40,
            any::<bool>(),
        ),
        (
            proptest::option::weighted(0.7, (0usize..3, 1usize..4000)),
            any::<i32>(),
        ),
        proptest::collection::vec(tag_value(), 0..6),
        proptest::collection::vec(0usize..16, 300),
    )
        .prop_map(
            |(
                (name, flags, ref_id),
                (pos, mapq),
                (ops, unaligned_len, qual),
                (mate, tlen),
                tags,
                bases,
            )| {
                let bases = bases.into_iter().map(|i| b"=ACMGRSVTWYHKDBN"[i]).collect();
                Spec {
                    name,
                    flags,
                    ref_id,
                    pos: ref_id.and(pos),
                    mapq,
                    ops,
                    unaligned_len,
                    bases,
                    qual,
                    mate,
                    tlen,
                    tags,
                }
            },
        )
}

fn query_len(ops: &[(usize, usize)]) -> usize {
    ops.iter()
        .filter(|(k, _)| matches!(KINDS[*k].1, 'M' | 'I' | 'S' | '=' | 'X'))
        .map(|(_, l)| l)
        .sum()
}

fn ref_len(ops: &[(usize, usize)]) -> usize {
    ops.iter()
        .filter(|(k, _)| matches!(KINDS[*k].1, 'M' | 'D' | 'N' | '=' | 'X'))
        .map(|(_, l)| l)
        .sum()
}

impl Spec {
    fn seq(&self) -> Vec<u8> {
        let n = if self.ops.is_empty() {
            self.unaligned_len
        } else {
            query_len(&self.ops)
        };
        self.bases.iter().cycle().take(n).copied().collect()
    }

    fn quals(&self) -> Vec<u8> {
        self.seq()
            .iter()
            .enumerate()
            .map(|(i, _)| ((i * 7 + self.tlen as usize) % 94) as u8)
            .collect()
    }

    fn record(&self) -> RecordBuf {
        let mut b = RecordBuf::builder()
            .set_flags(Flags::from(self.flags))
            .set_template_length(self.tlen);
        if let Some(n) = &self.name {
            b = b.set_name(n.as_bytes());
        }
        if let Some(r) = self.ref_id {
            b = b.set_reference_sequence_id(r);
        }
        if let Some(p) = self.pos {
            b = b.set_alignment_start(noodles_core::Position::new(p).expect("1-based"));
        }
        if let Some(m) = self.mapq {
            b = b.set_mapping_quality(MappingQuality::new(m).expect("not 255"));
        }
        if let Some((r, p)) = self.mate {
            b = b
                .set_mate_reference_sequence_id(r)
                .set_mate_alignment_start(noodles_core::Position::new(p).expect("1-based"));
        }
        let cigar: Vec<Op> = self
            .ops
            .iter()
            .map(|&(k, l)| Op::new(KINDS[k].0, l))
            .collect();
        b = b.set_cigar(cigar.into()).set_sequence(self.seq().into());
        if self.qual {
            b = b.set_quality_scores(self.quals().into());
        }
        let data = self.tags.iter().enumerate().map(|(i, v)| {
            let tag = Tag::new(b'X', b"ABCDEFGHIJ"[i]);
            let value = match v.clone() {
                TagValue::Char(c) => Value::Character(c),
                TagValue::I8(x) => Value::Int8(x),
                TagValue::U8(x) => Value::UInt8(x),
                TagValue::I16(x) => Value::Int16(x),
                TagValue::U16(x) => Value::UInt16(x),
                TagValue::I32(x) => Value::Int32(x),
                TagValue::U32(x) => Value::UInt32(x),
                TagValue::F32(x) => Value::Float(x),
                TagValue::Str(s) => Value::String(s.into()),
                TagValue::Hex(s) => Value::Hex(s.into()),
                TagValue::ArrI8(a) => Value::Array(NArray::Int8(a)),
                TagValue::ArrU16(a) => Value::Array(NArray::UInt16(a)),
                TagValue::ArrI32(a) => Value::Array(NArray::Int32(a)),
                TagValue::ArrU32(a) => Value::Array(NArray::UInt32(a)),
                TagValue::ArrF32(a) => Value::Array(NArray::Float(a)),
            };
            (tag, value)
        });
        b.set_data(data.collect()).build()
    }

    /// The `tags` column text we expect (floats as samtools prints them).
    fn tags_text(&self) -> String {
        let mut out = Vec::new();
        for (i, v) in self.tags.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            out.extend_from_slice(format!("X{}:", char::from(b"ABCDEFGHIJ"[i])).as_bytes());
            let ints = |out: &mut Vec<u8>, sub: &str, xs: Vec<i64>| {
                out.extend_from_slice(format!("B:{sub}").as_bytes());
                for x in xs {
                    out.extend_from_slice(format!(",{x}").as_bytes());
                }
            };
            match v {
                TagValue::Char(c) => {
                    out.extend_from_slice(format!("A:{}", char::from(*c)).as_bytes())
                }
                TagValue::I8(x) => out.extend_from_slice(format!("i:{x}").as_bytes()),
                TagValue::U8(x) => out.extend_from_slice(format!("i:{x}").as_bytes()),
                TagValue::I16(x) => out.extend_from_slice(format!("i:{x}").as_bytes()),
                TagValue::U16(x) => out.extend_from_slice(format!("i:{x}").as_bytes()),
                TagValue::I32(x) => out.extend_from_slice(format!("i:{x}").as_bytes()),
                TagValue::U32(x) => out.extend_from_slice(format!("i:{x}").as_bytes()),
                TagValue::F32(x) => {
                    out.extend_from_slice(format!("f:{x}").as_bytes());
                }
                TagValue::Str(s) => out.extend_from_slice(format!("Z:{s}").as_bytes()),
                TagValue::Hex(s) => out.extend_from_slice(format!("H:{s}").as_bytes()),
                TagValue::ArrI8(a) => {
                    ints(&mut out, "c", a.iter().map(|&x| i64::from(x)).collect())
                }
                TagValue::ArrU16(a) => {
                    ints(&mut out, "S", a.iter().map(|&x| i64::from(x)).collect())
                }
                TagValue::ArrI32(a) => {
                    ints(&mut out, "i", a.iter().map(|&x| i64::from(x)).collect())
                }
                TagValue::ArrU32(a) => {
                    ints(&mut out, "I", a.iter().map(|&x| i64::from(x)).collect())
                }
                TagValue::ArrF32(a) => {
                    out.extend_from_slice(b"B:f");
                    for x in a {
                        out.extend_from_slice(format!(",{x}").as_bytes());
                    }
                }
            }
        }
        String::from_utf8(out).expect("ascii")
    }
}

/// Whether `ours` (samtools' text) holds the tags of `expected` (floats in Rust's shortest form):
/// equal text, except that each `f` value and `B:f` element is within samtools' 6 significant
/// digits of the value (half a unit in the 6th digit). The exact digits samtools prints are
/// checked against samtools itself in `bam_samtools`.
fn assert_same_tags(ours: &str, expected: &str, ctx: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) =
        (ours.split('\t').collect(), expected.split('\t').collect());
    assert_eq!(a.len(), b.len(), "tags {ctx}: {ours:?} vs {expected:?}");
    for (x, y) in a.iter().zip(&b) {
        let (tag, value) = y.split_at(y.len().min(3));
        // Ours as printed; the expected values exactly as the f32 they are.
        let floats = |f: &str, f32s: bool| -> Option<Vec<f64>> {
            let v = f.strip_prefix(tag)?;
            let v = v
                .strip_prefix("B:f")
                .map(|v| v.strip_prefix(',').unwrap_or(v))
                .or(v.strip_prefix("f:"))?;
            Some(
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        let parsed = if f32s {
                            s.parse::<f32>().map(f64::from)
                        } else {
                            s.parse::<f64>()
                        };
                        parsed.unwrap_or_else(|_| panic!("a float: {s:?} in {f:?} {ctx}"))
                    })
                    .collect(),
            )
        };
        match (
            value.starts_with("f:") || value.starts_with("B:f"),
            floats(x, false),
            floats(y, true),
        ) {
            (true, Some(p), Some(q)) => {
                assert_eq!(p.len(), q.len(), "tags {ctx}: {x:?} vs {y:?}");
                for (p, q) in p.iter().zip(&q) {
                    assert!(
                        (p - q).abs() <= 5.000_001e-6 * q.abs(),
                        "tags {ctx}: {p} is not {q} to 6 significant digits ({x:?} vs {y:?})"
                    );
                }
            }
            _ => assert_eq!(x, y, "tags {ctx}"),
        }
    }
}

fn write_with_noodles(specs: &[Spec]) -> Vec<u8> {
    let mut header = sam::Header::builder();
    for (name, len) in REFS {
        header = header.add_reference_sequence(
            name,
            Map::<ReferenceSequence>::new(NonZeroUsize::new(len).expect("non-zero")),
        );
    }
    let header = header.build();
    let mut writer = nbam::io::Writer::new(Vec::new());
    writer.write_alignment_header(&header).expect("header");
    for s in specs {
        writer
            .write_alignment_record(&header, &s.record())
            .expect("record");
    }
    writer.try_finish().expect("finish");
    writer.into_inner().finish().expect("bgzf")
}

fn check(specs: &[Spec], batches: &[RecordBatch]) {
    let mut i = 0usize;
    for batch in batches {
        let col = |n: &str| batch.column_by_name(n).expect("column").clone();
        let (qname, flag, rname, pos, mapq, cigar) = (
            col("qname"),
            col("flag"),
            col("rname"),
            col("pos"),
            col("mapq"),
            col("cigar"),
        );
        let (rnext, pnext, tlen, seq, qual, end, tags) = (
            col("rnext"),
            col("pnext"),
            col("tlen"),
            col("seq"),
            col("qual"),
            col("end"),
            col("tags"),
        );
        let s = |a: &dyn Array, r: usize| {
            a.is_valid(r)
                .then(|| a.as_string::<i32>().value(r).to_string())
        };
        let n32 = |a: &dyn Array, r: usize| {
            a.is_valid(r)
                .then(|| a.as_primitive::<Int32Type>().value(r))
        };
        let dict = |a: &dyn Array, r: usize| {
            let d = a.as_dictionary::<Int32Type>();
            d.keys().is_valid(r).then(|| {
                d.values()
                    .as_string::<i32>()
                    .value(d.keys().value(r) as usize)
                    .to_string()
            })
        };
        for r in 0..batch.num_rows() {
            let sp = &specs[i];
            let ctx = format!("record {i}: {sp:?}");
            assert_eq!(s(&qname, r), sp.name.clone(), "qname {ctx}");
            assert_eq!(
                flag.as_primitive::<UInt16Type>().value(r),
                sp.flags,
                "flag {ctx}"
            );
            assert_eq!(
                dict(&rname, r),
                sp.ref_id.map(|x| REFS[x].0.to_string()),
                "rname {ctx}"
            );
            assert_eq!(n32(&pos, r), sp.pos.map(|p| p as i32), "pos {ctx}");
            let m = mapq.as_primitive::<UInt8Type>();
            assert_eq!(m.is_valid(r).then(|| m.value(r)), sp.mapq, "mapq {ctx}");
            let text: String = sp
                .ops
                .iter()
                .map(|&(k, l)| format!("{l}{}", KINDS[k].1))
                .collect();
            assert_eq!(
                s(&cigar, r),
                (!sp.ops.is_empty()).then_some(text),
                "cigar {ctx}"
            );
            assert_eq!(
                dict(&rnext, r),
                sp.mate.map(|(x, _)| REFS[x].0.to_string()),
                "rnext {ctx}"
            );
            assert_eq!(
                n32(&pnext, r),
                sp.mate.map(|(_, p)| p as i32),
                "pnext {ctx}"
            );
            assert_eq!(n32(&tlen, r), Some(sp.tlen), "tlen {ctx}");
            let bases = String::from_utf8(sp.seq()).expect("ascii");
            assert_eq!(
                s(&seq, r),
                (!bases.is_empty()).then(|| bases.clone()),
                "seq {ctx}"
            );
            let q: String = sp.quals().iter().map(|&q| char::from(q + 33)).collect();
            assert_eq!(
                s(&qual, r),
                (sp.qual && !bases.is_empty()).then_some(q),
                "qual {ctx}"
            );
            let mapped = sp.flags & 4 == 0 && sp.pos.is_some() && !sp.ops.is_empty();
            assert_eq!(
                n32(&end, r),
                mapped.then(|| (sp.pos.expect("mapped") - 1 + ref_len(&sp.ops)) as i32),
                "end {ctx}"
            );
            let ours = s(&tags, r).unwrap_or_else(|| panic!("tags null {ctx}"));
            assert_same_tags(&ours, &sp.tags_text(), &ctx);
            i += 1;
        }
    }
    assert_eq!(i, specs.len(), "row count");
}

fn read(file: &[u8], threads: usize, batch_rows: usize) -> Vec<RecordBatch> {
    Reader::builder()
        .threads(threads)
        .batch_rows(batch_rows)
        .build(Input::from_bytes("noodles.bam", file.to_vec()))
        .expect("header")
        .map(|b| b.expect("valid records"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn noodles_written_records_read_back_equal(specs in proptest::collection::vec(spec(), 0..60), threads in 1usize..3, batch_rows in 1usize..20) {
        let file = write_with_noodles(&specs);
        check(&specs, &read(&file, threads, batch_rows));
    }
}

/// More than 65,535 CIGAR operations: BAM stores them in a `CG:B,I` tag behind a `kSmN`
/// placeholder; the `cigar` column shows the real CIGAR and the tag is not in `tags`.
#[test]
fn cigar_with_more_than_65535_ops_comes_from_the_cg_tag() {
    let ops: Vec<(usize, usize)> = (0..70_001)
        .map(|i| (if i % 2 == 0 { 0 } else { 1 }, 1 + i % 3))
        .collect();
    let spec = Spec {
        name: Some("long".into()),
        flags: 0,
        ref_id: Some(0),
        pos: Some(100),
        mapq: Some(60),
        ops,
        unaligned_len: 0,
        bases: b"ACGT".to_vec(),
        qual: true,
        mate: None,
        tlen: 0,
        tags: vec![TagValue::I32(7)],
    };
    let file = write_with_noodles(std::slice::from_ref(&spec));
    for threads in [1, 2] {
        check(std::slice::from_ref(&spec), &read(&file, threads, 10));
    }
}
