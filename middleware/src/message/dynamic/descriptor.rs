//! [`Descriptor`]: the structure of a message type as a value owned at run time.
//!
//! A [`TypeDescriptor`] is built at compile time and lives in `'static` memory; a process
//! that was not compiled with a type — a tool, a bridge, a recorder — gets its description
//! from the service instead (see [`super::encoding`]). Both meet here: a [`Descriptor`] is
//! made from either ([`Descriptor::of`], [`Descriptor::from_static`], or decoding), and
//! everything that works on descriptors at run time — comparing two types, rendering them,
//! validating and decoding bytes — works on this one form.
//!
//! A descriptor is a tree (a DAG: a struct used twice is shared) behind an `Arc`, cheap to
//! clone. Its layout hash is computed with the same [`LayoutHasher`] walk as the
//! compile-time one, so `Descriptor::of::<T>().layout_hash() == T::DESCRIPTOR.layout_hash()`
//! always, and a decoded descriptor whose hash is not the one stored was tampered with.
//!
//! The fixed containers have the layouts of their `#[repr(C)]` definitions, which a
//! descriptor does not spell out; [`ContainerLayout`] computes them from the element's
//! alignment (tests compare them with `offset_of!`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::message::ShmMessage;
use crate::message::descriptor::{LayoutHasher, Primitive, TypeDescriptor, TypeKind};

/// A message type's structure, owned (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Descriptor(Arc<Node>);

#[derive(Debug)]
struct Node {
    name: String,
    size: usize,
    align: usize,
    kind: Kind,
    layout_hash: u64,
    /// Whether every bit pattern is a valid value (no check needed on receive).
    any_bit_pattern: bool,
}

/// What kind of type a [`Descriptor`] describes, with the kind's own data.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Kind {
    /// A primitive scalar.
    Primitive(Primitive),
    /// `[element; len]`.
    Array {
        /// The length.
        len: usize,
        /// The element type.
        element: Descriptor,
    },
    /// `FixedString<capacity>`: a `u32` length, then `capacity` bytes of UTF-8.
    FixedString {
        /// The capacity in bytes.
        capacity: usize,
    },
    /// `FixedVec<element, capacity>`: a `u32` length, then `capacity` elements.
    FixedVec {
        /// The capacity in elements.
        capacity: usize,
        /// The element type.
        element: Descriptor,
    },
    /// `Optional<element>`: a present flag (`u8`), then the value.
    Optional {
        /// The value's type.
        element: Descriptor,
    },
    /// An enumeration stored as an integer.
    Enum {
        /// The integer type.
        repr: Primitive,
        /// The named values.
        variants: Vec<Variant>,
        /// Whether other values are valid too (IDL enums are open, Rust enums closed).
        open: bool,
    },
    /// A struct.
    Struct {
        /// The fields in declaration order.
        fields: Vec<Field>,
    },
    /// A bitmask: an unsigned integer of named bits.
    Bitmask {
        /// The integer type.
        repr: Primitive,
        /// The named flags.
        flags: Vec<Flag>,
    },
    /// A union laid out as a struct: `fields[0]` is the discriminator, then the branches.
    Union {
        /// The discriminator and the branches.
        fields: Vec<Field>,
        /// Which discriminator values select which branch.
        cases: Vec<Case>,
    },
}

/// A field of a struct or union.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its byte offset in the enclosing type.
    pub offset: usize,
    /// Its type.
    pub ty: Descriptor,
}

/// A named value of an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: i128,
}

/// A named bit of a bitmask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Its name.
    pub name: String,
    /// Its bit position (0: the least significant bit).
    pub position: u32,
}

/// A case of a union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The branch it selects: an index into the union's fields (from 1).
    pub field: usize,
    /// The discriminator values that select it.
    pub labels: Vec<i128>,
    /// Whether it is the `default:` case (selected by every value no case names).
    pub is_default: bool,
}

impl Kind {
    /// A short lower-case word for the kind (`"struct"`).
    pub fn word(&self) -> &'static str {
        match self {
            Kind::Primitive(_) => "primitive",
            Kind::Array { .. } => "array",
            Kind::FixedString { .. } => "fixed string",
            Kind::FixedVec { .. } => "fixed vec",
            Kind::Optional { .. } => "optional",
            Kind::Enum { .. } => "enum",
            Kind::Struct { .. } => "struct",
            Kind::Bitmask { .. } => "bitmask",
            Kind::Union { .. } => "union",
        }
    }

    /// The stable tag of the kind ([`TypeKind::tag`]).
    pub fn tag(&self) -> u8 {
        match self {
            Kind::Primitive(_) => 1,
            Kind::Array { .. } => 2,
            Kind::FixedString { .. } => 3,
            Kind::FixedVec { .. } => 4,
            Kind::Optional { .. } => 5,
            Kind::Enum { .. } => 6,
            Kind::Struct { .. } => 7,
            Kind::Bitmask { .. } => 8,
            Kind::Union { .. } => 9,
        }
    }

    /// Whether values of this kind have a name of their own (structs, enums, bitmasks,
    /// unions), as opposed to built-in kinds spelled by their shape.
    pub fn is_named(&self) -> bool {
        matches!(
            self,
            Kind::Struct { .. } | Kind::Enum { .. } | Kind::Bitmask { .. } | Kind::Union { .. }
        )
    }
}

impl Descriptor {
    /// The descriptor of `T`.
    pub fn of<T: ShmMessage>() -> Self {
        Self::from_static(T::DESCRIPTOR)
    }

    /// The run-time form of a compile-time descriptor (shared nodes stay shared).
    pub fn from_static(d: &'static TypeDescriptor) -> Self {
        let mut seen = HashMap::new();
        convert(d, &mut seen)
    }

    /// A node from its parts, its layout hash computed from them. The caller has checked
    /// that the parts are consistent (the decoder does; see [`super::encoding`]).
    pub(crate) fn assemble(name: String, size: usize, align: usize, kind: Kind) -> Self {
        let layout_hash = hash(&name, size, align, &kind);
        let any_bit_pattern = match &kind {
            Kind::Primitive(p) => *p != Primitive::Bool,
            Kind::Array { element, .. } => element.any_bit_pattern(),
            Kind::FixedString { .. } | Kind::FixedVec { .. } | Kind::Optional { .. } => false,
            Kind::Enum { open, .. } => *open,
            Kind::Bitmask { .. } => true,
            Kind::Struct { fields } | Kind::Union { fields, .. } => {
                fields.iter().all(|f| f.ty.any_bit_pattern())
            }
        };
        Self(Arc::new(Node {
            name,
            size,
            align,
            kind,
            layout_hash,
            any_bit_pattern,
        }))
    }

    /// Whether every bit pattern of [`size`](Self::size) bytes is a valid value (as
    /// [`ShmMessage::ANY_BIT_PATTERN`] says of the type): such bytes need no check.
    pub fn any_bit_pattern(&self) -> bool {
        self.0.any_bit_pattern
    }

    /// The declared name of a struct, enum, bitmask or union (`"geometry::Pose"`), or the
    /// generic name of a built-in kind (`"u32"`, `"array"`, `"FixedString"`).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.0.size
    }

    /// Alignment in bytes.
    pub fn align(&self) -> usize {
        self.0.align
    }

    /// The kind and its data.
    pub fn kind(&self) -> &Kind {
        &self.0.kind
    }

    /// The 64-bit layout hash ([`TypeDescriptor`]'s algorithm).
    pub fn layout_hash(&self) -> u64 {
        self.0.layout_hash
    }

    /// The fields of a struct, or the discriminator and branches of a union; empty for
    /// every other kind.
    pub fn fields(&self) -> &[Field] {
        match &self.0.kind {
            Kind::Struct { fields } | Kind::Union { fields, .. } => fields,
            _ => &[],
        }
    }

    /// Whether the two describe the same layout (equal layout hashes).
    pub fn same_layout(&self, other: &Descriptor) -> bool {
        self.layout_hash() == other.layout_hash()
    }

    /// Whether the two are the same node (not only equal).
    pub(crate) fn ptr_eq(&self, other: &Descriptor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A multi-line, human-readable rendering of the whole type tree: every field with its
    /// offset and type, nested types expanded. Used by error messages and tools.
    pub fn render(&self) -> String {
        let mut out = String::new();
        render_into(&mut out, self, 0);
        out
    }

    /// Explains the first difference between two descriptors, in declaration order, or
    /// `None` when they have the same layout. The explanation names the field path:
    /// ``field `pose.x`: f32 at offset 0 vs f64 at offset 0``.
    pub fn first_difference(&self, other: &Descriptor) -> Option<Difference> {
        if self.same_layout(other) {
            return None;
        }
        let mut path = String::new();
        Some(
            difference(self, other, &mut path).unwrap_or_else(|| Difference {
                path: String::new(),
                what: format!(
                    "`{self}` vs `{other}`: layout hashes {:#018x} and {:#018x} differ",
                    self.layout_hash(),
                    other.layout_hash()
                ),
            }),
        )
    }
}

impl fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Descriptor({self}, size {}, align {}, {:#018x})",
            self.size(),
            self.align(),
            self.layout_hash()
        )
    }
}

/// Equal layouts (hashes) and names: the same type as far as any peer can tell.
impl PartialEq for Descriptor {
    fn eq(&self, other: &Self) -> bool {
        self.layout_hash() == other.layout_hash()
            && self.size() == other.size()
            && self.align() == other.align()
            && self.name() == other.name()
    }
}

impl Eq for Descriptor {}

impl From<&'static TypeDescriptor> for Descriptor {
    fn from(d: &'static TypeDescriptor) -> Self {
        Self::from_static(d)
    }
}

/// The short spelling of the type: `u32`, `[f32; 3]`, `FixedString<16>`,
/// `FixedVec<Point, 8>`, `Optional<f64>`, `Pose`.
impl fmt::Display for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            Kind::Primitive(p) => f.write_str(p.name()),
            Kind::Array { len, element } => write!(f, "[{element}; {len}]"),
            Kind::FixedString { capacity } => write!(f, "FixedString<{capacity}>"),
            Kind::FixedVec { capacity, element } => write!(f, "FixedVec<{element}, {capacity}>"),
            Kind::Optional { element } => write!(f, "Optional<{element}>"),
            _ => f.write_str(self.name()),
        }
    }
}

/// Where the parts of a fixed container lie, from its element's alignment: the
/// `#[repr(C)]` rules applied to `FixedString`, `FixedVec` and `Optional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerLayout {
    /// Offset of the length (a `u32`) or the present flag (a `u8`): always 0.
    pub header: usize,
    /// Offset of the first byte, element or value.
    pub data: usize,
}

impl ContainerLayout {
    /// `FixedString<N>` and `FixedVec<T, N>`: a `u32` length, then the data aligned for
    /// `element_align`.
    pub fn with_length(element_align: usize) -> Self {
        Self {
            header: 0,
            data: 4usize.next_multiple_of(element_align.max(1)),
        }
    }

    /// `Optional<T>`: a `u8` flag, then the value aligned for `element_align`.
    pub fn with_flag(element_align: usize) -> Self {
        Self {
            header: 0,
            data: 1usize.next_multiple_of(element_align.max(1)),
        }
    }
}

/// The first difference between two type descriptors, as found by
/// [`Descriptor::first_difference`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    path: String,
    what: String,
}

impl Difference {
    /// The dotted path of the differing field (`"pose.x"`, `"points[]"`), empty when the
    /// difference is in the type itself.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "field `{}`: {}", self.path, self.what)
        }
    }
}

// ---- conversion and hash ------------------------------------------------------------

fn convert(
    d: &'static TypeDescriptor,
    seen: &mut HashMap<*const TypeDescriptor, Descriptor>,
) -> Descriptor {
    let key = std::ptr::from_ref(d);
    if let Some(done) = seen.get(&key) {
        return done.clone();
    }
    let fields = |fields: &'static [crate::message::FieldDescriptor], seen: &mut HashMap<_, _>| {
        fields
            .iter()
            .map(|f| Field {
                name: f.name().to_owned(),
                offset: f.offset(),
                ty: convert(f.ty(), seen),
            })
            .collect::<Vec<_>>()
    };
    let kind = match *d.kind() {
        TypeKind::Primitive(p) => Kind::Primitive(p),
        TypeKind::Array { len, element } => Kind::Array {
            len,
            element: convert(element, seen),
        },
        TypeKind::FixedString { capacity } => Kind::FixedString { capacity },
        TypeKind::FixedVec { capacity, element } => Kind::FixedVec {
            capacity,
            element: convert(element, seen),
        },
        TypeKind::Optional { element } => Kind::Optional {
            element: convert(element, seen),
        },
        TypeKind::Enum {
            repr,
            variants,
            open,
        } => Kind::Enum {
            repr,
            variants: variants
                .iter()
                .map(|v| Variant {
                    name: v.name().to_owned(),
                    value: v.value(),
                })
                .collect(),
            open,
        },
        TypeKind::Struct { fields: f } => Kind::Struct {
            fields: fields(f, seen),
        },
        TypeKind::Bitmask { repr, flags } => Kind::Bitmask {
            repr,
            flags: flags
                .iter()
                .map(|f| Flag {
                    name: f.name().to_owned(),
                    position: f.position(),
                })
                .collect(),
        },
        TypeKind::Union { fields: f, cases } => Kind::Union {
            fields: fields(f, seen),
            cases: cases
                .iter()
                .map(|c| Case {
                    field: c.field(),
                    labels: c.labels().to_vec(),
                    is_default: c.is_default(),
                })
                .collect(),
        },
    };
    let node = Descriptor::assemble(d.name().to_owned(), d.size(), d.align(), kind);
    seen.insert(key, node.clone());
    node
}

/// The layout hash of a node, fed in the same order as the compile-time walk in
/// [`crate::message::descriptor`] (the test `hashes_agree_with_compile_time` checks it).
fn hash(name: &str, size: usize, align: usize, kind: &Kind) -> u64 {
    let fields = |mut h: LayoutHasher, fields: &[Field]| {
        h = h.u64(fields.len() as u64);
        for f in fields {
            h = h.str(&f.name).u64(f.offset as u64).u64(f.ty.layout_hash());
        }
        h
    };
    let mut h = LayoutHasher::new(kind.tag(), size, align);
    h = match kind {
        Kind::Primitive(p) => h.u64(p.code()),
        Kind::Array { len, element } => h.u64(*len as u64).u64(element.layout_hash()),
        Kind::FixedString { capacity } => h.u64(*capacity as u64),
        Kind::FixedVec { capacity, element } => h.u64(*capacity as u64).u64(element.layout_hash()),
        Kind::Optional { element } => h.u64(element.layout_hash()),
        Kind::Enum {
            repr,
            variants,
            open,
        } => {
            h = h.str(name).u64(repr.code()).u64(variants.len() as u64);
            for v in variants {
                h = h.str(&v.name).i128(v.value);
            }
            h.flag(*open)
        }
        Kind::Struct { fields: f } => fields(h.str(name), f),
        Kind::Bitmask { repr, flags } => {
            h = h.str(name).u64(repr.code()).u64(flags.len() as u64);
            for f in flags {
                h = h.str(&f.name).u64(u64::from(f.position));
            }
            h
        }
        Kind::Union { fields: f, cases } => {
            h = fields(h.str(name), f).u64(cases.len() as u64);
            for c in cases {
                h = h
                    .u64(c.field as u64)
                    .flag(c.is_default)
                    .u64(c.labels.len() as u64);
                for &label in &c.labels {
                    h = h.i128(label);
                }
            }
            h
        }
    };
    h.finish()
}

// ---- differences --------------------------------------------------------------------

/// Finds the first difference below `path`; `None` if the two are equal as far as the
/// walk can see (then only the hashes tell them apart).
fn difference(a: &Descriptor, b: &Descriptor, path: &mut String) -> Option<Difference> {
    match (a.kind(), b.kind()) {
        (Kind::Struct { fields: fa }, Kind::Struct { fields: fb })
        | (Kind::Union { fields: fa, .. }, Kind::Union { fields: fb, .. }) => {
            // Fields first: they say more than the names do.
            if let Some(d) = fields_difference(fa, fb, path) {
                return Some(d);
            }
            if let (Kind::Union { cases: ca, .. }, Kind::Union { cases: cb, .. }) =
                (a.kind(), b.kind())
                && ca != cb
            {
                return at(
                    path,
                    format!("union `{}` selects its branches differently", a.name()),
                );
            }
            if a.name() != b.name() {
                return at(path, format!("type name `{}` vs `{}`", a.name(), b.name()));
            }
            size_align(a, b, path)
        }
        (
            Kind::Enum {
                repr: ra,
                variants: va,
                open: oa,
            },
            Kind::Enum {
                repr: rb,
                variants: vb,
                open: ob,
            },
        ) => {
            if a.name() != b.name() {
                return at(path, format!("enum name `{}` vs `{}`", a.name(), b.name()));
            }
            if ra != rb {
                return at(path, format!("enum `{}` stored as {ra} vs {rb}", a.name()));
            }
            for (x, y) in va.iter().zip(vb.iter()) {
                if x != y {
                    return at(
                        path,
                        format!(
                            "enum `{}`: variant `{}` = {} vs `{}` = {}",
                            a.name(),
                            x.name,
                            x.value,
                            y.name,
                            y.value
                        ),
                    );
                }
            }
            if va.len() != vb.len() {
                return at(
                    path,
                    format!(
                        "enum `{}` has {} variants vs {}",
                        a.name(),
                        va.len(),
                        vb.len()
                    ),
                );
            }
            if oa != ob {
                let word = |open: &bool| if *open { "open" } else { "closed" };
                return at(
                    path,
                    format!("enum `{}` is {} vs {}", a.name(), word(oa), word(ob)),
                );
            }
            size_align(a, b, path)
        }
        (
            Kind::Bitmask {
                repr: ra,
                flags: fa,
            },
            Kind::Bitmask {
                repr: rb,
                flags: fb,
            },
        ) => {
            if a.name() != b.name() || ra != rb {
                return at(
                    path,
                    format!("bitmask `{}` ({ra}) vs `{}` ({rb})", a.name(), b.name()),
                );
            }
            for (x, y) in fa.iter().zip(fb.iter()) {
                if x != y {
                    return at(
                        path,
                        format!(
                            "bitmask `{}`: flag `{}` at bit {} vs `{}` at bit {}",
                            a.name(),
                            x.name,
                            x.position,
                            y.name,
                            y.position
                        ),
                    );
                }
            }
            if fa.len() != fb.len() {
                return at(
                    path,
                    format!(
                        "bitmask `{}` has {} flags vs {}",
                        a.name(),
                        fa.len(),
                        fb.len()
                    ),
                );
            }
            size_align(a, b, path)
        }
        (
            Kind::Array {
                len: la,
                element: ea,
            },
            Kind::Array {
                len: lb,
                element: eb,
            },
        )
        | (
            Kind::FixedVec {
                capacity: la,
                element: ea,
            },
            Kind::FixedVec {
                capacity: lb,
                element: eb,
            },
        ) => {
            if la != lb {
                return at(path, format!("{a} vs {b}"));
            }
            element_difference(ea, eb, path).or_else(|| size_align(a, b, path))
        }
        (Kind::Optional { element: ea }, Kind::Optional { element: eb }) => {
            element_difference(ea, eb, path).or_else(|| size_align(a, b, path))
        }
        _ => {
            if a.kind().tag() != b.kind().tag() || a.name() != b.name() || a.size() != b.size() {
                return at(path, format!("{a} vs {b}"));
            }
            size_align(a, b, path)
        }
    }
}

fn fields_difference(fa: &[Field], fb: &[Field], path: &mut String) -> Option<Difference> {
    for (i, (x, y)) in fa.iter().zip(fb.iter()).enumerate() {
        let before = path.len();
        push_segment(path, &x.name);
        if x.name != y.name || x.offset != y.offset || !x.ty.same_layout(&y.ty) {
            if x.name != y.name {
                path.truncate(before);
                return at(
                    path,
                    format!(
                        "field {i} is `{}: {}` at offset {} vs `{}: {}` at offset {}",
                        x.name, x.ty, x.offset, y.name, y.ty, y.offset
                    ),
                );
            }
            // A differing bound is explained at the field itself, with its offset.
            let nested = composite(&x.ty)
                && composite(&y.ty)
                && x.offset == y.offset
                && !different_bound(&x.ty, &y.ty);
            if nested && let Some(d) = difference(&x.ty, &y.ty, path) {
                return Some(d);
            }
            return at(
                path,
                format!(
                    "{} at offset {} vs {} at offset {}",
                    x.ty, x.offset, y.ty, y.offset
                ),
            );
        }
        path.truncate(before);
    }
    if fa.len() != fb.len() {
        let (longer, side) = if fa.len() > fb.len() {
            (fa, "right")
        } else {
            (fb, "left")
        };
        let extra = &longer[fa.len().min(fb.len())];
        return at(
            path,
            format!(
                "{} fields vs {}: `{}` is missing on the {side}",
                fa.len(),
                fb.len(),
                extra.name
            ),
        );
    }
    None
}

/// Both are arrays or both fixed vectors, with different lengths or capacities.
fn different_bound(a: &Descriptor, b: &Descriptor) -> bool {
    match (a.kind(), b.kind()) {
        (Kind::Array { len: la, .. }, Kind::Array { len: lb, .. })
        | (Kind::FixedVec { capacity: la, .. }, Kind::FixedVec { capacity: lb, .. }) => la != lb,
        _ => false,
    }
}

fn at(path: &str, what: String) -> Option<Difference> {
    Some(Difference {
        path: path.to_owned(),
        what,
    })
}

fn element_difference(a: &Descriptor, b: &Descriptor, path: &mut String) -> Option<Difference> {
    if a.same_layout(b) {
        return None;
    }
    let before = path.len();
    path.push_str("[]");
    let found = if composite(a) && composite(b) {
        difference(a, b, path)
    } else {
        None
    };
    let found = found.or_else(|| {
        Some(Difference {
            path: path.clone(),
            what: format!("{a} vs {b}"),
        })
    });
    path.truncate(before);
    found
}

fn size_align(a: &Descriptor, b: &Descriptor, path: &str) -> Option<Difference> {
    let what = if a.size() != b.size() {
        format!("`{a}` is {} bytes vs {} bytes", a.size(), b.size())
    } else if a.align() != b.align() {
        format!("`{a}` is aligned to {} vs {}", a.align(), b.align())
    } else {
        return None;
    };
    Some(Difference {
        path: path.to_owned(),
        what,
    })
}

fn composite(t: &Descriptor) -> bool {
    !matches!(t.kind(), Kind::Primitive(_) | Kind::FixedString { .. })
}

fn push_segment(path: &mut String, name: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
}

// ---- rendering ----------------------------------------------------------------------

fn render_into(out: &mut String, t: &Descriptor, depth: usize) {
    use fmt::Write as _;
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "{} {t} (size {}, align {}, layout hash {:#018x})",
        t.kind().word(),
        t.size(),
        t.align(),
        t.layout_hash()
    );
    let indent = "    ".repeat(depth + 1);
    match t.kind() {
        Kind::Struct { fields } => {
            for field in fields {
                let _ = write!(out, "{indent}@{:<6} {}: ", field.offset, field.name);
                render_nested(out, &field.ty, depth + 1);
            }
        }
        Kind::Union { fields, cases } => {
            for (i, field) in fields.iter().enumerate() {
                let selected = if i == 0 {
                    "discriminator".to_owned()
                } else {
                    let labels: Vec<String> = cases
                        .iter()
                        .filter(|c| c.field == i)
                        .flat_map(|c| {
                            c.labels
                                .iter()
                                .map(ToString::to_string)
                                .chain(c.is_default.then(|| "default".to_owned()))
                        })
                        .collect();
                    format!("case {}", labels.join(", "))
                };
                let _ = write!(
                    out,
                    "{indent}@{:<6} {} ({selected}): ",
                    field.offset, field.name
                );
                render_nested(out, &field.ty, depth + 1);
            }
        }
        Kind::Enum {
            repr,
            variants,
            open,
        } => {
            let open = if *open { ", any value valid" } else { "" };
            let _ = writeln!(out, "{indent}stored as {repr}{open}");
            for v in variants {
                let _ = writeln!(out, "{indent}{} = {}", v.name, v.value);
            }
        }
        Kind::Bitmask { repr, flags } => {
            let _ = writeln!(out, "{indent}stored as {repr}");
            for f in flags {
                let _ = writeln!(out, "{indent}{} = bit {}", f.name, f.position);
            }
        }
        _ => {}
    }
}

/// A field's type: on one line for scalars and containers of scalars, expanded for named
/// types (also inside arrays, vectors and optionals).
fn render_nested(out: &mut String, t: &Descriptor, depth: usize) {
    use fmt::Write as _;
    match innermost_named(t) {
        Some(named) => {
            if !named.ptr_eq(t) {
                let _ = write!(out, "{t} of ");
            }
            render_into(out, named, depth);
        }
        None => {
            let _ = writeln!(out, "{t}");
        }
    }
}

fn innermost_named(t: &Descriptor) -> Option<&Descriptor> {
    match t.kind() {
        Kind::Array { element, .. }
        | Kind::FixedVec { element, .. }
        | Kind::Optional { element } => innermost_named(element),
        kind if kind.is_named() => Some(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{FixedString, FixedVec, Optional};

    #[test]
    fn container_layouts_match_the_definitions() {
        use core::mem::offset_of;
        assert_eq!(ContainerLayout::with_length(1).data, 4);
        assert_eq!(ContainerLayout::with_length(8).data, 8);
        assert_eq!(ContainerLayout::with_flag(1).data, 1);
        assert_eq!(ContainerLayout::with_flag(4).data, 4);
        assert_eq!(ContainerLayout::with_flag(16).data, 16);
        // The definitions themselves, through their descriptors' sizes.
        assert_eq!(size_of::<FixedString<5>>(), 12);
        assert_eq!(size_of::<FixedVec<u64, 2>>(), 8 + 16);
        assert_eq!(size_of::<FixedVec<u8, 3>>(), 8);
        assert_eq!(size_of::<Optional<u32>>(), 8);
        assert_eq!(size_of::<Optional<f64>>(), 16);
        #[repr(C)]
        struct LikeOptional {
            present: u8,
            value: u64,
        }
        assert_eq!(
            offset_of!(LikeOptional, value),
            ContainerLayout::with_flag(8).data
        );
    }
}
