//! The BAM header: magic, SAM header text, reference names and lengths.

use std::sync::Arc;

use super::error::HeaderError;
use crate::format::Kind;

/// Schema metadata key of the SAM header text ([`Header::metadata`]).
pub const METADATA_HEADER: &str = "rawarrow:sam_header";
/// Schema metadata key of the reference names and lengths ([`Header::metadata`]).
pub const METADATA_REFERENCES: &str = "rawarrow:references";

/// One reference sequence of the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Name (`@SQ SN`).
    pub name: String,
    /// Length (`@SQ LN`).
    pub len: u32,
}

/// A parsed BAM header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// The SAM header text (`@HD`, `@SQ`, `@RG`, `@PG`, ... lines), as stored.
    pub text: String,
    /// The binary reference list that `refID`s index.
    pub references: Vec<Reference>,
    /// The `l_text` bytes as stored (NUL padding included): what `samtools view -H` prints.
    stored: Vec<u8>,
    /// When the text is not UTF-8 (htslib reads any bytes): the offset of the first bad byte in
    /// the uncompressed stream; `text` is then the lossy conversion (U+FFFD replacements).
    not_utf8_at: Option<u64>,
    /// The names that are not UTF-8, as stored, by reference index (their `name` is lossy).
    raw_names: std::collections::BTreeMap<usize, Vec<u8>>,
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What a file that cannot be BAM is, from its first bytes ([`Kind::of`]): `None` when it may
/// be BAM (a BGZF or gzip file: the header check decides; anything else fails that check),
/// else a description for the error.
pub(crate) fn sniff(file: &[u8]) -> Option<&'static str> {
    sniff_reading(file, false)
}

/// [`sniff`] for a reader that reads CRAM too (`cram`: a whole mapped file).
pub(crate) fn sniff_reading(file: &[u8], cram: bool) -> Option<&'static str> {
    let kind = Kind::of(&file[..file.len().min(4096)]);
    match kind {
        Kind::Cram => (!cram).then(|| kind.describe()),
        Kind::Empty | Kind::Sam => Some(kind.describe()),
        _ => None,
    }
}

impl Header {
    /// Parses a header from the start of the uncompressed stream. `Ok(None)` means more bytes
    /// are needed; `Ok(Some((header, n)))` means the header took the first `n` bytes.
    pub fn parse(b: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
        Self::parse_located(b).map_err(|(e, _)| e)
    }

    /// [`Header::parse`], with the offset in the uncompressed stream of the field at fault.
    pub(crate) fn parse_located(b: &[u8]) -> Result<Option<(Header, usize)>, (HeaderError, u64)> {
        if b.len() < 4 {
            return Ok(None);
        }
        if &b[..4] != b"BAM\x01" {
            return Err((HeaderError::BadMagic([b[0], b[1], b[2], b[3]]), 0));
        }
        let Some(l_text) = i32_at(b, 4) else {
            return Ok(None);
        };
        let l_text =
            usize::try_from(l_text).map_err(|_| (HeaderError::NegativeLength("l_text"), 4))?;
        let Some(text) = b.get(8..8 + l_text) else {
            return Ok(None);
        };
        let stored = text.to_vec();
        // Text may be NUL-padded; `text` keeps what precedes the first NUL.
        let text = &text[..memchr::memchr(0, text).unwrap_or(text.len())];
        let (text, not_utf8_at) = match std::str::from_utf8(text) {
            Ok(t) => (t.to_string(), None),
            Err(e) => (
                String::from_utf8_lossy(text).into_owned(),
                Some(8 + e.valid_up_to() as u64),
            ),
        };
        let mut at = 8 + l_text;
        let Some(n_ref) = i32_at(b, at) else {
            return Ok(None);
        };
        let n_ref =
            u32::try_from(n_ref).map_err(|_| (HeaderError::NegativeLength("n_ref"), at as u64))?;
        at += 4;
        // Each reference takes at least 9 bytes: never reserve more than the data can hold.
        let mut references =
            Vec::with_capacity((n_ref as usize).min(b.len().saturating_sub(at) / 9));
        let mut raw_names = std::collections::BTreeMap::new();
        for i in 0..n_ref {
            let Some(l_name) = i32_at(b, at) else {
                return Ok(None);
            };
            let l_name = usize::try_from(l_name)
                .map_err(|_| (HeaderError::NegativeLength("l_name"), at as u64))?;
            let Some(name) = b.get(at + 4..at + 4 + l_name) else {
                return Ok(None);
            };
            let Some(l_ref) = i32_at(b, at + 4 + l_name) else {
                return Ok(None);
            };
            // htslib reads l_ref as unsigned (a negative one is a huge length, not an error),
            // and patches a name without its NUL; only l_name 0 is refused. A name that is not
            // UTF-8 is printed as stored ([`Header::reference_name_bytes`]).
            let len = l_ref as u32;
            if l_name == 0 {
                return Err((HeaderError::BadReferenceName(i), (at + 4) as u64));
            }
            // The name is a C string to htslib: what precedes the first NUL (if any).
            let name = &name[..memchr::memchr(0, name).unwrap_or(name.len())];
            let name = match std::str::from_utf8(name) {
                Ok(n) => n.to_string(),
                Err(_) => {
                    raw_names.insert(references.len(), name.to_vec());
                    String::from_utf8_lossy(name).into_owned()
                }
            };
            references.push(Reference { name, len });
            at += 8 + l_name;
        }
        let header = Header {
            text,
            references,
            stored,
            not_utf8_at,
            raw_names,
        };
        Ok(Some((header, at)))
    }

    /// The header as Arrow schema metadata, on every batch of a reader and in every output
    /// file: [`METADATA_HEADER`] holds the SAM header text as stored, [`METADATA_REFERENCES`]
    /// one `NAME<TAB>LENGTH` line per reference, in `refID` order.
    pub(crate) fn metadata(&self) -> std::collections::HashMap<String, String> {
        let mut refs = String::new();
        for r in &self.references {
            refs.push_str(&r.name);
            refs.push('\t');
            refs.push_str(itoa::Buffer::new().format(r.len));
            refs.push('\n');
        }
        [
            (METADATA_HEADER.to_string(), self.text.clone()),
            (METADATA_REFERENCES.to_string(), refs),
        ]
        .into()
    }

    /// The header a stream's schema carries ([`Header::metadata`]), as far as its metadata
    /// holds it (the text as the reader decoded it); `None` without it.
    pub(crate) fn from_schema(schema: &arrow_schema::Schema) -> Option<Self> {
        let metadata = schema.metadata();
        let text = metadata.get(METADATA_HEADER)?;
        let references = metadata
            .get(METADATA_REFERENCES)?
            .lines()
            .map(|line| {
                let (name, len) = line.rsplit_once('\t')?;
                Some(Reference {
                    name: name.to_string(),
                    len: len.parse().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self::new(text.clone(), references))
    }

    /// A header from its text and references (tests build records against one).
    pub(crate) fn new(text: String, references: Vec<Reference>) -> Self {
        Self {
            stored: text.clone().into_bytes(),
            text,
            references,
            not_utf8_at: None,
            raw_names: std::collections::BTreeMap::new(),
        }
    }

    /// Where the stored text stops being UTF-8 (its offset in the uncompressed stream), when it
    /// does: [`text`](Self::text) then holds it with U+FFFD replacements, and
    /// [`sam_bytes`](Self::sam_bytes) the bytes as stored.
    pub(crate) fn text_not_utf8_at(&self) -> Option<u64> {
        self.not_utf8_at
    }

    /// Reference `i`'s name as stored (as htslib prints it, whatever its encoding).
    pub(crate) fn reference_name_bytes(&self, i: usize) -> &[u8] {
        match self.raw_names.get(&i) {
            Some(raw) => raw,
            None => self.references[i].name.as_bytes(),
        }
    }

    /// How many reference names are not UTF-8 (their [`Reference::name`] has U+FFFD
    /// replacements), and the first one's index.
    pub(crate) fn reference_names_not_utf8(&self) -> Option<(usize, usize)> {
        let first = *self.raw_names.keys().next()?;
        Some((self.raw_names.len(), first))
    }

    /// The header exactly as `samtools view --no-PG -H` prints it: the stored `l_text` bytes
    /// (NUL padding included), a newline written over the first NUL (or added) when the text
    /// before it does not end with one, then, only when no line of that text starts with
    /// `@SQ<TAB>`, an `@SQ` line per reference (its length as htslib prints it, a signed
    /// 32-bit number).
    pub fn sam_bytes(&self) -> Vec<u8> {
        let mut out = self.stored.clone();
        let first_nul = memchr::memchr(0, &out).unwrap_or(out.len());
        let text = &self.stored[..first_nul];
        if first_nul > 0 && text[first_nul - 1] != b'\n' {
            if first_nul < out.len() {
                out[first_nul] = b'\n';
            } else {
                out.push(b'\n');
            }
        }
        let has_sq = text.starts_with(b"@SQ\t") || memchr::memmem::find(text, b"\n@SQ\t").is_some();
        if !has_sq {
            for (i, r) in self.references.iter().enumerate() {
                out.extend_from_slice(b"@SQ\tSN:");
                out.extend_from_slice(self.reference_name_bytes(i));
                out.extend_from_slice(b"\tLN:");
                out.extend_from_slice(itoa::Buffer::new().format(r.len as i32).as_bytes());
                out.push(b'\n');
            }
        }
        out
    }

    /// The reference names as one shared Arrow string array (the dictionary of `rname`/`rnext`).
    pub(crate) fn dictionary(&self) -> Arc<arrow_array::StringArray> {
        Arc::new(
            self.references
                .iter()
                .map(|r| Some(r.name.as_str()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str, refs: &[(&str, u32)]) -> Vec<u8> {
        let mut b = b"BAM\x01".to_vec();
        b.extend_from_slice(&(text.len() as i32).to_le_bytes());
        b.extend_from_slice(text.as_bytes());
        b.extend_from_slice(&(refs.len() as i32).to_le_bytes());
        for (n, l) in refs {
            b.extend_from_slice(&(n.len() as i32 + 1).to_le_bytes());
            b.extend_from_slice(n.as_bytes());
            b.push(0);
            b.extend_from_slice(&l.to_le_bytes());
        }
        b
    }

    #[test]
    fn parses_incrementally() {
        let b = build("@HD\tVN:1.6\n", &[("chr1", 100), ("chrM", 16569)]);
        for cut in 0..b.len() {
            assert_eq!(Header::parse(&b[..cut]), Ok(None), "cut {cut}");
        }
        let (h, n) = Header::parse(&b).expect("valid").expect("complete");
        assert_eq!(n, b.len());
        assert_eq!(h.text, "@HD\tVN:1.6\n");
        assert_eq!(h.text_not_utf8_at(), None);
        assert_eq!(
            h.references[1],
            Reference {
                name: "chrM".into(),
                len: 16569
            }
        );
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(matches!(
            Header::parse(b"BAI\x01xxxx"),
            Err(HeaderError::BadMagic(_))
        ));
        let mut b = build("", &[("c", 1)]);
        b[4..8].copy_from_slice(&(-1i32).to_le_bytes());
        assert_eq!(
            Header::parse(&b),
            Err(HeaderError::NegativeLength("l_text"))
        );
        let mut b = build("", &[("c", 1)]);
        let name_end = b.len() - 5;
        b[name_end] = b'x'; // no NUL: patched as htslib does
        let (h, _) = Header::parse(&b).expect("valid").expect("complete");
        assert_eq!(h.references[0].name, "cx");
        let mut b = build("", &[("c", 1)]);
        let n = b.len();
        b[n - 4..].copy_from_slice(&(-5i32).to_le_bytes()); // l_ref read as unsigned
        let (h, _) = Header::parse(&b).expect("valid").expect("complete");
        assert_eq!(h.references[0].len, -5i32 as u32);
        let mut b = build("", &[("c", 1)]);
        let n = b.len();
        b[n - 10..n - 6].copy_from_slice(&0i32.to_le_bytes()); // l_name 0
        assert_eq!(Header::parse(&b), Err(HeaderError::BadReferenceName(0)));
        // A huge n_ref with no data behind it asks for more bytes, allocating nothing.
        let mut b = build("", &[]);
        let at = b.len() - 4;
        b[at..].copy_from_slice(&i32::MAX.to_le_bytes());
        assert_eq!(Header::parse(&b), Ok(None));
    }
}
