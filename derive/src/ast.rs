//! The derive's own view of the input item, with back-pointers to the syn nodes.

use proc_macro2::Ident;
use syn::ext::IdentExt;
use syn::{DeriveInput, Generics, Member, Type};

use crate::attr;
use crate::ctxt::Ctxt;
use crate::repr::{self, MessageRepr, ReprTarget};

/// The item `#[derive(ShmMessage)]` is applied to.
pub(crate) struct Container<'a> {
    /// The type's name.
    pub(crate) ident: &'a Ident,
    /// Its generics, as written.
    pub(crate) generics: &'a Generics,
    /// `#[shm(...)]` settings.
    pub(crate) attrs: attr::Container,
    /// The layout, `None` when the `repr` is not a legal message repr (an error has then
    /// been recorded).
    pub(crate) repr: Option<MessageRepr>,
    /// Fields or variants.
    pub(crate) data: Data<'a>,
}

/// The body of the item.
pub(crate) enum Data<'a> {
    /// A struct (named, tuple or unit) and its fields in declaration order.
    Struct(Vec<Field<'a>>),
    /// An enum and its variants in declaration order.
    Enum(Vec<Variant<'a>>),
}

/// A struct field.
pub(crate) struct Field<'a> {
    /// How the field is accessed: `x` or `0`.
    pub(crate) member: Member,
    /// The field's type as written.
    pub(crate) ty: &'a Type,
    /// The syn node.
    pub(crate) original: &'a syn::Field,
}

impl Field<'_> {
    /// The name recorded in the descriptor: the identifier without `r#`, or the index of
    /// a tuple field (`"0"`, `"1"`).
    pub(crate) fn name(&self) -> String {
        match &self.member {
            Member::Named(ident) => ident.unraw().to_string(),
            Member::Unnamed(index) => index.index.to_string(),
        }
    }
}

/// An enum variant.
pub(crate) struct Variant<'a> {
    /// The variant's name.
    pub(crate) ident: &'a Ident,
    /// The syn node (its fields, which must be empty, and attributes).
    pub(crate) original: &'a syn::Variant,
}

impl<'a> Container<'a> {
    /// Builds the container from syn's input, recording attribute and `repr` problems in
    /// `cx`. Returns `None` for a union, which cannot be a message at all.
    pub(crate) fn from_ast(cx: &mut Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_attrs(cx, &input.attrs);
        let (data, target) = match &input.data {
            syn::Data::Struct(data) => {
                let fields = data
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, field)| Field {
                        member: match &field.ident {
                            Some(ident) => Member::Named(ident.clone()),
                            None => Member::Unnamed(syn::Index {
                                index: i as u32,
                                span: syn::spanned::Spanned::span(&field.ty),
                            }),
                        },
                        ty: &field.ty,
                        original: field,
                    })
                    .collect();
                (Data::Struct(fields), ReprTarget::Struct)
            }
            syn::Data::Enum(data) => {
                let variants = data
                    .variants
                    .iter()
                    .map(|variant| Variant {
                        ident: &variant.ident,
                        original: variant,
                    })
                    .collect();
                (Data::Enum(variants), ReprTarget::Enum)
            }
            syn::Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "a union cannot be a shared-memory message: the receiver cannot know which \
                     field is valid, so reading it could be undefined behaviour; use a \
                     `#[repr(C)]` struct with a fieldless `#[repr(u8)]` enum as discriminator \
                     and one field per case",
                );
                return None;
            }
        };
        let repr = repr::parse(cx, &input.attrs, &input.ident, target);
        Some(Container {
            ident: &input.ident,
            generics: &input.generics,
            attrs,
            repr,
            data,
        })
    }
}
