//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

/// The BAM that ships with the repository (made by `tests/data/make_sample.py` + samtools).
pub(crate) fn sample_bam() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.bam")
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
