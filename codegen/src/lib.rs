//! IDL to Rust code generation for shmbus.
//!
//! Not implemented yet: this crate is delivered by issue 2/7 and holds nothing yet.
#![forbid(unsafe_code)]
