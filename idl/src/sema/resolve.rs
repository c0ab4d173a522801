//! Name lookup, by the IDL rules: a relative name's first part is searched in the current
//! scope and then in each enclosing scope outward; the remaining parts are looked up
//! inside what the first part names (a module, or a struct/union/enum/bitmask scope);
//! `::a::B` starts at the global scope. An unknown name is `E-UNDECLARED`.

use super::{ScopeId, Sema, Symbol};
use crate::ast::ScopedName;
use crate::diagnostics::Diagnostic;

/// IDL spellings for type names people bring from Rust or C.
const FOREIGN_TYPES: &[(&str, &str)] = &[
    ("u8", "uint8` (or `octet`"),
    ("i8", "int8"),
    ("u16", "uint16"),
    ("i16", "int16"),
    ("u32", "uint32"),
    ("i32", "int32"),
    ("u64", "uint64"),
    ("i64", "int64"),
    ("f32", "float"),
    ("f64", "double"),
    ("bool", "boolean"),
    ("byte", "octet"),
    ("int", "long"),
    ("String", "string<N>"),
    ("uint8_t", "uint8"),
    ("int8_t", "int8"),
    ("uint16_t", "uint16"),
    ("int16_t", "int16"),
    ("uint32_t", "uint32"),
    ("int32_t", "int32"),
    ("uint64_t", "uint64"),
    ("int64_t", "int64"),
];

impl Sema<'_> {
    /// Looks `name` up from `from`; `None` when a part is missing (nothing reported).
    pub(crate) fn lookup(&self, from: ScopeId, name: &ScopedName) -> Option<Symbol> {
        let (first, rest) = name.parts.split_first()?;
        let mut sym = if name.absolute {
            self.scope(ScopeId(0)).names.get(&first.name)?.0
        } else {
            let mut scope = Some(from);
            let mut found = None;
            while let Some(s) = scope {
                if let Some((sym, _)) = self.scope(s).names.get(&first.name) {
                    found = Some(*sym);
                    break;
                }
                scope = self.scope(s).parent;
            }
            found?
        };
        for part in rest {
            let inner = match sym {
                Symbol::Module(s) => s,
                Symbol::Decl(d) => self.decl(d).own_scope?,
                Symbol::Enumerator { .. } => return None,
                Symbol::Unsupported => return Some(Symbol::Unsupported),
            };
            sym = self.scope(inner).names.get(&part.name)?.0;
        }
        Some(sym)
    }

    /// Looks `name` up and reports `E-UNDECLARED` when it is not found.
    pub(crate) fn resolve(
        &mut self,
        from: ScopeId,
        name: &ScopedName,
        what: &str,
    ) -> Option<Symbol> {
        if let Some(sym) = self.lookup(from, name) {
            return Some(sym);
        }
        let text = scoped_text(name);
        let mut diag = Diagnostic::error(
            "E-UNDECLARED",
            format!("cannot find {what} `{text}` in this scope"),
            name.span,
        )
        .with_label("not declared");
        let last = name.parts.last().map_or("", |p| p.name.as_str());
        if let Some((_, idl)) = FOREIGN_TYPES.iter().find(|(w, _)| *w == text) {
            diag = diag
                .with_note(format!("`{text}` is not an IDL type"))
                .with_help(format!(
                    "use the IDL type `{idl}{}",
                    if idl.ends_with('`') { ")" } else { "`" }
                ));
        } else if let Some(candidate) = self.similar_name(last) {
            let same_name = candidate.rsplit("::").next() == Some(last);
            diag = diag.with_help(if same_name {
                format!(
                    "did you mean `{candidate}`? Names are looked up in the enclosing scopes, \
                     outward; qualify the name to reach into another module"
                )
            } else {
                format!("did you mean `{candidate}`?")
            });
        } else {
            diag = diag.with_help(format!(
                "declare `{text}` before using it, or include the file that declares it"
            ));
        }
        if self.missing_include {
            diag = diag.with_note(
                "an `#include` above could not be found; the name may be declared there",
            );
        }
        self.error(diag);
        None
    }

    /// A declared name close to `name` (equal ignoring case, or a small edit away), as a
    /// scoped name. Only the first undeclared names get suggestions (it is a search).
    fn similar_name(&mut self, name: &str) -> Option<String> {
        self.suggestions = self.suggestions.saturating_add(1);
        if self.suggestions > 64 || name.len() > 64 {
            return None;
        }
        let limit = (name.chars().count() / 3).max(1);
        let mut best: Option<(usize, String)> = None;
        for scope in &self.scopes {
            for n in scope.names.keys() {
                let distance = if n == name || n.eq_ignore_ascii_case(name) {
                    0
                } else if n.len().abs_diff(name.len()) > limit {
                    continue;
                } else {
                    crate::parser::edit_distance(n, name)
                };
                if distance > limit {
                    continue;
                }
                let mut path = scope.path.clone();
                path.push(n.clone());
                let candidate = (distance, path.join("::"));
                if best.as_ref().is_none_or(|b| candidate < *b) {
                    best = Some(candidate);
                }
            }
        }
        best.map(|(_, text)| text)
    }
}

/// `a::b::C` as written.
pub(crate) fn scoped_text(name: &ScopedName) -> String {
    let parts: Vec<&str> = name.parts.iter().map(|p| p.name.as_str()).collect();
    let joined = parts.join("::");
    if name.absolute {
        format!("::{joined}")
    } else {
        joined
    }
}
