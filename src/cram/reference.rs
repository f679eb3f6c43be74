//! Reference sequences for CRAM slices whose bases are stored as differences from a
//! reference: a FASTA file (with its `.fai` index, or an index built in memory when there is
//! none), read through the same mapped input as every other file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::Cause;
use crate::io::Input;

/// One sequence of a FASTA file: where its bases start and how its lines are laid out.
#[derive(Debug, Clone, Copy)]
struct Entry {
    len: u64,
    offset: u64,
    line_bases: u64,
    line_width: u64,
}

/// A FASTA file and its index.
#[derive(Debug)]
pub(crate) struct Fasta {
    input: Arc<Input>,
    entries: HashMap<String, Entry>,
}

impl Fasta {
    /// Opens `path` and its `.fai` (built from the file when missing).
    pub(crate) fn open(path: &Path) -> Result<Self, Cause> {
        let input = Input::open(path).map_err(|e| {
            Cause::NoReference(format!(
                "the reference {} cannot be opened: {e}",
                path.display()
            ))
        })?;
        let mut fai = path.as_os_str().to_owned();
        fai.push(".fai");
        let fai = PathBuf::from(fai);
        let entries = match std::fs::read(&fai) {
            Ok(text) => parse_fai(&text).ok_or_else(|| {
                Cause::NoReference(format!("the FASTA index {} is malformed", fai.display()))
            })?,
            Err(_) => index(input.bytes()).ok_or_else(|| {
                Cause::NoReference(format!(
                    "{} is not a FASTA file whose lines are of one width per sequence",
                    path.display()
                ))
            })?,
        };
        input
            .check()
            .map_err(|cut| Cause::NoReference(format!("the reference changed: {cut}")))?;
        Ok(Self {
            input: Arc::new(input),
            entries,
        })
    }

    /// The length of sequence `name`, if the file has it.
    pub(crate) fn len(&self, name: &str) -> Option<u64> {
        self.entries.get(name).map(|e| e.len)
    }

    /// Bases `[start, end)` (0-based) of sequence `name`, upper-cased, appended to `out`
    /// (clipped to the sequence's end).
    pub(crate) fn bases(
        &self,
        name: &str,
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), Cause> {
        let e = self
            .entries
            .get(name)
            .ok_or_else(|| Cause::NoReference(format!("the reference has no sequence {name:?}")))?;
        let end = end.min(e.len);
        let file = self.input.bytes();
        let from = out.len();
        out.reserve(end.saturating_sub(start) as usize);
        let mut pos = start;
        while pos < end {
            let line = pos / e.line_bases;
            let within = pos % e.line_bases;
            let n = (e.line_bases - within).min(end - pos);
            let at = (e.offset + line * e.line_width + within) as usize;
            let bytes = file.get(at..at + n as usize).ok_or_else(|| {
                Cause::NoReference(format!(
                    "the reference's index places {name} past the end of the file"
                ))
            })?;
            out.extend_from_slice(bytes);
            pos += n;
        }
        // Upper-cased in one pass (vectorised), not line by line.
        out[from..].make_ascii_uppercase();
        self.input
            .check()
            .map_err(|cut| Cause::NoReference(format!("the reference changed: {cut}")))?;
        Ok(())
    }
}

/// A `.fai`: name, length, offset, bases per line, bytes per line.
fn parse_fai(text: &[u8]) -> Option<HashMap<String, Entry>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            return None;
        }
        let e = Entry {
            len: f[1].parse().ok()?,
            offset: f[2].parse().ok()?,
            line_bases: f[3].parse().ok()?,
            line_width: f[4].parse().ok()?,
        };
        if e.line_bases == 0 || e.line_width < e.line_bases {
            return None;
        }
        out.insert(f[0].to_string(), e);
    }
    Some(out)
}

/// Builds the index `samtools faidx` would write, from the file.
fn index(file: &[u8]) -> Option<HashMap<String, Entry>> {
    let mut out = HashMap::new();
    let mut pos = 0usize;
    let mut current: Option<(String, Entry, bool)> = None;
    let finish = |c: Option<(String, Entry, bool)>, out: &mut HashMap<String, Entry>| {
        if let Some((name, mut e, _)) = c {
            if e.line_bases == 0 {
                e.line_bases = 1;
                e.line_width = 1;
            }
            out.insert(name, e);
        }
    };
    while pos < file.len() {
        let end = memchr::memchr(b'\n', &file[pos..]).map_or(file.len(), |i| pos + i);
        let line = &file[pos..end];
        let next = (end + 1).min(file.len());
        if let Some(head) = line.strip_prefix(b">") {
            finish(current.take(), &mut out);
            let name = head
                .split(|&b| b == b' ' || b == b'\t' || b == b'\r')
                .next()
                .unwrap_or_default();
            let e = Entry {
                len: 0,
                offset: next as u64,
                line_bases: 0,
                line_width: 0,
            };
            current = Some((String::from_utf8_lossy(name).into_owned(), e, false));
        } else if let Some((_, e, short_seen)) = &mut current {
            let width = (next - pos) as u64;
            let bases = line.strip_suffix(b"\r").unwrap_or(line).len() as u64;
            if bases > 0 {
                if *short_seen {
                    // A line after a shorter one: the index cannot address it.
                    return None;
                }
                if e.line_bases == 0 {
                    e.line_bases = bases;
                    e.line_width = width;
                } else if bases < e.line_bases {
                    *short_seen = true;
                } else if bases > e.line_bases {
                    return None;
                }
                e.len += bases;
            }
        }
        pos = next;
    }
    finish(current, &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_across_lines_with_and_without_an_index() {
        let dir = tempfile::tempdir().expect("test input");
        let fa = dir.path().join("r.fa");
        std::fs::write(&fa, b">one desc\nACGTa\ncgtAC\nGG\n>two\nNNNN\nTT\n").expect("test input");
        let built = Fasta::open(&fa).expect("test input");
        let mut out = Vec::new();
        built.bases("one", 3, 12, &mut out).expect("test input");
        assert_eq!(out, b"TACGTACGG");
        assert_eq!(built.len("two"), Some(6));
        out.clear();
        built.bases("two", 2, 100, &mut out).expect("test input");
        assert_eq!(out, b"NNTT");
        std::fs::write(
            dir.path().join("r.fa.fai"),
            "one\t12\t10\t5\t6\ntwo\t6\t31\t4\t5\n",
        )
        .expect("test input");
        let indexed = Fasta::open(&fa).expect("test input");
        out.clear();
        indexed.bases("one", 0, 12, &mut out).expect("test input");
        assert_eq!(out, b"ACGTACGTACGG");
        assert!(indexed.bases("three", 0, 1, &mut out).is_err());
    }
}
