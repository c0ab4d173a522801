//! Lowering: each declaration becomes a HIR item kind, with its names resolved, its
//! constants evaluated, its bounds decided (explicit, per-member bound, default option, or
//! an `E-UNBOUNDED-*` error) and its annotations interpreted. Declarations are lowered on
//! demand (a constant may use one declared later), each once.

use std::collections::HashMap;

use super::annotations::{Interpreted, Target};
use super::const_eval::Val;
use super::{DeclId, DeclKind, Edge, ScopeId, Sema, State, Symbol, Unbounded};
use crate::ast::{self, CaseLabel, ConstExpr, Declarator, TypeKind, TypeSpec};
use crate::diagnostics::Diagnostic;
use crate::hir::{
    self, ArrayType, BitFlag, Bitfield, Bitmask, Bitset, BoundSource, Const, ConstValue,
    Discriminator, Enum, Enumerator, Field, IntRepr, ItemKind, Layout, MapType, Primitive,
    SequenceType, StringType, Struct, Type, Typedef, Union, UnionCase,
};
use crate::source::Span;

/// Where a type is used: for bounds, messages and the by-value graph.
#[derive(Debug, Clone)]
pub(crate) struct Use {
    /// The declaration that contains the type.
    pub(crate) owner: DeclId,
    /// The key in the per-member bounds: `pkg::S::member`, `pkg::Typedef`.
    pub(crate) key: String,
    /// "member `m` of struct `pkg::S`", for messages.
    pub(crate) what: String,
    /// A constant's type: unbounded strings are fine.
    pub(crate) constant: bool,
    /// Inside a type argument (a sequence element, a map key or value).
    pub(crate) element: bool,
}

/// How deep lowering may recurse through forward references (each level is a few stack
/// frames; IDL itself requires declaration before use, so real files stay shallow).
const MAX_DEPTH: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unbound {
    String,
    WString,
    Sequence,
    Map,
}

impl Unbound {
    fn word(self) -> &'static str {
        match self {
            Unbound::String => "string",
            Unbound::WString => "wstring",
            Unbound::Sequence => "sequence",
            Unbound::Map => "map",
        }
    }
}

impl<'a> Sema<'a> {
    /// Lowers every defined declaration.
    pub(crate) fn lower_all(&mut self) {
        for i in 0..self.decls.len() {
            if self.item_ids[i].is_some() {
                self.ensure_lowered(DeclId(u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
    }

    /// Lowers `d` unless done; a declaration that needs itself is `E-CONST-CYCLE`.
    pub(crate) fn ensure_lowered(&mut self, d: DeclId) {
        let i = d.0 as usize;
        match self.lowered[i] {
            State::NotStarted => {}
            State::InProgress => {
                let decl = self.decl(d);
                let diag = Diagnostic::error(
                    "E-CONST-CYCLE",
                    format!(
                        "the value of {} `{}` depends on itself",
                        decl.what(),
                        decl.scoped_name()
                    ),
                    decl.span,
                )
                .with_label("defined in terms of itself")
                .with_help("give one of the values in the cycle as a literal");
                self.error(diag);
                return;
            }
            State::Done(_) | State::Failed => return,
        }
        if self.item_ids[i].is_none() {
            self.lowered[i] = State::Failed;
            return;
        }
        if self.depth >= MAX_DEPTH {
            let decl = self.decl(d);
            let diag = Diagnostic::error(
                "E-NESTING",
                format!(
                    "`{}` is reached through more than {MAX_DEPTH} definitions that refer to later ones",
                    decl.scoped_name()
                ),
                decl.span,
            )
            .with_help("define constants and types before they are used");
            self.error(diag);
            self.lowered[i] = State::Failed;
            return;
        }
        self.lowered[i] = State::InProgress;
        self.depth += 1;
        let result = self.lower_decl(d);
        self.depth -= 1;
        self.lowered[i] = match result {
            Some(kind) => State::Done(kind),
            None => State::Failed,
        };
    }

    fn lower_decl(&mut self, d: DeclId) -> Option<ItemKind> {
        let decl = self.decl(d);
        let kind = decl.kind;
        let attrs = decl.attrs;
        let scope = decl.own_scope.unwrap_or(decl.scope);
        let outer = decl.scope;
        let anns: &[ast::Annotation] = attrs.map_or(&[], |a| a.annotations.as_slice());
        match kind {
            DeclKind::Forward { .. } => None,
            DeclKind::Struct(s) => {
                let ann = self.annotations(anns, Target::Struct, outer);
                self.set_meta(d, &ann, attrs);
                self.lower_struct(d, s, scope, &ann).map(ItemKind::Struct)
            }
            DeclKind::Union(u) => {
                let ann = self.annotations(anns, Target::Union, outer);
                self.set_meta(d, &ann, attrs);
                self.lower_union(d, u, scope, &ann).map(ItemKind::Union)
            }
            DeclKind::Enum(e) => {
                let ann = self.annotations(anns, Target::Enum, outer);
                self.set_meta(d, &ann, attrs);
                self.lower_enum(e, outer, &ann).map(ItemKind::Enum)
            }
            DeclKind::Bitmask(b) => {
                let ann = self.annotations(anns, Target::Bitmask, outer);
                self.set_meta(d, &ann, attrs);
                self.lower_bitmask(b, outer, &ann).map(ItemKind::Bitmask)
            }
            DeclKind::Bitset(b) => {
                let ann = self.annotations(anns, Target::Bitset, outer);
                self.set_meta(d, &ann, attrs);
                self.lower_bitset(d, b, outer).map(ItemKind::Bitset)
            }
            DeclKind::Typedef { ty, declarator } => {
                let mut all: Vec<ast::Annotation> = anns.to_vec();
                all.extend(ty.annotations.iter().cloned());
                let ann = self.annotations(&all, Target::Typedef, outer);
                self.set_meta(d, &ann, attrs);
                let name = self.decl(d).scoped_name();
                let u = Use {
                    owner: d,
                    key: name.clone(),
                    what: format!("typedef `{name}`"),
                    constant: false,
                    element: false,
                };
                let base = self.lower_type(ty, outer, &u, false);
                let ty = self.with_dims(base?, declarator, outer)?;
                Some(ItemKind::Typedef(Typedef { ty }))
            }
            DeclKind::Const(c) => {
                let ann = self.annotations(anns, Target::Const, outer);
                self.set_meta(d, &ann, attrs);
                self.lower_const(d, c, outer).map(ItemKind::Const)
            }
        }
    }

    fn set_meta(&mut self, d: DeclId, ann: &Interpreted, attrs: Option<&ast::Attributes>) {
        self.item_meta[d.0 as usize] = Some((ann.doc(attrs), ann.applied.clone()));
    }

    // ---- types ----

    /// Lowers a type as written. `nested` is set for type arguments (sequence elements,
    /// map keys and values), whose own annotations are checked here.
    pub(crate) fn lower_type(
        &mut self,
        ty: &TypeSpec,
        scope: ScopeId,
        u: &Use,
        nested: bool,
    ) -> Option<Type> {
        if nested && !ty.annotations.is_empty() {
            self.annotations(&ty.annotations, Target::TypeArgument, scope);
        }
        match &ty.kind {
            TypeKind::Primitive(p) => self.primitive(*p, ty.span).map(Type::Primitive),
            TypeKind::String { wide, bound } => {
                let kind = if *wide {
                    Unbound::WString
                } else {
                    Unbound::String
                };
                let suggestion = if *wide {
                    "wstring<256>".to_owned()
                } else {
                    "string<256>".to_owned()
                };
                let (bound, source) =
                    self.bound(bound.as_deref(), scope, u, kind, ty.span, suggestion)?;
                Some(Type::String(StringType {
                    wide: *wide,
                    bound,
                    source,
                }))
            }
            TypeKind::Sequence { element, bound } => {
                let inner = Use {
                    element: true,
                    ..u.clone()
                };
                let elem = self.lower_type(element, scope, &inner, true);
                let suggestion = format!("sequence<{}, 100>", idl_text(element));
                let b = self.bound(
                    bound.as_deref(),
                    scope,
                    u,
                    Unbound::Sequence,
                    ty.span,
                    suggestion,
                );
                let (bound, source) = b?;
                Some(Type::Sequence(SequenceType {
                    element: Box::new(elem?),
                    bound,
                    source,
                    layout: Layout::ZERO,
                }))
            }
            TypeKind::Map { key, value, bound } => {
                let inner = Use {
                    element: true,
                    ..u.clone()
                };
                let k = self.lower_type(key, scope, &inner, true);
                let v = self.lower_type(value, scope, &inner, true);
                let suggestion = format!("map<{}, {}, 100>", idl_text(key), idl_text(value));
                let b = self.bound(
                    bound.as_deref(),
                    scope,
                    u,
                    Unbound::Map,
                    ty.span,
                    suggestion,
                );
                let (bound, source) = b?;
                Some(Type::Map(MapType {
                    key: Box::new(k?),
                    value: Box::new(v?),
                    bound,
                    source,
                    layout: Layout::ZERO,
                    entry_layout: Layout::ZERO,
                    entry_value_offset: 0,
                }))
            }
            TypeKind::Named(name) => {
                let sym = self.resolve(scope, name, "type")?;
                self.named_type(sym, name.span, &super::resolve::scoped_text(name), u)
            }
            TypeKind::Inline(def) => {
                let name = match &def.kind {
                    ast::DefinitionKind::Struct(s) => &s.name,
                    ast::DefinitionKind::Union(x) => &x.name,
                    ast::DefinitionKind::Enum(x) => &x.name,
                    ast::DefinitionKind::Bitmask(x) => &x.name,
                    ast::DefinitionKind::Bitset(x) => &x.name,
                    _ => return None,
                };
                let sym = self.scope(scope).names.get(&name.name).map(|(s, _)| *s)?;
                self.named_type(sym, name.span, &name.name, u)
            }
            TypeKind::Unsupported(_) => None,
        }
    }

    fn named_type(&mut self, sym: Symbol, span: Span, text: &str, u: &Use) -> Option<Type> {
        match sym {
            Symbol::Decl(d) if self.decl(d).is_type() => {
                let Some(item) = self.item_id(d) else {
                    let decl = self.decl(d);
                    let what = decl.what();
                    let forward = decl.span;
                    self.error(
                        Diagnostic::error(
                            "E-INCOMPLETE-TYPE",
                            format!("{what} `{text}` is declared but never defined"),
                            span,
                        )
                        .with_label("used here")
                        .with_secondary(forward, "forward-declared here")
                        .with_help(format!(
                            "define `{text}` with its members, or include the file that defines it"
                        )),
                    );
                    return None;
                };
                if !u.constant {
                    self.edges.push(Edge {
                        from: u.owner,
                        to: d,
                        via: u.key.clone(),
                        span,
                    });
                }
                Some(Type::Named(item))
            }
            Symbol::Unsupported => None,
            other => {
                let what = match other {
                    Symbol::Unsupported => return None,
                    Symbol::Module(_) => "a module".to_owned(),
                    Symbol::Enumerator { .. } => "an enumerator".to_owned(),
                    Symbol::Decl(d) => format!("a {}", self.decl(d).what()),
                };
                self.error(
                    Diagnostic::error(
                        "E-NOT-A-TYPE",
                        format!("`{text}` is {what}, not a type"),
                        span,
                    )
                    .with_label("expected a type")
                    .with_help("name a struct, union, enum, bitmask, bitset or typedef here"),
                );
                None
            }
        }
    }

    fn primitive(&mut self, p: ast::Primitive, span: Span) -> Option<Primitive> {
        use ast::Primitive as A;
        Some(match p {
            A::Short => Primitive::Int16,
            A::UShort => Primitive::UInt16,
            A::Long => Primitive::Int32,
            A::ULong => Primitive::UInt32,
            A::LongLong => Primitive::Int64,
            A::ULongLong => Primitive::UInt64,
            A::Int8 => Primitive::Int8,
            A::UInt8 => Primitive::UInt8,
            A::Float => Primitive::Float32,
            A::Double => Primitive::Float64,
            A::Char => Primitive::Char,
            A::WChar => Primitive::WChar,
            A::Octet => Primitive::Octet,
            A::Boolean => Primitive::Boolean,
            A::LongDouble => {
                if self.options.long_double_opaque {
                    Primitive::LongDoubleOpaque
                } else {
                    self.error(
                        Diagnostic::error(
                            "E-LONG-DOUBLE",
                            "`long double` has no portable fixed layout",
                            span,
                        )
                        .with_label("`long double`")
                        .with_note("its size and format differ between platforms and Rust has no such type")
                        .with_help("use `double`, or opt in to carrying it as an opaque 16-byte value with `Options::long_double_opaque` (`--long-double-opaque`)"),
                    );
                    return None;
                }
            }
        })
    }

    /// The bound of a string/sequence/map if it has one: written, per-member or default.
    fn find_bound(
        &mut self,
        bound: Option<&ConstExpr>,
        scope: ScopeId,
        u: &Use,
        kind: Unbound,
    ) -> Option<(u32, BoundSource)> {
        if let Some(e) = bound {
            let what = match kind {
                Unbound::String | Unbound::WString => "a string bound",
                Unbound::Sequence => "a sequence bound",
                Unbound::Map => "a map bound",
            };
            return self
                .eval_size(e, scope, what)
                .map(|b| (b, BoundSource::Explicit));
        }
        if u.constant {
            return Some((1, BoundSource::ConstantValue));
        }
        if let Some(&b) = self.options.member_bounds.get(&u.key)
            && b >= 1
        {
            return Some((b, BoundSource::MemberBound));
        }
        let default = match kind {
            Unbound::String | Unbound::WString => self.options.default_string_bound,
            Unbound::Sequence => self.options.default_sequence_bound,
            Unbound::Map => self.options.default_map_bound,
        };
        default
            .filter(|b| *b >= 1)
            .map(|b| (b, BoundSource::DefaultOption))
    }

    /// The bound of a string/sequence/map: written, per-member, default, or an error.
    fn bound(
        &mut self,
        bound: Option<&ConstExpr>,
        scope: ScopeId,
        u: &Use,
        kind: Unbound,
        span: Span,
        suggestion: String,
    ) -> Option<(u32, BoundSource)> {
        let found = self.find_bound(bound, scope, u, kind);
        if let Some((bound, source)) = found
            && !u.constant
        {
            self.bound_uses.push(hir::BoundUse {
                key: u.key.clone(),
                kind: kind.word(),
                bound,
                source,
            });
        }
        // A written bound that is invalid was reported already: no "unbounded" error.
        if found.is_some() || bound.is_some() {
            return found;
        }
        let example = if matches!(kind, Unbound::String | Unbound::WString) {
            256
        } else {
            100
        };
        let (option, code, name) = match kind {
            Unbound::String => ("default-string-bound", "E-UNBOUNDED-STRING", "string"),
            Unbound::WString => ("default-string-bound", "E-UNBOUNDED-WSTRING", "wstring"),
            Unbound::Sequence => ("default-sequence-bound", "E-UNBOUNDED-SEQUENCE", "sequence"),
            Unbound::Map => ("default-map-bound", "E-UNBOUNDED-MAP", "map"),
        };
        let builder = option.replace('-', "_");
        let diag = Diagnostic::error(
            code,
            format!(
                "{} {} an unbounded `{name}`, which cannot be stored in a fixed-layout message",
                u.what,
                if u.element { "holds" } else { "is" }
            ),
            span,
        )
        .with_label(format!("unbounded `{name}`"))
        .with_help(format!(
            "give it a bound, e.g. `{suggestion}`; or, without editing the file, set `\"{}\" = {example}` in a bounds file, or opt in to a default bound with `--{option} N` (`Builder::{builder}(N)`)",
            u.key
        ));
        self.unbounded.push(Unbounded {
            owner: u.owner,
            diag,
        });
        // Go on with a placeholder so the rest of the type (and a `@default` string) is
        // still checked; no layout is computed once there is an error.
        Some((u32::MAX, BoundSource::Explicit))
    }

    /// Wraps `base` in the declarator's array dimensions.
    fn with_dims(&mut self, base: Type, declarator: &Declarator, scope: ScopeId) -> Option<Type> {
        if declarator.array.is_empty() {
            return Some(base);
        }
        let mut dims = Vec::with_capacity(declarator.array.len());
        let mut ok = true;
        for e in &declarator.array {
            match self.eval_size(e, scope, "an array size") {
                Some(n) => dims.push(n),
                None => ok = false,
            }
        }
        ok.then(|| {
            Type::Array(ArrayType {
                element: Box::new(base),
                dims,
                layout: Layout::ZERO,
            })
        })
    }

    /// Follows typedefs (lowering them as needed).
    pub(crate) fn resolve_alias(&mut self, ty: &Type) -> Type {
        let mut current = ty.clone();
        for _ in 0..=self.decls.len() {
            let Type::Named(item) = &current else {
                return current;
            };
            let d = self.item_decls[item.0 as usize];
            if !matches!(self.decl(d).kind, DeclKind::Typedef { .. }) {
                return current;
            }
            self.ensure_lowered(d);
            match &self.lowered[d.0 as usize] {
                State::Done(ItemKind::Typedef(t)) => current = t.ty.clone(),
                _ => return current,
            }
        }
        current
    }

    /// Whether `ty` names a typedef (after `resolve_alias`, only in a typedef cycle).
    pub(crate) fn is_typedef(&self, ty: &Type) -> bool {
        matches!(ty, Type::Named(item) if matches!(self.decl(self.item_decls[item.0 as usize]).kind, DeclKind::Typedef { .. }))
    }

    /// An IDL spelling of a lowered type, for messages.
    pub(crate) fn type_text(&self, ty: &Type) -> String {
        match ty {
            Type::Primitive(p) => format!("`{}`", p.idl_name()),
            Type::String(s) => {
                let w = if s.wide { "wstring" } else { "string" };
                if s.source == BoundSource::ConstantValue {
                    format!("`{w}`")
                } else {
                    format!("`{w}<{}>`", s.bound)
                }
            }
            Type::Sequence(_) => "a sequence".to_owned(),
            Type::Map(_) => "a map".to_owned(),
            Type::Array(_) => "an array".to_owned(),
            Type::Named(item) => {
                let d = self.decl(self.item_decls[item.0 as usize]);
                format!("{} `{}`", d.what(), d.scoped_name())
            }
        }
    }

    // ---- structs ----

    fn lower_struct(
        &mut self,
        d: DeclId,
        s: &'a ast::StructDef,
        scope: ScopeId,
        ann: &Interpreted,
    ) -> Option<Struct> {
        let name = self.decl(d).scoped_name();
        let outer = self.decl(d).scope;
        let mut ok = true;
        let mut base = None;
        let mut seen: HashMap<String, Span> = HashMap::new();
        if let Some(b) = &s.base {
            match self.resolve(outer, b, "base struct") {
                Some(Symbol::Unsupported) => ok = false,
                Some(sym) => match self.base_struct(sym) {
                    Some(bd) => {
                        self.edges.push(Edge {
                            from: d,
                            to: bd,
                            via: format!("{name} (base)"),
                            span: b.span,
                        });
                        base = self.item_id(bd);
                        self.inherited_members(bd, d, &mut seen);
                    }
                    None => {
                        let text = super::resolve::scoped_text(b);
                        self.error(
                            Diagnostic::error("E-BASE-TYPE", format!("`{text}` is not a struct, so `{name}` cannot inherit from it"), b.span)
                                .with_label("not a struct")
                                .with_help("a struct can only inherit from a defined struct; make it a member instead"),
                        );
                        ok = false;
                    }
                },
                None => ok = false,
            }
        }
        let mut fields = Vec::new();
        let mut next_id: u32 = 0;
        let mut ids: HashMap<u32, (String, Span)> = HashMap::new();
        for member in &s.members {
            let mann = self.annotations(&member.attrs.annotations, Target::StructMember, outer);
            for declarator in &member.declarators {
                let fname = declarator.name.name.clone();
                if let Some(prev) = seen.get(&fname).copied() {
                    self.error(
                        Diagnostic::error(
                            "E-REDEFINITION",
                            format!("struct `{name}` has two members named `{fname}`"),
                            declarator.name.span,
                        )
                        .with_label("second member with this name")
                        .with_secondary(prev, "first member with this name (possibly inherited)")
                        .with_help("rename one of the members"),
                    );
                    ok = false;
                    continue;
                }
                seen.insert(fname.clone(), declarator.name.span);
                let u = Use {
                    owner: d,
                    key: format!("{name}::{fname}"),
                    what: format!("member `{fname}` of `{name}`"),
                    constant: false,
                    element: false,
                };
                let base_ty = self.lower_type(&member.ty, scope, &u, false);
                let Some(ty) = base_ty.and_then(|t| self.with_dims(t, declarator, scope)) else {
                    ok = false;
                    continue;
                };
                if mann.key && mann.optional {
                    self.error(
                        Diagnostic::error(
                            "E-ANNOTATION",
                            format!("key member `{fname}` cannot be `@optional`"),
                            declarator.name.span,
                        )
                        .with_help("a key must always be present: remove `@optional` or `@key`"),
                    );
                    ok = false;
                }
                let id = if ann.autoid_hash && mann.id.is_none() {
                    None
                } else {
                    let this = mann.id.map_or(next_id, |(n, _)| n);
                    next_id = this.saturating_add(1);
                    Some(this)
                };
                if let Some(id) = id {
                    if let Some((other, other_span)) = ids.get(&id).cloned() {
                        let span = mann.id.map_or(declarator.name.span, |(_, s)| s);
                        let how = if mann.id.is_some() {
                            ""
                        } else {
                            " (implicitly, following the previous member)"
                        };
                        self.error(
                            Diagnostic::error("E-ANNOTATION", format!("members `{other}` and `{fname}` of `{name}` have the same id {id}{how}"), span)
                                .with_secondary(other_span, format!("`{other}` has id {id}"))
                                .with_help("give every member a distinct `@id`"),
                        );
                        ok = false;
                    } else {
                        ids.insert(id, (fname.clone(), declarator.name.span));
                    }
                }
                let what = format!("member `{fname}`");
                let (default, min, max) = self.value_annotations(&mann, &ty, &what);
                fields.push(Field {
                    name: fname,
                    ty,
                    optional: mann.optional,
                    key: mann.key,
                    external: mann.external,
                    id: mann.id.map(|(n, _)| n),
                    default,
                    min,
                    max,
                    doc: mann.doc(Some(&member.attrs)),
                    annotations: mann.applied.clone(),
                    offset: 0,
                    layout: Layout::ZERO,
                    span: declarator.name.span,
                });
            }
        }
        ok.then_some(Struct {
            base,
            fields,
            base_offset: base.map(|_| 0),
            extensibility: ann.extensibility,
            nested: ann.nested,
            topic: ann.topic,
        })
    }

    /// `@default`, `@min`, `@max` converted to the member's type.
    fn value_annotations(
        &mut self,
        ann: &Interpreted,
        ty: &Type,
        what: &str,
    ) -> (Option<ConstValue>, Option<ConstValue>, Option<ConstValue>) {
        let conv = |sema: &mut Self, slot: &Option<(Val, Span)>, name: &str| {
            slot.clone().and_then(|(v, span)| {
                sema.convert(v, ty, span, "E-ANNOTATION", &format!("`@{name}` of {what}"))
            })
        };
        let default = conv(self, &ann.default, "default");
        let min = conv(self, &ann.min, "min");
        let max = conv(self, &ann.max, "max");
        (default, min, max)
    }

    /// The struct a base name stands for (through typedefs), as a declaration.
    fn base_struct(&mut self, sym: Symbol) -> Option<DeclId> {
        let Symbol::Decl(d) = sym else { return None };
        match self.decl(d).kind {
            DeclKind::Struct(_) => Some(d),
            DeclKind::Typedef { .. } => {
                let item = self.item_id(d)?;
                match self.resolve_alias(&Type::Named(item)) {
                    Type::Named(target) => {
                        let td = self.item_decls[target.0 as usize];
                        matches!(self.decl(td).kind, DeclKind::Struct(_)).then_some(td)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Names of the members of `d` and its bases (stopping at `this`, the struct whose
    /// members are checked, should the chain loop back to it).
    fn inherited_members(&mut self, d: DeclId, this: DeclId, seen: &mut HashMap<String, Span>) {
        // The chain from `d` up to its root base; a loop in it (an error reported
        // elsewhere) ends the walk.
        let mut chain = Vec::new();
        let mut visited = std::collections::HashSet::from([this]);
        let mut next = Some(d);
        while let Some(current) = next.take() {
            if !visited.insert(current) {
                break;
            }
            chain.push(current);
            let DeclKind::Struct(s) = self.decl(current).kind else {
                break;
            };
            if let Some(b) = &s.base {
                let outer = self.decl(current).scope;
                next = self.lookup(outer, b).and_then(|sym| self.base_struct(sym));
            }
        }
        for &c in chain.iter().rev() {
            let DeclKind::Struct(s) = self.decl(c).kind else {
                continue;
            };
            for m in &s.members {
                for decl in &m.declarators {
                    seen.entry(decl.name.name.clone()).or_insert(decl.name.span);
                }
            }
        }
    }

    // ---- unions ----

    fn lower_union(
        &mut self,
        d: DeclId,
        un: &'a ast::UnionDef,
        scope: ScopeId,
        ann: &Interpreted,
    ) -> Option<Union> {
        let name = self.decl(d).scoped_name();
        let outer = self.decl(d).scope;
        let dann = self.annotations(
            &un.discriminator_attrs.annotations,
            Target::Discriminator,
            outer,
        );
        let u = Use {
            owner: d,
            key: format!("{name}::_d"),
            what: format!("the discriminator of `{name}`"),
            constant: false,
            element: false,
        };
        let disc_ty = self.lower_type(&un.discriminator, scope, &u, false);
        let mut ok = disc_ty.is_some();
        let mut kind = None;
        if let Some(t) = &disc_ty {
            match self.resolve_alias(t) {
                // A typedef cycle, reported as E-RECURSIVE-TYPE.
                other if self.is_typedef(&other) => ok = false,
                Type::Primitive(p) if p.int_repr().is_some() => {
                    kind = Some(Discriminator::Primitive(p))
                }
                Type::Named(item)
                    if matches!(
                        self.decl(self.item_decls[item.0 as usize]).kind,
                        DeclKind::Enum(_)
                    ) =>
                {
                    kind = Some(Discriminator::Enum(item));
                }
                Type::Named(item)
                    if matches!(
                        self.decl(self.item_decls[item.0 as usize]).kind,
                        DeclKind::Bitmask(_)
                    ) =>
                {
                    let d = self.item_decls[item.0 as usize];
                    self.ensure_lowered(d);
                    kind = Some(Discriminator::Bitmask(item));
                }
                other => {
                    let text = self.type_text(&other);
                    self.error(
                        Diagnostic::error("E-UNION-DISCRIMINATOR", format!("{text} cannot be the discriminator of union `{name}`"), un.discriminator.span)
                            .with_label("not an integer, char, boolean, octet or enum type")
                            .with_help("switch on an integer, `char`, `wchar`, `boolean`, `octet` or enum type"),
                    );
                    ok = false;
                }
            }
        }
        let target = disc_ty.clone();
        let mut cases = Vec::new();
        let mut labels_seen: HashMap<i128, Span> = HashMap::new();
        let mut default_span: Option<Span> = None;
        let mut names: HashMap<String, Span> = HashMap::new();
        let int_ty = match kind {
            Some(Discriminator::Primitive(p)) => p.int_repr(),
            Some(Discriminator::Bitmask(item)) => {
                match &self.lowered[self.item_decls[item.0 as usize].0 as usize] {
                    State::Done(ItemKind::Bitmask(b)) => Some(b.repr),
                    _ => None,
                }
            }
            _ => None,
        };
        for case in &un.cases {
            let mut labels = Vec::new();
            let mut is_default = false;
            for label in &case.labels {
                match label {
                    CaseLabel::Default(span) => {
                        if let Some(prev) = default_span {
                            self.error(
                                Diagnostic::error(
                                    "E-UNION-LABEL",
                                    format!("union `{name}` has two `default:` labels"),
                                    *span,
                                )
                                .with_secondary(prev, "first `default:` here")
                                .with_help("keep one `default:` label"),
                            );
                            ok = false;
                        }
                        default_span = Some(*span);
                        is_default = true;
                    }
                    CaseLabel::Value(e) => {
                        let Some(v) = self.eval(e, scope, int_ty) else {
                            ok = false;
                            continue;
                        };
                        let Some(t) = &target else { continue };
                        let Some(cv) = self.convert(
                            v,
                            t,
                            e.span,
                            "E-CONST-TYPE",
                            &format!("a case label of union `{name}`"),
                        ) else {
                            ok = false;
                            continue;
                        };
                        let n = match cv {
                            ConstValue::Int(n) => n,
                            ConstValue::Bool(b) => i128::from(b),
                            ConstValue::Char(c) => i128::from(u32::from(c)),
                            ConstValue::Enumerator { value, .. } => i128::from(value),
                            _ => continue,
                        };
                        if let Some(prev) = labels_seen.get(&n).copied() {
                            self.error(
                                Diagnostic::error(
                                    "E-UNION-LABEL",
                                    format!(
                                        "the case label value {n} is used twice in union `{name}`"
                                    ),
                                    e.span,
                                )
                                .with_secondary(prev, "first used here")
                                .with_help("each discriminator value may select one case only"),
                            );
                            ok = false;
                        } else {
                            labels_seen.insert(n, e.span);
                        }
                        labels.push(n);
                    }
                }
            }
            let cann = self.annotations(&case.attrs.annotations, Target::UnionMember, outer);
            let mname = case.declarator.name.name.clone();
            if let Some(prev) = names.get(&mname).copied() {
                self.error(
                    Diagnostic::error(
                        "E-REDEFINITION",
                        format!("union `{name}` has two members named `{mname}`"),
                        case.declarator.name.span,
                    )
                    .with_secondary(prev, "first member with this name")
                    .with_help("rename one of the members"),
                );
                ok = false;
                continue;
            }
            names.insert(mname.clone(), case.declarator.name.span);
            let u = Use {
                owner: d,
                key: format!("{name}::{mname}"),
                what: format!("member `{mname}` of union `{name}`"),
                constant: false,
                element: false,
            };
            let base = self.lower_type(&case.ty, scope, &u, false);
            let Some(ty) = base.and_then(|t| self.with_dims(t, &case.declarator, scope)) else {
                ok = false;
                continue;
            };
            let what = format!("member `{mname}`");
            let _ = self.value_annotations(&cann, &ty, &what);
            cases.push(UnionCase {
                labels,
                is_default,
                name: mname,
                ty,
                layout: Layout::ZERO,
                offset: 0,
                doc: cann.doc(Some(&case.attrs)),
                annotations: cann.applied.clone(),
                span: case.declarator.name.span,
            });
        }
        if !ok {
            return None;
        }
        let kind = kind?;
        let default_discriminator = self.free_discriminator(kind, &labels_seen);
        Some(Union {
            discriminator: disc_ty?,
            discriminator_kind: kind,
            discriminator_key: dann.key,
            default_case: cases.iter().position(|c| c.is_default),
            cases,
            default_discriminator,
            storage_layout: Layout::ZERO,
            storage_offset: 0,
            extensibility: ann.extensibility,
        })
    }

    /// The smallest valid discriminator value no label uses.
    fn free_discriminator(
        &mut self,
        kind: Discriminator,
        used: &HashMap<i128, Span>,
    ) -> Option<i128> {
        match kind {
            Discriminator::Enum(item) => {
                let d = self.item_decls[item.0 as usize];
                match &self.lowered[d.0 as usize] {
                    State::Done(ItemKind::Enum(e)) => e
                        .enumerators
                        .iter()
                        .map(|x| i128::from(x.value))
                        .find(|v| !used.contains_key(v)),
                    _ => None,
                }
            }
            Discriminator::Bitmask(item) => {
                let d = self.item_decls[item.0 as usize];
                let State::Done(ItemKind::Bitmask(b)) = &self.lowered[d.0 as usize] else {
                    return None;
                };
                let (_, hi) = b.repr.range();
                let limit = i128::try_from(used.len())
                    .unwrap_or(i128::MAX)
                    .saturating_add(1);
                (0..limit).find(|v| *v <= hi && !used.contains_key(v))
            }
            Discriminator::Primitive(p) => {
                let repr = p.int_repr()?;
                let (lo, hi) = if p == Primitive::Boolean {
                    (0, 1)
                } else {
                    repr.range()
                };
                let start = lo.max(0);
                let limit = i128::try_from(used.len())
                    .unwrap_or(i128::MAX)
                    .saturating_add(1);
                (0..limit)
                    .map(|k| start + k)
                    .find(|v| *v <= hi && !used.contains_key(v))
                    .or_else(|| {
                        (lo..0)
                            .rev()
                            .take(used.len() + 1)
                            .find(|v| !used.contains_key(v))
                    })
            }
        }
    }

    // ---- enums, bitmasks, bitsets ----

    fn lower_enum(
        &mut self,
        e: &'a ast::EnumDef,
        scope: ScopeId,
        ann: &Interpreted,
    ) -> Option<Enum> {
        let bit_bound = ann.bit_bound.map_or(32, |(b, _)| b);
        let mut ok = true;
        let mut next: i128 = 0;
        let mut values: Vec<(i128, Span)> = Vec::new();
        let mut first_with_value: HashMap<i128, Span> = HashMap::new();
        let mut enumerators = Vec::new();
        let mut default_index = None;
        let mut default_span: Option<Span> = None;
        for en in &e.enumerators {
            let eann = self.annotations(&en.attrs.annotations, Target::Enumerator, scope);
            let value = match eann.value.clone() {
                Some((Val::Int(v), _)) => v,
                Some((other, span)) => {
                    self.error(
                        Diagnostic::error(
                            "E-ANNOTATION",
                            format!(
                                "`@value` of enumerator `{}` must be an integer, found {}",
                                en.name.name,
                                other.describe()
                            ),
                            span,
                        )
                        .with_help("write `@value(N)` with an integer `N`"),
                    );
                    ok = false;
                    next
                }
                None => next,
            };
            next = value + 1;
            if let Some(span) = eann.default_literal {
                if let Some(prev) = default_span {
                    self.error(
                        Diagnostic::error(
                            "E-ANNOTATION",
                            "only one enumerator can be `@default_literal`",
                            span,
                        )
                        .with_secondary(prev, "already the default")
                        .with_help("remove one of the `@default_literal` annotations"),
                    );
                    ok = false;
                } else {
                    default_span = Some(span);
                    default_index = Some(enumerators.len());
                }
            }
            if let Some(prev) = first_with_value.get(&value) {
                self.error(
                    Diagnostic::error(
                        "E-ANNOTATION",
                        format!(
                            "enumerator `{}` has the value {value}, like an earlier one",
                            en.name.name
                        ),
                        eann.value.as_ref().map_or(en.name.span, |(_, s)| *s),
                    )
                    .with_secondary(*prev, format!("value {value} here"))
                    .with_help("give every enumerator a distinct `@value`"),
                );
                ok = false;
            } else {
                first_with_value.insert(value, en.name.span);
            }
            values.push((value, en.name.span));
            enumerators.push(Enumerator {
                name: en.name.name.clone(),
                value: i64::try_from(value).unwrap_or(0),
                doc: eann.doc(Some(&en.attrs)),
                span: en.name.span,
            });
        }
        let negative = values.iter().any(|(v, _)| *v < 0);
        let repr = match (bit_bound, negative) {
            (..=8, false) => IntRepr::U8,
            (..=16, false) => IntRepr::U16,
            (_, false) => IntRepr::U32,
            (..=8, true) => IntRepr::I8,
            (..=16, true) => IntRepr::I16,
            (_, true) => IntRepr::I32,
        };
        let (lo, hi) = if negative {
            let half = 1i128 << (bit_bound - 1);
            (-half, half - 1)
        } else {
            (0, (1i128 << bit_bound) - 1)
        };
        for ((v, span), en) in values.iter().zip(&e.enumerators) {
            if !(lo..=hi).contains(v) {
                self.error(
                    Diagnostic::error("E-ANNOTATION", format!("enumerator `{}` has the value {v}, which does not fit the enum's {bit_bound}-bit bound", en.name.name), *span)
                        .with_help(format!("use values in {lo}..={hi}, or raise `@bit_bound`")),
                );
                ok = false;
            }
        }
        ok.then_some(Enum {
            bit_bound,
            repr,
            enumerators,
            default_index: default_index.unwrap_or(0),
            extensibility: ann.extensibility,
        })
    }

    /// The value of enumerator `index` of enum `d` (for a bitmask: its bit, `1 << position`,
    /// which for position 63 is beyond `i64`).
    pub(crate) fn enumerator_value(&mut self, d: DeclId, index: usize) -> Option<i128> {
        self.ensure_lowered(d);
        match &self.lowered[d.0 as usize] {
            State::Done(ItemKind::Enum(e)) => e.enumerators.get(index).map(|x| i128::from(x.value)),
            State::Done(ItemKind::Bitmask(b)) => {
                b.flags.get(index).map(|f| 1i128 << f.position.min(63))
            }
            _ => None,
        }
    }

    fn lower_bitmask(
        &mut self,
        b: &'a ast::BitmaskDef,
        scope: ScopeId,
        ann: &Interpreted,
    ) -> Option<Bitmask> {
        let bit_bound = ann.bit_bound.map_or(32, |(b, _)| b);
        let mut ok = true;
        let mut next = 0u32;
        let mut used: HashMap<u32, Span> = HashMap::new();
        let mut flags = Vec::new();
        for v in &b.values {
            let fann = self.annotations(&v.attrs.annotations, Target::BitFlag, scope);
            let position = fann.position.map_or(next, |(p, _)| p);
            next = position.saturating_add(1);
            let span = fann.position.map_or(v.name.span, |(_, s)| s);
            if position >= bit_bound {
                self.error(
                    Diagnostic::error("E-ANNOTATION", format!("flag `{}` is at bit {position}, outside the bitmask's {bit_bound} bits", v.name.name), span)
                        .with_help(format!("use positions 0 to {}, or raise `@bit_bound`", bit_bound - 1)),
                );
                ok = false;
            } else if let Some(prev) = used.get(&position).copied() {
                self.error(
                    Diagnostic::error(
                        "E-ANNOTATION",
                        format!(
                            "flag `{}` uses bit {position}, like an earlier flag",
                            v.name.name
                        ),
                        span,
                    )
                    .with_secondary(prev, "bit already used here")
                    .with_help("give every flag a distinct `@position`"),
                );
                ok = false;
            } else {
                used.insert(position, v.name.span);
            }
            flags.push(BitFlag {
                name: v.name.name.clone(),
                position,
                doc: fann.doc(Some(&v.attrs)),
                span: v.name.span,
            });
        }
        let repr = IntRepr::unsigned_for_bits(bit_bound);
        ok.then_some(Bitmask {
            bit_bound,
            repr,
            flags,
        })
    }

    fn lower_bitset(&mut self, d: DeclId, b: &'a ast::BitsetDef, scope: ScopeId) -> Option<Bitset> {
        let name = self.decl(d).scoped_name();
        let mut ok = true;
        let mut fields = Vec::new();
        let mut offset = 0u32;
        let mut base = None;
        let mut names: HashMap<String, Span> = HashMap::new();
        if let Some(bn) = &b.base {
            let sym = self.resolve(scope, bn, "base bitset");
            match sym {
                Some(Symbol::Decl(bd)) if matches!(self.decl(bd).kind, DeclKind::Bitset(_)) => {
                    self.ensure_lowered(bd);
                    if let State::Done(ItemKind::Bitset(bs)) = &self.lowered[bd.0 as usize] {
                        fields.extend(bs.fields.iter().cloned());
                        offset = bs.total_bits;
                        for f in &bs.fields {
                            names.insert(f.name.clone(), f.span);
                        }
                    }
                    base = self.item_id(bd);
                }
                Some(Symbol::Unsupported) => ok = false,
                Some(_) => {
                    self.error(
                        Diagnostic::error(
                            "E-BASE-TYPE",
                            format!("bitset `{name}` can only inherit from a bitset"),
                            bn.span,
                        )
                        .with_help("name a bitset as the base"),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        for bf in &b.fields {
            self.annotations(&bf.attrs.annotations, Target::Bitfield, scope);
            let width = match self.eval_size(&bf.width, scope, "a bit field width") {
                Some(w) if w <= 64 => w,
                Some(w) => {
                    self.error(
                        Diagnostic::error(
                            "E-BITSET",
                            format!("a bit field cannot be {w} bits wide"),
                            bf.width.span,
                        )
                        .with_help("use a width from 1 to 64"),
                    );
                    ok = false;
                    continue;
                }
                None => {
                    ok = false;
                    continue;
                }
            };
            let ty = match &bf.ty {
                Some(t) => {
                    let u = Use {
                        owner: d,
                        key: format!("{name}::bitfield"),
                        what: format!("a bit field of `{name}`"),
                        constant: true,
                        element: false,
                    };
                    let Some(lowered) = self.lower_type(t, scope, &u, false) else {
                        ok = false;
                        continue;
                    };
                    match self.resolve_alias(&lowered) {
                        other if self.is_typedef(&other) => {
                            ok = false;
                            continue;
                        }
                        Type::Primitive(p) if p.int_repr().is_some() => {
                            let cap = if p == Primitive::Boolean {
                                1
                            } else {
                                p.int_repr().map_or(64, IntRepr::bits)
                            };
                            if width > cap {
                                self.error(
                                    Diagnostic::error(
                                        "E-BITSET",
                                        format!(
                                            "a {width}-bit field does not fit its type `{}`",
                                            p.idl_name()
                                        ),
                                        t.span,
                                    )
                                    .with_help(format!(
                                        "use a type of at least {width} bits, or narrow the field"
                                    )),
                                );
                                ok = false;
                            }
                            p
                        }
                        other => {
                            let text = self.type_text(&other);
                            self.error(
                                Diagnostic::error(
                                    "E-BITSET",
                                    format!("{text} cannot hold a bit field"),
                                    t.span,
                                )
                                .with_help("use `boolean`, `octet` or an integer type"),
                            );
                            ok = false;
                            continue;
                        }
                    }
                }
                None => match width {
                    1 => Primitive::Boolean,
                    2..=8 => Primitive::UInt8,
                    9..=16 => Primitive::UInt16,
                    17..=32 => Primitive::UInt32,
                    _ => Primitive::UInt64,
                },
            };
            for n in &bf.names {
                if let Some(prev) = names.get(&n.name).copied() {
                    self.error(
                        Diagnostic::error(
                            "E-REDEFINITION",
                            format!("bitset `{name}` has two fields named `{}`", n.name),
                            n.span,
                        )
                        .with_secondary(prev, "first field with this name")
                        .with_help("rename one of the fields"),
                    );
                    ok = false;
                }
                names.insert(n.name.clone(), n.span);
                fields.push(Bitfield {
                    name: n.name.clone(),
                    offset,
                    width,
                    ty,
                    doc: hir::Doc {
                        comments: bf.attrs.doc.clone(),
                        ..hir::Doc::default()
                    },
                    span: n.span,
                });
                offset = offset.saturating_add(width);
            }
            if bf.names.is_empty() {
                offset = offset.saturating_add(width);
            }
        }
        if offset > 64 {
            self.error(
                Diagnostic::error(
                    "E-BITSET",
                    format!("bitset `{name}` needs {offset} bits, more than 64"),
                    self.decl(d).span,
                )
                .with_help("split it into several bitsets, or narrow its fields"),
            );
            ok = false;
        }
        let storage = IntRepr::unsigned_for_bits(offset);
        ok.then_some(Bitset {
            base,
            fields,
            total_bits: offset,
            storage,
        })
    }

    // ---- constants ----

    fn lower_const(&mut self, d: DeclId, c: &'a ast::ConstDef, scope: ScopeId) -> Option<Const> {
        let name = self.decl(d).scoped_name();
        let u = Use {
            owner: d,
            key: name.clone(),
            what: format!("constant `{name}`"),
            constant: true,
            element: false,
        };
        let ty = self.lower_type(&c.ty, scope, &u, false)?;
        let resolved = self.resolve_alias(&ty);
        if self.is_typedef(&resolved) {
            // A typedef cycle, reported as E-RECURSIVE-TYPE.
            return None;
        }
        let int_ty = match &resolved {
            Type::Primitive(p) => p.int_repr(),
            Type::String(_) => None,
            Type::Named(item)
                if matches!(
                    self.decl(self.item_decls[item.0 as usize]).kind,
                    DeclKind::Enum(_)
                ) =>
            {
                None
            }
            other => {
                let text = self.type_text(other);
                self.error(
                    Diagnostic::error("E-CONST-TYPE", format!("constant `{name}` cannot have the type {text}"), c.ty.span)
                        .with_label("not a constant type")
                        .with_help("constants are integers, floating-point numbers, characters, booleans, octets, strings or enumerators"),
                );
                return None;
            }
        };
        let v = self.eval(&c.value, scope, int_ty)?;
        let value = self.convert(
            v,
            &ty,
            c.value.span,
            "E-CONST-TYPE",
            &format!("constant `{name}`"),
        )?;
        let ty = match (ty, &value) {
            (Type::String(mut s), ConstValue::String(text))
                if s.source == BoundSource::ConstantValue =>
            {
                let len = if s.wide {
                    text.encode_utf16().count()
                } else {
                    text.len()
                };
                s.bound = u32::try_from(len.max(1)).unwrap_or(u32::MAX);
                Type::String(s)
            }
            (ty, _) => ty,
        };
        Some(Const { ty, value })
    }
}

/// An IDL spelling of a type as written, for suggestions.
pub(crate) fn idl_text(ty: &TypeSpec) -> String {
    use ast::Primitive as A;
    match &ty.kind {
        TypeKind::Primitive(p) => match p {
            A::Short => "short",
            A::UShort => "unsigned short",
            A::Long => "long",
            A::ULong => "unsigned long",
            A::LongLong => "long long",
            A::ULongLong => "unsigned long long",
            A::Int8 => "int8",
            A::UInt8 => "uint8",
            A::Float => "float",
            A::Double => "double",
            A::LongDouble => "long double",
            A::Char => "char",
            A::WChar => "wchar",
            A::Octet => "octet",
            A::Boolean => "boolean",
        }
        .to_owned(),
        TypeKind::String { wide, bound } => {
            let w = if *wide { "wstring" } else { "string" };
            match bound {
                Some(b) => format!("{w}<{}>", expr_text(b)),
                None => w.to_owned(),
            }
        }
        TypeKind::Sequence { element, bound } => match bound {
            Some(b) => format!("sequence<{}, {}>", idl_text(element), expr_text(b)),
            None => format!("sequence<{}>", idl_text(element)),
        },
        TypeKind::Map { key, value, .. } => format!("map<{}, {}>", idl_text(key), idl_text(value)),
        TypeKind::Named(n) => super::resolve::scoped_text(n),
        TypeKind::Inline(_) | TypeKind::Unsupported(_) => "T".to_owned(),
    }
}

/// A bound as written, when it is a literal or a name (else `N`).
fn expr_text(e: &ConstExpr) -> String {
    match &e.kind {
        ast::ExprKind::Literal(ast::Literal::Integer(n)) => n.to_string(),
        ast::ExprKind::Name(n) => super::resolve::scoped_text(n),
        _ => "N".to_owned(),
    }
}
