//! Runnable examples of shmbus: `cargo run --example <name>` (the `[[example]]` targets of
//! this package). This library holds the pieces several examples share.

pub mod latency;
