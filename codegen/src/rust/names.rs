//! Rust-safe spellings of IDL names.
//!
//! IDL names are kept as written (`frame_id`, `MAX_LEN`, `robot_msgs`), so a reader finds
//! the IDL declaration from the Rust name and back; the case lints are silenced on the
//! generated items instead (see [`ALLOW_CASE_LINTS`]). What Rust cannot take as-is:
//!
//! - strict and reserved keywords (`type`, `match`, `async`, `yield`, `abstract`, ...)
//!   become raw identifiers: `r#type`;
//! - `self`, `super`, `crate` and `Self` cannot be raw identifiers, so they get a `_`
//!   suffix: `self_`;
//! - `_` alone is not a name; it becomes `_0`.
//!
//! Collisions between names that Rust would see as one (an IDL name `self_` next to an
//! escaped `self`) are resolved by [`Namer`], which appends further `_`s.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// Keywords that make an identifier unusable unless written as a raw identifier
/// (strict keywords, reserved keywords and the edition-2018+ keywords).
const RAW_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot even be raw identifiers.
const SUFFIXED_KEYWORDS: &[&str] = &["self", "Self", "super", "crate"];

/// The `allow(...)` for the lints that IDL names trip by design, put on every top-level
/// generated item and module (it covers what is inside).
///
/// IDL names are kept as written, so rustc's case lints and clippy's acronym lint fire on
/// them (`MAX_LEN` as a type, `RED` as a variant); enumerators such as `COLOR_RED,
/// COLOR_GREEN` share a prefix; an IDL module may have its parent's name; accessors are
/// named after IDL members, which may start with `to_` or `into_`; IDL types nest
/// (`sequence<sequence<T, 4>, 2> a[5][50]`) deeper than clippy likes; and an IDL
/// constant `3.14159` is a value someone wrote, not a misspelt `f64::consts::PI`.
///
/// A crate includes a whole IDL file but uses what it needs: items it does not use must
/// not warn (`dead_code`), nor the `pub` items of a private module it includes them in
/// (`unreachable_pub`), nor items whose IDL has no comment to turn into docs
/// (`missing_docs`). The fixture crate `tests/fixtures/idl-unused` keeps this true.
pub(crate) fn allow_lints_meta() -> TokenStream {
    quote! {
        allow(
            dead_code,
            unreachable_pub,
            missing_docs,
            non_camel_case_types,
            non_snake_case,
            non_upper_case_globals,
            clippy::upper_case_acronyms,
            clippy::enum_variant_names,
            clippy::module_inception,
            clippy::wrong_self_convention,
            clippy::type_complexity,
            clippy::approx_constant
        )
    }
}

/// Type names a generated type cannot take: Rust's primitive types (the `ShmMessage`
/// derive and std's derives spell some of them unqualified, so a local type of that
/// name would shadow them) and the std types the derive rejects by name (`String`,
/// `Option`, ...). Such an IDL type gets a `_` suffix (`String_`); its descriptor keeps
/// the IDL name.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "bool",
    "char",
    "str",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
    "String",
    "Vec",
    "Option",
    "Box",
    "Rc",
    "Arc",
    "PhantomData",
];

/// The Rust spelling of the name of a generated type (struct, enum, bitmask, bitset,
/// union, typedef).
pub(crate) fn type_name(idl: &str) -> String {
    if RESERVED_TYPE_NAMES.contains(&idl) {
        format!("{idl}_")
    } else {
        rust_name(idl)
    }
}

/// The identifier of a generated type.
pub(crate) fn type_ident(idl: &str) -> Ident {
    to_ident(&type_name(idl))
}

/// The Rust spelling of an IDL name, as text (`r#type`, `self_`, `Pose`).
pub(crate) fn rust_name(idl: &str) -> String {
    if SUFFIXED_KEYWORDS.contains(&idl) {
        format!("{idl}_")
    } else if RAW_KEYWORDS.contains(&idl) {
        format!("r#{idl}")
    } else if idl == "_" || idl.is_empty() {
        "_0".to_owned()
    } else {
        idl.to_owned()
    }
}

/// The Rust identifier for an IDL name (a raw identifier where needed).
pub(crate) fn ident(idl: &str) -> Ident {
    to_ident(&rust_name(idl))
}

pub(crate) fn to_ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// Hands out names unique within one Rust namespace, appending `_` on a collision.
#[derive(Debug, Default)]
pub(crate) struct Namer {
    taken: BTreeSet<String>,
}

impl Namer {
    /// A namer where `reserved` are already taken.
    pub(crate) fn with_reserved(reserved: &[&str]) -> Self {
        Namer {
            taken: reserved.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Marks `name` (a Rust spelling without `r#`) as taken, without checking.
    pub(crate) fn reserve(&mut self, name: &str) {
        self.taken.insert(unraw(name).to_owned());
    }

    /// A unique name for `wanted` (an IDL or generator name): `wanted` escaped, or with
    /// `_` appended until it collides with nothing taken so far.
    pub(crate) fn unique(&mut self, wanted: &str) -> Ident {
        let mut candidate = wanted.to_owned();
        loop {
            let spelled = rust_name(&candidate);
            if self.taken.insert(unraw(&spelled).to_owned()) {
                return ident(&candidate);
            }
            candidate.push('_');
        }
    }
}

fn unraw(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// Turns IDL comment text into doc-comment lines that rustdoc shows as prose.
///
/// Lines are trimmed (IDL comments are often indented, which Markdown would take for a
/// code block and rustdoc would then try to run as a doctest), and code fences are
/// neutralised for the same reason. Blank lines at both ends are dropped.
pub(crate) fn doc_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let line = line.trim();
            // What is left of `///`, `//!`, `/**` and ` * ` comment markers.
            let line = line
                .strip_prefix(['/', '*', '!'])
                .map_or(line, str::trim_start);
            escape_block_marker(&escape_inline(
                &line.replace("```", "'''").replace("~~~", "'''"),
            ))
        })
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let first = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    lines.drain(..first);
    lines
}

/// Escapes what rustdoc would read as something else than prose: `[x]` (an intra-doc
/// link), `<float>` (an HTML tag); and wraps bare URLs in `<...>` (rustdoc's
/// `bare_urls`), so that `cargo doc` stays quiet on IDL comments.
fn escape_inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`'))
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':', ')', ']']);
            out.push('<');
            out.push_str(url);
            out.push('>');
            rest = &rest[url.len()..];
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if matches!(c, '[' | ']' | '<' | '>') {
            out.push('\\');
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A line that would open a Markdown list or quote gets its marker escaped: trimmed
/// continuation lines would otherwise be "lazy continuations" (clippy's
/// `doc_lazy_continuation`), and IDL comments are prose, not Markdown.
fn escape_block_marker(line: &str) -> String {
    let bytes = line.as_bytes();
    let bullet = matches!(bytes, [b'-' | b'*' | b'+', b' ', ..]);
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let numbered = digits > 0 && matches!(bytes.get(digits..digits + 2), Some([b'.' | b')', b' ']));
    if bullet || numbered {
        let at = if bullet { 0 } else { digits };
        format!("{}\\{}", &line[..at], &line[at..])
    } else {
        line.to_owned()
    }
}

/// `#[doc = " line"]` attributes for `lines`.
pub(crate) fn doc_attrs(lines: &[String]) -> TokenStream {
    let attrs = lines.iter().map(|line| {
        let text = if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote!(#[doc = #text])
    });
    quote!(#(#attrs)*)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(rust_name("type"), "r#type");
        assert_eq!(rust_name("async"), "r#async");
        assert_eq!(rust_name("self"), "self_");
        assert_eq!(rust_name("Self"), "Self_");
        assert_eq!(rust_name("crate"), "crate_");
        assert_eq!(rust_name("super"), "super_");
        assert_eq!(rust_name("_"), "_0");
        assert_eq!(rust_name("frame_id"), "frame_id");
        assert_eq!(rust_name("union"), "union");
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("self").to_string(), "self_");
        assert_eq!(type_name("String"), "String_");
        assert_eq!(type_name("bool"), "bool_");
        assert_eq!(type_name("type"), "r#type");
        assert_eq!(type_ident("Pose").to_string(), "Pose");
    }

    #[test]
    fn namer_resolves_collisions() {
        let mut namer = Namer::default();
        assert_eq!(namer.unique("self").to_string(), "self_");
        assert_eq!(namer.unique("self_").to_string(), "self__");
        assert_eq!(namer.unique("type").to_string(), "r#type");
        assert_eq!(namer.unique("type").to_string(), "type_");
        let mut reserved = Namer::with_reserved(&["discriminator"]);
        assert_eq!(
            reserved.unique("discriminator").to_string(),
            "discriminator_"
        );
        reserved.reserve("r#match");
        assert_eq!(reserved.unique("match").to_string(), "match_");
    }

    #[test]
    fn doc_lines_are_prose() {
        let lines = doc_lines("\n   * The pose.\n   *\n       indented ```code```\n\n");
        assert_eq!(lines, ["The pose.", "", "indented '''code'''"]);
        assert!(doc_lines("  \n ").is_empty());
        assert_eq!(doc_lines("/ A point."), ["A point."]);
        assert_eq!(
            doc_lines("- one\n  two\n> quote\n12. twelve\n3 ok"),
            ["\\- one", "two", "\\> quote", "12\\. twelve", "3 ok"]
        );
        assert_eq!(
            doc_lines("see [3] and sequence<float>, at https://example.org/x.html."),
            ["see \\[3\\] and sequence\\<float\\>, at <https://example.org/x.html>."]
        );
    }
}
