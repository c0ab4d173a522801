//! Turns [`Diagnostic`]s into text. The only module that knows the renderer
//! (annotate-snippets, the one rustc and cargo use).

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Diagnostic, Label, Severity};
use crate::source::{FileId, SourceMap, floor_char_boundary};

/// How to render diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// rustc-style, no colour (tests, logs, pipes).
    Plain,
    /// rustc-style with ANSI colours (only when the caller knows it writes to a terminal).
    Color,
    /// One line per diagnostic, `file:line:col: error[CODE]: message` (build scripts).
    OneLine,
}

/// Renders all `diagnostics` (in the given order) against `sources`.
pub fn render(diagnostics: &[Diagnostic], sources: &SourceMap, style: Style) -> String {
    let mut out = String::new();
    for diag in diagnostics {
        match style {
            Style::OneLine => {
                out.push_str(&render_one_line(diag, sources));
                out.push('\n');
            }
            Style::Plain | Style::Color => {
                let renderer = if style == Style::Color {
                    Renderer::styled()
                } else {
                    Renderer::plain()
                };
                out.push_str(&render_rich(diag, sources, &renderer));
                out.push_str("\n\n");
            }
        }
    }
    out
}

/// The one-line form of one diagnostic.
pub fn render_one_line(diag: &Diagnostic, sources: &SourceMap) -> String {
    let level = severity_name(diag.severity);
    match &diag.primary {
        Some(label) => {
            let path = file_name(sources, label.span.file);
            let pos = sources.line_col(label.span);
            format!(
                "{path}:{}:{}: {level}[{}]: {}",
                pos.line, pos.column, diag.code, diag.message
            )
        }
        None => format!("{level}[{}]: {}", diag.code, diag.message),
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn file_name(sources: &SourceMap, file: FileId) -> String {
    sources.get(file).map_or_else(
        || "<unknown>".to_owned(),
        |f| f.path().display().to_string(),
    )
}

/// The annotated labels of one file, with the excerpt of source lines that holds them.
struct Excerpt {
    file: FileId,
    labels: Vec<(bool, Label)>,
}

fn render_rich(diag: &Diagnostic, sources: &SourceMap, renderer: &Renderer) -> String {
    let level = match diag.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    let mut excerpts: Vec<Excerpt> = Vec::new();
    let all = diag
        .primary
        .iter()
        .map(|l| (true, l))
        .chain(diag.secondary.iter().map(|l| (false, l)));
    for (primary, label) in all {
        match excerpts.iter_mut().find(|e| e.file == label.span.file) {
            Some(e) => e.labels.push((primary, label.clone())),
            None => excerpts.push(Excerpt {
                file: label.span.file,
                labels: vec![(primary, label.clone())],
            }),
        }
    }
    let mut group = Group::with_title(level.primary_title(diag.message.as_str()).id(diag.code));
    for excerpt in &excerpts {
        if let Some(snippet) = snippet_for(excerpt, sources) {
            group = group.element(snippet);
        }
    }
    for note in &diag.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    if let Some(help) = &diag.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    renderer.render(&[group])
}

fn snippet_for<'a>(
    excerpt: &'a Excerpt,
    sources: &'a SourceMap,
) -> Option<Snippet<'a, annotate_snippets::Annotation<'a>>> {
    let file = sources.get(excerpt.file)?;
    let text = file.text();
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    let lo = excerpt
        .labels
        .iter()
        .map(|(_, l)| l.span.lo.min(len))
        .min()?;
    let hi = excerpt
        .labels
        .iter()
        .map(|(_, l)| l.span.hi.min(len))
        .max()?;
    let first_line = file.line_index(lo);
    let start = floor_char_boundary(text, file.line_start(first_line) as usize);
    let hi = floor_char_boundary(text, hi as usize);
    let end = text[hi..].find('\n').map_or(text.len(), |i| hi + i);
    let source = text.get(start..end)?;
    let mut snippet = Snippet::source(source)
        .line_start(first_line + 1)
        .path(file.path().display().to_string());
    for (primary, label) in &excerpt.labels {
        let kind = if *primary {
            AnnotationKind::Primary
        } else {
            AnnotationKind::Context
        };
        let a = (label.span.lo.min(len) as usize).saturating_sub(start);
        let b = (label.span.hi.min(len) as usize).saturating_sub(start);
        let a = floor_char_boundary(source, a);
        let b = floor_char_boundary(source, b).max(a);
        let mut annotation = kind.span(a..b);
        if !label.message.is_empty() {
            annotation = annotation.label(label.message.as_str());
        }
        snippet = snippet.annotation(annotation);
    }
    Some(snippet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    #[test]
    fn plain_and_one_line() {
        let mut map = SourceMap::new();
        let f = map.add("t.idl", "module m {\n  struct A { string x; };\n};\n");
        let d = Diagnostic::error("E-TEST", "bad thing", Span::new(f, 24, 30))
            .with_label("here")
            .with_note("a note")
            .with_help("do this");
        let plain = render(std::slice::from_ref(&d), &map, Style::Plain);
        assert!(plain.contains("error[E-TEST]: bad thing"), "{plain}");
        assert!(plain.contains("t.idl:2:14"), "{plain}");
        assert!(plain.contains("^^^^^^ here"), "{plain}");
        assert!(plain.contains("note: a note"), "{plain}");
        assert!(plain.contains("help: do this"), "{plain}");
        assert!(!plain.contains('\u{1b}'));
        assert_eq!(
            render_one_line(&d, &map),
            "t.idl:2:14: error[E-TEST]: bad thing"
        );
        let color = render(&[d], &map, Style::Color);
        assert!(color.contains('\u{1b}'));
    }

    #[test]
    fn odd_spans_do_not_panic() {
        let mut map = SourceMap::new();
        let f = map.add("u.idl", "é\nü");
        for (lo, hi) in [(1, 1), (0, 100), (3, 4), (5, 2), (99, 100)] {
            let d = Diagnostic::error("E-TEST", "x", Span::new(f, lo, hi))
                .with_secondary(Span::new(FileId(7), 0, 1), "gone");
            let _ = render(&[d], &map, Style::Plain);
        }
    }
}
