//! The Rust mapping: one file per IDL construct, plus names, type references, values
//! and documentation shared by all of them.
//!
//! Everything here reads the [`Hir`] only and returns tokens; nothing does I/O.

mod bitmask;
mod bitset;
mod consts;
mod docs;
mod enums;
mod module;
pub(crate) mod names;
mod structs;
mod typedef;
pub(crate) mod types;
mod union;
mod values;

use proc_macro2::TokenStream;
use quote::{ToTokens as _, quote};
use shmbus_idl::hir::{Hir, Item, ItemId, ItemKind};

use names::Namer;

/// What the constructs need to know about the whole model while generating one item.
pub(crate) struct Context<'a> {
    /// The model.
    pub(crate) hir: &'a Hir,
    /// The path of the `shmbus` crate (`::shmbus` unless re-exported).
    pub(crate) krate: TokenStream,
    /// `#[shm(crate = "...")]` when the crate path is not the default, else nothing.
    pub(crate) shm_crate_attr: TokenStream,
}

impl<'a> Context<'a> {
    pub(crate) fn new(hir: &'a Hir, crate_path: &str) -> Self {
        let crate_path = crate_path.trim();
        let (krate, shm_crate_attr) = if crate_path.is_empty() || crate_path == "::shmbus" {
            (quote!(::shmbus), TokenStream::new())
        } else {
            let tokens: TokenStream = crate_path.parse().unwrap_or_else(|_| quote!(::shmbus));
            (tokens, quote!(#[shm(crate = #crate_path)]))
        };
        Context {
            hir,
            krate,
            shm_crate_attr,
        }
    }

    /// The attributes every generated message type carries: the `ShmMessage` derive with
    /// its IDL scoped name, and the crate path when overridden.
    pub(crate) fn shm_attrs(&self, item: &Item) -> TokenStream {
        let krate = &self.krate;
        let type_name = item.scoped_name();
        let crate_attr = &self.shm_crate_attr;
        quote! {
            #[derive(#krate::ShmMessage)]
            #[shm(type_name = #type_name)]
            #crate_attr
        }
    }
}

/// The Rust tokens of the whole model: the global scope's items and one `pub mod` per
/// top-level IDL module.
pub(crate) fn file(cx: &Context<'_>) -> TokenStream {
    let tokens = module::contents(cx, Hir::ROOT);
    // The file is `include!`d, so it cannot carry an inner `#![allow]`: every top-level
    // item (struct, impl, const, module) gets the attribute itself.
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(mut file) => {
            let meta = names::allow_lints_meta();
            for item in &mut file.items {
                if let Some(attrs) = attrs_mut(item) {
                    attrs.insert(0, syn::parse_quote!(#[#meta]));
                }
            }
            file.into_token_stream()
        }
        // Not a file: `generate` reports it.
        Err(_) => tokens,
    }
}

fn attrs_mut(item: &mut syn::Item) -> Option<&mut Vec<syn::Attribute>> {
    Some(match item {
        syn::Item::Const(i) => &mut i.attrs,
        syn::Item::Enum(i) => &mut i.attrs,
        syn::Item::Fn(i) => &mut i.attrs,
        syn::Item::Impl(i) => &mut i.attrs,
        syn::Item::Mod(i) => &mut i.attrs,
        syn::Item::Static(i) => &mut i.attrs,
        syn::Item::Struct(i) => &mut i.attrs,
        syn::Item::Trait(i) => &mut i.attrs,
        syn::Item::Type(i) => &mut i.attrs,
        syn::Item::Union(i) => &mut i.attrs,
        syn::Item::Use(i) => &mut i.attrs,
        _ => return None,
    })
}

/// The tokens of one item, placed in module `scope`, using the names `namer` handed out
/// for generated helper types (so they cannot collide with IDL names).
fn item(cx: &Context<'_>, id: ItemId, namer: &mut Namer) -> TokenStream {
    let item = cx.hir.item(id);
    match &item.kind {
        ItemKind::Struct(s) => structs::generate(cx, item, s),
        ItemKind::Enum(e) => enums::generate(cx, item, e, namer),
        ItemKind::Bitmask(b) => bitmask::generate(cx, item, b),
        ItemKind::Bitset(b) => bitset::generate(cx, item, b),
        ItemKind::Union(u) => union::generate(cx, item, u, namer),
        ItemKind::Typedef(t) => typedef::generate(cx, item, t),
        ItemKind::Const(c) => consts::generate(cx, item, c),
    }
}

#[cfg(test)]
mod tests;
