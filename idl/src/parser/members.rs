//! Constructed types and their bodies: structs, unions, enums, bitmasks and bitsets.

use super::{IdentUse, PResult, Parser};
use crate::ast::{
    Bitfield, BitmaskDef, BitsetDef, CaseLabel, DefinitionKind, EnumDef, Enumerator, Member,
    StructDef, UnionCase, UnionDef,
};
use crate::lexer::Punct;

impl Parser<'_> {
    /// Parses `item` repeatedly until `}`, recovering after each broken item.
    fn body<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        self.expect(Punct::LBrace)?;
        let mut items = Vec::new();
        while !self.at_eof() && !self.check(Punct::RBrace) {
            let before = self.pos;
            match item(self) {
                Ok(x) => items.push(x),
                Err(_) => {
                    self.recover(before);
                    if self.pos == before {
                        self.bump();
                    }
                }
            }
        }
        self.expect(Punct::RBrace)?;
        Ok(items)
    }

    pub(super) fn struct_def(&mut self) -> PResult<DefinitionKind> {
        self.expect_word("struct")?;
        let name = self.ident(IdentUse::Declaration)?;
        if self.check(Punct::Semi) {
            return Ok(DefinitionKind::StructForward(name));
        }
        let base = if self.eat(Punct::Colon) {
            Some(self.scoped_name(IdentUse::Declaration)?)
        } else {
            None
        };
        let members = self.body(Self::member)?;
        Ok(DefinitionKind::Struct(StructDef {
            name,
            base,
            members,
        }))
    }

    fn member(&mut self) -> PResult<Member> {
        let start = self.span();
        let attrs = self.attributes();
        let ty = self.type_spec()?;
        let declarators = self.declarators()?;
        self.expect(Punct::Semi)?;
        Ok(Member {
            attrs,
            ty,
            declarators,
            span: start.to(self.prev_span()),
        })
    }

    pub(super) fn union_def(&mut self) -> PResult<DefinitionKind> {
        self.expect_word("union")?;
        let name = self.ident(IdentUse::Declaration)?;
        if self.check(Punct::Semi) {
            return Ok(DefinitionKind::UnionForward(name));
        }
        self.expect_word("switch")?;
        self.expect(Punct::LParen)?;
        let discriminator_attrs = self.attributes();
        let discriminator = self.type_spec()?;
        self.expect(Punct::RParen)?;
        let cases = self.body(Self::union_case)?;
        Ok(DefinitionKind::Union(UnionDef {
            name,
            discriminator_attrs,
            discriminator,
            cases,
        }))
    }

    fn union_case(&mut self) -> PResult<UnionCase> {
        let start = self.span();
        let mut attrs = self.attributes();
        let mut labels = Vec::new();
        loop {
            if self.eat_word("case") {
                labels.push(CaseLabel::Value(self.const_expr()?));
                self.expect(Punct::Colon)?;
            } else if self.check_word("default") {
                let span = self.bump().span;
                labels.push(CaseLabel::Default(span));
                self.expect(Punct::Colon)?;
            } else {
                break;
            }
        }
        if labels.is_empty() {
            return Err(self.unexpected());
        }
        let more = self.attributes();
        attrs.annotations.extend(more.annotations);
        attrs.doc.extend(more.doc);
        let ty = self.type_spec()?;
        let declarator = self.declarator()?;
        self.expect(Punct::Semi)?;
        Ok(UnionCase {
            labels,
            attrs,
            ty,
            declarator,
            span: start.to(self.prev_span()),
        })
    }

    /// `A, @value(3) B, C` up to the closing brace (a trailing comma is tolerated).
    fn enumerators(&mut self) -> PResult<Vec<Enumerator>> {
        self.expect(Punct::LBrace)?;
        let mut list = Vec::new();
        while !self.check(Punct::RBrace) {
            let attrs = self.attributes();
            let name = self.ident(IdentUse::Member)?;
            list.push(Enumerator { attrs, name });
            if !self.eat(Punct::Comma) {
                break;
            }
        }
        self.expect(Punct::RBrace)?;
        Ok(list)
    }

    pub(super) fn enum_def(&mut self) -> PResult<DefinitionKind> {
        self.expect_word("enum")?;
        let name = self.ident(IdentUse::Declaration)?;
        let enumerators = self.enumerators()?;
        Ok(DefinitionKind::Enum(EnumDef { name, enumerators }))
    }

    pub(super) fn bitmask_def(&mut self) -> PResult<DefinitionKind> {
        self.expect_word("bitmask")?;
        let name = self.ident(IdentUse::Declaration)?;
        let values = self.enumerators()?;
        Ok(DefinitionKind::Bitmask(BitmaskDef { name, values }))
    }

    pub(super) fn bitset_def(&mut self) -> PResult<DefinitionKind> {
        self.expect_word("bitset")?;
        let name = self.ident(IdentUse::Declaration)?;
        let base = if self.eat(Punct::Colon) {
            Some(self.scoped_name(IdentUse::Declaration)?)
        } else {
            None
        };
        let fields = self.body(Self::bitfield)?;
        Ok(DefinitionKind::Bitset(BitsetDef { name, base, fields }))
    }

    fn bitfield(&mut self) -> PResult<Bitfield> {
        let start = self.span();
        let attrs = self.attributes();
        self.expect_word("bitfield")?;
        self.expect(Punct::Lt)?;
        let width = self.with_template(true, Self::const_expr)?;
        let ty = if self.eat(Punct::Comma) {
            Some(self.type_spec()?)
        } else {
            None
        };
        self.expect(Punct::Gt)?;
        let mut names = Vec::new();
        if !self.check(Punct::Semi) {
            names.push(self.ident(IdentUse::Member)?);
            while self.eat(Punct::Comma) {
                names.push(self.ident(IdentUse::Member)?);
            }
        }
        self.expect(Punct::Semi)?;
        Ok(Bitfield {
            attrs,
            width,
            ty,
            names,
            span: start.to(self.prev_span()),
        })
    }
}
