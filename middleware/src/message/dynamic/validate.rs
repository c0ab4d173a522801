//! Validation of bytes through a run-time [`Descriptor`]: the checks of
//! [`ShmMessage::validate_bytes`](crate::ShmMessage::validate_bytes), for a type known only
//! by its description.
//!
//! Exactly what the derive checks, no more and no less: a `bool` is 0 or 1, a closed
//! enum's value is one of its variants, a fixed container's length is within its capacity,
//! a `FixedString`'s live bytes are UTF-8, an `Optional`'s flag is 0 or 1 (its value is
//! checked only when present), and structs, unions and arrays check their parts — every
//! field of a union, like a struct's, because a typed reader forms a reference to all of
//! them. Parts whose every bit pattern is valid are skipped. The error names the field and
//! its byte offset, like the typed one.
//!
//! A `bool` and a [`Boolean`](crate::Boolean) share one descriptor; the check is the
//! `bool` one, so bytes that pass are valid for both.

use super::descriptor::{ContainerLayout, Descriptor, Kind};
use crate::message::descriptor::Primitive;
use crate::message::validate::{Problem, ValidationError, read_discriminant, read_uint};

impl Descriptor {
    /// Checks that `bytes` (exactly [`size`](Self::size) long, any alignment) are a valid
    /// value of this type.
    pub fn validate(&self, bytes: &[u8]) -> Result<(), ValidationError> {
        if bytes.len() != self.size() {
            return Err(ValidationError::new(Problem::WrongSize {
                expected: self.size(),
                found: bytes.len(),
            })
            .of_type(self.to_string()));
        }
        check(self, bytes).map_err(|e| e.of_type(self.to_string()))
    }
}

/// The bytes of part `at..at + len` of `bytes`, or a size error.
pub(super) fn part(bytes: &[u8], at: usize, len: usize) -> Result<&[u8], ValidationError> {
    at.checked_add(len)
        .and_then(|end| bytes.get(at..end))
        .ok_or_else(|| {
            ValidationError::new(Problem::WrongSize {
                expected: at.saturating_add(len),
                found: bytes.len(),
            })
        })
}

/// The length word of a fixed container, checked against `capacity`.
pub(super) fn container_len(bytes: &[u8], capacity: usize) -> Result<usize, ValidationError> {
    let raw = read_uint(part(bytes, 0, 4)?, 4).unwrap_or(u64::MAX);
    match usize::try_from(raw) {
        Ok(len) if len <= capacity => Ok(len),
        _ => Err(
            ValidationError::new(Problem::LengthExceedsCapacity { len: raw, capacity })
                .in_field("len", 0),
        ),
    }
}

/// `bytes` is exactly `d.size()` long.
fn check(d: &Descriptor, bytes: &[u8]) -> Result<(), ValidationError> {
    if d.any_bit_pattern() {
        return Ok(());
    }
    match d.kind() {
        Kind::Primitive(Primitive::Bool) => match bytes.first() {
            Some(0 | 1) | None => Ok(()),
            Some(&other) => Err(ValidationError::new(Problem::InvalidBool(other))),
        },
        Kind::Primitive(_) | Kind::Bitmask { .. } => Ok(()),
        Kind::Array { len, element } => elements(element, bytes, 0, *len),
        Kind::FixedString { capacity } => {
            let len = container_len(bytes, *capacity)?;
            let start = ContainerLayout::with_length(1).data;
            let live = part(bytes, start, len)?;
            std::str::from_utf8(live).map(drop).map_err(|e| {
                ValidationError::new(Problem::InvalidUtf8 {
                    valid_up_to: e.valid_up_to(),
                })
                .in_field("bytes", start)
            })
        }
        Kind::FixedVec { capacity, element } => {
            let len = container_len(bytes, *capacity)?;
            let start = ContainerLayout::with_length(element.align()).data;
            elements(element, bytes, start, len)
        }
        Kind::Optional { element } => match bytes.first() {
            Some(0) | None => Ok(()),
            Some(1) => {
                let start = ContainerLayout::with_flag(element.align()).data;
                check(element, part(bytes, start, element.size())?)
                    .map_err(|e| e.in_field("value", start))
            }
            Some(&other) => {
                Err(ValidationError::new(Problem::InvalidPresentFlag(other)).in_field("present", 0))
            }
        },
        Kind::Enum {
            repr,
            variants,
            open,
        } => {
            let value = read_discriminant(bytes, *repr).unwrap_or(i128::MIN);
            if *open || variants.iter().any(|v| v.value == value) {
                Ok(())
            } else {
                Err(ValidationError::new(Problem::UnknownEnumValue(value)))
            }
        }
        Kind::Struct { fields } | Kind::Union { fields, .. } => {
            for f in fields {
                if f.ty.any_bit_pattern() {
                    continue;
                }
                let field = part(bytes, f.offset, f.ty.size())?;
                check(&f.ty, field).map_err(|e| e.in_field(&f.name, f.offset))?;
            }
            Ok(())
        }
    }
}

/// Checks `count` elements of `element` from byte `start`.
fn elements(
    element: &Descriptor,
    bytes: &[u8],
    start: usize,
    count: usize,
) -> Result<(), ValidationError> {
    if element.any_bit_pattern() || element.size() == 0 {
        return Ok(());
    }
    let region = part(bytes, start, element.size().saturating_mul(count))?;
    for (index, one) in region.chunks_exact(element.size()).enumerate() {
        check(element, one).map_err(|e| e.in_element(index, start + index * element.size()))?;
    }
    Ok(())
}
