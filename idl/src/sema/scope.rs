//! Collection: every declaration gets a [`DeclId`] and a name in its scope.
//!
//! Re-opened modules share one scope and one HIR module; `struct S;` followed by
//! `struct S { ... };` is one declaration; enumerators are declared in the enum's
//! enclosing scope (and in the enum's own scope, so `E::A` works too). A second
//! definition of a name is `E-REDEFINITION`, with both locations.

use std::collections::HashMap;

use super::{Decl, DeclId, DeclKind, Entry, ModuleBuild, ScopeId, Sema, State, Symbol};
use crate::ast::{Attributes, Definition, DefinitionKind, Ident, TypeKind};
use crate::diagnostics::Diagnostic;
use crate::hir::{self, ModuleId};
use crate::source::{FileId, Span};

impl<'a> Sema<'a> {
    /// Collects the whole specification.
    pub(crate) fn collect(&mut self, spec: &'a crate::ast::Specification) {
        let span = spec
            .definitions
            .first()
            .map_or(Span::new(FileId(0), 0, 0), |d| Span::new(d.span.file, 0, 0));
        self.modules.push(ModuleBuild {
            name: String::new(),
            path: Vec::new(),
            parent: None,
            doc: hir::Doc::default(),
            span,
            entries: Vec::new(),
        });
        self.scopes.push(super::Scope {
            parent: None,
            path: Vec::new(),
            names: HashMap::new(),
            module: ModuleId(0),
        });
        self.collect_definitions(&spec.definitions, ScopeId(0));
        let n = self.decls.len();
        let mut next = 0u32;
        self.item_ids = self
            .decls
            .iter()
            .map(|d| {
                if matches!(d.kind, DeclKind::Forward { .. }) {
                    None
                } else {
                    next += 1;
                    Some(hir::ItemId(next - 1))
                }
            })
            .collect();
        self.item_decls = (0..n)
            .filter(|&i| self.item_ids[i].is_some())
            .map(|i| DeclId(u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        self.lowered = vec![State::NotStarted; n];
        self.item_meta = (0..n).map(|_| None).collect();
    }

    fn collect_definitions(&mut self, defs: &'a [Definition], scope: ScopeId) {
        for def in defs {
            self.collect_definition(def, scope);
        }
    }

    fn collect_definition(&mut self, def: &'a Definition, scope: ScopeId) {
        let attrs = Some(&def.attrs);
        match &def.kind {
            DefinitionKind::Module(m) => self.collect_module(def, m, scope),
            DefinitionKind::Struct(s) => {
                self.declare(scope, &s.name, attrs, DeclKind::Struct(s), true);
            }
            DefinitionKind::Union(u) => {
                self.declare(scope, &u.name, attrs, DeclKind::Union(u), true);
            }
            DefinitionKind::StructForward(name) => {
                self.declare_forward(scope, name, false);
            }
            DefinitionKind::UnionForward(name) => {
                self.declare_forward(scope, name, true);
            }
            DefinitionKind::Enum(e) => {
                if let Some(id) = self.declare(scope, &e.name, attrs, DeclKind::Enum(e), true) {
                    let own = self.decl(id).own_scope;
                    for (index, en) in e.enumerators.iter().enumerate() {
                        let sym = Symbol::Enumerator { decl: id, index };
                        self.bind(scope, &en.name, sym);
                        if let Some(own) = own {
                            self.bind(own, &en.name, sym);
                        }
                    }
                }
            }
            DefinitionKind::Bitmask(b) => {
                if let Some(id) = self.declare(scope, &b.name, attrs, DeclKind::Bitmask(b), true) {
                    // Flags are named through the bitmask (`M::FLAG`), and, like enumerators,
                    // in the enclosing scope when that name is free (as Cyclone DDS does).
                    if let Some(own) = self.decl(id).own_scope {
                        for (index, flag) in b.values.iter().enumerate() {
                            let sym = Symbol::Enumerator { decl: id, index };
                            self.bind(own, &flag.name, sym);
                            self.scopes[scope.0 as usize]
                                .names
                                .entry(flag.name.name.clone())
                                .or_insert((sym, flag.name.span));
                        }
                    }
                }
            }
            DefinitionKind::Bitset(b) => {
                self.declare(scope, &b.name, attrs, DeclKind::Bitset(b), false);
            }
            DefinitionKind::Typedef(t) => {
                if let TypeKind::Inline(inner) = &t.ty.kind {
                    self.collect_definition(inner, scope);
                }
                for declarator in &t.declarators {
                    let kind = DeclKind::Typedef {
                        ty: &t.ty,
                        declarator,
                    };
                    self.declare(scope, &declarator.name, attrs, kind, false);
                }
            }
            DefinitionKind::Const(c) => {
                self.declare(scope, &c.name, attrs, DeclKind::Const(c), false);
            }
            DefinitionKind::AnnotationDecl(a) => {
                self.declared_annotations.insert(a.name.name.clone());
            }
            DefinitionKind::Keylist(k) => self.keylists.push((k, def.span, scope)),
            DefinitionKind::Unsupported(u) => {
                if let Some(name) = &u.name {
                    self.scopes[scope.0 as usize]
                        .names
                        .entry(name.name.clone())
                        .or_insert((Symbol::Unsupported, name.span));
                }
            }
        }
    }

    fn collect_module(&mut self, def: &'a Definition, m: &'a crate::ast::Module, scope: ScopeId) {
        let existing = self.scope(scope).names.get(&m.name.name).copied();
        let inner = match existing {
            Some((Symbol::Module(inner), _)) => inner,
            Some((_, previous)) => {
                self.redefinition(&m.name, previous, "module");
                return;
            }
            None => {
                let parent_module = self.scope(scope).module;
                let mut path = self.scope(scope).path.clone();
                path.push(m.name.name.clone());
                let module = ModuleId(u32::try_from(self.modules.len()).unwrap_or(u32::MAX));
                self.modules.push(ModuleBuild {
                    name: m.name.name.clone(),
                    path: path.clone(),
                    parent: Some(parent_module),
                    doc: hir::Doc::default(),
                    span: m.name.span,
                    entries: Vec::new(),
                });
                self.modules[parent_module.0 as usize]
                    .entries
                    .push(Entry::Module(module));
                let inner = self.new_scope(Some(scope), path, module);
                self.scopes[scope.0 as usize]
                    .names
                    .insert(m.name.name.clone(), (Symbol::Module(inner), m.name.span));
                inner
            }
        };
        let module = self.scope(inner).module;
        let doc = self.doc_only(&def.attrs);
        let build = &mut self.modules[module.0 as usize];
        build.doc.comments.extend(doc.comments);
        build.doc.verbatim.extend(doc.verbatim);
        if build.doc.unit.is_none() {
            build.doc.unit = doc.unit;
        }
        self.check_module_annotations(&def.attrs, inner);
        self.collect_definitions(&m.definitions, inner);
    }

    fn new_scope(
        &mut self,
        parent: Option<ScopeId>,
        path: Vec<String>,
        module: ModuleId,
    ) -> ScopeId {
        let id = ScopeId(u32::try_from(self.scopes.len()).unwrap_or(u32::MAX));
        self.scopes.push(super::Scope {
            parent,
            path,
            names: HashMap::new(),
            module,
        });
        id
    }

    /// Declares a type or constant named `name` in `scope`.
    fn declare(
        &mut self,
        scope: ScopeId,
        name: &Ident,
        attrs: Option<&'a Attributes>,
        kind: DeclKind<'a>,
        opens_scope: bool,
    ) -> Option<DeclId> {
        let module = self.scope(scope).module;
        let mut path = self.scope(scope).path.clone();
        path.push(name.name.clone());
        match self.scope(scope).names.get(&name.name).copied() {
            Some((Symbol::Decl(prev), prev_span)) => {
                let prev_decl = self.decl(prev);
                let joins = match (prev_decl.kind, kind) {
                    (DeclKind::Forward { union }, DeclKind::Struct(_)) => !union,
                    (DeclKind::Forward { union }, DeclKind::Union(_)) => union,
                    _ => false,
                };
                if !joins {
                    self.redefinition(name, prev_span, self.decl(prev).what());
                    return None;
                }
                let own_scope = if opens_scope {
                    Some(self.new_scope(Some(scope), path, module))
                } else {
                    None
                };
                let d = &mut self.decls[prev.0 as usize];
                d.kind = kind;
                d.span = name.span;
                d.attrs = attrs;
                d.own_scope = own_scope;
                self.scopes[scope.0 as usize]
                    .names
                    .insert(name.name.clone(), (Symbol::Decl(prev), name.span));
                self.modules[module.0 as usize]
                    .entries
                    .push(Entry::Decl(prev));
                Some(prev)
            }
            Some((_, prev_span)) => {
                self.redefinition(name, prev_span, "name");
                None
            }
            None => {
                let own_scope = if opens_scope {
                    Some(self.new_scope(Some(scope), path.clone(), module))
                } else {
                    None
                };
                let id = DeclId(u32::try_from(self.decls.len()).unwrap_or(u32::MAX));
                self.decls.push(Decl {
                    name: name.name.clone(),
                    path,
                    module,
                    scope,
                    own_scope,
                    span: name.span,
                    attrs,
                    kind,
                });
                self.scopes[scope.0 as usize]
                    .names
                    .insert(name.name.clone(), (Symbol::Decl(id), name.span));
                self.modules[module.0 as usize]
                    .entries
                    .push(Entry::Decl(id));
                Some(id)
            }
        }
    }

    /// `struct S;` / `union U;`: declares the name unless it already exists as that kind.
    fn declare_forward(&mut self, scope: ScopeId, name: &Ident, union: bool) {
        match self.scope(scope).names.get(&name.name).copied() {
            Some((Symbol::Decl(prev), prev_span)) => {
                let same = match self.decl(prev).kind {
                    DeclKind::Forward { union: u } => u == union,
                    DeclKind::Struct(_) => !union,
                    DeclKind::Union(_) => union,
                    _ => false,
                };
                if !same {
                    self.redefinition(name, prev_span, self.decl(prev).what());
                }
            }
            Some((_, prev_span)) => self.redefinition(name, prev_span, "name"),
            None => {
                let module = self.scope(scope).module;
                let mut path = self.scope(scope).path.clone();
                path.push(name.name.clone());
                let id = DeclId(u32::try_from(self.decls.len()).unwrap_or(u32::MAX));
                self.decls.push(Decl {
                    name: name.name.clone(),
                    path,
                    module,
                    scope,
                    own_scope: None,
                    span: name.span,
                    attrs: None,
                    kind: DeclKind::Forward { union },
                });
                self.scopes[scope.0 as usize]
                    .names
                    .insert(name.name.clone(), (Symbol::Decl(id), name.span));
            }
        }
    }

    /// Binds an enumerator name in `scope`, reporting a clash.
    fn bind(&mut self, scope: ScopeId, name: &Ident, sym: Symbol) {
        match self.scope(scope).names.get(&name.name).copied() {
            Some((_, prev_span)) => self.redefinition(name, prev_span, "enumerator"),
            None => {
                self.scopes[scope.0 as usize]
                    .names
                    .insert(name.name.clone(), (sym, name.span));
            }
        }
    }

    fn redefinition(&mut self, name: &Ident, previous: Span, what: &str) {
        let mut diag = Diagnostic::error(
            "E-REDEFINITION",
            format!(
                "the name `{}` is defined more than once in this scope",
                name.name
            ),
            name.span,
        )
        .with_label(format!("`{}` redefined here", name.name))
        .with_secondary(
            previous,
            if what == "enumerator" {
                "first defined here".to_owned()
            } else {
                format!("first defined here (as a {what})")
            },
        )
        .with_help("rename one of the two, or remove the duplicate definition");
        if previous.file != name.span.file {
            diag = diag.with_note(
                "the definitions are in different files: an included file without an include \
                 guard or `#pragma once`, or a type defined both in a file and in one it includes",
            );
        }
        if what == "enumerator" {
            diag = diag.with_note(
                "in IDL, enumerators are declared in the scope that encloses their enum, so two \
                 enums of one module cannot share an enumerator name",
            );
        }
        self.error(diag);
    }
}
