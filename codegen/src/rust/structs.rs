//! IDL `struct` -> `#[repr(C)]` struct deriving `ShmMessage`.
//!
//! ```text
//! struct Pose : Stamped { @key long id; @optional double speed; @default(3) short n[2]; };
//! ```
//! becomes a struct with the base as first field `base` (and `Deref`/`DerefMut` to it),
//! one public field per declarator (`Optional<T>` for `@optional`), a `Default` impl
//! that applies `@default` values, and, when members carry `@range`/`@min`/`@max`, a
//! `validate()` method. Arrays of any length get their `Default` through
//! `core::array::from_fn`, since `[T; N]: Default` stops at 32.

use proc_macro2::TokenStream;
use quote::quote;
use shmbus_idl::hir::{ConstValue, Field, Item, ItemKind, ModuleId, Primitive, Struct, Type};

use super::names::{self, Namer};
use super::types::{item_path, rust_type};
use super::{Context, docs, values};

pub(crate) fn generate(cx: &Context<'_>, item: &Item, s: &Struct) -> TokenStream {
    let krate = &cx.krate;
    let scope = item.module;
    let name = names::type_ident(&item.name);
    let scoped = item.scoped_name();
    let doc = docs::type_attrs(
        &item.doc,
        &format!("IDL struct `{scoped}`."),
        s.topic,
        s.extensibility,
    );
    let shm = cx.shm_attrs(item);

    let mut namer = Namer::default();
    let base = s.base.map(|b| {
        let base_name = cx.hir.item(b).scoped_name();
        (namer.unique("base"), item_path(cx, scope, b), base_name)
    });
    let fields: Vec<_> = s
        .fields
        .iter()
        .map(|f| (namer.unique(&f.name), f))
        .collect();

    let base_decl = base.as_ref().map(|(ident, path, base_name)| {
        let text =
            format!(" The base struct, `{base_name}` (its members are reached through `Deref`).");
        quote! {
            #[doc = #text]
            pub #ident: #path,
        }
    });
    let field_decls = fields.iter().map(|(ident, f)| {
        let ty = field_type(cx, scope, f);
        let mut lines = docs::lines(&f.doc, &format!("IDL member `{}`.", f.name));
        let mut facts = Vec::new();
        if f.key {
            facts.push("Key member (`@key`).".to_owned());
        }
        if f.optional {
            facts.push("Optional (`@optional`): may be absent.".to_owned());
        }
        if let Some(v) = &f.default {
            facts.push(format!(
                "Default: `{}`.",
                values::display(cx, v).replace('`', "'")
            ));
        }
        if let Some(range) = range_text(cx, f) {
            let checked = if constraint_bounds(cx, f).is_some() {
                " (checked by `validate()`)"
            } else {
                ""
            };
            facts.push(format!("Range: `{range}`{checked}."));
        }
        if !facts.is_empty() {
            lines.push(String::new());
            lines.push(facts.join(" "));
        }
        let doc = names::doc_attrs(&lines);
        quote! {
            #doc
            pub #ident: #ty,
        }
    });

    let base_default = base
        .as_ref()
        .map(|(ident, _, _)| quote!(#ident: ::core::default::Default::default(),));
    let defaults: Vec<_> = fields
        .iter()
        .map(|(ident, f)| (ident, field_default(cx, scope, f)))
        .collect();
    // `#[derive(Default)]` when every field takes its type's default (clippy's
    // `derivable_impls`); a hand-written impl for `@default` values and long arrays.
    let derive_default = defaults.iter().all(|(_, d)| d.is_none());
    let field_defaults = defaults.iter().map(|(ident, value)| {
        let value = value
            .clone()
            .unwrap_or_else(|| quote!(::core::default::Default::default()));
        quote!(#ident: #value,)
    });
    let default_derive = derive_default.then(|| quote!(::core::default::Default,));
    let default_impl = (!derive_default).then(|| {
        quote! {
            impl ::core::default::Default for #name {
                fn default() -> Self {
                    Self {
                        #base_default
                        #(#field_defaults)*
                    }
                }
            }
        }
    });

    let deref = base.as_ref().map(|(ident, path, _)| {
        quote! {
            impl ::core::ops::Deref for #name {
                type Target = #path;
                fn deref(&self) -> &Self::Target {
                    &self.#ident
                }
            }
            impl ::core::ops::DerefMut for #name {
                fn deref_mut(&mut self) -> &mut Self::Target {
                    &mut self.#ident
                }
            }
        }
    });

    let validate = has_constraints(cx, s).then(|| {
        let base_check = base
            .as_ref()
            .filter(|_| s.base.is_some_and(|b| struct_has_constraints(cx, b)))
            .map(|(ident, _, _)| quote!(self.#ident.validate()?;));
        let checks = fields
            .iter()
            .filter_map(|(ident, f)| constraint_check(cx, &scoped, ident, f));
        quote! {
            impl #name {
                /// Checks the IDL `@range`, `@min` and `@max` constraints of this struct
                /// (and of its base): `Err` names the first member out of its range.
                pub fn validate(&self) -> ::core::result::Result<(), #krate::message::RangeError> {
                    #base_check
                    #(#checks)*
                    ::core::result::Result::Ok(())
                }
            }
        }
    });

    quote! {
        #doc
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            #default_derive
        )]
        #shm
        #[repr(C)]
        pub struct #name {
            #base_decl
            #(#field_decls)*
        }

        #default_impl

        #deref
        #validate
    }
}

/// The stored type of a field: `Optional<T>` for `@optional`.
fn field_type(cx: &Context<'_>, scope: ModuleId, f: &Field) -> TokenStream {
    let ty = rust_type(cx, scope, &f.ty);
    if f.optional {
        let krate = &cx.krate;
        quote!(#krate::Optional<#ty>)
    } else {
        ty
    }
}

/// The initializer of a field in `Default` when it is not the type's `Default`: its
/// `@default`, or `from_fn` for a long array; `None` for `Default::default()`.
fn field_default(cx: &Context<'_>, scope: ModuleId, f: &Field) -> Option<TokenStream> {
    if f.optional {
        return None;
    }
    f.default
        .as_ref()
        .and_then(|v| values::default_expr(cx, scope, &f.ty, v))
        .or_else(|| default_value(cx, &f.ty))
}

/// `None` when `Default::default()` works for `ty`, else an expression: arrays longer
/// than 32 (where `[T; N]: Default` stops) are built with `core::array::from_fn`.
pub(crate) fn default_value(cx: &Context<'_>, ty: &Type) -> Option<TokenStream> {
    match cx.hir.resolve_alias(ty) {
        Type::Array(a) => {
            // Innermost dimension first: `[[T; 3]; 100]` is `from_fn(|_| default())`.
            let mut value = default_value(cx, &a.element);
            for dim in a.dims.iter().rev() {
                value = match value {
                    None if *dim <= 32 => None,
                    None => Some(quote!(::core::array::from_fn(|_| {
                        ::core::default::Default::default()
                    }))),
                    Some(inner) => Some(quote!(::core::array::from_fn(|_| #inner))),
                };
            }
            value
        }
        _ => None,
    }
}

fn has_constraints(cx: &Context<'_>, s: &Struct) -> bool {
    s.fields.iter().any(|f| constraint_bounds(cx, f).is_some())
        || s.base.is_some_and(|b| struct_has_constraints(cx, b))
}

fn struct_has_constraints(cx: &Context<'_>, id: shmbus_idl::hir::ItemId) -> bool {
    match &cx.hir.item(id).kind {
        ItemKind::Struct(s) => has_constraints(cx, s),
        _ => false,
    }
}

/// The scalar type and the bounds worth checking: those that some value of the type can
/// violate (a `@min(0)` on an unsigned member says nothing, and comparing would trip the
/// `unused_comparisons` lint).
fn constraint_bounds<'a>(
    cx: &Context<'_>,
    f: &'a Field,
) -> Option<(Primitive, Option<&'a ConstValue>, Option<&'a ConstValue>)> {
    let Type::Primitive(p) = cx.hir.resolve_alias(&f.ty) else {
        return None;
    };
    let p = *p;
    let (min, max) = match p {
        Primitive::Float32 | Primitive::Float64 => (f.min.as_ref(), f.max.as_ref()),
        Primitive::Boolean | Primitive::LongDoubleOpaque => return None,
        other => {
            let repr = other.int_repr()?;
            let (lo, hi) = repr.range();
            let min = f.min.as_ref().filter(|v| as_int(v).is_some_and(|v| v > lo));
            let max = f.max.as_ref().filter(|v| as_int(v).is_some_and(|v| v < hi));
            (min, max)
        }
    };
    (min.is_some() || max.is_some()).then_some((p, min, max))
}

fn as_int(v: &ConstValue) -> Option<i128> {
    match v {
        ConstValue::Int(i) => Some(*i),
        ConstValue::Char(c) => Some(i128::from(u32::from(*c))),
        _ => None,
    }
}

fn constraint_check(
    cx: &Context<'_>,
    type_name: &str,
    ident: &proc_macro2::Ident,
    f: &Field,
) -> Option<TokenStream> {
    let krate = &cx.krate;
    let (p, min, max) = constraint_bounds(cx, f)?;
    let lit = |v: &ConstValue| -> Option<TokenStream> {
        match p {
            Primitive::Float32 | Primitive::Float64 => {
                let f = match v {
                    ConstValue::Float(f) => *f,
                    ConstValue::Int(i) => *i as f64,
                    _ => return None,
                };
                Some(values::float_literal(f, p == Primitive::Float32))
            }
            other => Some(values::int_literal(as_int(v)?, other.int_repr()?)),
        }
    };
    let value = quote!(value);
    let condition = match (min, max) {
        (Some(min), Some(max)) => {
            let (min, max) = (lit(min)?, lit(max)?);
            quote!((#min..=#max).contains(&#value))
        }
        (Some(min), None) => {
            let min = lit(min)?;
            quote!(#value >= #min)
        }
        (None, Some(max)) => {
            let max = lit(max)?;
            quote!(#value <= #max)
        }
        (None, None) => return None,
    };
    let range = range_text(cx, f)?;
    let field = &f.name;
    let check = quote! {
        match #value {
            #value if #condition => {}
            #value => {
                return ::core::result::Result::Err(#krate::message::RangeError::new(
                    #type_name, #field, #value, #range,
                ));
            }
        }
    };
    Some(if f.optional {
        quote! {
            if let ::core::option::Option::Some(&#value) = self.#ident.get() {
                #check
            }
        }
    } else {
        quote! {
            let #value = self.#ident;
            #check
        }
    })
}

/// The range of a member as the IDL wrote it (`-10 ..= 10`, `>= 0.5`), including a bound
/// not worth checking (`@min(0)` on an unsigned member).
fn range_text(cx: &Context<'_>, f: &Field) -> Option<String> {
    let show = |v: &ConstValue| values::display(cx, v);
    Some(match (f.min.as_ref(), f.max.as_ref()) {
        (Some(a), Some(b)) => format!("{} ..= {}", show(a), show(b)),
        (Some(a), None) => format!(">= {}", show(a)),
        (None, Some(b)) => format!("<= {}", show(b)),
        (None, None) => return None,
    })
}
