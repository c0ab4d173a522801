//! The resolved model of an IDL translation unit: the only thing code generation sees.
//!
//! Everything here is resolved, evaluated and checked: names are [`ItemId`]s, constants
//! are values, bounds are numbers (with where they came from), re-opened modules are
//! merged, forward declarations are gone, `#pragma keylist` is applied as `@key`, and
//! every type item carries its [`Layout`] under the Rust mapping of shmbus:
//!
//! | IDL | Rust | layout |
//! | --- | --- | --- |
//! | `boolean` | `shmbus::Boolean` (`repr(transparent)` over `u8`) | 1, align 1 |
//! | `char`, `octet`, `int8`, `uint8` | `u8` / `u8` / `i8` / `u8` | 1, align 1 |
//! | `wchar` | `u16` | 2, align 2 |
//! | `short`..`unsigned long long`, `float`, `double` | `i16`..`u64`, `f32`, `f64` | natural |
//! | `long double` (only with [`Options::long_double_opaque`](crate::Options)) | an opaque 16-byte value | 16, align 16 |
//! | `string<N>` | `FixedString<N>` (`u32` length, `[u8; N]`) | `4 + N` rounded to 4, align 4 |
//! | `wstring<N>` | UTF-16 code units, laid out like `FixedVec<u16, N>` | `4 + 2N` rounded to 4, align 4 |
//! | `sequence<T, N>` | `FixedVec<T, N>` (`u32` length, `[T; N]`) | `repr(C)` of `{u32, [T; N]}` |
//! | `map<K, V, N>` | laid out like `FixedVec<Entry, N>` with `#[repr(C)] Entry { key: K, value: V }` | as that |
//! | `T a[2][3]` | `[[T; 3]; 2]` | C order |
//! | `@optional T` | `Optional<T>` (`u8` flag, then `T`) | `repr(C)` of `{u8, T}` |
//! | `struct B : A` | `A` as first field `base` | `repr(C)` |
//! | `enum` | newtype over [`Enum::repr`] | that integer |
//! | `bitmask` | newtype over [`Bitmask::repr`] | that integer |
//! | `bitset` | integer storage [`Bitset::storage`] | that integer |
//! | `union` | `#[repr(C)]` struct: discriminator `_d`, then every branch as its own field | see [`Union`] |
//!
//! A zero-sized `repr(C)` struct (an empty IDL struct) has size 0 and alignment 1, as in
//! Rust.
//!
//! The model is built by [`compile_files`](crate::compile_files) /
//! [`compile_sources`](crate::compile_sources), which return it only when there were no
//! errors. It changes only additively.

use crate::source::Span;

/// Index of a [`Module`] in [`Hir::modules`]. `ModuleId(0)` is the global scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleId(pub u32);

/// Index of an [`Item`] in [`Hir::items`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(pub u32);

/// A whole checked translation unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hir {
    /// Every module; `modules[0]` is the unnamed global scope. A module that is opened
    /// several times (in one or several files) appears once, with all its contents.
    pub modules: Vec<Module>,
    /// Every type and constant, indexed by [`ItemId`].
    pub items: Vec<Item>,
    /// Every string, sequence and map of a member or typedef, by its key in the
    /// per-member bounds, with where its bound came from (for checking a bounds file and
    /// reporting default bounds: see [`crate::bounds`]).
    pub bound_uses: Vec<BoundUse>,
}

/// A string, sequence or map of a member or typedef, and its bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundUse {
    /// Its key in the per-member bounds: `pkg::Type::member`, `pkg::Typedef`.
    pub key: String,
    /// `"string"`, `"wstring"`, `"sequence"` or `"map"`.
    pub kind: &'static str,
    /// The bound.
    pub bound: u32,
    /// Where the bound came from.
    pub source: BoundSource,
}

impl Hir {
    /// The global scope.
    pub const ROOT: ModuleId = ModuleId(0);

    /// The module `id`.
    ///
    /// # Panics
    /// If `id` does not come from this model.
    pub fn module(&self, id: ModuleId) -> &Module {
        &self.modules[id.0 as usize]
    }

    /// The item `id`.
    ///
    /// # Panics
    /// If `id` does not come from this model.
    pub fn item(&self, id: ItemId) -> &Item {
        &self.items[id.0 as usize]
    }

    /// The global scope's module.
    pub fn root(&self) -> &Module {
        self.module(Self::ROOT)
    }

    /// Finds an item by its scoped name, e.g. `"pkg::msg::Foo"` (a leading `::` is allowed).
    pub fn find(&self, scoped_name: &str) -> Option<ItemId> {
        let wanted = scoped_name.strip_prefix("::").unwrap_or(scoped_name);
        self.items
            .iter()
            .position(|item| item.scoped_name() == wanted)
            .and_then(|i| u32::try_from(i).ok())
            .map(ItemId)
    }

    /// Follows `Named` references through typedefs until a type that is not a typedef
    /// (arrays of typedefs are not unfolded: only the outermost name is followed).
    pub fn resolve_alias<'a>(&'a self, ty: &'a Type) -> &'a Type {
        let mut current = ty;
        // A typedef chain is acyclic (checked), the bound only guards against misuse.
        for _ in 0..=self.items.len() {
            match current {
                Type::Named(id) => match &self.item(*id).kind {
                    ItemKind::Typedef(t) => current = &t.ty,
                    _ => return current,
                },
                _ => return current,
            }
        }
        current
    }

    /// The layout of a type reference under the Rust mapping (see the module docs).
    pub fn layout_of(&self, ty: &Type) -> Layout {
        match ty {
            Type::Primitive(p) => p.layout(),
            Type::String(s) => s.layout(),
            Type::Sequence(s) => s.layout,
            Type::Map(m) => m.layout,
            Type::Array(a) => a.layout,
            Type::Named(id) => self.item(*id).layout.unwrap_or(Layout::ZERO),
        }
    }
}

/// A module: a named scope holding items and nested modules in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// The module name (empty for the global scope).
    pub name: String,
    /// The scoped path, outermost first (empty for the global scope): `["pkg", "msg"]`.
    pub path: Vec<String>,
    /// The enclosing module (`None` only for the global scope).
    pub parent: Option<ModuleId>,
    /// Doc comments and `@verbatim` of every opening of the module, in order.
    pub doc: Doc,
    /// Where it was first opened (an empty span at the file start for the global scope).
    pub span: Span,
    /// Contents in source order (over all openings).
    pub entries: Vec<ModuleEntry>,
}

impl Module {
    /// The scoped name, `pkg::msg` (empty for the global scope).
    pub fn scoped_name(&self) -> String {
        self.path.join("::")
    }
}

/// One entry of a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleEntry {
    /// A nested module.
    Module(ModuleId),
    /// A type or constant.
    Item(ItemId),
}

/// Documentation gathered from IDL comments, `@verbatim` and `@unit`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Doc {
    /// The comments just before the declaration, delimiters removed, in order.
    pub comments: Vec<String>,
    /// `@verbatim(language = ..., placement = ..., text = ...)` applications.
    pub verbatim: Vec<Verbatim>,
    /// `@unit("m/s")`.
    pub unit: Option<String>,
}

impl Doc {
    /// Whether there is nothing to document.
    pub fn is_empty(&self) -> bool {
        self.comments.is_empty() && self.verbatim.is_empty() && self.unit.is_none()
    }
}

/// One `@verbatim` application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verbatim {
    /// `language` (`"*"` when not given; `"comment"` means a doc comment).
    pub language: String,
    /// `placement` (`BEFORE_DECLARATION` when not given).
    pub placement: String,
    /// `text`.
    pub text: String,
}

/// A type or a constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The simple name, as written (an escaping `_` removed).
    pub name: String,
    /// The enclosing module.
    pub module: ModuleId,
    /// The scoped path including the name: `["pkg", "msg", "Foo"]`. A type defined inline
    /// in a typedef (`typedef struct S { .. } T;`) is an item of the typedef's module like
    /// any other, listed just before the typedef.
    pub path: Vec<String>,
    /// Documentation.
    pub doc: Doc,
    /// Every applied annotation with evaluated parameters, interpreted or not (unknown
    /// annotations are dropped with a warning and do not appear).
    pub annotations: Vec<AppliedAnnotation>,
    /// Where it is defined (the name).
    pub span: Span,
    /// What it is.
    pub kind: ItemKind,
    /// Size and alignment for type items; `None` for constants.
    pub layout: Option<Layout>,
}

impl Item {
    /// The IDL scoped name, `pkg::msg::Foo` (also the descriptor's type name).
    pub fn scoped_name(&self) -> String {
        self.path.join("::")
    }
}

/// The kinds of items.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    /// `struct`.
    Struct(Struct),
    /// `enum`.
    Enum(Enum),
    /// `bitmask`.
    Bitmask(Bitmask),
    /// `bitset`.
    Bitset(Bitset),
    /// `union`.
    Union(Union),
    /// `typedef` (one item per declarator).
    Typedef(Typedef),
    /// `const`.
    Const(Const),
}

/// An annotation application with evaluated parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedAnnotation {
    /// The name as written (`key`, `range`, `my::Ann`).
    pub name: String,
    /// Parameters: `("value", v)` for a single positional parameter.
    pub params: Vec<(String, ConstValue)>,
    /// Where.
    pub span: Span,
}

/// `@final`, `@appendable`, `@mutable` / `@extensibility(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extensibility {
    /// `@final`.
    Final,
    /// `@appendable`.
    Appendable,
    /// `@mutable`.
    Mutable,
}

/// Size and alignment in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    /// `size_of`.
    pub size: u64,
    /// `align_of` (a power of two, at least 1).
    pub align: u64,
}

impl Layout {
    /// The layout of an empty `repr(C)` struct.
    pub const ZERO: Layout = Layout { size: 0, align: 1 };

    /// A layout of `size` bytes aligned to `align`.
    pub const fn new(size: u64, align: u64) -> Self {
        Layout { size, align }
    }
}

/// Integer representations of enums, bitmasks and bitset storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntRepr {
    /// `i8`
    I8,
    /// `u8`
    U8,
    /// `i16`
    I16,
    /// `u16`
    U16,
    /// `i32`
    I32,
    /// `u32`
    U32,
    /// `i64`
    I64,
    /// `u64`
    U64,
}

impl IntRepr {
    /// Width in bits.
    pub fn bits(self) -> u32 {
        match self {
            IntRepr::I8 | IntRepr::U8 => 8,
            IntRepr::I16 | IntRepr::U16 => 16,
            IntRepr::I32 | IntRepr::U32 => 32,
            IntRepr::I64 | IntRepr::U64 => 64,
        }
    }

    /// The smallest and largest value it holds.
    pub fn range(self) -> (i128, i128) {
        let bits = self.bits();
        if self.signed() {
            let half = 1i128 << (bits - 1);
            (-half, half - 1)
        } else {
            (0, (1i128 << bits) - 1)
        }
    }

    /// The narrowest unsigned integer of at least `bits` bits (`u64` beyond 32).
    pub fn unsigned_for_bits(bits: u32) -> IntRepr {
        match bits {
            0..=8 => IntRepr::U8,
            9..=16 => IntRepr::U16,
            17..=32 => IntRepr::U32,
            _ => IntRepr::U64,
        }
    }

    /// Whether it is signed.
    pub fn signed(self) -> bool {
        matches!(
            self,
            IntRepr::I8 | IntRepr::I16 | IntRepr::I32 | IntRepr::I64
        )
    }

    /// The Rust type name (`u16`).
    pub fn rust_name(self) -> &'static str {
        match self {
            IntRepr::I8 => "i8",
            IntRepr::U8 => "u8",
            IntRepr::I16 => "i16",
            IntRepr::U16 => "u16",
            IntRepr::I32 => "i32",
            IntRepr::U32 => "u32",
            IntRepr::I64 => "i64",
            IntRepr::U64 => "u64",
        }
    }

    /// Size and alignment (equal).
    pub fn layout(self) -> Layout {
        let n = u64::from(self.bits() / 8);
        Layout::new(n, n)
    }
}

/// A struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    /// The base struct (directly, typedefs resolved), laid out as the first field `base`.
    pub base: Option<ItemId>,
    /// The struct's own fields in declaration order (several declarators become several
    /// fields); inherited fields stay in the base.
    pub fields: Vec<Field>,
    /// Offset of the `base` field (always 0 when there is a base).
    pub base_offset: Option<u64>,
    /// Extensibility annotation, if any.
    pub extensibility: Option<Extensibility>,
    /// `@nested` / `@nested(b)`; `None` when not annotated.
    pub nested: Option<bool>,
    /// `@topic` present.
    pub topic: bool,
}

/// A struct member.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The member name (may be a Rust keyword: codegen escapes).
    pub name: String,
    /// The member type, array dimensions of the declarator included. For `@optional`
    /// members this is `T`; the field itself is `Optional<T>` (see [`Field::optional`]).
    pub ty: Type,
    /// `@optional`: the field is `Optional<ty>`.
    pub optional: bool,
    /// `@key` or listed in `#pragma keylist`.
    pub key: bool,
    /// `@external`. Kept for information only: the member is stored inline like any
    /// other (a fixed-layout message holds no pointers), so an `@external` member that
    /// makes a type contain itself is `E-RECURSIVE-TYPE`.
    pub external: bool,
    /// `@id(n)`, or implied by `@autoid`/`@hashid` when given explicitly; `None` if not given.
    pub id: Option<u32>,
    /// `@default(v)`, converted to the member's type.
    pub default: Option<ConstValue>,
    /// `@min(v)` or `@range(min = v, ...)`.
    pub min: Option<ConstValue>,
    /// `@max(v)` or `@range(..., max = v)`.
    pub max: Option<ConstValue>,
    /// Documentation (comments, `@verbatim`, `@unit`).
    pub doc: Doc,
    /// Every applied annotation with evaluated parameters.
    pub annotations: Vec<AppliedAnnotation>,
    /// Offset inside the struct (after `base`, if any).
    pub offset: u64,
    /// Layout of the field as stored (`Optional<T>` when optional).
    pub layout: Layout,
    /// Where (the declarator name).
    pub span: Span,
}

/// An enum: an open newtype over [`Enum::repr`].
#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    /// `@bit_bound(n)` (1..=32), 32 when not given.
    pub bit_bound: u32,
    /// The integer: `u8` for bit_bound <= 8, `u16` for <= 16, `u32` otherwise; the signed
    /// type of that width when an enumerator value is negative.
    pub repr: IntRepr,
    /// Enumerators in declaration order, values evaluated (`@value`, else previous + 1,
    /// starting at 0); every value fits `repr`.
    pub enumerators: Vec<Enumerator>,
    /// Index into `enumerators` of the default: `@default_literal`, else the first.
    pub default_index: usize,
    /// Extensibility annotation, if any.
    pub extensibility: Option<Extensibility>,
}

/// One enumerator.
#[derive(Debug, Clone, PartialEq)]
pub struct Enumerator {
    /// The name (lives in the enum's enclosing scope in IDL).
    pub name: String,
    /// Its value.
    pub value: i64,
    /// Documentation.
    pub doc: Doc,
    /// Where.
    pub span: Span,
}

/// A bitmask: a newtype over [`Bitmask::repr`] with one flag per bit.
#[derive(Debug, Clone, PartialEq)]
pub struct Bitmask {
    /// `@bit_bound(n)` (1..=64), 32 when not given.
    pub bit_bound: u32,
    /// `u8`/`u16`/`u32`/`u64` by `bit_bound`.
    pub repr: IntRepr,
    /// Flags in declaration order.
    pub flags: Vec<BitFlag>,
}

/// One bitmask flag.
#[derive(Debug, Clone, PartialEq)]
pub struct BitFlag {
    /// The name.
    pub name: String,
    /// Bit position (`@position`, else previous + 1, starting at 0); `< bit_bound`.
    pub position: u32,
    /// Documentation.
    pub doc: Doc,
    /// Where.
    pub span: Span,
}

/// A bitset: integer storage with named bit fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Bitset {
    /// The base bitset, if any; its fields come first (and are repeated in `fields`).
    pub base: Option<ItemId>,
    /// Named fields, base fields first; anonymous padding only moves the offset.
    pub fields: Vec<Bitfield>,
    /// Total number of bits used (padding included), 1..=64 (0 for an empty bitset).
    pub total_bits: u32,
    /// The storage integer: the smallest of `u8`/`u16`/`u32`/`u64` holding `total_bits`.
    pub storage: IntRepr,
}

/// One bit field.
#[derive(Debug, Clone, PartialEq)]
pub struct Bitfield {
    /// The name.
    pub name: String,
    /// First bit (0 = least significant bit of the storage).
    pub offset: u32,
    /// Number of bits (1..=64).
    pub width: u32,
    /// The type the getter returns: the given destination type, else `boolean` for a
    /// width of 1 and the smallest unsigned integer holding `width` bits otherwise.
    pub ty: Primitive,
    /// Documentation.
    pub doc: Doc,
    /// Where.
    pub span: Span,
}

/// A discriminated union.
///
/// Layout (decided by codegen, see `codegen/src/rust/union.rs` for why): a `#[repr(C)]`
/// struct whose fields are the discriminator `_d` at offset 0 and then **every branch as
/// its own field**, in declaration order, each at its natural alignment — the branches
/// do not overlap. The layout is therefore exactly [`repr_c_offsets`] of
/// `[discriminator layout, case 0 layout, case 1 layout, ...]`; [`UnionCase::offset`] is
/// each branch's offset. [`Union::storage_offset`] is the offset of the first branch
/// (the discriminator's size when there is no case) and [`Union::storage_layout`] the
/// layout of the branch fields taken together, `repr_c` of the case layouts.
#[derive(Debug, Clone, PartialEq)]
pub struct Union {
    /// The discriminator type as written (a typedef stays a typedef).
    pub discriminator: Type,
    /// The discriminator's underlying kind (typedefs resolved).
    pub discriminator_kind: Discriminator,
    /// `@key` on the discriminator.
    pub discriminator_key: bool,
    /// The cases in declaration order.
    pub cases: Vec<UnionCase>,
    /// The discriminator value that selects the default case, or, without a `default:`
    /// case, a value that selects no case (`None` when every value is covered).
    pub default_discriminator: Option<i128>,
    /// Index into `cases` of the `default:` case, if any.
    pub default_case: Option<usize>,
    /// Layout of the storage of all branches.
    pub storage_layout: Layout,
    /// Offset of the branch storage.
    pub storage_offset: u64,
    /// Extensibility annotation, if any.
    pub extensibility: Option<Extensibility>,
}

/// The underlying kind of a union discriminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discriminator {
    /// An integer, `char` (u8), `wchar` (u16), `octet` (u8) or `boolean` (u8 0/1).
    Primitive(Primitive),
    /// An enum.
    Enum(ItemId),
    /// A bitmask (Cyclone DDS accepts these; labels are flag combinations): the value is
    /// the bitmask's [`Bitmask::repr`] integer.
    Bitmask(ItemId),
}

/// One union case.
#[derive(Debug, Clone, PartialEq)]
pub struct UnionCase {
    /// The evaluated labels (enumerators by value, `boolean` as 0/1, chars as code
    /// points); empty for a case that only has `default:`.
    pub labels: Vec<i128>,
    /// Whether `default:` is among the labels.
    pub is_default: bool,
    /// The member name.
    pub name: String,
    /// The member type (array dimensions included).
    pub ty: Type,
    /// Layout of the member.
    pub layout: Layout,
    /// Offset of the member inside the union: branches do not overlap (see [`Union`]).
    pub offset: u64,
    /// Documentation.
    pub doc: Doc,
    /// Every applied annotation with evaluated parameters.
    pub annotations: Vec<AppliedAnnotation>,
    /// Where (the declarator name).
    pub span: Span,
}

/// `typedef T name;` (one per declarator; array dimensions of the declarator are part of
/// `ty`).
#[derive(Debug, Clone, PartialEq)]
pub struct Typedef {
    /// The aliased type.
    pub ty: Type,
}

/// `const T NAME = value;`
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    /// The declared type (primitive, string, enum or a typedef of them).
    pub ty: Type,
    /// The evaluated value, already converted to `ty` and checked to fit it.
    pub value: ConstValue,
}

/// An evaluated constant.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstValue {
    /// Any integer type (the value fits the declared type).
    Int(i128),
    /// `float`, `double` (and `long double`, evaluated as `f64`).
    Float(f64),
    /// `boolean`.
    Bool(bool),
    /// `char` (a byte) or `wchar`.
    Char(char),
    /// `string` / `wstring`.
    String(String),
    /// An enumerator of enum `item`.
    Enumerator {
        /// The enum.
        item: ItemId,
        /// Index into its enumerators.
        index: usize,
        /// The enumerator's value.
        value: i64,
    },
}

/// Where the bound of a string, sequence or map came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoundSource {
    /// Written in the IDL: `string<64>`.
    Explicit,
    /// `Options::default_string_bound` / `default_sequence_bound` / `default_map_bound`.
    DefaultOption,
    /// The per-member bounds (`Options::member_bounds` or a bounds file).
    MemberBound,
    /// Only for the type of a `const string` / `const wstring` written without a bound:
    /// the bound is the value's length (at least 1); constants are never laid out in
    /// messages, so an unbounded constant string is fine.
    ConstantValue,
}

/// A type reference.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// A built-in scalar.
    Primitive(Primitive),
    /// `string<N>` / `wstring<N>`.
    String(StringType),
    /// `sequence<T, N>`.
    Sequence(SequenceType),
    /// `map<K, V, N>`.
    Map(MapType),
    /// `T[d0][d1]...`.
    Array(ArrayType),
    /// Another item (struct, union, enum, bitmask, bitset or typedef; typedefs are kept).
    Named(ItemId),
}

/// `string<N>` / `wstring<N>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StringType {
    /// `wstring`.
    pub wide: bool,
    /// `N`: bytes for `string`, UTF-16 code units for `wstring`; at least 1.
    pub bound: u32,
    /// Where `N` came from.
    pub source: BoundSource,
}

impl StringType {
    /// `FixedString<N>`: `u32` + `N` bytes; wide: `u32` + `N` `u16`s.
    pub fn layout(&self) -> Layout {
        let unit = if self.wide { 2 } else { 1 };
        repr_c(&[
            Layout::new(4, 4),
            array_layout(Layout::new(unit, unit), u64::from(self.bound)),
        ])
    }
}

/// `sequence<T, N>`.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceType {
    /// `T`.
    pub element: Box<Type>,
    /// `N` (at least 1).
    pub bound: u32,
    /// Where `N` came from.
    pub source: BoundSource,
    /// Layout of `FixedVec<T, N>`.
    pub layout: Layout,
}

/// `map<K, V, N>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapType {
    /// `K`.
    pub key: Box<Type>,
    /// `V`.
    pub value: Box<Type>,
    /// `N` (at least 1).
    pub bound: u32,
    /// Where `N` came from.
    pub source: BoundSource,
    /// Layout of `FixedVec<Entry { key: K, value: V }, N>`.
    pub layout: Layout,
    /// Layout of one `#[repr(C)] Entry { key: K, value: V }`.
    pub entry_layout: Layout,
    /// Offset of `value` inside an entry.
    pub entry_value_offset: u64,
}

/// `T[d0][d1]...`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayType {
    /// `T` (never itself an array: all dimensions are in `dims`).
    pub element: Box<Type>,
    /// Dimensions, outermost first (`T a[2][3]` is `[2, 3]`, Rust `[[T; 3]; 2]`); each >= 1.
    pub dims: Vec<u32>,
    /// Layout of the whole array.
    pub layout: Layout,
}

/// Built-in scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// `boolean` -> `shmbus::Boolean` (one byte, valid for any byte).
    Boolean,
    /// `char` -> `u8`.
    Char,
    /// `wchar` -> `u16`.
    WChar,
    /// `octet` -> `u8`.
    Octet,
    /// `int8` -> `i8`.
    Int8,
    /// `uint8` -> `u8`.
    UInt8,
    /// `short`, `int16` -> `i16`.
    Int16,
    /// `unsigned short`, `uint16` -> `u16`.
    UInt16,
    /// `long`, `int32` -> `i32`.
    Int32,
    /// `unsigned long`, `uint32` -> `u32`.
    UInt32,
    /// `long long`, `int64` -> `i64`.
    Int64,
    /// `unsigned long long`, `uint64` -> `u64`.
    UInt64,
    /// `float` -> `f32`.
    Float32,
    /// `double` -> `f64`.
    Float64,
    /// `long double`, only with the opt-in: an opaque 16-byte value aligned to 16.
    LongDoubleOpaque,
}

impl Primitive {
    /// Size and alignment.
    pub fn layout(self) -> Layout {
        let n = match self {
            Primitive::Boolean | Primitive::Char | Primitive::Octet => 1,
            Primitive::Int8 | Primitive::UInt8 => 1,
            Primitive::WChar | Primitive::Int16 | Primitive::UInt16 => 2,
            Primitive::Int32 | Primitive::UInt32 | Primitive::Float32 => 4,
            Primitive::Int64 | Primitive::UInt64 | Primitive::Float64 => 8,
            Primitive::LongDoubleOpaque => 16,
        };
        Layout::new(n, n)
    }

    /// The integer representation of integer-like primitives (`boolean`, `char`, `octet`
    /// as `u8`, `wchar` as `u16`); `None` for floats.
    pub fn int_repr(self) -> Option<IntRepr> {
        Some(match self {
            Primitive::Boolean | Primitive::Char | Primitive::Octet | Primitive::UInt8 => {
                IntRepr::U8
            }
            Primitive::Int8 => IntRepr::I8,
            Primitive::WChar | Primitive::UInt16 => IntRepr::U16,
            Primitive::Int16 => IntRepr::I16,
            Primitive::Int32 => IntRepr::I32,
            Primitive::UInt32 => IntRepr::U32,
            Primitive::Int64 => IntRepr::I64,
            Primitive::UInt64 => IntRepr::U64,
            Primitive::Float32 | Primitive::Float64 | Primitive::LongDoubleOpaque => return None,
        })
    }

    /// The IDL spelling (`unsigned long`).
    pub fn idl_name(self) -> &'static str {
        match self {
            Primitive::Boolean => "boolean",
            Primitive::Char => "char",
            Primitive::WChar => "wchar",
            Primitive::Octet => "octet",
            Primitive::Int8 => "int8",
            Primitive::UInt8 => "uint8",
            Primitive::Int16 => "short",
            Primitive::UInt16 => "unsigned short",
            Primitive::Int32 => "long",
            Primitive::UInt32 => "unsigned long",
            Primitive::Int64 => "long long",
            Primitive::UInt64 => "unsigned long long",
            Primitive::Float32 => "float",
            Primitive::Float64 => "double",
            Primitive::LongDoubleOpaque => "long double",
        }
    }
}

/// Rounds `n` up to a multiple of `align` (a power of two), saturating.
pub fn round_up(n: u64, align: u64) -> u64 {
    let align = align.max(1);
    n.div_ceil(align).saturating_mul(align)
}

/// The layout of a `#[repr(C)]` struct with fields of the given layouts, in order.
pub fn repr_c(fields: &[Layout]) -> Layout {
    repr_c_offsets(fields).0
}

/// The layout of a `#[repr(C)]` struct and the offset of each field.
pub fn repr_c_offsets(fields: &[Layout]) -> (Layout, Vec<u64>) {
    let mut offset = 0u64;
    let mut align = 1u64;
    let mut offsets = Vec::with_capacity(fields.len());
    for f in fields {
        offset = round_up(offset, f.align);
        offsets.push(offset);
        offset = offset.saturating_add(f.size);
        align = align.max(f.align);
    }
    (Layout::new(round_up(offset, align), align), offsets)
}

/// The layout of `[T; n]`.
pub fn array_layout(element: Layout, n: u64) -> Layout {
    Layout::new(element.size.saturating_mul(n), element.align)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_layouts_follow_repr_c() {
        let s = StringType {
            wide: false,
            bound: 5,
            source: BoundSource::Explicit,
        };
        // u32 + [u8; 5] = 9, rounded to 4.
        assert_eq!(s.layout(), Layout::new(12, 4));
        let w = StringType { wide: true, ..s };
        assert_eq!(w.layout(), Layout::new(16, 4));
        // FixedVec<f64, 3>: u32, pad to 8, 24 bytes.
        let v = repr_c(&[
            Layout::new(4, 4),
            array_layout(Primitive::Float64.layout(), 3),
        ]);
        assert_eq!(v, Layout::new(32, 8));
        // Optional<u16>: u8 flag, pad, u16.
        assert_eq!(
            repr_c(&[Layout::new(1, 1), Layout::new(2, 2)]),
            Layout::new(4, 2)
        );
        assert_eq!(repr_c(&[]), Layout::ZERO);
    }

    #[test]
    fn offsets_and_rounding() {
        let (l, offs) = repr_c_offsets(&[Layout::new(1, 1), Layout::new(8, 8), Layout::new(2, 2)]);
        assert_eq!(offs, vec![0, 8, 16]);
        assert_eq!(l, Layout::new(24, 8));
        assert_eq!(round_up(0, 8), 0);
        assert_eq!(round_up(9, 8), 16);
        assert_eq!(round_up(u64::MAX, 8), u64::MAX);
    }

    #[test]
    fn primitive_reprs() {
        assert_eq!(Primitive::Boolean.int_repr(), Some(IntRepr::U8));
        assert_eq!(Primitive::WChar.int_repr(), Some(IntRepr::U16));
        assert_eq!(Primitive::Float32.int_repr(), None);
        assert_eq!(IntRepr::I16.bits(), 16);
        assert!(IntRepr::I16.signed());
        assert_eq!(Primitive::LongDoubleOpaque.layout(), Layout::new(16, 16));
    }
}
