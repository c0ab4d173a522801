//! OMG IDL text for a message type, made from its descriptor: the `omgidl` schema of an
//! MCAP channel — one self-contained file, no preprocessor directives, every type the
//! message uses defined before it is used, named by its scoped name (`module::Type`).
//!
//! What the descriptor's kinds become (the subset Foxglove's OMG IDL parser reads):
//!
//! | descriptor | IDL |
//! |---|---|
//! | struct | `@final struct` (in its modules: `a::b::T` is `module a { module b { … }; };`) |
//! | `bool`, `u8`…`i64`, `f32`, `f64` | `boolean`, `uint8`…`int64`, `float`, `double` |
//! | `[T; N]` | a declarator `x[N]` (`x[M][N]` for `[[T; N]; M]`) |
//! | `FixedString<N>` | `string<N>` |
//! | `FixedVec<T, N>` | `sequence<T, N>` |
//! | `Optional<T>` | `@optional T x` |
//! | enum (open or closed) | `enum`, every enumerator with its `@value` |
//! | bitmask | `typedef uintN`, and a `const` per flag (Foxglove has no `bitmask`) |
//! | union | `@final union … switch (D)`, each branch with its labels, `default` |
//!
//! Shapes IDL (or Foxglove) cannot nest directly — an array of sequences or of optionals, a
//! sequence of arrays, sequences or optionals, an optional array or optional optional —
//! get a wrapper struct `<Outer>_<member>_elem { value; }`, which adds no byte to the CDR
//! stream. A top-level message that is not a struct, union or enum is wrapped the same way
//! (a struct of one member `value`). Names that are IDL keywords are escaped with `_`.

use std::collections::HashMap;
use std::fmt::Write as _;

use shmbus::message::dynamic::{Field, Kind};
use shmbus::message::{Descriptor, Primitive};

/// The IDL keywords (compared case-insensitively, as IDL does): a member or type of that
/// name is written `_name`.
const KEYWORDS: &[&str] = &[
    "abstract",
    "any",
    "alias",
    "attribute",
    "bitfield",
    "bitmask",
    "bitset",
    "boolean",
    "case",
    "char",
    "component",
    "connector",
    "const",
    "consumes",
    "context",
    "custom",
    "default",
    "double",
    "exception",
    "emits",
    "enum",
    "eventtype",
    "factory",
    "false",
    "finder",
    "fixed",
    "float",
    "getraises",
    "getter",
    "home",
    "import",
    "in",
    "inout",
    "interface",
    "local",
    "long",
    "manages",
    "map",
    "mirrorport",
    "module",
    "multiple",
    "native",
    "object",
    "octet",
    "oneway",
    "out",
    "primarykey",
    "private",
    "port",
    "porttype",
    "provides",
    "public",
    "publishes",
    "raises",
    "readonly",
    "setraises",
    "setter",
    "sequence",
    "short",
    "string",
    "struct",
    "supports",
    "switch",
    "true",
    "truncatable",
    "typedef",
    "typeid",
    "typename",
    "typeprefix",
    "unsigned",
    "union",
    "uses",
    "valuebase",
    "valuetype",
    "void",
    "wchar",
    "wstring",
    "int8",
    "uint8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
    "byte",
];

/// An identifier as IDL reads it: non-identifier characters become `_`, keywords get a
/// leading `_` (IDL's escape, which the reader drops).
fn ident(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&out)) {
        out.insert(0, '_');
    }
    out
}

/// The primitive's IDL spelling.
fn primitive(p: Primitive) -> &'static str {
    match p {
        Primitive::Bool => "boolean",
        Primitive::U8 => "uint8",
        Primitive::U16 => "uint16",
        Primitive::U32 => "uint32",
        Primitive::U64 => "uint64",
        Primitive::I8 => "int8",
        Primitive::I16 => "int16",
        Primitive::I32 => "int32",
        Primitive::I64 => "int64",
        Primitive::F32 => "float",
        Primitive::F64 => "double",
        // A primitive this writer does not know yet: its bytes.
        _ => "octet",
    }
}

/// A named type's place: its modules and its own name, from `a::b::T`.
fn split_name(name: &str) -> (Vec<String>, String) {
    let mut parts: Vec<String> = name
        .split("::")
        .filter(|p| !p.is_empty())
        .map(ident)
        .collect();
    let last = parts.pop().unwrap_or_else(|| "_".to_owned());
    (parts, last)
}

/// The IDL of `message`, and the scoped name of its root type (the MCAP schema name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idl {
    /// The IDL source text.
    pub text: String,
    /// The root type's scoped name (`a::b::T`), as an IDL reader names it (the MCAP schema
    /// name).
    pub root: String,
}

/// Writes the IDL of `message` (see the module docs).
pub fn idl_of(message: &Descriptor) -> Idl {
    let mut w = Writer::default();
    let root = match message.kind() {
        Kind::Struct { .. } | Kind::Union { .. } | Kind::Enum { .. } => w.named(message),
        _ => {
            // A message that is not a struct: a struct of one member.
            let (modules, name) = split_name(message.name());
            let name = if name.starts_with('_') || !message.name().contains(char::is_alphanumeric) {
                "message".to_owned()
            } else {
                name
            };
            let field = Field {
                name: "value".to_owned(),
                offset: 0,
                ty: message.clone(),
            };
            let scoped = join(&modules, &format!("{name}_message"));
            let body = w.members(&scoped, std::slice::from_ref(&field));
            w.emit(
                &modules,
                &format!("@final struct {name}_message {{\n{body}}};"),
            );
            scoped
        }
    };
    // The scoped name as an IDL reader has it: without the escapes of keywords.
    let root = root
        .split("::")
        .map(|segment| match segment.strip_prefix('_') {
            Some(rest) if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(rest)) => rest,
            _ => segment,
        })
        .collect::<Vec<_>>()
        .join("::");
    Idl { text: w.out, root }
}

fn join(modules: &[String], name: &str) -> String {
    let mut s = modules.join("::");
    if !s.is_empty() {
        s.push_str("::");
    }
    s.push_str(name);
    s
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Named types written, by layout hash and name: their scoped IDL names.
    done: HashMap<(u64, String), String>,
    /// Scoped names taken (a second type of the same name gets a suffix).
    taken: HashMap<String, u64>,
}

impl Writer {
    /// Writes `text` inside `modules`.
    fn emit(&mut self, modules: &[String], text: &str) {
        let mut open = String::new();
        let mut close = String::new();
        for m in modules {
            let _ = writeln!(open, "module {m} {{");
            close.push_str("};\n");
        }
        let _ = write!(self.out, "{open}{text}\n{close}\n");
    }

    /// A free scoped name for `d`: its own, or with a suffix when another type has it.
    fn claim(&mut self, d: &Descriptor) -> (Vec<String>, String, String) {
        let (modules, mut name) = split_name(d.name());
        let mut scoped = join(&modules, &name);
        let mut n = 2;
        while self
            .taken
            .get(&scoped.to_ascii_lowercase())
            .is_some_and(|&h| h != d.layout_hash())
        {
            name = format!("{}_{n}", split_name(d.name()).1);
            scoped = join(&modules, &name);
            n += 1;
        }
        self.taken
            .insert(scoped.to_ascii_lowercase(), d.layout_hash());
        (modules, name, scoped)
    }

    /// Defines the named type `d` (struct, union, enum, bitmask) once, after what it uses;
    /// returns its scoped name.
    fn named(&mut self, d: &Descriptor) -> String {
        let key = (d.layout_hash(), d.name().to_owned());
        if let Some(scoped) = self.done.get(&key) {
            return scoped.clone();
        }
        let (modules, name, scoped) = self.claim(d);
        self.done.insert(key, scoped.clone());
        match d.kind() {
            Kind::Struct { fields } => {
                let body = self.members(&scoped, fields);
                self.emit(&modules, &format!("@final struct {name} {{\n{body}}};"));
            }
            Kind::Enum { repr, variants, .. } => {
                if variants.is_empty() {
                    // No enumerator to name: the integer.
                    self.emit(&modules, &format!("typedef {} {name};", primitive(*repr)));
                } else {
                    let items: Vec<String> = variants
                        .iter()
                        .map(|v| format!("  @value({}) {}", v.value, ident(&v.name)))
                        .collect();
                    self.emit(
                        &modules,
                        &format!("enum {name} {{\n{}\n}};", items.join(",\n")),
                    );
                }
            }
            Kind::Bitmask { repr, flags } => {
                let mut text = format!("typedef {} {name};", primitive(*repr));
                for f in flags {
                    let _ = write!(
                        text,
                        "\nconst {} {name}_{} = {:#x};",
                        primitive(*repr),
                        ident(&f.name),
                        1u128 << f.position
                    );
                }
                self.emit(&modules, &text);
            }
            Kind::Union { fields, cases } => {
                let discriminator = fields
                    .first()
                    .map_or("int32".to_owned(), |f| self.type_name(&scoped, &f.ty));
                let mut body = String::new();
                for case in cases {
                    let Some(branch) = fields.get(case.field) else {
                        continue;
                    };
                    for &label in &case.labels {
                        let label = fields.first().map_or_else(
                            || label.to_string(),
                            |f| {
                                label_text(
                                    &f.ty,
                                    label,
                                    self.done.get(&(f.ty.layout_hash(), f.ty.name().to_owned())),
                                )
                            },
                        );
                        let _ = writeln!(body, "  case {label}:");
                    }
                    if case.is_default {
                        body.push_str("  default:\n");
                    }
                    let member = self.member(&scoped, branch, false);
                    let _ = writeln!(body, "    {member};");
                }
                self.emit(
                    &modules,
                    &format!("@final union {name} switch ({discriminator}) {{\n{body}}};"),
                );
            }
            _ => {
                // Not a named kind: a struct of one member.
                let field = Field {
                    name: "value".to_owned(),
                    offset: 0,
                    ty: d.clone(),
                };
                let body = self.members(&scoped, std::slice::from_ref(&field));
                self.emit(&modules, &format!("@final struct {name} {{\n{body}}};"));
            }
        }
        scoped
    }

    /// The member lines of a struct.
    fn members(&mut self, owner: &str, fields: &[Field]) -> String {
        let mut body = String::new();
        for f in fields {
            let member = self.member(owner, f, true);
            let _ = writeln!(body, "  {member};");
        }
        body
    }

    /// One member declaration: `@optional T name[N][M]`.
    fn member(&mut self, owner: &str, f: &Field, optional_allowed: bool) -> String {
        let name = ident(&f.name);
        let mut dims = String::new();
        let mut ty = f.ty.clone();
        while let Kind::Array { len, element } = ty.kind() {
            if !nests_in_array(element) {
                break;
            }
            let _ = write!(dims, "[{len}]");
            ty = element.clone();
        }
        if let Kind::Array { .. } = ty.kind() {
            // An array of something an array cannot hold directly: a wrapper per element.
            let (len, element) = match ty.kind() {
                Kind::Array { len, element } => (*len, element.clone()),
                _ => unreachable!(),
            };
            let wrapper = self.wrapper(owner, &f.name, &element);
            return format!("{wrapper} {name}{dims}[{len}]");
        }
        if let Kind::Optional { element } = ty.kind() {
            let inner = if optional_allowed && dims.is_empty() && nests_in_optional(element) {
                self.type_name(owner, element)
            } else {
                self.wrapper(owner, &f.name, element)
            };
            if optional_allowed && dims.is_empty() {
                return format!("@optional {inner} {name}");
            }
            // An optional inside an array or a union: a wrapper with an optional member.
            let field = Field {
                name: "value".to_owned(),
                offset: 0,
                ty: ty.clone(),
            };
            let scoped = format!("{owner}_{}_opt", ident(&f.name));
            let (modules, wrapper_name) = split_name(&scoped);
            let body = self.members(&scoped, std::slice::from_ref(&field));
            self.emit(
                &modules,
                &format!("@final struct {wrapper_name} {{\n{body}}};"),
            );
            return format!("{scoped} {name}{dims}");
        }
        let ty_name = self.type_name(owner, &ty);
        format!("{ty_name} {name}{dims}")
    }

    /// A type used by a member (no declarator): a primitive, `string<N>`, `sequence<…>`, or
    /// a named type (defined first).
    fn type_name(&mut self, owner: &str, d: &Descriptor) -> String {
        match d.kind() {
            Kind::Primitive(p) => primitive(*p).to_owned(),
            Kind::FixedString { capacity } => format!("string<{capacity}>"),
            Kind::FixedVec { capacity, element } => {
                let inner = if nests_in_sequence(element) {
                    self.type_name(owner, element)
                } else {
                    self.wrapper(owner, "item", element)
                };
                format!("sequence<{inner}, {capacity}>")
            }
            Kind::Array { .. } | Kind::Optional { .. } => self.wrapper(owner, "item", d),
            _ => self.named(d),
        }
    }

    /// A struct `<owner>_<member>_elem { value; }` around `element`; its scoped name.
    fn wrapper(&mut self, owner: &str, member: &str, element: &Descriptor) -> String {
        let base = format!("{owner}_{}_elem", ident(member));
        let key = (element.layout_hash(), base.clone());
        if let Some(done) = self.done.get(&key) {
            return done.clone();
        }
        // Another element type may have taken the name already.
        let mut scoped = base.clone();
        let mut n = 2;
        while self
            .taken
            .get(&scoped.to_ascii_lowercase())
            .is_some_and(|&h| h != element.layout_hash())
        {
            scoped = format!("{base}{n}");
            n += 1;
        }
        self.taken
            .insert(scoped.to_ascii_lowercase(), element.layout_hash());
        self.done.insert(key, scoped.clone());
        let (modules, name) = split_name(&scoped);
        let field = Field {
            name: "value".to_owned(),
            offset: 0,
            ty: element.clone(),
        };
        let body = self.members(&scoped, std::slice::from_ref(&field));
        self.emit(&modules, &format!("@final struct {name} {{\n{body}}};"));
        scoped
    }
}

/// Whether `element` can be an array's element directly (`T x[N]`).
fn nests_in_array(element: &Descriptor) -> bool {
    !matches!(
        element.kind(),
        Kind::FixedVec { .. } | Kind::Optional { .. }
    )
}

/// Whether `element` can be a sequence's element directly (`sequence<T>`).
fn nests_in_sequence(element: &Descriptor) -> bool {
    !matches!(
        element.kind(),
        Kind::FixedVec { .. } | Kind::Array { .. } | Kind::Optional { .. }
    )
}

/// Whether an `@optional` member can have this type directly.
fn nests_in_optional(element: &Descriptor) -> bool {
    !matches!(element.kind(), Kind::Array { .. } | Kind::Optional { .. })
}

/// A case label: an enumerator's scoped name when the discriminator is an enum that names
/// the value, else the number (`TRUE`/`FALSE` for a boolean).
fn label_text(discriminator: &Descriptor, value: i128, scoped: Option<&String>) -> String {
    match discriminator.kind() {
        Kind::Enum { variants, .. } => match (variants.iter().find(|v| v.value == value), scoped) {
            (Some(v), Some(enum_name)) => {
                let (modules, _) = split_name(enum_name);
                join(&modules, &ident(&v.name))
            }
            _ => value.to_string(),
        },
        Kind::Primitive(Primitive::Bool) => {
            if value != 0 {
                "TRUE".into()
            } else {
                "FALSE".into()
            }
        }
        _ => value.to_string(),
    }
}
