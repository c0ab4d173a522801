//! Evaluated IDL constants -> Rust literals and constant expressions.
//!
//! Values come evaluated and range-checked from the front end; this module only spells
//! them: integers with the suffix of their Rust type (`-5i32`), floats exactly
//! (`0.1f64`, non-finite ones as `f64::INFINITY`), `boolean` as `Boolean::TRUE`, an
//! enumerator as the path of its associated constant.

use std::str::FromStr;

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use shmbus_idl::hir::{self, ConstValue, IntRepr, ItemKind, ModuleId, Primitive, Type};

use super::Context;
use super::names;
use super::types::item_path;

/// A literal from its spelling, which the generator formatted itself (a number with a
/// type suffix), so it always lexes; `0` is the unreachable fallback.
pub(crate) fn literal(text: &str) -> Literal {
    Literal::from_str(text).unwrap_or_else(|_| Literal::u8_unsuffixed(0))
}

/// A literal of integer type `repr`: `5u8`, `-128i8`.
pub(crate) fn int_literal(value: i128, repr: IntRepr) -> TokenStream {
    let suffix = repr.rust_name();
    let magnitude = value.unsigned_abs();
    let lit = literal(&format!("{magnitude}{suffix}"));
    if value < 0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// An unsuffixed literal compared with an `i128` (a widened discriminator), used only
/// inside `matches!` patterns, where a negative value is one literal token (`-1`, which
/// the formatter then prints as written).
pub(crate) fn i128_literal(value: i128) -> TokenStream {
    let lit = Literal::i128_unsuffixed(value);
    quote!(#lit)
}

/// A float literal of `f32` (`single`) or `f64`.
pub(crate) fn float_literal(value: f64, single: bool) -> TokenStream {
    let ty = if single {
        quote!(::core::primitive::f32)
    } else {
        quote!(::core::primitive::f64)
    };
    if value.is_nan() {
        return quote!(#ty::NAN);
    }
    if value.is_infinite() {
        return if value > 0.0 {
            quote!(#ty::INFINITY)
        } else {
            quote!(#ty::NEG_INFINITY)
        };
    }
    let lit = if single {
        Literal::f32_suffixed((value.abs()) as f32)
    } else {
        Literal::f64_suffixed(value.abs())
    };
    if value.is_sign_negative() {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// The value `v` as a constant expression of the Rust type of `ty` (seen from `scope`),
/// or `None` when it cannot be a Rust constant of that type (strings: see
/// [`string_literal`]; opaque `long double`).
pub(crate) fn const_expr(
    cx: &Context<'_>,
    scope: ModuleId,
    ty: &Type,
    v: &ConstValue,
) -> Option<TokenStream> {
    match cx.hir.resolve_alias(ty) {
        Type::Primitive(p) => primitive_value(cx, *p, v),
        Type::Named(id) => match (&cx.hir.item(*id).kind, v) {
            (ItemKind::Enum(e), ConstValue::Enumerator { item, index, .. }) if item == id => {
                let path = item_path(cx, scope, *id);
                let name = names::ident(&e.enumerators.get(*index)?.name);
                Some(quote!(#path::#name))
            }
            (ItemKind::Enum(hir::Enum { repr, .. }), ConstValue::Int(i))
            | (ItemKind::Bitmask(hir::Bitmask { repr, .. }), ConstValue::Int(i)) => {
                let path = item_path(cx, scope, *id);
                let lit = int_literal(*i, *repr);
                Some(quote!(#path(#lit)))
            }
            _ => None,
        },
        _ => None,
    }
}

fn primitive_value(cx: &Context<'_>, p: Primitive, v: &ConstValue) -> Option<TokenStream> {
    let krate = &cx.krate;
    match p {
        Primitive::Boolean => {
            let b = match v {
                ConstValue::Bool(b) => *b,
                ConstValue::Int(i) => *i != 0,
                _ => return None,
            };
            Some(if b {
                quote!(#krate::Boolean::TRUE)
            } else {
                quote!(#krate::Boolean::FALSE)
            })
        }
        Primitive::Float32 | Primitive::Float64 => {
            let f = match v {
                ConstValue::Float(f) => *f,
                ConstValue::Int(i) => *i as f64,
                _ => return None,
            };
            Some(float_literal(f, p == Primitive::Float32))
        }
        Primitive::LongDoubleOpaque => None,
        other => {
            let repr = other.int_repr()?;
            let i = match v {
                ConstValue::Int(i) => *i,
                ConstValue::Char(c) => i128::from(u32::from(*c)),
                ConstValue::Bool(b) => i128::from(*b),
                ConstValue::Enumerator { value, .. } => i128::from(*value),
                _ => return None,
            };
            Some(int_literal(i, repr))
        }
    }
}

/// A Rust string literal for an IDL string constant.
pub(crate) fn string_literal(v: &ConstValue) -> Option<TokenStream> {
    match v {
        ConstValue::String(s) => Some(quote!(#s)),
        _ => None,
    }
}

/// The value as the initializer of a field of type `ty` in a `Default` impl: a constant
/// expression, or for strings a checked conversion (the front end checked the length
/// against the bound, so the fallback to empty is never taken). A wide string is a
/// `FixedVec<u16, N>`: its default is the text's UTF-16 units.
pub(crate) fn default_expr(
    cx: &Context<'_>,
    scope: ModuleId,
    ty: &Type,
    v: &ConstValue,
) -> Option<TokenStream> {
    if let (Type::String(s), ConstValue::String(text)) = (cx.hir.resolve_alias(ty), v) {
        let value = if s.wide {
            let units = text.encode_utf16().map(Literal::u16_suffixed);
            quote!(&[#(#units),*][..])
        } else {
            quote!(#text)
        };
        return Some(quote! {
            ::core::result::Result::unwrap_or_default(::core::convert::TryFrom::try_from(#value))
        });
    }
    const_expr(cx, scope, ty, v)
}

/// The text of a value for documentation (`5`, `"abc"`, `RED`).
pub(crate) fn display(cx: &Context<'_>, v: &ConstValue) -> String {
    match v {
        ConstValue::Int(i) => i.to_string(),
        ConstValue::Float(f) => format!("{f:?}"),
        ConstValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        ConstValue::Char(c) => format!("{c:?}"),
        ConstValue::String(s) => format!("{s:?}"),
        ConstValue::Enumerator { item, index, .. } => match &cx.hir.item(*item).kind {
            ItemKind::Enum(e) => e
                .enumerators
                .get(*index)
                .map_or_else(String::new, |en| en.name.clone()),
            _ => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_carry_their_type() {
        assert_eq!(int_literal(5, IntRepr::U8).to_string(), "5u8");
        assert_eq!(int_literal(-128, IntRepr::I8).to_string(), "- 128i8");
        assert_eq!(
            int_literal(i128::from(i64::MIN), IntRepr::I64).to_string(),
            "- 9223372036854775808i64"
        );
        assert_eq!(
            int_literal(i128::from(u64::MAX), IntRepr::U64).to_string(),
            "18446744073709551615u64"
        );
        assert_eq!(i128_literal(-3).to_string(), "- 3");
    }

    #[test]
    fn floats_are_exact_and_non_finite_ones_named() {
        assert_eq!(float_literal(0.1, false).to_string(), "0.1f64");
        assert_eq!(float_literal(-2.5, true).to_string(), "- 2.5f32");
        assert_eq!(
            float_literal(f64::INFINITY, false).to_string(),
            ":: core :: primitive :: f64 :: INFINITY"
        );
        assert_eq!(
            float_literal(f64::NEG_INFINITY, true).to_string(),
            ":: core :: primitive :: f32 :: NEG_INFINITY"
        );
        assert_eq!(
            float_literal(f64::NAN, false).to_string(),
            ":: core :: primitive :: f64 :: NAN"
        );
    }
}
