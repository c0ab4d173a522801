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
//! The algorithm (version 2, [`LAYOUT_HASH_VERSION`]; version 1 had no open enums,
//! bitmasks or unions) is FNV-1a (64-bit) over a sequence
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
//! | enum | type name, repr code, variant count, then per variant: name, value (as 128 bits); then 1 if open, 0 if closed |
//! | struct | type name, field count, then per field: name, offset, field type hash |
//! | bitmask | type name, repr code, flag count, then per flag: name, position |
//! | union | as a struct (the discriminator is field 0), then the case count and per case: branch index, 1 if default else 0, label count, labels (as 128 bits) |
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

use super::dynamic::{Descriptor, Difference};

/// Version of the layout-hash algorithm described in the module documentation.
pub const LAYOUT_HASH_VERSION: u64 = 2;

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

    /// The primitive of a [`code`](Self::code), if it is one.
    pub const fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => Primitive::Bool,
            2 => Primitive::U8,
            3 => Primitive::U16,
            4 => Primitive::U32,
            5 => Primitive::U64,
            6 => Primitive::I8,
            7 => Primitive::I16,
            8 => Primitive::I32,
            9 => Primitive::I64,
            10 => Primitive::F32,
            11 => Primitive::F64,
            _ => return None,
        })
    }

    /// The stable code fed to the layout hash and written in encoded descriptors. Never
    /// reuse or renumber a code.
    pub const fn code(self) -> u64 {
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

/// One flag of a bitmask: its name and bit position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitFlag {
    name: &'static str,
    position: u32,
}

impl BitFlag {
    /// Describes a flag at bit `position` (0 is the least significant bit).
    pub const fn new(name: &'static str, position: u32) -> Self {
        BitFlag { name, position }
    }

    /// The flag's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Its bit position.
    pub const fn position(&self) -> u32 {
        self.position
    }
}

/// One case of a union: the branch it selects and the discriminator values that select it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnionCase {
    field: usize,
    labels: &'static [i128],
    is_default: bool,
}

impl UnionCase {
    /// Branch `field` (an index into the union's fields; 0 is the discriminator, so branches
    /// start at 1) is selected by the discriminator values `labels`, and with `is_default`
    /// by every value no other case names.
    pub const fn new(field: usize, labels: &'static [i128], is_default: bool) -> Self {
        UnionCase {
            field,
            labels,
            is_default,
        }
    }

    /// The index of the branch in the union's fields.
    pub const fn field(&self) -> usize {
        self.field
    }

    /// The discriminator values that select it.
    pub const fn labels(&self) -> &'static [i128] {
        self.labels
    }

    /// Whether it is the `default:` case.
    pub const fn is_default(&self) -> bool {
        self.is_default
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
    /// An enumeration stored as an integer: a fieldless Rust enum (closed: only the known
    /// values are valid), or an IDL enum (open: any value is valid, known ones have names).
    Enum {
        /// The integer type that stores the discriminant.
        repr: Primitive,
        /// The known values.
        variants: &'static [EnumVariant],
        /// Whether values outside `variants` are valid too.
        open: bool,
    },
    /// A `#[repr(C)]` or `#[repr(transparent)]` struct.
    Struct {
        /// The fields in declaration order.
        fields: &'static [FieldDescriptor],
    },
    /// An IDL bitmask: an unsigned integer whose bits are named flags (any value is valid;
    /// unknown bits are kept).
    Bitmask {
        /// The integer type that stores the bits.
        repr: Primitive,
        /// The named flags.
        flags: &'static [BitFlag],
    },
    /// An IDL union laid out as a struct: the discriminator first (field 0), then every
    /// branch at its own offset; the discriminator says which branch holds the value.
    Union {
        /// The discriminator, then the branches.
        fields: &'static [FieldDescriptor],
        /// Which discriminator values select which branch.
        cases: &'static [UnionCase],
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
            TypeKind::Bitmask { .. } => "bitmask",
            TypeKind::Union { .. } => "union",
        }
    }

    /// The stable tag of the kind, fed to the layout hash and written in encoded
    /// descriptors. Never reuse or renumber a tag.
    pub const fn tag(&self) -> u8 {
        match self {
            TypeKind::Primitive(_) => 1,
            TypeKind::Array { .. } => 2,
            TypeKind::FixedString { .. } => 3,
            TypeKind::FixedVec { .. } => 4,
            TypeKind::Optional { .. } => 5,
            TypeKind::Enum { .. } => 6,
            TypeKind::Struct { .. } => 7,
            TypeKind::Bitmask { .. } => 8,
            TypeKind::Union { .. } => 9,
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

    /// The descriptor of a fieldless enum named `name`, stored as `repr`: only its
    /// variants are valid values.
    pub const fn enumeration(
        name: &'static str,
        repr: Primitive,
        variants: &'static [EnumVariant],
        size: usize,
        align: usize,
    ) -> Self {
        let open = false;
        Self::build(
            name,
            size,
            align,
            TypeKind::Enum {
                repr,
                variants,
                open,
            },
        )
    }

    /// The descriptor of an open enumeration named `name` (an IDL enum): an integer stored
    /// as `repr` whose every value is valid; `variants` are the named ones.
    pub const fn open_enumeration(
        name: &'static str,
        repr: Primitive,
        variants: &'static [EnumVariant],
        size: usize,
        align: usize,
    ) -> Self {
        let open = true;
        Self::build(
            name,
            size,
            align,
            TypeKind::Enum {
                repr,
                variants,
                open,
            },
        )
    }

    /// The descriptor of a bitmask named `name`: an unsigned integer `repr` with named
    /// `flags`.
    pub const fn bitmask(
        name: &'static str,
        repr: Primitive,
        flags: &'static [BitFlag],
        size: usize,
        align: usize,
    ) -> Self {
        Self::build(name, size, align, TypeKind::Bitmask { repr, flags })
    }

    /// The descriptor of a union named `name` laid out as a struct: `fields[0]` is the
    /// discriminator, the other fields are the branches `cases` select.
    pub const fn union(
        name: &'static str,
        fields: &'static [FieldDescriptor],
        cases: &'static [UnionCase],
        size: usize,
        align: usize,
    ) -> Self {
        Self::build(name, size, align, TypeKind::Union { fields, cases })
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

    /// The fields, for a struct (and for a union: its discriminator, then its branches);
    /// empty for every other kind.
    pub const fn fields(&self) -> &'static [FieldDescriptor] {
        match self.kind {
            TypeKind::Struct { fields } | TypeKind::Union { fields, .. } => fields,
            _ => &[],
        }
    }

    /// Whether two descriptors describe the same layout (equal layout hashes).
    pub const fn same_layout(&self, other: &TypeDescriptor) -> bool {
        self.layout_hash == other.layout_hash
    }

    /// A multi-line, human-readable rendering of the whole type tree: every field with its
    /// offset and type, nested types expanded. Used by error messages and the CLI (see
    /// [`Descriptor::render`]).
    pub fn render(&'static self) -> String {
        Descriptor::from_static(self).render()
    }

    /// Explains the first difference between two descriptors, in declaration order, or
    /// `None` when they have the same layout (see [`Descriptor::first_difference`]).
    pub fn first_difference(&'static self, other: &'static TypeDescriptor) -> Option<Difference> {
        Descriptor::from_static(self).first_difference(&Descriptor::from_static(other))
    }
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
            TypeKind::Enum { .. }
            | TypeKind::Struct { .. }
            | TypeKind::Bitmask { .. }
            | TypeKind::Union { .. } => f.write_str(self.name),
        }
    }
}

// ---- the hash (const) -------------------------------------------------------------

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The layout hash of one descriptor node, fed one value at a time in the order of the
/// module docs. Both the compile-time descriptors and the run-time ones
/// ([`crate::message::dynamic`]) compute their hashes with it, so the two always agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutHasher(u64);

impl LayoutHasher {
    /// Starts the hash of a node of kind `tag` (see [`TypeKind::tag`]), `size` and `align`.
    pub const fn new(tag: u8, size: usize, align: usize) -> Self {
        Self(FNV_OFFSET)
            .u64(LAYOUT_HASH_VERSION)
            .u64(tag as u64)
            .u64(size as u64)
            .u64(align as u64)
    }

    /// Feeds a 64-bit word.
    #[must_use]
    pub const fn u64(self, v: u64) -> Self {
        let bytes = v.to_le_bytes();
        let mut h = self.0;
        let mut i = 0;
        while i < 8 {
            h = (h ^ bytes[i] as u64).wrapping_mul(FNV_PRIME);
            i += 1;
        }
        Self(h)
    }

    /// Feeds a 128-bit value as two words, low first.
    #[must_use]
    pub const fn i128(self, v: i128) -> Self {
        let v = v as u128;
        self.u64(v as u64).u64((v >> 64) as u64)
    }

    /// Feeds a string: its length, then its bytes.
    #[must_use]
    pub const fn str(self, s: &str) -> Self {
        let bytes = s.as_bytes();
        let mut h = self.u64(bytes.len() as u64).0;
        let mut i = 0;
        while i < bytes.len() {
            h = (h ^ bytes[i] as u64).wrapping_mul(FNV_PRIME);
            i += 1;
        }
        Self(h)
    }

    /// Feeds a flag as a word, 1 or 0.
    #[must_use]
    pub const fn flag(self, b: bool) -> Self {
        self.u64(b as u64)
    }

    /// The hash: MurmurHash3's 64-bit finaliser, so every input bit affects every output
    /// bit.
    pub const fn finish(self) -> u64 {
        let mut k = self.0;
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^= k >> 33;
        k
    }
}

const fn compute_layout_hash(name: &str, size: usize, align: usize, kind: &TypeKind) -> u64 {
    let mut h = LayoutHasher::new(kind.tag(), size, align);
    match kind {
        TypeKind::Primitive(p) => h = h.u64(p.code()),
        TypeKind::Array { len, element } => h = h.u64(*len as u64).u64(element.layout_hash),
        TypeKind::FixedString { capacity } => h = h.u64(*capacity as u64),
        TypeKind::FixedVec { capacity, element } => {
            h = h.u64(*capacity as u64).u64(element.layout_hash);
        }
        TypeKind::Optional { element } => h = h.u64(element.layout_hash),
        TypeKind::Enum {
            repr,
            variants,
            open,
        } => {
            h = h.str(name).u64(repr.code()).u64(variants.len() as u64);
            let mut i = 0;
            while i < variants.len() {
                h = h.str(variants[i].name).i128(variants[i].value);
                i += 1;
            }
            h = h.flag(*open);
        }
        TypeKind::Struct { fields } => h = hash_fields(h.str(name), fields),
        TypeKind::Bitmask { repr, flags } => {
            h = h.str(name).u64(repr.code()).u64(flags.len() as u64);
            let mut i = 0;
            while i < flags.len() {
                h = h.str(flags[i].name).u64(flags[i].position as u64);
                i += 1;
            }
        }
        TypeKind::Union { fields, cases } => {
            h = hash_fields(h.str(name), fields).u64(cases.len() as u64);
            let mut i = 0;
            while i < cases.len() {
                let case = &cases[i];
                h = h
                    .u64(case.field as u64)
                    .flag(case.is_default)
                    .u64(case.labels.len() as u64);
                let mut j = 0;
                while j < case.labels.len() {
                    h = h.i128(case.labels[j]);
                    j += 1;
                }
                i += 1;
            }
        }
    }
    h.finish()
}

const fn hash_fields(mut h: LayoutHasher, fields: &[FieldDescriptor]) -> LayoutHasher {
    h = h.u64(fields.len() as u64);
    let mut i = 0;
    while i < fields.len() {
        h = h
            .str(fields[i].name)
            .u64(fields[i].offset as u64)
            .u64(fields[i].ty.layout_hash);
        i += 1;
    }
    h
}
