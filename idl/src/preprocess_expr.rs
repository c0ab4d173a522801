//! Evaluation of `#if` expressions (after `defined` and macro replacement): integer
//! arithmetic, comparisons, logic and `?:`, as in C; leftover identifiers are `0`.

use crate::diagnostics::Diagnostic;
use crate::lexer::{Punct, Token, TokenKind};
use crate::source::Span;

/// Evaluates `tokens`; `at` locates errors when the expression is empty.
pub(crate) fn evaluate(tokens: &[Token], at: Span) -> Result<i64, ExprError> {
    let tokens: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t.kind, TokenKind::Comment(_)))
        .collect();
    let mut e = Eval {
        tokens: &tokens,
        pos: 0,
        at,
        depth: 0,
    };
    let v = e.ternary()?;
    match e.tokens.get(e.pos) {
        None => Ok(v),
        Some(t) => Err(e.error(t.span, "unexpected token in `#if` expression")),
    }
}

/// Why an `#if` expression could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExprError {
    /// Where.
    pub(crate) span: Span,
    /// What went wrong.
    pub(crate) message: &'static str,
}

impl ExprError {
    /// The diagnostic to report.
    pub(crate) fn into_diagnostic(self) -> Diagnostic {
        Diagnostic::error("E-PP-EXPR", self.message, self.span)
            .with_label("in this `#if` condition")
            .with_help("`#if` takes integers, `defined(NAME)`, `!`, `&&`, `||`, comparisons and arithmetic")
    }
}

struct Eval<'a> {
    tokens: &'a [&'a Token],
    pos: usize,
    at: Span,
    depth: u32,
}

fn binary_precedence(p: Punct) -> Option<u8> {
    use Punct::*;
    Some(match p {
        PipePipe => 1,
        AmpAmp => 2,
        Pipe => 3,
        Caret => 4,
        Amp => 5,
        EqEq | Ne => 6,
        Lt | Gt | Le | Ge => 7,
        Shl | Shr => 8,
        Plus | Minus => 9,
        Star | Slash | Percent => 10,
        _ => return None,
    })
}

impl Eval<'_> {
    fn error(&self, span: Span, message: &'static str) -> ExprError {
        ExprError { span, message }
    }

    fn peek_punct(&self) -> Option<Punct> {
        match self.tokens.get(self.pos).map(|t| &t.kind) {
            Some(TokenKind::Punct(p)) => Some(*p),
            _ => None,
        }
    }

    fn span_here(&self) -> Span {
        self.tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or(self.at, |t| t.span)
    }

    fn ternary(&mut self) -> Result<i64, ExprError> {
        let cond = self.binary(1)?;
        if self.peek_punct() == Some(Punct::Question) {
            self.pos += 1;
            let a = self.ternary()?;
            if self.peek_punct() != Some(Punct::Colon) {
                return Err(self.error(self.span_here(), "expected `:` in `#if` expression"));
            }
            self.pos += 1;
            let b = self.ternary()?;
            return Ok(if cond != 0 { a } else { b });
        }
        Ok(cond)
    }

    fn binary(&mut self, min: u8) -> Result<i64, ExprError> {
        let mut lhs = self.unary()?;
        while let Some(p) = self.peek_punct() {
            let Some(prec) = binary_precedence(p) else {
                break;
            };
            if prec < min {
                break;
            }
            let op_span = self.span_here();
            self.pos += 1;
            let rhs = self.binary(prec + 1)?;
            lhs = self.apply(p, lhs, rhs, op_span)?;
        }
        Ok(lhs)
    }

    fn apply(&self, p: Punct, a: i64, b: i64, span: Span) -> Result<i64, ExprError> {
        use Punct::*;
        let overflow = || self.error(span, "arithmetic overflow in `#if` expression");
        Ok(match p {
            PipePipe => i64::from(a != 0 || b != 0),
            AmpAmp => i64::from(a != 0 && b != 0),
            Pipe => a | b,
            Caret => a ^ b,
            Amp => a & b,
            EqEq => i64::from(a == b),
            Ne => i64::from(a != b),
            Lt => i64::from(a < b),
            Gt => i64::from(a > b),
            Le => i64::from(a <= b),
            Ge => i64::from(a >= b),
            Shl => u32::try_from(b)
                .ok()
                .and_then(|s| a.checked_shl(s))
                .ok_or_else(overflow)?,
            Shr => u32::try_from(b)
                .ok()
                .and_then(|s| a.checked_shr(s))
                .ok_or_else(overflow)?,
            Plus => a.checked_add(b).ok_or_else(overflow)?,
            Minus => a.checked_sub(b).ok_or_else(overflow)?,
            Star => a.checked_mul(b).ok_or_else(overflow)?,
            Slash | Percent if b == 0 => {
                return Err(self.error(span, "division by zero in `#if` expression"));
            }
            Slash => a.checked_div(b).ok_or_else(overflow)?,
            Percent => a.checked_rem(b).ok_or_else(overflow)?,
            _ => return Err(self.error(span, "unexpected operator in `#if` expression")),
        })
    }

    fn unary(&mut self) -> Result<i64, ExprError> {
        self.depth += 1;
        if self.depth > 200 {
            return Err(self.error(self.span_here(), "`#if` expression nested too deeply"));
        }
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<i64, ExprError> {
        let Some(tok) = self.tokens.get(self.pos) else {
            return Err(self.error(self.span_here(), "expected a value in `#if` expression"));
        };
        self.pos += 1;
        match &tok.kind {
            TokenKind::Int(v) => {
                i64::try_from(*v).map_err(|_| self.error(tok.span, "integer too large for `#if`"))
            }
            TokenKind::Char { value, .. } => Ok(i64::from(u32::from(*value))),
            TokenKind::Ident { name, .. } => Ok(i64::from(name == "true")),
            TokenKind::Punct(Punct::Bang) => Ok(i64::from(self.unary()? == 0)),
            TokenKind::Punct(Punct::Minus) => {
                let v = self.unary()?;
                v.checked_neg()
                    .ok_or_else(|| self.error(tok.span, "arithmetic overflow in `#if` expression"))
            }
            TokenKind::Punct(Punct::Plus) => self.unary(),
            TokenKind::Punct(Punct::Tilde) => Ok(!self.unary()?),
            TokenKind::Punct(Punct::LParen) => {
                let v = self.ternary()?;
                if self.peek_punct() != Some(Punct::RParen) {
                    return Err(self.error(self.span_here(), "expected `)` in `#if` expression"));
                }
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.error(tok.span, "expected a value in `#if` expression")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;
    use crate::source::FileId;

    fn eval(text: &str) -> Result<i64, ExprError> {
        let mut toks = lex(FileId(0), text);
        toks.pop();
        evaluate(&toks, Span::new(FileId(0), 0, 0))
    }

    #[test]
    fn arithmetic_and_logic() {
        assert_eq!(eval("1 + 2 * 3").ok(), Some(7));
        assert_eq!(eval("(1 + 2) * 3 == 9 && !0").ok(), Some(1));
        assert_eq!(eval("1 << 4 | 1").ok(), Some(17));
        assert_eq!(eval("FOO || -1 < 0 ? 5 : 6").ok(), Some(5));
        assert!(eval("1 / 0").is_err());
        assert!(eval("(1").is_err());
        assert!(eval("").is_err());
        assert!(eval("1 2").is_err());
    }
}
