//! IDL `enum` -> an open `#[repr(transparent)]` newtype plus a closed Rust enum.
//!
//! ```text
//! enum Color { RED, @value(5) GREEN };
//! ```
//! becomes `pub struct Color(pub u32)` with associated constants `Color::RED`,
//! `Color::GREEN`: the type stored in messages. It is *open*: every value of the integer
//! is a valid `Color`, so a message from a newer peer with an enumerator this build does
//! not know is still readable (and a receiver never needs to validate it). For `match`,
//! `Color::kind()` / `TryFrom<Color>` give the closed `ColorKind` with one variant per
//! enumerator, or the unknown value back. `Default` is `@default_literal`, else the
//! first enumerator. The closed enum's name is the IDL name plus `Kind`, with `_`
//! appended if that collides with an IDL name of the same module.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use shmbus_idl::hir::{Enum, Item};

use super::names::{self, Namer};
use super::types::int;
use super::values::int_literal;
use super::{Context, docs};

pub(crate) fn generate(
    cx: &Context<'_>,
    item: &Item,
    e: &Enum,
    module_namer: &mut Namer,
) -> TokenStream {
    let name = names::type_ident(&item.name);
    let scoped = item.scoped_name();
    let kind_name = module_namer.unique(&format!("{}Kind", item.name));
    let repr = int(e.repr);
    let repr_word = proc_macro2::Ident::new(e.repr.rust_name(), proc_macro2::Span::call_site());
    let doc = docs::type_attrs(
        &item.doc,
        &format!("IDL enum `{scoped}`."),
        false,
        e.extensibility,
    );
    let shm = cx.shm_attrs(item);
    // The descriptor names the enumerators, for tools that print and parse them.
    let named = e.enumerators.iter().map(|en| {
        let ident = names::ident(&en.name);
        let value = super::values::i128_literal(i128::from(en.value));
        quote!(#ident = #value)
    });
    let shm = quote!(#shm #[shm(enumeration(#(#named),*))]);

    // Associated items share one namespace: enumerators keep their IDL names, the
    // generated methods give way.
    let mut assoc = Namer::default();
    let consts: Vec<_> = e
        .enumerators
        .iter()
        .map(|en| (assoc.unique(&en.name), en))
        .collect();
    let kind_fn = assoc.unique("kind");
    let name_fn = assoc.unique("name");

    let const_items = consts.iter().map(|(ident, en)| {
        let lit = int_literal(i128::from(en.value), e.repr);
        let lines = docs::lines(
            &en.doc,
            &format!("IDL enumerator `{}` (value {}).", en.name, en.value),
        );
        let doc = names::doc_attrs(&lines);
        quote! {
            #doc
            pub const #ident: Self = Self(#lit);
        }
    });

    // Several enumerators may share a value: the first one names it.
    let mut seen = BTreeSet::new();
    let distinct: Vec<_> = consts
        .iter()
        .filter(|(_, en)| seen.insert(en.value))
        .collect();
    let variants = distinct.iter().map(|(ident, en)| {
        let lit = int_literal(i128::from(en.value), e.repr);
        let text = format!(" `{}::{}` (value {}).", item.name, en.name, en.value);
        quote! {
            #[doc = #text]
            #ident = #lit,
        }
    });
    // Only the first enumerator of each value gets an arm: later ones would be
    // unreachable patterns.
    let kind_arms: Vec<_> = distinct
        .iter()
        .map(|(ident, _)| quote!(Self::#ident => ::core::option::Option::Some(#kind_name::#ident),))
        .collect();
    let name_arms = distinct.iter().map(|(ident, en)| {
        let text = &en.name;
        quote!(Self::#ident => ::core::option::Option::Some(#text),)
    });
    let from_arms = distinct
        .iter()
        .map(|(ident, _)| quote!(#kind_name::#ident => Self::#ident,));
    let default = consts
        .get(e.default_index)
        .or(consts.first())
        .map(|(ident, _)| quote!(Self::#ident))
        .unwrap_or_else(|| quote!(Self(0)));
    let kind_doc = format!(
        " The enumerators of [`{}`] as a closed enum, for `match`.",
        item.name
    );
    let closed = if distinct.is_empty() {
        // An empty closed enum is legal Rust, but `kind()` could never return a value.
        quote! {
            #[doc = #kind_doc]
            #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash)]
            pub enum #kind_name {}
        }
    } else {
        quote! {
            #[doc = #kind_doc]
            #[derive(
                ::core::clone::Clone,
                ::core::marker::Copy,
                ::core::fmt::Debug,
                ::core::cmp::PartialEq,
                ::core::cmp::Eq,
                ::core::hash::Hash,
                ::core::cmp::PartialOrd,
                ::core::cmp::Ord,
            )]
            #[repr(#repr_word)]
            pub enum #kind_name {
                #(#variants)*
            }
        }
    };
    let kind_match = if consts.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        quote! {
            match self {
                #(#kind_arms)*
                _ => ::core::option::Option::None,
            }
        }
    };
    let name_match = if consts.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        quote! {
            match self {
                #(#name_arms)*
                _ => ::core::option::Option::None,
            }
        }
    };
    let from_match = if distinct.is_empty() {
        quote!(match kind {})
    } else {
        quote! {
            match kind {
                #(#from_arms)*
            }
        }
    };
    let unknown_format = format!("{}({{}})", item.name);

    quote! {
        #doc
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
        )]
        #shm
        #[repr(transparent)]
        pub struct #name(
            /// The stored value; any value is valid, known ones have constants.
            pub #repr,
        );

        impl #name {
            #(#const_items)*

            /// The enumerator as a closed enum, or `None` for a value no enumerator has
            /// (written by a peer built from a newer IDL, for instance).
            pub const fn #kind_fn(self) -> ::core::option::Option<#kind_name> {
                #kind_match
            }

            /// The IDL name of the enumerator, or `None` for an unknown value.
            pub const fn #name_fn(self) -> ::core::option::Option<&'static ::core::primitive::str> {
                #name_match
            }
        }

        impl ::core::default::Default for #name {
            fn default() -> Self {
                #default
            }
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.#name_fn() {
                    ::core::option::Option::Some(name) => f.write_str(name),
                    ::core::option::Option::None => {
                        ::core::write!(f, #unknown_format, self.0)
                    }
                }
            }
        }

        #closed

        impl ::core::convert::From<#kind_name> for #name {
            fn from(kind: #kind_name) -> Self {
                #from_match
            }
        }

        impl ::core::convert::TryFrom<#name> for #kind_name {
            /// The value itself, when no enumerator has it.
            type Error = #name;
            fn try_from(value: #name) -> ::core::result::Result<Self, #name> {
                match value.#kind_fn() {
                    ::core::option::Option::Some(kind) => ::core::result::Result::Ok(kind),
                    ::core::option::Option::None => ::core::result::Result::Err(value),
                }
            }
        }
    }
}
