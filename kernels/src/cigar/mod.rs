//! BAM CIGAR operations → SAM CIGAR text, with the reference and query spans.
//!
//! BAM stores each operation as a little-endian `u32`: `length << 4 | op`, op indexing
//! `MIDNSHP=X`. [`to_text`] writes the SAM text (`123M28S`) and returns how many reference bases
//! (`M D N = X`) and query bases (`M I S = X`) the CIGAR spans — the `end` column and the
//! CIGAR/SEQ length check come from these. Op codes 9–15 are not defined by the SAM spec: as
//! htslib does, 9 is written `B`, 10–15 `?`, and none of them consumes bases. Scalar on purpose:
//! the lengths' decimal text ([`crate::decimal`]) leaves the loop dominated by the
//! data-dependent digit count, where SIMD does not pay.
//!
//! ```
//! let ops: Vec<u8> = [(5u32 << 4) | 4, (95 << 4), (2 << 4) | 2]
//!     .iter().flat_map(|v| v.to_le_bytes()).collect();
//! let mut text = [0u8; rawarrow_kernels::cigar::MAX_TEXT_PER_OP * 3];
//! let s = rawarrow_kernels::cigar::to_text(&ops, &mut text);
//! assert_eq!(&text[..s.text_len], b"5S95M2D");
//! assert_eq!((s.ref_len, s.query_len), (97, 100));
//! ```

use crate::decimal;

/// SAM letters of the op codes 0–15: `MIDNSHP=X`, then htslib's letters for the undefined
/// codes (`B` for 9, `?` for 10–15).
pub const OPS: &[u8; 16] = b"MIDNSHP=XB??????";

/// Most text bytes one operation can need: 9 digits (lengths are < 2^28) and the letter.
pub const MAX_TEXT_PER_OP: usize = 10;

/// What a CIGAR spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Bytes of SAM text written.
    pub text_len: usize,
    /// Reference bases consumed (`M`, `D`, `N`, `=`, `X`).
    pub ref_len: u64,
    /// Query bases consumed (`M`, `I`, `S`, `=`, `X`).
    pub query_len: u64,
}

const CONSUMES_REF: u16 = 0b1_1000_1101; // M D N = X
const CONSUMES_QUERY: u16 = 0b1_1001_0011; // M I S = X

/// The naive reference: `format!` per operation.
pub fn naive(raw: &[u8]) -> (String, u64, u64) {
    let mut text = String::new();
    let (mut r, mut q) = (0u64, 0u64);
    for op in raw.chunks_exact(4) {
        let v = u32::from_le_bytes([op[0], op[1], op[2], op[3]]);
        let (len, code) = (v >> 4, (v & 15) as u8);
        let letter = OPS[usize::from(code)];
        text.push_str(&format!("{len}{}", letter as char));
        if "MDN=X".contains(letter as char) {
            r += u64::from(len);
        }
        if "MIS=X".contains(letter as char) {
            q += u64::from(len);
        }
    }
    (text, r, q)
}

/// Converts raw little-endian CIGAR ops (`raw.len()` a multiple of 4; a trailing partial op is
/// ignored) to SAM text in `out`.
///
/// # Panics
/// If `out` is shorter than `MAX_TEXT_PER_OP * raw.len() / 4`.
pub fn to_text(raw: &[u8], out: &mut [u8]) -> Summary {
    assert!(
        out.len() >= raw.len() / 4 * MAX_TEXT_PER_OP,
        "CIGAR text buffer too short"
    );
    let mut s = Summary::default();
    for op in raw.chunks_exact(4) {
        let v = u32::from_le_bytes([op[0], op[1], op[2], op[3]]);
        let (len, code) = (v >> 4, (v & 15) as u8);
        let letter = OPS[usize::from(code)];
        let n = decimal::write_u32(len, &mut out[s.text_len..]);
        out[s.text_len + n] = letter;
        s.text_len += n + 1;
        let bit = 1u16 << code;
        s.ref_len += u64::from(len) * u64::from(CONSUMES_REF & bit != 0);
        s.query_len += u64::from(len) * u64::from(CONSUMES_QUERY & bit != 0);
    }
    s
}

/// Only the spans, without text (for the `end` column when the CIGAR text is not requested).
pub fn spans(raw: &[u8]) -> Summary {
    let mut s = Summary::default();
    for op in raw.chunks_exact(4) {
        let v = u32::from_le_bytes([op[0], op[1], op[2], op[3]]);
        let (len, code) = (v >> 4, (v & 15) as u8);
        let bit = 1u16 << code;
        s.ref_len += u64::from(len) * u64::from(CONSUMES_REF & bit != 0);
        s.query_len += u64::from(len) * u64::from(CONSUMES_QUERY & bit != 0);
    }
    s
}
