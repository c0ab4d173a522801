//! The `ShmMessage` contract.

use super::descriptor::TypeDescriptor;
use super::validate::ValidationError;

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
///    [`ANY_BIT_PATTERN`](Self::ANY_BIT_PATTERN) is `true`, every byte pattern of that
///    length is a valid `Self` (padding bytes aside); if
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

    /// `true` when every bit pattern of `size_of::<Self>()` bytes is a valid `Self`, so a
    /// receiver needs no check at all (integers, floats, and structs and arrays of them).
    /// Known at compile time: for such types validation costs nothing.
    const ANY_BIT_PATTERN: bool;

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
