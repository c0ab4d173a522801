//! OMG IDL front end for shmbus: source map, diagnostics, preprocessor, lexer and parser.
//!
//! See the crate README for an example.
//!
//! The entry point is [`parse_files`] (or [`parse_sources`] for files already in a
//! [`source::SourceMap`]). Semantic checks (name resolution, constant evaluation, layout)
//! come in a later step and work on the [`ast`] this crate produces.
#![forbid(unsafe_code)]

pub mod ast;
pub mod diagnostics;
pub mod hir;
pub mod lexer;
pub mod parser;
pub mod preprocess;
mod preprocess_expr;
pub mod source;

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
}

/// Reads, preprocesses and parses `files` as one translation unit.
///
/// ```
/// let dir = std::env::temp_dir().join("shmbus-idl-doctest");
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("pose.idl");
/// std::fs::write(&file, "module m { struct Pose { double x, y; }; };").unwrap();
/// let (sources, spec, diags) = shmbus_idl::parse_files(&[file], &shmbus_idl::Options::default());
/// assert!(diags.is_empty());
/// assert_eq!(spec.unwrap().definitions.len(), 1);
/// # let _ = sources;
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
            .with_note("after preprocessing, no definition remained"),
        );
    }
    spec
}
