//! Definitions at file and module level: modules, typedefs, constants, annotation
//! declarations, `#pragma keylist`, and the unsupported constructs (reported once, skipped).

use super::keywords::UNSUPPORTED_DEFINITIONS;
use super::{IdentUse, PResult, Parser, Reported};
use crate::ast::{
    AnnotationDecl, AnnotationMember, Attributes, ConstDef, Definition, DefinitionKind, Keylist,
    Module, TypeKind, TypeSpec, Typedef, Unsupported,
};
use crate::diagnostics::Diagnostic;
use crate::lexer::{Punct, TokenKind};
use crate::source::Span;

/// Keywords that start a supported definition, for "expected one of".
const DEFINITION_STARTS: &[&str] = &[
    "module",
    "struct",
    "union",
    "enum",
    "bitmask",
    "bitset",
    "typedef",
    "const",
    "@annotation",
];

impl Parser<'_> {
    /// Definitions until `}` (when `in_braces`) or the end of input.
    pub(super) fn definitions_until_end(&mut self, in_braces: bool) -> Vec<Definition> {
        let mut list = Vec::new();
        loop {
            if self.at_eof() || (in_braces && self.tok().is(Punct::RBrace)) {
                break;
            }
            if !in_braces && self.tok().is(Punct::RBrace) {
                let span = self.span();
                self.diags.push(
                    Diagnostic::error("E-SYNTAX", "unexpected `}` with no open block", span)
                        .with_label("unmatched closing brace")
                        .with_help("remove the `}`, or add the `{` it closes"),
                );
                self.bump();
                continue;
            }
            if self.tok().is(Punct::Semi) {
                // A stray `;` (e.g. `};;`) is harmless.
                self.bump();
                continue;
            }
            let before = self.pos;
            match self.definition() {
                Ok(def) => list.push(def),
                Err(Reported) => {
                    self.recover(before);
                    if self.pos == before {
                        self.bump();
                    }
                }
            }
        }
        list
    }

    fn definition(&mut self) -> PResult<Definition> {
        if let TokenKind::PragmaKeylist { type_name, keys } = &self.tok().kind {
            let kind = DefinitionKind::Keylist(Keylist {
                type_name: type_name.clone(),
                keys: keys.clone(),
            });
            let span = self.bump().span;
            return Ok(Definition {
                attrs: Attributes::default(),
                kind,
                span,
            });
        }
        let start = self.span();
        let attrs = self.attributes();
        self.nested(|p| p.definition_body(attrs, start))
    }

    fn definition_body(&mut self, attrs: Attributes, start: Span) -> PResult<Definition> {
        if self.at_annotation_decl() {
            let kind = self.annotation_decl()?;
            return self.finish_definition(attrs, kind, start);
        }
        let word = match &self.tok().kind {
            TokenKind::Ident {
                name,
                escaped: false,
            } => name.clone(),
            _ => String::new(),
        };
        let kind = match word.as_str() {
            "module" => match self.module()? {
                // A template module was reported and skipped, `;` included.
                kind @ DefinitionKind::Unsupported(_) => {
                    return Ok(Definition {
                        attrs,
                        kind,
                        span: start.to(self.prev_span()),
                    });
                }
                kind => kind,
            },
            "struct" => self.struct_def()?,
            "union" => self.union_def()?,
            "enum" => self.enum_def()?,
            "bitmask" => self.bitmask_def()?,
            "bitset" => self.bitset_def()?,
            "typedef" => self.typedef()?,
            "const" => self.const_def()?,
            w if UNSUPPORTED_DEFINITIONS.contains(&w) => {
                let kind = self.unsupported(w)?;
                let span = start.to(self.prev_span());
                return Ok(Definition { attrs, kind, span });
            }
            _ => {
                self.expected
                    .extend(DEFINITION_STARTS.iter().map(|s| format!("`{s}`")));
                if let Some(mut diag) = self.unexpected_diag() {
                    if let Some(suggestion) = closest_keyword(&word) {
                        diag = diag.with_label(format!("did you mean `{suggestion}`?"));
                    }
                    self.diags.push(diag);
                }
                return Err(Reported);
            }
        };
        self.finish_definition(attrs, kind, start)
    }

    /// The `;` after a definition. Its absence is reported, but parsing goes on.
    fn finish_definition(
        &mut self,
        attrs: Attributes,
        kind: DefinitionKind,
        start: Span,
    ) -> PResult<Definition> {
        let span = start.to(self.prev_span());
        if !self.eat(Punct::Semi) && !matches!(self.tok().kind, TokenKind::Error(_)) {
            let at = self.prev_span().end();
            let found = Self::describe(self.tok());
            self.diags.push(
                Diagnostic::error(
                    "E-SYNTAX",
                    format!("expected `;` after the definition, found {found}"),
                    at,
                )
                .with_label("add `;` here")
                .with_help("every definition ends with `;`, also after `}`"),
            );
            self.expected.clear();
        }
        Ok(Definition { attrs, kind, span })
    }

    fn module(&mut self) -> PResult<DefinitionKind> {
        let keyword = self.expect_word("module")?;
        let name = self.ident(IdentUse::Declaration)?;
        if self.tok().is(Punct::Lt) || self.tok().is(Punct::Eq) {
            // A template module (`module M<typename T> {...}`) or its instantiation.
            self.report_unsupported("template module", keyword.to(name.span));
            self.skip_unsupported();
            return Ok(DefinitionKind::Unsupported(Unsupported {
                keyword: "module".into(),
                name: Some(name),
            }));
        }
        self.expect(Punct::LBrace)?;
        let definitions = self.definitions_until_end(true);
        self.expect(Punct::RBrace)?;
        Ok(DefinitionKind::Module(Module { name, definitions }))
    }

    fn typedef(&mut self) -> PResult<DefinitionKind> {
        self.expect_word("typedef")?;
        let start = self.span();
        let attrs = self.attributes();
        let constructed = ["struct", "union", "enum", "bitmask", "bitset"]
            .iter()
            .any(|w| self.tok().is_word(w));
        let ty = if constructed {
            // `typedef struct S { ... } T;` declares S and names it T too.
            let kind = match self.tok().ident().unwrap_or_default() {
                "struct" => self.struct_def()?,
                "union" => self.union_def()?,
                "enum" => self.enum_def()?,
                "bitmask" => self.bitmask_def()?,
                _ => self.bitset_def()?,
            };
            let span = start.to(self.prev_span());
            let def = Definition { attrs, kind, span };
            TypeSpec {
                kind: TypeKind::Inline(Box::new(def)),
                annotations: Vec::new(),
                span,
            }
        } else {
            let mut ty = self.type_spec()?;
            ty.annotations = attrs.annotations;
            ty
        };
        let declarators = self.declarators()?;
        Ok(DefinitionKind::Typedef(Typedef { ty, declarators }))
    }

    fn const_def(&mut self) -> PResult<DefinitionKind> {
        self.expect_word("const")?;
        let ty = self.type_spec()?;
        let name = self.ident(IdentUse::Declaration)?;
        self.expect(Punct::Eq)?;
        let value = self.const_expr()?;
        Ok(DefinitionKind::Const(ConstDef { ty, name, value }))
    }

    fn annotation_decl(&mut self) -> PResult<DefinitionKind> {
        self.expect(Punct::At)?;
        self.expect_word("annotation")?;
        let name = self.ident(IdentUse::Member)?;
        self.expect(Punct::LBrace)?;
        let mut members = Vec::new();
        let mut definitions = Vec::new();
        while !self.at_eof() && !self.check(Punct::RBrace) {
            let before = self.pos;
            let result = if ["enum", "const", "typedef"]
                .iter()
                .any(|w| self.tok().is_word(w))
            {
                self.definition().map(|d| definitions.push(d))
            } else {
                self.annotation_member().map(|m| members.push(m))
            };
            if result.is_err() {
                self.recover(before);
                if self.pos == before {
                    self.bump();
                }
            }
        }
        self.expect(Punct::RBrace)?;
        Ok(DefinitionKind::AnnotationDecl(AnnotationDecl {
            name,
            members,
            definitions,
        }))
    }

    fn annotation_member(&mut self) -> PResult<AnnotationMember> {
        let start = self.span();
        let ty = self.type_spec()?;
        let name = self.ident(IdentUse::Member)?;
        let default = if self.eat_word("default") {
            Some(self.const_expr()?)
        } else {
            None
        };
        self.expect(Punct::Semi)?;
        Ok(AnnotationMember {
            ty,
            name,
            default,
            span: start.to(self.prev_span()),
        })
    }

    /// `interface`, `valuetype`, `exception`, ...: one diagnostic, then skip the construct.
    fn unsupported(&mut self, keyword: &str) -> PResult<DefinitionKind> {
        let start = self.bump().span;
        // `abstract interface`, `local interface`, `custom valuetype`, `abstract valuetype`.
        let mut what = keyword.to_owned();
        if let Some(next) = self
            .tok()
            .ident()
            .filter(|_| matches!(keyword, "abstract" | "local" | "custom"))
        {
            what = format!("{keyword} {next}");
            self.bump();
        }
        let name = match &self.tok().kind {
            TokenKind::Ident { name, .. } => {
                let span = self.span();
                Some(crate::ast::Ident {
                    name: name.clone(),
                    span,
                })
            }
            _ => None,
        };
        let span = name.as_ref().map_or(start, |n| start.to(n.span));
        self.report_unsupported(&what, span);
        self.skip_unsupported();
        Ok(DefinitionKind::Unsupported(Unsupported {
            keyword: what,
            name,
        }))
    }

    fn report_unsupported(&mut self, what: &str, span: Span) {
        self.diags.push(
            Diagnostic::error(
                "E-UNSUPPORTED",
                "only data types can become fixed-layout messages",
                span,
            )
            .with_label(format!("`{what}` is not a data type"))
            .with_note(
                "shmbus compiles structs, unions, enums, bitmasks, bitsets, typedefs and constants",
            )
            .with_help(format!(
                "keep `{what}` declarations in IDL files that only your DDS/CORBA tools read"
            )),
        );
    }

    /// Skips to the end of an unsupported construct: through a balanced `{ ... }` and the
    /// following `;`, or through the next `;`.
    fn skip_unsupported(&mut self) {
        let mut depth = 0u32;
        while !self.at_eof() {
            if self.tok().is(Punct::LBrace) {
                depth += 1;
            } else if self.tok().is(Punct::RBrace) {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                if depth == 0 {
                    self.bump();
                    self.eat(Punct::Semi);
                    break;
                }
            } else if self.tok().is(Punct::Semi) && depth == 0 {
                self.bump();
                break;
            }
            self.bump();
        }
        self.expected.clear();
    }
}

/// A definition keyword within two edits of `word` (for "did you mean").
fn closest_keyword(word: &str) -> Option<&'static str> {
    if word.is_empty() {
        return None;
    }
    DEFINITION_STARTS
        .iter()
        .filter(|k| !k.starts_with('@'))
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance (with adjacent transpositions counted as one edit).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(closest_keyword("strcut"), Some("struct"));
        assert_eq!(closest_keyword("modul"), Some("module"));
        assert_eq!(closest_keyword("banana"), None);
    }
}
