//! Snapshots of the Rust generated for a representative set of IDL files
//! (`tests/idl/*.idl`). The same files are compiled as Rust, under `deny(warnings)`, by
//! the `shmbus-test-idl-corpus` fixture. Bless with `INSTA_UPDATE=always cargo test -p
//! shmbus-codegen --test snapshots`.

use std::path::Path;

use shmbus_idl::diagnostics::render::{Style, render};

/// The generated Rust for `tests/idl/<name>.idl` (panics on IDL errors, showing them).
fn generated(name: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/idl/{name}.idl"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut sources = shmbus_idl::source::SourceMap::new();
    let id = sources.add(format!("{name}.idl"), text);
    let (hir, diags) = shmbus_idl::compile_sources(&mut sources, &[id], &Default::default());
    let hir = hir.unwrap_or_else(|| panic!("{}", render(&diags, &sources, Style::Plain)));
    let options = shmbus_codegen::Options {
        file_stem: name.to_owned(),
        sources: vec![format!("{name}.idl")],
        ..Default::default()
    };
    let mut files = shmbus_codegen::generate(&hir, &options);
    assert_eq!(files.len(), 1);
    let file = files.swap_remove(0);
    assert_eq!(file.name, format!("{name}.rs"));
    assert!(file.contents.starts_with("// @generated"));
    file.contents
}

macro_rules! snapshot {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(generated(stringify!($name)));
        }
    )*};
}

snapshot!(
    nested_modules,
    union,
    enums,
    bitmask,
    bitset,
    inheritance,
    keywords,
    consts,
    typedefs,
    optional_default,
);

#[test]
fn generation_is_deterministic() {
    assert_eq!(generated("union"), generated("union"));
}

#[test]
fn unsafe_never_appears_in_generated_code() {
    for name in [
        "nested_modules",
        "union",
        "enums",
        "bitmask",
        "bitset",
        "keywords",
    ] {
        assert!(!generated(name).contains("unsafe"), "{name}");
    }
}
