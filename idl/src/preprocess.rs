//! The preprocessor: `#include`, include guards and `#pragma once`, object-like `#define`
//! and `#undef`, conditionals (`#if`/`#ifdef`/`#ifndef`/`#elif`/`#else`/`#endif`),
//! `#pragma keylist` (kept as a token for the parser), `#error`/`#warning`.
//!
//! It works on tokens, so every output token keeps the span of the file it was written in
//! (a token produced by a macro carries the span of the macro's use).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::lexer::{Punct, Token, TokenKind, lex};
use crate::source::{FileId, SourceMap, Span};

/// How deep `#include` may nest before we assume a cycle.
const MAX_INCLUDE_DEPTH: usize = 64;
/// How many tokens one macro use may expand to.
const MAX_EXPANSION: usize = 100_000;

/// What the preprocessor needs from the options.
#[derive(Debug, Clone, Default)]
pub struct PreprocessOptions {
    /// Folders searched for `#include` after the including file's folder.
    pub include_paths: Vec<PathBuf>,
    /// `NAME` or `NAME=VALUE`, as given to `-D`. `NAME` alone defines it as `1`.
    pub defines: Vec<String>,
}

#[derive(Debug, Clone)]
struct Macro {
    body: Vec<Token>,
}

#[derive(Debug)]
struct Cond {
    /// Whether the current branch is taken.
    active: bool,
    /// Whether the enclosing region is taken.
    parent_active: bool,
    /// Whether some branch was already taken.
    taken: bool,
    /// Whether `#else` was seen.
    else_seen: bool,
    /// The `#if` line, for "unterminated" errors.
    span: Span,
}

/// Preprocesses the `roots` as one translation unit (macros and `#pragma once` carry
/// over from one root to the next). Returns the token stream, ending with one `Eof`.
pub fn preprocess(
    sources: &mut SourceMap,
    roots: &[FileId],
    options: &PreprocessOptions,
    diags: &mut Diagnostics,
) -> Vec<Token> {
    let mut pp = Preprocessor {
        sources,
        options,
        diags,
        macros: HashMap::new(),
        once: HashSet::new(),
        out: Vec::new(),
        depth: 0,
    };
    pp.command_line_defines();
    for &root in roots {
        pp.run_file(root);
    }
    let eof_span = pp.out.last().map_or_else(
        || Span::new(roots.first().copied().unwrap_or(FileId(0)), 0, 0),
        |t| t.span.end(),
    );
    pp.out.push(Token {
        kind: TokenKind::Eof,
        span: eof_span,
        newline_before: true,
    });
    pp.out
}

struct Preprocessor<'a> {
    sources: &'a mut SourceMap,
    options: &'a PreprocessOptions,
    diags: &'a mut Diagnostics,
    macros: HashMap<String, Macro>,
    once: HashSet<PathBuf>,
    out: Vec<Token>,
    depth: usize,
}

impl Preprocessor<'_> {
    fn command_line_defines(&mut self) {
        for define in &self.options.defines {
            let (name, value) = match define.split_once('=') {
                Some((n, v)) => (n.trim().to_owned(), v.to_owned()),
                None => (define.trim().to_owned(), "1".to_owned()),
            };
            let file = self
                .sources
                .add(format!("<command line: -D {define}>"), value);
            let text = self
                .sources
                .get(file)
                .map(|f| f.text().to_owned())
                .unwrap_or_default();
            let body = lex(file, &text)
                .into_iter()
                .filter(|t| !matches!(t.kind, TokenKind::Eof | TokenKind::Comment(_)))
                .collect();
            self.macros.insert(name, Macro { body });
        }
    }

    fn key_of(&self, file: FileId) -> PathBuf {
        let path = self
            .sources
            .get(file)
            .map(|f| f.path().to_path_buf())
            .unwrap_or_default();
        std::fs::canonicalize(&path).unwrap_or(path)
    }

    fn run_file(&mut self, file: FileId) {
        if self.once.contains(&self.key_of(file)) {
            return;
        }
        let Some(text) = self.sources.get(file).map(|f| f.text().to_owned()) else {
            return;
        };
        let tokens = lex(file, &text);
        let mut conds: Vec<Cond> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let tok = &tokens[i];
            let active = conds.last().is_none_or(|c| c.active);
            if tok.is(Punct::Hash) && tok.newline_before {
                let mut j = i + 1;
                while j < tokens.len()
                    && !tokens[j].newline_before
                    && tokens[j].kind != TokenKind::Eof
                {
                    j += 1;
                }
                let line: Vec<Token> = tokens[i + 1..j]
                    .iter()
                    .filter(|t| !matches!(t.kind, TokenKind::Comment(_)))
                    .cloned()
                    .collect();
                let span = tokens[i].span.to(tokens[j - 1].span);
                self.directive(file, span, &line, &mut conds);
                i = j;
                continue;
            }
            if active {
                match &tok.kind {
                    TokenKind::Eof => {}
                    TokenKind::Error(e) => {
                        self.diags.push(
                            Diagnostic::error("E-LEX", e.message.clone(), tok.span)
                                .with_help(e.help),
                        );
                        // Kept so the parser knows this spot is already reported.
                        self.out.push(tok.clone());
                    }
                    TokenKind::Ident { .. } => {
                        let mut expanded = Vec::new();
                        let mut stack = Vec::new();
                        self.expand(tok, tok.span, &mut stack, &mut expanded);
                        self.out.extend(expanded);
                    }
                    _ => self.out.push(tok.clone()),
                }
            }
            i += 1;
        }
        for cond in conds.iter().rev() {
            self.diags.push(
                Diagnostic::error(
                    "E-PP-UNTERMINATED-IF",
                    "unterminated conditional directive",
                    cond.span,
                )
                .with_label("this conditional has no matching `#endif`")
                .with_help("add `#endif` at the end of the conditional block"),
            );
        }
    }

    /// Appends `tok` to `out`, replacing defined macros (not recursively into themselves).
    fn expand(
        &mut self,
        tok: &Token,
        use_span: Span,
        stack: &mut Vec<String>,
        out: &mut Vec<Token>,
    ) {
        let Some(name) = tok.raw_ident() else {
            out.push(Token {
                span: use_span,
                ..tok.clone()
            });
            return;
        };
        let body = match self.macros.get(&name) {
            Some(m) if !stack.contains(&name) => m.body.clone(),
            _ => {
                out.push(Token {
                    span: use_span,
                    ..tok.clone()
                });
                return;
            }
        };
        stack.push(name);
        for t in &body {
            if out.len() > MAX_EXPANSION {
                self.diags.push(Diagnostic::error(
                    "E-PP-EXPANSION",
                    "macro expansion is too large",
                    use_span,
                ).with_help("a macro expands to itself or to a huge text; simplify the `#define`s involved"));
                break;
            }
            self.expand(t, use_span, stack, out);
        }
        stack.pop();
    }

    fn directive(&mut self, file: FileId, span: Span, line: &[Token], conds: &mut Vec<Cond>) {
        let active = conds.last().is_none_or(|c| c.active);
        let Some(first) = line.first() else {
            return; // the null directive `#`
        };
        let Some(name) = first.ident() else {
            if active {
                self.diags.push(
                    Diagnostic::error(
                        "E-PP-DIRECTIVE",
                        "expected a preprocessor directive name",
                        first.span,
                    )
                    .with_label("not a directive")
                    .with_help(
                        "write a directive such as `#include`, `#define` or `#ifdef` after `#`",
                    ),
                );
            }
            return;
        };
        let args = &line[1..];
        match name {
            "if" | "ifdef" | "ifndef" => {
                let value = active && self.condition(name, first.span, args);
                conds.push(Cond {
                    active: value,
                    parent_active: active,
                    taken: value,
                    else_seen: false,
                    span,
                });
            }
            "elif" | "else" => {
                let Some(cond) = conds.last_mut() else {
                    self.diags.push(Diagnostic::error(
                        "E-PP-UNMATCHED",
                        format!("`#{name}` without `#if`"),
                        span,
                    ).with_help("remove it, or add the `#if`/`#ifdef` it belongs to"));
                    return;
                };
                if cond.else_seen {
                    self.diags.push(Diagnostic::error(
                        "E-PP-UNMATCHED",
                        format!("`#{name}` after `#else`"),
                        span,
                    ).with_help("an `#if` block has at most one `#else`, and it comes last"));
                    return;
                }
                let (parent_active, taken) = (cond.parent_active, cond.taken);
                let value = if !parent_active || taken {
                    false
                } else if name == "elif" {
                    self.condition("if", first.span, args)
                } else {
                    true
                };
                if let Some(cond) = conds.last_mut() {
                    cond.active = value;
                    cond.taken |= value;
                    cond.else_seen = name == "else";
                }
            }
            "endif" => {
                if conds.pop().is_none() {
                    self.diags.push(Diagnostic::error(
                        "E-PP-UNMATCHED",
                        "`#endif` without `#if`",
                        span,
                    ).with_help("remove it, or add the `#if`/`#ifdef` it closes"));
                }
            }
            _ if !active => {}
            "include" => self.include(file, span, first.span, args),
            "define" => self.define(first.span, args),
            "undef" => match args.first().and_then(Token::raw_ident) {
                Some(n) => {
                    self.macros.remove(&n);
                }
                None => self.diags.push(Diagnostic::error(
                    "E-PP-DIRECTIVE",
                    "`#undef` needs a macro name",
                    first.span,
                ).with_help("write `#undef NAME`")),
            },
            "pragma" => self.pragma(file, span, args),
            "error" | "warning" => {
                let text = args.first().map_or("", |a| {
                    self.sources.snippet(Span::new(file, a.span.lo, span.hi))
                });
                let message = format!("#{name} {}", text.trim());
                let diag = if name == "error" {
                    Diagnostic::error("E-PP-ERROR", message, span).with_help("the file stops here on purpose: define the macros it expects (`-D NAME`) or take the branch its own compiler takes")
                } else {
                    Diagnostic::warning("W-PP-WARNING", message, span).with_help("the file asks for this warning; see its text")
                };
                self.diags.push(diag);
            }
            "line" => {}
            other => self.diags.push(
                Diagnostic::error(
                    "E-PP-DIRECTIVE",
                    format!("unknown preprocessor directive `#{other}`"),
                    first.span,
                )
                .with_label("unknown directive").with_help("supported directives: `#include`, `#define`, `#undef`, `#if`, `#ifdef`, `#ifndef`, `#elif`, `#else`, `#endif`, `#pragma`, `#error`, `#warning`, `#line`"),
            ),
        }
    }

    fn condition(&mut self, kind: &str, at: Span, args: &[Token]) -> bool {
        if kind != "if" {
            let Some(name) = args.first().and_then(Token::raw_ident) else {
                self.diags.push(
                    Diagnostic::error(
                        "E-PP-DIRECTIVE",
                        format!("`#{kind}` needs a macro name"),
                        at,
                    )
                    .with_help(format!("write `#{kind} NAME`")),
                );
                return false;
            };
            return self.macros.contains_key(&name) == (kind == "ifdef");
        }
        // Replace `defined X` / `defined(X)` first, then expand macros.
        let mut replaced = Vec::new();
        let mut i = 0;
        while i < args.len() {
            if args[i].is_word("defined") {
                let (name_tok, next) = if args.get(i + 1).is_some_and(|t| t.is(Punct::LParen)) {
                    (args.get(i + 2), i + 4)
                } else {
                    (args.get(i + 1), i + 2)
                };
                let defined = name_tok
                    .and_then(Token::raw_ident)
                    .is_some_and(|n| self.macros.contains_key(&n));
                replaced.push(Token {
                    kind: TokenKind::Int(u64::from(defined)),
                    ..args[i].clone()
                });
                i = next;
            } else {
                replaced.push(args[i].clone());
                i += 1;
            }
        }
        let mut expanded = Vec::new();
        for t in &replaced {
            let mut stack = Vec::new();
            self.expand(t, t.span, &mut stack, &mut expanded);
        }
        match crate::preprocess_expr::evaluate(&expanded, at) {
            Ok(v) => v != 0,
            Err(e) => {
                self.diags.push(e.into_diagnostic());
                false
            }
        }
    }

    fn define(&mut self, at: Span, args: &[Token]) {
        let Some(name_tok) = args.first() else {
            self.diags.push(
                Diagnostic::error("E-PP-DIRECTIVE", "`#define` needs a macro name", at)
                    .with_help("write `#define NAME` or `#define NAME value`"),
            );
            return;
        };
        let Some(name) = name_tok.raw_ident() else {
            self.diags.push(
                Diagnostic::error(
                    "E-PP-DIRECTIVE",
                    "macro names must be identifiers",
                    name_tok.span,
                )
                .with_label("not an identifier")
                .with_help(
                    "write `#define NAME value` with a name made of letters, digits and `_`",
                ),
            );
            return;
        };
        if let Some(paren) = args
            .get(1)
            .filter(|t| t.is(Punct::LParen) && t.span.lo == name_tok.span.hi)
        {
            self.diags.push(
                Diagnostic::error(
                    "E-PP-FUNCTION-MACRO",
                    format!("function-like macro `{name}` is not supported"),
                    name_tok.span.to(paren.span),
                )
                .with_help("only object-like macros (`#define NAME value`) are supported"),
            );
            return;
        }
        self.macros.insert(
            name,
            Macro {
                body: args[1..].to_vec(),
            },
        );
    }

    fn pragma(&mut self, file: FileId, span: Span, args: &[Token]) {
        match args.first().and_then(Token::ident) {
            Some("once") => {
                let key = self.key_of(file);
                self.once.insert(key);
            }
            Some("keylist") => {
                let rest = &args[1..];
                let type_end = rest.len();
                // The type name may be scoped: join `a :: b` until the first plain key.
                let mut type_name = String::new();
                let mut k = 0;
                while k < type_end {
                    match &rest[k].kind {
                        TokenKind::Ident { name, .. } => type_name.push_str(name),
                        TokenKind::Punct(Punct::ColonColon) => type_name.push_str("::"),
                        _ => break,
                    }
                    k += 1;
                    let after_ident = !rest[k - 1].is(Punct::ColonColon);
                    if after_ident && !rest.get(k).is_some_and(|t| t.is(Punct::ColonColon)) {
                        break;
                    }
                }
                let keys = rest[k..]
                    .iter()
                    .filter_map(|t| t.ident().map(str::to_owned))
                    .collect();
                if type_name.is_empty() {
                    self.diags.push(
                        Diagnostic::error(
                            "E-PP-PRAGMA",
                            "`#pragma keylist` needs a type name",
                            span,
                        )
                        .with_help("write `#pragma keylist TypeName key1 key2`"),
                    );
                } else {
                    self.out.push(Token {
                        kind: TokenKind::PragmaKeylist { type_name, keys },
                        span,
                        newline_before: true,
                    });
                }
            }
            _ => self.diags.push(
                Diagnostic::warning("W-UNKNOWN-PRAGMA", "unknown pragma ignored", span)
                    .with_label("this pragma has no effect")
                    .with_note("supported pragmas: `#pragma once`, `#pragma keylist`")
                    .with_help("remove it if it is not meant for another tool"),
            ),
        }
    }

    fn include(&mut self, file: FileId, span: Span, at: Span, args: &[Token]) {
        let (name, name_span) = match args.first().map(|t| &t.kind) {
            Some(TokenKind::Str { value, .. }) => (value.clone(), args[0].span),
            Some(TokenKind::Punct(Punct::Lt)) => match args.iter().position(|t| t.is(Punct::Gt)) {
                Some(close) => {
                    let inner = Span::new(file, args[0].span.hi, args[close].span.lo);
                    (
                        self.sources.snippet(inner).trim().to_owned(),
                        args[0].span.to(args[close].span),
                    )
                }
                None => (String::new(), span),
            },
            _ => (String::new(), span),
        };
        if name.is_empty() {
            self.diags.push(
                Diagnostic::error("E-PP-INCLUDE", "expected a file name after `#include`", at)
                    .with_help("write `#include \"file.idl\"` or `#include <file.idl>`"),
            );
            return;
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            self.diags.push(
                Diagnostic::error(
                    "E-PP-INCLUDE-DEPTH",
                    "`#include` nested too deeply",
                    name_span,
                )
                .with_note(
                    "this is usually an include cycle; add an include guard or `#pragma once`",
                ).with_help("add an include guard (`#ifndef X` / `#define X` / `#endif`) or `#pragma once` to the included files"),
            );
            return;
        }
        let own_dir = self
            .sources
            .get(file)
            .and_then(|f| f.path().parent().map(Path::to_path_buf));
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = &own_dir {
            candidates.push(dir.join(&name));
        }
        candidates.extend(self.options.include_paths.iter().map(|p| p.join(&name)));
        let found = candidates.iter().find_map(|c| {
            if let Some(id) = self.sources.find(c) {
                return Some(Ok(id));
            }
            c.is_file().then(|| self.sources.load(c))
        });
        match found {
            Some(Ok(id)) => {
                self.depth += 1;
                self.run_file(id);
                self.depth -= 1;
            }
            Some(Err(e)) => self.diags.push(
                Diagnostic::error(
                    "E-PP-INCLUDE",
                    format!("cannot read included file `{name}`: {e}"),
                    name_span,
                )
                .with_label("included here")
                .with_help("check that the file is readable"),
            ),
            None => {
                let searched: Vec<String> = own_dir
                    .iter()
                    .chain(self.options.include_paths.iter())
                    .map(|p| format!("`{}`", p.display()))
                    .collect();
                self.diags.push(
                    Diagnostic::error(
                        "E-PP-INCLUDE",
                        format!("included file `{name}` not found"),
                        name_span,
                    )
                    .with_label("not found in any include folder")
                    .with_note(format!("searched: {}", searched.join(", ")))
                    .with_help("add the folder that holds it with `-I <folder>`"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(files: &[(&str, &str)], defines: &[&str]) -> (Vec<String>, Vec<Diagnostic>) {
        let mut map = SourceMap::new();
        let ids: Vec<FileId> = files.iter().map(|(p, t)| map.add(*p, *t)).collect();
        let mut diags = Diagnostics::new();
        let options = PreprocessOptions {
            include_paths: vec![PathBuf::from("inc")],
            defines: defines.iter().map(|d| (*d).to_owned()).collect(),
        };
        let toks = preprocess(&mut map, &ids[..1], &options, &mut diags);
        let words = toks
            .iter()
            .filter_map(|t| match &t.kind {
                TokenKind::Ident { name, .. } => Some(name.clone()),
                TokenKind::Int(v) => Some(v.to_string()),
                TokenKind::PragmaKeylist { type_name, keys } => {
                    Some(format!("keylist {type_name} {keys:?}"))
                }
                _ => None,
            })
            .collect();
        (words, diags.into_sorted())
    }

    #[test]
    fn conditionals_and_defines() {
        let src = "#define A 3\n#if defined(A) && A > 2 || 0\nyes A\n#elif 1\nno\n#else\nno\n#endif\n\
                   #ifdef B\nno\n#endif\n#ifndef B\nb_not\n#endif\n#undef A\nA\n#if defined C\nc\n#endif\n\
                   #if defined(__IDLC__)\nidlc __IDLC__\n#endif\n";
        let (words, diags) = run(&[("a.idl", src)], &["C=5", "__IDLC__"]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(words, ["yes", "3", "b_not", "A", "c", "idlc", "1"]);
    }

    #[test]
    fn nested_skipped_regions_are_not_lexed_for_errors() {
        let src = "#if 0\n#if 1\n`bad' \n#endif\n#else\nok\n#endif\n";
        let (words, diags) = run(&[("a.idl", src)], &[]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(words, ["ok"]);
    }

    #[test]
    fn includes_guards_and_once() {
        let main =
            "#include \"b.idl\"\n#include \"b.idl\"\n#include <c.idl>\n#include <c.idl>\nend\n";
        let b = "#ifndef B\n#define B\nb\n#endif\n";
        let c = "#pragma once\nc\n";
        let (words, diags) = run(
            &[("dir/a.idl", main), ("dir/b.idl", b), ("inc/c.idl", c)],
            &[],
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(words, ["b", "c", "end"]);
    }

    #[test]
    fn errors_are_diagnostics() {
        let (_, diags) = run(
            &[("a.idl", "#include \"nope.idl\"\n#if 1\n#pragma foo\n")],
            &[],
        );
        let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            ["E-PP-INCLUDE", "E-PP-UNTERMINATED-IF", "W-UNKNOWN-PRAGMA"]
        );
        let (_, diags) = run(
            &[("a.idl", "#endif\n#if 1/0\n#endif\n#define F(x) x\n")],
            &[],
        );
        assert_eq!(diags.len(), 3, "{diags:?}");
    }

    #[test]
    fn keylist_is_kept_and_recursion_stops() {
        let (words, diags) = run(
            &[(
                "a.idl",
                "#pragma keylist a::T id\n#define X X Y\n#define Y X\nX\n",
            )],
            &[],
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(words, ["keylist a::T [\"id\"]", "X", "X"]);
    }
}
