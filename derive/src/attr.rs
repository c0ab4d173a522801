//! `#[shm(...)]` attributes.
//!
//! On the item: `#[shm(type_name = "pkg::msg::Foo")]` overrides the name recorded in the
//! descriptor (the bare identifier by default), and `#[shm(crate = "path")]` names the
//! `shmbus` crate when it is re-exported under another path.
//!
//! Three keys give a struct a kind of its own in its descriptor, as IDL has them (the IDL
//! compiler emits them; a hand-written type that should match an IDL one writes them too):
//!
//! - `#[shm(enumeration(IDLE = 0, DRIVING = 1))]` on a `#[repr(transparent)]` struct of one
//!   integer: an open enum (any value valid, these ones named);
//! - `#[shm(bitmask(MOTORS = 0, LIDAR = 1))]` on a `#[repr(transparent)]` struct of one
//!   unsigned integer: named bits, by position;
//! - `#[shm(union(circle = 0, label = [2, 3], other = default))]` on a `#[repr(C)]` struct
//!   whose first field is the discriminator: which discriminator values select which of
//!   the other fields (`default`, alone or in a list, is the `default:` case).
//!
//! Any other key, and any `#[shm]` on a field or variant, is an error.

use syn::{Attribute, Expr, Ident, LitStr};

use crate::ctxt::Ctxt;

/// The `#[shm(...)]` settings of the derived item.
pub(crate) struct Container {
    /// `type_name = "..."`: the name recorded in the descriptor.
    pub(crate) type_name: Option<LitStr>,
    /// `crate = "..."`: the path of the `shmbus` crate.
    pub(crate) krate: Option<syn::Path>,
    /// `enumeration(...)`, `bitmask(...)` or `union(...)`: the IDL kind of the struct.
    pub(crate) kind: Option<IdlKind>,
}

/// An IDL kind given with `#[shm(...)]`.
pub(crate) enum IdlKind {
    /// Named values of an open enum: (name, value).
    Enumeration(Vec<(Ident, Expr)>),
    /// Named bits: (name, position).
    Bitmask(Vec<(Ident, Expr)>),
    /// Per branch (a field name): its labels, and whether it is the default case.
    Union(Vec<(Ident, Vec<Expr>, bool)>),
}

impl IdlKind {
    /// The key's name, for messages.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            IdlKind::Enumeration(_) => "enumeration",
            IdlKind::Bitmask(_) => "bitmask",
            IdlKind::Union(_) => "union",
        }
    }
}

/// Parses `(NAME = expr, ...)`.
fn named_exprs(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Vec<(Ident, Expr)>> {
    let mut out = Vec::new();
    meta.parse_nested_meta(|inner| {
        let name = inner.path.require_ident()?.clone();
        let value: Expr = inner.value()?.parse()?;
        out.push((name, value));
        Ok(())
    })?;
    Ok(out)
}

/// Parses `(branch = label, branch = [label, ...], branch = default, ...)`.
fn union_cases(
    meta: &syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<Vec<(Ident, Vec<Expr>, bool)>> {
    let is_default = |e: &Expr| matches!(e, Expr::Path(p) if p.path.is_ident("default"));
    let mut out = Vec::new();
    meta.parse_nested_meta(|inner| {
        let name = inner.path.require_ident()?.clone();
        let value: Expr = inner.value()?.parse()?;
        let items: Vec<Expr> = match value {
            Expr::Array(array) => array.elems.into_iter().collect(),
            other => vec![other],
        };
        let default = items.iter().any(is_default);
        let labels = items.into_iter().filter(|e| !is_default(e)).collect();
        out.push((name, labels, default));
        Ok(())
    })?;
    Ok(out)
}

impl Container {
    /// Parses the item's `#[shm(...)]` attributes, recording problems in `cx`.
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> Self {
        let mut type_name: Option<LitStr> = None;
        let mut krate: Option<syn::Path> = None;
        let mut kind: Option<IdlKind> = None;
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
                } else if meta.path.is_ident("enumeration")
                    || meta.path.is_ident("bitmask")
                    || meta.path.is_ident("union")
                {
                    let parsed = if meta.path.is_ident("enumeration") {
                        IdlKind::Enumeration(named_exprs(&meta)?)
                    } else if meta.path.is_ident("bitmask") {
                        IdlKind::Bitmask(named_exprs(&meta)?)
                    } else {
                        IdlKind::Union(union_cases(&meta)?)
                    };
                    if let Some(first) = &kind {
                        cx.push(meta.error(format!(
                            "`#[shm({})]` and `#[shm({})]` cannot both describe one type",
                            first.key(),
                            parsed.key()
                        )));
                    } else {
                        kind = Some(parsed);
                    }
                } else {
                    let key = meta
                        .path
                        .get_ident()
                        .map_or_else(|| "this key".to_owned(), |i| format!("`{i}`"));
                    cx.push(meta.error(format!(
                        "unknown `#[shm]` key {key}; expected `type_name = \"...\"`, \
                         `crate = \"...\"`, `enumeration(...)`, `bitmask(...)` or `union(...)`"
                    )));
                    skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = result {
                cx.push(error);
            }
        }
        Container {
            type_name,
            krate,
            kind,
        }
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
