//! IDL `typedef` -> `pub type`.
//!
//! `typedef long Matrix[3][3];` becomes `pub type Matrix = [[i32; 3]; 3];`: an alias, so
//! the descriptor of a member declared through a typedef is the aliased type's, exactly
//! as if it had been written out.

use proc_macro2::TokenStream;
use quote::quote;
use shmbus_idl::hir::{Item, Typedef};

use super::names;
use super::types::rust_type;
use super::{Context, docs};

pub(crate) fn generate(cx: &Context<'_>, item: &Item, t: &Typedef) -> TokenStream {
    let name = names::type_ident(&item.name);
    let ty = rust_type(cx, item.module, &t.ty);
    let doc = docs::attrs(&item.doc, &format!("IDL typedef `{}`.", item.scoped_name()));
    quote! {
        #doc
        pub type #name = #ty;
    }
}
