//! Golden tests: every `tests/ui/<topic>/<case>.idl` is compiled (preprocessed, parsed and
//! checked), and its rendered diagnostics (rustc-style and one-line) are compared with an insta snapshot.

use std::path::{Path, PathBuf};

use shmbus_idl::diagnostics::render::{Style, render};
use shmbus_idl::{Options, compile_files};

fn cases() -> Vec<PathBuf> {
    let mut cases = Vec::new();
    let Ok(topics) = std::fs::read_dir("tests/ui") else {
        return cases;
    };
    for topic in topics.flatten() {
        let Ok(files) = std::fs::read_dir(topic.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "idl") {
                cases.push(path);
            }
        }
    }
    cases.sort();
    cases
}

fn snapshot_name(path: &Path) -> String {
    let topic = path
        .parent()
        .and_then(Path::file_name)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let case = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{topic}__{case}")
}

/// Options of a case: a first line `// options: long-double-opaque default-string-bound=64
/// member-bound=pkg::S::m=8 ...` sets them.
fn options_for(path: &Path) -> Options {
    let mut options = Options {
        include_paths: vec![PathBuf::from("tests/ui/include")],
        ..Options::default()
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let Some(line) = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("// options:"))
    else {
        return options;
    };
    for word in line.split_whitespace() {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let number = || value.parse::<u32>().ok();
        match key {
            "long-double-opaque" => options.long_double_opaque = true,
            "lenient-keywords" => options.lenient_keywords = true,
            "default-string-bound" => options.default_string_bound = number(),
            "default-sequence-bound" => options.default_sequence_bound = number(),
            "default-map-bound" => options.default_map_bound = number(),
            "member-bound" => {
                let (member, bound) = value.rsplit_once('=').expect("member-bound=NAME=N");
                options
                    .member_bounds
                    .insert(member.to_owned(), bound.parse().expect("a bound"));
            }
            other => panic!("unknown option `{other}` in {}", path.display()),
        }
    }
    options
}

#[test]
fn ui_snapshots() {
    let cases = cases();
    assert!(cases.len() >= 5, "expected the golden cases under tests/ui");
    for path in cases {
        let options = options_for(&path);
        let (sources, hir, diags) = compile_files(std::slice::from_ref(&path), &options);
        for d in &diags {
            assert!(
                d.help.is_some(),
                "{}: `{}` has no help line",
                path.display(),
                d.message
            );
        }
        let mut out = render(&diags, &sources, Style::Plain);
        out.push_str("---- one-line ----\n");
        out.push_str(&render(&diags, &sources, Style::OneLine));
        if snapshot_name(&path).starts_with("accept__") {
            assert!(diags.iter().all(|d| !d.is_error()), "{out}");
            assert!(hir.is_some(), "{out}");
        }
        insta::with_settings!({
            snapshot_path => "ui/snapshots",
            prepend_module_to_snapshot => false,
            input_file => &path,
        }, {
            insta::assert_snapshot!(snapshot_name(&path), out);
        });
    }
}
