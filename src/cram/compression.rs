//! A container's compression header: the preservation map (read names kept, positions as
//! deltas, reference required, the substitution matrix, the tag dictionary), the encoding of
//! each data series and of each tag.

use std::collections::HashMap;

use super::encoding::Encoding;
use super::error::Cause;
use super::num::{itf8, itf8_len, take, u8};

/// The compression header.
#[derive(Debug, Clone)]
pub(crate) struct CompressionHeader {
    /// `RN`: read names are stored (else generated).
    pub(crate) read_names: bool,
    /// `AP`: positions are deltas from the previous record's.
    pub(crate) delta_positions: bool,
    /// `RR`: the reference is needed to decode bases.
    pub(crate) reference_required: bool,
    /// `SM`: for each reference base (A, C, G, T, N), the base of each substitution code.
    pub(crate) substitutions: [[u8; 4]; 5],
    /// `TD`: tag lines; each tag is `(name, type)` as its 3 bytes.
    pub(crate) tag_lines: Vec<Vec<[u8; 3]>>,
    /// Encodings of data series, by their two-letter key.
    pub(crate) series: HashMap<[u8; 2], Encoding>,
    /// Encodings of tags, by `name[0] << 16 | name[1] << 8 | type`.
    pub(crate) tags: HashMap<i32, Encoding>,
}

/// The bases of the substitution matrix's rows and columns.
const BASES: [u8; 5] = *b"ACGTN";

impl CompressionHeader {
    pub(crate) fn parse(mut src: &[u8]) -> Result<Self, Cause> {
        let src = &mut src;
        let mut h = CompressionHeader {
            // Without an RN key, htslib takes the names as not stored (and generates them).
            read_names: false,
            delta_positions: true,
            reference_required: true,
            substitutions: default_substitutions(),
            tag_lines: Vec::new(),
            series: HashMap::new(),
            tags: HashMap::new(),
        };
        // The preservation map.
        let what = "preservation map";
        let size = itf8_len(src, what)?;
        let mut map = take(src, size, what)?;
        let map = &mut map;
        let n = itf8_len(map, what)?;
        for _ in 0..n {
            let key = take(map, 2, what)?;
            match key {
                b"RN" => h.read_names = u8(map, what)? != 0,
                b"AP" => h.delta_positions = u8(map, what)? != 0,
                b"RR" => h.reference_required = u8(map, what)? != 0,
                b"SM" => h.substitutions = substitution_matrix(take(map, 5, what)?),
                b"TD" => {
                    let len = itf8_len(map, what)?;
                    h.tag_lines = tag_dictionary(take(map, len, "tag dictionary")?)?;
                }
                // An unknown key: htslib warns and skips one byte (its guess at the value),
                // and so does this reader; the map's stated size then decides.
                _ => {
                    u8(map, what)?;
                }
            }
        }
        if !map.is_empty() {
            return Err(Cause::Invalid(
                "preservation map (its keys end before its stated size)",
            ));
        }
        // Data series encodings.
        let what = "data series encoding map";
        let size = itf8_len(src, what)?;
        let mut map = take(src, size, what)?;
        let map = &mut map;
        let n = itf8_len(map, what)?;
        for _ in 0..n {
            let key = take(map, 2, what)?;
            let e = Encoding::read(map)?;
            h.series.insert([key[0], key[1]], e);
        }
        // Tag encodings.
        let what = "tag encoding map";
        let size = itf8_len(src, what)?;
        let mut map = take(src, size, what)?;
        let map = &mut map;
        let n = itf8_len(map, what)?;
        for _ in 0..n {
            let key = itf8(map, what)?;
            let e = Encoding::read(map)?;
            h.tags.insert(key, e);
        }
        Ok(h)
    }
}

/// The matrix CRAM writers use when none is stored.
fn default_substitutions() -> [[u8; 4]; 5] {
    // Codes 0..3 give the other bases in the order of ACGTN without the reference base.
    let mut m = [[0u8; 4]; 5];
    for (r, row) in m.iter_mut().enumerate() {
        let others: Vec<u8> = BASES.iter().copied().filter(|&b| b != BASES[r]).collect();
        row.copy_from_slice(&others);
    }
    m
}

/// Each row's byte gives a 2-bit code to each of the other four bases (in ACGTN order, from
/// the high bits); the row becomes code → base.
fn substitution_matrix(bytes: &[u8]) -> [[u8; 4]; 5] {
    let mut m = [[b'N'; 4]; 5];
    for (r, &byte) in bytes.iter().enumerate() {
        let others = BASES.iter().copied().filter(|&b| b != BASES[r]);
        for (i, base) in others.enumerate() {
            let code = (byte >> (6 - 2 * i)) & 3;
            m[r][usize::from(code)] = base;
        }
    }
    m
}

/// Tag lines: NUL-terminated runs of 3-byte tags.
fn tag_dictionary(bytes: &[u8]) -> Result<Vec<Vec<[u8; 3]>>, Cause> {
    // As htslib reads it: the last line's NUL may be missing, and a line's bytes past its
    // last whole tag are not tags.
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == 0).collect();
    if bytes.is_empty() || bytes.ends_with(&[0]) {
        lines.pop();
    }
    Ok(lines
        .into_iter()
        .map(|line| line.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_matrix_rows() {
        // htslib's default: 0x1b = 00 01 10 11 for every row.
        let m = substitution_matrix(&[0x1b; 5]);
        assert_eq!(m, default_substitutions());
        assert_eq!(&m[0], b"CGTN");
        assert_eq!(&m[4], b"ACGT");
        // Row A with C=3, G=2, T=1, N=0: code 0 is N, 3 is C.
        let m = substitution_matrix(&[0b11_10_01_00, 0x1b, 0x1b, 0x1b, 0x1b]);
        assert_eq!(&m[0], b"NTGC");
    }

    #[test]
    fn tag_lines() {
        let lines = tag_dictionary(b"NMiMDZ\0\0RGZ\0").expect("test input");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], vec![*b"NMi", *b"MDZ"]);
        assert!(lines[1].is_empty());
        // As htslib: the last NUL may be missing, bytes past the last whole tag are none.
        assert_eq!(tag_dictionary(b"NMi").expect("test input"), [vec![*b"NMi"]]);
        let lines = tag_dictionary(b"NMiM\0RGZ").expect("test input");
        assert_eq!(lines, [vec![*b"NMi"], vec![*b"RGZ"]]);
        assert!(tag_dictionary(b"").expect("test input").is_empty());
    }
}
