//! Messages: the [`ShmMessage`] contract, type descriptors, validation on receive, and
//! the fixed-capacity containers messages are built from.
//!
//! A message lives in shared memory and is read by another process that may have been
//! built separately, may be buggy, or may have died halfway through writing. So a message
//! type is fixed-layout (`#[repr(C)]`), self-contained (no pointers, heap handles or
//! `Drop`), described field by field by a [`TypeDescriptor`] whose layout hash two
//! processes compare before they connect, and checked on receive ([`validate()`]) so
//! that no bytes another process wrote can cause undefined behaviour here.
//!
//! Users implement [`ShmMessage`] only through `#[derive(ShmMessage)]`:
//!
//! ```
//! use shmbus::{FixedString, FixedVec, ShmMessage};
//!
//! #[derive(ShmMessage, Debug, Clone, Copy)]
//! #[repr(C)]
//! struct Point {
//!     x: f32,
//!     y: f32,
//! }
//!
//! #[derive(ShmMessage, Debug)]
//! #[repr(C)]
//! struct Path {
//!     frame: FixedString<32>,
//!     points: FixedVec<Point, 64>,
//! }
//!
//! let d = <Path as ShmMessage>::DESCRIPTOR;
//! assert_eq!(d.name(), "Path");
//! assert_eq!(d.fields()[1].ty().to_string(), "FixedVec<Point, 64>");
//! ```
#![allow(unsafe_code)] // the message contract: `unsafe trait ShmMessage` and its impls

mod contract;
mod descriptor;
pub mod dynamic;
mod fixed_string;
mod fixed_vec;
mod idl_support;
mod optional;
mod primitives;
pub mod validate;

pub use contract::{AnyBitPattern, False, ShmMessage, True, TypeBool};
pub use descriptor::{
    BitFlag, EnumVariant, FieldDescriptor, LAYOUT_HASH_VERSION, LayoutHasher, Primitive,
    TypeDescriptor, TypeKind, UnionCase,
};
pub use dynamic::{Descriptor, Difference, Value, ValueError};
pub use fixed_string::{FixedString, FixedStringError};
pub use fixed_vec::{FixedVec, FixedVecError, IntoIter as FixedVecIntoIter};
pub use idl_support::{LongDouble, MapEntry, RangeError};
pub use optional::Optional;
pub use primitives::{Boolean, validate_enum, zero_is_variant};
/// Derives [`ShmMessage`] for a `#[repr(C)]` struct, a `#[repr(transparent)]` struct or a
/// fieldless enum with an explicit integer `#[repr]`. See the module docs above.
pub use shmbus_derive::ShmMessage;
pub use validate::{Problem, ValidationError, try_ref_from_bytes, validate};

#[cfg(test)]
mod tests;
