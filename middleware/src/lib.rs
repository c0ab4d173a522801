//! shmbus: zero-copy inter-process communication over POSIX shared memory.
//!
//! Processes on one machine exchange typed messages through shared memory, with
//! publish-subscribe and request-response services. Message types are fixed-layout and
//! self-contained; declare them with `#[derive(ShmMessage)]` (see [`message`]).
//!
//! # Publish-subscribe
//!
//! A [`Node`] joins a domain, a [`Service`] is a named topic carrying one message type, and
//! ports publish and receive on it. The publisher writes into shared memory and the
//! subscriber reads the very same bytes: nothing is copied or serialised. Here both ports
//! are in one process; two processes run the same calls, each its own half.
//!
//! ```
//! use shmbus::{Node, Service, ShmMessage};
//!
//! #[derive(ShmMessage, Debug, Clone, Copy)]
//! #[repr(C)]
//! struct Temperature {
//!     celsius: f32,
//!     sensor: u32,
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // A domain and runtime folder of its own, as every test has.
//! # let config = shmbus::Config::from_env()?
//! #     .with_domain(format!("doctest{}", std::process::id()))?
//! #     .with_runtime_dir(std::env::temp_dir().join(format!("shmbus-doctest-{}", std::process::id())))?;
//! let node = Node::builder()
//!     .name("thermometer")
//! #   .config(config)
//!     .create()?;
//! let service = Service::publish_subscribe::<Temperature>(&node, "lab/temperature")
//!     .open_or_create()?;
//! let publisher = service.publisher().create()?;
//! let subscriber = service.subscriber().create()?;
//!
//! publisher.send_copy(&Temperature { celsius: 21.5, sensor: 7 })?;
//!
//! let sample = subscriber.receive()?.expect("the sample just sent");
//! assert_eq!((sample.celsius, sample.sensor), (21.5, 7));
//! # Ok(())
//! # }
//! ```
//!
//! Request-response services ([`Service::request_response`]), blocking receives, wait sets
//! and what happens when a process dies are described in the README and in [`port`] and
//! [`service`]. The library reports through [`tracing`](https://docs.rs/tracing) (target
//! `shmbus`), never on standard output: install a subscriber, such as `tracing-subscriber`
//! with `RUST_LOG=shmbus=debug`, to see what it does.
//!
//! # Messages
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
pub use message::{Boolean, Descriptor, FixedString, FixedVec, Optional, ShmMessage, Value};
pub use node::{Node, NodeId};
pub use port::{
    ActiveRequest, Client, PendingResponse, Publisher, RawClient, RawPublisher, RawServer,
    RawSubscriber, Response, Sample, SampleMut, Server, Subscriber, WaitSet,
};
pub use service::{OverflowPolicy, PubSubService, RequestResponseService, Service};

#[doc(hidden)]
pub mod __private {
    //! Items used by the code `#[derive(ShmMessage)]` expands to. Not public API.
    pub use core;
}
