//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::PathBuf;

pub(crate) mod cells;
pub(crate) mod http_range;
pub(crate) mod mzml;

/// The BAM that ships with the repository (made by `tests/data/make_sample.py` + samtools).
pub(crate) fn sample_bam() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.bam")
}

/// The sample's records `copies` times over, after its header, as BGZF: a BAM big enough that
/// a conversion blocked on its output (or paused with its input) has most of it unread.
pub(crate) fn repeated_bam(copies: usize) -> Vec<u8> {
    let (header, records) = sample_parts();
    let mut out = header;
    for _ in 0..copies {
        out.extend_from_slice(&records);
    }
    rawarrow::bgzf::compress(&out, 1)
}

/// The sample's uncompressed BAM stream, cut into its header and its records.
pub(crate) fn sample_parts() -> (Vec<u8>, Vec<u8>) {
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(sample_bam()).expect("sample"))
        .read_to_end(&mut raw)
        .expect("gunzip");
    let i32_at =
        |at: usize| i32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes")) as usize;
    let mut at = 8 + i32_at(4);
    let refs = i32_at(at);
    at += 4;
    for _ in 0..refs {
        at += 4 + i32_at(at) + 4;
    }
    let records = raw.split_off(at);
    (raw, records)
}

/// `$RAWARROW_CORPUS/<sub>` when the corpus is configured. When the variable is set the
/// folder must exist: a misconfigured CI fails instead of silently testing nothing.
pub(crate) fn corpus_dir(sub: &str) -> Option<PathBuf> {
    let root = std::env::var_os("RAWARROW_CORPUS")?;
    let dir = PathBuf::from(root).join(sub);
    assert!(
        dir.is_dir(),
        "RAWARROW_CORPUS is set but {} is missing",
        dir.display()
    );
    Some(dir)
}

/// Every `*.bam` of the corpus (empty when the corpus is not configured).
pub(crate) fn corpus_bams() -> Vec<PathBuf> {
    let Some(dir) = corpus_dir("bam") else {
        eprintln!("RAWARROW_CORPUS not set: corpus files skipped, repository files still tested");
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bam"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "corpus has no BAM files");
    v
}

/// The sample plus every corpus BAM.
pub(crate) fn all_bams() -> Vec<PathBuf> {
    let mut v = vec![sample_bam()];
    v.extend(corpus_bams());
    v
}

/// Decompresses with flate2's multi-member gzip decoder: the independent oracle.
pub(crate) fn oracle_decompress(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("oracle decodes");
    out
}

/// BGZF built block by block with flate2's deflate (an independent encoder) at `level`
/// (0 = stored), cut at the given offsets (repeated cuts make empty blocks).
pub(crate) fn flate2_bgzf(data: &[u8], cuts: &[usize], level: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    bounds.push(data.len());
    bounds.sort_unstable();
    for end in bounds {
        let piece = &data[start..end.max(start)];
        for sub in piece
            .chunks(0xff00)
            .chain(std::iter::once(&[][..]).filter(|_| piece.is_empty()))
        {
            let deflate = |level: u32| {
                let mut enc =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
                enc.write_all(sub).expect("deflate");
                enc.finish().expect("deflate")
            };
            // Random bytes can deflate to more than a block holds (zlib-rs' level 1 never
            // falls back to stored blocks): then stored, as bgzip does.
            let mut deflated = deflate(level);
            if 18 + deflated.len() + 8 > 1 << 16 {
                deflated = deflate(0);
            }
            let mut crc = flate2::Crc::new();
            crc.update(sub);
            let bsize = (18 + deflated.len() + 8 - 1) as u16;
            out.extend_from_slice(&[
                0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0,
            ]);
            out.extend_from_slice(&bsize.to_le_bytes());
            out.extend_from_slice(&deflated);
            out.extend_from_slice(&crc.sum().to_le_bytes());
            out.extend_from_slice(&(sub.len() as u32).to_le_bytes());
        }
        start = end.max(start);
    }
    out.extend_from_slice(&rawarrow::bgzf::EOF_MARKER);
    out
}

/// The `samtools` command, the oracle for regions, filters, indexes and lenient records:
/// `None` (with a note) when it is not installed. `.ci/run` installs it and sets
/// `RAWARROW_REQUIRE_SAMTOOLS=1`, so there a missing samtools fails instead of skipping.
pub(crate) fn samtools() -> Option<std::process::Command> {
    let found = std::process::Command::new("samtools")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("RAWARROW_REQUIRE_SAMTOOLS").is_none(),
            "RAWARROW_REQUIRE_SAMTOOLS is set but samtools is not installed"
        );
        eprintln!("samtools is not installed: the checks against it are not run");
        return None;
    }
    Some(std::process::Command::new("samtools"))
}

/// Runs samtools with `args`; its standard output (panics with its stderr on failure).
pub(crate) fn samtools_out<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<u8> {
    let out = samtools()
        .expect("samtools checked by the caller")
        .args(args)
        .output()
        .expect("run samtools");
    assert!(
        out.status.success(),
        "samtools {:?}: {}",
        args.iter()
            .map(|a| a.as_ref().to_owned())
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs the `rawarrow` binary; (stdout, stderr, success).
pub(crate) fn rawarrow<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Vec<u8>, String, bool) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args(args)
        .output()
        .expect("run rawarrow");
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}
