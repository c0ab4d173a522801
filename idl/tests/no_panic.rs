//! Inputs that once broke (or were built to break) the front end: each must compile to
//! errors, never to a panic, a stack overflow or an arithmetic overflow. Files found by
//! the fuzzer (`idl/fuzz`) are added to `tests/no_panic/` as regression tests.

use std::path::PathBuf;

use shmbus_idl::diagnostics::render::{Style, render};
use shmbus_idl::{Options, compile_files};

#[test]
fn regression_inputs_give_errors_not_panics() {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/no_panic")
        .expect("tests/no_panic exists")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "expected the regression inputs");
    for file in files {
        for options in [
            Options::default(),
            Options {
                default_string_bound: Some(8),
                default_sequence_bound: Some(2),
                long_double_opaque: true,
                lenient_keywords: true,
                ..Options::default()
            },
        ] {
            let (sources, hir, diags) = compile_files(std::slice::from_ref(&file), &options);
            let text = render(&diags, &sources, Style::Plain);
            assert!(hir.is_none(), "{} compiled:\n{text}", file.display());
            assert!(diags.iter().any(|d| d.is_error()), "{}", file.display());
            let _ = render(&diags, &sources, Style::OneLine);
        }
    }
}
