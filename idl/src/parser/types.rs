//! Type specifications, scoped names and declarators.

use super::{IdentUse, PResult, Parser};
use crate::ast::{ConstExpr, Declarator, Primitive, ScopedName, TypeKind, TypeSpec};
use crate::diagnostics::Diagnostic;
use crate::lexer::{Punct, TokenKind};
use crate::source::Span;

/// Types that parse but cannot be fixed-layout data.
const UNSUPPORTED_TYPES: &[&str] = &["any", "fixed", "Object", "ValueBase"];

impl Parser<'_> {
    /// `a::b::C` or `::a::C`.
    pub(super) fn scoped_name(&mut self, usage: IdentUse) -> PResult<ScopedName> {
        let start = self.span();
        let absolute = self.eat(Punct::ColonColon);
        let mut parts = vec![self.ident(usage)?];
        while self.tok().is(Punct::ColonColon) {
            self.bump();
            parts.push(self.ident(usage)?);
        }
        let end = parts.last().map_or(start, |p| p.span);
        Ok(ScopedName {
            absolute,
            parts,
            span: start.to(end),
        })
    }

    /// Whether the current token can start a type.
    pub(super) fn at_type_start(&self) -> bool {
        matches!(self.tok().kind, TokenKind::Ident { .. }) || self.tok().is(Punct::ColonColon)
    }

    /// A type specification.
    pub(super) fn type_spec(&mut self) -> PResult<TypeSpec> {
        self.nested(Self::type_spec_inner)
    }

    /// A type argument of `sequence<...>`/`map<...>`, which may carry annotations
    /// (`sequence<@try_construct(USE_DEFAULT) E, 3>`).
    fn type_argument(&mut self) -> PResult<TypeSpec> {
        let attrs = self.attributes();
        let mut ty = self.type_spec()?;
        ty.annotations = attrs.annotations;
        Ok(ty)
    }

    fn type_spec_inner(&mut self) -> PResult<TypeSpec> {
        let start = self.span();
        let word = match &self.tok().kind {
            TokenKind::Ident {
                name,
                escaped: false,
            } => Some(name.clone()),
            _ => None,
        };
        if let Some(word) = word.as_deref() {
            if let Some(kind) = self.primitive(word) {
                let span = start.to(self.prev_span());
                return Ok(TypeSpec {
                    kind: TypeKind::Primitive(kind),
                    span,
                    annotations: Vec::new(),
                });
            }
            match word {
                "string" | "wstring" => {
                    self.bump();
                    let bound = self.optional_bound()?;
                    let kind = TypeKind::String {
                        wide: word == "wstring",
                        bound,
                    };
                    return Ok(TypeSpec {
                        kind,
                        span: start.to(self.prev_span()),
                        annotations: Vec::new(),
                    });
                }
                "sequence" => {
                    self.bump();
                    self.expect(Punct::Lt)?;
                    let element = Box::new(self.type_argument()?);
                    let bound = self.template_bound()?;
                    self.expect(Punct::Gt)?;
                    let kind = TypeKind::Sequence { element, bound };
                    return Ok(TypeSpec {
                        kind,
                        span: start.to(self.prev_span()),
                        annotations: Vec::new(),
                    });
                }
                "map" if self.nth(1).is(Punct::Lt) => {
                    self.bump();
                    self.bump();
                    let key = Box::new(self.type_argument()?);
                    self.expect(Punct::Comma)?;
                    let value = Box::new(self.type_argument()?);
                    let bound = self.template_bound()?;
                    self.expect(Punct::Gt)?;
                    let kind = TypeKind::Map { key, value, bound };
                    return Ok(TypeSpec {
                        kind,
                        span: start.to(self.prev_span()),
                        annotations: Vec::new(),
                    });
                }
                w if UNSUPPORTED_TYPES.contains(&w) => {
                    self.bump();
                    if w == "fixed" && self.tok().is(Punct::Lt) {
                        self.bump();
                        self.with_template(true, Self::const_expr)?;
                        self.expect(Punct::Comma)?;
                        self.with_template(true, Self::const_expr)?;
                        self.expect(Punct::Gt)?;
                    }
                    let span = start.to(self.prev_span());
                    self.report_unsupported_type(w, span);
                    return Ok(TypeSpec {
                        kind: TypeKind::Unsupported(w.to_owned()),
                        span,
                        annotations: Vec::new(),
                    });
                }
                _ => {}
            }
        }
        if !self.at_type_start() {
            self.expected.push("type".to_owned());
            return Err(self.unexpected());
        }
        let name = self.scoped_name(IdentUse::Declaration)?;
        let span = name.span;
        Ok(TypeSpec {
            kind: TypeKind::Named(name),
            span,
            annotations: Vec::new(),
        })
    }

    fn report_unsupported_type(&mut self, word: &str, span: Span) {
        let help = match word {
            "fixed" => "use an integer type with an agreed scale, or `double`",
            _ => "use a concrete data type (a struct, union or primitive) instead",
        };
        self.diags.push(
            Diagnostic::error(
                "E-UNSUPPORTED",
                "only data types can become fixed-layout messages",
                span,
            )
            .with_label(format!("`{word}` has no fixed layout"))
            .with_help(help),
        );
    }

    /// `<N>` after `string`/`wstring`, if present.
    fn optional_bound(&mut self) -> PResult<Option<Box<ConstExpr>>> {
        if !self.eat(Punct::Lt) {
            return Ok(None);
        }
        let bound = self.with_template(true, Self::const_expr)?;
        self.expect(Punct::Gt)?;
        Ok(Some(Box::new(bound)))
    }

    /// `, N` before the closing `>` of `sequence`/`map`, if present.
    fn template_bound(&mut self) -> PResult<Option<Box<ConstExpr>>> {
        if !self.eat(Punct::Comma) {
            return Ok(None);
        }
        Ok(Some(Box::new(self.with_template(true, Self::const_expr)?)))
    }

    /// Whether the token after the current one ends a declarator list (so the current word
    /// is a member name, not the start of a two-word type).
    fn next_ends_declarator(&self, n: usize) -> bool {
        let t = self.nth(n);
        t.is(Punct::Semi) || t.is(Punct::LBracket)
    }

    /// Consumes a primitive type spelled at the cursor, if any.
    fn primitive(&mut self, word: &str) -> Option<Primitive> {
        use Primitive::*;
        let simple = match word {
            "short" | "int16" => Some(Short),
            "int32" => Some(Long),
            "int64" => Some(LongLong),
            "int8" => Some(Int8),
            "uint8" => Some(UInt8),
            "uint16" => Some(UShort),
            "uint32" => Some(ULong),
            "uint64" => Some(ULongLong),
            "float" => Some(Float),
            "double" => Some(Double),
            "char" => Some(Char),
            "wchar" => Some(WChar),
            "octet" => Some(Octet),
            "boolean" => Some(Boolean),
            _ => None,
        };
        if simple.is_some() {
            self.bump();
            return simple;
        }
        match word {
            "long" => {
                self.bump();
                if self.tok().is_word("long") && !self.next_ends_declarator(1) {
                    self.bump();
                    Some(LongLong)
                } else if self.tok().is_word("double") && !self.next_ends_declarator(1) {
                    self.bump();
                    Some(LongDouble)
                } else {
                    Some(Long)
                }
            }
            "unsigned" => {
                let next = self.nth(1).clone();
                if next.is_word("short") {
                    self.bump();
                    self.bump();
                    Some(UShort)
                } else if next.is_word("long") {
                    self.bump();
                    self.bump();
                    if self.tok().is_word("long") && !self.next_ends_declarator(1) {
                        self.bump();
                        Some(ULongLong)
                    } else {
                        Some(ULong)
                    }
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// A declarator: a name and optional array dimensions.
    pub(super) fn declarator(&mut self) -> PResult<Declarator> {
        let name = self.ident(IdentUse::Member)?;
        let mut array = Vec::new();
        while self.eat(Punct::LBracket) {
            array.push(self.const_expr()?);
            self.expect(Punct::RBracket)?;
        }
        let span = name.span.to(self.prev_span());
        Ok(Declarator { name, array, span })
    }

    /// One or more comma-separated declarators.
    pub(super) fn declarators(&mut self) -> PResult<Vec<Declarator>> {
        let mut list = vec![self.declarator()?];
        while self.eat(Punct::Comma) {
            list.push(self.declarator()?);
        }
        Ok(list)
    }
}
