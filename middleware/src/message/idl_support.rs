//! Types that code generated from IDL builds on: map entries, the opaque `long double`,
//! and the error of the generated `validate()` methods.
//!
//! They are ordinary message types (derived, no `unsafe`), here so that every generated
//! file shares one definition and hand-written types can match generated ones.

use core::fmt;

use super::ShmMessage;

/// One entry of an IDL `map<K, V, N>`, which is generated as
/// `FixedVec<MapEntry<K, V>, N>`: the entries in insertion order, at most `N`.
#[derive(ShmMessage, Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C)]
pub struct MapEntry<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
}

/// An IDL `long double` (accepted only when opted in): 16 opaque bytes aligned to 16.
///
/// Rust has no portable 128-bit float, so the bytes are carried, never interpreted.
#[derive(ShmMessage, Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C, align(16))]
pub struct LongDouble {
    /// The value's bytes, as the writer's platform stores a `long double`.
    pub bytes: [u8; 16],
}

/// A value violates an IDL `@range`, `@min` or `@max` constraint; returned by the
/// `validate()` method generated for a type with such constraints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{type_name}::{field}` is {found}, outside its IDL range {range}; set a value within the range before sending"
)]
pub struct RangeError {
    type_name: &'static str,
    field: &'static str,
    found: String,
    range: &'static str,
}

impl RangeError {
    /// An error for `field` of `type_name` holding `found`, which is not within `range`
    /// (written like `0 ..= 100`, `>= 1`, `<= 5`).
    pub fn new(
        type_name: &'static str,
        field: &'static str,
        found: impl fmt::Display,
        range: &'static str,
    ) -> Self {
        RangeError {
            type_name,
            field,
            found: found.to_string(),
            range,
        }
    }

    /// The IDL scoped name of the type.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The offending member.
    pub fn field(&self) -> &'static str {
        self.field
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{TypeKind, validate};

    #[test]
    fn map_entry_is_repr_c() {
        let d = <MapEntry<u8, u32> as ShmMessage>::DESCRIPTOR;
        assert_eq!(d.size(), 8);
        assert_eq!(d.fields()[1].offset(), 4);
        const {
            assert!(<MapEntry<u8, u32> as ShmMessage>::ANY_BIT_PATTERN);
            assert!(!<MapEntry<bool, u32> as ShmMessage>::ANY_BIT_PATTERN);
        }
        assert!(validate::<MapEntry<bool, u32>>(&[2, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn long_double_is_16_aligned() {
        let d = <LongDouble as ShmMessage>::DESCRIPTOR;
        assert_eq!((d.size(), d.align()), (16, 16));
        assert!(matches!(d.kind(), TypeKind::Struct { .. }));
    }

    #[test]
    fn range_error_says_what_to_do() {
        let e = RangeError::new("robot::Joint", "angle", 7, "0 ..= 5");
        assert_eq!(
            e.to_string(),
            "`robot::Joint::angle` is 7, outside its IDL range 0 ..= 5; set a value within the range before sending"
        );
        assert_eq!((e.type_name(), e.field()), ("robot::Joint", "angle"));
    }
}
