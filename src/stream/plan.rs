//! How a cluster engine cuts inputs into pieces that readers on different machines read
//! independently: BAM byte ranges, timsTOF frame ranges, MIDI file lists.

use std::path::{Path, PathBuf};

use super::{BatchStream, Error, TdfOptions};
use crate::io::Input;
use crate::{midi, tdf};

/// Pieces of input that readers on different machines read independently, as a cluster engine
/// plans them (the Python package's `rawarrow.ray`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// The records of a BAM file that begin in blocks at compressed offsets `start..end`
    /// ([`BamOptions::byte_range`](super::BamOptions::byte_range)).
    Bam {
        /// The file.
        path: PathBuf,
        /// First compressed offset of the range.
        start: u64,
        /// End of the range (exclusive).
        end: u64,
    },
    /// The frames `first..=last` of a timsTOF run ([`TdfOptions::frames`](super::TdfOptions::frames)).
    Tdf {
        /// The `.d` folder.
        path: PathBuf,
        /// First frame id.
        first: u32,
        /// Last frame id (inclusive).
        last: u32,
        /// Peaks the frames declare.
        peaks: u64,
    },
    /// A list of MIDI files.
    Midi {
        /// The files.
        paths: Vec<PathBuf>,
        /// Their size in bytes.
        bytes: u64,
    },
}

/// Byte ranges of `split_bytes` over every BAM file (at least one per file, so an empty or
/// broken file still reports its error when read).
pub fn plan_bam<P: AsRef<Path>>(paths: &[P], split_bytes: u64) -> Result<Vec<Split>, Error> {
    if split_bytes == 0 {
        return Err(Error::usage("split_bytes must be at least 1"));
    }
    let mut out = Vec::new();
    for p in paths {
        let path = p.as_ref();
        let size = Input::open(path)?.len() as u64;
        let mut start = 0;
        loop {
            let end = (start + split_bytes).min(size.max(1));
            out.push(Split::Bam {
                path: path.to_path_buf(),
                start,
                end,
            });
            start = end;
            if start >= size {
                break;
            }
        }
    }
    Ok(out)
}

/// Consecutive frames of a timsTOF run in groups of about `peaks_per_split` peaks (whole frames).
pub fn plan_tdf(path: impl AsRef<Path>, peaks_per_split: u64) -> Result<Vec<Split>, Error> {
    if peaks_per_split == 0 {
        return Err(Error::usage("peaks_per_split must be at least 1"));
    }
    let path = path.as_ref();
    let tdf = path.join("analysis.tdf");
    if !path.is_dir() || !tdf.is_file() {
        // The reader's own message for a missing folder or file.
        BatchStream::tdf(path, &TdfOptions::default())?;
    }
    let meta = tdf::meta::Metadata::read(&tdf)?;
    let mut out = Vec::new();
    let mut group: Option<(u32, u32, u64)> = None;
    for f in &meta.frames {
        let g = group.get_or_insert((f.id, f.id, 0));
        g.1 = f.id;
        g.2 += f.num_peaks;
        if g.2 >= peaks_per_split {
            let (first, last, peaks) = *g;
            out.push(Split::Tdf {
                path: path.to_path_buf(),
                first,
                last,
                peaks,
            });
            group = None;
        }
    }
    if let Some((first, last, peaks)) = group {
        out.push(Split::Tdf {
            path: path.to_path_buf(),
            first,
            last,
            peaks,
        });
    }
    Ok(out)
}

/// The MIDI files of `paths` (folders walked as [`BatchStream::midi`] walks them, sorted) in
/// groups of `files_per_split`.
pub fn plan_midi<P: AsRef<Path>>(paths: &[P], files_per_split: usize) -> Result<Vec<Split>, Error> {
    if files_per_split == 0 {
        return Err(Error::usage("files_per_split must be at least 1"));
    }
    let files = midi::list_inputs(paths)?;
    Ok(files
        .chunks(files_per_split)
        .map(|c| Split::Midi {
            bytes: c
                .iter()
                .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
                .sum(),
            paths: c.to_vec(),
        })
        .collect())
}
