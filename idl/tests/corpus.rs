//! Runs the whole compiler over every IDL row of the shared conformance corpus and checks
//! each file's outcome against `EXPECTED.tsv`: `accept` compiles without errors (and a
//! model), `accept-with-warning` also warns, `reject` has an error, with the primary code
//! of the table when the table's code is one we use. A second pass gives the files
//! rejected only for unbounded types default bounds, and they must then compile. Nothing
//! may panic, on whole files or on truncated or mutated ones.

use std::path::{Path, PathBuf};

use shmbus_idl::diagnostics::render::{Style, render, render_one_line};
use shmbus_idl::source::SourceMap;
use shmbus_idl::{Options, compile_files, compile_sources};

/// The corpus folder, from `SHMBUS_IDL_CORPUS` (absolute, or relative to the project root;
/// `.ci/run` sets it to `../shared/idl-corpus`). The corpus is others' work and not part of
/// this repository: without the variable the tests say so and pass; with it, a missing
/// corpus fails them.
fn corpus_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("SHMBUS_IDL_CORPUS") else {
        eprintln!(
            "skipped: SHMBUS_IDL_CORPUS is not set, so the third-party IDL corpus is not read (.ci/run sets it to ../shared/idl-corpus)"
        );
        return None;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    assert!(
        dir.join("EXPECTED.tsv").is_file(),
        "SHMBUS_IDL_CORPUS names {}, which has no EXPECTED.tsv",
        dir.display()
    );
    Some(dir)
}

struct Row {
    path: PathBuf,
    expected: String,
    primary_code: String,
    other_codes: String,
    /// Warning codes the table expects (`W-...`; the names in parentheses dropped).
    warnings: Vec<String>,
}

/// The IDL rows of the corpus; `None` (the test is skipped) without `SHMBUS_IDL_CORPUS`.
fn idl_rows() -> Option<Vec<Row>> {
    let dir = corpus_dir()?;
    let table =
        std::fs::read_to_string(dir.join("EXPECTED.tsv")).expect("EXPECTED.tsv is readable");
    let rows = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let (file, expected) = (cols.first()?, cols.get(2)?);
            let primary_code = cols.get(3).copied().unwrap_or("").to_owned();
            let other_codes = cols.get(4).copied().unwrap_or("").to_owned();
            let warnings = cols
                .get(5)
                .copied()
                .unwrap_or("")
                .split(';')
                .map(|w| w.split('(').next().unwrap_or("").trim().to_owned())
                .filter(|w| w.starts_with("W-"))
                .collect();
            file.ends_with(".idl").then(|| Row {
                path: dir.join(file),
                expected: (*expected).to_owned(),
                primary_code,
                other_codes,
                warnings,
            })
        })
        .collect();
    Some(rows)
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

/// Rows where we are sure `EXPECTED.tsv` is wrong, with the outcome we give and why.
/// Each is reported in the closing note of the IDL compiler work.
const DISAGREEMENTS: &[(&str, &str, &str)] = &[
    (
        "eclipse-cyclonedds__cyclonedds/src/tools/idlc/xtests/test_union.idl",
        "reject E-RECURSIVE-TYPE",
        "test_union -> union_nested1 (case c1: `@external test_union`) -> test_union: the type \
         contains itself; `@external` means a pointer in DDS, which a fixed-layout message cannot hold",
    ),
    (
        "s2e-systems__dust-dds/dds_gen/tests/module_generation.idl",
        "accept (no warning)",
        "`@key ::foo::Bar qux;` is `@key` on a member of type `::foo::Bar` (the file's intent: a key \
         member); the tools that warned about an annotation `key::foo::Bar` misread it",
    ),
];

/// Rows whose table codes list only unbounded types, but which are also recursive through
/// `@external` members, so default bounds cannot make them compile.
const ALSO_RECURSIVE: &[&str] = &[
    "eclipse-cyclonedds__cyclonedds/src/core/ddsi/idl/ddsi_xt_typeinfo.idl",
    "eclipse-cyclonedds__cyclonedds/src/core/ddsi/idl/ddsi_xt_typelookup.idl",
    "eclipse-cyclonedds__cyclonedds/src/core/ddsi/idl/ddsi_xt_typemap.idl",
];

/// Rows that contain a multi-gigabyte bounded type (`string<1600000000>`, long nested
/// sequences): with default bounds they are larger than a message may be (4 GiB).
const TOO_LARGE_WITH_DEFAULTS: &[&str] = &[
    "eclipse-cyclonedds__cyclonedds/src/core/ddsc/tests/CdrStreamChecking.idl",
    "eclipse-cyclonedds__cyclonedds/src/core/ddsc/tests/TypeBuilderTypes.idl",
];

fn disagreement(path: &Path) -> Option<&'static (&'static str, &'static str, &'static str)> {
    DISAGREEMENTS
        .iter()
        .find(|(file, _, _)| path.ends_with(file))
}

/// Our code for a code of the table, when we name it differently.
fn our_code(table: &str) -> &str {
    match table {
        "E-INCLUDE-NOT-FOUND" => "E-PP-INCLUDE",
        other => other,
    }
}

/// The default bounds of the second pass.
fn with_default_bounds(mut options: Options) -> Options {
    options.default_string_bound = Some(256);
    options.default_sequence_bound = Some(100);
    options.default_map_bound = Some(100);
    options
}

#[test]
fn corpus_outcomes() {
    let Some(rows) = idl_rows() else { return };
    assert!(!rows.is_empty(), "no IDL rows in EXPECTED.tsv");
    let (mut accept_ok, mut accept_total, mut reject_ok, mut reject_total) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for row in &rows {
        let (sources, hir, diags) =
            compile_files(std::slice::from_ref(&row.path), &options_for(&row.path));
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).cloned().collect();
        let warned = diags.iter().any(|d| !d.is_error());
        let name = row.path.display();
        if let Some((_, ours, why)) = disagreement(&row.path) {
            let first = errors.first().map(|e| e.code);
            let matches = match *ours {
                "accept (no warning)" => hir.is_some() && diags.is_empty(),
                other => other
                    .strip_prefix("reject ")
                    .is_some_and(|code| first == Some(code)),
            };
            if matches {
                println!("  documented disagreement: {name}: {ours} ({why})");
            } else {
                failures.push(format!("{name}: documented as `{ours}`, got {first:?}"));
            }
            continue;
        }
        let missing: Vec<&String> = row
            .warnings
            .iter()
            .filter(|w| !diags.iter().any(|d| !d.is_error() && d.code == w.as_str()))
            .collect();
        if !missing.is_empty() {
            failures.push(format!("{name}: expected the warnings {missing:?}"));
            continue;
        }
        if row.expected.starts_with("accept") {
            accept_total += 1;
            let want_warning = row.expected == "accept-with-warning";
            if !errors.is_empty() || hir.is_none() {
                failures.push(format!(
                    "{name}: expected {}, got\n{}",
                    row.expected,
                    render(&errors, &sources, Style::Plain)
                ));
            } else if want_warning && !warned {
                failures.push(format!("{name}: expected a warning, got none"));
            } else {
                accept_ok += 1;
            }
        } else {
            reject_total += 1;
            let code = our_code(&row.primary_code);
            if errors.is_empty() {
                failures.push(format!(
                    "{name}: expected reject ({}), got no error",
                    row.primary_code
                ));
            } else if !code.is_empty() && !errors.iter().any(|e| e.code == code) {
                let ours: Vec<String> = errors
                    .iter()
                    .map(|e| render_one_line(e, &sources))
                    .collect();
                failures.push(format!(
                    "{name}: expected an error {code}, got\n  {}",
                    ours.join("\n  ")
                ));
            } else {
                reject_ok += 1;
                println!(
                    "  rejected as expected: {}",
                    render_one_line(&errors[0], &sources)
                );
            }
        }
    }
    println!(
        "corpus: accepted {accept_ok}/{accept_total}, rejected {reject_ok}/{reject_total} as expected \
         ({} documented disagreements)",
        DISAGREEMENTS.len()
    );
    assert!(
        failures.is_empty(),
        "{} rows did not have their expected outcome:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Rows rejected only because of unbounded types compile once default bounds are given.
#[test]
fn corpus_with_default_bounds() {
    let Some(rows) = idl_rows() else { return };
    let mut total = 0;
    let mut failures = Vec::new();
    for row in rows {
        let codes: Vec<&str> = std::iter::once(row.primary_code.as_str())
            .chain(row.other_codes.split(';'))
            .filter(|c| !c.is_empty())
            .collect();
        let only_unbounded = row.expected == "reject"
            && !codes.is_empty()
            && codes.iter().all(|c| c.starts_with("E-UNBOUNDED-"));
        if !only_unbounded || ALSO_RECURSIVE.iter().any(|f| row.path.ends_with(f)) {
            continue;
        }
        total += 1;
        let options = with_default_bounds(options_for(&row.path));
        let (sources, hir, diags) = compile_files(std::slice::from_ref(&row.path), &options);
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).cloned().collect();
        if TOO_LARGE_WITH_DEFAULTS
            .iter()
            .any(|f| row.path.ends_with(f))
        {
            if errors.is_empty() || errors.iter().any(|e| e.code != "E-TYPE-TOO-LARGE") {
                failures.push(format!(
                    "{}: expected only E-TYPE-TOO-LARGE:\n{}",
                    row.path.display(),
                    render(&errors, &sources, Style::Plain)
                ));
            }
        } else if !errors.is_empty() || hir.is_none() {
            failures.push(format!(
                "{}:\n{}",
                row.path.display(),
                render(&errors, &sources, Style::Plain)
            ));
        }
    }
    println!(
        "corpus with default bounds: {}/{total} unbounded-only rows compile ({} of them are too large, as expected)",
        total - failures.len() - TOO_LARGE_WITH_DEFAULTS.len(),
        TOO_LARGE_WITH_DEFAULTS.len()
    );
    assert!(
        total > 50,
        "expected many unbounded-only rows, found {total}"
    );
    assert!(
        failures.is_empty(),
        "{} rows still fail with default bounds:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn truncated_prefixes_never_panic() {
    for row in idl_rows().unwrap_or_default() {
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
            let options = with_default_bounds(options_for(&row.path));
            let (_, diags) = compile_sources(&mut sources, &[id], &options);
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
    for row in idl_rows().unwrap_or_default() {
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
            let (_, diags) = compile_sources(&mut sources, &[id], &options_for(&row.path));
            let _ = render(&diags, &sources, Style::Plain);
        }
    }
}
