//! shmbus: zero-copy inter-process communication over POSIX shared memory.
//!
//! Processes on one machine exchange typed messages through shared memory, with
//! publish-subscribe and request-response services. Message types are fixed-layout and
//! self-contained; declare them with `#[derive(ShmMessage)]` (see [`message`]).
//!
//! ```
//! use shmbus::{FixedString, ShmMessage};
//!
//! #[derive(ShmMessage)]
//! #[repr(C)]
//! struct Status {
//!     battery: f32,
//!     charging: bool,
//!     name: FixedString<16>,
//! }
//!
//! assert_eq!(Status::DESCRIPTOR.fields().len(), 3);
//! ```

// Lets the derive's absolute paths (`::shmbus::...`) resolve inside this crate's own tests.
extern crate self as shmbus;

pub mod cleanup;
pub mod config;
mod include_idl;
pub mod message;
pub mod node;
pub mod os;
pub mod port;
pub mod service;
pub mod sync;

pub use config::Config;
pub use message::{Boolean, FixedString, FixedVec, Optional, ShmMessage};
pub use node::{Node, NodeId};
pub use port::{
    ActiveRequest, Client, PendingResponse, Publisher, Response, Sample, SampleMut, Server,
    Subscriber, WaitSet,
};
pub use service::{OverflowPolicy, PubSubService, RequestResponseService, Service};

#[doc(hidden)]
pub mod __private {
    //! Items used by the code `#[derive(ShmMessage)]` expands to. Not public API.
    pub use core;
}
