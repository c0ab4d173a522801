//! `ShmMessage` for primitives, arrays, and [`Boolean`].

use core::fmt;

use super::contract::{False, ShmMessage, True};
use super::descriptor::{Primitive, TypeDescriptor, TypeKind};
use super::validate::{self, Problem, ValidationError};

macro_rules! any_bit_pattern_primitive {
    ($($ty:ty => $prim:ident),* $(,)?) => {$(
        // SAFETY: a primitive integer or float has a fixed size and alignment equal to its
        // width on every target we support, holds no pointer and has no destructor
        // (contract points 1-3); its descriptor states exactly that (point 4); and every
        // bit pattern of its width is a valid value, including all zeros (point 5).
        unsafe impl ShmMessage for $ty {
            const DESCRIPTOR: &'static TypeDescriptor =
                &TypeDescriptor::primitive(Primitive::$prim);
            type AllBitPatternsValid = True;
            const ZEROED_IS_VALID: bool = true;
            fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError> {
                validate::check_size::<Self>(bytes)
            }
        }
    )*};
}

any_bit_pattern_primitive! {
    u8 => U8, u16 => U16, u32 => U32, u64 => U64,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64,
    f32 => F32, f64 => F64,
}

// SAFETY: `bool` is one byte with alignment 1, holds no pointer and has no destructor
// (points 1-3); its descriptor says so (point 4). Only 0 and 1 are valid, and
// `validate_bytes` accepts exactly those; zero (`false`) is valid (point 5).
unsafe impl ShmMessage for bool {
    const DESCRIPTOR: &'static TypeDescriptor = &TypeDescriptor::primitive(Primitive::Bool);
    type AllBitPatternsValid = False;
    const ZEROED_IS_VALID: bool = true;
    fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError> {
        validate::check_size::<Self>(bytes)?;
        match bytes[0] {
            0 | 1 => Ok(()),
            other => Err(ValidationError::new(Problem::InvalidBool(other))),
        }
    }
}

// SAFETY: `[T; N]` has size `N * size_of::<T>()` and `T`'s alignment with no padding
// between elements (the Reference, "Array layout"), so its layout is fixed when `T`'s is;
// it holds only `T`s, which are self-contained and have no drop glue (points 1-3). The
// descriptor states length, element, size and alignment (point 4). `validate_bytes`
// checks every element with `T`'s own validation, so `Ok` means every element is a valid
// `T`; any bit pattern / all zeros are valid exactly when they are for `T` (point 5).
unsafe impl<T: ShmMessage, const N: usize> ShmMessage for [T; N] {
    const DESCRIPTOR: &'static TypeDescriptor =
        &TypeDescriptor::array(N, T::DESCRIPTOR, size_of::<Self>(), align_of::<Self>());
    type AllBitPatternsValid = T::AllBitPatternsValid;
    const ZEROED_IS_VALID: bool = T::ZEROED_IS_VALID;
    fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError> {
        validate::check_size::<Self>(bytes)?;
        validate::validate_elements::<T>(bytes, 0, N)
    }
}

/// A one-byte boolean that is valid for every byte: `0` is false, anything else is true.
///
/// Rust's `bool` must be exactly 0 or 1, so a received `bool` has to be validated. A
/// `Boolean` never fails validation, which keeps a type made of scalars "valid for every
/// bit pattern" (no per-receive work). IDL `boolean` maps to it. Its descriptor is the
/// same as `bool`'s, so a type using one matches a type using the other.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Boolean(u8);

impl Boolean {
    /// `false`.
    pub const FALSE: Boolean = Boolean(0);
    /// `true`.
    pub const TRUE: Boolean = Boolean(1);

    /// Makes a `Boolean` from a `bool`.
    pub const fn new(value: bool) -> Self {
        Boolean(value as u8)
    }

    /// The value: `false` for 0, `true` for any other byte.
    pub const fn get(self) -> bool {
        self.0 != 0
    }

    /// Stores `value`.
    pub fn set(&mut self, value: bool) {
        self.0 = value as u8;
    }
}

impl From<bool> for Boolean {
    fn from(value: bool) -> Self {
        Boolean::new(value)
    }
}

impl From<Boolean> for bool {
    fn from(value: Boolean) -> Self {
        value.get()
    }
}

impl PartialEq<bool> for Boolean {
    fn eq(&self, other: &bool) -> bool {
        self.get() == *other
    }
}

impl fmt::Debug for Boolean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

impl fmt::Display for Boolean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}

// SAFETY: `Boolean` is `repr(transparent)` over `u8`: one byte, alignment 1, no pointer,
// no destructor (points 1-3); its descriptor is that of a one-byte bool (point 4); every
// byte is a valid `Boolean`, including zero (point 5).
unsafe impl ShmMessage for Boolean {
    const DESCRIPTOR: &'static TypeDescriptor = &TypeDescriptor::primitive(Primitive::Bool);
    type AllBitPatternsValid = True;
    const ZEROED_IS_VALID: bool = true;
    fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError> {
        validate::check_size::<Self>(bytes)
    }
}

/// Validates a fieldless enum's bytes against the variants of its descriptor. Used by
/// `#[derive(ShmMessage)]` on enums.
pub fn validate_enum(bytes: &[u8], descriptor: &TypeDescriptor) -> Result<(), ValidationError> {
    let TypeKind::Enum { repr, variants, .. } = *descriptor.kind() else {
        return Err(ValidationError::new(Problem::WrongSize {
            expected: descriptor.size(),
            found: bytes.len(),
        }));
    };
    if bytes.len() != descriptor.size() {
        return Err(ValidationError::new(Problem::WrongSize {
            expected: descriptor.size(),
            found: bytes.len(),
        }));
    }
    let value = validate::read_discriminant(bytes, repr).ok_or_else(|| {
        ValidationError::new(Problem::WrongSize {
            expected: repr.size(),
            found: bytes.len(),
        })
    })?;
    if variants.iter().any(|v| v.value() == value) {
        Ok(())
    } else {
        Err(ValidationError::new(Problem::UnknownEnumValue(value)))
    }
}

/// Whether `0` is one of the variants' values (so an all-zero enum is valid).
pub const fn zero_is_variant(descriptor: &TypeDescriptor) -> bool {
    if let TypeKind::Enum { variants, .. } = descriptor.kind() {
        let mut i = 0;
        while i < variants.len() {
            if variants[i].value() == 0 {
                return true;
            }
            i += 1;
        }
    }
    false
}
