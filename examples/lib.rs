//! Runnable examples of shmbus: `cargo run --example <name>`. The examples are the
//! `[[example]]` targets of this package; this library is empty.
