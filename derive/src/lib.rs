//! `#[derive(ShmMessage)]` for [shmbus](https://example.invalid/shmbus): fixed-layout,
//! self-contained shared-memory message types.
//!
//! Use it through the `shmbus` crate, which re-exports it:
//!
//! ```ignore
//! use shmbus::ShmMessage;
//!
//! #[derive(ShmMessage)]
//! #[repr(C)]
//! struct Pose {
//!     x: f64,
//!     y: f64,
//!     heading: f32,
//! }
//! ```
//!
//! The derive accepts `#[repr(C)]` structs (named, tuple, unit, optionally with
//! `align(N)`), `#[repr(transparent)]` structs, and fieldless enums with an explicit integer
//! repr (`u8` to `u64`, `i8` to `i64`). Generic structs get a `ShmMessage` bound on every
//! type parameter. It rejects, each with a spanned error saying why and what to use
//! instead: a missing or `Rust` repr, `packed`, unions, enums with data or without an
//! integer repr, lifetimes, and field types that cannot live in shared memory (`String`,
//! `Vec`, `Option`, `Box`, `Rc`, `Arc`, references, raw and `fn` pointers, `dyn`/`impl
//! Trait`, `char`, `usize`/`isize`, tuples, slices, `str`, `PhantomData`). A type with drop
//! glue fails a compile-time assertion, and any other field type that is not `ShmMessage`
//! fails at the field with the trait's own message. All errors of an item are reported
//! at once.
//!
//! Attributes: `#[shm(type_name = "geometry::Pose")]` sets the name recorded in the
//! descriptor (the bare identifier by default, never a module path, so the same
//! definition in two crates matches); `#[shm(crate = "path::to::shmbus")]` names the
//! `shmbus` crate when it is re-exported.
#![forbid(unsafe_code)]

mod ast;
mod attr;
mod ctxt;
mod expand;
mod repr;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `shmbus::ShmMessage` for a `#[repr(C)]` or `#[repr(transparent)]` struct or a
/// fieldless enum with an explicit integer repr. See the crate documentation.
#[proc_macro_derive(ShmMessage, attributes(shm))]
pub fn derive(input: TokenStream) -> TokenStream {
    expand::derive(&parse_macro_input!(input as DeriveInput))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[cfg(test)]
mod tests;
