//! Runs the front end over every IDL row of the shared conformance corpus.
//!
//! Files expected to be accepted must preprocess and parse without errors. Rows expected to
//! be rejected may still parse at this stage (the rejections are semantic: unbounded
//! types, names, constant values), so those are only counted. Nothing may panic, on whole
//! files or on any truncated prefix of them.

use std::path::{Path, PathBuf};

use shmbus_idl::diagnostics::render::{Style, render, render_one_line};
use shmbus_idl::source::SourceMap;
use shmbus_idl::{Options, parse_files, parse_sources};

fn corpus_dir() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/idl-corpus"
    ))
    .to_path_buf()
}

struct Row {
    path: PathBuf,
    expected: String,
    primary_code: String,
}

fn idl_rows() -> Vec<Row> {
    let dir = corpus_dir();
    let table =
        std::fs::read_to_string(dir.join("EXPECTED.tsv")).expect("EXPECTED.tsv is readable");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let (file, expected) = (cols.first()?, cols.get(2)?);
            let primary_code = cols.get(3).copied().unwrap_or("").to_owned();
            file.ends_with(".idl").then(|| Row {
                path: dir.join(file),
                expected: (*expected).to_owned(),
                primary_code,
            })
        })
        .collect()
}

/// `-D __IDLC__` takes the branch Cyclone's compiler takes; ROS 2 files use IDL keywords as
/// member names (`sequence<int32> sequence;`), which needs the lenient keyword mode.
fn options_for(path: &Path) -> Options {
    let ros = path
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with("ros2__"));
    Options {
        defines: vec!["__IDLC__".to_owned()],
        lenient_keywords: ros,
        ..Options::default()
    }
}

#[test]
fn corpus_outcomes() {
    let rows = idl_rows();
    assert!(!rows.is_empty(), "no IDL rows in EXPECTED.tsv");
    let (mut accept_ok, mut accept_total, mut reject_total, mut reject_with_errors) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for row in &rows {
        let (sources, spec, diags) =
            parse_files(std::slice::from_ref(&row.path), &options_for(&row.path));
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).cloned().collect();
        assert!(spec.is_some(), "{} could not be read", row.path.display());
        if row.expected.starts_with("accept") {
            accept_total += 1;
            if errors.is_empty() {
                accept_ok += 1;
            } else {
                failures.push(format!(
                    "{}\n{}",
                    row.path.display(),
                    render(&errors, &sources, Style::Plain)
                ));
            }
        } else {
            reject_total += 1;
            // Missing includes are the front end's to find already.
            if row.primary_code == "E-INCLUDE-NOT-FOUND"
                && !errors.iter().any(|e| e.code == "E-PP-INCLUDE")
            {
                failures.push(format!(
                    "{}: expected a missing-include error",
                    row.path.display()
                ));
            }
            if let Some(first) = errors.first() {
                reject_with_errors += 1;
                println!(
                    "  expected reject, front end says: {}",
                    render_one_line(first, &sources)
                );
            }
        }
    }
    println!(
        "corpus: accepted {accept_ok}/{accept_total} expected-accept files without errors; \
         {reject_with_errors}/{reject_total} expected-reject files already have front-end errors \
         (the rest are rejected by semantic checks, a later step)"
    );
    assert!(
        failures.is_empty(),
        "{} accept rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn truncated_prefixes_never_panic() {
    for row in idl_rows() {
        let Ok(text) = std::fs::read_to_string(&row.path) else {
            continue;
        };
        let step = (text.len() / 40).max(1);
        let mut cut = 0;
        while cut < text.len() {
            let mut end = cut;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let mut sources = SourceMap::new();
            let id = sources.add(row.path.clone(), &text[..end]);
            let (_, diags) = parse_sources(&mut sources, &[id], &options_for(&row.path));
            // Rendering must not panic either.
            let _ = render(&diags, &sources, Style::Plain);
            cut += step;
        }
    }
}

/// A tiny deterministic generator, so mutations are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn mutated_files_never_panic() {
    let pieces: &[&str] = &[
        "{",
        "}",
        ";",
        "<",
        ">>",
        "@",
        "#if 1\n",
        "#endif\n",
        "\"",
        "'",
        "/*",
        "::",
        "é",
        "\0",
        "(",
        "sequence<",
        "#include \"x\"\n",
        "long",
    ];
    let mut rng = Lcg(0x5eed);
    for row in idl_rows() {
        let Ok(text) = std::fs::read_to_string(&row.path) else {
            continue;
        };
        for _ in 0..8 {
            let mut bytes = text.clone().into_bytes();
            for _ in 0..4 {
                let at = if bytes.is_empty() {
                    0
                } else {
                    (rng.next() as usize) % bytes.len()
                };
                let piece = pieces[(rng.next() as usize) % pieces.len()].as_bytes();
                let cut = (rng.next() as usize % 8).min(bytes.len() - at);
                bytes.splice(at..at + cut, piece.iter().copied());
            }
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            let mut sources = SourceMap::new();
            let id = sources.add(row.path.clone(), mutated);
            let (_, diags) = parse_sources(&mut sources, &[id], &options_for(&row.path));
            let _ = render(&diags, &sources, Style::Plain);
        }
    }
}
