//! IDL `const` -> `pub const` with the value the front end evaluated.
//!
//! `const unsigned long MAX = 2 * 16;` becomes `pub const MAX: u32 = 32u32;`, a string
//! constant becomes a `&str`, an enumerator constant the enum's associated constant. The
//! expression as written is kept in the doc comment.

use proc_macro2::TokenStream;
use quote::quote;
use shmbus_idl::hir::{Const, ConstValue, Item, Primitive, Type};

use super::names;
use super::types::rust_type;
use super::{Context, docs, values};

pub(crate) fn generate(cx: &Context<'_>, item: &Item, c: &Const) -> TokenStream {
    let name = names::ident(&item.name);
    let scope = item.module;
    let mut lines = docs::lines(
        &item.doc,
        &format!("IDL constant `{}`.", item.scoped_name()),
    );
    lines.push(String::new());
    lines.push(format!(
        "Value: `{}`.",
        values::display(cx, &c.value).replace('`', "'")
    ));
    let doc = names::doc_attrs(&lines);
    let (ty, value) = match cx.hir.resolve_alias(&c.ty) {
        Type::String(_) => (
            quote!(&::core::primitive::str),
            values::string_literal(&c.value),
        ),
        // Rust has no `long double`: the constant is the `f64` the front end evaluated.
        Type::Primitive(Primitive::LongDoubleOpaque) => (
            quote!(::core::primitive::f64),
            match c.value {
                ConstValue::Float(f) => Some(values::float_literal(f, false)),
                _ => None,
            },
        ),
        _ => (
            rust_type(cx, scope, &c.ty),
            values::const_expr(cx, scope, &c.ty, &c.value),
        ),
    };
    match value {
        Some(value) => quote! {
            #doc
            pub const #name: #ty = #value;
        },
        // The front end converts every value to its constant's type, so this is not
        // reached; should it be, say so in the output rather than emit code that does
        // not compile.
        None => {
            let text = format!(
                " IDL constant `{}` has no Rust value (its type has no Rust literal).",
                item.scoped_name()
            );
            let _ = ty;
            quote! {
                #[doc = #text]
                pub const #name: () = ();
            }
        }
    }
}
