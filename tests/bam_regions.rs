//! Region queries through BAI/CSI indexes and `bam index`, with samtools as the oracle: the
//! records `samtools view IN REGION` prints, and the index bytes `samtools index` writes.

mod common;

use std::path::{Path, PathBuf};

use rawarrow::bam::{Index, IndexFormat, Reader};
use rawarrow::io::Input;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every BAM (the sample and the corpus) coordinate-sorted by samtools into `dir`.
fn sorted_bams(dir: &Path) -> Vec<PathBuf> {
    common::all_bams()
        .iter()
        .map(|bam| {
            let out = dir.join(bam.file_name().expect("file name"));
            common::samtools_out(&[
                "sort".as_ref(),
                "--no-PG".as_ref(),
                "-o".as_ref(),
                out.as_os_str(),
                bam.as_os_str(),
            ]);
            out
        })
        .collect()
}

struct Rec {
    rname: String,
    pos: i64,
    end: i64,
    cigar: String,
}

/// (name, length) of each reference and the mapped records, from samtools' text.
fn layout(bam: &Path) -> (Vec<(String, i64)>, Vec<Rec>) {
    let header = text(&common::samtools_out(&[
        Path::new("view"),
        Path::new("-H"),
        bam,
    ]));
    let refs = header
        .lines()
        .filter(|l| l.starts_with("@SQ"))
        .map(|l| {
            let field = |k: &str| {
                l.split('\t')
                    .find_map(|f| f.strip_prefix(k))
                    .expect("@SQ field")
                    .to_owned()
            };
            (field("SN:"), field("LN:").parse().expect("LN"))
        })
        .collect();
    let sam = text(&common::samtools_out(&[Path::new("view"), bam]));
    let recs = sam
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let flag: u16 = f[1].parse().ok()?;
            if flag & 4 != 0 || f[2] == "*" {
                return None;
            }
            let pos: i64 = f[3].parse().ok()?;
            let mut span = 0i64;
            let mut n = 0i64;
            for c in f[5].chars() {
                if let Some(d) = c.to_digit(10) {
                    n = n * 10 + i64::from(d);
                } else {
                    if "MDN=X".contains(c) {
                        span += n;
                    }
                    n = 0;
                }
            }
            Some(Rec {
                rname: f[2].to_owned(),
                pos,
                end: pos + span.max(1) - 1,
                cigar: f[5].to_owned(),
            })
        })
        .collect();
    (refs, recs)
}

/// At least 50 regions with the borders samtools users hit: from base 1, past the reference
/// end, on a read's first and last base (straddling both borders), inside deletions and
/// skips, whole references, `*`, names with commas in numbers.
fn regions_for(refs: &[(String, i64)], recs: &[Rec]) -> Vec<String> {
    let name = |n: &str| {
        if n.contains(':') {
            format!("{{{n}}}")
        } else {
            n.to_owned()
        }
    };
    let mut v = vec!["*".to_owned()];
    for (n, len) in refs.iter().take(3) {
        v.push(name(n));
        v.push(format!("{}:1-1", name(n)));
        v.push(format!("{}:1-{}", name(n), len + 1000));
        v.push(format!("{}:{}", name(n), len / 2));
        v.push(format!("{}:{}-{}", name(n), len - 5, len + 5));
        // Windows tiling the reference.
        for k in 0..48 {
            let (b, e) = (len * k / 48 + 1, len * (k + 1) / 48);
            v.push(format!("{}:{b}-{e}", name(n)));
        }
    }
    let step = (recs.len() / 12).max(1);
    for r in recs.iter().step_by(step) {
        let n = name(&r.rname);
        v.push(format!("{n}:{}-{}", r.pos, r.pos));
        v.push(format!("{n}:{}-{}", r.end, r.end + 10));
        v.push(format!(
            "{n}:{}-{}",
            (r.pos - 10).max(1),
            r.pos - 1 + (r.pos == 1) as i64
        ));
        v.push(format!("{n}:{}-{}", r.end + 1, r.end + 100));
        let b = r.pos.max(1000) - 999;
        v.push(format!(
            "{n}:{},{:03}-{}",
            b / 1000,
            b % 1000,
            r.pos + 20_000
        ));
    }
    // A border inside a deletion or a skip: the read spans it without a base there.
    for r in recs
        .iter()
        .filter(|r| r.cigar.contains('N') || r.cigar.contains('D'))
        .take(8)
    {
        let n = name(&r.rname);
        let mut at = r.pos;
        let mut num = 0i64;
        for c in r.cigar.chars() {
            if let Some(d) = c.to_digit(10) {
                num = num * 10 + i64::from(d);
                continue;
            }
            if c == 'N' || c == 'D' {
                v.push(format!("{n}:{}-{}", at + num / 2, at + num / 2 + 1));
                v.push(format!("{n}:{}-{}", at, at));
                break;
            }
            if "M=X".contains(c) {
                at += num;
            }
            num = 0;
        }
    }
    v
}

fn rawarrow_view(args: &[&str]) -> String {
    let (out, err, ok) = common::rawarrow(&[&["bam", "view"][..], args].concat());
    assert!(ok, "bam view {args:?}: {err}");
    text(&out)
}

#[test]
fn regions_equal_samtools_view() {
    if common::samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for bam in sorted_bams(dir.path()) {
        let p = bam.to_str().expect("utf8 path");
        common::samtools_out(&["index", p]);
        let (refs, recs) = layout(&bam);
        let regions = regions_for(&refs, &recs);
        assert!(regions.len() >= 50, "{p}: {} regions", regions.len());
        let mut nonempty = 0;
        for region in &regions {
            let want = text(&common::samtools_out(&["view", p, region]));
            nonempty += usize::from(!want.is_empty());
            for threads in ["1", "2"] {
                let got = rawarrow_view(&["-t", threads, p, region]);
                assert!(
                    got == want,
                    "{p} {region} -t {threads}: differs from samtools"
                );
            }
            // The Arrow reader keeps the same records.
            let rows: usize = Reader::builder()
                .threads(2)
                .columns(&["pos"])
                .expect("column")
                .regions(&[region])
                .build(Input::open(&bam).expect("open"))
                .expect("region query")
                .map(|b| b.expect("valid").num_rows())
                .sum();
            assert_eq!(rows, want.lines().count(), "{p} {region}: Arrow rows");
        }
        assert!(
            nonempty >= recs.len().min(5),
            "{p}: only {nonempty} regions hold records"
        );
        // Several regions: in the order given, overlapping ones repeated, as samtools prints.
        let several = [
            &regions[regions.len() - 1],
            &regions[6],
            &regions[6],
            &regions[0],
        ];
        let mut args = vec!["view", p];
        args.extend(several.iter().map(|s| s.as_str()));
        let want = text(&common::samtools_out(&args));
        assert_eq!(rawarrow_view(&args[1..]), want, "{p}: several regions");
        // With filters, and counted.
        let want = text(&common::samtools_out(&[
            "view",
            "-c",
            "-q",
            "30",
            "-F",
            "0x900",
            p,
            &regions[1],
        ]));
        assert_eq!(
            rawarrow_view(&["-c", "-q", "30", "-F", "0x900", p, &regions[1]]),
            want
        );
        // Through a CSI index given explicitly: the same records.
        let csi = dir.path().join("explicit.csi");
        common::samtools_out(&["index", "-c", p, csi.to_str().expect("utf8")]);
        for region in regions.iter().step_by(7) {
            let want = text(&common::samtools_out(&["view", p, region]));
            let got = rawarrow_view(&["--index", csi.to_str().expect("utf8"), p, region]);
            assert!(got == want, "{p} {region} (CSI): differs from samtools");
        }
    }
}

#[test]
fn index_equals_samtools_index() {
    if common::samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for bam in sorted_bams(dir.path()) {
        let p = bam.to_str().expect("utf8 path");
        for (csi, ext) in [(false, "bai"), (true, "csi")] {
            let theirs = dir.path().join(format!("theirs.{ext}"));
            let mut args = vec!["index"];
            if csi {
                args.push("-c");
            }
            args.extend([p, theirs.to_str().expect("utf8")]);
            common::samtools_out(&args);
            for threads in ["1", "2"] {
                let ours = dir.path().join(format!("ours.{ext}"));
                let mut args = vec![
                    "bam",
                    "index",
                    "-t",
                    threads,
                    "-o",
                    ours.to_str().expect("utf8"),
                ];
                if csi {
                    args.push("--csi");
                }
                args.push(p);
                let (_, err, ok) = common::rawarrow(&args);
                assert!(ok, "{err}");
                let (a, b) = (
                    std::fs::read(&ours).expect("ours"),
                    std::fs::read(&theirs).expect("theirs"),
                );
                if csi {
                    // The content is htslib's byte for byte; the deflate stream depends on the
                    // libdeflate version each side links.
                    assert!(
                        common::oracle_decompress(&a) == common::oracle_decompress(&b),
                        "{p}: CSI content differs from samtools index -c"
                    );
                } else {
                    assert!(a == b, "{p}: BAI differs from samtools index");
                }
                // Both parse to the same index.
                assert_eq!(
                    Index::from_bytes(&a).expect("ours parses"),
                    Index::from_bytes(&b).expect("samtools' parses")
                );
            }
        }
        // The library builds the same BAI, and the default name is IN.bam.bai.
        let built = Index::build(
            Input::open(&bam).expect("open"),
            IndexFormat::Bai,
            Default::default(),
        )
        .expect("sorted BAM");
        let (_, err, ok) = common::rawarrow(&["bam", "index", p]);
        assert!(ok, "{err}");
        assert!(std::fs::read(format!("{p}.bai")).expect("IN.bam.bai") == built.to_bytes());
    }
}

#[test]
fn region_errors_name_the_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bam = dir.path().join("s.bam");
    std::fs::copy(common::sample_bam(), &bam).expect("copy");
    let p = bam.to_str().expect("utf8");
    // No index yet: the message names the paths looked for and how to make one.
    let (_, err, ok) = common::rawarrow(&["bam", "view", p, "chrS1:1-100"]);
    assert!(
        !ok && err.contains("no index for region queries") && err.contains("s.bam.bai"),
        "{err}"
    );
    assert!(err.contains("rawarrow bam index"), "{err}");
    let (_, err, ok) = common::rawarrow(&["bam", "index", p]);
    assert!(ok, "{err}");
    for (region, cause) in [
        (
            "chrNope:1-5",
            "\"chrNope\" is not a reference of the header",
        ),
        ("chrS1:9-5", "is not a range"),
        ("{chrS1", "no closing"),
    ] {
        for cmd in [&["bam", "view"][..], &["bam", "--quiet", "-o", "/dev/null"]] {
            let (_, err, ok) = common::rawarrow(&[cmd, &[p, region]].concat());
            assert!(
                !ok && err.contains(cause) && err.contains(p),
                "{cmd:?} {region}: {err}"
            );
        }
    }
    // An index older than the file: htslib's warning, and the records still come.
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(format!("{p}.bai"))
        .expect("open index")
        .set_modified(old)
        .expect("set mtime");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args(["bam", "view", "-c", p, "chrS1"])
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert!(
        out.status.success() && err.contains("index file is older than the data file"),
        "{err}"
    );
    let on_chrs1: usize = Reader::builder()
        .columns(&["rname"])
        .expect("column")
        .build(Input::open(&bam).expect("open"))
        .expect("valid")
        .map(|b| {
            let b = b.expect("valid");
            let names = arrow_array::cast::AsArray::as_dictionary::<arrow_array::types::Int32Type>(
                b.column(0).as_ref(),
            )
            .downcast_dict::<arrow_array::StringArray>()
            .expect("Utf8 dictionary")
            .into_iter()
            .filter(|n| *n == Some("chrS1"))
            .count();
            names
        })
        .sum();
    assert!(on_chrs1 > 1000);
    assert_eq!(text(&out.stdout), format!("{on_chrs1}\n"));
    // A damaged index is an error naming it.
    std::fs::write(format!("{p}.bai"), b"BAI\x01\x05\x00").expect("write");
    let (_, err, ok) = common::rawarrow(&["bam", "view", p, "chrS1"]);
    assert!(
        !ok && err.contains(".bai") && err.contains("the index ends inside"),
        "{err}"
    );
    // An unsorted file cannot be indexed: the error says so, and nothing is written.
    if common::samtools().is_some() {
        let shuffled = dir.path().join("unsorted.bam");
        common::samtools_out(&[
            "collate".as_ref(),
            "--no-PG".as_ref(),
            "-o".as_ref(),
            shuffled.as_os_str(),
            bam.as_os_str(),
        ]);
        let (_, err, ok) = common::rawarrow(&["bam", "index", shuffled.to_str().expect("utf8")]);
        assert!(!ok && err.contains("not coordinate-sorted"), "{err}");
        assert!(!dir.path().join("unsorted.bam.bai").exists());
    }
}
