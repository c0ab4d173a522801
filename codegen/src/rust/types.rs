//! IDL type references -> Rust types.
//!
//! Primitives and library types are spelled with absolute paths
//! (`::core::primitive::u32`, `::shmbus::FixedString<8>`), so an IDL type named `u32`,
//! `bool` or `FixedString` cannot shadow them. References to other IDL items are relative
//! (`super::geometry::Point`), so the generated file works wherever it is included.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use shmbus_idl::hir::{IntRepr, ItemId, ModuleId, Primitive, Type};

use super::Context;
use super::names;

/// The Rust type of `ty` as seen from module `scope`.
pub(crate) fn rust_type(cx: &Context<'_>, scope: ModuleId, ty: &Type) -> TokenStream {
    let krate = &cx.krate;
    match ty {
        Type::Primitive(p) => primitive(cx, *p),
        Type::String(s) => {
            let bound = Literal::u32_unsuffixed(s.bound);
            if s.wide {
                quote!(#krate::FixedVec<::core::primitive::u16, #bound>)
            } else {
                quote!(#krate::FixedString<#bound>)
            }
        }
        Type::Sequence(s) => {
            let element = rust_type(cx, scope, &s.element);
            let bound = Literal::u32_unsuffixed(s.bound);
            quote!(#krate::FixedVec<#element, #bound>)
        }
        Type::Map(m) => {
            let key = rust_type(cx, scope, &m.key);
            let value = rust_type(cx, scope, &m.value);
            let bound = Literal::u32_unsuffixed(m.bound);
            quote!(#krate::FixedVec<#krate::message::MapEntry<#key, #value>, #bound>)
        }
        Type::Array(a) => {
            let mut tokens = rust_type(cx, scope, &a.element);
            for dim in a.dims.iter().rev() {
                let dim = Literal::u32_unsuffixed(*dim);
                tokens = quote!([#tokens; #dim]);
            }
            tokens
        }
        Type::Named(id) => item_path(cx, scope, *id),
    }
}

/// The Rust type of a primitive.
pub(crate) fn primitive(cx: &Context<'_>, p: Primitive) -> TokenStream {
    let krate = &cx.krate;
    match p {
        Primitive::Boolean => quote!(#krate::Boolean),
        Primitive::LongDoubleOpaque => quote!(#krate::message::LongDouble),
        Primitive::Float32 => quote!(::core::primitive::f32),
        Primitive::Float64 => quote!(::core::primitive::f64),
        other => match other.int_repr() {
            Some(repr) => int(repr),
            // Every primitive but the floats and `long double` has an integer repr.
            None => quote!(::core::primitive::f64),
        },
    }
}

/// `::core::primitive::u16` for `IntRepr::U16`.
pub(crate) fn int(repr: IntRepr) -> TokenStream {
    let name = proc_macro2::Ident::new(repr.rust_name(), proc_macro2::Span::call_site());
    quote!(::core::primitive::#name)
}

/// The path of item `id` as seen from module `scope`: its name when it is in `scope`,
/// else `super::...` up to the common ancestor and down again.
pub(crate) fn item_path(cx: &Context<'_>, scope: ModuleId, id: ItemId) -> TokenStream {
    let item = cx.hir.item(id);
    let from = module_chain(cx, scope);
    let to = module_chain(cx, item.module);
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let ups = (common..from.len()).map(|_| quote!(super::));
    let downs = to[common..].iter().map(|m| {
        let name = names::ident(&cx.hir.module(*m).name);
        quote!(#name::)
    });
    let name = item_ident(item);
    quote!(#(#ups)* #(#downs)* #name)
}

/// The modules from the global scope down to `id` (the global scope excluded).
fn module_chain(cx: &Context<'_>, id: ModuleId) -> Vec<ModuleId> {
    let mut chain = Vec::new();
    let mut current = Some(id);
    while let Some(m) = current {
        if m == shmbus_idl::hir::Hir::ROOT {
            break;
        }
        chain.push(m);
        current = cx.hir.module(m).parent;
    }
    chain.reverse();
    chain
}

/// The identifier an item is declared with: a type name, or a constant's name.
pub(crate) fn item_ident(item: &shmbus_idl::hir::Item) -> proc_macro2::Ident {
    names::to_ident(&item_name(item))
}

/// The Rust name an item is declared with, as text.
pub(crate) fn item_name(item: &shmbus_idl::hir::Item) -> String {
    match item.kind {
        shmbus_idl::hir::ItemKind::Const(_) => names::rust_name(&item.name),
        _ => names::type_name(&item.name),
    }
}
