//! `#[repr(...)]`, parsed into the representations a message may have.
//!
//! Only legal states exist after parsing: a struct is [`MessageRepr::C`] or
//! [`MessageRepr::Transparent`], an enum is [`MessageRepr::Int`]. `align(N)` is accepted
//! beside `C` (the layout stays fixed); `packed`, `Rust`, `usize`/`isize` and 128-bit
//! integers are spanned errors here, not checks later.

use proc_macro2::{Ident, Span};
use syn::{Attribute, LitInt};

use crate::ctxt::Ctxt;

/// How a message type is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageRepr {
    /// `#[repr(C)]` struct (optionally with `align(N)`).
    C,
    /// `#[repr(transparent)]` struct.
    Transparent,
    /// Fieldless enum with an explicit integer repr.
    Int(IntRepr),
}

/// The integer types an enum's discriminant may be stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntRepr {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
}

impl IntRepr {
    fn from_ident(ident: &Ident) -> Option<Self> {
        Some(match ident.to_string().as_str() {
            "u8" => IntRepr::U8,
            "u16" => IntRepr::U16,
            "u32" => IntRepr::U32,
            "u64" => IntRepr::U64,
            "i8" => IntRepr::I8,
            "i16" => IntRepr::I16,
            "i32" => IntRepr::I32,
            "i64" => IntRepr::I64,
            _ => return None,
        })
    }

    /// The name of the matching `shmbus::message::Primitive` variant.
    pub(crate) fn primitive_variant(self) -> &'static str {
        match self {
            IntRepr::U8 => "U8",
            IntRepr::U16 => "U16",
            IntRepr::U32 => "U32",
            IntRepr::U64 => "U64",
            IntRepr::I8 => "I8",
            IntRepr::I16 => "I16",
            IntRepr::I32 => "I32",
            IntRepr::I64 => "I64",
        }
    }
}

/// What kind of item the `repr` belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReprTarget {
    Struct,
    Enum,
}

/// The `repr` words seen on an item, before deciding whether they form a legal state.
#[derive(Default)]
struct Seen {
    c: Option<Span>,
    transparent: Option<Span>,
    rust: Option<Span>,
    int: Option<(IntRepr, Span)>,
    /// An error was already reported for a `repr` word (packed, usize, ...): do not add a
    /// "missing repr" error on top of it.
    reported: bool,
}

const USE_REPR_C: &str = "use `#[repr(C)]`";

/// Parses every `#[repr(...)]` in `attrs` for an item `ident` of kind `target`.
/// Returns `None` (with errors recorded in `cx`) when the item has no legal message repr.
pub(crate) fn parse(
    cx: &mut Ctxt,
    attrs: &[Attribute],
    ident: &Ident,
    target: ReprTarget,
) -> Option<MessageRepr> {
    let mut seen = Seen::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let result = attr.parse_nested_meta(|meta| {
            let Some(word) = meta.path.get_ident() else {
                return Err(meta.error("unsupported `repr`"));
            };
            let span = word.span();
            match word.to_string().as_str() {
                "C" => seen.c = Some(span),
                "transparent" => seen.transparent = Some(span),
                "Rust" => seen.rust = Some(span),
                "align" => {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    content.parse::<LitInt>()?;
                }
                "packed" => {
                    if meta.input.peek(syn::token::Paren) {
                        let content;
                        syn::parenthesized!(content in meta.input);
                        content.parse::<LitInt>()?;
                    }
                    seen.reported = true;
                    cx.push(syn::Error::new(
                        span,
                        format!(
                            "`#[repr(packed)]` cannot be used for a shared-memory message: it \
                             leaves fields unaligned, and a reference to an unaligned field is \
                             undefined behaviour; {USE_REPR_C} (add explicit padding fields if \
                             you need a particular layout)"
                        ),
                    ));
                }
                "usize" | "isize" => {
                    seen.reported = true;
                    cx.push(syn::Error::new(
                        span,
                        format!(
                            "`#[repr({word})]` cannot be used for a shared-memory message: its \
                             width differs between 32- and 64-bit peers; use `#[repr({})]` or \
                             `#[repr({})]`",
                            if word == "usize" { "u64" } else { "i64" },
                            if word == "usize" { "u32" } else { "i32" },
                        ),
                    ));
                }
                "u128" | "i128" => {
                    seen.reported = true;
                    cx.push(syn::Error::new(
                        span,
                        format!(
                            "`#[repr({word})]` is not supported for messages: discriminants are \
                             at most 64 bits wide; use `#[repr({})]` or smaller",
                            if word == "u128" { "u64" } else { "i64" },
                        ),
                    ));
                }
                _ => match IntRepr::from_ident(word) {
                    Some(int) => seen.int = Some((int, span)),
                    None => return Err(meta.error(format!("unsupported `repr({word})`"))),
                },
            }
            Ok(())
        });
        if let Err(error) = result {
            seen.reported = true;
            cx.push(error);
        }
    }
    resolve(cx, &seen, ident, target)
}

fn resolve(cx: &mut Ctxt, seen: &Seen, ident: &Ident, target: ReprTarget) -> Option<MessageRepr> {
    match target {
        ReprTarget::Struct => {
            if let Some((_, span)) = seen.int {
                cx.push(syn::Error::new(
                    span,
                    format!("an integer `repr` applies only to enums; {USE_REPR_C} on a struct"),
                ));
                None
            } else if seen.transparent.is_some() {
                Some(MessageRepr::Transparent)
            } else if seen.c.is_some() {
                (!seen.reported).then_some(MessageRepr::C)
            } else {
                if !seen.reported {
                    let why = "the default Rust layout may reorder fields and change between \
                               compiler versions, so another process could read them at other \
                               offsets";
                    match seen.rust {
                        Some(span) => cx.push(syn::Error::new(
                            span,
                            format!(
                                "`#[repr(Rust)]` cannot be used for a shared-memory message: \
                                 {why}; {USE_REPR_C}"
                            ),
                        )),
                        None => cx.error_spanned_by(
                            ident,
                            format!(
                                "`#[derive(ShmMessage)]` needs `#[repr(C)]` on `{ident}`: {why}; \
                                 add `#[repr(C)]` (or `#[repr(transparent)]` for a wrapper of \
                                 one field)"
                            ),
                        ),
                    }
                }
                None
            }
        }
        ReprTarget::Enum => {
            if let Some((int, _)) = seen.int {
                (!seen.reported).then_some(MessageRepr::Int(int))
            } else {
                if !seen.reported {
                    let span = seen
                        .c
                        .or(seen.transparent)
                        .or(seen.rust)
                        .unwrap_or_else(|| ident.span());
                    cx.push(syn::Error::new(
                        span,
                        format!(
                            "`#[derive(ShmMessage)]` needs an explicit integer repr on enum \
                             `{ident}`: without one the discriminant's size is chosen by the \
                             compiler (or is a C `int` for `#[repr(C)]`); add `#[repr(u8)]`, \
                             `#[repr(i32)]` or another fixed-width integer"
                        ),
                    ));
                }
                None
            }
        }
    }
}
