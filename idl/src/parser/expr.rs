//! Constant expressions, kept as trees (evaluation is a later step).

use super::{IdentUse, PResult, Parser};
use crate::ast::{BinaryOp, ConstExpr, ExprKind, Literal, UnaryOp};
use crate::lexer::{Punct, TokenKind};

/// Binary operators by binding strength: `|` < `^` < `&` < shifts < additive < multiplicative.
const LEVELS: &[&[(Punct, BinaryOp)]] = &[
    &[(Punct::Pipe, BinaryOp::Or)],
    &[(Punct::Caret, BinaryOp::Xor)],
    &[(Punct::Amp, BinaryOp::And)],
    &[(Punct::Shl, BinaryOp::Shl), (Punct::Shr, BinaryOp::Shr)],
    &[(Punct::Plus, BinaryOp::Add), (Punct::Minus, BinaryOp::Sub)],
    &[
        (Punct::Star, BinaryOp::Mul),
        (Punct::Slash, BinaryOp::Div),
        (Punct::Percent, BinaryOp::Rem),
    ],
];

impl Parser<'_> {
    /// A constant expression.
    pub(super) fn const_expr(&mut self) -> PResult<ConstExpr> {
        self.nested(|p| p.binary(0))
    }

    fn binary(&mut self, level: usize) -> PResult<ConstExpr> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut lhs = self.binary(level + 1)?;
        loop {
            let in_template = self.in_template;
            let usable = |p: Punct| !(in_template && p == Punct::Shr);
            // Operators are not listed in "expected one of": they would drown the useful part.
            let Some(&(_, op)) = ops.iter().find(|(p, _)| usable(*p) && self.tok().is(*p)) else {
                break;
            };
            self.bump();
            let rhs = self.binary(level + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = ConstExpr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<ConstExpr> {
        let op = if self.tok().is(Punct::Minus) {
            Some(UnaryOp::Neg)
        } else if self.tok().is(Punct::Plus) {
            Some(UnaryOp::Plus)
        } else if self.tok().is(Punct::Tilde) {
            Some(UnaryOp::BitNot)
        } else {
            None
        };
        let Some(op) = op else {
            return self.primary();
        };
        let start = self.bump().span;
        let operand = self.nested(Self::unary)?;
        let span = start.to(operand.span);
        Ok(ConstExpr {
            kind: ExprKind::Unary(op, Box::new(operand)),
            span,
        })
    }

    fn primary(&mut self) -> PResult<ConstExpr> {
        let tok = self.tok().clone();
        let literal = match &tok.kind {
            TokenKind::Int(v) => Some(Literal::Integer(*v)),
            TokenKind::Float(t) => Some(Literal::Float(t.clone())),
            TokenKind::Fixed(t) => Some(Literal::Fixed(t.clone())),
            TokenKind::Char { value, wide } => Some(Literal::Char {
                value: *value,
                wide: *wide,
            }),
            TokenKind::Ident {
                name,
                escaped: false,
            } if name == "TRUE" => Some(Literal::Boolean(true)),
            TokenKind::Ident {
                name,
                escaped: false,
            } if name == "FALSE" => Some(Literal::Boolean(false)),
            _ => None,
        };
        if let Some(literal) = literal {
            self.bump();
            return Ok(ConstExpr {
                kind: ExprKind::Literal(literal),
                span: tok.span,
            });
        }
        if let TokenKind::Str { wide, .. } = tok.kind {
            // Adjacent string literals are one literal.
            let mut text = String::new();
            let mut span = tok.span;
            while let TokenKind::Str { value, .. } = &self.tok().kind {
                text.push_str(value);
                span = span.to(self.tok().span);
                self.bump();
            }
            return Ok(ConstExpr {
                kind: ExprKind::Literal(Literal::String { value: text, wide }),
                span,
            });
        }
        if tok.is(Punct::LParen) {
            self.bump();
            let inner = self.with_template(false, Self::const_expr)?;
            self.expect(Punct::RParen)?;
            return Ok(inner);
        }
        if let TokenKind::Error(_) = tok.kind {
            self.bump();
            return Ok(ConstExpr {
                kind: ExprKind::Invalid,
                span: tok.span,
            });
        }
        let keyword = matches!(&tok.kind, TokenKind::Ident { name, escaped: false }
            if self.is_reserved(name, IdentUse::Declaration));
        if !keyword && (matches!(tok.kind, TokenKind::Ident { .. }) || tok.is(Punct::ColonColon)) {
            let name = self.scoped_name(IdentUse::Member)?;
            let span = name.span;
            return Ok(ConstExpr {
                kind: ExprKind::Name(name),
                span,
            });
        }
        self.expected.push("expression".to_owned());
        Err(self.unexpected())
    }
}
