//! Validation on receive: checking that bytes written by another process form a valid
//! value before a `&T` to them is handed out.
//!
//! # How it works
//!
//! Every [`ShmMessage`] type says at compile time whether every bit pattern is valid
//! ([`ShmMessage::ANY_BIT_PATTERN`]). For those types — integers, floats, and structs and
//! arrays made only of them — [`validate`] compiles to a length check and nothing else.
//! Other types walk their fields over the raw bytes, reading only integers (which are
//! valid for any bit pattern), never forming a `&T` to unchecked memory:
//!
//! - `bool` must be `0` or `1`;
//! - an enum's discriminant must be one of its variants;
//! - a fixed container's length must not exceed its capacity, and a `FixedString`'s bytes
//!   must be UTF-8;
//! - an `Optional`'s present flag must be `0` or `1`, and its value is checked only when
//!   present;
//! - structs and arrays check the fields (elements) whose types need it, and skip, at
//!   compile time, those that do not.
//!
//! The error names the path of the offending field and its byte offset from the start of
//! the message: ``invalid `Robot` at `arm.joints[2].enabled` (byte 45): bool must be 0 or 1, found 7``.
//!
//! # Why not zerocopy's `TryFromBytes`
//!
//! zerocopy's `TryFromBytes` performs exactly this kind of check for bools and enums, but
//! it does not fit as the mechanism here: it would require every user type to derive
//! four zerocopy traits besides ours, it has no hook for our containers' own invariants
//! (length within capacity, UTF-8), and its error does not say which field was wrong.
//! Our derive already knows every field's offset and type, so the field walk costs the
//! same and reports better. What zerocopy teaches — validity checked over bytes before any
//! reference exists, and "always valid" decided at compile time — is what this module does.

use core::fmt;

use super::contract::ShmMessage;

/// Why bytes received from another process are not a valid value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The byte slice does not have the type's size.
    WrongSize {
        /// `size_of::<T>()`.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The bytes are not aligned for the type (only when a reference is requested).
    Misaligned {
        /// The alignment the type needs.
        align: usize,
    },
    /// A `bool` that is neither 0 nor 1.
    InvalidBool(u8),
    /// An enum discriminant that is not one of the enum's values.
    UnknownEnumValue(i128),
    /// A fixed container whose length exceeds its capacity.
    LengthExceedsCapacity {
        /// The stored length.
        len: u64,
        /// The container's capacity.
        capacity: usize,
    },
    /// A `FixedString` whose bytes are not UTF-8.
    InvalidUtf8 {
        /// Bytes of valid UTF-8 before the first invalid one.
        valid_up_to: usize,
    },
    /// An `Optional` whose present flag is neither 0 nor 1.
    InvalidPresentFlag(u8),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::WrongSize { expected, found } => {
                write!(f, "expected {expected} bytes, found {found}")
            }
            Problem::Misaligned { align } => write!(f, "bytes are not aligned to {align}"),
            Problem::InvalidBool(b) => write!(f, "bool must be 0 or 1, found {b}"),
            Problem::UnknownEnumValue(v) => write!(f, "{v} is not a value of this enum"),
            Problem::LengthExceedsCapacity { len, capacity } => {
                write!(f, "length {len} exceeds the capacity {capacity}")
            }
            Problem::InvalidUtf8 { valid_up_to } => {
                write!(
                    f,
                    "string is not UTF-8 (invalid byte after {valid_up_to} valid bytes)"
                )
            }
            Problem::InvalidPresentFlag(b) => {
                write!(f, "optional's present flag must be 0 or 1, found {b}")
            }
        }
    }
}

/// Bytes received from another process are not a valid value of the expected type.
///
/// The sender is buggy, was built from a different definition than its descriptor claims,
/// died halfway through writing, or is hostile. The sample must be dropped; nothing was
/// read as the type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ValidationError {
    type_name: String,
    path: String,
    offset: usize,
    problem: Problem,
}

impl ValidationError {
    /// An error at the start of the value being checked. Validation code of a type calls
    /// this for its own problems; enclosing structs and arrays then add their field names
    /// and offsets as the error travels outwards.
    pub fn new(problem: Problem) -> Self {
        ValidationError {
            type_name: String::new(),
            path: String::new(),
            offset: 0,
            problem,
        }
    }

    /// Places the error inside field `name` at byte `offset` of the enclosing value.
    pub fn in_field(mut self, name: &str, offset: usize) -> Self {
        self.offset += offset;
        if self.path.is_empty() || self.path.starts_with('[') {
            self.path.insert_str(0, name);
        } else {
            self.path.insert(0, '.');
            self.path.insert_str(0, name);
        }
        self
    }

    /// Places the error inside element `index` at byte `offset` of the enclosing array.
    pub fn in_element(mut self, index: usize, offset: usize) -> Self {
        self.offset += offset;
        let segment = format!("[{index}]");
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, &segment);
        self
    }

    /// Records the name of the outermost type (done once, by [`validate`] or a run-time
    /// descriptor's `validate`).
    pub(crate) fn of_type(mut self, type_name: String) -> Self {
        self.type_name = type_name;
        self
    }

    /// The path of the offending field (`"arm.joints[2].enabled"`), empty for the value
    /// itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Byte offset of the offending field from the start of the message.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    fn describe(&self) -> String {
        let ty = if self.type_name.is_empty() {
            "value"
        } else {
            &self.type_name
        };
        if self.path.is_empty() {
            format!(
                "invalid `{ty}` received: {}; the sample was rejected",
                self.problem
            )
        } else {
            format!(
                "invalid `{ty}` received at `{}` (byte {}): {}; the sample was rejected",
                self.path, self.offset, self.problem
            )
        }
    }
}

/// Checks that `bytes` are a valid `T`: exactly `size_of::<T>()` long and valid per
/// [`ShmMessage::validate_bytes`]. No alignment is required. Costs only the length check
/// when `T::ANY_BIT_PATTERN`.
pub fn validate<T: ShmMessage>(bytes: &[u8]) -> Result<(), ValidationError> {
    let result = check_size::<T>(bytes).and_then(|()| {
        if T::ANY_BIT_PATTERN {
            Ok(())
        } else {
            T::validate_bytes(bytes)
        }
    });
    result.map_err(|e| e.of_type(T::DESCRIPTOR.to_string()))
}

/// Validates `bytes` and, when they are a valid, correctly aligned `T`, returns a
/// reference to them as a `T`, without copying.
pub fn try_ref_from_bytes<T: ShmMessage>(bytes: &[u8]) -> Result<&T, ValidationError> {
    validate::<T>(bytes)?;
    if !(bytes.as_ptr() as usize).is_multiple_of(align_of::<T>()) {
        return Err(ValidationError::new(Problem::Misaligned {
            align: align_of::<T>(),
        })
        .of_type(T::DESCRIPTOR.to_string()));
    }
    let ptr = bytes.as_ptr().cast::<T>();
    // SAFETY: `ptr` is non-null and derived from `bytes`, which is valid for reads of
    // `bytes.len() == size_of::<T>()` bytes (checked by `validate`) for the lifetime of the
    // returned reference, and is aligned for `T` (checked just above). `validate` returned
    // `Ok`, so by the `ShmMessage` contract (point 5) those bytes are a valid `T`. The
    // shared borrow of `bytes` keeps the memory immutable from safe Rust for that lifetime.
    Ok(unsafe { &*ptr })
}

/// Checks that `bytes` are exactly `size_of::<T>()` long.
pub fn check_size<T: ShmMessage>(bytes: &[u8]) -> Result<(), ValidationError> {
    if bytes.len() == size_of::<T>() {
        Ok(())
    } else {
        Err(ValidationError::new(Problem::WrongSize {
            expected: size_of::<T>(),
            found: bytes.len(),
        }))
    }
}

/// Validates field `name` of type `F` at byte `offset` of `bytes` (the enclosing value's
/// bytes, already checked for size). Used by derived `validate_bytes`; skips the work at
/// compile time when `F::ANY_BIT_PATTERN`.
pub fn validate_field<F: ShmMessage>(
    bytes: &[u8],
    offset: usize,
    name: &str,
) -> Result<(), ValidationError> {
    if F::ANY_BIT_PATTERN {
        return Ok(());
    }
    let field = offset
        .checked_add(size_of::<F>())
        .and_then(|end| bytes.get(offset..end))
        .ok_or_else(|| {
            ValidationError::new(Problem::WrongSize {
                expected: offset.saturating_add(size_of::<F>()),
                found: bytes.len(),
            })
        })?;
    F::validate_bytes(field).map_err(|e| e.in_field(name, offset))
}

/// Validates `count` consecutive elements of type `E` starting at byte `offset`.
/// Used by arrays and fixed vectors; skips the work at compile time when
/// `E::ANY_BIT_PATTERN`.
pub fn validate_elements<E: ShmMessage>(
    bytes: &[u8],
    offset: usize,
    count: usize,
) -> Result<(), ValidationError> {
    if E::ANY_BIT_PATTERN || size_of::<E>() == 0 {
        return Ok(());
    }
    let len = count.checked_mul(size_of::<E>());
    let region = len
        .and_then(|len| offset.checked_add(len))
        .and_then(|end| bytes.get(offset..end))
        .ok_or_else(|| {
            ValidationError::new(Problem::WrongSize {
                expected: offset.saturating_add(len.unwrap_or(usize::MAX)),
                found: bytes.len(),
            })
        })?;
    for (index, element) in region.chunks_exact(size_of::<E>()).enumerate() {
        E::validate_bytes(element)
            .map_err(|e| e.in_element(index, offset + index * size_of::<E>()))?;
    }
    Ok(())
}

/// Reads an unsigned integer of `size` bytes (1, 2, 4 or 8) in native byte order from the
/// start of `bytes`; `None` if `bytes` is shorter or `size` is not one of those.
pub fn read_uint(bytes: &[u8], size: usize) -> Option<u64> {
    Some(match size {
        1 => u64::from(*bytes.first()?),
        2 => u64::from(u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?)),
        4 => u64::from(u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?)),
        8 => u64::from_ne_bytes(bytes.get(..8)?.try_into().ok()?),
        _ => return None,
    })
}

/// Reads an enum discriminant stored as `repr` from the start of `bytes`, widened to
/// `i128`; `None` if `bytes` is too short or `repr` is not an integer type.
pub fn read_discriminant(bytes: &[u8], repr: super::Primitive) -> Option<i128> {
    if !repr.is_integer() {
        return None;
    }
    let raw = read_uint(bytes, repr.size())?;
    Some(if repr.is_signed() {
        let shift = 64 - 8 * repr.size() as u32;
        i128::from(((raw << shift) as i64) >> shift)
    } else {
        i128::from(raw)
    })
}
