//! IDL `bitmask` -> a `#[repr(transparent)]` newtype with one constant per flag and the
//! bit operators.
//!
//! ```text
//! @bit_bound(8) bitmask Perm { READ, WRITE, @position(7) EXEC };
//! ```
//! becomes `pub struct Perm(pub u8)` with `Perm::READ == Perm(1 << 0)`, ...,
//! `empty()`, `all()`, `bits()`, `from_bits_retain()`, `contains()`, `insert()`,
//! `remove()`, `set()`, and `|`, `&`, `^`, `!` (complement within the known flags) with
//! their assigning forms. Like an enum it is open: unknown bits are kept, never an error.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use shmbus_idl::hir::{Bitmask, Item};

use super::names::{self, Namer};
use super::types::int;
use super::{Context, docs, values};

pub(crate) fn generate(cx: &Context<'_>, item: &Item, b: &Bitmask) -> TokenStream {
    let name = names::type_ident(&item.name);
    let scoped = item.scoped_name();
    let repr = int(b.repr);
    let doc = docs::attrs(&item.doc, &format!("IDL bitmask `{scoped}`."));
    let shm = cx.shm_attrs(item);
    // The descriptor names the flags by position, for tools that print and parse them.
    let named = b.flags.iter().map(|f| {
        let ident = names::ident(&f.name);
        let position = Literal::u32_unsuffixed(f.position);
        quote!(#ident = #position)
    });
    let shm = quote!(#shm #[shm(bitmask(#(#named),*))]);
    let bits_ty = b.repr.rust_name();

    let mut assoc = Namer::default();
    let flags: Vec<_> = b.flags.iter().map(|f| (assoc.unique(&f.name), f)).collect();
    let [
        empty,
        all,
        bits,
        from_bits_retain,
        contains,
        is_empty,
        insert,
        remove,
        set,
    ] = [
        "empty",
        "all",
        "bits",
        "from_bits_retain",
        "contains",
        "is_empty",
        "insert",
        "remove",
        "set",
    ]
    .map(|n| assoc.unique(n));

    let all_bits: u128 = b
        .flags
        .iter()
        .filter(|f| f.position < 64)
        .fold(0, |acc, f| acc | (1u128 << f.position));
    let all_lit = hex_literal(all_bits, bits_ty);
    let flag_consts = flags.iter().map(|(ident, f)| {
        let lit = hex_literal(1u128 << f.position.min(63), bits_ty);
        let lines = docs::lines(
            &f.doc,
            &format!("IDL flag `{}` (bit {}).", f.name, f.position),
        );
        let doc = names::doc_attrs(&lines);
        quote! {
            #doc
            pub const #ident: Self = Self(#lit);
        }
    });
    let debug_names = flags.iter().map(|(ident, f)| {
        let text = &f.name;
        quote!((Self::#ident, #text))
    });
    let zero = values::literal(&format!("0{bits_ty}"));
    let open = format!("{}(", item.name);

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
            /// The stored bits; unknown bits are kept.
            pub #repr,
        );

        impl #name {
            #(#flag_consts)*

            /// No flag set.
            pub const fn #empty() -> Self {
                Self(#zero)
            }

            /// Every known flag set.
            pub const fn #all() -> Self {
                Self(#all_lit)
            }

            /// The stored bits.
            pub const fn #bits(self) -> #repr {
                self.0
            }

            /// The bits as given, unknown ones included.
            pub const fn #from_bits_retain(bits: #repr) -> Self {
                Self(bits)
            }

            /// Whether every flag of `other` is set in `self`.
            pub const fn #contains(self, other: Self) -> ::core::primitive::bool {
                self.0 & other.0 == other.0
            }

            /// Whether no bit is set.
            pub const fn #is_empty(self) -> ::core::primitive::bool {
                self.0 == #zero
            }

            /// Sets the flags of `other`.
            pub fn #insert(&mut self, other: Self) {
                self.0 |= other.0;
            }

            /// Clears the flags of `other`.
            pub fn #remove(&mut self, other: Self) {
                self.0 &= !other.0;
            }

            /// Sets (`value == true`) or clears the flags of `other`.
            pub fn #set(&mut self, other: Self, value: ::core::primitive::bool) {
                if value {
                    self.#insert(other);
                } else {
                    self.#remove(other);
                }
            }
        }

        impl ::core::ops::BitOr for #name {
            type Output = Self;
            fn bitor(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }
        }
        impl ::core::ops::BitOrAssign for #name {
            fn bitor_assign(&mut self, other: Self) {
                self.0 |= other.0;
            }
        }
        impl ::core::ops::BitAnd for #name {
            type Output = Self;
            fn bitand(self, other: Self) -> Self {
                Self(self.0 & other.0)
            }
        }
        impl ::core::ops::BitAndAssign for #name {
            fn bitand_assign(&mut self, other: Self) {
                self.0 &= other.0;
            }
        }
        impl ::core::ops::BitXor for #name {
            type Output = Self;
            fn bitxor(self, other: Self) -> Self {
                Self(self.0 ^ other.0)
            }
        }
        impl ::core::ops::BitXorAssign for #name {
            fn bitxor_assign(&mut self, other: Self) {
                self.0 ^= other.0;
            }
        }
        impl ::core::ops::Not for #name {
            type Output = Self;
            /// The complement within the known flags.
            fn not(self) -> Self {
                Self(!self.0 & Self::#all().0)
            }
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let known: &[(Self, &::core::primitive::str)] = &[#(#debug_names),*];
                f.write_str(#open)?;
                let mut rest = self.0;
                let mut first = true;
                for (flag, name) in known {
                    if flag.0 != #zero && self.0 & flag.0 == flag.0 {
                        if !first {
                            f.write_str(" | ")?;
                        }
                        f.write_str(name)?;
                        rest &= !flag.0;
                        first = false;
                    }
                }
                if rest != #zero || first {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    ::core::write!(f, "{:#x}", rest)?;
                }
                f.write_str(")")
            }
        }
    }
}

/// `0x8u8`: a hexadecimal literal of integer type `ty`.
fn hex_literal(value: u128, ty: &str) -> Literal {
    values::literal(&format!("{value:#x}{ty}"))
}
