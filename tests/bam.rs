//! BAM decoding: SAM text equal to `samtools view`, and every malformed-record check.

mod common;

use std::path::{Path, PathBuf};

use rawarrow::bam::{self, ErrorKind, RecordError, Records};
use rawarrow::bgzf::Options;
use rawarrow::io::Input;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn gunzip_text(path: &Path) -> Vec<u8> {
    common::oracle_decompress(&std::fs::read(path).expect("read"))
}

/// SAM text of every record, through the public API.
fn view(input: Input, opts: Options) -> Result<(Vec<u8>, u64), rawarrow::Error> {
    let mut records = Records::new(input, opts)?;
    let header = records.header().clone();
    let mut out = Vec::new();
    while records.next_chunk(|r, _| {
        bam::push_sam(r, &header, &mut out);
        Ok(true)
    })? {}
    Ok((out, records.count()))
}

/// The BAM reader's own error under the crate's error.
fn bam_err(e: &rawarrow::Error) -> &bam::Error {
    e.cause::<bam::Error>().expect("a bam::Error under it")
}

/// (BAM, samtools view text, record count) for the repository files and the corpus.
fn oracles() -> Vec<(PathBuf, PathBuf, Option<u64>)> {
    let mut v = vec![
        (data("sample.bam"), data("sample.sam.gz"), Some(4000)),
        (data("floats.bam"), data("floats.sam.gz"), Some(2507)),
    ];
    for bam in common::corpus_bams() {
        let stem = bam.with_extension("");
        let count: u64 = std::fs::read_to_string(stem.with_extension("count"))
            .expect("count file")
            .trim()
            .parse()
            .expect("count");
        v.push((bam.clone(), stem.with_extension("sam.gz"), Some(count)));
    }
    v
}

#[test]
fn sam_text_equals_samtools_view_at_every_thread_count_and_chunk_size() {
    for (bam, sam, count) in oracles() {
        let expect = gunzip_text(&sam);
        for threads in [1, 2] {
            // Small chunks force records across chunk boundaries, large ones the fast path.
            for chunk in [1, 70_000, 512 * 1024] {
                let opts = Options::default().threads(threads).chunk_bytes(chunk);
                let (got, n) = view(Input::open(&bam).expect("open"), opts).expect("valid BAM");
                assert_eq!(
                    Some(n),
                    count,
                    "{} t={threads} chunk={chunk}",
                    bam.display()
                );
                if got != expect {
                    let line = got
                        .split(|&b| b == b'\n')
                        .zip(expect.split(|&b| b == b'\n'))
                        .position(|(a, b)| a != b);
                    panic!(
                        "{} t={threads} chunk={chunk}: first difference at line {line:?}",
                        bam.display()
                    );
                }
            }
        }
    }
}

/// `rawarrow bam view` (which checks aux fields while writing them) on `file`: stdout, stderr
/// and whether it succeeded.
fn cli_view(file: &[u8], threads: &str) -> (Vec<u8>, String, bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("in.bam");
    std::fs::write(&path, file).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args(["bam", "view", "-t", threads])
        .arg(&path)
        .output()
        .expect("run rawarrow");
    let err = String::from_utf8_lossy(&out.stderr).replace(&*path.to_string_lossy(), "in.bam");
    (out.stdout, err, out.status.success())
}

#[test]
fn cli_view_equals_samtools_view() {
    for (bam, sam, _) in oracles() {
        let expect = gunzip_text(&sam);
        let (got, err, ok) = cli_view(&std::fs::read(&bam).expect("read"), "2");
        assert!(ok, "{}: {err}", bam.display());
        assert!(
            got == expect,
            "{}: output differs from samtools",
            bam.display()
        );
    }
}

#[test]
fn header_matches_samtools() {
    let mut records = Records::new(
        Input::open(data("sample.bam")).expect("open"),
        Options::default(),
    )
    .expect("valid");
    let h = records.header().clone();
    assert_eq!(h.references.len(), 2);
    assert_eq!(
        (h.references[0].name.as_str(), h.references[0].len),
        ("chrS1", 60000)
    );
    assert!(
        h.text.starts_with("@HD\tVN:1.6\tSO:coordinate\n"),
        "{}",
        h.text
    );
    assert!(h.text.contains("@RG\tID:sim1\tSM:simulated\tPL:ILLUMINA\n"));
    while records.next_chunk(|_, _| Ok(true)).expect("valid") {}
    for bam in common::corpus_bams() {
        let header = Records::new(Input::open(&bam).expect("open"), Options::default())
            .expect("valid")
            .header()
            .clone();
        let expect =
            String::from_utf8(gunzip_text(&bam.with_extension("header.sam.gz"))).expect("utf8");
        // samtools -H prints the header text; when it has no @SQ lines it adds them from the
        // binary reference list, so compare the lines our text holds.
        for line in header.text.lines() {
            assert!(
                expect.lines().any(|l| l == line),
                "{}: {line}",
                bam.display()
            );
        }
        for r in &header.references {
            assert!(
                expect.contains(&format!("SN:{}\tLN:{}", r.name, r.len)),
                "{}: {}",
                bam.display(),
                r.name
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed records: built by editing the decompressed sample and recompressing it.

struct Raw {
    bytes: Vec<u8>,
    /// Offset of each record's block_size field.
    records: Vec<usize>,
}

fn raw_sample() -> Raw {
    let bytes = common::oracle_decompress(&std::fs::read(data("sample.bam")).expect("read"));
    let (_, header_len) = bam::Header::parse(&bytes)
        .expect("valid")
        .expect("complete");
    let mut records = Vec::new();
    let mut at = header_len;
    while at < bytes.len() {
        records.push(at);
        at += 4 + u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
    }
    Raw { bytes, records }
}

/// Compresses `bytes` and returns the file with the virtual offset of uncompressed byte `u`.
fn compress(bytes: &[u8], u: usize) -> (Vec<u8>, u64) {
    let file = rawarrow::bgzf::compress_for_tests(bytes);
    let index = rawarrow::bgzf::scan(&file).expect("valid");
    let (block, within) = (u / 0xff00, u % 0xff00);
    (
        file.clone(),
        index.blocks[block].offset << 16 | within as u64,
    )
}

fn expect_record_error(
    bytes: Vec<u8>,
    record: usize,
    at: usize,
    check: impl Fn(&RecordError) -> bool,
) {
    let (file, voffset) = compress(&bytes, at);
    for threads in [1, 2] {
        let err = view(
            Input::from_bytes("bad.bam", file.clone()),
            Options::default().threads(threads).chunk_bytes(100_000),
        )
        .expect_err("malformed record detected");
        assert_record_error(&err, &check, record, voffset, &format!("view t={threads}"));
        let text = err.to_string();
        assert!(text.starts_with("bad.bam: record "), "{text}");
        assert!(
            text.contains(&format!("virtual offset {voffset}")),
            "{text}"
        );
    }
    // `rawarrow bam view` checks aux fields while writing them: the same message.
    let want = view(
        Input::from_bytes("in.bam", file.clone()),
        Options::default(),
    )
    .expect_err("malformed")
    .to_string();
    for threads in ["1", "2"] {
        let (_, err, ok) = cli_view(&file, threads);
        assert!(
            !ok && err.contains(&want),
            "t={threads}: {err}\nwant: {want}"
        );
    }
    // The Arrow reader validates in its own order (aux fields while rendering the tags): the
    // same record and error, with every column, and with a projection that has no tags.
    for (threads, columns) in [(1, None), (2, None), (1, Some(["qname", "pos"]))] {
        let err = arrow_error(file.clone(), threads, columns.as_ref().map(|c| &c[..]));
        assert_record_error(&err, &check, record, voffset, &format!("arrow t={threads}"));
    }
}

/// `err` is a record error at `record` and `voffset` that `check` accepts.
fn assert_record_error(
    err: &rawarrow::Error,
    check: &impl Fn(&RecordError) -> bool,
    record: usize,
    voffset: u64,
    what: &str,
) {
    assert_eq!(
        err.location(),
        rawarrow::Location::Record {
            index: record as u64,
            position: voffset.into()
        },
        "{what}"
    );
    match bam_err(err).kind() {
        ErrorKind::Record {
            index,
            voffset: v,
            error,
        } => {
            assert!(check(error), "{what}: unexpected {error:?}");
            assert_eq!((*index, u64::from(*v)), (record as u64, voffset), "{what}");
        }
        other => panic!("{what}: unexpected {other:?}"),
    }
}

/// The error of reading `file` into Arrow batches (of 700 rows), after the batches before it.
fn arrow_error(file: Vec<u8>, threads: usize, columns: Option<&[&str]>) -> rawarrow::Error {
    let mut b = bam::Reader::builder()
        .bgzf_options(Options::default().threads(threads).chunk_bytes(100_000))
        .batch_rows(700);
    if let Some(c) = columns {
        b = b.columns(c).expect("columns");
    }
    let mut reader = b.build(Input::from_bytes("bad.bam", file)).expect("header");
    loop {
        match reader.next_batch() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("malformed record not detected"),
            Err(e) => return e,
        }
    }
}

/// Where record `k`'s aux data starts in `r.bytes`.
fn aux_start(r: &Raw, k: usize) -> usize {
    let body = r.records[k] + 4;
    let l_name = usize::from(r.bytes[body + 8]);
    let n_cigar = usize::from(u16::from_le_bytes([r.bytes[body + 12], r.bytes[body + 13]]));
    let l_seq = u32::from_le_bytes(r.bytes[body + 16..body + 20].try_into().expect("4")) as usize;
    body + 32 + l_name + 4 * n_cigar + l_seq.div_ceil(2) + l_seq
}

#[test]
fn tag_text_that_arrow_strings_cannot_hold() {
    // samtools prints the bytes as they are; an Arrow Utf8 column cannot hold them, so the
    // Arrow reader names the record (with and without a bad record before it in the batch).
    let r = raw_sample();
    let k = 2500;
    let aux = aux_start(&r, k);
    let end = r.records[k + 1];
    let rg = aux
        + r.bytes[aux..end]
            .windows(3)
            .position(|w| w == b"RGZ")
            .expect("RG:Z");
    assert_eq!(&r.bytes[rg..rg + 8], b"RGZsim1\0");
    for (bytes, reason) in [
        (b"RGZ\xffim1\0", "string value is not UTF-8"),
        // RG:A:<0xe9> and XA:A:x in the same 8 bytes.
        (b"RGA\xe9XAAx", "character value is not ASCII"),
    ] {
        let mut b = r.bytes.clone();
        b[rg..rg + 8].copy_from_slice(bytes);
        let (file, voffset) = compress(&b, r.records[k]);
        assert!(view(
            Input::from_bytes("ok.bam", file.clone()),
            Options::default()
        )
        .is_ok());
        let (_, err, ok) = cli_view(&file, "2");
        assert!(ok, "bam view prints the bytes as they are: {err}");
        for threads in [1, 2] {
            let err = arrow_error(file.clone(), threads, None);
            match bam_err(&err).kind() {
                ErrorKind::Record {
                    index,
                    voffset: v,
                    error: RecordError::Aux { at, reason: why },
                } => {
                    assert_eq!((*index, u64::from(*v)), (k as u64, voffset));
                    assert_eq!((*at, *why), (rg - aux, reason));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // Without the tags column the values are never rendered: no error.
        let mut reader = bam::Reader::builder()
            .columns(&["qname", "seq"])
            .expect("columns")
            .build(Input::from_bytes("ok.bam", file))
            .expect("header");
        while reader.next_batch().expect("valid without tags").is_some() {}
    }
}

fn i32_le(b: &mut [u8], at: usize, v: i32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn block_size_below_32() {
    let mut r = raw_sample();
    let k = 1234;
    let at = r.records[k];
    i32_le(&mut r.bytes, at, 31);
    expect_record_error(r.bytes, k, at, |e| *e == RecordError::BlockSizeTooSmall(31));
}

/// `l_read_name` 0 is an error; a name without its NUL is read as htslib patches it (every
/// byte is the name), with one warning naming the first such record; a name that is not UTF-8
/// is printed as bytes by SAM text, refused only by the Utf8 `qname` column.
#[test]
fn empty_unterminated_and_binary_read_names() {
    let r = raw_sample();
    let k = 100;
    let at = r.records[k];
    let mut b = r.bytes.clone();
    b[at + 4 + 8] = 0;
    expect_record_error(b, k, at, |e| *e == RecordError::EmptyReadName);

    let l_name = usize::from(r.bytes[at + 4 + 8]);
    let name = r.bytes[at + 4 + 32..at + 4 + 32 + l_name - 1].to_vec();
    let mut b = r.bytes.clone();
    for j in [k, k + 7] {
        let at = r.records[j];
        let l = usize::from(b[at + 4 + 8]);
        b[at + 4 + 32 + l - 1] = b'x';
    }
    let (file, _) = compress(&b, at);
    let (sam, _) = view(
        Input::from_bytes("nul.bam", file.clone()),
        Options::default(),
    )
    .expect("read");
    let mut want = name.clone();
    want.extend_from_slice(b"x\t");
    assert!(
        sam.windows(want.len()).any(|w| w == want),
        "the name keeps every byte"
    );
    for threads in [1, 2] {
        let mut reader = bam::Reader::builder()
            .threads(threads)
            .batch_rows(64)
            .columns(&["qname"])
            .expect("columns")
            .build(Input::from_bytes("nul.bam", file.clone()))
            .expect("header");
        let mut names = Vec::new();
        while let Some(batch) = reader.next_batch().expect("read") {
            let col = batch
                .column(0)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .expect("Utf8");
            names.extend(col.iter().map(|n| n.map(str::to_string)));
        }
        let mut got = name.clone();
        got.push(b'x');
        assert_eq!(names[k].as_deref().map(str::as_bytes), Some(&got[..]));
        let w = reader.take_warnings();
        assert!(
            w.len() == 1
                && w[0].contains("2 record(s)")
                && w[0].contains(&format!("the first is record {k};")),
            "t={threads}: {w:?}"
        );
    }

    let mut b = r.bytes.clone();
    b[at + 4 + 32] = 0xff;
    let (file, voffset) = compress(&b, at);
    let (sam, n) = view(
        Input::from_bytes("bin.bam", file.clone()),
        Options::default(),
    )
    .expect("read");
    assert_eq!(n, r.records.len() as u64);
    let mut want = vec![0xff];
    want.extend_from_slice(&name[1..]);
    assert!(
        sam.windows(want.len()).any(|w| w == want),
        "SAM text keeps the bytes"
    );
    for threads in [1, 2] {
        let e = arrow_error(file.clone(), threads, Some(&["qname", "flag"]));
        assert!(
            matches!(bam_err(&e).kind(), ErrorKind::Record { index, voffset: v, error: RecordError::ReadNameNotUtf8 } if *index == k as u64 && u64::from(*v) == voffset),
            "{e}"
        );
        // Without the qname column the name is never decoded.
        let mut reader = bam::Reader::builder()
            .threads(threads)
            .columns(&["flag"])
            .expect("columns")
            .build(Input::from_bytes("bin.bam", file.clone()))
            .expect("header");
        while reader.next_batch().expect("no qname, no error").is_some() {}
    }
}

#[test]
fn reference_ids_out_of_range() {
    let r = raw_sample();
    let k = 2000;
    let at = r.records[k];
    let mut b = r.bytes.clone();
    i32_le(&mut b, at + 4, 2); // the header has 2 references
    expect_record_error(b, k, at, |e| *e == RecordError::RefIdOutOfRange(2));
    let mut b = r.bytes.clone();
    i32_le(&mut b, at + 4 + 20, -2);
    expect_record_error(b, k, at, |e| *e == RecordError::NextRefIdOutOfRange(-2));
}

/// A 0-based position of 2³¹ − 1: samtools prints it (2147483648), so `bam view` does; only the
/// Int32 `pos`/`pnext` columns refuse it, naming the record. Values below -1 are kept as htslib
/// keeps them (tests/bam_samtools.rs).
#[test]
fn positions_past_the_int32_columns() {
    let r = raw_sample();
    let k = 1500;
    let at = r.records[k];
    for (field, offset, column) in [("pos", 4, "pos"), ("next_pos", 24, "pnext")] {
        let mut b = r.bytes.clone();
        i32_le(&mut b, at + 4 + offset, i32::MAX);
        let (file, voffset) = compress(&b, at);
        let (sam, n) =
            view(Input::from_bytes("p.bam", file.clone()), Options::default()).expect("read");
        assert_eq!(n, r.records.len() as u64);
        assert!(
            String::from_utf8_lossy(&sam).contains("\t2147483648\t"),
            "{field}"
        );
        for threads in [1, 2] {
            let e = arrow_error(file.clone(), threads, Some(&[column, "flag"]));
            let want = RecordError::PositionOutOfRange {
                field,
                value: i32::MAX,
            };
            assert!(
                matches!(bam_err(&e).kind(), ErrorKind::Record { index, voffset: v, error } if *index == k as u64 && u64::from(*v) == voffset && *error == want),
                "{e}"
            );
        }
    }
}

#[test]
fn variable_fields_overrun_the_record() {
    let r = raw_sample();
    let k = 7;
    let at = r.records[k];
    let mut b = r.bytes.clone();
    b[at + 4 + 12..at + 4 + 14].copy_from_slice(&u16::MAX.to_le_bytes()); // n_cigar_op
    expect_record_error(b, k, at, |e| matches!(e, RecordError::FieldsOverrun { .. }));
    let mut b = r.bytes.clone();
    i32_le(&mut b, at + 4 + 16, -5);
    expect_record_error(b, k, at, |e| *e == RecordError::NegativeSequenceLength(-5));
}

#[test]
fn cigar_ops_and_lengths() {
    let r = raw_sample();
    // Find a mapped record with a CIGAR.
    let k = (0..r.records.len())
        .find(|&k| {
            let at = r.records[k] + 4;
            let flag = u16::from_le_bytes([r.bytes[at + 14], r.bytes[at + 15]]);
            let n_cigar = u16::from_le_bytes([r.bytes[at + 12], r.bytes[at + 13]]);
            flag & 4 == 0 && n_cigar > 0
        })
        .expect("a mapped record");
    let at = r.records[k];
    let cigar_at = at + 4 + 32 + usize::from(r.bytes[at + 4 + 8]);
    // An undefined op code (htslib prints `B`/`?`) consumes nothing: the query length no longer
    // matches the sequence.
    let mut b = r.bytes.clone();
    b[cigar_at] = (b[cigar_at] & 0xf0) | 9;
    expect_record_error(b, k, at, |e| {
        matches!(e, RecordError::CigarSeqMismatch { .. })
    });
    let mut b = r.bytes.clone();
    let op = u32::from_le_bytes(b[cigar_at..cigar_at + 4].try_into().expect("4 bytes"));
    let longer = ((op >> 4) + 1) << 4 | (op & 0xf);
    b[cigar_at..cigar_at + 4].copy_from_slice(&longer.to_le_bytes());
    expect_record_error(b.clone(), k, at, |e| {
        matches!(e, RecordError::CigarSeqMismatch { .. })
    });
    // Two faults in one record, the CIGAR and an aux type code: every path reports the aux one
    // (full validation checks aux fields first), also where aux checks are deferred.
    let mut two = b.clone();
    two[aux_start(&r, k) + 2] = b'q';
    expect_record_error(two, k, at, |e| matches!(e, RecordError::Aux { at: 0, .. }));
    // A later record whose fields overrun it (caught before decoding, when the batch is
    // sized): the earlier CIGAR fault is still the one reported.
    let later = r.records[k + 2] + 4;
    i32_le(&mut b, later + 16, 1 << 24);
    expect_record_error(b, k, at, |e| {
        matches!(e, RecordError::CigarSeqMismatch { .. })
    });
}

#[test]
fn malformed_aux() {
    let r = raw_sample();
    let k = 3000;
    let at = r.records[k];
    let end = r.records[k + 1];
    // The first tag's type code sits 3 bytes into the aux data.
    let aux = aux_start(&r, k);
    assert!(aux + 3 < end, "record has tags");
    let mut b = r.bytes.clone();
    b[aux + 2] = b'q';
    let bad_type = |e: &RecordError| {
        matches!(
            e,
            RecordError::Aux {
                at: 0,
                reason: "unknown aux type code"
            }
        )
    };
    expect_record_error(b.clone(), k, at, bad_type);
    // A later record of the same batch with another fault (a reference id out of range, found
    // before aux fields are walked): the earlier record's aux error is still the one reported.
    i32_le(&mut b, r.records[k + 3] + 4, 2);
    expect_record_error(b, k, at, bad_type);
}

#[test]
fn truncated_record_at_eof() {
    let r = raw_sample();
    let k = r.records.len() - 1;
    let at = r.records[k];
    for cut in [at + 2, at + 10, r.bytes.len() - 1] {
        let (file, voffset) = compress(&r.bytes[..cut], at);
        for threads in [1, 2] {
            let err = view(
                Input::from_bytes("cut.bam", file.clone()),
                Options::default().threads(threads),
            )
            .expect_err("truncated");
            match bam_err(&err).kind() {
                ErrorKind::TruncatedRecord {
                    index,
                    voffset: v,
                    available,
                    ..
                } => {
                    assert_eq!(
                        (*index, u64::from(*v), *available),
                        (k as u64, voffset, (cut - at) as u64)
                    );
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn record_spanning_many_blocks_and_the_last_block() {
    // One record of ~300 kB (larger than several BGZF blocks) at the very end of the file.
    let mut r = raw_sample();
    let n = 300_000usize;
    let name = b"huge\0";
    let mut rec = Vec::new();
    rec.extend_from_slice(&0i32.to_le_bytes()); // refID
    rec.extend_from_slice(&10i32.to_le_bytes()); // pos
    rec.push(name.len() as u8);
    rec.push(60);
    rec.extend_from_slice(&0u16.to_le_bytes());
    rec.extend_from_slice(&1u16.to_le_bytes()); // one CIGAR op
    rec.extend_from_slice(&0u16.to_le_bytes()); // flag
    rec.extend_from_slice(&(n as u32).to_le_bytes());
    rec.extend_from_slice(&(-1i32).to_le_bytes());
    rec.extend_from_slice(&(-1i32).to_le_bytes());
    rec.extend_from_slice(&0i32.to_le_bytes());
    rec.extend_from_slice(name);
    rec.extend_from_slice(&((n as u32) << 4).to_le_bytes()); // nM
    rec.extend(std::iter::repeat_n(0x12u8, n / 2)); // ACAC...
    rec.extend(std::iter::repeat_n(30u8, n));
    rec.extend_from_slice(b"NMC\x05");
    r.bytes.extend_from_slice(&(rec.len() as u32).to_le_bytes());
    r.bytes.extend_from_slice(&rec);
    let (file, _) = compress(&r.bytes, 0);
    for threads in [1, 2] {
        for chunk in [1, 100_000] {
            let (text, count) = view(
                Input::from_bytes("huge.bam", file.clone()),
                Options::default().threads(threads).chunk_bytes(chunk),
            )
            .expect("valid");
            assert_eq!(count, 4001);
            let last = text[..text.len() - 1]
                .rsplit(|&b| b == b'\n')
                .next()
                .expect("a line");
            let fields: Vec<&[u8]> = last.split(|&b| b == b'\t').collect();
            assert_eq!(fields[0], b"huge");
            assert_eq!(fields[5], format!("{n}M").as_bytes());
            assert_eq!(fields[9].len(), n);
            assert!(fields[9].chunks(2).all(|p| p == b"AC"));
            assert!(fields[10].iter().all(|&q| q == b'?'));
            assert_eq!(fields[11], b"NM:i:5");
        }
    }
}

#[test]
fn bad_magic_and_truncated_header() {
    let r = raw_sample();
    let mut b = r.bytes.clone();
    b[0] = b'C';
    let file = rawarrow::bgzf::compress_for_tests(&b);
    let err = view(Input::from_bytes("x.bam", file), Options::default()).expect_err("bad magic");
    assert!(
        matches!(
            bam_err(&err).kind(),
            ErrorKind::Header(bam::HeaderError::BadMagic(_))
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("at uncompressed offset 0"),
        "{err}"
    );
    let file = rawarrow::bgzf::compress_for_tests(&r.bytes[..100]);
    let err =
        view(Input::from_bytes("x.bam", file.clone()), Options::default()).expect_err("truncated");
    assert!(
        matches!(bam_err(&err).kind(), ErrorKind::TruncatedHeader),
        "{err}"
    );
    assert!(
        err.to_string().ends_with(
            "x.bam: BAM header at uncompressed offset 100: the file ends inside the BAM header"
        ),
        "{err}"
    );
    // The byte-range reader says the same.
    let err = bam::Reader::builder()
        .byte_range(0, 10)
        .build(Input::from_bytes("x.bam", file))
        .expect_err("truncated");
    assert!(
        err.to_string()
            .contains("uncompressed offset 100: the file ends inside"),
        "{err}"
    );
    // Each faulty field is named with its offset in the uncompressed stream.
    let l_text = i32::from_le_bytes(r.bytes[4..8].try_into().expect("4")) as usize;
    let first_ref = 8 + l_text + 4;
    let cases: [(usize, &[u8], String); 4] = [
        (
            4,
            &(-1i32).to_le_bytes(),
            "offset 4: negative l_text".into(),
        ),
        (
            first_ref - 4,
            &(-2i32).to_le_bytes(),
            format!("offset {}: negative n_ref", first_ref - 4),
        ),
        (
            first_ref,
            &0i32.to_le_bytes(),
            format!("offset {}: reference 0: l_name is 0", first_ref + 4),
        ),
        (
            first_ref,
            &(-7i32).to_le_bytes(),
            format!("offset {first_ref}: negative l_name"),
        ),
    ];
    for (at, patch, want) in cases {
        let mut b = r.bytes.clone();
        b[at..at + patch.len()].copy_from_slice(patch);
        let file = rawarrow::bgzf::compress_for_tests(&b);
        let err = view(Input::from_bytes("x.bam", file), Options::default()).expect_err("bad");
        assert!(err.to_string().contains(&want), "want {want:?}: {err}");
    }
}

/// A bad record followed, in the same batch, by a framing error (a truncated record): every
/// thread count reports the earlier record first (found by the `bam` fuzz target).
#[test]
fn earlier_record_error_wins_over_later_framing_error() {
    let r = raw_sample();
    let k = 1;
    let at = r.records[k];
    let mut b = r.bytes[..r.records[3]].to_vec();
    // Record 1: an unknown aux type code in its first tag.
    let body = at + 4;
    let l_name = usize::from(b[body + 8]);
    let n_cigar = usize::from(u16::from_le_bytes([b[body + 12], b[body + 13]]));
    let l_seq = u32::from_le_bytes(b[body + 16..body + 20].try_into().expect("4")) as usize;
    let aux = body + 32 + l_name + 4 * n_cigar + l_seq.div_ceil(2) + l_seq;
    b[aux + 2] = b'q';
    // Then a record that claims more bytes than the file has.
    b.extend_from_slice(&1_000_000u32.to_le_bytes());
    b.extend_from_slice(&[0u8; 40]);
    let file = rawarrow::bgzf::compress_for_tests(&b);
    for threads in [1, 2] {
        for batch in [1, 3, 100] {
            let reader = rawarrow::bam::Reader::builder()
                .threads(threads)
                .batch_rows(batch)
                .build(Input::from_bytes("x.bam", file.clone()))
                .expect("header");
            let err = reader
                .map(|b| b.map(|_| ()))
                .find_map(Result::err)
                .expect("an error");
            let text = err.to_string();
            assert!(
                text.contains("x.bam: record 1 at virtual offset"),
                "t={threads} batch={batch}: {text}"
            );
            assert!(
                text.contains("unknown aux type code"),
                "t={threads} batch={batch}: {text}"
            );
        }
    }
}

/// Every batch (and so every output file) carries the header as schema metadata: the text
/// equals samtools' `view -H` without the `@PG` lines samtools adds for itself.
#[test]
fn header_travels_as_schema_metadata() {
    for bam in common::all_bams() {
        let reader = rawarrow::bam::Reader::builder()
            .threads(2)
            .build(Input::open(&bam).expect("open"))
            .expect("valid");
        let header = reader.header().clone();
        let schema = arrow_array::RecordBatchReader::schema(&reader);
        let text = &schema.metadata()[rawarrow::bam::METADATA_HEADER];
        let refs = &schema.metadata()[rawarrow::bam::METADATA_REFERENCES];
        let expect_refs: String = header
            .references
            .iter()
            .map(|r| format!("{}\t{}\n", r.name, r.len))
            .collect();
        assert_eq!(*refs, expect_refs);
        assert_eq!(refs.lines().count(), header.references.len());
        let samtools = bam.with_extension("header.sam.gz");
        if samtools.exists() {
            let expect = String::from_utf8(gunzip_text(&samtools)).expect("utf8");
            // samtools adds one @PG line per leaf of the file's @PG chain, after the last @PG.
            let added =
                |l: &&str| l.starts_with("@PG\tID:samtools") && l.contains("CL:samtools view -H");
            assert!(expect.lines().any(|l| added(&l)), "{}", bam.display());
            let without: Vec<&str> = expect.lines().filter(|l| !added(l)).collect();
            let ours: Vec<&str> = text.lines().collect();
            assert!(ours == without, "{}: header text differs", bam.display());
        } else {
            assert!(text.starts_with("@HD\tVN:1.6\tSO:coordinate\n"), "{text}");
        }
        for batch in reader {
            assert_eq!(batch.expect("valid").schema().metadata(), schema.metadata());
        }
    }
}

fn view_with(args: &[&str], path: &std::path::Path) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args(["bam", "view"])
        .args(args)
        .arg(path)
        .output()
        .expect("run rawarrow");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `bam view -H` / `-h` print what `samtools view --no-PG -H` / `-h` print: the corpus header
/// files without samtools' own @PG lines, then the records.
#[test]
fn view_with_header_equals_samtools() {
    for (bam, sam, _) in oracles() {
        let header = view_with(&["-H"], &bam);
        let samtools = bam.with_extension("header.sam.gz");
        if samtools.exists() {
            let text = String::from_utf8(gunzip_text(&samtools)).expect("utf8");
            let expect: String = text
                .lines()
                .filter(|l| {
                    !(l.starts_with("@PG\tID:samtools") && l.contains("CL:samtools view -H"))
                })
                .map(|l| format!("{l}\n"))
                .collect();
            assert!(header == expect.as_bytes(), "{}: -H differs", bam.display());
        }
        let mut with = header.clone();
        with.extend_from_slice(&gunzip_text(&sam));
        assert!(
            view_with(&["-h", "-t", "2"], &bam) == with,
            "{}: -h",
            bam.display()
        );
    }
    // A header text without @SQ lines: htslib (samtools 1.16) appends them from the binary
    // reference list; the expected text is what samtools printed for this file.
    let text = b"@HD\tVN:1.6\n@RG\tID:x\n";
    let mut raw = b"BAM\x01".to_vec();
    raw.extend_from_slice(&(text.len() as i32).to_le_bytes());
    raw.extend_from_slice(text);
    raw.extend_from_slice(&2i32.to_le_bytes());
    for (name, len) in [("c1", 100i32), ("c2", 200)] {
        raw.extend_from_slice(&(name.len() as i32 + 1).to_le_bytes());
        raw.extend_from_slice(name.as_bytes());
        raw.push(0);
        raw.extend_from_slice(&len.to_le_bytes());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nosq.bam");
    std::fs::write(&path, rawarrow::bgzf::compress_for_tests(&raw)).expect("write");
    assert_eq!(
        String::from_utf8(view_with(&["-H"], &path)).expect("utf8"),
        "@HD\tVN:1.6\n@RG\tID:x\n@SQ\tSN:c1\tLN:100\n@SQ\tSN:c2\tLN:200\n"
    );
}

/// Qualities above 93 print as samtools prints them in `bam view` (the byte q + 33, wrapping),
/// while the Arrow `qual` column keeps its `~` cap.
#[test]
fn view_prints_high_qualities_as_samtools() {
    let mut r = raw_sample();
    let k = 1234;
    let at = r.records[k] + 4;
    let b = &r.bytes[at..];
    let l_read_name = usize::from(b[8]);
    let n_cigar = usize::from(u16::from_le_bytes([b[12], b[13]]));
    let l_seq = u32::from_le_bytes([b[16], b[17], b[18], b[19]]) as usize;
    assert!(l_seq >= 6);
    let q = at + 32 + l_read_name + 4 * n_cigar + l_seq.div_ceil(2);
    let high = [93u8, 94, 100, 200, 222, 250];
    r.bytes[q..q + high.len()].copy_from_slice(&high);
    let (file, _) = compress(&r.bytes, 0);
    let mut expected = gunzip_text(&data("sample.sam.gz"));
    let line_start = expected
        .split(|&c| c == b'\n')
        .take(k)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let fields_before = expected[line_start..]
        .split(|&c| c == b'\t')
        .take(10)
        .map(|f| f.len() + 1)
        .sum::<usize>();
    let qual_at = line_start + fields_before;
    for (i, &v) in high.iter().enumerate() {
        expected[qual_at + i] = v.wrapping_add(33);
    }
    for threads in ["1", "2"] {
        let (out, err, ok) = cli_view(&file, threads);
        assert!(ok, "{err}");
        assert!(
            out == expected,
            "bam view -t {threads} differs from samtools' bytes"
        );
    }
    // The Arrow column: capped at '~', as documented.
    let reader = rawarrow::bam::Reader::builder()
        .columns(&["qual"])
        .expect("column")
        .build(Input::from_bytes("high.bam", file))
        .expect("valid");
    let mut seen = 0;
    for batch in reader {
        let batch = batch.expect("valid");
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .expect("Utf8");
        for i in 0..batch.num_rows() {
            if seen + i == k {
                assert!(col.value(i).starts_with("~~~~~~"), "{}", col.value(i));
            }
        }
        seen += batch.num_rows();
    }
}

/// A column fault (a read name the Utf8 column cannot hold) after a record with a bad aux
/// field: the earlier record's fault is the error, as the SAM path reports it (found by the
/// `bam` fuzz target).
#[test]
fn earlier_aux_fault_wins_over_a_later_column_fault() {
    let r = raw_sample();
    let (k, j) = (20, 21);
    let mut b = r.bytes.clone();
    b[r.records[j] + 4 + 32] = 0xff; // record 21's name: not UTF-8
    let at = r.records[k] + 4;
    let n_cigar = u16::from_le_bytes([b[at + 12], b[at + 13]]) as usize;
    let l_seq = u32::from_le_bytes(b[at + 16..at + 20].try_into().expect("4")) as usize;
    let aux = at + 32 + usize::from(b[at + 8]) + 4 * n_cigar + l_seq.div_ceil(2) + l_seq;
    b[aux + 2] = b'q'; // record 20's first aux type code
    let (file, voffset) = compress(&b, r.records[k]);
    for threads in [1, 2] {
        let e = arrow_error(file.clone(), threads, None);
        assert!(
            matches!(bam_err(&e).kind(), ErrorKind::Record { index, voffset: v, error: RecordError::Aux { reason: "unknown aux type code", .. } } if *index == k as u64 && u64::from(*v) == voffset),
            "t={threads}: {e}"
        );
    }
}

/// The SAM sink (`-o NAME.sam`, `convert_bam(..., "x.sam")`, C `format = "sam"`) writes what
/// `samtools view -h` prints: the header, then every record's line; from the CLI too.
#[test]
fn sam_output_equals_samtools_view() {
    use rawarrow::convert::{run, Input as Conversion, Output};
    let dir = tempfile::tempdir().expect("temporary folder");
    for (bam, sam, _) in oracles() {
        let out = dir.path().join("out.sam");
        let input = Conversion::Bam {
            paths: vec![bam.clone()],
            options: Default::default(),
        };
        run(&input, &Output::new(&out), &mut |_, _| Ok(())).expect("converts");
        let text = std::fs::read(&out).expect("written");
        let split = text
            .split_inclusive(|&b| b == b'\n')
            .take_while(|l| l.starts_with(b"@"))
            .map(<[u8]>::len)
            .sum();
        let (header, records) = text.split_at(split);
        assert!(
            records == gunzip_text(&sam).as_slice(),
            "{}: records differ from samtools view",
            bam.display()
        );
        let samtools = bam.with_extension("header.sam.gz");
        if samtools.exists() {
            let expect = String::from_utf8(gunzip_text(&samtools)).expect("utf8");
            // samtools adds its own @PG line (view without --no-PG).
            let added =
                |l: &&str| l.starts_with("@PG\tID:samtools") && l.contains("CL:samtools view -H");
            let without: Vec<&str> = expect.lines().filter(|l| !added(l)).collect();
            let ours: Vec<&str> = std::str::from_utf8(header).expect("utf8").lines().collect();
            assert!(ours == without, "{}: header differs", bam.display());
        } else {
            let records = Records::new(Input::open(&bam).expect("open"), Options::default());
            assert_eq!(header, records.expect("valid").header().sam_bytes());
        }
    }
    // The command line reaches the same sink.
    let cli = dir.path().join("cli.sam");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args(["bam", "--quiet", "-o"])
        .arg(&cli)
        .arg(data("sample.bam"))
        .status()
        .expect("run rawarrow");
    assert!(status.success());
    let input = Conversion::Bam {
        paths: vec![data("sample.bam")],
        options: Default::default(),
    };
    let out = dir.path().join("lib.sam");
    run(&input, &Output::new(&out), &mut |_, _| Ok(())).expect("converts");
    assert_eq!(
        std::fs::read(&cli).expect("cli"),
        std::fs::read(&out).expect("lib")
    );
    // A projection without SAM's columns is refused before anything is written.
    let input = Conversion::Bam {
        paths: vec![data("sample.bam")],
        options: rawarrow::stream::BamOptions {
            columns: Some(vec!["qname".into(), "pos".into()]),
            ..Default::default()
        },
    };
    let refused = dir.path().join("refused.sam");
    let e = run(&input, &Output::new(&refused), &mut |_, _| Ok(())).expect_err("no flag");
    assert_eq!(e.kind(), rawarrow::ErrorKind::Usage);
    assert!(
        e.to_string().contains("this stream lacks flag,rname"),
        "{e}"
    );
    assert!(!refused.exists());
}
