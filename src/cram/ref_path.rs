//! Reference sequences found by their MD5, as htslib finds them: the `@SQ` line's `M5` looked
//! up in `REF_CACHE`, then in each local entry of `REF_PATH` (directories or templates where
//! `%s` is the MD5 and `%2s` its next two characters, e.g. `/refs/%2s/%2s/%s`), then the
//! `@SQ` line's `UR` when it names a local FASTA file. A cache or path file holds one
//! sequence's bases, no header and no line breaks (what `seq_cache_populate.pl` writes).
//! Remote `REF_PATH` entries (`http:`, `https:`, `ftp:`, `URL=`) are not fetched: a lookup that
//! finds nothing names the MD5 and every place tried, those entries among them.

use std::path::{Path, PathBuf};

/// The places a sequence may come from, read once per file from the environment.
#[derive(Debug, Default, Clone)]
pub(crate) struct Lookup {
    cache: Option<String>,
    path: Vec<String>,
}

/// Where a lookup found a sequence.
#[derive(Debug)]
pub(crate) enum Found {
    /// A file of bare bases (from `REF_CACHE` or `REF_PATH`).
    Bases(PathBuf),
    /// A FASTA file named by `UR`, holding the sequence under its name.
    Fasta(PathBuf),
}

impl Lookup {
    /// `REF_CACHE` and `REF_PATH` as the environment sets them.
    pub(crate) fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self::new(var("REF_CACHE"), var("REF_PATH").as_deref())
    }

    pub(crate) fn new(cache: Option<String>, path: Option<&str>) -> Self {
        Self {
            cache,
            path: path.map(split_search_path).unwrap_or_default(),
        }
    }

    /// Finds the sequence of MD5 `m5` (32 lowercase hex digits, if the `@SQ` line has one)
    /// or of `UR` `ur`; `Err` lists every place tried.
    pub(crate) fn find(&self, m5: Option<&str>, ur: Option<&str>) -> Result<Found, Vec<String>> {
        let mut tried = Vec::new();
        if let Some(m5) = m5 {
            for (what, template) in self
                .cache
                .iter()
                .map(|t| ("REF_CACHE", t))
                .chain(self.path.iter().map(|t| ("REF_PATH", t)))
            {
                if is_remote(template) {
                    tried.push(format!("{what} entry {template} (remote: not fetched)"));
                    continue;
                }
                let p = PathBuf::from(expand(template, m5));
                if p.is_file() {
                    return Ok(Found::Bases(p));
                }
                tried.push(format!("{what} {}", p.display()));
            }
            if self.cache.is_none() && self.path.is_empty() {
                tried.push("REF_CACHE and REF_PATH (neither is set)".into());
            }
        } else {
            tried.push("an MD5 lookup (the @SQ line has no M5)".into());
        }
        match ur {
            Some(ur) if ur.contains("://") && !ur.starts_with("file:") => {
                tried.push(format!("UR:{ur} (remote: not fetched)"));
            }
            Some(ur) => {
                let p = Path::new(ur.strip_prefix("file:").unwrap_or(ur));
                if p.is_file() {
                    return Ok(Found::Fasta(p.to_path_buf()));
                }
                tried.push(format!("UR:{ur} (no such file)"));
            }
            None => {}
        }
        Err(tried)
    }
}

/// Whether a search path entry names a remote location.
fn is_remote(entry: &str) -> bool {
    let e = entry.strip_prefix('|').unwrap_or(entry);
    ["http:", "https:", "ftp:", "URL="]
        .iter()
        .any(|p| e.starts_with(p))
}

/// Splits a search path on `:` as htslib does: `::` is a literal colon, a URL's scheme,
/// `//` and `host:port` stay with it, empty entries are dropped.
fn split_search_path(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b':' && b.get(i + 1) == Some(&b':') {
            cur.push(b':');
            i += 2;
            continue;
        }
        if cur.is_empty() && is_remote(&s[i..]) {
            // The scheme through its colon, the slashes, then the host (and port) to the
            // next '/'.
            while i < b.len() {
                cur.push(b[i]);
                i += 1;
                if b[i - 1] == b':' {
                    break;
                }
            }
            while i < b.len() && b[i] == b'/' && cur.ends_with(b":") | cur.ends_with(b":/") {
                cur.push(b[i]);
                i += 1;
            }
            while i < b.len() && b[i] != b'/' {
                cur.push(b[i]);
                i += 1;
            }
            continue;
        }
        if b[i] == b':' {
            if !cur.is_empty() {
                out.push(String::from_utf8_lossy(&cur).into_owned());
                cur.clear();
            }
        } else {
            cur.push(b[i]);
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(String::from_utf8_lossy(&cur).into_owned());
    }
    out
}

/// A path from a template and an MD5, as htslib's `expand_cache_path`: `%s` takes the rest
/// of the MD5, `%Ns` its next N characters; what remains of the MD5 is appended after a `/`.
fn expand(template: &str, m5: &str) -> String {
    let mut out = String::new();
    let mut rest = m5;
    let mut t = template;
    while let Some(at) = t.find('%') {
        out.push_str(&t[..at]);
        let after = &t[at + 1..];
        if let Some(tail) = after.strip_prefix('s') {
            out.push_str(rest);
            rest = "";
            t = tail;
            continue;
        }
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with('s') {
            let n: usize = after[..digits].parse().unwrap_or(usize::MAX);
            let n = n.min(rest.len());
            out.push_str(&rest[..n]);
            rest = &rest[n..];
            t = &after[digits + 1..];
        } else {
            // Not a conversion: '%' and the next character as they are.
            let next = after.chars().next().map_or(0, char::len_utf8);
            out.push('%');
            out.push_str(&after[..next]);
            t = &after[next..];
        }
    }
    out.push_str(t);
    if !rest.is_empty() {
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const M5: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn templates_expand_as_htslib_does() {
        assert_eq!(expand("/refs", M5), format!("/refs/{M5}"));
        assert_eq!(expand("/refs/", M5), format!("/refs/{M5}"));
        assert_eq!(expand("/refs/%s", M5), format!("/refs/{M5}"));
        assert_eq!(
            expand("/c/%2s/%2s/%s", M5),
            "/c/01/23/456789abcdef0123456789abcdef"
        );
        // A template that uses part of the MD5 gets the rest after a slash.
        assert_eq!(expand("/c/%2s", M5), "/c/01/23456789abcdef0123456789abcdef");
        assert_eq!(expand("/c/%d/%s", M5), format!("/c/%d/{M5}"));
        assert_eq!(expand("/c/%40s.fa", M5), format!("/c/{M5}.fa"));
    }

    #[test]
    fn search_paths_split_as_htslib_does() {
        assert_eq!(split_search_path("/a:/b::c::/d"), ["/a", "/b:c:/d"]);
        assert_eq!(split_search_path("/a:/b::c:::/d"), ["/a", "/b:c:", "/d"]);
        assert_eq!(
            split_search_path("/a:https://www.ebi.ac.uk/ena/cram/md5/%s:/c/%2s/%s"),
            ["/a", "https://www.ebi.ac.uk/ena/cram/md5/%s", "/c/%2s/%s"]
        );
        assert_eq!(
            split_search_path("http://host:8080/md5/%s::x"),
            ["http://host:8080/md5/%s:x"]
        );
        assert_eq!(split_search_path("::"), [":"]);
        assert!(split_search_path(":::").len() == 1);
        assert!(split_search_path("").is_empty());
    }

    #[test]
    fn a_lookup_that_finds_nothing_lists_every_place() {
        let l = Lookup::new(
            Some("/nonexistent/cache/%2s/%s".into()),
            Some("/nonexistent/a:https://example.org/%s"),
        );
        let tried = l
            .find(Some(M5), Some("file:/nonexistent/ref.fa"))
            .expect_err("nothing there");
        assert_eq!(
            tried,
            [
                "REF_CACHE /nonexistent/cache/01/23456789abcdef0123456789abcdef".to_string(),
                format!("REF_PATH /nonexistent/a/{M5}"),
                "REF_PATH entry https://example.org/%s (remote: not fetched)".into(),
                "UR:file:/nonexistent/ref.fa (no such file)".into(),
            ]
        );
        let none = Lookup::default()
            .find(Some(M5), None)
            .expect_err("nothing set");
        assert_eq!(none, ["REF_CACHE and REF_PATH (neither is set)"]);
    }

    #[test]
    fn a_lookup_finds_the_cache_first_then_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(cache.join("01/23")).expect("dirs");
        let path_dir = dir.path().join("path");
        std::fs::create_dir_all(&path_dir).expect("dir");
        std::fs::write(path_dir.join(M5), b"ACGT").expect("write");
        let l = Lookup::new(
            Some(format!("{}/%2s/%2s/%s", cache.display())),
            Some(&path_dir.display().to_string()),
        );
        match l.find(Some(M5), None) {
            Ok(Found::Bases(p)) => assert_eq!(p, path_dir.join(M5)),
            other => panic!("{other:?}"),
        }
        std::fs::write(cache.join("01/23").join(&M5[4..]), b"ACGT").expect("write");
        match l.find(Some(M5), None) {
            Ok(Found::Bases(p)) => assert_eq!(p, cache.join("01/23").join(&M5[4..])),
            other => panic!("{other:?}"),
        }
    }
}
