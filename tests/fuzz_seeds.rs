//! The fuzz targets' seeds (and a local `fuzz/corpus/`, when one exists) replayed through what
//! the targets leave out to stay fast: the 1- vs 2-thread comparison. Whatever the input, the
//! parallel pipeline must give the same batches, SAM text and bytes as the inline one, or the
//! same error.

use std::path::{Path, PathBuf};

use rawarrow::bam::{self, Reader, Records};
use rawarrow::bgzf::{ChunkReader, Options};
use rawarrow::io::Input;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in [
        root.join("seeds").join(target),
        root.join("corpus").join(target),
    ] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            files.extend(entries.map(|e| e.expect("entry").path()));
        }
    }
    files.sort();
    files
}

fn batches(file: &[u8], threads: usize) -> Result<Vec<arrow_array::RecordBatch>, String> {
    let mut reader = Reader::builder()
        .threads(threads)
        .bgzf_options(Options::default().threads(threads).chunk_bytes(4096))
        .batch_rows(3)
        .tags(&["NM", "XF", "ZB", "RG:i"])
        .map_err(|e| e.to_string())?
        .build(Input::from_bytes("fuzz.bam", file.to_vec()))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(b) = reader.next_batch().map_err(|e| e.to_string())? {
        out.push(b);
    }
    Ok(out)
}

fn sam(file: &[u8], threads: usize) -> Result<Vec<u8>, String> {
    let opts = Options::default().threads(threads).chunk_bytes(4096);
    let mut records = Records::new(Input::from_bytes("fuzz.bam", file.to_vec()), opts)
        .map_err(|e| e.to_string())?;
    let header = records.header().clone();
    let mut out = Vec::new();
    while records
        .next_chunk(|r, _| {
            bam::push_sam(r, &header, &mut out);
            Ok(true)
        })
        .map_err(|e| e.to_string())?
    {}
    Ok(out)
}

fn inflate(file: &[u8], threads: usize) -> Result<Vec<u8>, String> {
    let opts = Options::default().threads(threads).chunk_bytes(1);
    let mut out = Vec::new();
    for c in ChunkReader::new(Input::from_bytes("fuzz", file.to_vec()), opts) {
        out.extend_from_slice(c.map_err(|e| e.to_string())?.data());
    }
    Ok(out)
}

/// The `bam` target's modes 1 (a decompressed stream) and 2 (a file); mode 0 inputs feed the
/// target's record generator, which lives in the target.
#[test]
fn bam_seeds_agree_across_thread_counts() {
    let mut checked = 0;
    for path in inputs("bam") {
        // (A running fuzzer replaces corpus files as it reduces them.)
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Some((&mode, rest)) = bytes.split_first() else {
            continue;
        };
        let file = match mode % 3 {
            1 => rawarrow::bgzf::compress(rest, 1),
            2 => rest.to_vec(),
            _ => continue,
        };
        assert_eq!(batches(&file, 1), batches(&file, 2), "{}", path.display());
        assert_eq!(sam(&file, 1), sam(&file, 2), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 10, "seeds found: {checked}");
}

/// The `bgzf` target's mode 0 (arbitrary bytes as a file).
#[test]
fn bgzf_seeds_agree_across_thread_counts() {
    let mut checked = 0;
    for path in inputs("bgzf") {
        // (A running fuzzer replaces corpus files as it reduces them.)
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Some((&mode, rest)) = bytes.split_first() else {
            continue;
        };
        if mode % 2 != 0 {
            continue;
        }
        assert_eq!(inflate(rest, 1), inflate(rest, 2), "{}", path.display());
        assert_eq!(inflate(rest, 1), inflate(rest, 3), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 3, "seeds found: {checked}");
}

/// The `cram` target's seeds (CRAM 3.0 and 3.1, without a reference and with it embedded,
/// bzip2/lzma, several slices per container): 38 records each, the same at 1 and 2 threads.
#[test]
fn cram_seeds_agree_across_thread_counts() {
    let mut checked = 0;
    for path in inputs("cram") {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Some((_, file)) = bytes.split_first() else {
            continue;
        };
        let one = batches(file, 1);
        assert_eq!(one, batches(file, 2), "{}", path.display());
        assert_eq!(sam(file, 1), sam(file, 2), "{}", path.display());
        if path.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")) {
            let text = sam(file, 1).expect("a seed decodes");
            assert_eq!(
                text.iter().filter(|&&c| c == b'\n').count(),
                38,
                "{}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "seeds found: {checked}");
}
