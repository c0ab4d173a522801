//! Recursive-descent parser from preprocessed tokens to the [`ast`](crate::ast).
//!
//! Errors say "expected one of …" from the tokens the parser tried at that point; after an
//! error the parser resynchronises at `;` or `}` and goes on, so one run reports every error.

mod annotations;
mod definitions;
mod expr;
mod keywords;
mod members;
mod types;

pub(crate) use definitions::edit_distance;

use crate::ast::{Ident, Specification};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::lexer::{Punct, Token, TokenKind};
use crate::source::Span;

/// How deep definitions, types and expressions may nest.
const MAX_DEPTH: u32 = 128;

/// The error was reported already; the caller recovers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reported;

/// Result of a parse step.
pub(crate) type PResult<T> = Result<T, Reported>;

/// Where an identifier is used, which decides whether keywords are allowed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentUse {
    /// Names of types, modules and constants: reserved keywords are never allowed.
    Declaration,
    /// Member, enumerator and parameter names: keywords allowed in lenient mode.
    Member,
    /// Annotation names and parameter keys (`@default`): keywords always allowed.
    Annotation,
}

/// Parses a preprocessed token stream (comments included, ending with `Eof`).
pub fn parse(tokens: Vec<Token>, lenient_keywords: bool, diags: &mut Diagnostics) -> Specification {
    let mut parser = Parser::new(tokens, lenient_keywords, diags);
    let definitions = parser.definitions_until_end(false);
    Specification { definitions }
}

pub(crate) struct Parser<'d> {
    tokens: Vec<Token>,
    /// For each token, the comments just before it (on earlier lines).
    docs: Vec<Vec<String>>,
    pos: usize,
    expected: Vec<String>,
    lenient: bool,
    depth: u32,
    /// Inside `<...>` of a template type, where `>>` closes rather than shifts.
    in_template: bool,
    diags: &'d mut Diagnostics,
}

impl<'d> Parser<'d> {
    fn new(all: Vec<Token>, lenient: bool, diags: &'d mut Diagnostics) -> Self {
        let mut tokens = Vec::with_capacity(all.len());
        let mut docs = Vec::with_capacity(all.len());
        let mut pending: Vec<String> = Vec::new();
        for tok in all {
            match tok.kind {
                TokenKind::Comment(text) => {
                    if tok.newline_before || tokens.is_empty() {
                        pending.push(text);
                    }
                }
                _ => {
                    docs.push(std::mem::take(&mut pending));
                    tokens.push(tok);
                }
            }
        }
        if tokens.last().is_none_or(|t| t.kind != TokenKind::Eof) {
            let span = tokens
                .last()
                .map_or(Span::new(crate::source::FileId(0), 0, 0), |t| t.span.end());
            tokens.push(Token {
                kind: TokenKind::Eof,
                span,
                newline_before: true,
            });
            docs.push(Vec::new());
        }
        Parser {
            tokens,
            docs,
            pos: 0,
            expected: Vec::new(),
            lenient,
            depth: 0,
            in_template: false,
            diags,
        }
    }

    // ----- cursor -----

    fn tok(&self) -> &Token {
        let i = self.pos.min(self.tokens.len() - 1);
        &self.tokens[i]
    }

    fn nth(&self, n: usize) -> &Token {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        &self.tokens[i]
    }

    fn span(&self) -> Span {
        self.tok().span
    }

    /// Span of the last consumed token.
    fn prev_span(&self) -> Span {
        if self.pos == 0 {
            self.span()
        } else {
            self.tokens[(self.pos - 1).min(self.tokens.len() - 1)].span
        }
    }

    fn at_eof(&self) -> bool {
        self.tok().kind == TokenKind::Eof
    }

    fn bump(&mut self) -> Token {
        let tok = self.tok().clone();
        if !self.at_eof() {
            self.pos += 1;
        }
        self.expected.clear();
        tok
    }

    fn take_doc(&mut self) -> Vec<String> {
        self.docs
            .get_mut(self.pos)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    // ----- checks that record what was expected -----

    fn check(&mut self, p: Punct) -> bool {
        if self.tok().is(p) {
            return true;
        }
        if p == Punct::Gt && self.tok().is(Punct::Shr) {
            return true;
        }
        self.expected.push(format!("`{}`", p.as_str()));
        false
    }

    fn eat(&mut self, p: Punct) -> bool {
        if !self.check(p) {
            return false;
        }
        if p == Punct::Gt && self.tok().is(Punct::Shr) {
            // `>>` closes two levels: consume one `>` and leave the other.
            let span = self.tok().span;
            let rest = Span::new(span.file, span.lo.saturating_add(1).min(span.hi), span.hi);
            let i = self.pos.min(self.tokens.len() - 1);
            self.tokens[i] = Token {
                kind: TokenKind::Punct(Punct::Gt),
                span: rest,
                newline_before: false,
            };
            self.expected.clear();
            return true;
        }
        self.bump();
        true
    }

    fn expect(&mut self, p: Punct) -> PResult<Span> {
        let span = self.span();
        if self.eat(p) {
            Ok(span)
        } else {
            Err(self.unexpected())
        }
    }

    fn check_word(&mut self, word: &str) -> bool {
        if self.tok().is_word(word) {
            return true;
        }
        self.expected.push(format!("`{word}`"));
        false
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.check_word(word) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, word: &str) -> PResult<Span> {
        let span = self.span();
        if self.eat_word(word) {
            Ok(span)
        } else {
            Err(self.unexpected())
        }
    }

    /// Whether `name` is reserved where an identifier of kind `usage` is expected.
    fn is_reserved(&self, name: &str, usage: IdentUse) -> bool {
        if usage == IdentUse::Annotation || (usage == IdentUse::Member && self.lenient) {
            return false;
        }
        keywords::is_reserved(name)
    }

    fn ident(&mut self, usage: IdentUse) -> PResult<Ident> {
        let tok = self.tok().clone();
        if let TokenKind::Ident { name, escaped } = &tok.kind {
            if *escaped || !self.is_reserved(name, usage) {
                self.bump();
                return Ok(Ident {
                    name: name.clone(),
                    span: tok.span,
                });
            }
            let mut diag = Diagnostic::error(
                "E-KEYWORD",
                format!("`{name}` is a keyword, not a name"),
                tok.span,
            )
            .with_label("keyword used as a name")
            .with_help(format!("escape it with a leading underscore: `_{name}`"));
            if usage == IdentUse::Member {
                diag = diag.with_note(
                    "lenient keyword mode accepts IDL keywords as member names (as ROS 2 does)",
                );
            }
            self.diags.push(diag);
            self.bump();
            return Ok(Ident {
                name: name.clone(),
                span: tok.span,
            });
        }
        self.expected.push("identifier".to_owned());
        Err(self.unexpected())
    }

    // ----- errors and recovery -----

    fn describe(tok: &Token) -> String {
        match &tok.kind {
            TokenKind::Ident { name, escaped } => {
                if *escaped {
                    format!("`_{name}`")
                } else {
                    format!("`{name}`")
                }
            }
            TokenKind::Int(v) => format!("integer `{v}`"),
            TokenKind::Float(t) => format!("number `{t}`"),
            TokenKind::Fixed(t) => format!("fixed-point number `{t}d`"),
            TokenKind::Char { .. } => "character literal".to_owned(),
            TokenKind::Str { .. } => "string literal".to_owned(),
            TokenKind::Punct(p) => format!("`{}`", p.as_str()),
            TokenKind::Comment(_) => "comment".to_owned(),
            TokenKind::PragmaKeylist { .. } => "`#pragma keylist`".to_owned(),
            TokenKind::Error(_) => "invalid token".to_owned(),
            TokenKind::Eof => "end of input".to_owned(),
        }
    }

    /// Reports "expected one of …, found …" at the current token (unless the token is an
    /// invalid one, which the lexer already reported).
    fn unexpected(&mut self) -> Reported {
        if let Some(diag) = self.unexpected_diag() {
            self.diags.push(diag);
        }
        Reported
    }

    /// The "expected one of …" diagnostic for the current token, for callers that add to it.
    fn unexpected_diag(&mut self) -> Option<Diagnostic> {
        let mut expected = std::mem::take(&mut self.expected);
        if matches!(self.tok().kind, TokenKind::Error(_)) {
            return None;
        }
        let mut seen = std::collections::HashSet::new();
        expected.retain(|e| seen.insert(e.clone()));
        let found = Self::describe(self.tok());
        let message = match expected.as_slice() {
            [] => format!("unexpected {found}"),
            [one] => format!("expected {one}, found {found}"),
            [init @ .., last] => format!(
                "expected one of {} or {last}, found {found}",
                init.join(", ")
            ),
        };
        let label = match expected.as_slice() {
            [one] => format!("expected {one}"),
            _ => "unexpected token".to_owned(),
        };
        // A missing `;` at the end of a line is best shown right after the previous token.
        let missing_semi =
            expected.iter().any(|e| e == "`;`") && self.tok().newline_before && self.pos > 0;
        let help = if missing_semi {
            "add `;` at the end of the previous declaration".to_owned()
        } else {
            match expected.as_slice() {
                [] => format!("remove {found}"),
                [one] if one.starts_with('`') => format!("insert {one} here, or remove {found}"),
                [one] => format!(
                    "write {} {one} here",
                    if one.starts_with(['a', 'e', 'i', 'o', 'u']) {
                        "an"
                    } else {
                        "a"
                    }
                ),
                _ => format!(
                    "{found} cannot come here: check for a missing token or a typo just before it"
                ),
            }
        };
        let (span, label) = if missing_semi {
            (self.prev_span().end(), "expected `;` here".to_owned())
        } else {
            (self.span(), label)
        };
        Some(
            Diagnostic::error("E-SYNTAX", message, span)
                .with_label(label)
                .with_help(help),
        )
    }

    /// After an error in an item that started at token `start`: skips to just after the
    /// next `;`, or to the next `}`, at the item's level. Braces the item opened before the
    /// error are closed first (with their `;`).
    fn recover(&mut self, start: usize) {
        let mut depth = 0u32;
        for t in &self.tokens[start.min(self.pos)..self.pos] {
            if t.is(Punct::LBrace) {
                depth += 1;
            } else if t.is(Punct::RBrace) {
                depth = depth.saturating_sub(1);
            }
        }
        while !self.at_eof() {
            let tok = self.tok();
            if tok.is(Punct::LBrace) {
                depth += 1;
            } else if tok.is(Punct::RBrace) {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                if depth == 0 {
                    self.bump();
                    self.eat(Punct::Semi);
                    break;
                }
            } else if tok.is(Punct::Semi) && depth == 0 {
                self.bump();
                break;
            }
            self.bump();
        }
        self.expected.clear();
    }

    /// Runs `f` one nesting level deeper, failing cleanly when nesting is too deep.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let result = self.enter().and_then(|()| f(self));
        self.leave();
        result
    }

    /// Runs `f` with `in_template` set to `value`, restoring it afterwards.
    fn with_template<T>(
        &mut self,
        value: bool,
        f: impl FnOnce(&mut Self) -> PResult<T>,
    ) -> PResult<T> {
        let saved = std::mem::replace(&mut self.in_template, value);
        let result = f(self);
        self.in_template = saved;
        result
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.diags.push(
                Diagnostic::error("E-NESTING", "nesting is too deep", self.span())
                    .with_label("too many nested levels here")
                    .with_help("nest modules, types and expressions less than 128 levels deep"),
            );
            return Err(Reported);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests;
