//! CRAM read as BAM is: files samtools writes from the sample and the corpus BAMs (CRAM 2.1, 3.0,
//! without a reference, against a reference FASTA (with and without its .fai), with the
//! reference embedded, with bzip2/lzma blocks and several slices per container; CRAM 3.1 with
//! rANS Nx16 and arithmetic-coded blocks, tokenised names, fqzcomp qualities, the fast, normal,
//! small and archive profiles) give
//! `rawarrow bam view` text byte-identical to `samtools view`, and Arrow rows equal to those
//! of the BAM samtools decodes the same CRAM into; noodles-cram, a second decoder, decodes the
//! same records. CRAM from pipes, readers and URLs reads as the file does. Corrupt, truncated
//! and unreadable CRAM is an error naming the file and the container, never a panic.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::RecordBatch;
use common::{all_bams, sample_bam, samtools, samtools_out};

/// The CLI, without the environment's reference lookups (the tests set their own).
fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rawarrow"));
    c.env_remove("REF_PATH").env_remove("REF_CACHE");
    c
}

/// A reference for `bam`'s references: each position covered by an aligned base takes the
/// first such base; the rest are a fixed pattern with runs of N and lowercase letters, so
/// that reads differ from it (substitutions, N in the reference) as real data does.
fn reference_from(bam: &Path, dir: &Path) -> PathBuf {
    let header = String::from_utf8(samtools_out(&["view", "-H", bam.to_str().expect("utf-8")]))
        .expect("utf-8 header");
    let mut refs: Vec<(String, Vec<u8>)> = Vec::new();
    for line in header.lines().filter(|l| l.starts_with("@SQ")) {
        let field = |k: &str| {
            line.split('\t')
                .find_map(|f| f.strip_prefix(k))
                .map(str::to_owned)
        };
        let len: usize = field("LN:").and_then(|l| l.parse().ok()).expect("LN");
        let name = field("SN:").expect("SN");
        let seq = (0..len)
            .map(|i| match (i / 97) % 11 {
                3 => b'N',
                5 => b"acgt"[i % 4],
                _ => b"ACGT"[(i * 7 + i / 13) % 4],
            })
            .collect();
        refs.push((name, seq));
    }
    let text = samtools_out(&["view", bam.to_str().expect("utf-8")]);
    let mut seen: Vec<Vec<bool>> = refs.iter().map(|(_, s)| vec![false; s.len()]).collect();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let f: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        let Some(r) = refs.iter().position(|(n, _)| n.as_bytes() == f[2]) else {
            continue;
        };
        if f[5] == b"*" || f[9] == b"*" {
            continue;
        }
        let mut pos: usize = std::str::from_utf8(f[3])
            .expect("pos")
            .parse::<usize>()
            .expect("pos")
            - 1;
        let mut q = 0usize;
        let mut n = 0usize;
        for &c in f[5] {
            if c.is_ascii_digit() {
                n = n * 10 + usize::from(c - b'0');
                continue;
            }
            match c {
                b'M' | b'=' | b'X' => {
                    for i in 0..n {
                        if pos + i < refs[r].1.len() && !seen[r][pos + i] {
                            seen[r][pos + i] = true;
                            refs[r].1[pos + i] = f[9][q + i].to_ascii_uppercase();
                        }
                    }
                    pos += n;
                    q += n;
                }
                b'I' | b'S' => q += n,
                b'D' | b'N' => pos += n,
                _ => {}
            }
            n = 0;
        }
    }
    let fa = dir.join("ref.fa");
    let mut out = Vec::new();
    for (name, seq) in &refs {
        out.extend_from_slice(format!(">{name} made from the reads\n").as_bytes());
        for line in seq.chunks(60) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    std::fs::write(&fa, out).expect("write reference");
    fa
}

/// The sample sorted by position (`dir/sorted.bam`) and its reference (`dir/ref.fa`).
fn sorted_sample(dir: &Path) -> (PathBuf, PathBuf) {
    let bam = sample_bam();
    let fa = reference_from(&bam, dir);
    let sorted = dir.join("sorted.bam");
    samtools_out(&[
        "sort",
        "-o",
        sorted.to_str().expect("utf-8"),
        bam.to_str().expect("utf-8"),
    ]);
    (sorted, fa)
}

fn write_cram(bam: &Path, out: &Path, reference: Option<&Path>, options: &[&str]) {
    let mut args: Vec<String> = vec!["view".into(), "-C".into(), "--no-PG".into()];
    if let Some(r) = reference {
        args.extend(["-T".into(), r.display().to_string()]);
    }
    for o in options {
        args.extend(["--output-fmt-option".into(), (*o).into()]);
    }
    args.extend([
        bam.display().to_string(),
        "-o".into(),
        out.display().to_string(),
    ]);
    samtools_out(&args);
}

/// `rawarrow bam view` (with `-T`) of `cram`, and its header as `samtools view --no-PG -H`.
fn rawarrow_view(cram: &Path, reference: Option<&Path>, header: bool) -> Vec<u8> {
    let mut c = cli();
    c.args(["bam", "view", "-t", "2"]);
    if header {
        c.arg("-H");
    }
    if let Some(r) = reference {
        c.arg("-T").arg(r);
    }
    let out = c.arg(cram).output().expect("run rawarrow");
    assert!(
        out.status.success(),
        "rawarrow bam view {}: {}",
        cram.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn samtools_view(cram: &Path, reference: Option<&Path>, header: bool) -> Vec<u8> {
    let mut args: Vec<String> = vec!["view".into(), "--no-PG".into()];
    if header {
        args.push("-H".into());
    }
    if let Some(r) = reference {
        args.extend(["-T".into(), r.display().to_string()]);
    }
    args.push(cram.display().to_string());
    samtools_out(&args)
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let la: Vec<&[u8]> = a.split(|&c| c == b'\n').collect();
    let lb: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
    match la.iter().zip(&lb).position(|(x, y)| x != y) {
        Some(i) => format!(
            "line {}:\nsamtools: {}\nrawarrow: {}",
            i + 1,
            String::from_utf8_lossy(la[i]),
            String::from_utf8_lossy(lb[i])
        ),
        None => format!("{} lines against {}", la.len(), lb.len()),
    }
}

/// Rows of `path` through the library's stream (one batch).
fn rows(path: &Path, reference: Option<&Path>) -> RecordBatch {
    let options = rawarrow::stream::BamOptions {
        threads: Some(2),
        reference: reference.map(Path::to_path_buf),
        ..Default::default()
    };
    let mut s = rawarrow::stream::BatchStream::bam(&[path], &options).expect("opens");
    let schema = s.schema();
    let mut batches = Vec::new();
    while let Some(b) = s.next_batch().expect("reads") {
        batches.push(b);
    }
    arrow_select::concat::concat_batches(&schema, &batches).expect("concat")
}

/// The checks of one CRAM: SAM text and header as samtools prints them, and Arrow rows equal
/// to those of the BAM samtools decodes the CRAM into.
fn check(cram: &Path, reference: Option<&Path>, what: &str) {
    let want = samtools_view(cram, reference, false);
    let got = rawarrow_view(cram, reference, false);
    assert!(want == got, "{what}: {}", first_difference(&want, &got));
    assert!(!want.is_empty(), "{what}: no records");
    let want = samtools_view(cram, reference, true);
    let got = rawarrow_view(cram, reference, true);
    assert!(
        want == got,
        "{what} header: {}",
        first_difference(&want, &got)
    );
    let bam = cram.with_extension("decoded.bam");
    let mut args: Vec<String> = vec!["view".into(), "-b".into(), "--no-PG".into()];
    if let Some(r) = reference {
        args.extend(["-T".into(), r.display().to_string()]);
    }
    args.extend([
        cram.display().to_string(),
        "-o".into(),
        bam.display().to_string(),
    ]);
    samtools_out(&args);
    let (a, b) = (rows(cram, reference), rows(&bam, None));
    assert_eq!(a.num_rows(), b.num_rows(), "{what}: rows");
    for (i, (x, y)) in a.columns().iter().zip(b.columns()).enumerate() {
        assert!(
            x == y,
            "{what}: column {} differs",
            a.schema().field(i).name()
        );
    }
}

#[test]
fn cram_3_0_of_every_bam_equals_samtools() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, bam) in all_bams().into_iter().enumerate() {
        let name = bam
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let sub = dir.path().join(&name);
        std::fs::create_dir(&sub).expect("dir");
        let fa = reference_from(&bam, &sub);
        let cram = |tag: &str| sub.join(format!("{name}.{tag}.cram"));
        // Against a reference (MD/NM regenerated), every file; without one and with it
        // embedded, the sample (the corpus files add time, not cases).
        write_cram(&bam, &cram("ref"), Some(&fa), &["version=3.0"]);
        check(&cram("ref"), Some(&fa), &format!("{name} with a reference"));
        // CRAM 3.1's archive profile: tokenised names, fqzcomp qualities, arithmetic coding.
        write_cram(
            &bam,
            &cram("archive"),
            None,
            &["version=3.1", "archive", "no_ref=1"],
        );
        check(&cram("archive"), None, &format!("{name} 3.1 archive"));
        if i > 0 {
            continue;
        }
        write_cram(&bam, &cram("noref"), None, &["version=3.0", "no_ref=1"]);
        check(&cram("noref"), None, &format!("{name} no_ref"));
        write_cram(
            &bam,
            &cram("embed"),
            Some(&fa),
            &["version=3.0", "embed_ref=1"],
        );
        check(&cram("embed"), None, &format!("{name} embed_ref"));
        // The .fai samtools wrote is gone: an index built in memory.
        std::fs::remove_file(sub.join("ref.fa.fai")).expect("the .fai samtools wrote");
        let got = rawarrow_view(&cram("ref"), Some(&fa), false);
        assert!(
            got == samtools_view(&cram("ref"), Some(&fa), false),
            "{name} without .fai"
        );
    }
}

#[test]
fn every_block_codec_and_slice_layout_of_cram_3_0() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bam = sample_bam();
    let fa = reference_from(&bam, dir.path());
    for (tag, opts) in [
        ("2.1", &["version=2.1"][..]),
        ("bzip2", &["version=3.0", "use_bzip2=1", "level=9"][..]),
        ("lzma", &["version=3.0", "use_lzma=1", "use_bzip2=1"][..]),
        ("raw", &["version=3.0", "level=0"][..]),
        (
            "slices",
            &[
                "version=3.0",
                "seqs_per_slice=300",
                "slices_per_container=4",
            ][..],
        ),
        (
            "multiref",
            &[
                "version=3.0",
                "seqs_per_slice=5000",
                "multi_seq_per_slice=1",
            ][..],
        ),
    ] {
        let cram = dir.path().join(format!("{tag}.cram"));
        write_cram(&bam, &cram, Some(&fa), opts);
        check(&cram, Some(&fa), tag);
    }
}

fn error_of(args: &[&std::ffi::OsStr]) -> String {
    let out = cli().args(args).output().expect("run rawarrow");
    assert!(!out.status.success(), "{args:?} succeeded");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!text.contains("panicked"), "{text}");
    text
}

#[test]
fn bad_cram_is_an_error_with_file_and_container() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bam = sample_bam();
    let fa = reference_from(&bam, dir.path());
    // Written against a copy of the reference that is then deleted: the @SQ lines' UR names
    // a file that is gone.
    let gone = dir.path().join("gone.fa");
    std::fs::copy(&fa, &gone).expect("copy the reference");
    let good = dir.path().join("good.cram");
    write_cram(&bam, &good, Some(&gone), &["version=3.0"]);
    std::fs::remove_file(&gone).expect("delete the copy");
    let bytes = std::fs::read(&good).expect("cram");
    let os = |s: &str| std::ffi::OsString::from(s);
    // No reference: the error names the reference and its MD5.
    let e = error_of(&[&os("bam"), &os("view"), good.as_os_str()]);
    assert!(
        e.contains("good.cram") && e.contains("CRAM container") && e.contains("MD5"),
        "{e}"
    );
    // A reference whose bases differ: the slice's MD5 disagrees.
    let other = dir.path().join("other.fa");
    let text = std::fs::read_to_string(&fa).expect("fa");
    std::fs::write(
        &other,
        text.replacen("\nA", "\nC", 3).replacen("\nC", "\nG", 3),
    )
    .expect("fa");
    let e = error_of(&[
        &os("bam"),
        &os("view"),
        &os("-T"),
        other.as_os_str(),
        good.as_os_str(),
    ]);
    assert!(
        e.contains("MD5") && e.contains("different reference"),
        "{e}"
    );
    // Truncated inside a container, and a flipped byte inside a block (CRC32).
    let cut = dir.path().join("cut.cram");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
    let e = error_of(&[
        &os("bam"),
        &os("view"),
        &os("-T"),
        fa.as_os_str(),
        cut.as_os_str(),
    ]);
    assert!(
        e.contains("cut.cram") && e.contains("CRAM container"),
        "{e}"
    );
    for at in [bytes.len() / 3, bytes.len() / 2, 600] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        let flipped = dir.path().join("flipped.cram");
        std::fs::write(&flipped, &bad).expect("write");
        let e = error_of(&[
            &os("bam"),
            &os("view"),
            &os("-T"),
            fa.as_os_str(),
            flipped.as_os_str(),
        ]);
        assert!(
            e.contains("flipped.cram") && e.contains("CRC32"),
            "byte {at}: {e}"
        );
        assert!(e.contains("compressed offset"), "{e}");
    }
    // Regions of a CRAM file are refused with a reason.
    let e = error_of(&[
        &os("bam"),
        &os("view"),
        &os("-T"),
        fa.as_os_str(),
        good.as_os_str(),
        &os("chrS1:1-100"),
    ]);
    assert!(e.contains("CRAM"), "{e}");
}

/// `.crai` entries of `cram` (indexed here): reference, start, span, container offset, slice.
fn crai_entries(cram: &Path) -> Vec<(i64, i64, i64, u64, usize)> {
    samtools_out(&["index", cram.to_str().expect("utf-8")]);
    let gz = std::fs::read(format!("{}.crai", cram.display())).expect("crai");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut text)
        .expect("gzip");
    let mut out: Vec<(i64, i64, i64, u64, usize)> = Vec::new();
    for line in text.lines() {
        let f: Vec<i64> = line
            .split('\t')
            .map(|x| x.parse().expect("number"))
            .collect();
        let slice = out.iter().filter(|e| e.3 == f[3] as u64).count();
        out.push((f[0], f[1], f[2], f[3] as u64, slice));
    }
    out
}

/// Reference MD5s are hashed ahead in batches (a worker hashes the spans of the containers
/// after its own, a slice per SIMD lane): files of many containers (one and three slices each)
/// decode as samtools decodes them, and a base changed under one slice's span alone is that
/// slice's error, with one worker and with two.
#[test]
fn reference_md5s_hashed_in_batches_name_the_slice_that_differs() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (sorted, fa) = sorted_sample(dir.path());
    let fasta = std::fs::read(&fa).expect("fa");
    for (tag, per_container) in [("one", "1"), ("three", "3")] {
        let cram = dir.path().join(format!("{tag}.cram"));
        let spc = format!("slices_per_container={per_container}");
        write_cram(
            &sorted,
            &cram,
            Some(&fa),
            &["version=3.0", "seqs_per_slice=60", &spc],
        );
        let got = rawarrow_view(&cram, Some(&fa), false);
        let want = samtools_view(&cram, Some(&fa), false);
        assert!(got == want, "{tag}: {}", first_difference(&got, &want));
        let entries: Vec<_> = crai_entries(&cram)
            .into_iter()
            .filter(|e| e.0 >= 0)
            .collect();
        assert!(entries.len() > 20, "{tag}: {} slices", entries.len());
        // A slice past the first batch whose span has a position no other slice covers.
        let (target, p) = entries[entries.len() / 2..]
            .iter()
            .find_map(|e| {
                (e.1..e.1 + e.2)
                    .find(|&p| {
                        entries
                            .iter()
                            .all(|o| o == e || o.0 != e.0 || p < o.1 || p >= o.1 + o.2)
                    })
                    .map(|p| (*e, p))
            })
            .expect("a position one slice covers");
        // That base, changed: the sequence's header line, then 60 bases a line.
        let name = {
            let header =
                String::from_utf8(samtools_out(&["view", "-H", cram.to_str().expect("utf-8")]))
                    .expect("header");
            header
                .lines()
                .filter(|l| l.starts_with("@SQ"))
                .nth(target.0 as usize)
                .and_then(|l| l.split('\t').find_map(|f| f.strip_prefix("SN:")))
                .expect("SN")
                .to_owned()
        };
        let head = format!(">{name} ");
        let at = fasta
            .windows(head.len())
            .position(|w| w == head.as_bytes())
            .expect("sequence in the FASTA");
        let first = at + fasta[at..].iter().position(|&b| b == b'\n').expect("line") + 1;
        let i = (p - 1) as usize;
        let byte = first + i + i / 60;
        let mut bad = fasta.clone();
        bad[byte] = if bad[byte].eq_ignore_ascii_case(&b'A') {
            b'C'
        } else {
            b'A'
        };
        let bad_fa = dir.path().join(format!("bad-{tag}.fa"));
        std::fs::write(&bad_fa, &bad).expect("write");
        let os = |s: &str| std::ffi::OsString::from(s);
        for threads in ["1", "2"] {
            let e = error_of(&[
                &os("bam"),
                &os("view"),
                &os("-t"),
                &os(threads),
                &os("-T"),
                bad_fa.as_os_str(),
                cram.as_os_str(),
            ]);
            let place = format!("offset {}: CRAM container, slice {}:", target.3, target.4);
            assert!(
                e.contains(&place) && e.contains("MD5"),
                "{tag}, -t {threads}: wanted {place}: {e}"
            );
        }
    }
}

/// Without `--reference`, sequences are found as samtools finds them: by the `@SQ` line's MD5
/// in `REF_CACHE` or a `REF_PATH` entry (files of bare bases, as `seq_cache_populate.pl`
/// writes them), else by its `UR` (samtools writes the FASTA's path there); what is found
/// nowhere is an error naming the MD5 and every place tried.
#[test]
fn references_found_by_md5_and_ur_as_samtools_finds_them() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bam = sample_bam();
    let fa = reference_from(&bam, dir.path());
    let cram = dir.path().join("md5.cram");
    write_cram(&bam, &cram, Some(&fa), &["version=3.0"]);
    let header = String::from_utf8(samtools_out(&["view", "-H", cram.to_str().expect("utf-8")]))
        .expect("header");
    assert!(header.contains(&format!("UR:{}", fa.display())), "{header}");
    // The cache: each sequence's upper-cased bases under its MD5, in cache/ab/cd/rest.
    let fasta = std::fs::read_to_string(&fa).expect("fa");
    let mut sequences = std::collections::HashMap::new();
    for rec in fasta.split('>').filter(|r| !r.is_empty()) {
        let (name_line, bases) = rec.split_once('\n').expect("record");
        let name = name_line.split_whitespace().next().expect("name");
        sequences.insert(
            name.to_string(),
            bases.replace('\n', "").to_ascii_uppercase(),
        );
    }
    let cache = dir.path().join("cache");
    let mut md5s = Vec::new();
    for line in header.lines().filter(|l| l.starts_with("@SQ")) {
        let field = |k: &str| line.split('\t').find_map(|f| f.strip_prefix(k));
        let (name, m5) = (field("SN:").expect("SN"), field("M5:").expect("M5"));
        let at = cache.join(&m5[..2]).join(&m5[2..4]);
        std::fs::create_dir_all(&at).expect("cache dirs");
        std::fs::write(at.join(&m5[4..]), &sequences[name]).expect("cache file");
        md5s.push(m5.to_string());
    }
    assert!(!md5s.is_empty(), "no @SQ lines");
    let template = format!("{}/%2s/%2s/%s", cache.display());
    let nowhere = dir.path().join("nowhere").display().to_string();
    let view = |envs: &[(&str, &str)], tool: &str| {
        let mut c = if tool == "samtools" {
            let mut c = samtools().expect("checked");
            c.args(["view", "--no-PG"]);
            c
        } else {
            let mut c = cli();
            c.args(["bam", "view", "-t", "2"]);
            c
        };
        c.env_remove("REF_CACHE").env_remove("REF_PATH");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.arg(&cram).output().expect("run")
    };
    let want = samtools_view(&cram, Some(&fa), false);
    assert!(!want.is_empty());
    let agree = |envs: &[(&str, &str)], what: &str| {
        for tool in ["samtools", "rawarrow"] {
            let out = view(envs, tool);
            assert!(
                out.status.success(),
                "{tool} with {what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stdout == want,
                "{tool} with {what}: {}",
                first_difference(&want, &out.stdout)
            );
        }
    };
    // UR, the MD5 lookups finding nothing.
    agree(&[("REF_PATH", &nowhere)], "UR");
    // The FASTA gone: the MD5 lookups alone.
    std::fs::rename(&fa, dir.path().join("moved.fa")).expect("move the FASTA");
    agree(
        &[("REF_CACHE", &template), ("REF_PATH", &nowhere)],
        "REF_CACHE",
    );
    agree(
        &[("REF_PATH", &format!("{nowhere}:{template}"))],
        "REF_PATH",
    );
    // Found nowhere: the MD5 and every place tried.
    let empty = template.replace("cache", "empty");
    let out = view(&[("REF_CACHE", &empty), ("REF_PATH", &nowhere)], "rawarrow");
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("md5.cram") && md5s.iter().any(|m| e.contains(m.as_str())),
        "{e}"
    );
    for place in [
        "REF_CACHE",
        "REF_PATH",
        "nowhere",
        "empty",
        "UR:",
        "no such file",
    ] {
        assert!(e.contains(place), "{place} in {e}");
    }
}

/// Rows of `path`'s byte range `[start, end)` (one batch, possibly empty).
fn split_rows(path: &Path, reference: &Path, start: u64, end: u64, threads: usize) -> RecordBatch {
    let options = rawarrow::stream::BamOptions {
        threads: Some(threads),
        reference: Some(reference.to_path_buf()),
        byte_range: Some((start, end)),
        ..Default::default()
    };
    let mut s = rawarrow::stream::BatchStream::bam(&[path], &options).expect("a split opens");
    let schema = s.schema();
    let mut batches = Vec::new();
    while let Some(b) = s.next_batch().expect("a split reads") {
        batches.push(b);
    }
    arrow_select::concat::concat_batches(&schema, &batches).expect("concat")
}

/// Index-free splits of CRAM 3.0 and 3.1: a container belongs to the split its first byte is
/// in, found from any byte offset by its header's CRC32. Reading `[o, o + 1)` for every
/// offset `o` of a file of small containers gives every record once, in order (no false
/// start anywhere); partitions into splits of several sizes give the whole file's rows.
#[test]
fn cram_splits_at_every_offset_give_every_record_once() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bam = sample_bam();
    let fa = reference_from(&bam, dir.path());
    // The first 300 records, 25 to a container.
    let head = dir.path().join("head.bam");
    let sam = samtools_out(&["view", "-h", bam.to_str().expect("utf-8")]);
    let text = String::from_utf8(sam).expect("sam");
    let mut kept: Vec<&str> = text.lines().filter(|l| l.starts_with('@')).collect();
    kept.extend(text.lines().filter(|l| !l.starts_with('@')).take(300));
    let sam_path = dir.path().join("head.sam");
    std::fs::write(&sam_path, kept.join("\n") + "\n").expect("sam");
    samtools_out(&[
        "view",
        "-b",
        "--no-PG",
        sam_path.to_str().expect("utf-8"),
        "-o",
        head.to_str().expect("utf-8"),
    ]);
    for version in ["3.0", "3.1"] {
        let cram = dir.path().join(format!("small{version}.cram"));
        write_cram(
            &head,
            &cram,
            Some(&fa),
            &[&format!("version={version}"), "seqs_per_slice=25"],
        );
        let whole = rows(&cram, Some(&fa));
        assert_eq!(whole.num_rows(), 300, "{version}");
        let len = std::fs::metadata(&cram).expect("cram").len();
        let mut parts = Vec::new();
        let mut starts = 0;
        // Every offset of the 3.0 file (3.1's containers are found by the same headers).
        let every = if version == "3.0" { len } else { 0 };
        for o in 0..every {
            let b = split_rows(&cram, &fa, o, o + 1, 1);
            if b.num_rows() > 0 {
                starts += 1;
                parts.push(b);
            }
        }
        if every > 0 {
            assert!(starts >= 12, "{version}: {starts} containers");
            let got =
                arrow_select::concat::concat_batches(&whole.schema(), &parts).expect("concat");
            assert!(
                got == whole,
                "{version}: one-byte splits differ from the whole file"
            );
        }
        for size in [1000, 4096, len / 3 + 1] {
            let parts: Vec<RecordBatch> = (0..len)
                .step_by(size as usize)
                .map(|s| split_rows(&cram, &fa, s, s + size, 2))
                .collect();
            let got =
                arrow_select::concat::concat_batches(&whole.schema(), &parts).expect("concat");
            assert!(got == whole, "{version}: splits of {size} bytes");
        }
    }
    // CRAM 2.1 has no CRC32 to find a container by: a byte range is refused with the reason.
    let old = dir.path().join("old.cram");
    write_cram(&head, &old, Some(&fa), &["version=2.1"]);
    let options = rawarrow::stream::BamOptions {
        reference: Some(fa.clone()),
        byte_range: Some((100, 5000)),
        ..Default::default()
    };
    let e = match rawarrow::stream::BatchStream::bam(&[&old], &options) {
        Ok(mut s) => s
            .next_batch()
            .expect_err("a 2.1 split is refused")
            .to_string(),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("CRC32") && e.contains("old.cram"), "{e}");
}

/// Regions through the `.crai` samtools writes: `bam view x.cram REGION...` prints what
/// `samtools view x.cram REGION...` prints (CRAM 3.0 and 3.1, small containers, regions
/// inside one container, across several, open-ended, whole references, unmapped reads,
/// several at once), the Arrow reader keeps as many rows, and a missing `.crai` is an error
/// that names where it looked.
#[test]
fn cram_regions_through_the_crai_equal_samtools() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (sorted, fa) = sorted_sample(dir.path());
    let header = String::from_utf8(samtools_out(&[
        "view",
        "-H",
        sorted.to_str().expect("utf-8"),
    ]))
    .expect("header");
    let names: Vec<String> = header
        .lines()
        .filter(|l| l.starts_with("@SQ"))
        .filter_map(|l| {
            l.split('\t')
                .find_map(|f| f.strip_prefix("SN:"))
                .map(str::to_owned)
        })
        .collect();
    let (a, b) = (&names[0], &names[names.len() - 1]);
    let regions: Vec<Vec<String>> = vec![
        vec![format!("{a}:1000-1100")],
        vec![format!("{a}:2000-30000")],
        vec![format!("{a}:40000-")],
        vec![b.clone()],
        vec!["*".into()],
        vec![
            format!("{b}:100-5000"),
            format!("{a}:3000-3100"),
            format!("{a}:2900-3050"),
        ],
    ];
    for version in ["3.0", "3.1"] {
        let cram = dir.path().join(format!("sorted{version}.cram"));
        write_cram(
            &sorted,
            &cram,
            Some(&fa),
            &[&format!("version={version}"), "seqs_per_slice=200"],
        );
        let cram_s = cram.to_str().expect("utf-8").to_owned();
        let fa_s = fa.to_str().expect("utf-8").to_owned();
        // Without the index: the error names where it looked.
        let e = error_of(&[
            "bam".as_ref(),
            "view".as_ref(),
            "-T".as_ref(),
            fa.as_os_str(),
            cram.as_os_str(),
            regions[0][0].as_ref(),
        ]);
        assert!(e.contains(".crai") && e.contains("samtools index"), "{e}");
        samtools_out(&["index", &cram_s]);
        let mut nonempty = 0;
        for r in &regions {
            let mut args = vec![
                "view".to_string(),
                "--no-PG".into(),
                "-T".into(),
                fa_s.clone(),
                cram_s.clone(),
            ];
            args.extend(r.iter().cloned());
            let want = samtools_out(&args);
            let mut c = cli();
            c.args(["bam", "view", "-t", "2", "-T", &fa_s, &cram_s])
                .args(r);
            let out = c.output().expect("run rawarrow");
            assert!(
                out.status.success(),
                "{r:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stdout == want,
                "{version} {r:?}: {}",
                first_difference(&want, &out.stdout)
            );
            let lines = want
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            nonempty += usize::from(lines > 0);
            // The Arrow reader keeps the same records.
            let options = rawarrow::stream::BamOptions {
                threads: Some(2),
                reference: Some(fa.clone()),
                regions: r.clone(),
                ..Default::default()
            };
            let mut s = rawarrow::stream::BatchStream::bam(&[&cram], &options).expect("opens");
            let mut rows = 0;
            while let Some(b) = s.next_batch().expect("reads") {
                rows += b.num_rows();
            }
            assert_eq!(rows, lines, "{version} {r:?}: Arrow rows");
        }
        assert!(nonempty >= 4, "{version}: the regions hold records");
    }
}

/// htslib's own test files (Debian's `htslib-test`): the CRAM files htsjdk wrote (a second
/// encoder: other table totals, empty blocks, Huffman codes of no symbols) and the one with
/// its `.crai`, then every SAM file of the suite with a reference, written by samtools as
/// CRAM 2.1, 3.0 and 3.1 (archive; small with 7 records a slice): `bam view` prints what
/// `samtools view` prints.
#[test]
fn htslib_test_files_equal_samtools() {
    let dir = Path::new("/usr/share/htslib-test/test");
    if samtools().is_none() || !dir.is_dir() {
        assert!(
            std::env::var_os("RAWARROW_REQUIRE_HTSLIB_TEST").is_none(),
            "htslib-test is not installed (apt-get install htslib-test)"
        );
        return;
    }
    let view = |cram: &Path, fa: &Path| -> Option<Vec<u8>> {
        let out = samtools()
            .expect("checked")
            .args(["view", "--no-PG", "-T"])
            .arg(fa)
            .arg(cram)
            .output()
            .expect("run samtools");
        // A file samtools itself cannot read (its writer's embed_ref of a slice without
        // a reference) is no oracle.
        out.status.success().then_some(out.stdout)
    };
    let shipped = [
        ("auxf#values_java.cram", "auxf.fa", None),
        ("ce#5b_java.cram", "ce.fa", None),
        ("xx#large_aux_java.cram", "xx.fa", None),
        ("range.cram", "ce.fa", Some("CHROMOSOME_I:900-1100")),
    ];
    for (name, fa, region) in shipped {
        let (cram, fa) = (dir.join(name), dir.join(fa));
        let want = view(&cram, &fa).expect("samtools reads htslib's test file");
        let got = rawarrow_view(&cram, Some(&fa), false);
        assert!(want == got, "{name}: {}", first_difference(&want, &got));
        if let Some(r) = region {
            let mut args: Vec<String> = vec!["view".into(), "--no-PG".into(), "-T".into()];
            args.extend([
                fa.display().to_string(),
                cram.display().to_string(),
                r.into(),
            ]);
            let want = samtools_out(&args);
            let out = cli()
                .args(["bam", "view", "-T"])
                .arg(&fa)
                .arg(&cram)
                .arg(r)
                .output()
                .expect("run rawarrow");
            assert!(
                out.stdout == want,
                "{name} {r}: {}",
                first_difference(&want, &out.stdout)
            );
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut sams: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("htslib-test")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sam"))
        .collect();
    sams.sort();
    let (mut checked, mut skipped) = (0, 0);
    for sam in &sams {
        let stem = sam
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let base = stem.split('#').next().expect("name");
        let fa = dir.join(format!("{base}.fa"));
        if !fa.is_file() {
            continue;
        }
        for opts in [
            &["version=2.1"][..],
            &["version=3.0"][..],
            &["version=3.1", "archive"][..],
            &["version=3.1", "small", "seqs_per_slice=7"][..],
        ] {
            let cram = tmp.path().join(format!("{stem}.cram"));
            let mut args: Vec<String> =
                vec!["view".into(), "-C".into(), "--no-PG".into(), "-T".into()];
            args.push(fa.display().to_string());
            for o in opts {
                args.extend(["--output-fmt-option".into(), (*o).into()]);
            }
            args.extend([
                sam.display().to_string(),
                "-o".into(),
                cram.display().to_string(),
            ]);
            let wrote = samtools()
                .expect("checked")
                .args(&args)
                .output()
                .expect("run samtools");
            let Some(want) = wrote.status.success().then(|| view(&cram, &fa)).flatten() else {
                skipped += 1;
                continue;
            };
            let got = rawarrow_view(&cram, Some(&fa), false);
            assert!(
                want == got,
                "{stem} {opts:?}: {}",
                first_difference(&want, &got)
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 100 && skipped <= 4,
        "{checked} checked, {skipped} skipped"
    );
}

/// A reader that hands out at most `piece` bytes per read: a pipe's bytes arriving in small
/// pieces, so that container headers and containers are waited for across reads.
struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    piece: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.piece).min(self.bytes.len() - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Rows of one input through the library's stream, and the error that ended it, if any.
fn input_rows(
    input: rawarrow::io::Input,
    reference: &Path,
    threads: usize,
) -> Result<RecordBatch, rawarrow::Error> {
    let options = rawarrow::stream::BamOptions {
        threads: Some(threads),
        reference: Some(reference.to_path_buf()),
        ..Default::default()
    };
    let mut s = rawarrow::stream::BatchStream::bam_inputs(vec![input], &options)?;
    let schema = s.schema();
    let mut batches = Vec::new();
    while let Some(b) = s.next_batch()? {
        batches.push(b);
    }
    Ok(arrow_select::concat::concat_batches(&schema, &batches).expect("concat"))
}

/// CRAM from a pipe (standard input, bytes arriving in pieces of any size) and from a URL
/// (whole, and by regions through the `.crai` beside it, fetching only the header, the index
/// and the containers of the region; byte ranges, each found without an index) reads as the
/// file does; a cut stream is the file's error at the same offset.
#[test]
fn cram_from_pipes_and_urls_reads_as_the_file() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (sorted, fa) = sorted_sample(dir.path());
    let (base, log) = common::http_range::serve_logged(dir.path());
    for version in ["2.1", "3.0", "3.1"] {
        let name = format!("s{version}.cram");
        let cram = dir.path().join(&name);
        write_cram(
            &sorted,
            &cram,
            Some(&fa),
            &[&format!("version={version}"), "seqs_per_slice=300"],
        );
        let bytes = std::fs::read(&cram).expect("read");
        let want_text = samtools_view(&cram, Some(&fa), false);
        let want = rows(&cram, Some(&fa));
        assert!(want.num_rows() > 1000, "{version}: rows");
        // Standard input, through the CLI.
        let mut child = cli()
            .args(["bam", "view", "-t", "2", "-T"])
            .arg(&fa)
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run rawarrow");
        let mut stdin = child.stdin.take().expect("stdin");
        let feed = bytes.clone();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &feed));
        let out = child.wait_with_output().expect("rawarrow ends");
        writer.join().expect("writer").expect("written");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == want_text,
            "{version} from stdin: {}",
            first_difference(&want_text, &out.stdout)
        );
        // The library, from readers that hand out 1 byte, 1000 bytes or 64 KiB at a time.
        for (piece, threads) in [(1, 1), (1000, 2), (64 << 10, 2)] {
            let reader = Trickle {
                bytes: bytes.clone(),
                at: 0,
                piece,
            };
            let input = rawarrow::io::Input::stream(cram.clone(), Box::new(reader));
            let got = input_rows(input, &fa, threads).expect("reads");
            assert!(got == want, "{version}: a stream in pieces of {piece}");
        }
        // A cut stream: the error the cut file gives, at the same container.
        let cut = dir.path().join(format!("cut{version}.cram"));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
        let file_error = input_rows(rawarrow::io::Input::open(&cut).expect("open"), &fa, 2)
            .expect_err("cut")
            .to_string();
        let reader = Trickle {
            bytes: bytes[..bytes.len() * 2 / 3].to_vec(),
            at: 0,
            piece: 4096,
        };
        let stream_error = input_rows(
            rawarrow::io::Input::stream(cut.clone(), Box::new(reader)),
            &fa,
            2,
        )
        .expect_err("cut")
        .to_string();
        assert!(
            file_error.contains("compressed offset") && file_error.contains("CRAM container"),
            "{file_error}"
        );
        assert_eq!(stream_error, file_error, "{version}: cut");
        // A URL, whole: the same rows at 1 and 2 threads.
        let url = format!("{base}/{name}");
        for threads in [1, 2] {
            let options = rawarrow::stream::BamOptions {
                threads: Some(threads),
                reference: Some(fa.clone()),
                ..Default::default()
            };
            let mut s =
                rawarrow::stream::BatchStream::bam(&[url.as_str()], &options).expect("opens");
            let schema = s.schema();
            let mut batches = Vec::new();
            while let Some(b) = s.next_batch().expect("reads") {
                batches.push(b);
            }
            let got = arrow_select::concat::concat_batches(&schema, &batches).expect("concat");
            assert!(got == want, "{version}: {url} at {threads} threads");
        }
        if version == "2.1" {
            // A byte range of a CRAM 2.1 URL: refused, saying why, as for the file.
            let options = rawarrow::stream::BamOptions {
                reference: Some(fa.clone()),
                byte_range: Some((0, 1000)),
                ..Default::default()
            };
            let e = rawarrow::stream::BatchStream::bam(&[url.as_str()], &options)
                .and_then(|mut s| s.next_batch())
                .expect_err("refused");
            assert!(e.to_string().contains("no CRC32"), "{e}");
            continue;
        }
        // Byte ranges of a URL: each split equals the file's split of the same range, and a
        // partition gives every record once.
        let len = bytes.len() as u64;
        for parts in [1u64, 3, 7] {
            let mut all = Vec::new();
            for i in 0..parts {
                let (start, end) = (len * i / parts, len * (i + 1) / parts);
                let got = split_rows(Path::new(&url), &fa, start, end, 2);
                let local = split_rows(&cram, &fa, start, end, 2);
                assert!(got == local, "{version}: split {start}..{end} of {url}");
                all.push(got);
            }
            let joined =
                arrow_select::concat::concat_batches(&want.schema(), &all).expect("concat");
            assert!(joined == want, "{version}: {parts} splits of {url}");
        }
        // Regions of a URL through the .crai beside it: samtools' records, and only the
        // header, the index and the region's containers fetched.
        samtools_out(&["index", cram.to_str().expect("utf-8")]);
        let fa_s = fa.to_str().expect("utf-8");
        for region in ["chrS1:1000-1100", "chrS2:100-5000", "chrS1:20000-"] {
            let want = samtools_out(&[
                "view",
                "--no-PG",
                "-T",
                fa_s,
                cram.to_str().expect("utf-8"),
                region,
            ]);
            assert!(!want.is_empty(), "{region}: records");
            log.lock().expect("log").clear();
            let got = cli()
                .args(["bam", "view", "-t", "2", "-T", fa_s, &url, region])
                .output()
                .expect("run rawarrow");
            assert!(
                got.status.success(),
                "{}",
                String::from_utf8_lossy(&got.stderr)
            );
            assert!(
                got.stdout == want,
                "{version} {url} {region}: {}",
                first_difference(&want, &got.stdout)
            );
            let fetched: u64 = log
                .lock()
                .expect("log")
                .iter()
                .filter(|(path, _, _)| path.ends_with(".cram"))
                .map(|(_, _, n)| n)
                .sum();
            let crai = log
                .lock()
                .expect("log")
                .iter()
                .any(|(p, _, _)| p.ends_with(".crai"));
            assert!(crai, "{region}: the .crai was fetched");
            if region == "chrS1:1000-1100" {
                // Two header reads of at most 64 KiB, and one or two containers.
                assert!(
                    fetched < bytes.len() as u64 / 2,
                    "{region}: fetched {fetched} of {}",
                    bytes.len()
                );
            }
        }
    }
    // A URL with no .crai beside it: the error names where it looked.
    std::fs::remove_file(dir.path().join("s3.0.cram.crai")).expect("remove");
    let e = cli()
        .args(["bam", "view", "-T"])
        .arg(&fa)
        .arg(format!("{base}/s3.0.cram"))
        .arg("chrS1:1-10")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&e.stderr);
    assert!(
        !e.status.success() && text.contains("s3.0.cram.crai") && text.contains("samtools index"),
        "{text}"
    );
}

/// `cram` decoded by noodles-cram (a second, independent CRAM decoder) and printed by its SAM
/// writer, on a thread of its own with a large stack (noodles' decoder, inlined whole in an
/// optimised build, overflows a test thread's 2 MiB).
fn noodles_view(cram: &Path, reference: Option<&Path>) -> Vec<u8> {
    let (cram, reference) = (cram.to_owned(), reference.map(Path::to_owned));
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || noodles_decode(&cram, reference.as_deref()))
        .expect("a thread")
        .join()
        .expect("noodles decodes")
}

fn noodles_decode(cram: &Path, reference: Option<&Path>) -> Vec<u8> {
    use noodles_sam::alignment::io::Write as _;
    let repository = match reference {
        Some(fa) => {
            noodles_fasta::Repository::new(noodles_fasta::repository::adapters::IndexedReader::new(
                noodles_fasta::io::indexed_reader::Builder::default()
                    .build_from_path(fa)
                    .expect("an indexed FASTA"),
            ))
        }
        None => noodles_fasta::Repository::default(),
    };
    let mut reader = noodles_cram::io::reader::Builder::default()
        .set_reference_sequence_repository(repository)
        .build_from_path(cram)
        .expect("noodles opens the CRAM");
    let header = reader.read_header().expect("noodles reads the header");
    let mut writer = noodles_sam::io::Writer::new(Vec::new());
    for record in reader.records(&header) {
        let record = record.expect("noodles decodes the record");
        writer
            .write_alignment_record(&header, &record)
            .expect("noodles writes SAM");
    }
    writer.into_inner()
}

/// A SAM line as the two decoders can agree on it: the eleven fixed fields, and the tags
/// sorted, without the MD and NM htslib regenerates from the reference (noodles does not);
/// floats to the six significant digits htslib prints (noodles prints the shortest text that
/// reads back); an unmapped read's MAPQ as htslib gives it.
fn comparable(line: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut fields: Vec<&[u8]> = line.split(|&c| c == b'\t').collect();
    // CRAM stores no MAPQ for an unmapped read: htslib gives 0, noodles 255 (missing).
    let flag: u16 = std::str::from_utf8(fields[1])
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    if flag & 4 != 0 && fields[4] == b"255" {
        fields[4] = b"0";
    }
    let fixed = fields[..fields.len().min(11)].join(&b'\t');
    let mut tags: Vec<Vec<u8>> = fields
        .iter()
        .skip(11)
        .filter(|t| !t.starts_with(b"MD:Z:") && !t.starts_with(b"NM:i:"))
        .map(
            |t| match (t.get(2..5), std::str::from_utf8(&t[t.len().min(5)..])) {
                (Some(b":f:"), Ok(v)) => {
                    // The float the text stands for, then its exact value rounded.
                    let v = f64::from(v.parse::<f32>().expect("a float tag"));
                    let mut out = t[..5].to_vec();
                    out.extend_from_slice(format!("{v:.5e}").as_bytes());
                    out
                }
                _ => t.to_vec(),
            },
        )
        .collect();
    tags.sort();
    (fixed, tags)
}

/// noodles-cram as a second oracle: the CRAM 3.0 and 3.1 profiles samtools writes from the
/// sample (against a reference, with it embedded, without one), and from the corpus BAMs
/// over genomes under 200 Mb (3.0, 3.1 normal and small), decode by noodles into the records
/// `rawarrow bam view` prints, field by field and tag by tag.
#[test]
fn noodles_cram_decodes_the_records_rawarrow_prints() {
    if samtools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (k, bam) in all_bams().into_iter().enumerate() {
        // noodles reads a reference sequence whole per slice: a genome's takes minutes (and
        // writing one here, half a minute).
        let header = samtools_out(&["view", "-H", bam.to_str().expect("utf-8")]);
        let genome: u64 = String::from_utf8_lossy(&header)
            .lines()
            .filter(|l| l.starts_with("@SQ"))
            .filter_map(|l| l.split('\t').find_map(|f| f.strip_prefix("LN:")))
            .filter_map(|n| n.parse::<u64>().ok())
            .sum();
        if genome > 200_000_000 {
            continue;
        }
        let fa = reference_from(&bam, dir.path());
        samtools_out(&["faidx", fa.to_str().expect("utf-8")]);
        let all: [(&str, &[&str], bool); 6] = [
            ("3.0", &["version=3.0"], true),
            ("3.1 normal", &["version=3.1"], true),
            ("3.1 small", &["version=3.1", "small"], true),
            ("3.0 embedded", &["version=3.0", "embed_ref=1"], false),
            ("3.0 no_ref", &["version=3.0", "no_ref=1"], false),
            // noodles-cram 0.102 fails on donors_chr22's archive profile ("TryFromIntError");
            // samtools and rawarrow agree on it (`cram_3_0_of_every_bam_equals_samtools`).
            ("3.1 archive", &["version=3.1", "archive"], true),
        ];
        // The sample in every profile, the corpus in three.
        let cases = if k == 0 { &all[..] } else { &all[..3] };
        for (i, (what, options, with_ref)) in cases.iter().enumerate() {
            let what = format!("{} {what}", bam.display());
            let cram = dir.path().join(format!("n{k}-{i}.cram"));
            write_cram(&bam, &cram, Some(&fa), options);
            let reference = with_ref.then_some(fa.as_path());
            let ours = rawarrow_view(&cram, reference, false);
            let theirs = noodles_view(&cram, reference);
            let lines = |t: &[u8]| -> Vec<Vec<u8>> {
                t.split(|&c| c == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            };
            let (a, b) = (lines(&ours), lines(&theirs));
            assert!(!a.is_empty(), "{what}: records");
            assert_eq!(a.len(), b.len(), "{what}: records");
            for (n, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(
                    comparable(x),
                    comparable(y),
                    "{what}: record {n}:\nrawarrow: {}\nnoodles:  {}",
                    String::from_utf8_lossy(x),
                    String::from_utf8_lossy(y)
                );
            }
        }
    }
}
