//! Semantic analysis: from the [`ast`](crate::ast) to the checked [`hir`](crate::hir).
//!
//! The passes, one file each:
//! - [`scope`]: collects every declaration into scopes (modules merged, forward
//!   declarations joined with their definitions, enumerators in the enclosing scope) and
//!   reports redefinitions;
//! - [`resolve`]: IDL name lookup (enclosing scopes outward, `::` absolute names,
//!   enumerators through their enum);
//! - [`const_eval`]: constant expressions (all IDL operators, integer promotion, overflow
//!   and division by zero are errors) and conversion to a declared type;
//! - [`annotations`]: standard annotations, where they apply and their parameters;
//! - [`lower`]: builds the HIR items (types, bounds, enumerators, unions, bitsets);
//! - [`checks`]: whole-model checks: recursive types, the paths by which an unbounded
//!   type reaches a message, `#pragma keylist`;
//! - [`layout`]: size, alignment and offsets under the Rust mapping.
//!
//! Every problem is reported once, as data ([`Diagnostic`]); the HIR is only returned when
//! there was no error.

mod annotations;
mod checks;
mod const_eval;
mod layout;
mod lower;
mod resolve;
mod scope;

use std::collections::{HashMap, HashSet};

use crate::Options;
use crate::ast::{self, Attributes};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::hir::{self, Hir, ItemId, ModuleId};
use crate::source::Span;

/// Index of a declaration collected by [`scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DeclId(pub(crate) u32);

/// Index of a naming scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ScopeId(pub(crate) u32);

/// What a name in a scope stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symbol {
    /// A module (its scope).
    Module(ScopeId),
    /// A type or constant.
    Decl(DeclId),
    /// An enumerator of an enum.
    Enumerator {
        /// The enum.
        decl: DeclId,
        /// Its index.
        index: usize,
    },
    /// A construct outside the data subset (`native`, `interface`, ...), reported by the
    /// parser already: its uses are not reported again.
    Unsupported,
}

/// A naming scope: a module or a type that declares names (struct, union, enum).
#[derive(Debug)]
pub(crate) struct Scope {
    pub(crate) parent: Option<ScopeId>,
    /// The scoped path of the scope (empty for the global scope).
    pub(crate) path: Vec<String>,
    /// Names declared here, with the span of their first declaration.
    pub(crate) names: HashMap<String, (Symbol, Span)>,
    /// The HIR module this scope is or lies in.
    pub(crate) module: ModuleId,
}

/// The syntax a declaration comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeclKind<'a> {
    /// Only `struct S;` / `union U;` so far.
    Forward {
        union: bool,
    },
    Struct(&'a ast::StructDef),
    Union(&'a ast::UnionDef),
    Enum(&'a ast::EnumDef),
    Bitmask(&'a ast::BitmaskDef),
    Bitset(&'a ast::BitsetDef),
    Typedef {
        ty: &'a ast::TypeSpec,
        declarator: &'a ast::Declarator,
    },
    Const(&'a ast::ConstDef),
}

/// One declared type or constant.
#[derive(Debug)]
pub(crate) struct Decl<'a> {
    pub(crate) name: String,
    pub(crate) path: Vec<String>,
    pub(crate) module: ModuleId,
    /// The scope it is declared in (names in its definition are looked up from there,
    /// or from `own_scope` when it has one).
    pub(crate) scope: ScopeId,
    /// The scope it opens (structs, unions, enums).
    pub(crate) own_scope: Option<ScopeId>,
    /// The name's span.
    pub(crate) span: Span,
    pub(crate) attrs: Option<&'a Attributes>,
    pub(crate) kind: DeclKind<'a>,
}

impl Decl<'_> {
    /// `pkg::Foo`.
    pub(crate) fn scoped_name(&self) -> String {
        self.path.join("::")
    }

    /// "struct", "enum", ... for messages.
    pub(crate) fn what(&self) -> &'static str {
        match self.kind {
            DeclKind::Forward { union: false } | DeclKind::Struct(_) => "struct",
            DeclKind::Forward { union: true } | DeclKind::Union(_) => "union",
            DeclKind::Enum(_) => "enum",
            DeclKind::Bitmask(_) => "bitmask",
            DeclKind::Bitset(_) => "bitset",
            DeclKind::Typedef { .. } => "typedef",
            DeclKind::Const(_) => "constant",
        }
    }

    /// Whether it names a type.
    pub(crate) fn is_type(&self) -> bool {
        !matches!(self.kind, DeclKind::Const(_))
    }
}

/// A module under construction.
#[derive(Debug)]
pub(crate) struct ModuleBuild {
    pub(crate) name: String,
    pub(crate) path: Vec<String>,
    pub(crate) parent: Option<ModuleId>,
    pub(crate) doc: hir::Doc,
    pub(crate) span: Span,
    pub(crate) entries: Vec<Entry>,
}

/// A module entry under construction.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Entry {
    Module(ModuleId),
    Decl(DeclId),
}

/// Lowering state of one declaration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State<T> {
    NotStarted,
    InProgress,
    Done(T),
    Failed,
}

/// A by-value use of one type by another (for recursion and unbounded-path checks).
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub(crate) from: DeclId,
    pub(crate) to: DeclId,
    /// `S::member` (or the typedef's name).
    pub(crate) via: String,
    pub(crate) span: Span,
}

/// An unbounded-type error, held back until the paths that reach it are known.
#[derive(Debug)]
pub(crate) struct Unbounded {
    pub(crate) owner: DeclId,
    pub(crate) diag: Diagnostic,
}

/// The state of the whole analysis.
pub(crate) struct Sema<'a> {
    pub(crate) options: &'a Options,
    pub(crate) diags: Diagnostics,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) decls: Vec<Decl<'a>>,
    pub(crate) modules: Vec<ModuleBuild>,
    pub(crate) keylists: Vec<(&'a ast::Keylist, Span, ScopeId)>,
    /// Names of annotations declared with `@annotation`.
    pub(crate) declared_annotations: HashSet<String>,
    /// Whether an `#include` failed (undeclared names may come from it).
    pub(crate) missing_include: bool,
    /// The HIR id of each declaration that is defined (not only forward-declared).
    pub(crate) item_ids: Vec<Option<ItemId>>,
    /// The declaration of each HIR id.
    pub(crate) item_decls: Vec<DeclId>,
    /// Lowered item kinds, per declaration.
    pub(crate) lowered: Vec<State<hir::ItemKind>>,
    /// Documentation and annotations per declaration.
    pub(crate) item_meta: Vec<Option<(hir::Doc, Vec<hir::AppliedAnnotation>)>>,
    pub(crate) edges: Vec<Edge>,
    pub(crate) unbounded: Vec<Unbounded>,
    /// Every bounded string, sequence and map of a member or typedef (for the HIR).
    pub(crate) bound_uses: Vec<hir::BoundUse>,
    /// How many declarations are being lowered inside each other (forward references).
    pub(crate) depth: u32,
    /// How many "did you mean" searches were made.
    pub(crate) suggestions: u32,
    /// Declarations with an unbounded-type error (their types hold placeholder bounds).
    pub(crate) unbounded_owners: Vec<DeclId>,
    /// Declarations on a reported cycle.
    pub(crate) recursive: Vec<DeclId>,
}

impl<'a> Sema<'a> {
    fn new(options: &'a Options, missing_include: bool) -> Self {
        Sema {
            options,
            diags: Diagnostics::new(),
            scopes: Vec::new(),
            decls: Vec::new(),
            modules: Vec::new(),
            keylists: Vec::new(),
            declared_annotations: HashSet::new(),
            missing_include,
            item_ids: Vec::new(),
            item_decls: Vec::new(),
            lowered: Vec::new(),
            item_meta: Vec::new(),
            edges: Vec::new(),
            unbounded: Vec::new(),
            bound_uses: Vec::new(),
            depth: 0,
            suggestions: 0,
            unbounded_owners: Vec::new(),
            recursive: Vec::new(),
        }
    }

    pub(crate) fn decl(&self, id: DeclId) -> &Decl<'a> {
        &self.decls[id.0 as usize]
    }

    pub(crate) fn scope(&self, id: ScopeId) -> &Scope {
        &self.scopes[id.0 as usize]
    }

    pub(crate) fn error(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    /// The HIR id of a declaration, if it is defined.
    pub(crate) fn item_id(&self, decl: DeclId) -> Option<ItemId> {
        self.item_ids.get(decl.0 as usize).copied().flatten()
    }

    fn has_errors(&self) -> bool {
        self.diags.has_errors()
    }

    /// Assembles the HIR from the lowered declarations.
    fn build(&mut self) -> Option<Hir> {
        let mut items = Vec::new();
        for (i, decl) in self.decls.iter().enumerate() {
            if self.item_ids[i].is_none() {
                continue;
            }
            let State::Done(kind) = std::mem::replace(&mut self.lowered[i], State::Failed) else {
                return None;
            };
            let (doc, annotations) = self.item_meta[i].take().unwrap_or_default();
            items.push(hir::Item {
                name: decl.name.clone(),
                module: decl.module,
                path: decl.path.clone(),
                doc,
                annotations,
                span: decl.span,
                kind,
                layout: None,
            });
        }
        let modules = self
            .modules
            .iter()
            .map(|m| hir::Module {
                name: m.name.clone(),
                path: m.path.clone(),
                parent: m.parent,
                doc: m.doc.clone(),
                span: m.span,
                entries: m
                    .entries
                    .iter()
                    .filter_map(|e| match *e {
                        Entry::Module(id) => Some(hir::ModuleEntry::Module(id)),
                        Entry::Decl(d) => self.item_id(d).map(hir::ModuleEntry::Item),
                    })
                    .collect(),
            })
            .collect();
        let mut bound_uses = std::mem::take(&mut self.bound_uses);
        bound_uses.sort_by(|a, b| a.key.cmp(&b.key));
        bound_uses.dedup();
        Some(Hir {
            modules,
            items,
            bound_uses,
        })
    }
}

/// Checks `spec` and builds its HIR. Diagnostics go to `diags`; the HIR is returned only
/// when neither earlier stages nor this one found an error.
pub(crate) fn analyze(
    spec: &ast::Specification,
    options: &Options,
    diags: &mut Diagnostics,
) -> Option<Hir> {
    let missing_include = diags.has_code("E-PP-INCLUDE");
    let mut sema = Sema::new(options, missing_include);
    sema.collect(spec);
    sema.lower_all();
    sema.apply_keylists();
    sema.check_recursion();
    sema.report_unbounded();
    let ok = !sema.has_errors() && !diags.has_errors();
    let hir = if ok { sema.build() } else { None };
    let hir = match hir {
        Some(mut hir) => sema.compute_layouts(&mut hir).then_some(hir),
        None => {
            sema.check_sizes_despite_errors();
            None
        }
    };
    for d in std::mem::take(&mut sema.diags).into_sorted() {
        diags.push(d);
    }
    if diags.has_errors() { None } else { hir }
}

#[cfg(test)]
mod tests;
