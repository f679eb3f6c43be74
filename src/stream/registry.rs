//! The registry of formats: every format once, and the questions asked of all of them — which
//! format reads this input, and how are its inputs cut into splits.

use std::path::{Path, PathBuf};

use crate::format::{Format, Kind, Split};
use crate::Error;

/// Every format rawarrow reads, registered once.
static FORMATS: [&Format; 3] = [
    &crate::bam::stream::FORMAT,
    &crate::tdf::stream::FORMAT,
    &crate::midi::stream::FORMAT,
];

fn by_name(name: &str) -> Result<&'static Format, Error> {
    FORMATS
        .iter()
        .copied()
        .find(|f| f.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
            Error::usage(format!(
                "unknown format {name:?}; the formats are {}",
                names.join(", ")
            ))
        })
}

/// The format that reads `path`, from its first bytes (a folder: a timsTOF run when it holds
/// `analysis.tdf`, else MIDI files to walk): `"bam"`, `"tdf"` or `"midi"`. An input no format
/// reads is a format error saying what it is instead (CRAM, SAM text, an empty file, ...).
///
/// ```
/// let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
/// assert_eq!(rawarrow::stream::detect(sample)?, "bam");
/// let text = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
/// assert_eq!(rawarrow::stream::detect(text).unwrap_err().kind(), rawarrow::ErrorKind::Format);
/// # Ok::<(), rawarrow::Error>(())
/// ```
pub fn detect(path: impl AsRef<Path>) -> Result<&'static str, Error> {
    let path = path.as_ref();
    let kind = Kind::of_path(path)?;
    match FORMATS.iter().find(|f| (f.reads)(kind)) {
        Some(f) => Ok(f.name),
        None => Err(Error::new(
            crate::ErrorKind::Format,
            format!("{}: {}", path.display(), kind.describe()),
        )
        .at(Some(path), crate::Location::Offset(0))),
    }
}

/// How a cluster engine cuts the inputs of `format` (`"bam"`, `"tdf"` or `"midi"`) into
/// [`Split`]s that readers on different machines read independently, of about `size` units
/// each: compressed bytes of BAM (at least one split per file, so that an empty or broken file
/// still reports its error when read), peaks of whole timsTOF frames (one `.d` folder), MIDI
/// files (folders walked as a stream walks them, sorted). BAM paths may be URLs, and a URL
/// ending in `/` names every `.bam` and `.cram` object under that prefix (listed, sorted);
/// `storage` are their settings (see [`BamOptions::storage_options`](crate::stream::BamOptions)).
pub fn plan<P: AsRef<Path>>(
    format: &str,
    paths: &[P],
    size: u64,
    storage: &[(String, String)],
) -> Result<Vec<Split>, Error> {
    let format = by_name(format)?;
    let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    (format.plan)(&paths, size, storage)
}
