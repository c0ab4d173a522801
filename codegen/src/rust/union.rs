//! IDL `union` -> a `#[repr(C)]` struct of the discriminator and **non-overlapping**
//! branches, with checked accessors.
//!
//! # The representation (and why the branches do not overlap)
//!
//! ```text
//! union Shape switch (long) { case 1: Circle circle; case 2: case 3: Square square; default: octet raw; };
//! ```
//! becomes
//!
//! ```text
//! #[repr(C)]
//! pub struct Shape { _d: i32, circle: Circle, square: Square, raw: u8 }
//! ```
//!
//! the discriminator `_d` at offset 0, then every branch as its own field in declaration
//! order, each at its natural alignment (so the layout is the `repr(C)` layout of
//! `[discriminator, branch 0, branch 1, ...]`; the HIR's layout computation follows the
//! same rule and records each branch's offset in `UnionCase::offset`). The fields are
//! private; the accessors keep the discriminator and the branch consistent:
//!
//! - `discriminator()` returns `_d`;
//! - `circle()` / `circle_mut()` return `Some` only when `_d` selects that branch;
//! - `set_circle(v)` stores `v` and sets `_d` to the branch's first label (the default
//!   branch gets [`Union::default_discriminator`], a value no other case has);
//!   `from_circle(v)` builds a union holding `v`;
//! - `branch()` returns the selected branch as a borrowed enum `ShapeBranch` for
//!   `match` (`ShapeBranch::circle(&Circle)`, ..., `Empty(discriminator)` when no case
//!   is selected and there is no `default:`); `Debug` shows that branch only;
//! - `Default` selects the first case with its default value; the zeroed value is valid
//!   too (it selects whatever case `0` selects, or none).
//!
//! Overlapping storage (a C union) would save space, but it cannot be both safe and
//! sound here. A branch is written through a typed place, which leaves the branch's
//! padding bytes uninitialised; a message is `Copy` and is validated on receive as bytes,
//! and reading those bytes as the storage (or as another, larger branch) is undefined
//! behaviour. Making it sound would need every branch type to prove it has no padding,
//! or a byte-wise writer for every generated type. Separate fields need no `unsafe` at
//! all, derive `ShmMessage` like any struct, let the descriptor (and `shmbus echo`)
//! show every branch with its offset, and keep every bit pattern valid. The price is size:
//! the sum of the branches instead of the largest, which for the small unions DDS types
//! use is a few bytes. A receiver validates every branch, selected or not (an inactive
//! branch written by generated code holds its default or an earlier value, both valid).
//!
//! [`Union::default_discriminator`]: shmbus_idl::hir::Union::default_discriminator

use proc_macro2::TokenStream;
use quote::quote;
use shmbus_idl::hir::{
    ConstValue, Discriminator, Item, ModuleId, Primitive, Type, Union, UnionCase,
};

use super::names::{self, Namer};
use super::structs::default_value;
use super::types::rust_type;
use super::values::{const_expr, i128_literal};
use super::{Context, docs};

pub(crate) fn generate(
    cx: &Context<'_>,
    item: &Item,
    u: &Union,
    module_namer: &mut Namer,
) -> TokenStream {
    let scope = item.module;
    let name = names::type_ident(&item.name);
    let scoped = item.scoped_name();
    let doc = docs::type_attrs(
        &item.doc,
        &format!("IDL union `{scoped}`."),
        false,
        u.extensibility,
    );
    let shm = cx.shm_attrs(item);
    let disc_ty = rust_type(cx, scope, &u.discriminator);

    let mut fields = Namer::with_reserved(&["_d"]);
    let branches: Vec<_> = u
        .cases
        .iter()
        .map(|c| (fields.unique(&c.name), c))
        .collect();
    // The descriptor records which labels select which branch field, and the default.
    let cases = branches.iter().map(|(ident, c)| {
        let mut labels: Vec<TokenStream> = c.labels.iter().map(|&l| i128_literal(l)).collect();
        if c.is_default {
            labels.push(quote!(default));
        }
        quote!(#ident = [#(#labels),*])
    });
    let shm = quote!(#shm #[shm(union(#(#cases),*))]);
    let mut methods = Namer::with_reserved(&["discriminator", "branch"]);
    let accessor_names: Vec<_> = branches
        .iter()
        .map(|(_, c)| {
            [
                methods.unique(&c.name),
                methods.unique(&format!("{}_mut", c.name)),
                methods.unique(&format!("set_{}", c.name)),
                methods.unique(&format!("from_{}", c.name)),
            ]
        })
        .collect();

    // The discriminator widened to i128, which every label is compared with.
    let widened = match u.discriminator_kind {
        Discriminator::Primitive(Primitive::Boolean) => {
            quote!(::core::primitive::i128::from(self._d.get()))
        }
        Discriminator::Primitive(_) => quote!(::core::primitive::i128::from(self._d)),
        Discriminator::Enum(_) | Discriminator::Bitmask(_) => {
            quote!(::core::primitive::i128::from(self._d.0))
        }
    };

    let other_labels: Vec<i128> = u
        .cases
        .iter()
        .flat_map(|c| c.labels.iter().copied())
        .collect();
    let field_decls = branches.iter().map(|(ident, c)| {
        let ty = rust_type(cx, scope, &c.ty);
        quote!(#ident: #ty,)
    });
    let accessors =
        branches
            .iter()
            .zip(&accessor_names)
            .map(|((field, c), [get, get_mut, set, from])| {
                let ty = rust_type(cx, scope, &c.ty);
                let selected = selects(&widened, c, &other_labels);
                let mut lines = docs::lines(&c.doc, &format!("IDL branch `{}`.", c.name));
                lines.push(String::new());
                lines.push(format!(
                    "`Some` when the discriminator selects it ({}).",
                    label_text(c)
                ));
                let get_doc = names::doc_attrs(&lines);
                let get_mut_doc = format!(
                    " The branch `{}`, mutably, when the discriminator selects it.",
                    c.name
                );
                let set_value = setter_discriminator(cx, scope, u, c);
                let setters = set_value.map(|value| {
                    let set_doc = format!(
                        " Stores `value` in branch `{}` and makes the discriminator select it.",
                        c.name
                    );
                    let from_doc = format!(" A union holding `value` in branch `{}`.", c.name);
                    quote! {
                        #[doc = #set_doc]
                        pub fn #set(&mut self, value: #ty) {
                            self._d = #value;
                            self.#field = value;
                        }

                        #[doc = #from_doc]
                        pub fn #from(value: #ty) -> Self {
                            let mut union = <Self as ::core::default::Default>::default();
                            union.#set(value);
                            union
                        }
                    }
                });
                quote! {
                    #get_doc
                    pub fn #get(&self) -> ::core::option::Option<&#ty> {
                        if #selected {
                            ::core::option::Option::Some(&self.#field)
                        } else {
                            ::core::option::Option::None
                        }
                    }

                    #[doc = #get_mut_doc]
                    pub fn #get_mut(&mut self) -> ::core::option::Option<&mut #ty> {
                        if #selected {
                            ::core::option::Option::Some(&mut self.#field)
                        } else {
                            ::core::option::Option::None
                        }
                    }

                    #setters
                }
            });

    let default_disc = u
        .cases
        .first()
        .and_then(|c| setter_discriminator(cx, scope, u, c))
        .unwrap_or_else(|| quote!(::core::default::Default::default()));
    let default_fields = branches.iter().map(|(ident, c)| {
        let value =
            default_value(cx, &c.ty).unwrap_or_else(|| quote!(::core::default::Default::default()));
        quote!(#ident: #value,)
    });

    // The selected branch as a borrowed enum, for `match` (and for `Debug`, which shows
    // only the branch that holds the value).
    let branch_name = module_namer.unique(&format!("{}Branch", item.name));
    let mut variants = Namer::default();
    let variant_idents: Vec<_> = branches
        .iter()
        .map(|(_, c)| variants.unique(&c.name))
        .collect();
    let has_default = u.cases.iter().any(|c| c.is_default);
    let empty = (!has_default).then(|| variants.unique("Empty"));
    let variant_decls = branches.iter().zip(&variant_idents).map(|((_, c), v)| {
        let ty = rust_type(cx, scope, &c.ty);
        let text = format!(" Branch `{}` ({}).", c.name, label_text(c));
        quote! {
            #[doc = #text]
            #v(&'a #ty),
        }
    });
    let empty_decl = empty.as_ref().map(|e| {
        quote! {
            /// The discriminator, this value, selects no branch.
            #e(#disc_ty),
        }
    });
    // Non-default cases first; the default case, or `Empty`, is what is left.
    let mut arms = Vec::new();
    for ((field, c), v) in branches.iter().zip(&variant_idents) {
        if !c.is_default {
            let selected = selects(&widened, c, &other_labels);
            arms.push(quote!(if #selected { #branch_name::#v(&self.#field) }));
        }
    }
    let fallback = match &empty {
        Some(e) => quote!(#branch_name::#e(self._d)),
        None => branches
            .iter()
            .zip(&variant_idents)
            .find(|((_, c), _)| c.is_default)
            .map(|((field, _), v)| quote!(#branch_name::#v(&self.#field)))
            .unwrap_or_else(|| quote!(::core::unreachable!())),
    };
    let branch_body = if arms.is_empty() {
        fallback
    } else {
        quote!(#(#arms)else* else { #fallback })
    };
    let branch_doc =
        format!(" The branch of [`{name}`] its discriminator selects, borrowed, for `match`.");
    let type_name = &item.name;

    quote! {
        #doc
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
        )]
        #shm
        #[repr(C)]
        pub struct #name {
            _d: #disc_ty,
            #(#field_decls)*
        }

        impl #name {
            /// The discriminator: which branch holds the value.
            pub const fn discriminator(&self) -> #disc_ty {
                self._d
            }

            /// The branch that holds the value, for `match`.
            pub fn branch(&self) -> #branch_name<'_> {
                #branch_body
            }

            #(#accessors)*
        }

        #[doc = #branch_doc]
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
        )]
        pub enum #branch_name<'a> {
            #(#variant_decls)*
            #empty_decl
        }

        impl ::core::fmt::Debug for #name {
            /// Shows the selected branch only: `Shape(circle(Circle { radius: 1.0 }))`.
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(#type_name).field(&self.branch()).finish()
            }
        }

        impl ::core::default::Default for #name {
            /// The first case, holding its default value.
            fn default() -> Self {
                Self {
                    _d: #default_disc,
                    #(#default_fields)*
                }
            }
        }
    }
}

/// The condition (on the widened discriminator) under which case `c` is selected.
fn selects(widened: &TokenStream, c: &UnionCase, all_labels: &[i128]) -> TokenStream {
    if c.is_default {
        let others: Vec<i128> = all_labels
            .iter()
            .copied()
            .filter(|l| !c.labels.contains(l))
            .collect();
        if others.is_empty() {
            quote!(true)
        } else {
            let pattern = label_pattern(&others);
            quote!(!::core::matches!(#widened, #pattern))
        }
    } else if c.labels.is_empty() {
        quote!(false)
    } else {
        let pattern = label_pattern(&c.labels);
        quote!(::core::matches!(#widened, #pattern))
    }
}

/// `1 | 5..=7`: the labels sorted, runs of three or more consecutive values as ranges
/// (clippy's `manual_range_patterns`).
fn label_pattern(labels: &[i128]) -> TokenStream {
    let mut sorted = labels.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            let (lo, hi) = (i128_literal(sorted[i]), i128_literal(sorted[j]));
            parts.push(quote!(#lo..=#hi));
        } else {
            parts.extend(sorted[i..=j].iter().map(|l| i128_literal(*l)));
        }
        i = j + 1;
    }
    quote!(#(#parts)|*)
}

/// The discriminator value `set_x` stores for case `c`, typed: the first label, or for
/// the default case the value the front end chose. `None` when no value selects `c`.
fn setter_discriminator(
    cx: &Context<'_>,
    scope: ModuleId,
    u: &Union,
    c: &UnionCase,
) -> Option<TokenStream> {
    let value = match c.labels.first() {
        Some(v) => *v,
        None if c.is_default => u.default_discriminator?,
        None => return None,
    };
    Some(discriminator_value(cx, scope, u, value))
}

fn discriminator_value(cx: &Context<'_>, scope: ModuleId, u: &Union, value: i128) -> TokenStream {
    // An enum or bitmask is built through its own name: a typedef of it cannot construct.
    let ty = match u.discriminator_kind {
        Discriminator::Primitive(p) => Type::Primitive(p),
        Discriminator::Enum(id) | Discriminator::Bitmask(id) => Type::Named(id),
    };
    // Every discriminator kind is an integer, boolean, enum or bitmask, which `const_expr`
    // always renders; the fallback is never taken.
    const_expr(cx, scope, &ty, &ConstValue::Int(value))
        .unwrap_or_else(|| quote!(::core::default::Default::default()))
}

fn label_text(c: &UnionCase) -> String {
    let mut parts: Vec<String> = c.labels.iter().map(|l| format!("`{l}`")).collect();
    if c.is_default {
        parts.push("any other value".to_owned());
    }
    if parts.is_empty() {
        "no value".to_owned()
    } else {
        parts.join(", ")
    }
}
