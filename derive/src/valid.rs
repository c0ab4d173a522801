//! What cannot live in shared memory: checks on the parsed item, each a spanned error
//! that says why and what to use instead.
//!
//! Field types are checked syntactically, by the last segment of their path (`String`,
//! `std::string::String` and `alloc::string::String` alike), and recursively inside
//! arrays, parentheses and generic arguments (`[String; 4]`, `FixedVec<Box<u8>, 4>`).
//! Anything these checks cannot see is caught by rustc, at the field, through the
//! `ShmMessage` bound that the expansion asserts for every field type.
//!
//! `PhantomData` is rejected: every field of a message appears in its descriptor, and a
//! marker field has nothing to describe; a type parameter used only as a marker is not
//! needed by a message.

use syn::{GenericArgument, GenericParam, PathArguments, Type};

use crate::ast::{Container, Data, Field};
use crate::attr::{self, IdlKind};
use crate::ctxt::Ctxt;
use crate::repr::MessageRepr;

/// Records every problem of `cont` in `cx`.
pub(crate) fn check(cx: &mut Ctxt, cont: &Container<'_>) {
    check_generics(cx, cont);
    check_idl_kind(cx, cont);
    match &cont.data {
        Data::Struct(fields) => {
            for field in fields {
                attr::reject_shm_attrs(cx, &field.original.attrs, "fields");
                check_type(cx, field.ty);
            }
        }
        Data::Enum(variants) => {
            if variants.is_empty() {
                cx.error_spanned_by(
                    cont.ident,
                    format!(
                        "enum `{}` has no variants, so no value of it can be sent; add at \
                         least one variant",
                        cont.ident
                    ),
                );
            }
            for variant in variants {
                attr::reject_shm_attrs(cx, &variant.original.attrs, "variants");
                if !variant.original.fields.is_empty() {
                    cx.error_spanned_by(
                        &variant.original.fields,
                        format!(
                            "enum variant `{}` carries data, which has no fixed layout a peer \
                             could rely on; shared-memory enums must be fieldless: use a \
                             `#[repr(C)]` struct holding a fieldless `#[repr(u8)]` enum as \
                             discriminator plus the fields",
                            variant.ident
                        ),
                    );
                }
            }
        }
    }
}

/// The integer primitive a field type names syntactically (`u32`, `core::primitive::u32`).
pub(crate) fn integer_name(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let name = path.path.segments.last()?.ident.to_string();
    matches!(
        name.as_str(),
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64"
    )
    .then_some(name)
}

/// `enumeration(...)` and `bitmask(...)` need a transparent struct of one integer;
/// `union(...)` a `repr(C)` struct whose fields after the first are exactly its branches.
fn check_idl_kind(cx: &mut Ctxt, cont: &Container<'_>) {
    let Some(kind) = &cont.attrs.kind else { return };
    let key = kind.key();
    let fields: &[Field<'_>] = match &cont.data {
        Data::Struct(fields) => fields,
        Data::Enum(_) => {
            cx.error_spanned_by(
                cont.ident,
                format!("`#[shm({key}(...))]` describes a struct; a Rust enum is an enum already"),
            );
            return;
        }
    };
    match kind {
        IdlKind::Enumeration(_) | IdlKind::Bitmask(_) => {
            let integer = match fields {
                [only] => integer_name(only.ty),
                _ => None,
            };
            let unsigned = integer.as_deref().is_some_and(|n| n.starts_with('u'));
            let fits = cont.repr == Some(MessageRepr::Transparent)
                && integer.is_some()
                && (unsigned || matches!(kind, IdlKind::Enumeration(_)));
            if !fits {
                let what = if matches!(kind, IdlKind::Bitmask(_)) {
                    "one unsigned integer field (`u8` to `u64`)"
                } else {
                    "one integer field (`u8` to `i64`)"
                };
                cx.error_spanned_by(
                    cont.ident,
                    format!("`#[shm({key}(...))]` needs a `#[repr(transparent)]` struct of {what}"),
                );
            }
        }
        IdlKind::Union(cases) => {
            if cont.repr != Some(MessageRepr::C) || fields.len() < 2 {
                cx.error_spanned_by(
                    cont.ident,
                    "`#[shm(union(...))]` needs a `#[repr(C)]` struct: the discriminator, \
                     then one field per branch",
                );
                return;
            }
            let branches: Vec<String> = fields[1..].iter().map(Field::name).collect();
            for (name, labels, default) in cases {
                let name_text = syn::ext::IdentExt::unraw(name).to_string();
                if !branches.contains(&name_text) {
                    cx.error_spanned_by(
                        name,
                        format!(
                            "`{name_text}` is not a branch: the branches are the fields after the \
                             discriminator `{}` ({})",
                            fields[0].name(),
                            branches.join(", ")
                        ),
                    );
                } else if labels.is_empty() && !default {
                    cx.error_spanned_by(name, format!("branch `{name_text}` has no label"));
                }
            }
            for branch in &branches {
                let n = cases
                    .iter()
                    .filter(|(name, _, _)| syn::ext::IdentExt::unraw(name) == branch)
                    .count();
                if n != 1 {
                    cx.error_spanned_by(
                        cont.ident,
                        format!(
                            "branch `{branch}` must appear once in `#[shm(union(...))]`, not {n} times"
                        ),
                    );
                }
            }
        }
    }
}

fn check_generics(cx: &mut Ctxt, cont: &Container<'_>) {
    for param in &cont.generics.params {
        if let GenericParam::Lifetime(lt) = param {
            cx.error_spanned_by(
                &lt.lifetime,
                format!(
                    "messages cannot borrow: `{}` would let `{}` hold a reference, which is an \
                     address in this process only; store the data inline (arrays, \
                     `FixedString<N>`, `FixedVec<T, N>`) and remove the lifetime",
                    lt.lifetime, cont.ident
                ),
            );
        }
    }
}

/// Checks one field type, recursing into element types and generic arguments.
fn check_type(cx: &mut Ctxt, ty: &Type) {
    match ty {
        Type::Array(array) => check_type(cx, &array.elem),
        Type::Paren(paren) => check_type(cx, &paren.elem),
        Type::Group(group) => check_type(cx, &group.elem),
        Type::Path(path) => {
            if path.qself.is_some() {
                return;
            }
            let Some(last) = path.path.segments.last() else {
                return;
            };
            if let Some(message) = forbidden_name(&last.ident.to_string()) {
                cx.error_spanned_by(ty, message);
                return;
            }
            for segment in &path.path.segments {
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Type(inner) = arg {
                            check_type(cx, inner);
                        }
                    }
                }
            }
        }
        Type::Reference(reference) => {
            let kind = if reference.mutability.is_some() {
                "&mut T"
            } else {
                "&T"
            };
            cx.error_spanned_by(
                ty,
                format!(
                    "a reference (`{kind}`) cannot be sent through shared memory: it is an \
                     address in this process, meaningless in another; store the value inline \
                     (a nested `#[derive(ShmMessage)]` struct, an array, `FixedString<N>` or \
                     `FixedVec<T, N>`)"
                ),
            );
        }
        Type::Ptr(_) => cx.error_spanned_by(
            ty,
            "a raw pointer cannot be sent through shared memory: it is an address in this \
             process, and the other process maps memory elsewhere; store the value inline, or \
             an index/offset (`u32`/`u64`) into data that is itself in the message",
        ),
        Type::BareFn(_) => cx.error_spanned_by(
            ty,
            "a function pointer cannot be sent through shared memory: it is a code address in \
             this process only; send a fieldless `#[repr(u8)]` enum that selects the action",
        ),
        Type::TraitObject(_) => cx.error_spanned_by(
            ty,
            "a trait object (`dyn Trait`) cannot be sent through shared memory: it is unsized \
             and carries a vtable pointer valid only in this process; use a concrete \
             `#[derive(ShmMessage)]` type",
        ),
        Type::ImplTrait(_) => cx.error_spanned_by(
            ty,
            "`impl Trait` cannot be a message field type; use a concrete \
             `#[derive(ShmMessage)]` type",
        ),
        Type::Tuple(tuple) => {
            let what = if tuple.elems.is_empty() {
                "the unit type `()`"
            } else {
                "a tuple"
            };
            cx.error_spanned_by(
                ty,
                format!(
                    "{what} cannot be a message field: tuples have no fixed layout (the \
                     compiler may reorder their fields); use a `#[repr(C)]` struct with \
                     `#[derive(ShmMessage)]`"
                ),
            );
        }
        Type::Slice(_) => cx.error_spanned_by(
            ty,
            "a slice is unsized and cannot be stored inline in a message; use an array \
             `[T; N]` or `FixedVec<T, N>`",
        ),
        Type::Never(_) => cx.error_spanned_by(
            ty,
            "the never type `!` has no values and cannot be a message field",
        ),
        // Macros, `_` and anything newer: rustc's `ShmMessage` check at the field decides.
        _ => {}
    }
}

/// The error for a field type whose path ends in `name`, if that name is known not to
/// fit in shared memory.
fn forbidden_name(name: &str) -> Option<String> {
    let heap = |what: &str| {
        format!(
            "`{what}` cannot be sent through shared memory: it is a heap handle, a pointer into \
             this process's heap; store the value inline (a nested `#[derive(ShmMessage)]` \
             struct, an array, or `FixedVec<T, N>`)"
        )
    };
    Some(match name {
        "String" => "`String` cannot be sent through shared memory: it points to heap memory \
                     of this process; use `FixedString<N>`, an inline UTF-8 string of at most \
                     `N` bytes"
            .to_owned(),
        "Vec" => "`Vec` cannot be sent through shared memory: it points to heap memory of this \
                  process; use `FixedVec<T, N>`, an inline vector of at most `N` elements"
            .to_owned(),
        "Option" => "`Option` has no fixed layout that another process could rely on; use \
                     `Optional<T>`, a present flag followed by the value"
            .to_owned(),
        "Box" | "Rc" | "Arc" => heap(name),
        "char" => "`char` cannot be a message field: it is 4 bytes in which most values are \
                   invalid; use `u8`/`u32` for a code unit or `FixedString<N>` for text"
            .to_owned(),
        "usize" | "isize" => {
            let (wide, narrow) = if name == "usize" {
                ("u64", "u32")
            } else {
                ("i64", "i32")
            };
            format!(
                "`{name}` cannot be a message field: its width differs between 32- and 64-bit \
                 peers; use `{wide}` or `{narrow}`"
            )
        }
        "str" => "`str` is unsized and cannot be stored inline in a message; use \
                  `FixedString<N>`"
            .to_owned(),
        "PhantomData" => "`PhantomData` is not supported in messages: every message field is \
                          listed in the type's descriptor, and a marker has nothing to \
                          describe; remove it (a message's type parameters must be used by \
                          real fields)"
            .to_owned(),
        _ => return None,
    })
}
