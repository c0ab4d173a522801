//! Type descriptors: the structure of a message type, known at compile time.
//!
//! Every [`ShmMessage`](super::ShmMessage) type carries a [`TypeDescriptor`]: its name,
//! size, alignment and kind, and for structs its fields (name, offset, type). Services
//! compare descriptors when they are opened, so two processes can never exchange
//! mismatched types, and generic tools use them to print any message.
//!
//! # The layout hash
//!
//! Each descriptor carries a 64-bit *layout hash*, computed at compile time by the
//! `const fn` constructors below. It is a hash of the descriptor's structure only — never
//! of a crate path or a module path — so the same definition compiled in two crates has
//! the same hash, and any change to what another process would observe changes it.
//!
//! The algorithm (version 1, [`LAYOUT_HASH_VERSION`]) is FNV-1a (64-bit) over a sequence
//! of 64-bit words, finished with the MurmurHash3 `fmix64` avalanche step so that
//! neighbouring inputs give unrelated outputs. Strings are fed as their byte length
//! followed by their bytes, so `("ab", "c")` and `("a", "bc")` differ. Per kind, the
//! words are:
//!
//! | kind | words fed, in order |
//! | --- | --- |
//! | every kind | the version, the kind tag, size, alignment |
//! | primitive | the primitive's code |
//! | array | length, element hash |
//! | fixed string | capacity |
//! | fixed vec | capacity, element hash |
//! | optional | element hash |
//! | enum | type name, repr code, variant count, then per variant: name, value (as 128 bits) |
//! | struct | type name, field count, then per field: name, offset, field type hash |
//!
//! Because a field contributes its type's own hash, a change anywhere in a nested type
//! (a field renamed, reordered, retyped, a bound changed, a nested type renamed) changes
//! the hash of every type that contains it. The snapshot test `layout_hashes` in this
//! module pins the hashes of a fixed set of types, so any change to the algorithm is
//! deliberate; such a change must also bump [`LAYOUT_HASH_VERSION`].
//!
//! Struct and enum names take part in the hash: a derived type is named by its
//! identifier (`Pose`, not `my_crate::msgs::Pose`), or by `#[shm(type_name = "...")]`,
//! which is how a hand-written type matches one generated from IDL (`geometry::Pose`).

use core::fmt;

/// Version of the layout-hash algorithm described in the module documentation.
pub const LAYOUT_HASH_VERSION: u64 = 1;

/// A primitive scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Primitive {
    /// `bool`: one byte, `0` or `1`.
    Bool,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl Primitive {
    /// The Rust spelling of the type (`"u32"`).
    pub const fn name(self) -> &'static str {
        match self {
            Primitive::Bool => "bool",
            Primitive::U8 => "u8",
            Primitive::U16 => "u16",
            Primitive::U32 => "u32",
            Primitive::U64 => "u64",
            Primitive::I8 => "i8",
            Primitive::I16 => "i16",
            Primitive::I32 => "i32",
            Primitive::I64 => "i64",
            Primitive::F32 => "f32",
            Primitive::F64 => "f64",
        }
    }

    /// Size in bytes (equal to the alignment for every primitive).
    pub const fn size(self) -> usize {
        match self {
            Primitive::Bool | Primitive::U8 | Primitive::I8 => 1,
            Primitive::U16 | Primitive::I16 => 2,
            Primitive::U32 | Primitive::I32 | Primitive::F32 => 4,
            Primitive::U64 | Primitive::I64 | Primitive::F64 => 8,
        }
    }

    /// Whether this is an integer type usable as an enum representation.
    pub const fn is_integer(self) -> bool {
        !matches!(self, Primitive::Bool | Primitive::F32 | Primitive::F64)
    }

    /// Whether this is a signed integer type.
    pub const fn is_signed(self) -> bool {
        matches!(
            self,
            Primitive::I8 | Primitive::I16 | Primitive::I32 | Primitive::I64
        )
    }

    /// The stable code fed to the layout hash. Never reuse or renumber a code.
    const fn code(self) -> u64 {
        match self {
            Primitive::Bool => 1,
            Primitive::U8 => 2,
            Primitive::U16 => 3,
            Primitive::U32 => 4,
            Primitive::U64 => 5,
            Primitive::I8 => 6,
            Primitive::I16 => 7,
            Primitive::I32 => 8,
            Primitive::I64 => 9,
            Primitive::F32 => 10,
            Primitive::F64 => 11,
        }
    }
}

impl fmt::Display for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field of a struct: its name, its byte offset and its type.
#[derive(Debug, Clone, Copy)]
pub struct FieldDescriptor {
    name: &'static str,
    offset: usize,
    ty: &'static TypeDescriptor,
}

impl FieldDescriptor {
    /// Describes a field. Tuple-struct fields are named `"0"`, `"1"`, ...
    pub const fn new(name: &'static str, offset: usize, ty: &'static TypeDescriptor) -> Self {
        FieldDescriptor { name, offset, ty }
    }

    /// The field's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The field's byte offset from the start of the struct.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The field's type.
    pub const fn ty(&self) -> &'static TypeDescriptor {
        self.ty
    }
}

/// One known value of an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumVariant {
    name: &'static str,
    value: i128,
}

impl EnumVariant {
    /// Describes a variant with its discriminant (any integer value fits in `i128`).
    pub const fn new(name: &'static str, value: i128) -> Self {
        EnumVariant { name, value }
    }

    /// The variant's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The variant's discriminant.
    pub const fn value(&self) -> i128 {
        self.value
    }
}

/// What kind of type a descriptor describes, with the kind's own data.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum TypeKind {
    /// A primitive scalar.
    Primitive(Primitive),
    /// `[T; N]`.
    Array {
        /// `N`.
        len: usize,
        /// `T`.
        element: &'static TypeDescriptor,
    },
    /// [`FixedString<N>`](super::FixedString): UTF-8, at most `capacity` bytes.
    FixedString {
        /// `N`, in bytes.
        capacity: usize,
    },
    /// [`FixedVec<T, N>`](super::FixedVec): at most `capacity` elements.
    FixedVec {
        /// `N`.
        capacity: usize,
        /// `T`.
        element: &'static TypeDescriptor,
    },
    /// [`Optional<T>`](super::Optional): a present flag and a value.
    Optional {
        /// `T`.
        element: &'static TypeDescriptor,
    },
    /// A fieldless enum stored as an integer.
    Enum {
        /// The integer type that stores the discriminant.
        repr: Primitive,
        /// The known values.
        variants: &'static [EnumVariant],
    },
    /// A `#[repr(C)]` or `#[repr(transparent)]` struct.
    Struct {
        /// The fields in declaration order.
        fields: &'static [FieldDescriptor],
    },
}

impl TypeKind {
    /// A short lower-case word for the kind, as used in messages (`"struct"`).
    pub const fn word(&self) -> &'static str {
        match self {
            TypeKind::Primitive(_) => "primitive",
            TypeKind::Array { .. } => "array",
            TypeKind::FixedString { .. } => "fixed string",
            TypeKind::FixedVec { .. } => "fixed vec",
            TypeKind::Optional { .. } => "optional",
            TypeKind::Enum { .. } => "enum",
            TypeKind::Struct { .. } => "struct",
        }
    }

    const fn tag(&self) -> u64 {
        match self {
            TypeKind::Primitive(_) => 1,
            TypeKind::Array { .. } => 2,
            TypeKind::FixedString { .. } => 3,
            TypeKind::FixedVec { .. } => 4,
            TypeKind::Optional { .. } => 5,
            TypeKind::Enum { .. } => 6,
            TypeKind::Struct { .. } => 7,
        }
    }
}

/// The compile-time description of a message type.
///
/// Built only by the `const fn` constructors, which compute the layout hash; for the
/// types users write, `#[derive(ShmMessage)]` builds it.
#[derive(Debug, Clone, Copy)]
pub struct TypeDescriptor {
    name: &'static str,
    size: usize,
    align: usize,
    kind: TypeKind,
    layout_hash: u64,
}

impl TypeDescriptor {
    /// The descriptor of a primitive.
    pub const fn primitive(primitive: Primitive) -> Self {
        Self::build(
            primitive.name(),
            primitive.size(),
            primitive.size(),
            TypeKind::Primitive(primitive),
        )
    }

    /// The descriptor of `[element; len]` with the given size and alignment.
    pub const fn array(
        len: usize,
        element: &'static TypeDescriptor,
        size: usize,
        align: usize,
    ) -> Self {
        Self::build("array", size, align, TypeKind::Array { len, element })
    }

    /// The descriptor of a `FixedString<capacity>`.
    pub const fn fixed_string(capacity: usize, size: usize, align: usize) -> Self {
        Self::build(
            "FixedString",
            size,
            align,
            TypeKind::FixedString { capacity },
        )
    }

    /// The descriptor of a `FixedVec<element, capacity>`.
    pub const fn fixed_vec(
        capacity: usize,
        element: &'static TypeDescriptor,
        size: usize,
        align: usize,
    ) -> Self {
        Self::build(
            "FixedVec",
            size,
            align,
            TypeKind::FixedVec { capacity, element },
        )
    }

    /// The descriptor of an `Optional<element>`.
    pub const fn optional(element: &'static TypeDescriptor, size: usize, align: usize) -> Self {
        Self::build("Optional", size, align, TypeKind::Optional { element })
    }

    /// The descriptor of a fieldless enum named `name`, stored as `repr`.
    pub const fn enumeration(
        name: &'static str,
        repr: Primitive,
        variants: &'static [EnumVariant],
        size: usize,
        align: usize,
    ) -> Self {
        Self::build(name, size, align, TypeKind::Enum { repr, variants })
    }

    /// The descriptor of a struct named `name` with the given fields in declaration order.
    pub const fn structure(
        name: &'static str,
        fields: &'static [FieldDescriptor],
        size: usize,
        align: usize,
    ) -> Self {
        Self::build(name, size, align, TypeKind::Struct { fields })
    }

    const fn build(name: &'static str, size: usize, align: usize, kind: TypeKind) -> Self {
        let layout_hash = compute_layout_hash(name, size, align, &kind);
        TypeDescriptor {
            name,
            size,
            align,
            kind,
            layout_hash,
        }
    }

    /// The declared name of a struct or enum (`"Pose"`, or the `type_name` override such
    /// as `"geometry::Pose"`), or the generic name of a built-in kind (`"u32"`, `"array"`,
    /// `"FixedString"`). [`Display`](fmt::Display) gives the full spelling (`[f32; 3]`).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Size in bytes (`size_of`).
    pub const fn size(&self) -> usize {
        self.size
    }

    /// Alignment in bytes (`align_of`).
    pub const fn align(&self) -> usize {
        self.align
    }

    /// The kind and its data.
    pub const fn kind(&self) -> &TypeKind {
        &self.kind
    }

    /// The 64-bit layout hash (see the module documentation for the algorithm).
    pub const fn layout_hash(&self) -> u64 {
        self.layout_hash
    }

    /// The fields, for a struct; empty for every other kind.
    pub const fn fields(&self) -> &'static [FieldDescriptor] {
        match self.kind {
            TypeKind::Struct { fields } => fields,
            _ => &[],
        }
    }

    /// Whether two descriptors describe the same layout (equal layout hashes).
    pub const fn same_layout(&self, other: &TypeDescriptor) -> bool {
        self.layout_hash == other.layout_hash
    }

    /// A multi-line, human-readable rendering of the whole type tree: every field with its
    /// offset and type, nested structs expanded. Used by error messages and the CLI.
    pub fn render(&self) -> String {
        let mut out = String::new();
        render_into(&mut out, self, 0);
        out
    }

    /// A flat listing of the type for storing in shared memory: one line per leaf, as
    /// ``path\toffset\ttype`` with the offset from the start of the outermost type, and for
    /// an enum one line per variant. Another process compares it with its own listing
    /// ([`listing_difference`](Self::listing_difference)) to explain a type mismatch without
    /// having the other side's descriptor.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        listing_into(&mut out, self, "", 0);
        out
    }

    /// The first line where two listings differ, explained like
    /// [`first_difference`](Self::first_difference): ``field `pose.x`: f32 at offset 0 vs
    /// f64 at offset 0``. `None` when the listings are equal.
    pub fn listing_difference(ours: &str, theirs: &str) -> Option<String> {
        let mut a = ours.lines();
        let mut b = theirs.lines();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return None,
                (Some(x), Some(y)) if x == y => continue,
                (x, y) => {
                    let split = |line: Option<&str>| -> (String, String) {
                        let mut parts = line.unwrap_or("").splitn(3, '\t');
                        let path = parts.next().unwrap_or("").to_owned();
                        let offset = parts.next().unwrap_or("");
                        let ty = parts.next().unwrap_or("");
                        if line.is_none() {
                            (path, "nothing".to_owned())
                        } else {
                            (path, format!("{ty} at offset {offset}"))
                        }
                    };
                    let (pa, ta) = split(x);
                    let (pb, tb) = split(y);
                    return Some(if pa == pb || pb.is_empty() {
                        format!("field `{pa}`: {ta} vs {tb}")
                    } else if pa.is_empty() {
                        format!("field `{pb}`: nothing vs {tb}")
                    } else {
                        format!("field `{pa}`: {ta} vs field `{pb}`: {tb}")
                    });
                }
            }
        }
    }

    /// Explains the first difference between two descriptors, in declaration order, or
    /// `None` when they have the same layout. The explanation names the field path:
    /// ``field `pose.x`: f32 at offset 0 vs f64 at offset 0``.
    pub fn first_difference(&self, other: &TypeDescriptor) -> Option<Difference> {
        if self.same_layout(other) {
            return None;
        }
        let mut path = String::new();
        Some(
            difference(self, other, &mut path).unwrap_or_else(|| Difference {
                path: String::new(),
                what: format!(
                    "`{self}` vs `{other}`: layout hashes {:#018x} and {:#018x} differ",
                    self.layout_hash, other.layout_hash
                ),
            }),
        )
    }
}

/// The first difference between two type descriptors, as found by
/// [`TypeDescriptor::first_difference`].
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

/// Finds the first difference below `path`; `None` if the two are equal as far as the
/// walk can see (then only the hashes tell them apart, which cannot happen for
/// descriptors built by this module).
fn difference(a: &TypeDescriptor, b: &TypeDescriptor, path: &mut String) -> Option<Difference> {
    match (a.kind, b.kind) {
        (TypeKind::Struct { fields: fa }, TypeKind::Struct { fields: fb }) => {
            if a.name != b.name {
                return at(path, format!("type name `{}` vs `{}`", a.name, b.name));
            }
            for (i, (x, y)) in fa.iter().zip(fb.iter()).enumerate() {
                let before = path.len();
                push_segment(path, x.name);
                if x.name != y.name || x.offset != y.offset || !x.ty.same_layout(y.ty) {
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
                    let nested = composite(x.ty)
                        && composite(y.ty)
                        && x.offset == y.offset
                        && !different_bound(x.ty, y.ty);
                    if nested && let Some(d) = difference(x.ty, y.ty, path) {
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
                let extra = longer[fa.len().min(fb.len())];
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
            size_align(a, b, path)
        }
        (
            TypeKind::Enum {
                repr: ra,
                variants: va,
            },
            TypeKind::Enum {
                repr: rb,
                variants: vb,
            },
        ) => {
            if a.name != b.name {
                return at(path, format!("enum name `{}` vs `{}`", a.name, b.name));
            }
            if ra != rb {
                return at(path, format!("enum `{}` stored as {ra} vs {rb}", a.name));
            }
            for (x, y) in va.iter().zip(vb.iter()) {
                if x != y {
                    return at(
                        path,
                        format!(
                            "enum `{}`: variant `{}` = {} vs `{}` = {}",
                            a.name, x.name, x.value, y.name, y.value
                        ),
                    );
                }
            }
            if va.len() != vb.len() {
                return at(
                    path,
                    format!(
                        "enum `{}` has {} variants vs {}",
                        a.name,
                        va.len(),
                        vb.len()
                    ),
                );
            }
            size_align(a, b, path)
        }
        (
            TypeKind::Array {
                len: la,
                element: ea,
            },
            TypeKind::Array {
                len: lb,
                element: eb,
            },
        )
        | (
            TypeKind::FixedVec {
                capacity: la,
                element: ea,
            },
            TypeKind::FixedVec {
                capacity: lb,
                element: eb,
            },
        ) => {
            if la != lb {
                return at(path, format!("{a} vs {b}"));
            }
            element_difference(ea, eb, path).or_else(|| size_align(a, b, path))
        }
        (TypeKind::Optional { element: ea }, TypeKind::Optional { element: eb }) => {
            element_difference(ea, eb, path).or_else(|| size_align(a, b, path))
        }
        _ => {
            if a.kind.tag() != b.kind.tag() || a.name != b.name || a.size != b.size {
                return at(path, format!("{a} vs {b}"));
            }
            size_align(a, b, path)
        }
    }
}

/// Both are arrays or both fixed vectors, with different lengths or capacities.
fn different_bound(a: &TypeDescriptor, b: &TypeDescriptor) -> bool {
    match (a.kind, b.kind) {
        (TypeKind::Array { len: la, .. }, TypeKind::Array { len: lb, .. })
        | (TypeKind::FixedVec { capacity: la, .. }, TypeKind::FixedVec { capacity: lb, .. }) => {
            la != lb
        }
        _ => false,
    }
}

fn listing_into(out: &mut String, ty: &TypeDescriptor, path: &str, base: usize) {
    use std::fmt::Write as _;
    match ty.kind {
        TypeKind::Struct { fields } if !fields.is_empty() => {
            for field in fields {
                let sub = if path.is_empty() {
                    field.name.to_owned()
                } else {
                    format!("{path}.{}", field.name)
                };
                listing_into(out, field.ty, &sub, base + field.offset);
            }
        }
        TypeKind::Array { element, .. }
        | TypeKind::FixedVec { element, .. }
        | TypeKind::Optional { element }
            if composite(element) =>
        {
            let _ = writeln!(out, "{path}\t{base}\t{ty}");
            listing_into(out, element, &format!("{path}[]"), 0);
        }
        TypeKind::Enum { variants, .. } => {
            let _ = writeln!(out, "{path}\t{base}\t{ty}");
            for v in variants {
                let _ = writeln!(out, "{path}::{}\t{base}\t= {}", v.name, v.value);
            }
        }
        _ => {
            let _ = writeln!(out, "{path}\t{base}\t{ty}");
        }
    }
}

fn at(path: &str, what: String) -> Option<Difference> {
    Some(Difference {
        path: path.to_owned(),
        what,
    })
}

fn element_difference(
    a: &'static TypeDescriptor,
    b: &'static TypeDescriptor,
    path: &mut String,
) -> Option<Difference> {
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

fn size_align(a: &TypeDescriptor, b: &TypeDescriptor, path: &str) -> Option<Difference> {
    let what = if a.size != b.size {
        format!("`{a}` is {} bytes vs {} bytes", a.size, b.size)
    } else if a.align != b.align {
        format!("`{a}` is aligned to {} vs {}", a.align, b.align)
    } else {
        return None;
    };
    Some(Difference {
        path: path.to_owned(),
        what,
    })
}

fn composite(t: &TypeDescriptor) -> bool {
    matches!(
        t.kind,
        TypeKind::Struct { .. }
            | TypeKind::Enum { .. }
            | TypeKind::Array { .. }
            | TypeKind::FixedVec { .. }
            | TypeKind::Optional { .. }
    )
}

fn push_segment(path: &mut String, name: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
}

/// The short spelling of the type: `u32`, `[f32; 3]`, `FixedString<16>`,
/// `FixedVec<Point, 8>`, `Optional<f64>`, `Pose`.
impl fmt::Display for TypeDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TypeKind::Primitive(p) => f.write_str(p.name()),
            TypeKind::Array { len, element } => write!(f, "[{element}; {len}]"),
            TypeKind::FixedString { capacity } => write!(f, "FixedString<{capacity}>"),
            TypeKind::FixedVec { capacity, element } => {
                write!(f, "FixedVec<{element}, {capacity}>")
            }
            TypeKind::Optional { element } => write!(f, "Optional<{element}>"),
            TypeKind::Enum { .. } | TypeKind::Struct { .. } => f.write_str(self.name),
        }
    }
}

fn render_into(out: &mut String, t: &TypeDescriptor, depth: usize) {
    use fmt::Write as _;
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "{} {t} (size {}, align {}, layout hash {:#018x})",
        t.kind.word(),
        t.size,
        t.align,
        t.layout_hash
    );
    let indent = "    ".repeat(depth + 1);
    match t.kind {
        TypeKind::Struct { fields } => {
            for field in fields {
                let _ = write!(out, "{indent}@{:<6} {}: ", field.offset, field.name);
                render_nested(out, field.ty, depth + 1);
            }
        }
        TypeKind::Enum { repr, variants } => {
            let _ = writeln!(out, "{indent}stored as {repr}");
            for v in variants {
                let _ = writeln!(out, "{indent}{} = {}", v.name, v.value);
            }
        }
        _ => {}
    }
}

/// A field's type: on one line for scalars and containers of scalars, expanded for
/// structs and enums (also inside arrays, vectors and optionals).
fn render_nested(out: &mut String, t: &TypeDescriptor, depth: usize) {
    use fmt::Write as _;
    match innermost_named(t) {
        Some(named) => {
            if !core::ptr::eq(named, t) {
                let _ = write!(out, "{t} of ");
            }
            render_into(out, named, depth);
        }
        None => {
            let _ = writeln!(out, "{t}");
        }
    }
}

fn innermost_named(t: &TypeDescriptor) -> Option<&TypeDescriptor> {
    match t.kind {
        TypeKind::Struct { .. } | TypeKind::Enum { .. } => Some(t),
        TypeKind::Array { element, .. }
        | TypeKind::FixedVec { element, .. }
        | TypeKind::Optional { element } => innermost_named(element),
        TypeKind::Primitive(_) | TypeKind::FixedString { .. } => None,
    }
}

// ---- the hash (const) -------------------------------------------------------------

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

const fn feed_byte(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(FNV_PRIME)
}

const fn feed_u64(mut h: u64, v: u64) -> u64 {
    let bytes = v.to_le_bytes();
    let mut i = 0;
    while i < 8 {
        h = feed_byte(h, bytes[i]);
        i += 1;
    }
    h
}

const fn feed_str(mut h: u64, s: &str) -> u64 {
    let bytes = s.as_bytes();
    h = feed_u64(h, bytes.len() as u64);
    let mut i = 0;
    while i < bytes.len() {
        h = feed_byte(h, bytes[i]);
        i += 1;
    }
    h
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
const fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

const fn compute_layout_hash(name: &str, size: usize, align: usize, kind: &TypeKind) -> u64 {
    let mut h = FNV_OFFSET;
    h = feed_u64(h, LAYOUT_HASH_VERSION);
    h = feed_u64(h, kind.tag());
    h = feed_u64(h, size as u64);
    h = feed_u64(h, align as u64);
    match kind {
        TypeKind::Primitive(p) => h = feed_u64(h, p.code()),
        TypeKind::Array { len, element } => {
            h = feed_u64(h, *len as u64);
            h = feed_u64(h, element.layout_hash);
        }
        TypeKind::FixedString { capacity } => h = feed_u64(h, *capacity as u64),
        TypeKind::FixedVec { capacity, element } => {
            h = feed_u64(h, *capacity as u64);
            h = feed_u64(h, element.layout_hash);
        }
        TypeKind::Optional { element } => h = feed_u64(h, element.layout_hash),
        TypeKind::Enum { repr, variants } => {
            h = feed_str(h, name);
            h = feed_u64(h, repr.code());
            h = feed_u64(h, variants.len() as u64);
            let mut i = 0;
            while i < variants.len() {
                h = feed_str(h, variants[i].name);
                let v = variants[i].value as u128;
                h = feed_u64(h, v as u64);
                h = feed_u64(h, (v >> 64) as u64);
                i += 1;
            }
        }
        TypeKind::Struct { fields } => {
            h = feed_str(h, name);
            h = feed_u64(h, fields.len() as u64);
            let mut i = 0;
            while i < fields.len() {
                h = feed_str(h, fields[i].name);
                h = feed_u64(h, fields[i].offset as u64);
                h = feed_u64(h, fields[i].ty.layout_hash);
                i += 1;
            }
        }
    }
    fmix64(h)
}
