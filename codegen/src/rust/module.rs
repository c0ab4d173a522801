//! IDL `module` -> `pub mod`.
//!
//! A module opened several times appears once (the HIR merges openings). Every
//! top-level module and item gets `#[allow]` for the lints IDL names trip (see
//! [`names::allow_lints`]); the attribute on a module covers all its contents.

use proc_macro2::TokenStream;
use quote::quote;
use shmbus_idl::hir::{ModuleEntry, ModuleId};

use super::names::{self, Namer};
use super::{Context, docs};

/// The items and nested modules of module `id`, in source order.
pub(crate) fn contents(cx: &Context<'_>, id: ModuleId) -> TokenStream {
    let module = cx.hir.module(id);
    // Helper types the generator adds (closed enums) must not collide with IDL names.
    let mut namer = Namer::default();
    for entry in &module.entries {
        match *entry {
            ModuleEntry::Module(m) => namer.reserve(&names::rust_name(&cx.hir.module(m).name)),
            ModuleEntry::Item(i) => namer.reserve(&super::types::item_name(cx.hir.item(i))),
        }
    }
    let entries = module.entries.iter().map(|entry| match *entry {
        ModuleEntry::Module(m) => nested(cx, m),
        ModuleEntry::Item(i) => super::item(cx, i, &mut namer),
    });
    quote!(#(#entries)*)
}

fn nested(cx: &Context<'_>, id: ModuleId) -> TokenStream {
    let module = cx.hir.module(id);
    let name = names::ident(&module.name);
    let doc = docs::attrs(
        &module.doc,
        &format!("IDL module `{}`.", module.scoped_name()),
    );
    let body = contents(cx, id);
    quote! {
        #doc
        pub mod #name {
            #body
        }
    }
}
