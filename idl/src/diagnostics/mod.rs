//! Diagnostics as plain data. [`render`] is the only module that turns them into text.

pub mod render;

use std::collections::HashSet;

use crate::source::Span;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The input cannot be compiled.
    Error,
    /// The input compiles, but something was ignored or looks wrong.
    Warning,
    /// The input compiles as asked; a fact worth knowing (a default bound was applied).
    Note,
}

/// A span with a message attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there (may be empty).
    pub message: String,
}

/// One problem found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code such as `E-SYNTAX`.
    pub code: &'static str,
    /// The headline.
    pub message: String,
    /// The main location; `None` only when no source exists (e.g. a missing root file).
    pub primary: Option<Label>,
    /// Further related locations.
    pub secondary: Vec<Label>,
    /// Extra facts, rendered as `note:` lines.
    pub notes: Vec<String>,
    /// What to do, rendered as a `help:` line.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error at `span`.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Error, code, message, span)
    }

    /// A new warning at `span`.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Warning, code, message, span)
    }

    fn new(severity: Severity, code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            primary: Some(Label {
                span,
                message: String::new(),
            }),
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// An error without a source location.
    pub fn error_without_span(code: &'static str, message: impl Into<String>) -> Self {
        Self::without_span(Severity::Error, code, message)
    }

    /// A diagnostic of `severity` without a source location (about the options or a
    /// bounds file rather than an IDL file).
    pub fn without_span(
        severity: Severity,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// Whether this is a warning.
    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }

    /// Sets the label of the primary span.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        if let Some(primary) = &mut self.primary {
            primary.message = label.into();
        }
        self
    }

    /// Adds a secondary labelled span.
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: label.into(),
        });
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn sort_key(&self) -> (u32, u32, u32, Severity) {
        match &self.primary {
            Some(l) => (l.span.file.0, l.span.lo, l.span.hi, self.severity),
            None => (0, 0, 0, self.severity),
        }
    }
}

/// An accumulator that keeps at most one diagnostic per primary span and severity.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// (severity, primary span) of every recorded diagnostic with a span.
    spans: HashSet<(Severity, Span)>,
    /// (severity, message) of every recorded diagnostic without one.
    unspanned: HashSet<(Severity, String)>,
}

impl Diagnostics {
    /// An empty accumulator.
    pub fn new() -> Self {
        Diagnostics::default()
    }

    /// Records `diag` unless one of the same severity was already reported at its span.
    pub fn push(&mut self, diag: Diagnostic) {
        let fresh = match &diag.primary {
            Some(label) => self.spans.insert((diag.severity, label.span)),
            None => self.unspanned.insert((diag.severity, diag.message.clone())),
        };
        if fresh {
            self.list.push(diag);
        }
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    /// Whether a diagnostic with `code` was recorded.
    pub fn has_code(&self, code: &str) -> bool {
        self.list.iter().any(|d| d.code == code)
    }

    /// Number of errors recorded.
    pub fn error_count(&self) -> usize {
        self.list.iter().filter(|d| d.is_error()).count()
    }

    /// The diagnostics, sorted by position (stable for equal positions).
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(Diagnostic::sort_key);
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    #[test]
    fn dedup_and_sort() {
        let f = FileId(0);
        let mut d = Diagnostics::new();
        d.push(Diagnostic::error("E-X", "b", Span::new(f, 5, 6)));
        d.push(Diagnostic::error("E-X", "again", Span::new(f, 5, 6)));
        d.push(Diagnostic::warning("W-X", "a", Span::new(f, 1, 2)));
        assert!(d.has_errors());
        let v = d.into_sorted();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].message, "a");
    }
}
