//! Golden tests: every `tests/ui/<topic>/<case>.idl` is preprocessed and parsed, and its
//! rendered diagnostics (rustc-style and one-line) are compared with an insta snapshot.

use std::path::{Path, PathBuf};

use shmbus_idl::diagnostics::render::{Style, render};
use shmbus_idl::{Options, parse_files};

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

#[test]
fn ui_snapshots() {
    let cases = cases();
    assert!(cases.len() >= 5, "expected the golden cases under tests/ui");
    for path in cases {
        let options = Options {
            include_paths: vec![PathBuf::from("tests/ui/include")],
            ..Options::default()
        };
        let (sources, spec, diags) = parse_files(std::slice::from_ref(&path), &options);
        assert!(spec.is_some());
        let mut out = render(&diags, &sources, Style::Plain);
        out.push_str("---- one-line ----\n");
        out.push_str(&render(&diags, &sources, Style::OneLine));
        if snapshot_name(&path).starts_with("accept__") {
            assert!(diags.iter().all(|d| !d.is_error()), "{out}");
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
