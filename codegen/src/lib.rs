//! IDL to Rust code generation for shmbus, with a build.rs API in the style of
//! prost-build.
//!
//! Two layers, as in prost-build:
//!
//! - [`generate`] is a pure function from the checked IDL model ([`Hir`]) to Rust source
//!   text: no I/O, no environment, the same output for the same input. Tests and the
//!   `shmbus idl compile` command call it.
//! - [`Builder`] is the thin layer a build script uses: it runs the IDL front end, prints
//!   `cargo:rerun-if-changed` for every file read and `cargo::warning=` for each IDL
//!   warning, and writes `$OUT_DIR/<name>.rs` (only when it changed), which
//!   `shmbus::include_idl!("<name>")` includes.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     shmbus_codegen::Builder::new()
//!         .include("idl")
//!         .default_string_bound(64)
//!         .compile(&["idl/robot.idl"])?;
//!     Ok(())
//! }
//! ```
//!
//! The Rust mapping (every type `#[repr(C)]`, `Copy`, deriving `ShmMessage` under its IDL
//! scoped name, valid for every bit pattern) is described construct by construct in the
//! crate README.
#![forbid(unsafe_code)]

pub mod builder;
mod emit;
mod rust;

pub use builder::{BoundsFileError, Builder, CompileError, read_bounds_file};
pub use emit::write_if_changed;
use shmbus_idl::hir::Hir;

/// Options of [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The name of the generated file, without `.rs` (`"robot"` gives `robot.rs`).
    pub file_stem: String,
    /// The IDL files the model came from, listed in the file's header.
    pub sources: Vec<String>,
    /// The path generated code uses for the shmbus crate, `::shmbus` by default; set it
    /// when shmbus is reached through a re-export (`"::my_sdk::shmbus"`), like prost's
    /// `prost_path`.
    pub crate_path: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            file_stem: "idl".to_owned(),
            sources: Vec::new(),
            crate_path: "::shmbus".to_owned(),
        }
    }
}

/// One generated Rust file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The file name, `robot.rs`.
    pub name: String,
    /// The Rust source, formatted, starting with the `// @generated` header.
    pub contents: String,
}

/// Generates the Rust for a checked IDL model: one file holding the global scope's items
/// and one `pub mod` per top-level IDL module.
///
/// Pure: no I/O. The output compiles without warnings (`-D warnings`, `missing_docs`
/// included) against the `shmbus` crate.
///
/// ```
/// let mut sources = shmbus_idl::source::SourceMap::new();
/// let file = sources.add("pose.idl", "module geo { struct Pose { double x, y; }; };");
/// let (hir, diags) = shmbus_idl::compile_sources(&mut sources, &[file], &Default::default());
/// assert!(diags.is_empty());
/// let files = shmbus_codegen::generate(&hir.unwrap(), &shmbus_codegen::Options::default());
/// assert!(files[0].contents.contains("pub struct Pose"));
/// assert!(files[0].contents.contains("#[shm(type_name = \"geo::Pose\")]"));
/// ```
pub fn generate(hir: &Hir, options: &Options) -> Vec<GeneratedFile> {
    let cx = rust::Context::new(hir, &options.crate_path);
    let tokens = rust::file(&cx);
    let contents = match emit::format_file(tokens.clone(), &options.sources) {
        Ok(text) => text,
        // The generator built tokens that do not parse as a file: a generator bug. Emit
        // them unformatted so that rustc points at the problem in the user's build.
        Err(error) => format!(
            "{}// shmbus-codegen could not format this file ({error}); please report it.\n{tokens}\n",
            emit::HEADER
        ),
    };
    vec![GeneratedFile {
        name: format!("{}.rs", options.file_stem),
        contents,
    }]
}

/// The Rust path of item `id` from the root of the generated file, as the generator
/// spells it (`robot::msg::Pose`, `pkg::r#type::Foo`). Tools and tests that refer to
/// generated types use it.
///
/// ```
/// let mut sources = shmbus_idl::source::SourceMap::new();
/// let file = sources.add("k.idl", "module type { struct String { long x; }; };");
/// let (hir, _) = shmbus_idl::compile_sources(&mut sources, &[file], &Default::default());
/// let hir = hir.unwrap();
/// let id = hir.find("type::String").unwrap();
/// assert_eq!(shmbus_codegen::rust_path(&hir, id), "r#type::String_");
/// ```
pub fn rust_path(hir: &Hir, id: shmbus_idl::hir::ItemId) -> String {
    let item = hir.item(id);
    let mut parts = Vec::new();
    let mut module = Some(item.module);
    while let Some(m) = module.filter(|m| *m != Hir::ROOT) {
        parts.push(rust::names::rust_name(&hir.module(m).name));
        module = hir.module(m).parent;
    }
    parts.reverse();
    parts.push(rust::types::item_name(item));
    parts.join("::")
}

/// The Rust spelling of an IDL identifier: raw for Rust keywords (`r#type`), suffixed
/// for those that cannot be raw (`self_`).
///
/// ```
/// assert_eq!(shmbus_codegen::rust_ident("type"), "r#type");
/// assert_eq!(shmbus_codegen::rust_ident("self"), "self_");
/// assert_eq!(shmbus_codegen::rust_ident("speed"), "speed");
/// ```
pub fn rust_ident(idl: &str) -> String {
    rust::names::rust_name(idl)
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
