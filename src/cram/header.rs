//! The SAM header of a CRAM file (the first container's file-header block), and the BAM
//! header bytes the BAM stages downstream read in its place.

use super::codec::Codecs;
use super::container::{block, container_header, content, version, FILE_DEFINITION};
use super::error::{Cause, Error};
use super::num::i32le;

/// What the start of a CRAM file holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileHeader {
    pub(crate) major: u8,
    /// The SAM header text.
    pub(crate) text: Vec<u8>,
    /// `(name, length)` of each `@SQ` line, in order: reference ids index it.
    pub(crate) references: Vec<(String, u64)>,
    /// Where the first data container starts.
    pub(crate) data_start: u64,
}

/// Reads the file definition and the header container of `file` (its first bytes at least).
pub(crate) fn read(file: &[u8]) -> Result<FileHeader, Error> {
    let (major, _minor) = version(file).map_err(|c| Error::new(0, c))?;
    let at = FILE_DEFINITION as u64;
    let fail = |c: Cause| Error::new(at, c);
    let rest = &file[FILE_DEFINITION..];
    let h = container_header(rest, major).map_err(fail)?;
    // The blocks are read as htslib reads them, one after the other from the container
    // header's end: the data starts after them, or after the container's stated length when
    // that is longer (padding). (samtools' CRAM 2.1 writer states a length two bytes short
    // when the padded header's sizes take two-byte ITF8s.)
    let body = &rest[h.header_len..];
    let mut src = body;
    let raw = block(&mut src, major).map_err(fail)?;
    if raw.content_type != content::FILE_HEADER {
        return Err(fail(Cause::Invalid(
            "header container (its first block is not the file header)",
        )));
    }
    for _ in 1..h.blocks {
        block(&mut src, major).map_err(fail)?;
    }
    let consumed = body.len() - src.len();
    if h.length.max(consumed) > body.len() {
        return Err(fail(Cause::Truncated("header container")));
    }
    let mut data = Vec::new();
    Codecs::default()
        .decompress(&raw, &mut data)
        .map_err(fail)?;
    let mut d = data.as_slice();
    let len = i32le(&mut d, "SAM header length").map_err(fail)?;
    let len =
        usize::try_from(len).map_err(|_| fail(Cause::Negative("SAM header length", len.into())))?;
    let text = d
        .get(..len)
        .ok_or_else(|| fail(Cause::Truncated("SAM header text")))?;
    // htslib stops the text at a NUL (space is reserved after it for in-place header edits).
    let text = text.split(|&b| b == 0).next().unwrap_or_default().to_vec();
    let references = sq_lines(&text);
    Ok(FileHeader {
        major,
        text,
        references,
        data_start: at + (h.header_len + h.length.max(consumed)) as u64,
    })
}

/// `(SN, LN)` of each `@SQ` line.
fn sq_lines(text: &[u8]) -> Vec<(String, u64)> {
    let mut refs = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.starts_with(b"@SQ\t") {
            continue;
        }
        let (mut name, mut len) = (None, 0u64);
        for field in line.split(|&b| b == b'\t').skip(1) {
            if let Some(v) = field.strip_prefix(b"SN:") {
                name = Some(String::from_utf8_lossy(v).into_owned());
            } else if let Some(v) = field.strip_prefix(b"LN:") {
                len = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            }
        }
        if let Some(name) = name {
            refs.push((name, len));
        }
    }
    refs
}

impl FileHeader {
    /// The BAM header the text and references make: `BAM\1`, the text, the reference list.
    pub(crate) fn bam_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 64 * self.references.len() + 16);
        out.extend_from_slice(b"BAM\x01");
        out.extend_from_slice(&(self.text.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.text);
        out.extend_from_slice(&(self.references.len() as u32).to_le_bytes());
        for (name, len) in &self.references {
            out.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(&(*len as u32).to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_from_sq_lines() {
        let text = b"@HD\tVN:1.6\n@SQ\tSN:chr1\tLN:248956422\n@SQ\tLN:5\tSN:x\r\n@RG\tID:a\n";
        assert_eq!(
            sq_lines(text),
            vec![("chr1".to_string(), 248956422), ("x".to_string(), 5)]
        );
    }
}
