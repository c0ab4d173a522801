//! OMG IDL front end for shmbus: source map, diagnostics, preprocessor, lexer, parser,
//! semantic checks and the resolved model ([`hir`]) that code generation works from.
//!
//! See the crate README for an example.
//!
//! The entry points are [`compile_files`] (or [`compile_sources`] for files already in a
//! [`source::SourceMap`]), which check everything and return the [`hir::Hir`] when there
//! is no error, and [`parse_files`] / [`parse_sources`], which stop at the [`ast`].
#![forbid(unsafe_code)]

pub mod ast;
pub mod bounds;
pub mod diagnostics;
pub mod hir;
pub mod lexer;
pub mod parser;
pub mod preprocess;
mod preprocess_expr;
mod sema;
pub mod source;

use std::collections::BTreeMap;
use std::path::PathBuf;

use diagnostics::{Diagnostic, Diagnostics};
use source::{FileId, SourceMap, Span};

/// Options of the front end.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Folders searched by `#include` after the including file's folder (`-I`).
    pub include_paths: Vec<PathBuf>,
    /// Macros defined up front, `NAME` or `NAME=VALUE` (`-D`).
    pub defines: Vec<String>,
    /// Accept IDL keywords as member names (as ROS 2 does).
    pub lenient_keywords: bool,
    /// Bound used for `string` / `wstring` written without one (`--default-string-bound`).
    pub default_string_bound: Option<u32>,
    /// Bound used for `sequence<T>` written without one (`--default-sequence-bound`).
    pub default_sequence_bound: Option<u32>,
    /// Bound used for `map<K, V>` written without one (`--default-map-bound`).
    pub default_map_bound: Option<u32>,
    /// Per-member bounds, by scoped member name (`"std_msgs::msg::Header::frame_id"`) or
    /// typedef name (`"pkg::NameSeq"`). They win over the default bounds and apply to every
    /// unbounded string, sequence and map in that member's type. Fill it from a TOML file
    /// with [`Options::load_bounds_file`] (see [`bounds`]).
    pub member_bounds: BTreeMap<String, u32>,
    /// Accept `long double` as an opaque 16-byte value instead of rejecting it.
    pub long_double_opaque: bool,
}

/// Reads, preprocesses and parses `files` as one translation unit.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("shmbus-idl-doctest-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("pose.idl");
/// std::fs::write(&file, "module m { struct Pose { double x, y; }; };").unwrap();
/// let (sources, spec, diags) = shmbus_idl::parse_files(&[file], &shmbus_idl::Options::default());
/// assert!(diags.is_empty());
/// assert_eq!(spec.unwrap().definitions.len(), 1);
/// # let _ = sources;
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// Returns the syntax tree (`None` only when no file could be read) and every diagnostic,
/// sorted by position. The [`SourceMap`] holds the files for rendering the diagnostics.
pub fn parse_files(
    files: &[PathBuf],
    options: &Options,
) -> (SourceMap, Option<ast::Specification>, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let mut roots = Vec::new();
    for path in files {
        match sources.load(path) {
            Ok(id) => roots.push(id),
            Err(e) => diags.push(Diagnostic::error_without_span(
                "E-READ",
                format!("cannot read `{}`: {e}", path.display()),
            )),
        }
    }
    if roots.is_empty() {
        return (sources, None, diags.into_sorted());
    }
    let spec = parse_roots(&mut sources, &roots, options, &mut diags);
    (sources, Some(spec), diags.into_sorted())
}

/// Reads, preprocesses, parses and checks `files` as one translation unit.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("shmbus-idl-compile-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("pose.idl");
/// std::fs::write(&file, "module m { struct Pose { double x, y; }; };").unwrap();
/// let (_sources, hir, diags) = shmbus_idl::compile_files(&[file], &shmbus_idl::Options::default());
/// assert!(diags.is_empty());
/// let hir = hir.unwrap();
/// let pose = hir.item(hir.find("m::Pose").unwrap());
/// assert_eq!(pose.layout.unwrap().size, 16);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// Returns the model only when there is no error; the diagnostics (errors and warnings)
/// are sorted by position.
pub fn compile_files(
    files: &[PathBuf],
    options: &Options,
) -> (SourceMap, Option<hir::Hir>, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let mut roots = Vec::new();
    for path in files {
        match sources.load(path) {
            Ok(id) => roots.push(id),
            Err(e) => diags.push(Diagnostic::error_without_span(
                "E-READ",
                format!("cannot read `{}`: {e}", path.display()),
            )),
        }
    }
    if roots.is_empty() {
        return (sources, None, diags.into_sorted());
    }
    let spec = parse_roots(&mut sources, &roots, options, &mut diags);
    let hir = sema::analyze(&spec, options, &mut diags);
    (sources, hir, diags.into_sorted())
}

/// Preprocesses, parses and checks files already added to `sources`.
///
/// ```
/// use shmbus_idl::diagnostics::render::{render, Style};
/// let mut sources = shmbus_idl::source::SourceMap::new();
/// let id = sources.add("hello.idl", "struct Hello { string text; };");
/// let (hir, diags) = shmbus_idl::compile_sources(&mut sources, &[id], &Default::default());
/// assert!(hir.is_none());
/// assert_eq!(diags[0].code, "E-UNBOUNDED-STRING");
///
/// let options = shmbus_idl::Options { default_string_bound: Some(64), ..Default::default() };
/// let (hir, diags) = shmbus_idl::compile_sources(&mut sources, &[id], &options);
/// assert!(diags.is_empty(), "{}", render(&diags, &sources, Style::Plain));
/// assert!(hir.is_some());
/// ```
pub fn compile_sources(
    sources: &mut SourceMap,
    roots: &[FileId],
    options: &Options,
) -> (Option<hir::Hir>, Vec<Diagnostic>) {
    let mut diags = Diagnostics::new();
    let spec = parse_roots(sources, roots, options, &mut diags);
    let hir = sema::analyze(&spec, options, &mut diags);
    (hir, diags.into_sorted())
}

/// Preprocesses and parses files already added to `sources` (e.g. in-memory text).
///
/// ```
/// use shmbus_idl::diagnostics::render::{render, Style};
/// let mut sources = shmbus_idl::source::SourceMap::new();
/// let id = sources.add("bad.idl", "struct S { long x };");
/// let (_, diags) = shmbus_idl::parse_sources(&mut sources, &[id], &Default::default());
/// let text = render(&diags, &sources, Style::OneLine);
/// assert_eq!(text, "bad.idl:1:19: error[E-SYNTAX]: expected one of `[`, `,` or `;`, found `}`\n");
/// ```
pub fn parse_sources(
    sources: &mut SourceMap,
    roots: &[FileId],
    options: &Options,
) -> (ast::Specification, Vec<Diagnostic>) {
    let mut diags = Diagnostics::new();
    let spec = parse_roots(sources, roots, options, &mut diags);
    (spec, diags.into_sorted())
}

fn parse_roots(
    sources: &mut SourceMap,
    roots: &[FileId],
    options: &Options,
    diags: &mut Diagnostics,
) -> ast::Specification {
    let pp_options = preprocess::PreprocessOptions {
        include_paths: options.include_paths.clone(),
        defines: options.defines.clone(),
    };
    let tokens = preprocess::preprocess(sources, roots, &pp_options, diags);
    let spec = parser::parse(tokens, options.lenient_keywords, diags);
    if let Some(&root) = roots
        .first()
        .filter(|_| spec.definitions.is_empty() && !diags.has_errors())
    {
        diags.push(
            Diagnostic::warning(
                "W-EMPTY-SPECIFICATION",
                "the IDL input defines nothing",
                Span::new(root, 0, 0),
            )
            .with_note("after preprocessing, no definition remained")
            .with_help(
                "check the `#if`/`#ifdef` conditions and the `-D` definitions: they may have skipped everything",
            ),
        );
    }
    spec
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
