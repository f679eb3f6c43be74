//! Options declared once: every surface — the command line (`rawarrow bam|tdf|midi --help`),
//! Python (the stub `python/rawarrow/__init__.pyi`; Python's own tests hold the compiled
//! functions to the stub) and C (`capi/include/rawarrow.h`) — offers exactly the options
//! `rawarrow::options` lists for it, no more and no fewer. An option added to one surface and
//! not to the list (or to the others, or with a reason why not) fails here.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use rawarrow::options::{Cli, Opt, Python, BAM, C, MIDI, OUTPUT, TDF};

const FORMATS: [&str; 3] = ["bam", "tdf", "midi"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// The reader options of `format` and the output options that apply to it.
fn options(format: &str) -> (&'static [Opt], Vec<&'static Opt>) {
    let reader = match format {
        "bam" => BAM,
        "tdf" => TDF,
        _ => MIDI,
    };
    let output = OUTPUT
        .iter()
        .filter(|o| o.formats.is_empty() || o.formats.contains(&format))
        .collect();
    (reader, output)
}

/// The long flags of `rawarrow <format> --help`, and its usage line.
fn cli_flags(format: &str) -> (BTreeSet<String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rawarrow"))
        .args([format, "--help"])
        .output()
        .expect("the CLI runs");
    assert!(out.status.success(), "rawarrow {format} --help failed");
    let text = String::from_utf8(out.stdout).expect("UTF-8 help");
    let mut flags = BTreeSet::new();
    for line in text.lines() {
        let t = line.trim_start();
        // `-t, --threads <THREADS>` or `--columns <COLUMNS>`: an option line.
        let t = match t.as_bytes() {
            [b'-', c, b',', b' ', ..] if *c != b'-' => &t[4..],
            _ => t,
        };
        if let Some(rest) = t.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            flags.insert(format!("--{name}"));
        }
    }
    flags.remove("--help");
    let usage = text
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_default()
        .to_owned();
    (flags, usage)
}

#[test]
fn the_command_line_offers_the_declared_options() {
    for format in FORMATS {
        let (reader, output) = options(format);
        let (flags, usage) = cli_flags(format);
        let mut expected = BTreeSet::new();
        for o in reader.iter().chain(output.iter().copied()) {
            match o.cli {
                Cli::Flag(f) => {
                    expected.insert(f.to_owned());
                }
                Cli::Positional(v) => assert!(
                    usage.contains(v),
                    "rawarrow {format}: {} should be the positional {v}: {usage}",
                    o.name
                ),
                Cli::Absent(why) => assert!(!why.is_empty(), "{}: say why not", o.name),
            }
        }
        assert_eq!(
            flags, expected,
            "rawarrow {format} --help against rawarrow::options (left: the CLI)"
        );
    }
}

/// The parameters of `def name(...)` in the stub.
fn stub_params(stub: &str, name: &str) -> Vec<String> {
    let start = stub
        .find(&format!("def {name}("))
        .unwrap_or_else(|| panic!("the stub has no {name}"));
    let body = &stub[start + name.len() + 5..];
    let end = body.find(") ->").expect("a return annotation");
    body[..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split([':', '=', ','])
                .next()
                .expect("a name")
                .trim()
                .to_owned()
        })
        .filter(|p| !p.is_empty() && p != "*")
        .collect()
}

#[test]
fn python_offers_the_declared_options() {
    let stub = std::fs::read_to_string(repo().join("python/rawarrow/__init__.pyi"))
        .expect("the Python stub");
    for format in FORMATS {
        let (reader, output) = options(format);
        let keyword = |o: &Opt| match o.python {
            Python::Keyword(k) => Some(k),
            Python::Absent(why) => {
                assert!(!why.is_empty(), "{}: say why not", o.name);
                None
            }
        };
        let read: BTreeSet<String> = set(reader.iter().filter_map(keyword));
        let convert: BTreeSet<String> = read
            .iter()
            .cloned()
            .chain(output.iter().filter_map(|o| keyword(o)).map(str::to_owned))
            .collect();
        // The first parameter is the input(s), not an option.
        let mut got_read = stub_params(&stub, &format!("read_{format}"));
        got_read.remove(0);
        let mut got_convert = stub_params(&stub, &format!("convert_{format}"));
        got_convert.remove(0);
        assert_eq!(
            set(got_read.iter().map(String::as_str)),
            read,
            "read_{format}"
        );
        assert_eq!(
            set(got_convert.iter().map(String::as_str)),
            convert,
            "convert_{format}"
        );
    }
}

/// The field names of `struct name { ... };` in the header (comments removed).
fn c_fields(header: &str, name: &str) -> BTreeSet<String> {
    let start = header
        .find(&format!("struct {name} {{"))
        .unwrap_or_else(|| panic!("the header has no struct {name}"));
    let body = &header[start..];
    let body = &body[body.find('{').expect("{") + 1..body.find("};").expect("};")];
    let mut text = String::new();
    let mut rest = body;
    while let Some(i) = rest.find("/*") {
        text.push_str(&rest[..i]);
        rest = &rest[i + rest[i..].find("*/").expect("a closed comment") + 2..];
    }
    text.push_str(rest);
    text.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            // A function pointer: `int (*progress)(...)`.
            if let Some(i) = d.find("(*") {
                let n = &d[i + 2..];
                return n[..n.find(')').expect(")")].to_owned();
            }
            d.rsplit([' ', '*'])
                .next()
                .expect("a declarator")
                .to_owned()
        })
        .collect()
}

#[test]
fn c_offers_the_declared_options() {
    let header =
        std::fs::read_to_string(repo().join("capi/include/rawarrow.h")).expect("the C header");
    let fields = |opts: &mut dyn Iterator<Item = &Opt>| -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for o in opts {
            match o.c {
                C::Fields(f) => all.extend(f.iter().map(|s| (*s).to_owned())),
                C::Absent(why) => assert!(!why.is_empty(), "{}: say why not", o.name),
            }
        }
        all
    };
    for format in FORMATS {
        let (reader, _) = options(format);
        assert_eq!(
            c_fields(&header, &format!("rawarrow_{format}_options")),
            fields(&mut reader.iter()),
            "struct rawarrow_{format}_options"
        );
    }
    assert_eq!(
        c_fields(&header, "rawarrow_output"),
        fields(&mut OUTPUT.iter()),
        "struct rawarrow_output"
    );
}

/// The test can fail: a surface with one option more than the list is caught.
#[test]
fn an_extra_option_is_caught() {
    let header = "struct rawarrow_bam_options {\n  uint32_t threads; /* a; b */\n  \
                  int (*cb)(void *x, int y);\n  const char *const *regions;\n};";
    assert_eq!(
        c_fields(header, "rawarrow_bam_options"),
        set(["threads", "cb", "regions"])
    );
    let stub = "def read_x(\n    paths: Paths,\n    *,\n    threads: Optional[int] = None,\n    \
                bogus: bool = False,\n) -> BatchStream: ...";
    assert_eq!(stub_params(stub, "read_x"), ["paths", "threads", "bogus"]);
}
