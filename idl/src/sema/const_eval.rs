//! Constant expressions: evaluation and conversion to a declared type.
//!
//! Integers are evaluated exactly (in `i128`); every intermediate result must lie in the
//! range of `long long` or `unsigned long long` (IDL's widest types), otherwise it is
//! `E-CONST-OVERFLOW`. `~` complements in the width of the expected type (`~0` is
//! `0xFFFF` for an `unsigned short`). Division or remainder by zero is
//! `E-CONST-DIV-ZERO`. Integers mix with floats by becoming floats; strings, characters
//! and booleans take no operators. The final value must fit the declared type
//! (`E-CONST-TYPE`), and a `char` constant needs a character literal, not an integer.

use super::{DeclId, DeclKind, ScopeId, Sema, State, Symbol};
use crate::ast::{BinaryOp, ConstExpr, ExprKind, Literal, UnaryOp};
use crate::diagnostics::Diagnostic;
use crate::hir::{self, ConstValue, IntRepr, Primitive, Type};
use crate::source::Span;

/// An evaluated value before conversion to a declared type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Int(i128),
    Float(f64),
    Bool(bool),
    Char(char),
    WChar(char),
    Str(String),
    WStr(String),
    /// An enumerator (or a bitmask flag, `value` being its position).
    Enum {
        decl: DeclId,
        index: usize,
        value: i64,
    },
    /// A fixed-point literal such as `8.7d` (no fixed type is supported; it converts to
    /// floating-point types).
    Fixed(f64),
}

impl Val {
    /// "the integer 300", for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Val::Int(v) => format!("the integer {v}"),
            Val::Float(v) => format!("the floating-point number {v}"),
            Val::Bool(b) => format!("the boolean {}", if *b { "TRUE" } else { "FALSE" }),
            Val::Char(c) => format!("the character {c:?}"),
            Val::WChar(c) => format!("the wide character {c:?}"),
            Val::Str(s) => format!("the string {s:?}"),
            Val::WStr(s) => format!("the wide string {s:?}"),
            Val::Enum { .. } => "an enumerator".to_owned(),
            Val::Fixed(v) => format!("the fixed-point number {v}d"),
        }
    }
}

const MIN: i128 = i64::MIN as i128;
const MAX: i128 = u64::MAX as i128;

impl<'a> Sema<'a> {
    /// Evaluates `expr` in `scope`. `int_ty` is the integer type the value is for (it gives
    /// `~` its width). Problems are reported; `None` means "already reported".
    pub(crate) fn eval(
        &mut self,
        expr: &ConstExpr,
        scope: ScopeId,
        int_ty: Option<IntRepr>,
    ) -> Option<Val> {
        self.eval_depth(expr, scope, int_ty, 0)
    }

    fn eval_depth(
        &mut self,
        expr: &ConstExpr,
        scope: ScopeId,
        int_ty: Option<IntRepr>,
        depth: u32,
    ) -> Option<Val> {
        if depth > 256 {
            self.error(
                Diagnostic::error(
                    "E-CONST-OVERFLOW",
                    "this constant expression nests too deeply",
                    expr.span,
                )
                .with_help("split it into several named constants"),
            );
            return None;
        }
        match &expr.kind {
            ExprKind::Invalid => None,
            ExprKind::Literal(lit) => Some(match lit {
                Literal::Integer(v) => Val::Int(i128::from(*v)),
                Literal::Float(text) => {
                    match text.trim_end_matches(['f', 'F', 'd', 'D']).parse::<f64>() {
                        Ok(v) => Val::Float(v),
                        Err(_) => {
                            self.error(
                                Diagnostic::error(
                                    "E-CONST-TYPE",
                                    format!("`{text}` is not a valid floating-point number"),
                                    expr.span,
                                )
                                .with_help("write it like `1.5`, `1e-3` or `2.0E8`"),
                            );
                            return None;
                        }
                    }
                }
                Literal::Fixed(text) => match text.parse::<f64>() {
                    Ok(v) => Val::Fixed(v),
                    Err(_) => {
                        self.error(
                            Diagnostic::error(
                                "E-CONST-TYPE",
                                format!("`{text}d` is not a valid fixed-point number"),
                                expr.span,
                            )
                            .with_help("write it like `1.5d`"),
                        );
                        return None;
                    }
                },
                Literal::Char { value, wide: false } => Val::Char(*value),
                Literal::Char { value, wide: true } => Val::WChar(*value),
                Literal::String { value, wide: false } => Val::Str(value.clone()),
                Literal::String { value, wide: true } => Val::WStr(value.clone()),
                Literal::Boolean(b) => Val::Bool(*b),
            }),
            ExprKind::Name(name) => {
                // `true` / `false` are not IDL, but common (Cyclone accepts them).
                if let [only] = name.parts.as_slice()
                    && matches!(only.name.as_str(), "true" | "false")
                    && self.lookup(scope, name).is_none()
                {
                    return Some(Val::Bool(only.name == "true"));
                }
                let sym = self.resolve(scope, name, "constant")?;
                self.symbol_value(sym, name.span)
            }
            ExprKind::Unary(op, inner) => {
                let v = self.eval_depth(inner, scope, int_ty, depth + 1)?;
                self.unary(*op, v, int_ty, expr.span)
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let l = self.eval_depth(lhs, scope, int_ty, depth + 1);
                let r = self.eval_depth(rhs, scope, int_ty, depth + 1);
                self.binary(*op, l?, r?, expr.span, rhs.span)
            }
        }
    }

    /// The value a name stands for.
    fn symbol_value(&mut self, sym: Symbol, span: Span) -> Option<Val> {
        match sym {
            Symbol::Decl(d) if matches!(self.decl(d).kind, DeclKind::Const(_)) => self.const_val(d),
            Symbol::Enumerator { decl, index } => {
                let value = self.enumerator_value(decl, index)?;
                if matches!(self.decl(decl).kind, DeclKind::Bitmask(_)) {
                    // A flag stands for its bit.
                    return Some(Val::Int(value));
                }
                // An enumerator's value is an i64 (checked when the enum was lowered).
                let value = i64::try_from(value).ok()?;
                Some(Val::Enum { decl, index, value })
            }
            Symbol::Decl(d) => {
                let what = self.decl(d).what();
                let name = self.decl(d).scoped_name();
                self.error(
                    Diagnostic::error(
                        "E-CONST-TYPE",
                        format!("`{name}` is a {what}, not a constant"),
                        span,
                    )
                    .with_label("expected a constant or an enumerator")
                    .with_help("use a `const` or an enumerator here"),
                );
                None
            }
            Symbol::Unsupported => None,
            Symbol::Module(_) => {
                self.error(
                    Diagnostic::error("E-CONST-TYPE", "a module is not a constant", span)
                        .with_help("use a `const` or an enumerator here"),
                );
                None
            }
        }
    }

    /// The value of constant `d`, lowering it first if needed.
    pub(crate) fn const_val(&mut self, d: DeclId) -> Option<Val> {
        self.ensure_lowered(d);
        let State::Done(hir::ItemKind::Const(c)) = &self.lowered[d.0 as usize] else {
            return None;
        };
        let c = c.clone();
        let wide = matches!(
            self.resolve_alias(&c.ty),
            Type::String(hir::StringType { wide: true, .. }) | Type::Primitive(Primitive::WChar)
        );
        Some(match c.value.clone() {
            ConstValue::Int(v) => Val::Int(v),
            ConstValue::Float(v) => Val::Float(v),
            ConstValue::Bool(b) => Val::Bool(b),
            ConstValue::Char(ch) if wide => Val::WChar(ch),
            ConstValue::Char(ch) => Val::Char(ch),
            ConstValue::String(s) if wide => Val::WStr(s),
            ConstValue::String(s) => Val::Str(s),
            ConstValue::Enumerator { item, index, value } => Val::Enum {
                decl: self.item_decls[item.0 as usize],
                index,
                value,
            },
        })
    }

    fn unary(&mut self, op: UnaryOp, v: Val, int_ty: Option<IntRepr>, span: Span) -> Option<Val> {
        match (op, v) {
            (UnaryOp::Plus, v @ (Val::Int(_) | Val::Float(_))) => Some(v),
            (UnaryOp::Neg, Val::Int(v)) => self.check_int(-v, span),
            (UnaryOp::Neg, Val::Float(v)) => Some(Val::Float(-v)),
            (UnaryOp::BitNot, Val::Int(v)) => match int_ty {
                Some(repr) if !repr.signed() => {
                    let (_, max) = repr.range();
                    if v < 0 || v > max {
                        self.overflow(
                            span,
                            format!("`~` of {v} in a {}-bit unsigned type", repr.bits()),
                        );
                        None
                    } else {
                        Some(Val::Int(max - v))
                    }
                }
                _ => self.check_int(-v - 1, span),
            },
            (op, v) => {
                let sym = match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Plus => "+",
                    UnaryOp::BitNot => "~",
                };
                self.error(
                    Diagnostic::error(
                        "E-CONST-TYPE",
                        format!("operator `{sym}` cannot be applied to {}", v.describe()),
                        span,
                    )
                    .with_help(if op == UnaryOp::BitNot {
                        "`~` applies to integers only"
                    } else {
                        "unary `+` and `-` apply to integers and floating-point numbers only"
                    }),
                );
                None
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, l: Val, r: Val, span: Span, rhs_span: Span) -> Option<Val> {
        let sym = op_symbol(op);
        match (l, r) {
            (Val::Int(a), Val::Int(b)) => {
                let v = match op {
                    BinaryOp::Or => Some(a | b),
                    BinaryOp::Xor => Some(a ^ b),
                    BinaryOp::And => Some(a & b),
                    BinaryOp::Shl | BinaryOp::Shr => {
                        if !(0..64).contains(&b) {
                            self.error(
                                Diagnostic::error(
                                    "E-CONST-OVERFLOW",
                                    format!("cannot shift by {b} bits"),
                                    rhs_span,
                                )
                                .with_label("shift amount out of range")
                                .with_help("shift by 0 to 63 bits"),
                            );
                            return None;
                        }
                        if op == BinaryOp::Shl {
                            a.checked_mul(1i128 << b)
                        } else {
                            Some(a >> b)
                        }
                    }
                    BinaryOp::Add => a.checked_add(b),
                    BinaryOp::Sub => a.checked_sub(b),
                    BinaryOp::Mul => a.checked_mul(b),
                    BinaryOp::Div | BinaryOp::Rem => {
                        if b == 0 {
                            self.div_zero(rhs_span);
                            return None;
                        }
                        Some(if op == BinaryOp::Div { a / b } else { a % b })
                    }
                };
                match v {
                    Some(v) => self.check_int(v, span),
                    None => {
                        self.overflow(span, format!("{a} {sym} {b}"));
                        None
                    }
                }
            }
            (Val::Float(a), Val::Int(b)) => self.float_op(op, a, b as f64, span, rhs_span),
            (Val::Int(a), Val::Float(b)) => self.float_op(op, a as f64, b, span, rhs_span),
            (Val::Float(a), Val::Float(b)) => self.float_op(op, a, b, span, rhs_span),
            (l, r) => {
                let culprit = if matches!(l, Val::Int(_) | Val::Float(_)) {
                    r
                } else {
                    l
                };
                self.error(
                    Diagnostic::error(
                        "E-CONST-TYPE",
                        format!(
                            "operator `{sym}` cannot be applied to {}",
                            culprit.describe()
                        ),
                        span,
                    )
                    .with_help(
                        "IDL operators apply to integers (and `+ - * /` to floating-point numbers)",
                    ),
                );
                None
            }
        }
    }

    fn float_op(
        &mut self,
        op: BinaryOp,
        a: f64,
        b: f64,
        span: Span,
        rhs_span: Span,
    ) -> Option<Val> {
        let v = match op {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => {
                if b == 0.0 {
                    self.div_zero(rhs_span);
                    return None;
                }
                a / b
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        "E-CONST-TYPE",
                        format!(
                            "operator `{}` cannot be applied to floating-point numbers",
                            op_symbol(op)
                        ),
                        span,
                    )
                    .with_help("`%`, shifts and bit operators apply to integers only"),
                );
                return None;
            }
        };
        if v.is_finite() {
            Some(Val::Float(v))
        } else {
            self.overflow(span, format!("{a} {} {b}", op_symbol(op)));
            None
        }
    }

    fn check_int(&mut self, v: i128, span: Span) -> Option<Val> {
        if (MIN..=MAX).contains(&v) {
            Some(Val::Int(v))
        } else {
            self.overflow(span, format!("the result {v}"));
            None
        }
    }

    fn overflow(&mut self, span: Span, what: String) {
        self.error(
            Diagnostic::error("E-CONST-OVERFLOW", "constant expression overflows", span)
                .with_label(format!("{what} does not fit in 64 bits"))
                .with_help("IDL evaluates integer constants in `long long` / `unsigned long long`; keep every intermediate result within them"),
        );
    }

    fn div_zero(&mut self, span: Span) {
        self.error(
            Diagnostic::error(
                "E-CONST-DIV-ZERO",
                "division by zero in a constant expression",
                span,
            )
            .with_label("this is zero")
            .with_help("change the divisor"),
        );
    }

    /// Converts `v` to the type `target`; reports a mismatch with `code` at `span`, where
    /// `what` names the thing being set ("constant `X`", "`@default` of `m`").
    pub(crate) fn convert(
        &mut self,
        v: Val,
        target: &Type,
        span: Span,
        code: &'static str,
        what: &str,
    ) -> Option<ConstValue> {
        let resolved = self.resolve_alias(target);
        if self.is_typedef(&resolved) {
            // A typedef cycle, reported as E-RECURSIVE-TYPE.
            return None;
        }
        let expected = self.type_text(&resolved);
        let found = v.describe();
        let fail = |sema: &mut Self, detail: String, help: String| {
            sema.error(
                Diagnostic::error(
                    code,
                    format!("mismatched value for {what}: expected {expected}, found {found}"),
                    span,
                )
                .with_label(detail)
                .with_help(help),
            );
            None
        };
        match &resolved {
            Type::Primitive(Primitive::Boolean) => match v {
                Val::Bool(b) => Some(ConstValue::Bool(b)),
                _ => fail(
                    self,
                    "not a boolean".into(),
                    "write `TRUE` or `FALSE`".into(),
                ),
            },
            Type::Primitive(Primitive::Char) => match v {
                Val::Char(c) if u32::from(c) < 256 => Some(ConstValue::Char(c)),
                Val::Char(_) => fail(
                    self,
                    "does not fit in one byte".into(),
                    "a `char` holds one byte; use `wchar` for other characters".into(),
                ),
                Val::Int(n) => fail(
                    self,
                    "an integer, not a character".into(),
                    format!(
                        "write a character literal such as `'A'` or `'\\x{:02x}'`, or declare the constant as `octet`",
                        n.clamp(0, 255)
                    ),
                ),
                _ => fail(
                    self,
                    "not a character".into(),
                    "write a character literal such as `'A'`".into(),
                ),
            },
            Type::Primitive(Primitive::WChar) => match v {
                Val::Char(c) | Val::WChar(c) if u32::from(c) <= 0xFFFF => Some(ConstValue::Char(c)),
                Val::Char(_) | Val::WChar(_) => fail(
                    self,
                    "outside the 16-bit range of `wchar`".into(),
                    "use a character of the Basic Multilingual Plane".into(),
                ),
                _ => fail(
                    self,
                    "not a character".into(),
                    "write a wide character literal such as `L'A'`".into(),
                ),
            },
            Type::Primitive(
                p @ (Primitive::Float32 | Primitive::Float64 | Primitive::LongDoubleOpaque),
            ) => {
                let f = match v {
                    Val::Float(f) => f,
                    Val::Int(n) => n as f64,
                    Val::Fixed(f) => f,
                    _ => {
                        return fail(
                            self,
                            "not a number".into(),
                            "write a floating-point literal such as `1.5`".into(),
                        );
                    }
                };
                if *p == Primitive::Float32 && f.is_finite() && f.abs() > f64::from(f32::MAX) {
                    return fail(
                        self,
                        "too large for `float`".into(),
                        "declare it as `double`".into(),
                    );
                }
                Some(ConstValue::Float(f))
            }
            Type::Primitive(p) => {
                let repr = p.int_repr().unwrap_or(IntRepr::I64);
                match v {
                    Val::Int(n) => {
                        let (lo, hi) = repr.range();
                        if (lo..=hi).contains(&n) {
                            Some(ConstValue::Int(n))
                        } else {
                            fail(
                                self,
                                format!("out of range: `{}` holds {lo}..={hi}", p.idl_name()),
                                "use a value in range, or a wider type".into(),
                            )
                        }
                    }
                    _ => fail(
                        self,
                        "not an integer".into(),
                        "write an integer literal or an integer constant".into(),
                    ),
                }
            }
            Type::String(s) => {
                let text = match (v, s.wide) {
                    (Val::Str(t), _) | (Val::WStr(t), true) => t,
                    _ => {
                        let lit = if s.wide { "L\"...\"" } else { "\"...\"" };
                        return fail(
                            self,
                            "not a string".into(),
                            format!("write a string literal `{lit}`"),
                        );
                    }
                };
                let len = if s.wide {
                    text.encode_utf16().count()
                } else {
                    text.len()
                };
                if s.source != hir::BoundSource::ConstantValue && len > s.bound as usize {
                    return fail(
                        self,
                        format!("{len} characters, but the bound is {}", s.bound),
                        "shorten the string or raise the bound".into(),
                    );
                }
                Some(ConstValue::String(text))
            }
            Type::Named(item) => {
                let decl = self.item_decls[item.0 as usize];
                match (v, self.decl(decl).kind) {
                    (
                        Val::Enum {
                            decl: d,
                            index,
                            value,
                        },
                        DeclKind::Enum(_),
                    ) if d == decl => Some(ConstValue::Enumerator {
                        item: *item,
                        index,
                        value,
                    }),
                    (Val::Int(n), DeclKind::Bitmask(_)) => {
                        let State::Done(hir::ItemKind::Bitmask(b)) = &self.lowered[decl.0 as usize]
                        else {
                            return None;
                        };
                        let (lo, hi) = b.repr.range();
                        if (lo..=hi).contains(&n) {
                            Some(ConstValue::Int(n))
                        } else {
                            fail(
                                self,
                                format!("out of range: the bitmask holds {lo}..={hi}"),
                                "combine its flags with `|`".into(),
                            )
                        }
                    }
                    (_, DeclKind::Bitmask(_)) => fail(
                        self,
                        "not a combination of flags".into(),
                        "combine the bitmask's flags with `|`".into(),
                    ),
                    (_, DeclKind::Enum(e)) => {
                        let first = e
                            .enumerators
                            .first()
                            .map_or("A", |x| x.name.name.as_str())
                            .to_owned();
                        fail(
                            self,
                            "not an enumerator of this enum".into(),
                            format!("use one of its enumerators, such as `{first}`"),
                        )
                    }
                    _ => fail(
                        self,
                        "values of this type cannot be written in IDL".into(),
                        "use a primitive, string or enum type here".into(),
                    ),
                }
            }
            _ => fail(
                self,
                "values of this type cannot be written in IDL".into(),
                "use a primitive, string or enum type here".into(),
            ),
        }
    }

    /// Evaluates an array size or a bound: a positive integer that fits `u32`.
    pub(crate) fn eval_size(
        &mut self,
        expr: &ConstExpr,
        scope: ScopeId,
        what: &str,
    ) -> Option<u32> {
        let v = self.eval(expr, scope, Some(IntRepr::U32))?;
        match v {
            Val::Int(n) if n >= 1 && n <= i128::from(u32::MAX) => u32::try_from(n).ok(),
            Val::Int(n) => {
                self.error(
                    Diagnostic::error(
                        "E-CONST-TYPE",
                        format!(
                            "{what} must be at least 1 and at most {}, found {n}",
                            u32::MAX
                        ),
                        expr.span,
                    )
                    .with_label("out of range")
                    .with_help(format!("use a value from 1 to {}", u32::MAX)),
                );
                None
            }
            other => {
                self.error(
                    Diagnostic::error(
                        "E-CONST-TYPE",
                        format!(
                            "{what} must be a positive integer, found {}",
                            other.describe()
                        ),
                        expr.span,
                    )
                    .with_label("not an integer")
                    .with_help(format!(
                        "write the {what} as an integer literal or an integer constant"
                    )),
                );
                None
            }
        }
    }
}

fn op_symbol(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Or => "|",
        BinaryOp::Xor => "^",
        BinaryOp::And => "&",
        BinaryOp::Shl => "<<",
        BinaryOp::Shr => ">>",
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::Rem => "%",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(IntRepr::U8.range(), (0, 255));
        assert_eq!(IntRepr::I16.range(), (-32768, 32767));
        assert_eq!(IntRepr::U64.range(), (0, i128::from(u64::MAX)));
    }
}
