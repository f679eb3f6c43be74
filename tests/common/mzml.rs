//! Bruker SDK's mzML (the corpus's `DDPASEF_10seconds.sdk.mzml.gz`), read with plain string
//! search: the oracle of the timsTOF tests.

use std::path::Path;

/// The SDK's mzML text of the corpus's ddaPASEF run, from the corpus's `tdf` folder.
pub(crate) fn sdk_mzml(dir: &Path) -> String {
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(dir.join("DDPASEF_10seconds.sdk.mzml.gz")).expect("mzML"),
        ),
        &mut xml,
    )
    .expect("gunzip");
    xml
}

pub(crate) fn b64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for ch in bytes.chunks(4) {
        let v: Vec<u32> = ch.iter().map(|&c| u32::from(val(c))).collect();
        let n = v.iter().fold(0u32, |a, &x| a << 6 | x) << (6 * (4 - v.len()));
        out.extend(&n.to_be_bytes()[1..v.len()]);
    }
    out
}

/// The text between `start` and `end` after `from`, and where it ends.
pub(crate) fn between<'a>(
    s: &'a str,
    from: usize,
    start: &str,
    end: &str,
) -> Option<(&'a str, usize)> {
    let a = s[from..].find(start)? + from + start.len();
    let b = s[a..].find(end)? + a;
    Some((&s[a..b], b))
}

pub(crate) fn attr(s: &str, name: &str) -> Option<f64> {
    let key = format!("name=\"{name}\" value=\"");
    between(s, 0, &key, "\"").and_then(|(v, _)| v.parse().ok())
}
