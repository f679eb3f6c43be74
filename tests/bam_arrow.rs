//! BAM → Arrow: every column checked against `samtools view` text, IPC round trips, projection,
//! limits, and the command line.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt16Type, UInt8Type};
use arrow_array::{Array, RecordBatch, RecordBatchReader};
use rawarrow::bam::Reader;
use rawarrow::io::Input;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn files() -> Vec<(PathBuf, PathBuf)> {
    let mut v = vec![
        (data("sample.bam"), data("sample.sam.gz")),
        (data("floats.bam"), data("floats.sam.gz")),
    ];
    for bam in common::corpus_bams() {
        v.push((bam.clone(), bam.with_extension("").with_extension("sam.gz")));
    }
    v
}

/// The batches as they are read (each dropped before the next is read by a streaming consumer,
/// so the reader's arena memory is recycled), checked for schema and size.
fn stream(
    path: &std::path::Path,
    threads: usize,
    batch_rows: usize,
) -> impl Iterator<Item = RecordBatch> {
    let reader = Reader::builder()
        .threads(threads)
        .batch_rows(batch_rows)
        .build(Input::open(path).expect("open"))
        .expect("header");
    let schema = reader.schema();
    reader.map(move |b| {
        let b = b.expect("valid BAM");
        assert_eq!(b.schema(), schema);
        assert!(b.num_rows() <= batch_rows);
        b
    })
}

fn read_all(path: &std::path::Path, threads: usize, batch_rows: usize) -> Vec<RecordBatch> {
    stream(path, threads, batch_rows).collect()
}

/// 1-based inclusive end from CIGAR text: pos - 1 + reference length.
/// The SAM specification's `reg2bin` (section 5.3) for the 0-based span `[beg, end)`.
fn reg2bin(beg: i64, end: i64) -> u16 {
    let end = end - 1;
    for (shift, first) in [(14, 4681), (17, 585), (20, 73), (23, 9), (26, 1)] {
        if beg >> shift == end >> shift {
            return (first + (beg >> shift)) as u16;
        }
    }
    0
}

/// The BAI bin of a SAM line's record (SAM spec 4.2.1): 4680 without a reference; otherwise
/// `reg2bin` of its span, one base when unmapped or without a CIGAR; none past 2^29.
fn bin_of(flag: u16, rname: &str, pos: i64, cigar: &str) -> Option<u16> {
    if rname == "*" {
        return Some(4680);
    }
    let beg = pos - 1;
    let len = if flag & 4 == 0 && cigar != "*" {
        end_of(pos, cigar) - beg
    } else {
        0
    };
    let (beg, end) = (beg.max(0), (beg + len.max(1)).max(1));
    (end <= 1 << 29).then(|| reg2bin(beg, end))
}

fn end_of(pos: i64, cigar: &str) -> i64 {
    let mut len = 0i64;
    let mut n = 0i64;
    for c in cigar.bytes() {
        if c.is_ascii_digit() {
            n = n * 10 + i64::from(c - b'0');
        } else {
            if b"MDN=X".contains(&c) {
                len += n;
            }
            n = 0;
        }
    }
    pos - 1 + len
}

/// Row `i` of a Utf8 or dictionary column.
fn text_at(a: &dyn Array, i: usize) -> Option<String> {
    common::cells::cell(a, i).text()
}

fn i32_at(a: &dyn Array, i: usize) -> Option<i64> {
    common::cells::cell(a, i).int()
}

fn none_if<'a>(s: &'a str, null: &str) -> Option<&'a str> {
    (s != null).then_some(s)
}

fn check_against_sam(batches: impl IntoIterator<Item = RecordBatch>, sam: &[u8], what: &str) {
    let text = std::str::from_utf8(sam).expect("utf8");
    let mut lines = text.lines();
    let mut row = 0usize;
    for batch in batches {
        let col = |name: &str| batch.column_by_name(name).expect("column").as_ref();
        for i in 0..batch.num_rows() {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("{what}: more rows than samtools lines"));
            let f: Vec<&str> = line.split('\t').collect();
            let ctx = format!("{what} row {row}: {line}");
            assert_eq!(
                text_at(col("qname"), i).as_deref(),
                none_if(f[0], "*"),
                "qname {ctx}"
            );
            let flag: u16 = f[1].parse().expect("flag");
            assert_eq!(
                col("flag").as_primitive::<UInt16Type>().value(i),
                flag,
                "flag {ctx}"
            );
            assert_eq!(
                text_at(col("rname"), i).as_deref(),
                none_if(f[2], "*"),
                "rname {ctx}"
            );
            let pos: i64 = f[3].parse().expect("pos");
            assert_eq!(
                i32_at(col("pos"), i),
                (pos != 0).then_some(pos),
                "pos {ctx}"
            );
            let mapq = col("mapq").as_primitive::<UInt8Type>();
            let expect_mapq: u8 = f[4].parse().expect("mapq");
            assert_eq!(
                mapq.is_valid(i).then(|| mapq.value(i)),
                (expect_mapq != 255).then_some(expect_mapq),
                "mapq {ctx}"
            );
            assert_eq!(
                text_at(col("cigar"), i).as_deref(),
                none_if(f[5], "*"),
                "cigar {ctx}"
            );
            let rnext = match f[6] {
                "=" => Some(f[2]),
                "*" => None,
                other => Some(other),
            };
            assert_eq!(text_at(col("rnext"), i).as_deref(), rnext, "rnext {ctx}");
            let pnext: i64 = f[7].parse().expect("pnext");
            assert_eq!(
                i32_at(col("pnext"), i),
                (pnext != 0).then_some(pnext),
                "pnext {ctx}"
            );
            assert_eq!(
                i32_at(col("tlen"), i),
                Some(f[8].parse().expect("tlen")),
                "tlen {ctx}"
            );
            assert_eq!(
                text_at(col("seq"), i).as_deref(),
                none_if(f[9], "*"),
                "seq {ctx}"
            );
            assert_eq!(
                text_at(col("qual"), i).as_deref(),
                none_if(f[10], "*"),
                "qual {ctx}"
            );
            let end = (flag & 4 == 0 && f[5] != "*" && pos > 0).then(|| end_of(pos, f[5]));
            assert_eq!(i32_at(col("end"), i), end, "end {ctx}");
            let bin = col("bin").as_primitive::<UInt16Type>();
            assert_eq!(
                bin.is_valid(i).then(|| bin.value(i)),
                bin_of(flag, f[2], pos, f[5]),
                "bin {ctx}"
            );
            assert_eq!(
                text_at(col("tags"), i).as_deref(),
                Some(f[11..].join("\t").as_str()),
                "tags {ctx}"
            );
            row += 1;
        }
    }
    assert!(
        lines.next().is_none(),
        "{what}: fewer rows than samtools lines"
    );
}

#[test]
fn every_column_equals_samtools_text() {
    for (bam, sam) in files() {
        let expect = common::oracle_decompress(&std::fs::read(&sam).expect("read"));
        for threads in [1, 2] {
            for batch_rows in [1, 7, 65536] {
                if batch_rows == 1 && threads == 2 {
                    continue; // batch size 1 is exercised at 1 thread; the pipeline is the same
                }
                check_against_sam(
                    stream(&bam, threads, batch_rows),
                    &expect,
                    &format!("{} t={threads} batch={batch_rows}", bam.display()),
                );
            }
        }
    }
}

#[test]
fn row_counts_equal_samtools_count() {
    for bam in common::corpus_bams() {
        let count: usize = std::fs::read_to_string(bam.with_extension("count"))
            .expect("count")
            .trim()
            .parse()
            .expect("number");
        for threads in [1, 2] {
            for batch_rows in [1, 7, 65536] {
                let rows: usize = read_all(&bam, threads, batch_rows)
                    .iter()
                    .map(RecordBatch::num_rows)
                    .sum();
                assert_eq!(
                    rows,
                    count,
                    "{} t={threads} batch={batch_rows}",
                    bam.display()
                );
            }
        }
    }
}

#[test]
fn rname_and_rnext_share_one_dictionary_across_batches() {
    let batches = read_all(&data("sample.bam"), 2, 500);
    assert!(batches.len() > 1);
    let first = batches[0]
        .column_by_name("rname")
        .expect("rname")
        .as_dictionary::<Int32Type>()
        .values()
        .clone();
    for b in &batches {
        for name in ["rname", "rnext"] {
            let values = b
                .column_by_name(name)
                .expect("column")
                .as_dictionary::<Int32Type>()
                .values()
                .clone();
            assert!(
                Arc::ptr_eq(&first, &values),
                "{name}: one shared dictionary"
            );
        }
    }
}

#[test]
fn projection_and_limit() {
    let full = read_all(&data("sample.bam"), 2, 65536);
    let reader = Reader::builder()
        .columns(&["pos", "qname", "flag"])
        .expect("known columns")
        .limit(1234)
        .batch_rows(500)
        .build(Input::open(data("sample.bam")).expect("open"))
        .expect("header");
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["qname", "flag", "pos"], "schema order is kept");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("valid")).collect();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 1234);
    let projected = arrow_select_concat(&batches);
    for name in ["qname", "flag", "pos"] {
        let whole = full[0].column_by_name(name).expect("column").slice(0, 1234);
        assert_eq!(
            projected.column_by_name(name).expect("column").to_data(),
            whole.to_data(),
            "{name}"
        );
    }
    assert!(Reader::builder().columns(&["qname", "nope"]).is_err());
}

/// Concatenates batches of one schema (test helper, column by column).
fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    let schema = batches[0].schema();
    let cols = (0..schema.fields().len())
        .map(|c| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            arrow_select::concat::concat(&parts).expect("concat")
        })
        .collect();
    RecordBatch::try_new(schema, cols).expect("batch")
}

fn rawarrow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rawarrow"))
}

#[test]
fn cli_converts_one_or_several_inputs_and_leaves_nothing_on_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("two.arrow");
    let st = rawarrow()
        .args(["bam", "-t", "2", "--compression", "zstd", "-o"])
        .arg(&out)
        .arg(data("sample.bam"))
        .arg(data("sample.bam"))
        .output()
        .expect("run");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(String::from_utf8_lossy(&st.stderr).contains("8000 records"));
    let rows: usize =
        arrow_ipc::reader::FileReader::try_new(std::fs::File::open(&out).expect("out"), None)
            .expect("ipc")
            .map(|b| b.expect("batch").num_rows())
            .sum();
    assert_eq!(rows, 8000);

    // Typed tag columns from the command line.
    let tagged = dir.path().join("tagged.arrow");
    let st = rawarrow()
        .args([
            "bam",
            "--quiet",
            "--tag",
            "NM",
            "--tag",
            "ZB:B",
            "--columns",
            "qname",
            "-o",
        ])
        .arg(&tagged)
        .arg(data("sample.bam"))
        .status()
        .expect("run");
    assert!(st.success());
    let reader =
        arrow_ipc::reader::FileReader::try_new(std::fs::File::open(&tagged).expect("out"), None)
            .expect("ipc");
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["qname", "NM", "ZB"]);

    // Different references cannot share one output (a usage error, exit 2, as through the
    // stream); --out-dir writes one file each.
    let st = rawarrow()
        .args(["bam", "--quiet", "-o"])
        .arg(dir.path().join("mixed.arrow"))
        .arg(data("sample.bam"))
        .arg(data("floats.bam"))
        .output()
        .expect("run");
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("reference sequences differ"));
    assert!(!dir.path().join("mixed.arrow").exists());
    let each = dir.path().join("each");
    std::fs::create_dir(&each).expect("mkdir");
    let st = rawarrow()
        .args(["bam", "--quiet", "--columns", "qname,seq", "--out-dir"])
        .arg(&each)
        .arg(data("sample.bam"))
        .arg(data("floats.bam"))
        .status()
        .expect("run");
    assert!(st.success());
    assert!(each.join("sample.arrow").is_file() && each.join("floats.arrow").is_file());

    // A corrupt record late in the file: exit 1, the error names record and offset, no output.
    let mut raw = common::oracle_decompress(&std::fs::read(data("sample.bam")).expect("read"));
    let at = raw.len() - 200;
    raw[at..].fill(0xff);
    let bad = dir.path().join("bad.bam");
    std::fs::write(&bad, rawarrow::bgzf::compress_for_tests(&raw)).expect("write");
    let dest = dir.path().join("bad.arrow");
    let st = rawarrow()
        .args(["bam", "--quiet", "--batch-rows", "100", "-o"])
        .arg(&dest)
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(st.status.code(), Some(1));
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(err.contains("bad.bam: record 39"), "{err}");
    assert!(err.contains("virtual offset"), "{err}");
    assert!(!dest.exists(), "no partial output");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The value text of `tag` in a samtools line (after `TG:T:`), if present.
fn sam_tag<'a>(fields: &[&'a str], tag: &str) -> Option<&'a str> {
    fields[11..]
        .iter()
        .find(|f| f.starts_with(tag) && f.as_bytes()[2] == b':')
        .map(|f| &f[5..])
}

#[test]
fn typed_tag_columns_equal_samtools_values() {
    use arrow_array::types::{Float32Type, Int64Type};
    let sam = String::from_utf8(common::oracle_decompress(
        &std::fs::read(data("sample.sam.gz")).expect("read"),
    ))
    .expect("utf8");
    let lines: Vec<Vec<&str>> = sam.lines().map(|l| l.split('\t').collect()).collect();
    for threads in [1, 2] {
        let reader = Reader::builder()
            .threads(threads)
            .batch_rows(777)
            .columns(&["qname"])
            .expect("columns")
            .tags(&["NM", "XF", "RG", "ZB", "XA", "ZH", "AS:Z", "YY"])
            .expect("tags")
            .build(Input::open(data("sample.bam")).expect("open"))
            .expect("header");
        let schema = reader.schema();
        let types: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name(), f.data_type()))
            .collect();
        assert_eq!(
            types,
            [
                "qname:Utf8",
                "NM:Int64",
                "XF:Float32",
                "RG:Utf8",
                "ZB:List(non-null Int64)",
                "XA:Utf8",
                "ZH:Utf8",
                "AS:Utf8",
                "YY:Utf8"
            ]
            .map(String::from)
            .to_vec(),
            "{:?}",
            schema
        );
        let mut row = 0;
        for batch in reader {
            let batch = batch.expect("valid");
            for i in 0..batch.num_rows() {
                let f = &lines[row];
                let nm = batch
                    .column_by_name("NM")
                    .expect("NM")
                    .as_primitive::<Int64Type>();
                assert_eq!(
                    nm.is_valid(i).then(|| nm.value(i)),
                    sam_tag(f, "NM").map(|v| v.parse().expect("int")),
                    "NM row {row}"
                );
                let xf = batch
                    .column_by_name("XF")
                    .expect("XF")
                    .as_primitive::<Float32Type>();
                match sam_tag(f, "XF") {
                    None => assert!(xf.is_null(i)),
                    Some(v) => {
                        let expect: f64 = v.parse().expect("float");
                        let got = f64::from(xf.value(i));
                        assert!(
                            (got - expect).abs() <= 1e-5 * expect.abs().max(1.0),
                            "XF row {row}: {got} vs {v}"
                        );
                    }
                }
                for tag in ["RG", "XA", "ZH", "AS"] {
                    assert_eq!(
                        text_at(batch.column_by_name(tag).expect("tag").as_ref(), i).as_deref(),
                        sam_tag(f, tag),
                        "{tag} row {row}"
                    );
                }
                assert!(batch.column_by_name("YY").expect("YY").is_null(i));
                let zb = batch.column_by_name("ZB").expect("ZB").as_list::<i32>();
                match sam_tag(f, "ZB") {
                    None => assert!(zb.is_null(i)),
                    Some(v) => {
                        let expect: Vec<i64> =
                            v[2..].split(',').map(|x| x.parse().expect("int")).collect();
                        let value = zb.value(i);
                        let got = value.as_primitive::<Int64Type>().values().to_vec();
                        assert_eq!(got, expect, "ZB row {row}");
                    }
                }
                row += 1;
            }
        }
        assert_eq!(row, lines.len());
    }
    // A value that does not fit the requested type names the record.
    for threads in [1, 2] {
        let reader = Reader::builder()
            .threads(threads)
            .tags(&["RG:i"])
            .expect("tags")
            .build(Input::open(data("sample.bam")).expect("open"))
            .expect("header");
        let err = reader
            .map(|b| b.map(|_| ()))
            .find_map(Result::err)
            .expect("type mismatch");
        let text = err.to_string();
        assert!(
            text.contains("sample.bam: record 0 at virtual offset"),
            "{text}"
        );
        assert!(
            text.contains("tag RG has type 'Z' here, but its column holds an integer"),
            "{text}"
        );
    }
    assert!(Reader::builder().tags(&["N"]).is_err());
    assert!(Reader::builder().tags(&["NM:q"]).is_err());
}

/// The header and each record's bytes (after its `block_size`) of a decompressed BAM, framed
/// by hand.
fn framed(raw: &[u8]) -> (rawarrow::bam::Header, Vec<&[u8]>) {
    let (header, mut at) = rawarrow::bam::Header::parse(raw)
        .expect("header")
        .expect("whole header");
    let mut records = Vec::new();
    while at < raw.len() {
        let n = u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes")) as usize;
        records.push(&raw[at + 4..at + 4 + n]);
        at += 4 + n;
    }
    (header, records)
}

#[test]
fn batch_decoder_equals_the_reader_on_records_framed_by_hand() {
    for (bam, _) in files() {
        let raw = common::oracle_decompress(&std::fs::read(&bam).expect("read"));
        let (header, records) = framed(&raw);
        for columns in [&rawarrow::bam::COLUMNS[..], &["seq", "tags", "end"][..]] {
            let projection = rawarrow::bam::Projection::of(columns).expect("columns");
            let mut decoder = rawarrow::bam::BatchDecoder::new(&header, projection);
            let reader = Reader::builder()
                .threads(2)
                .batch_rows(777)
                .columns(columns)
                .expect("columns")
                .build(Input::open(&bam).expect("open"))
                .expect("reader");
            assert_eq!(reader.schema(), decoder.schema());
            let mut start = 0;
            for batch in reader {
                let batch = batch.expect("valid");
                let mine = decoder
                    .decode(&records[start..start + batch.num_rows()])
                    .expect("valid");
                assert_eq!(mine, batch, "{} rows {start}..", bam.display());
                start += batch.num_rows();
            }
            assert_eq!(start, records.len());
            assert_eq!(decoder.decode(&[]).expect("empty").num_rows(), 0);
        }
    }
}

/// Rendered text (CIGAR, tags) goes into a region sized by the previous batch's rate and spills
/// past it into a buffer joined at the end: a narrow batch, then a much wider one (a spill of
/// several MiB, which is not kept), then the same again (all in the region), and each equals
/// samtools' text.
#[test]
fn rendered_text_fits_spills_and_joins_across_batches_of_changing_width() {
    for (bam, sam) in files() {
        let raw = common::oracle_decompress(&std::fs::read(&bam).expect("read"));
        let sam = common::oracle_decompress(&std::fs::read(&sam).expect("read"));
        let lines: Vec<&[u8]> = sam.split_inclusive(|&b| b == b'\n').collect();
        let (header, records) = framed(&raw);
        assert_eq!(records.len(), lines.len(), "{}", bam.display());
        let narrow = (0..records.len())
            .min_by_key(|&i| lines[i].len())
            .expect("records");
        let bytes: usize = lines.iter().map(|l| l.len()).sum();
        let repeat = (4 << 20) / bytes + 1;
        let wide: Vec<usize> = (0..repeat).flat_map(|_| 0..records.len()).collect();
        let mut decoder =
            rawarrow::bam::BatchDecoder::new(&header, rawarrow::bam::Projection::default());
        for (k, rows) in [vec![narrow], wide.clone(), wide, vec![narrow]]
            .into_iter()
            .enumerate()
        {
            let recs: Vec<&[u8]> = rows.iter().map(|&i| records[i]).collect();
            let batch = decoder.decode(&recs).expect("valid");
            let text: Vec<u8> = rows
                .iter()
                .flat_map(|&i| lines[i].iter().copied())
                .collect();
            check_against_sam([batch], &text, &format!("{} batch {k}", bam.display()));
        }
    }
}
