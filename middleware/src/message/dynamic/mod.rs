//! Messages known at run time: a type's description as a value ([`Descriptor`]), its
//! versioned binary encoding (how services store it), validation of bytes through it, and
//! dynamic values ([`Value`]) that bytes decode into and encode from.
//!
//! This is what a process that was not compiled with a message type works with — a tool
//! printing any message, a recorder, a bridge to another machine, a port opened by name —
//! and what typed code meets it through: [`Descriptor::of::<T>()`](Descriptor::of) is the
//! run-time form of `T::DESCRIPTOR`, with the same layout hash.
//!
//! | file | what |
//! |------|------|
//! | `descriptor.rs` | [`Descriptor`], its kinds, rendering, the first difference of two types |
//! | `encoding.rs` | the binary encoding, and decoding that checks everything |
//! | `validate.rs` | the receiver's checks, through a descriptor |
//! | `value.rs` | [`Value`], decoding and encoding through a descriptor, serde |

mod descriptor;
mod encoding;
mod validate;
mod value;

pub use descriptor::{Case, ContainerLayout, Descriptor, Difference, Field, Flag, Kind, Variant};
pub use encoding::{DecodeError, EncodeError, FORMAT_VERSION, MAX_ALIGN, MAX_DEPTH};
pub use value::{Value, ValueError};

#[cfg(test)]
mod tests;
