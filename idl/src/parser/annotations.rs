//! Applied annotations (`@key`, `@id(3)`, `@range(min = 0, max = 5)`) and the attributes
//! (annotations + doc comments) in front of declarations.

use super::{IdentUse, PResult, Parser};
use crate::ast::{Annotation, AnnotationParams, Attributes, ScopedName};
use crate::lexer::{Punct, TokenKind};

impl Parser<'_> {
    /// Whether the next tokens start an annotation declaration (`@annotation name {`).
    pub(super) fn at_annotation_decl(&self) -> bool {
        self.tok().is(Punct::At)
            && self.nth(1).is_word("annotation")
            && self.nth(2).ident().is_some()
    }

    /// Doc comments and annotations in front of a declaration. Stops before `@annotation`
    /// declarations. A broken annotation is reported and skipped.
    pub(super) fn attributes(&mut self) -> Attributes {
        let mut attrs = Attributes {
            annotations: Vec::new(),
            doc: self.take_doc(),
        };
        while self.check(Punct::At) && !self.at_annotation_decl() {
            let before = self.pos;
            match self.annotation() {
                Ok(a) => attrs.annotations.push(a),
                Err(_) => {
                    self.skip_annotation_rest();
                    if self.pos == before {
                        self.bump();
                    }
                }
            }
            let more = self.take_doc();
            attrs.doc.extend(more);
        }
        attrs
    }

    fn annotation(&mut self) -> PResult<Annotation> {
        let start = self.expect(Punct::At)?;
        let name = self.annotation_name()?;
        if !self.tok().is(Punct::LParen) {
            let span = start.to(name.span);
            return Ok(Annotation {
                name,
                params: AnnotationParams::None,
                span,
            });
        }
        self.bump();
        if self.tok().is(Punct::RParen) {
            let end = self.bump().span;
            return Ok(Annotation {
                name,
                params: AnnotationParams::None,
                span: start.to(end),
            });
        }
        let named = matches!(self.tok().kind, TokenKind::Ident { .. }) && self.nth(1).is(Punct::Eq);
        let params = if named {
            let mut list = Vec::new();
            loop {
                let key = self.ident(IdentUse::Annotation)?;
                self.expect(Punct::Eq)?;
                let value = self.const_expr()?;
                list.push((key, value));
                if !self.eat(Punct::Comma) {
                    break;
                }
            }
            AnnotationParams::Named(list)
        } else {
            AnnotationParams::Single(self.const_expr()?)
        };
        let end = self.expect(Punct::RParen)?;
        Ok(Annotation {
            name,
            params,
            span: start.to(end),
        })
    }

    /// The annotation's name. `::` continues the name only when written without spaces, so
    /// `@key ::a::T x;` is `@key` on a member of type `::a::T` (the grammar is ambiguous).
    fn annotation_name(&mut self) -> PResult<ScopedName> {
        let start = self.span();
        let absolute =
            self.tok().is(Punct::ColonColon) && self.tok().span.lo == self.prev_span().hi;
        if absolute {
            self.bump();
        }
        let mut parts = vec![self.ident(IdentUse::Annotation)?];
        while self.tok().is(Punct::ColonColon)
            && self.tok().span.lo == self.prev_span().hi
            && self.nth(1).span.lo == self.tok().span.hi
        {
            self.bump();
            parts.push(self.ident(IdentUse::Annotation)?);
        }
        let end = self.prev_span();
        Ok(ScopedName {
            absolute,
            parts,
            span: start.to(end),
        })
    }

    /// After a broken annotation: skip a parenthesised argument list if we are inside one.
    fn skip_annotation_rest(&mut self) {
        let mut depth = 0u32;
        let start = self.pos;
        // Walk back to see whether we are inside `(`: count parens since the `@`.
        let at = (0..start)
            .rev()
            .find(|&i| self.tokens[i].is(Punct::At))
            .unwrap_or(start);
        for t in &self.tokens[at..start] {
            if t.is(Punct::LParen) {
                depth += 1;
            } else if t.is(Punct::RParen) {
                depth = depth.saturating_sub(1);
            }
        }
        while depth > 0
            && !self.at_eof()
            && !self.tok().is(Punct::Semi)
            && !self.tok().is(Punct::RBrace)
        {
            if self.tok().is(Punct::LParen) {
                depth += 1;
            } else if self.tok().is(Punct::RParen) {
                depth -= 1;
            }
            self.bump();
        }
        self.expected.clear();
    }
}
