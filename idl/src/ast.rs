//! The syntax tree, as written (nothing resolved or evaluated). Every node has a [`Span`].

use crate::source::Span;

/// A whole translation unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Specification {
    /// Top-level definitions in source order.
    pub definitions: Vec<Definition>,
}

/// An identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name (a leading escaping `_` removed).
    pub name: String,
    /// Where.
    pub span: Span,
}

/// A possibly qualified name such as `a::b::C` or `::a::C`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedName {
    /// Whether it starts with `::`.
    pub absolute: bool,
    /// The parts, at least one.
    pub parts: Vec<Ident>,
    /// Where.
    pub span: Span,
}

/// An applied annotation such as `@key`, `@id(3)` or `@range(min = 0, max = 5)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// The annotation name.
    pub name: ScopedName,
    /// Its parameters.
    pub params: AnnotationParams,
    /// Where (from `@` to the closing parenthesis).
    pub span: Span,
}

/// Parameters of an applied annotation.
#[derive(Debug, Clone, PartialEq)]
pub enum AnnotationParams {
    /// `@key`
    None,
    /// `@id(3)`
    Single(ConstExpr),
    /// `@range(min = 0, max = 5)`
    Named(Vec<(Ident, ConstExpr)>),
}

/// Things attached to any declaration: annotations and the comments just before it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes {
    /// Applied annotations in source order.
    pub annotations: Vec<Annotation>,
    /// Comment texts immediately preceding the declaration (delimiters removed).
    pub doc: Vec<String>,
}

/// A definition at module or file level.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// Annotations and doc comments.
    pub attrs: Attributes,
    /// What it defines.
    pub kind: DefinitionKind,
    /// Where (the whole definition).
    pub span: Span,
}

/// The kinds of definitions.
#[derive(Debug, Clone, PartialEq)]
pub enum DefinitionKind {
    /// `module m { ... };`
    Module(Module),
    /// `struct S { ... };`
    Struct(StructDef),
    /// `struct S;`
    StructForward(Ident),
    /// `union U switch (T) { ... };`
    Union(UnionDef),
    /// `union U;`
    UnionForward(Ident),
    /// `enum E { A, B };`
    Enum(EnumDef),
    /// `bitmask M { A, B };`
    Bitmask(BitmaskDef),
    /// `bitset B { bitfield<3> a; };`
    Bitset(BitsetDef),
    /// `typedef T a, b[3];`
    Typedef(Typedef),
    /// `const T NAME = expr;`
    Const(ConstDef),
    /// `@annotation name { ... };`
    AnnotationDecl(AnnotationDecl),
    /// `#pragma keylist Type key...`
    Keylist(Keylist),
    /// A construct that cannot become a fixed-layout message (already reported).
    Unsupported(Unsupported),
}

/// `module name { definitions };`
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// The module name.
    pub name: Ident,
    /// Its contents.
    pub definitions: Vec<Definition>,
}

/// `struct Name : Base { members };`
#[derive(Debug, Clone, PartialEq)]
pub struct StructDef {
    /// The struct name.
    pub name: Ident,
    /// The base struct, if any.
    pub base: Option<ScopedName>,
    /// The members (may be empty).
    pub members: Vec<Member>,
}

/// One member line: `T a, b[3];`
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Annotations and doc comments.
    pub attrs: Attributes,
    /// The member type.
    pub ty: TypeSpec,
    /// One or more declarators.
    pub declarators: Vec<Declarator>,
    /// Where (the whole member line).
    pub span: Span,
}

/// A declared name with optional array dimensions: `a`, `b[3][4]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Declarator {
    /// The name.
    pub name: Ident,
    /// Array dimensions, outermost first (empty for a plain declarator).
    pub array: Vec<ConstExpr>,
    /// Where.
    pub span: Span,
}

/// `enum Name { enumerators };`
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    /// The enum name.
    pub name: Ident,
    /// The enumerators.
    pub enumerators: Vec<Enumerator>,
}

/// One enumerator (or bitmask value).
#[derive(Debug, Clone, PartialEq)]
pub struct Enumerator {
    /// Annotations (`@value(3)`, `@position(2)`) and doc comments.
    pub attrs: Attributes,
    /// The name.
    pub name: Ident,
}

/// `bitmask Name { values };`
#[derive(Debug, Clone, PartialEq)]
pub struct BitmaskDef {
    /// The bitmask name.
    pub name: Ident,
    /// The flags.
    pub values: Vec<Enumerator>,
}

/// `bitset Name : Base { bitfields };`
#[derive(Debug, Clone, PartialEq)]
pub struct BitsetDef {
    /// The bitset name.
    pub name: Ident,
    /// The base bitset, if any.
    pub base: Option<ScopedName>,
    /// The bit fields.
    pub fields: Vec<Bitfield>,
}

/// `bitfield<N[, T]> a, b;` (no names: padding).
#[derive(Debug, Clone, PartialEq)]
pub struct Bitfield {
    /// Annotations and doc comments.
    pub attrs: Attributes,
    /// Number of bits.
    pub width: ConstExpr,
    /// The destination type, if given.
    pub ty: Option<TypeSpec>,
    /// The field names (empty for anonymous padding).
    pub names: Vec<Ident>,
    /// Where.
    pub span: Span,
}

/// `union Name switch (T) { cases };`
#[derive(Debug, Clone, PartialEq)]
pub struct UnionDef {
    /// The union name.
    pub name: Ident,
    /// Annotations on the discriminator (e.g. `@key`).
    pub discriminator_attrs: Attributes,
    /// The discriminator type.
    pub discriminator: TypeSpec,
    /// The cases.
    pub cases: Vec<UnionCase>,
}

/// `case 1: case 2: T name;` or `default: T name;`
#[derive(Debug, Clone, PartialEq)]
pub struct UnionCase {
    /// The labels, at least one.
    pub labels: Vec<CaseLabel>,
    /// Annotations and doc comments of the element.
    pub attrs: Attributes,
    /// The element type.
    pub ty: TypeSpec,
    /// The element declarator.
    pub declarator: Declarator,
    /// Where.
    pub span: Span,
}

/// A union case label.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseLabel {
    /// `case expr:`
    Value(ConstExpr),
    /// `default:`
    Default(Span),
}

/// `typedef T a, b[3];`
#[derive(Debug, Clone, PartialEq)]
pub struct Typedef {
    /// The aliased type.
    pub ty: TypeSpec,
    /// The new names.
    pub declarators: Vec<Declarator>,
}

/// `const T NAME = value;`
#[derive(Debug, Clone, PartialEq)]
pub struct ConstDef {
    /// The constant's type.
    pub ty: TypeSpec,
    /// The constant's name.
    pub name: Ident,
    /// The value expression (not evaluated).
    pub value: ConstExpr,
}

/// `@annotation name { members };`
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationDecl {
    /// The annotation name.
    pub name: Ident,
    /// The parameters.
    pub members: Vec<AnnotationMember>,
    /// Enums, constants and typedefs declared inside.
    pub definitions: Vec<Definition>,
}

/// `T name [default value];` inside an annotation declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationMember {
    /// The parameter type.
    pub ty: TypeSpec,
    /// The parameter name.
    pub name: Ident,
    /// The default value, if any.
    pub default: Option<ConstExpr>,
    /// Where.
    pub span: Span,
}

/// `#pragma keylist Type key...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keylist {
    /// The type name as written.
    pub type_name: String,
    /// The key members.
    pub keys: Vec<String>,
}

/// A construct outside the data-type subset (interfaces, value types, exceptions, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The introducing keyword (`interface`, `valuetype`, ...).
    pub keyword: String,
    /// The declared name, if one was found.
    pub name: Option<Ident>,
}

/// A type as written.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSpec {
    /// What type.
    pub kind: TypeKind,
    /// Annotations on a type argument (`sequence<@try_construct(USE_DEFAULT) E>`).
    pub annotations: Vec<Annotation>,
    /// Where.
    pub span: Span,
}

/// The kinds of types.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// A built-in scalar type.
    Primitive(Primitive),
    /// `string`, `string<N>`, `wstring`, `wstring<N>`.
    String {
        /// Whether it is `wstring`.
        wide: bool,
        /// The bound, if given.
        bound: Option<Box<ConstExpr>>,
    },
    /// `sequence<T>` or `sequence<T, N>`.
    Sequence {
        /// The element type.
        element: Box<TypeSpec>,
        /// The bound, if given.
        bound: Option<Box<ConstExpr>>,
    },
    /// `map<K, V>` or `map<K, V, N>`.
    Map {
        /// The key type.
        key: Box<TypeSpec>,
        /// The value type.
        value: Box<TypeSpec>,
        /// The bound, if given.
        bound: Option<Box<ConstExpr>>,
    },
    /// A reference to a named type.
    Named(ScopedName),
    /// An inline `struct`, `union`, `enum`, ... used as a member or typedef type.
    Inline(Box<Definition>),
    /// A type outside the data-type subset (`any`, `fixed`, `Object`, `ValueBase`);
    /// already reported.
    Unsupported(String),
}

/// Built-in scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// `short`, `int16`
    Short,
    /// `unsigned short`, `uint16`
    UShort,
    /// `long`, `int32`
    Long,
    /// `unsigned long`, `uint32`
    ULong,
    /// `long long`, `int64`
    LongLong,
    /// `unsigned long long`, `uint64`
    ULongLong,
    /// `int8`
    Int8,
    /// `uint8`
    UInt8,
    /// `float`
    Float,
    /// `double`
    Double,
    /// `long double`
    LongDouble,
    /// `char`
    Char,
    /// `wchar`
    WChar,
    /// `octet`
    Octet,
    /// `boolean`
    Boolean,
}

/// A constant expression, kept as a tree.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstExpr {
    /// What expression.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// The kinds of constant expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Literal(Literal),
    /// A named constant or enumerator.
    Name(ScopedName),
    /// `op operand`
    Unary(UnaryOp, Box<ConstExpr>),
    /// `lhs op rhs`
    Binary(BinaryOp, Box<ConstExpr>, Box<ConstExpr>),
    /// An invalid literal that was already reported (kept so parsing can go on).
    Invalid,
}

/// Literal values.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer.
    Integer(u64),
    /// A floating-point number, as written.
    Float(String),
    /// A fixed-point number, as written (without the `d`).
    Fixed(String),
    /// A character.
    Char {
        /// The character.
        value: char,
        /// `L'..'`.
        wide: bool,
    },
    /// A string (adjacent literals already joined).
    String {
        /// The contents.
        value: String,
        /// `L".."`.
        wide: bool,
    },
    /// `TRUE` / `FALSE`.
    Boolean(bool),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Plus,
    /// `~`
    BitNot,
}

/// Binary operators, from loosest to tightest binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `|`
    Or,
    /// `^`
    Xor,
    /// `&`
    And,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}
