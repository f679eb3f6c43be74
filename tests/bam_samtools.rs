//! BAM the way samtools users work, with samtools itself as the oracle: filters and counts,
//! records htslib accepts, inputs that are not BAM.

mod common;

use std::path::{Path, PathBuf};

use rawarrow::bam::{parse_flags, Filter, Reader};
use rawarrow::io::Input;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Rows the library's reader returns with `filter`.
fn arrow_rows(path: &Path, filter: Filter, threads: usize) -> u64 {
    let reader = Reader::builder()
        .threads(threads)
        .columns(&["flag", "mapq"])
        .expect("columns")
        .batch_rows(1000)
        .filter(filter)
        .build(Input::open(path).expect("open"))
        .expect("valid BAM");
    let mut rows = 0;
    for batch in reader {
        rows += batch.expect("valid").num_rows() as u64;
    }
    rows
}

/// `-c` with every combination of `-q`, `-f` and `-F` equals `samtools view -c`; the library's
/// filtered reader returns as many rows; the filtered SAM text equals samtools' for some.
#[test]
fn filters_and_counts_equal_samtools() {
    if common::samtools().is_none() {
        return;
    }
    for bam in common::all_bams() {
        let p = bam.to_str().expect("utf8 path");
        let mut distinct = std::collections::BTreeSet::new();
        for q in ["0", "1", "30", "60"] {
            for f in ["0", "0x1", "PROPER_PAIR,READ1"] {
                for ff in ["0", "UNMAP", "0x904"] {
                    let args = ["-q", q, "-f", f, "-F", ff];
                    let want = text(&common::samtools_out(
                        &[&["view", "-c"][..], &args, &[p]].concat(),
                    ));
                    let (got, err, ok) =
                        common::rawarrow(&[&["bam", "-c"][..], &args, &[p]].concat());
                    assert!(ok, "{err}");
                    assert_eq!(text(&got), want, "{p} {args:?}");
                    let n: u64 = want.trim().parse().expect("count");
                    distinct.insert(n);
                    if q == "30" || f == "0x1" {
                        let filter = Filter::default()
                            .min_mapq(q.parse().expect("q"))
                            .require_flags(parse_flags(f).expect("flags"))
                            .exclude_flags(parse_flags(ff).expect("flags"));
                        for threads in [1, 2] {
                            assert_eq!(arrow_rows(&bam, filter, threads), n, "{p} {args:?}");
                        }
                    }
                }
            }
        }
        assert!(distinct.len() > 1, "{p}: the filters select something");
        for args in [&["-q", "30"][..], &["-F", "0x904", "-f", "READ2"]] {
            let want = common::samtools_out(&[&["view"][..], args, &[p]].concat());
            let (got, err, ok) = common::rawarrow(&[&["bam", "view"][..], args, &[p]].concat());
            assert!(ok, "{err}");
            assert!(got == want, "{p} {args:?}: filtered text differs");
        }
    }
}

/// A limit counts kept records, not records read.
#[test]
fn limit_counts_kept_records() {
    let filter = Filter::default().min_mapq(30);
    let reader = Reader::builder()
        .threads(2)
        .batch_rows(100)
        .filter(filter)
        .limit(555)
        .columns(&["mapq"])
        .expect("columns")
        .build(Input::open(common::sample_bam()).expect("open"))
        .expect("valid");
    let mut rows = 0;
    for batch in reader {
        let batch = batch.expect("valid");
        let mapq = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::UInt8Array>()
            .expect("UInt8");
        assert!(mapq.iter().all(|q| q.is_none_or(|q| q >= 30)));
        rows += batch.num_rows();
    }
    assert_eq!(rows, 555);
}

/// Records samtools prints that the SAM spec frowns on: tag names outside
/// `[A-Za-z][A-Za-z0-9]` (htslib's own test data uses `A!`) and positions below -1 (a real file
/// has next_pos -129,696,967). The BAM is made by samtools from SAM text (which cannot hold a
/// negative position), then the positions are patched in its bytes.
#[test]
fn records_htslib_accepts() {
    if common::samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sam = dir.path().join("lenient.sam");
    std::fs::write(
        &sam,
        "@HD\tVN:1.6\tSO:unsorted\n@SQ\tSN:c1\tLN:1000\n\
         r1\t0\tc1\t5\t60\t4M\t*\t0\t0\tACGT\tIIII\tA!:A:!\tZ~:i:7\t0z:Z:x y\n\
         r2\t1\tc1\t10\t0\t4M\t=\t1\t0\tACGT\t*\t__:f:1.5\n\
         r3\t4\t*\t0\t0\t*\t*\t2\t0\tAC\t##\n",
    )
    .expect("write SAM");
    let bam = dir.path().join("lenient.bam");
    common::samtools_out(&[
        "view".as_ref(),
        "-b".as_ref(),
        "--no-PG".as_ref(),
        "-o".as_ref(),
        bam.as_os_str(),
        sam.as_os_str(),
    ]);
    // next_pos of r2 and r3 (PNEXT 1 and 2 in the text) become -129,696,967 and -8.
    let mut raw = common::oracle_decompress(&std::fs::read(&bam).expect("read"));
    let (_, mut at) = rawarrow::bam::Header::parse(&raw)
        .expect("valid")
        .expect("complete");
    for (i, value) in [(0, None), (1, Some(-129_696_967i32)), (2, Some(-8))] {
        let len = u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes")) as usize;
        let next_pos = at + 4 + 24;
        let was = i32::from_le_bytes(raw[next_pos..next_pos + 4].try_into().expect("4 bytes"));
        assert_eq!(was, i - 1, "0-based PNEXT of record {i}");
        if let Some(v) = value {
            raw[next_pos..next_pos + 4].copy_from_slice(&v.to_le_bytes());
        }
        at += 4 + len;
    }
    std::fs::write(&bam, rawarrow::bgzf::compress_for_tests(&raw)).expect("write");
    let want = common::samtools_out(&[Path::new("view"), &bam]);
    assert!(text(&want).contains("-129696966"), "{}", text(&want));
    for threads in ["1", "2"] {
        let (got, err, ok) = common::rawarrow(&[
            "bam".as_ref(),
            "view".as_ref(),
            "-t".as_ref(),
            threads.as_ref(),
            bam.as_os_str(),
        ]);
        assert!(ok, "{err}");
        assert_eq!(text(&got), text(&want));
    }
    let reader = Reader::builder()
        .columns(&["pnext", "tags"])
        .expect("columns")
        .build(Input::open(&bam).expect("open"))
        .expect("valid");
    let batches: Vec<_> = reader.map(|b| b.expect("valid")).collect();
    let batch = &batches[0];
    let pnext = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::Int32Array>()
        .expect("Int32");
    assert_eq!(
        pnext.iter().collect::<Vec<_>>(),
        [None, Some(-129_696_966), Some(-7)]
    );
    let tags = batch
        .column(1)
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .expect("Utf8");
    assert_eq!(tags.value(0), "A!:A:!\tZ~:i:7\t0z:Z:x y");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// Runs `rawarrow ARGS`, returning (stdout, stderr, success).
fn run(args: &[&std::ffi::OsStr]) -> (Vec<u8>, String, bool) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args(args)
        .output()
        .expect("run rawarrow");
    (out.stdout, text(&out.stderr), out.status.success())
}

/// Files samtools reads that bend the BGZF and BAM rules (each made here from the sample BAM):
/// plain gzip members (the whole file, one member among BGZF blocks, a `BC` subfield longer
/// than XLEN), reserved FLG bits, ISIZE that disagrees with the data or exceeds 64 KiB, read
/// names without their NUL or not UTF-8, a negative `l_ref`, tag names that are not printable,
/// a position of 2³¹ − 1, header text that is not UTF-8. `bam view` prints exactly what
/// `samtools view` prints, `-c` counts the same, the Arrow reader reads them (except what its
/// Utf8 and Int32 columns cannot hold, refused naming the record), and what htslib repairs or
/// ignores is a warning.
#[test]
fn files_htslib_reads() {
    if common::samtools().is_none() {
        return;
    }
    let sample = std::fs::read(common::sample_bam()).expect("read");
    let raw = common::oracle_decompress(&sample);
    let index = rawarrow::bgzf::scan(&sample).expect("BGZF");
    let (header, first) = rawarrow::bam::Header::parse(&raw)
        .expect("valid")
        .expect("complete");
    let mut records = Vec::new();
    let mut at = first;
    while at < raw.len() {
        records.push(at);
        at += 4 + u32::from_le_bytes(raw[at..at + 4].try_into().expect("4")) as usize;
    }
    let n = records.len();
    let block = |i: usize| index.blocks[i];
    let data_of = |i: usize| {
        let start: usize = index.blocks[..i].iter().map(|b| b.isize as usize).sum();
        &raw[start..start + block(i).isize as usize]
    };
    let mut cases: Vec<(&str, Vec<u8>, Option<&str>)> = Vec::new();
    cases.push(("plain", gzip(&raw), Some("plain gzip member")));
    let mut mixed = sample[..block(2).offset as usize].to_vec();
    mixed.extend_from_slice(&gzip(data_of(2)));
    mixed.extend_from_slice(&sample[block(2).end() as usize..]);
    cases.push(("mixed", mixed, Some("plain gzip member")));
    let mut slen = sample.clone();
    slen[block(1).offset as usize + 14] = 3;
    cases.push(("slen", slen, Some("plain gzip member")));
    // (Not the first block: samtools' format detection inflates it with zlib, which refuses
    // reserved FLG bits; its BGZF reader ignores them.)
    let mut flg = sample.clone();
    for i in 1..index.blocks.len() - 1 {
        flg[block(i).offset as usize + 3] |= 0x20;
    }
    cases.push(("flg", flg, None));
    let mut isize = sample.clone();
    for (i, v) in [(1, 5u32), (2, 70_000), (3, block(3).isize + 9)] {
        let end = block(i).end() as usize;
        isize[end - 4..end].copy_from_slice(&v.to_le_bytes());
    }
    cases.push(("isize", isize, Some("ISIZE disagrees")));
    let mut nul = raw.clone();
    for k in [3, n / 2] {
        let l = usize::from(nul[records[k] + 4 + 8]);
        nul[records[k] + 4 + 32 + l - 1] = b'Q';
    }
    cases.push((
        "nul",
        rawarrow::bgzf::compress_for_tests(&nul),
        Some("lacks its NUL"),
    ));
    let mut binary = raw.clone();
    binary[records[5] + 4 + 32] = 0xe9;
    cases.push(("binary", rawarrow::bgzf::compress_for_tests(&binary), None));
    // The aux data of record 9 (its first tag's name patched).
    let aux_of = |k: usize| {
        let at = records[k] + 4;
        let n_cigar = u16::from_le_bytes([raw[at + 12], raw[at + 13]]) as usize;
        let l_seq = u32::from_le_bytes(raw[at + 16..at + 20].try_into().expect("4")) as usize;
        at + 32 + usize::from(raw[at + 8]) + 4 * n_cigar + l_seq.div_ceil(2) + l_seq
    };
    let mut tag1 = raw.clone();
    tag1[aux_of(9)] = 0x01;
    cases.push(("tag1", rawarrow::bgzf::compress_for_tests(&tag1), None));
    let mut tag2 = raw.clone();
    tag2[aux_of(9) + 1] = 0xe9;
    cases.push(("tag2", rawarrow::bgzf::compress_for_tests(&tag2), None));
    let mut pos = raw.clone();
    pos[records[11] + 8..records[11] + 12].copy_from_slice(&i32::MAX.to_le_bytes());
    cases.push(("pos", rawarrow::bgzf::compress_for_tests(&pos), None));
    // A deletion's op code 2 → 10 (undefined: htslib prints `?` and it consumes nothing, so
    // the CIGAR still matches the sequence).
    let mut op10 = raw.clone();
    let deletion = records
        .iter()
        .find_map(|&r| {
            let at = r + 4;
            let n_cigar = u16::from_le_bytes([raw[at + 12], raw[at + 13]]) as usize;
            let ops = at + 32 + usize::from(raw[at + 8]);
            (0..n_cigar)
                .map(|i| ops + 4 * i)
                .find(|&o| raw[o] & 0xf == 2)
        })
        .expect("a record with a deletion");
    op10[deletion] |= 8;
    cases.push(("op10", rawarrow::bgzf::compress_for_tests(&op10), None));
    let mut rname = raw.clone();
    let text_len = u32::from_le_bytes(raw[4..8].try_into().expect("4")) as usize;
    rname[16 + text_len] = 0xe9; // the first byte of reference 0's name in the binary list
    cases.push((
        "rname",
        rawarrow::bgzf::compress_for_tests(&rname),
        Some("not UTF-8"),
    ));
    let mut htext = raw.clone();
    htext[9] = 0xe9; // the 'H' of "@HD"
    cases.push((
        "htext",
        rawarrow::bgzf::compress_for_tests(&htext),
        Some("not UTF-8"),
    ));
    let mut lref = raw.clone();
    let l_text = u32::from_le_bytes(raw[4..8].try_into().expect("4")) as usize;
    let l_name = u32::from_le_bytes(raw[12 + l_text..16 + l_text].try_into().expect("4")) as usize;
    let l_ref = 16 + l_text + l_name;
    lref[l_ref..l_ref + 4].copy_from_slice(&(-3i32).to_le_bytes());
    cases.push(("lref", rawarrow::bgzf::compress_for_tests(&lref), None));
    assert!(header.references.len() >= 2);

    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes, warning) in cases {
        let path = dir.path().join(format!("{name}.bam"));
        std::fs::write(&path, &bytes).expect("write");
        let p = path.as_os_str();
        let want = common::samtools_out(&["view".as_ref(), "-h".as_ref(), "--no-PG".as_ref(), p]);
        assert!(
            text(&want).lines().filter(|l| !l.starts_with('@')).count() == n,
            "{name}: samtools reads it all"
        );
        for threads in ["1", "2"] {
            let args = [
                "bam".as_ref(),
                "view".as_ref(),
                "-h".as_ref(),
                "-t".as_ref(),
                threads.as_ref(),
                p,
            ];
            let (got, err, ok) = run(&args);
            assert!(ok, "{name}: {err}");
            assert!(
                got == want,
                "{name} t={threads}: SAM text differs from samtools"
            );
            // (Header text and names are printed as stored: only the Arrow output warns.)
            match warning.filter(|_| name != "htext" && name != "rname") {
                Some(w) => assert!(err.contains("warning") && err.contains(w), "{name}: {err}"),
                None => assert!(!err.contains("warning"), "{name}: {err}"),
            }
            let (count, err, ok) = run(&[
                "bam".as_ref(),
                "-c".as_ref(),
                "-t".as_ref(),
                threads.as_ref(),
                p,
            ]);
            assert!(ok, "{name}: {err}");
            assert_eq!(text(&count).trim(), n.to_string(), "{name}");
        }
        let out = dir.path().join(format!("{name}.arrow"));
        let (_, err, ok) = run(&[
            "bam".as_ref(),
            "--quiet".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
            p,
        ]);
        let refused = match name {
            "binary" => Some("record 5 at virtual offset"),
            "tag2" => Some("record 9 at virtual offset"),
            "pos" => Some("record 11 at virtual offset"),
            _ => None,
        };
        if let Some(want) = refused {
            let why = [
                "read name is not UTF-8",
                "tag name is not ASCII",
                "does not fit the Int32",
            ];
            assert!(
                !ok && err.contains(want) && why.iter().any(|w| err.contains(w)),
                "{name}: {err}"
            );
            assert!(!out.exists(), "nothing written");
        } else {
            assert!(ok, "{name}: {err}");
            if let Some(w) = warning {
                assert!(err.contains(w), "{name}: {err}");
            }
            let rows = arrow_rows(&path, Filter::default(), 2);
            assert_eq!(rows, n as u64, "{name}");
        }
        // An index addresses BGZF blocks: files with plain gzip members cannot have one.
        if warning == Some("plain gzip member") {
            let (_, err, ok) = run(&["bam".as_ref(), "index".as_ref(), p]);
            assert!(!ok && err.contains("plain gzip, not BGZF"), "{name}: {err}");
        }
    }
}

fn sample_sam_text() -> Vec<u8> {
    let mut text = b"@HD\tVN:1.6\n@SQ\tSN:chrS1\tLN:100\n".to_vec();
    text.extend_from_slice(b"r\t4\t*\t0\t0\t*\t*\t0\t0\tA\tI\n");
    text
}

/// A SAM, plain-gzip, bgzipped-SAM or empty input is named for what it is, and a CRAM file
/// cut inside its file definition is a CRAM error, with the file and offset; nothing is
/// written.
#[test]
fn inputs_that_are_not_bam() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = gzip(&sample_sam_text());
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("x.sam", sample_sam_text(), "it is SAM text"),
        (
            "x.cram",
            b"CRAM\x03\x00rest".to_vec(),
            "CRAM container: the data ends inside the file definition",
        ),
        ("empty.bam", Vec::new(), "the file is empty"),
        (
            "x.sam.gz",
            rawarrow::bgzf::compress_for_tests(&sample_sam_text()),
            "gzip-compressed SAM text",
        ),
        ("plain.sam.gz", plain, "gzip-compressed SAM text"),
    ];
    for (name, bytes, what) in cases {
        let path: PathBuf = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        let out = dir.path().join("out.arrow");
        for args in [
            vec!["bam", "--quiet", "-o", out.to_str().expect("utf8")],
            vec!["bam", "view"],
            vec!["bam", "-c"],
        ] {
            let mut args: Vec<&str> = args;
            args.push(path.to_str().expect("utf8"));
            let (_, err, ok) = common::rawarrow(&args);
            assert!(!ok, "{name} {args:?} accepted");
            assert!(
                err.contains(&format!("{}:", path.display())) && err.contains(what),
                "{name} {args:?}: {err}"
            );
            assert!(!out.exists(), "{name}: output written");
        }
        // The stream (Python, C) locates it at offset 0 of the file (a bgzipped SAM at the
        // header's uncompressed offset 0, in the message).
        let e =
            rawarrow::stream::BatchStream::bam(&[&path], &Default::default()).expect_err("not BAM");
        assert_eq!(e.path(), Some(path.as_path()), "{e}");
        if !name.ends_with(".sam.gz") {
            assert_eq!(e.offset(), Some(0), "{e}");
        }
        // The library says the same, for a whole file and for a byte range.
        let e = Reader::builder()
            .build(Input::from_bytes(name, bytes.clone()))
            .expect_err("not BAM");
        assert!(e.to_string().contains(what), "{e}");
        let e = Reader::builder()
            .byte_range(0, 10)
            .build(Input::from_bytes(name, bytes))
            .expect_err("not BAM");
        let split_what = match name {
            "plain.sam.gz" => "plain gzip, not BGZF",
            _ => what,
        };
        assert!(e.to_string().contains(split_what), "{e}");
    }
}

/// `-` reads the BAM from standard input: the same SAM text, count and Arrow file as the path.
#[test]
fn stdin_equals_file_input() {
    use std::io::Write;
    let sample = common::sample_bam();
    let run = |args: &[&str], stdin: bool| -> Vec<u8> {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"));
        cmd.args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("run rawarrow");
        let mut pipe = child.stdin.take().expect("stdin");
        if stdin {
            pipe.write_all(&std::fs::read(&sample).expect("read"))
                .expect("write stdin");
        }
        drop(pipe);
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let file = sample.to_str().expect("utf8");
    for args in [
        &["bam", "view", "-h"][..],
        &["bam", "-c", "-q", "30"],
        &["bam", "--quiet", "-o", "-"],
    ] {
        let from_file = run(&[args, &[file]].concat(), false);
        let from_stdin = run(&[args, &["-"]].concat(), true);
        assert!(!from_file.is_empty());
        assert!(from_file == from_stdin, "{args:?}: standard input differs");
    }
    // Nothing on standard input: an error that says so.
    let (_, err, ok) = common::rawarrow(&["bam", "view", "-"]);
    assert!(
        !ok && err.contains("-: offset 0: not a BAM file: the file is empty"),
        "{err}"
    );
}

/// The header as `samtools view -h` prints it, byte for byte: text without its final newline,
/// NUL padding, `@SQ` lines added only when the text has none (lengths as signed numbers), text
/// whose `@SQ` names disagree with the binary list (none added), empty text.
#[test]
fn header_text_as_samtools_prints_it() {
    if common::samtools().is_none() {
        return;
    }
    let bam = |text: &[u8], len: i32| {
        let mut b = b"BAM\x01".to_vec();
        b.extend_from_slice(&(text.len() as i32).to_le_bytes());
        b.extend_from_slice(text);
        b.extend_from_slice(&1i32.to_le_bytes());
        b.extend_from_slice(&3i32.to_le_bytes());
        b.extend_from_slice(b"c1\0");
        b.extend_from_slice(&len.to_le_bytes());
        // One unmapped record named r1.
        let mut body = Vec::new();
        for v in [-1i32, -1] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        body.extend_from_slice(&[3, 0, 0x48, 0x12, 0, 0, 4, 0]);
        for v in [0i32, -1, -1, 0] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        body.extend_from_slice(b"r1\0");
        b.extend_from_slice(&(body.len() as u32).to_le_bytes());
        b.extend_from_slice(&body);
        rawarrow::bgzf::compress_for_tests(&b)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&[u8], i32); 6] = [
        (b"@HD\tVN:1.6", 10),
        (b"@HD\tVN:1.6\n\0\0\0", 10),
        (b"@HD\tVN:1.6\n@SQ\tSN:other\tLN:5\n", 10),
        (b"@HD\tVN:1.6\n", -3),
        (b"", 10),
        (b"@HD\tVN:1.6\n@CO\tx@SQ\tnot a line start\n", 7),
    ];
    for (i, (text, len)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("h{i}.bam"));
        std::fs::write(&path, bam(text, len)).expect("write");
        let want = common::samtools_out(&[
            "view".as_ref(),
            "-h".as_ref(),
            "--no-PG".as_ref(),
            path.as_os_str(),
        ]);
        let (got, err, ok) = run(&[
            "bam".as_ref(),
            "view".as_ref(),
            "-h".as_ref(),
            path.as_os_str(),
        ]);
        assert!(ok, "{i}: {err}");
        assert!(
            got == want,
            "case {i}: {:?}\nsamtools: {:?}",
            text_of(&got),
            text_of(&want)
        );
    }
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
