//! `#[shm(...)]` attributes.
//!
//! On the item: `#[shm(type_name = "pkg::msg::Foo")]` overrides the name recorded in the
//! descriptor (the bare identifier by default), and `#[shm(crate = "path")]` names the
//! `shmbus` crate when it is re-exported under another path. Any other key, and any
//! `#[shm]` on a field or variant, is an error.

use syn::{Attribute, LitStr};

use crate::ctxt::Ctxt;

/// The `#[shm(...)]` settings of the derived item.
pub(crate) struct Container {
    /// `type_name = "..."`: the name recorded in the descriptor.
    pub(crate) type_name: Option<LitStr>,
    /// `crate = "..."`: the path of the `shmbus` crate.
    pub(crate) krate: Option<syn::Path>,
}

impl Container {
    /// Parses the item's `#[shm(...)]` attributes, recording problems in `cx`.
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> Self {
        let mut type_name: Option<LitStr> = None;
        let mut krate: Option<syn::Path> = None;
        for attr in attrs.iter().filter(|a| a.path().is_ident("shm")) {
            // Problems with one key are recorded and parsing goes on with the next key, so
            // every problem is reported; only malformed syntax stops the attribute.
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("type_name") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if type_name.is_some() {
                        cx.push(meta.error("duplicate `#[shm(type_name)]`"));
                    } else if !valid_type_name(&lit.value()) {
                        cx.push(syn::Error::new(
                            lit.span(),
                            "`type_name` must be a non-empty path of identifiers such as \
                             \"geometry::Pose\"",
                        ));
                    } else {
                        type_name = Some(lit);
                    }
                } else if meta.path.is_ident("crate") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if krate.is_some() {
                        cx.push(meta.error("duplicate `#[shm(crate)]`"));
                    } else {
                        match lit.parse() {
                            Ok(path) => krate = Some(path),
                            Err(error) => cx.push(syn::Error::new(
                                lit.span(),
                                format!(
                                    "`crate` must be a path such as \"my_crate::shmbus\": {error}"
                                ),
                            )),
                        }
                    }
                } else {
                    let key = meta
                        .path
                        .get_ident()
                        .map_or_else(|| "this key".to_owned(), |i| format!("`{i}`"));
                    cx.push(meta.error(format!(
                        "unknown `#[shm]` key {key}; expected `type_name = \"...\"` or \
                         `crate = \"...\"`"
                    )));
                    skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = result {
                cx.push(error);
            }
        }
        Container { type_name, krate }
    }
}

/// Skips the value of an unknown key: `= expr`, `(...)` or nothing.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

/// Records an error for every `#[shm]` attribute in `attrs` (fields and variants take none).
pub(crate) fn reject_shm_attrs(cx: &mut Ctxt, attrs: &[Attribute], place: &str) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("shm")) {
        cx.error_spanned_by(
            attr,
            format!("`#[shm]` is not supported on {place}; put it on the struct or enum"),
        );
    }
}

/// `true` for `Foo` and `pkg::msg::Foo`: `::`-separated Rust-like identifiers.
fn valid_type_name(name: &str) -> bool {
    !name.is_empty()
        && name.split("::").all(|segment| {
            let mut chars = segment.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
}
