//! Applied annotations: the standard ones (IDL 4.2 §8.3 and DDS-XTypes), where each may
//! be applied and what parameters it takes. A misapplied or malformed standard annotation
//! is `E-ANNOTATION`; an unknown one is the warning `W-UNKNOWN-ANNOTATION` and is ignored;
//! annotations declared with `@annotation` are accepted and kept.

use super::const_eval::Val;
use super::{ScopeId, Sema};
use crate::ast::{Annotation, AnnotationParams, Attributes, BinaryOp, ConstExpr, ExprKind};
use crate::diagnostics::Diagnostic;
use crate::hir::{self, AppliedAnnotation, ConstValue, Extensibility};
use crate::source::Span;

/// What an annotation is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Module,
    Struct,
    Union,
    Enum,
    Bitmask,
    Bitset,
    Typedef,
    Const,
    StructMember,
    UnionMember,
    Discriminator,
    Enumerator,
    BitFlag,
    Bitfield,
    TypeArgument,
}

impl Target {
    fn describe(self) -> &'static str {
        match self {
            Target::Module => "a module",
            Target::Struct => "a struct",
            Target::Union => "a union",
            Target::Enum => "an enum",
            Target::Bitmask => "a bitmask",
            Target::Bitset => "a bitset",
            Target::Typedef => "a typedef",
            Target::Const => "a constant",
            Target::StructMember => "a struct member",
            Target::UnionMember => "a union member",
            Target::Discriminator => "a union discriminator",
            Target::Enumerator => "an enumerator",
            Target::BitFlag => "a bitmask flag",
            Target::Bitfield => "a bit field",
            Target::TypeArgument => "a type argument",
        }
    }
}

/// The parameters an annotation takes.
#[derive(Debug, Clone, Copy)]
enum Params {
    /// None at all (`@final`).
    Nothing,
    /// An optional boolean `value`, `TRUE` when omitted (`@key`, `@key(FALSE)`).
    OptBool,
    /// A required unsigned integer `value` up to `max`.
    UInt(u64),
    /// A required constant of any type (`@default`, `@value`, `@min`).
    Any,
    /// A required string (`@unit`).
    Str,
    /// An optional string (`@hashid`).
    OptStr,
    /// A required word from the list (`@extensibility(FINAL)`).
    Word(&'static [&'static str]),
    /// An optional word from the list (`@autoid`, `@try_construct`).
    OptWord(&'static [&'static str]),
    /// Words from the list joined with `|` (`@data_representation(XCDR1 | XCDR2)`).
    Flags(&'static [&'static str]),
    /// `min` and `max` (`@range`).
    Range,
    /// `language`, `placement`, `text` (`@verbatim`).
    Verbatim,
    /// Optional `name` and `platform` strings (`@topic`).
    Topic,
}

struct Spec {
    name: &'static str,
    params: Params,
    targets: &'static [Target],
    applies_to: &'static str,
}

use Target as T;
const MEMBERS: &[Target] = &[T::StructMember, T::UnionMember];
const TYPES: &[Target] = &[T::Struct, T::Union, T::Enum, T::Bitmask, T::Bitset];
const VALUE_HOLDERS: &[Target] = &[T::StructMember, T::UnionMember, T::Typedef];
const EVERYWHERE: &[Target] = &[
    T::Module,
    T::Struct,
    T::Union,
    T::Enum,
    T::Bitmask,
    T::Bitset,
    T::Typedef,
    T::Const,
    T::StructMember,
    T::UnionMember,
    T::Discriminator,
    T::Enumerator,
    T::BitFlag,
    T::Bitfield,
];

const SPECS: &[Spec] = &[
    Spec {
        name: "key",
        params: Params::OptBool,
        targets: &[T::StructMember, T::Discriminator],
        applies_to: "struct members and union discriminators",
    },
    Spec {
        name: "id",
        params: Params::UInt(0x0FFF_FFFF),
        targets: MEMBERS,
        applies_to: "struct and union members",
    },
    Spec {
        name: "autoid",
        params: Params::OptWord(&["SEQUENTIAL", "HASH"]),
        targets: &[T::Module, T::Struct, T::Union],
        applies_to: "modules, structs and unions",
    },
    Spec {
        name: "hashid",
        params: Params::OptStr,
        targets: MEMBERS,
        applies_to: "struct and union members",
    },
    Spec {
        name: "optional",
        params: Params::OptBool,
        targets: &[T::StructMember],
        applies_to: "struct members",
    },
    Spec {
        name: "must_understand",
        params: Params::OptBool,
        targets: &[T::StructMember],
        applies_to: "struct members",
    },
    Spec {
        name: "external",
        params: Params::OptBool,
        targets: MEMBERS,
        applies_to: "struct and union members",
    },
    Spec {
        name: "non_serialized",
        params: Params::OptBool,
        targets: &[T::StructMember],
        applies_to: "struct members",
    },
    Spec {
        name: "position",
        params: Params::UInt(u16::MAX as u64),
        targets: &[T::BitFlag],
        applies_to: "bitmask flags",
    },
    Spec {
        name: "value",
        params: Params::Any,
        targets: &[T::Enumerator],
        applies_to: "enumerators",
    },
    Spec {
        name: "default_literal",
        params: Params::Nothing,
        targets: &[T::Enumerator],
        applies_to: "enumerators",
    },
    Spec {
        name: "bit_bound",
        params: Params::UInt(u16::MAX as u64),
        targets: &[T::Enum, T::Bitmask],
        applies_to: "enums and bitmasks",
    },
    Spec {
        name: "extensibility",
        params: Params::Word(&["FINAL", "APPENDABLE", "MUTABLE"]),
        targets: TYPES,
        applies_to: "structs, unions, enums, bitmasks and bitsets",
    },
    Spec {
        name: "final",
        params: Params::Nothing,
        targets: TYPES,
        applies_to: "structs, unions, enums, bitmasks and bitsets",
    },
    Spec {
        name: "appendable",
        params: Params::Nothing,
        targets: TYPES,
        applies_to: "structs, unions, enums, bitmasks and bitsets",
    },
    Spec {
        name: "mutable",
        params: Params::Nothing,
        targets: TYPES,
        applies_to: "structs, unions, enums, bitmasks and bitsets",
    },
    Spec {
        name: "nested",
        params: Params::OptBool,
        targets: &[T::Struct, T::Union],
        applies_to: "structs and unions",
    },
    Spec {
        name: "default_nested",
        params: Params::OptBool,
        targets: &[T::Module],
        applies_to: "modules",
    },
    Spec {
        name: "topic",
        params: Params::Topic,
        targets: &[T::Struct, T::Union],
        applies_to: "structs and unions",
    },
    Spec {
        name: "default",
        params: Params::Any,
        targets: &[
            T::StructMember,
            T::UnionMember,
            T::Typedef,
            T::Discriminator,
        ],
        applies_to: "members, union discriminators and typedefs",
    },
    Spec {
        name: "range",
        params: Params::Range,
        targets: VALUE_HOLDERS,
        applies_to: "members and typedefs",
    },
    Spec {
        name: "min",
        params: Params::Any,
        targets: VALUE_HOLDERS,
        applies_to: "members and typedefs",
    },
    Spec {
        name: "max",
        params: Params::Any,
        targets: VALUE_HOLDERS,
        applies_to: "members and typedefs",
    },
    Spec {
        name: "unit",
        params: Params::Str,
        targets: VALUE_HOLDERS,
        applies_to: "members and typedefs",
    },
    Spec {
        name: "verbatim",
        params: Params::Verbatim,
        targets: EVERYWHERE,
        applies_to: "any declaration",
    },
    Spec {
        name: "try_construct",
        params: Params::OptWord(&["DISCARD", "USE_DEFAULT", "TRIM"]),
        targets: &[
            T::StructMember,
            T::UnionMember,
            T::Discriminator,
            T::TypeArgument,
        ],
        applies_to: "members, union discriminators and sequence/map element types",
    },
    Spec {
        name: "data_representation",
        params: Params::Flags(&["XML", "XCDR1", "XCDR2"]),
        targets: TYPES,
        applies_to: "types",
    },
    Spec {
        name: "ignore_literal_names",
        params: Params::OptBool,
        targets: &[T::Enum],
        applies_to: "enums",
    },
];

/// What the annotations of one declaration say.
#[derive(Debug, Default)]
pub(crate) struct Interpreted {
    pub(crate) key: bool,
    pub(crate) id: Option<(u32, Span)>,
    pub(crate) autoid_hash: bool,
    pub(crate) optional: bool,
    pub(crate) external: bool,
    pub(crate) default: Option<(Val, Span)>,
    pub(crate) min: Option<(Val, Span)>,
    pub(crate) max: Option<(Val, Span)>,
    pub(crate) unit: Option<String>,
    pub(crate) verbatim: Vec<hir::Verbatim>,
    pub(crate) extensibility: Option<Extensibility>,
    pub(crate) nested: Option<bool>,
    pub(crate) topic: bool,
    pub(crate) bit_bound: Option<(u32, Span)>,
    pub(crate) value: Option<(Val, Span)>,
    pub(crate) position: Option<(u32, Span)>,
    pub(crate) default_literal: Option<Span>,
    pub(crate) applied: Vec<AppliedAnnotation>,
}

impl Interpreted {
    /// The documentation: comments plus `@verbatim` and `@unit`.
    pub(crate) fn doc(&self, attrs: Option<&Attributes>) -> hir::Doc {
        hir::Doc {
            comments: attrs.map(|a| a.doc.clone()).unwrap_or_default(),
            verbatim: self.verbatim.clone(),
            unit: self.unit.clone(),
        }
    }
}

impl Sema<'_> {
    /// Checks and interprets `annotations` applied to `target`, evaluating parameters in
    /// `scope`.
    pub(crate) fn annotations(
        &mut self,
        annotations: &[Annotation],
        target: Target,
        scope: ScopeId,
    ) -> Interpreted {
        let mut out = Interpreted::default();
        for ann in annotations {
            self.annotation(ann, target, scope, &mut out);
        }
        out
    }

    /// Only the documentation of a module's attributes.
    pub(crate) fn doc_only(&mut self, attrs: &Attributes) -> hir::Doc {
        let verbatim = attrs
            .annotations
            .iter()
            .filter(|a| a.name.parts.len() == 1 && a.name.parts[0].name == "verbatim")
            .cloned()
            .collect::<Vec<_>>();
        let i = self.annotations(&verbatim, Target::Module, ScopeId(0));
        i.doc(Some(attrs))
    }

    /// Checks a module's annotations (the `@verbatim` ones were taken by `doc_only`).
    pub(crate) fn check_module_annotations(&mut self, attrs: &Attributes, scope: ScopeId) {
        let rest = attrs
            .annotations
            .iter()
            .filter(|a| !(a.name.parts.len() == 1 && a.name.parts[0].name == "verbatim"))
            .cloned()
            .collect::<Vec<_>>();
        self.annotations(&rest, Target::Module, scope);
    }

    fn annotation(
        &mut self,
        ann: &Annotation,
        target: Target,
        scope: ScopeId,
        out: &mut Interpreted,
    ) {
        let full = super::resolve::scoped_text(&ann.name);
        let last = ann
            .name
            .parts
            .last()
            .map_or("", |p| p.name.as_str())
            .to_owned();
        let spec = if ann.name.parts.len() == 1 {
            SPECS.iter().find(|s| s.name == last)
        } else {
            None
        };
        let Some(spec) = spec else {
            if self.declared_annotations.contains(&last) {
                let params = self.lenient_params(ann, scope);
                out.applied.push(AppliedAnnotation {
                    name: full,
                    params,
                    span: ann.span,
                });
            } else {
                self.unknown(ann, &full);
            }
            return;
        };
        if !spec.targets.contains(&target) {
            self.error(
                Diagnostic::error(
                    "E-ANNOTATION",
                    format!(
                        "`@{}` cannot be applied to {}",
                        spec.name,
                        target.describe()
                    ),
                    ann.span,
                )
                .with_label("misplaced annotation")
                .with_help(format!(
                    "`@{}` applies to {}; remove it here",
                    spec.name, spec.applies_to
                )),
            );
            return;
        }
        let Some(params) = self.check_param_names(ann, spec) else {
            return;
        };
        let mut applied = Vec::new();
        let name = spec.name;
        let single = params.iter().find(|(n, _)| n == "value").map(|(_, e)| *e);
        match spec.params {
            Params::Nothing => {}
            Params::OptBool => {
                let v = match single {
                    None => true,
                    Some(e) => match self.eval(e, scope, None) {
                        Some(Val::Bool(b)) => {
                            applied.push(("value".to_owned(), ConstValue::Bool(b)));
                            b
                        }
                        Some(other) => {
                            self.bad_param(
                                ann,
                                e.span,
                                format!(
                                    "`@{name}` expects `TRUE` or `FALSE`, found {}",
                                    other.describe()
                                ),
                                format!("write `@{name}` or `@{name}(FALSE)`"),
                            );
                            return;
                        }
                        None => return,
                    },
                };
                match name {
                    "key" => out.key = v,
                    "optional" => out.optional = v,
                    "external" => out.external = v,
                    "nested" | "default_nested" => out.nested = Some(v),
                    _ => {}
                }
            }
            Params::UInt(max) => {
                let Some(e) = self.required(ann, single, spec) else {
                    return;
                };
                let n = match self.eval(e, scope, Some(hir::IntRepr::U32)) {
                    Some(Val::Int(n)) if n >= 0 && n <= i128::from(max) => n,
                    Some(Val::Int(n)) => {
                        self.bad_param(
                            ann,
                            e.span,
                            format!("`@{name}({n})` is out of range"),
                            format!("`@{name}` takes a value from 0 to {max}"),
                        );
                        return;
                    }
                    Some(other) => {
                        self.bad_param(
                            ann,
                            e.span,
                            format!(
                                "`@{name}` expects an unsigned integer, found {}",
                                other.describe()
                            ),
                            format!("write `@{name}(N)` with an integer `N`"),
                        );
                        return;
                    }
                    None => return,
                };
                let n32 = u32::try_from(n).unwrap_or(u32::MAX);
                if name == "bit_bound" {
                    let limit = if target == Target::Enum { 32 } else { 64 };
                    if !(1..=limit).contains(&n32) {
                        self.bad_param(
                            ann,
                            e.span,
                            format!(
                                "`@bit_bound({n})` is out of range for {}",
                                target.describe()
                            ),
                            format!(
                                "the bit bound of {} must be 1 to {limit}",
                                if target == Target::Enum {
                                    "an enum"
                                } else {
                                    "a bitmask"
                                }
                            ),
                        );
                        return;
                    }
                    out.bit_bound = Some((n32, ann.span));
                } else if name == "id" {
                    out.id = Some((n32, ann.span));
                } else {
                    out.position = Some((n32, ann.span));
                }
                applied.push(("value".to_owned(), ConstValue::Int(n)));
            }
            Params::Any => {
                let Some(e) = self.required(ann, single, spec) else {
                    return;
                };
                let Some(v) = self.eval(e, scope, None) else {
                    return;
                };
                if let Some(cv) = self.plain_value(&v) {
                    applied.push(("value".to_owned(), cv));
                }
                let slot = Some((v, e.span));
                match name {
                    "default" => out.default = slot,
                    "min" => out.min = slot,
                    "max" => out.max = slot,
                    _ => out.value = slot,
                }
            }
            Params::Str | Params::OptStr => {
                let e = match single {
                    Some(e) => e,
                    None if matches!(spec.params, Params::OptStr) => {
                        out.applied.push(AppliedAnnotation {
                            name: full,
                            params: applied,
                            span: ann.span,
                        });
                        return;
                    }
                    None => {
                        let Some(e) = self.required(ann, None, spec) else {
                            return;
                        };
                        e
                    }
                };
                match self.eval(e, scope, None) {
                    Some(Val::Str(s) | Val::WStr(s)) => {
                        if name == "unit" {
                            out.unit = Some(s.clone());
                        }
                        applied.push(("value".to_owned(), ConstValue::String(s)));
                    }
                    Some(other) => {
                        self.bad_param(
                            ann,
                            e.span,
                            format!("`@{name}` expects a string, found {}", other.describe()),
                            format!("write `@{name}(\"...\")`"),
                        );
                        return;
                    }
                    None => return,
                }
            }
            Params::Word(words) | Params::OptWord(words) => {
                let e = match single {
                    Some(e) => e,
                    None if matches!(spec.params, Params::OptWord(_)) => {
                        out.applied.push(AppliedAnnotation {
                            name: full,
                            params: applied,
                            span: ann.span,
                        });
                        return;
                    }
                    None => {
                        let Some(e) = self.required(ann, None, spec) else {
                            return;
                        };
                        e
                    }
                };
                let Some(word) = word_of(e, words) else {
                    self.bad_param(
                        ann,
                        e.span,
                        format!("`@{name}` expects one of {}", list(words)),
                        format!("write e.g. `@{name}({})`", words[0]),
                    );
                    return;
                };
                match (name, word) {
                    ("extensibility", "FINAL") => out.extensibility = Some(Extensibility::Final),
                    ("extensibility", "APPENDABLE") => {
                        out.extensibility = Some(Extensibility::Appendable)
                    }
                    ("extensibility", _) => out.extensibility = Some(Extensibility::Mutable),
                    ("autoid", "HASH") => out.autoid_hash = true,
                    _ => {}
                }
                applied.push(("value".to_owned(), ConstValue::String(word.to_owned())));
            }
            Params::Flags(words) => {
                let Some(e) = self.required(ann, single, spec) else {
                    return;
                };
                let mut found = Vec::new();
                if !flag_words(e, words, &mut found) {
                    self.bad_param(
                        ann,
                        e.span,
                        format!("`@{name}` expects {} joined with `|`", list(words)),
                        format!("write e.g. `@{name}({})`", words[words.len() - 1]),
                    );
                    return;
                }
                applied.push(("value".to_owned(), ConstValue::String(found.join("|"))));
            }
            Params::Range => {
                for key in ["min", "max"] {
                    let Some(e) = params.iter().find(|(n, _)| n == key).map(|(_, e)| *e) else {
                        self.bad_param(
                            ann,
                            ann.span,
                            format!("`@range` needs `{key}`"),
                            "write `@range(min = A, max = B)`".to_owned(),
                        );
                        return;
                    };
                    let Some(v) = self.eval(e, scope, None) else {
                        return;
                    };
                    if let Some(cv) = self.plain_value(&v) {
                        applied.push((key.to_owned(), cv));
                    }
                    if key == "min" {
                        out.min = Some((v, e.span));
                    } else {
                        out.max = Some((v, e.span));
                    }
                }
            }
            Params::Verbatim | Params::Topic => {
                let mut texts = Vec::new();
                for (key, e) in &params {
                    let key = if key == "value" && matches!(spec.params, Params::Verbatim) {
                        "text"
                    } else {
                        key.as_str()
                    };
                    let text = if key == "placement" {
                        word_of(
                            e,
                            &[
                                "BEGIN_FILE",
                                "BEFORE_DECLARATION",
                                "BEGIN_DECLARATION",
                                "END_DECLARATION",
                                "AFTER_DECLARATION",
                                "END_FILE",
                            ],
                        )
                        .map(str::to_owned)
                    } else {
                        match self.eval(e, scope, None) {
                            Some(Val::Str(s) | Val::WStr(s)) => Some(s),
                            Some(_) => None,
                            None => return,
                        }
                    };
                    let Some(text) = text else {
                        self.bad_param(
                            ann,
                            e.span,
                            format!("`@{name}({key} = ...)` expects a string"),
                            format!("write `{key} = \"...\"`"),
                        );
                        return;
                    };
                    applied.push((key.to_owned(), ConstValue::String(text.clone())));
                    texts.push((key.to_owned(), text));
                }
                if matches!(spec.params, Params::Verbatim) {
                    let get = |k: &str, d: &str| {
                        texts
                            .iter()
                            .find(|(n, _)| n == k)
                            .map_or(d.to_owned(), |(_, v)| v.clone())
                    };
                    if !texts.iter().any(|(n, _)| n == "text") {
                        self.bad_param(
                            ann,
                            ann.span,
                            "`@verbatim` needs `text`".to_owned(),
                            "write `@verbatim(language = \"comment\", text = \"...\")`".to_owned(),
                        );
                        return;
                    }
                    out.verbatim.push(hir::Verbatim {
                        language: get("language", "*"),
                        placement: get("placement", "BEFORE_DECLARATION"),
                        text: get("text", ""),
                    });
                } else {
                    out.topic = true;
                }
            }
        }
        if name == "default_literal" {
            out.default_literal = Some(ann.span);
        }
        if matches!(name, "final" | "appendable" | "mutable") {
            out.extensibility = Some(match name {
                "final" => Extensibility::Final,
                "appendable" => Extensibility::Appendable,
                _ => Extensibility::Mutable,
            });
        }
        out.applied.push(AppliedAnnotation {
            name: full,
            params: applied,
            span: ann.span,
        });
    }

    /// The parameters as `(name, expr)`, checked against the names `spec` accepts.
    fn check_param_names<'e>(
        &mut self,
        ann: &'e Annotation,
        spec: &Spec,
    ) -> Option<Vec<(String, &'e ConstExpr)>> {
        let allowed: &[&str] = match spec.params {
            Params::Nothing => &[],
            Params::Range => &["min", "max"],
            Params::Verbatim => &["language", "placement", "text"],
            Params::Topic => &["name", "platform"],
            _ => &["value"],
        };
        let params: Vec<(String, &ConstExpr)> = match &ann.params {
            AnnotationParams::None => Vec::new(),
            AnnotationParams::Single(e) => vec![("value".to_owned(), e)],
            AnnotationParams::Named(list) => {
                list.iter().map(|(k, e)| (k.name.clone(), e)).collect()
            }
        };
        if allowed.is_empty() && !params.is_empty() {
            self.error(
                Diagnostic::error(
                    "E-ANNOTATION",
                    format!("`@{}` takes no parameters", spec.name),
                    ann.span,
                )
                .with_label("unexpected parameters")
                .with_help(format!("write `@{}` alone", spec.name)),
            );
            return None;
        }
        let single_ok = matches!(spec.params, Params::Verbatim)
            && matches!(ann.params, AnnotationParams::Single(_));
        if matches!(spec.params, Params::Range | Params::Topic)
            && matches!(ann.params, AnnotationParams::Single(_))
        {
            self.error(
                Diagnostic::error(
                    "E-ANNOTATION",
                    format!("`@{}` takes named parameters", spec.name),
                    ann.span,
                )
                .with_help(format!("name them: `@{}({} = ...)`", spec.name, allowed[0])),
            );
            return None;
        }
        for (i, (key, e)) in params.iter().enumerate() {
            let dup = params[..i].iter().any(|(k, _)| k == key);
            if dup || (!allowed.contains(&key.as_str()) && !single_ok) {
                let (message, help) = if dup {
                    (
                        format!("`@{}` is given `{key}` twice", spec.name),
                        "give each parameter once".to_owned(),
                    )
                } else {
                    (
                        format!("`@{}` has no parameter `{key}`", spec.name),
                        format!("its parameters are {}", list(allowed)),
                    )
                };
                self.error(
                    Diagnostic::error("E-ANNOTATION", message, e.span)
                        .with_secondary(ann.span, "in this annotation")
                        .with_help(help),
                );
                return None;
            }
        }
        Some(params)
    }

    fn required<'e>(
        &mut self,
        ann: &Annotation,
        e: Option<&'e ConstExpr>,
        spec: &Spec,
    ) -> Option<&'e ConstExpr> {
        if e.is_none() {
            let example = match spec.params {
                Params::UInt(_) => "N",
                Params::Str => "\"...\"",
                Params::Word(w) | Params::Flags(w) => w[0],
                _ => "VALUE",
            };
            self.error(
                Diagnostic::error(
                    "E-ANNOTATION",
                    format!("`@{}` needs a value", spec.name),
                    ann.span,
                )
                .with_label("missing parameter")
                .with_help(format!("write `@{}({example})`", spec.name)),
            );
        }
        e
    }

    fn bad_param(&mut self, ann: &Annotation, span: Span, message: String, help: String) {
        let mut d = Diagnostic::error("E-ANNOTATION", message, span).with_help(help);
        if span != ann.span {
            d = d.with_label("invalid parameter");
        }
        self.error(d);
    }

    fn unknown(&mut self, ann: &Annotation, full: &str) {
        let mut d = Diagnostic::warning(
            "W-UNKNOWN-ANNOTATION",
            format!("unknown annotation `@{full}` is ignored"),
            ann.span,
        )
        .with_label("not a standard annotation");
        let close = SPECS.iter().find(|s| {
            s.name.eq_ignore_ascii_case(full) || s.name.eq_ignore_ascii_case(&full.replace('_', ""))
        });
        d = match close {
            Some(s) => d.with_help(format!(
                "annotation names are case-sensitive: did you mean `@{}`?",
                s.name
            )),
            None => d.with_help(format!(
                "declare it with `@annotation {full} {{ ... }};` to keep it, or remove it"
            )),
        };
        self.error(d);
    }

    /// Parameters of a user-declared annotation: literal values are kept, names and
    /// expressions are evaluated without reporting.
    fn lenient_params(&mut self, ann: &Annotation, _scope: ScopeId) -> Vec<(String, ConstValue)> {
        let list: Vec<(String, &ConstExpr)> = match &ann.params {
            AnnotationParams::None => Vec::new(),
            AnnotationParams::Single(e) => vec![("value".to_owned(), e)],
            AnnotationParams::Named(l) => l.iter().map(|(k, e)| (k.name.clone(), e)).collect(),
        };
        list.into_iter()
            .filter_map(|(k, e)| {
                let v = match &e.kind {
                    ExprKind::Literal(crate::ast::Literal::Integer(n)) => {
                        ConstValue::Int(i128::from(*n))
                    }
                    ExprKind::Literal(crate::ast::Literal::String { value, .. }) => {
                        ConstValue::String(value.clone())
                    }
                    ExprKind::Literal(crate::ast::Literal::Boolean(b)) => ConstValue::Bool(*b),
                    ExprKind::Name(n) => ConstValue::String(super::resolve::scoped_text(n)),
                    _ => return None,
                };
                Some((k, v))
            })
            .collect()
    }

    /// A value as kept in the HIR (enumerators get their item id).
    pub(crate) fn plain_value(&self, v: &Val) -> Option<ConstValue> {
        Some(match v {
            Val::Int(n) => ConstValue::Int(*n),
            Val::Float(f) => ConstValue::Float(*f),
            Val::Bool(b) => ConstValue::Bool(*b),
            Val::Char(c) | Val::WChar(c) => ConstValue::Char(*c),
            Val::Str(s) | Val::WStr(s) => ConstValue::String(s.clone()),
            Val::Enum { decl, index, value } => ConstValue::Enumerator {
                item: self.item_id(*decl)?,
                index: *index,
                value: *value,
            },
            Val::Fixed(f) => ConstValue::Float(*f),
        })
    }
}

/// The word an expression names, if it is one of `words`.
fn word_of(e: &ConstExpr, words: &[&'static str]) -> Option<&'static str> {
    match &e.kind {
        ExprKind::Name(n) if n.parts.len() == 1 => {
            words.iter().copied().find(|w| *w == n.parts[0].name)
        }
        _ => None,
    }
}

/// Words of `words` (or integer literals, raw mask bits) joined with `|`.
fn flag_words(e: &ConstExpr, words: &[&'static str], found: &mut Vec<String>) -> bool {
    match &e.kind {
        ExprKind::Binary(BinaryOp::Or, l, r) => {
            flag_words(l, words, found) && flag_words(r, words, found)
        }
        ExprKind::Literal(crate::ast::Literal::Integer(n)) => {
            found.push(format!("{n:#x}"));
            true
        }
        _ => match word_of(e, words) {
            Some(w) => {
                found.push(w.to_owned());
                true
            }
            None => false,
        },
    }
}

fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.len() {
        0 => "none".to_owned(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}
