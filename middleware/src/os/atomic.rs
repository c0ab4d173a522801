//! The atomics facade: `core::sync::atomic` normally, loom's models under `cfg(loom)`.
//!
//! The words other processes share are atomics of the platform's memory model, the lowest
//! layer's concern: [`crate::os::futex`] sleeps on them, and everything in [`crate::sync`]
//! (which re-exports this module as `sync::atomic`) is built from them. Taking them from
//! here means `RUSTFLAGS="--cfg loom"` turns every structure into a loom model without a
//! code change. The workspace's `clippy.toml` forbids the raw atomic types everywhere
//! else. The types are aliases, not re-exports, so that the lint (which follows re-exports
//! to the original type) still flags any direct use of `std::sync::atomic` outside this
//! file.
#![allow(clippy::disallowed_types)]

#[cfg(not(loom))]
pub use core::hint::spin_loop;
#[cfg(not(loom))]
pub use core::sync::atomic::{Ordering, fence};

/// A byte that can be shared between threads and processes (`core`'s, or loom's model).
#[cfg(not(loom))]
pub type AtomicU8 = core::sync::atomic::AtomicU8;
/// A `u32` that can be shared between threads and processes (`core`'s, or loom's model).
#[cfg(not(loom))]
pub type AtomicU32 = core::sync::atomic::AtomicU32;
/// A `u64` that can be shared between threads and processes (`core`'s, or loom's model).
#[cfg(not(loom))]
pub type AtomicU64 = core::sync::atomic::AtomicU64;
/// A `usize` that can be shared between threads (`core`'s, or loom's model).
#[cfg(not(loom))]
pub type AtomicUsize = core::sync::atomic::AtomicUsize;

#[cfg(loom)]
pub use loom::hint::spin_loop;
#[cfg(loom)]
pub use loom::sync::atomic::{Ordering, fence};

/// A byte that can be shared between threads and processes (`core`'s, or loom's model).
#[cfg(loom)]
pub type AtomicU8 = loom::sync::atomic::AtomicU8;
/// A `u32` that can be shared between threads and processes (`core`'s, or loom's model).
#[cfg(loom)]
pub type AtomicU32 = loom::sync::atomic::AtomicU32;
/// A `u64` that can be shared between threads and processes (`core`'s, or loom's model).
#[cfg(loom)]
pub type AtomicU64 = loom::sync::atomic::AtomicU64;
/// A `usize` that can be shared between threads (`core`'s, or loom's model).
#[cfg(loom)]
pub type AtomicUsize = loom::sync::atomic::AtomicUsize;
