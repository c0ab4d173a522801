//! IDL `bitset` -> integer storage in a `#[repr(transparent)]` newtype, with a getter
//! and a setter per bit field.
//!
//! ```text
//! bitset Flags { bitfield<1> on; bitfield<3>; bitfield<4, short> level; };
//! ```
//! becomes `pub struct Flags(pub u8)` with `on() -> Boolean` (bit 0), `level() -> i16`
//! (bits 4..8, zero-extended) and `set_on`, `set_level`, which store the low `width`
//! bits of the value and leave every other bit alone. Anonymous bit fields are padding:
//! they only move the offset. A base bitset's fields come first, as in the HIR.

use proc_macro2::TokenStream;
use quote::quote;
use shmbus_idl::hir::{Bitfield, Bitset, IntRepr, Item, Primitive};

use super::names::{self, Namer};
use super::types::{int, primitive};
use super::{Context, docs, values};

pub(crate) fn generate(cx: &Context<'_>, item: &Item, b: &Bitset) -> TokenStream {
    let krate = &cx.krate;
    let name = names::type_ident(&item.name);
    let scoped = item.scoped_name();
    let storage = int(b.storage);
    let doc = docs::attrs(&item.doc, &format!("IDL bitset `{scoped}`."));
    let shm = cx.shm_attrs(item);

    let mut assoc = Namer::default();
    let fields: Vec<_> = b
        .fields
        .iter()
        .map(|f| (assoc.unique(&f.name), f))
        .collect();
    let setters: Vec<_> = fields
        .iter()
        .map(|(_, f)| assoc.unique(&format!("set_{}", f.name)))
        .collect();

    let accessors = fields.iter().zip(&setters).map(|((getter, f), setter)| {
        let ty = field_type(cx, f);
        let field_mask = mask(f) << f.offset;
        let field_mask_lit = values::literal(&format!("{field_mask:#x}{}", b.storage.rust_name()));
        let low_mask = values::literal(&format!("{:#x}{}", mask(f), b.storage.rust_name()));
        let shift = proc_macro2::Literal::u32_unsuffixed(f.offset);
        let storage_bits = b.storage.bits();

        // Precedence is spelled out with parentheses inside binary operands only (never
        // around a whole expression, which `unused_parens` would flag).
        let mut raw = Expr::atom(quote!(self.0));
        if f.offset > 0 {
            let operand = raw.operand();
            raw = Expr::compound(quote!(#operand >> #shift));
        }
        if f.offset + f.width < storage_bits {
            let operand = raw.operand();
            raw = Expr::compound(quote!(#operand & #low_mask));
        }
        let (get, put) = match int_repr_of(f) {
            None => {
                let operand = raw.operand();
                (
                    Expr::atom(quote!(#krate::Boolean::new(#operand != 0))),
                    cast(Expr::atom(quote!(value.get())), None, b.storage),
                )
            }
            Some(repr) => (
                cast(raw, Some(b.storage), repr),
                cast(Expr::atom(quote!(value)), Some(repr), b.storage),
            ),
        };
        let get = get.tokens;
        let mut stored = put;
        if f.offset > 0 {
            let operand = stored.operand();
            stored = Expr::compound(quote!(#operand << #shift));
        }
        // A field that fills the storage replaces it (masking would be `x & 0`).
        let store = if f.offset == 0 && f.width >= storage_bits {
            let stored = stored.tokens;
            quote!(self.0 = #stored;)
        } else {
            let operand = stored.operand();
            quote!(self.0 = (self.0 & !#field_mask_lit) | (#operand & #field_mask_lit);)
        };
        let end = f.offset + f.width;
        let lines = docs::lines(
            &f.doc,
            &format!("IDL bit field `{}`: bits {}..{} ({} bits).", f.name, f.offset, end, f.width),
        );
        let getter_doc = names::doc_attrs(&lines);
        let setter_doc = format!(
            " Stores the low {} bits of `value` in bits {}..{} (`{}`); the other bits are unchanged.",
            f.width, f.offset, end, f.name
        );
        quote! {
            #getter_doc
            pub const fn #getter(self) -> #ty {
                #get
            }

            #[doc = #setter_doc]
            pub fn #setter(&mut self, value: #ty) {
                #store
            }
        }
    });
    let debug_fields = fields.iter().map(|(getter, f)| {
        let text = &f.name;
        quote!(.field(#text, &self.#getter()))
    });
    let type_name = &item.name;
    let total = format!(
        " The storage: {} bits used (padding included) of a `{}`.",
        b.total_bits,
        b.storage.rust_name()
    );

    quote! {
        #doc
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            ::core::default::Default,
        )]
        #shm
        #[repr(transparent)]
        pub struct #name(
            #[doc = #total]
            pub #storage,
        );

        impl #name {
            #(#accessors)*
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#type_name)
                    #(#debug_fields)*
                    .finish()
            }
        }
    }
}

/// The getter's type: the destination type (integers and `boolean`).
fn field_type(cx: &Context<'_>, f: &Bitfield) -> TokenStream {
    match f.ty {
        Primitive::Float32 | Primitive::Float64 | Primitive::LongDoubleOpaque => {
            // Not a legal destination type; the front end rejects it. Fall back to the
            // unsigned type of the width so the output still compiles.
            int(IntRepr::unsigned_for_bits(f.width))
        }
        other => primitive(cx, other),
    }
}

/// The integer repr of the getter's type, `None` for `boolean`.
fn int_repr_of(f: &Bitfield) -> Option<IntRepr> {
    match f.ty {
        Primitive::Boolean => None,
        Primitive::Float32 | Primitive::Float64 | Primitive::LongDoubleOpaque => {
            Some(IntRepr::unsigned_for_bits(f.width))
        }
        other => other.int_repr(),
    }
}

/// `width` low bits set.
fn mask(f: &Bitfield) -> u128 {
    (1u128 << f.width.min(64)) - 1
}

/// An expression and whether it needs parentheses as an operand.
struct Expr {
    tokens: TokenStream,
    atom: bool,
}

impl Expr {
    fn atom(tokens: TokenStream) -> Self {
        Expr { tokens, atom: true }
    }

    fn compound(tokens: TokenStream) -> Self {
        Expr {
            tokens,
            atom: false,
        }
    }

    /// The expression as an operand of a binary operator or a cast.
    fn operand(&self) -> TokenStream {
        let tokens = &self.tokens;
        if self.atom {
            tokens.clone()
        } else {
            quote!((#tokens))
        }
    }
}

/// `value as to`, or `value` when it already has that type (`from == Some(to)`); a
/// `bool` (`from == None`) becomes 0 or 1.
fn cast(value: Expr, from: Option<IntRepr>, to: IntRepr) -> Expr {
    if from == Some(to) {
        value
    } else {
        let operand = value.operand();
        let to = int(to);
        Expr::compound(quote!(#operand as #to))
    }
}
