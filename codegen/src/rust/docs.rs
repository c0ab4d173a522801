//! IDL comments, `@verbatim` and `@unit` -> doc comments.
//!
//! Every generated public item gets a doc comment (so `missing_docs` passes): the IDL
//! comments when there are some, else a line naming the IDL declaration.

use proc_macro2::TokenStream;
use shmbus_idl::hir::{Doc, Extensibility};

use super::names::{doc_attrs, doc_lines};

/// The doc attributes of a type: `attrs`, then a line with what the IDL annotations say
/// about the type as a whole (`@topic`, extensibility), when they say something.
pub(crate) fn type_attrs(
    doc: &Doc,
    fallback: &str,
    topic: bool,
    extensibility: Option<Extensibility>,
) -> TokenStream {
    let mut out = lines(doc, fallback);
    let mut facts = Vec::new();
    if topic {
        facts.push("A topic type (`@topic`).".to_owned());
    }
    if let Some(e) = extensibility {
        let word = match e {
            Extensibility::Final => "final",
            Extensibility::Appendable => "appendable",
            Extensibility::Mutable => "mutable",
        };
        facts.push(format!(
            "Extensibility `@{word}` (kept for reference: the layout here is always fixed)."
        ));
    }
    if !facts.is_empty() {
        out.push(String::new());
        out.push(facts.join(" "));
    }
    doc_attrs(&out)
}

/// The doc attributes for `doc`, or `fallback` when the IDL says nothing.
pub(crate) fn attrs(doc: &Doc, fallback: &str) -> TokenStream {
    doc_attrs(&lines(doc, fallback))
}

/// The doc lines for `doc`, or `fallback` when the IDL says nothing.
pub(crate) fn lines(doc: &Doc, fallback: &str) -> Vec<String> {
    let mut out = Vec::new();
    for comment in &doc.comments {
        let lines = doc_lines(comment);
        if lines.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(String::new());
        }
        out.extend(lines);
    }
    for verbatim in &doc.verbatim {
        let language = verbatim.language.to_ascii_lowercase();
        if language == "comment" || language == "*" {
            let lines = doc_lines(&verbatim.text);
            if !lines.is_empty() && !out.is_empty() {
                out.push(String::new());
            }
            out.extend(lines);
        }
    }
    if out.is_empty() {
        out.push(fallback.to_owned());
    }
    if let Some(unit) = &doc.unit {
        out.push(String::new());
        out.push(format!("Unit: `{}`.", unit.replace('`', "'")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shmbus_idl::hir::Verbatim;

    #[test]
    fn comments_verbatim_and_unit() {
        let doc = Doc {
            comments: vec![" The speed.\n".into()],
            verbatim: vec![
                Verbatim {
                    language: "comment".into(),
                    placement: "BEFORE_DECLARATION".into(),
                    text: "Measured at the wheel.".into(),
                },
                Verbatim {
                    language: "c++".into(),
                    placement: "BEFORE_DECLARATION".into(),
                    text: "#include <x>".into(),
                },
            ],
            unit: Some("m/s".into()),
        };
        assert_eq!(
            lines(&doc, "IDL member `speed`."),
            [
                "The speed.",
                "",
                "Measured at the wheel.",
                "",
                "Unit: `m/s`."
            ]
        );
        assert_eq!(lines(&Doc::default(), "fallback"), ["fallback"]);
    }
}
