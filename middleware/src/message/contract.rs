//! The `ShmMessage` contract, and the marker of types valid for every bit pattern.

use super::descriptor::TypeDescriptor;
use super::validate::ValidationError;

/// A boolean at the type level: [`True`] or [`False`]. [`ShmMessage::AllBitPatternsValid`]
/// is one, so that "every bit pattern is valid" is a trait bound ([`AnyBitPattern`]) the
/// compiler and the editor check, not only a constant.
pub trait TypeBool: sealed::Sealed {
    /// The value as a `bool`.
    const VALUE: bool;
    /// `Self and B`: `#[derive(ShmMessage)]` folds it over the fields of a struct. (A
    /// generic associated type, so that it is defined for any `TypeBool` — also the
    /// unknown one of a generic field type.)
    type And<B: TypeBool>: TypeBool;
}

/// The type-level `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct True;

/// The type-level `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct False;

impl TypeBool for True {
    const VALUE: bool = true;
    type And<B: TypeBool> = B;
}

impl TypeBool for False {
    const VALUE: bool = false;
    type And<B: TypeBool> = False;
}

mod sealed {
    /// Only [`True`](super::True) and [`False`](super::False) are type-level booleans.
    pub trait Sealed {}
    impl Sealed for super::True {}
    impl Sealed for super::False {}
}

/// A message type for which every bit pattern of its size is a valid value: integers,
/// floats, [`Boolean`](crate::Boolean), arrays of them, and structs of them — among IDL
/// types, those without `boolean`-as-`bool`, strings, sequences, maps or `@optional`
/// members (IDL enums and bitmasks qualify: any value is valid). Bytes received from a
/// peer need no check at all, and a chunk can be reused as it is
/// ([`Publisher::loan_recycled`](crate::Publisher::loan_recycled)).
///
/// Implemented for every `T: ShmMessage` whose [`ShmMessage::AllBitPatternsValid`] is
/// [`True`], which `#[derive(ShmMessage)]` works out from the fields; never by hand.
#[diagnostic::on_unimplemented(
    message = "not every bit pattern is a valid `{Self}`, so it cannot be received unchecked or reused as it is",
    label = "has a field with invalid bit patterns",
    note = "`bool`, Rust enums, `FixedString`, `FixedVec` and `Optional` have invalid bit \
            patterns (a `bool` of 2, a length beyond the capacity, ...); use `loan` or \
            `loan_zeroed` instead, or `Boolean` and plain integers in the type"
)]
pub trait AnyBitPattern: ShmMessage<AllBitPatternsValid = True> {}

impl<T: ShmMessage<AllBitPatternsValid = True>> AnyBitPattern for T {}

/// A type that can live in shared memory and be read by another process.
///
/// Implement it with `#[derive(ShmMessage)]`, which checks every point below at compile
/// time; do not implement it by hand.
///
/// # Safety
///
/// An implementor promises, for `Self`:
///
/// 1. **Fixed layout.** `Self` is `#[repr(C)]`, `#[repr(transparent)]`, a fieldless enum
///    with an explicit integer `#[repr]`, a primitive, an array of `ShmMessage`, or one of
///    this crate's fixed containers; its layout depends only on its definition, never on
///    the compiler's choices, and is the same in every process built for the same target.
/// 2. **Self-contained.** `Self` holds no pointer, reference, file descriptor, heap handle
///    or other process-local value, and every field is itself `ShmMessage`. Its meaning does
///    not depend on the address it is stored at (another process maps it elsewhere).
/// 3. **No destructor.** `Self` does not implement `Drop` and has no drop glue: a message
///    is released by returning its memory, never by running code.
/// 4. **Honest descriptor.** [`DESCRIPTOR`](Self::DESCRIPTOR) gives `Self`'s exact size and
///    alignment, and for structs every field with its exact offset and its type's own
///    descriptor, in declaration order.
/// 5. **Honest validity.** For any byte slice `bytes` of length `size_of::<Self>()`, if
///    [`validate_bytes`](Self::validate_bytes) returns `Ok(())`, then those bytes are a
///    valid value of `Self` (reading them as a `Self` is not undefined behaviour); if
///    [`AllBitPatternsValid`](Self::AllBitPatternsValid) is [`True`], every byte pattern
///    of that length is a valid `Self` (padding bytes aside); if
///    [`ZEROED_IS_VALID`](Self::ZEROED_IS_VALID) is `true`, all-zero bytes are a valid
///    `Self`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent through shared memory: it does not implement `ShmMessage`",
    label = "not a shared-memory message type",
    note = "message fields must be fixed-layout and self-contained: primitives, arrays, \
            `FixedString<N>`, `FixedVec<T, N>`, `Optional<T>`, or types with `#[derive(ShmMessage)]`"
)]
pub unsafe trait ShmMessage: Sized + 'static {
    /// The structure of `Self`: name, size, alignment, fields, layout hash.
    const DESCRIPTOR: &'static TypeDescriptor;

    /// [`True`] when every bit pattern of `size_of::<Self>()` bytes is a valid `Self`, so a
    /// receiver needs no check at all (integers, floats, and structs and arrays of them);
    /// [`False`] otherwise. As a type, it makes [`AnyBitPattern`] a trait bound.
    type AllBitPatternsValid: TypeBool;

    /// [`AllBitPatternsValid`](Self::AllBitPatternsValid) as a constant: known at compile
    /// time, so for such types validation costs nothing.
    const ANY_BIT_PATTERN: bool = <Self::AllBitPatternsValid as TypeBool>::VALUE;

    /// `true` when all-zero bytes are a valid `Self`, so a value can be built in place in
    /// zeroed memory (a large message never has to pass through the stack).
    const ZEROED_IS_VALID: bool;

    /// Checks that `bytes`, written by someone else, form a valid `Self`.
    ///
    /// `bytes` must be exactly `size_of::<Self>()` long (otherwise an error is returned);
    /// no alignment is required. The error names the offending field and its offset.
    /// Always returns `Ok(())` when [`ANY_BIT_PATTERN`](Self::ANY_BIT_PATTERN) is `true`.
    fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError>;
}
