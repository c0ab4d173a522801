//! Ports: publishers and subscribers of a publish-subscribe service.
//!
//! ## The data path
//!
//! Each publisher owns one data segment (`/<prefix>.<domain>.d.<port id>`), preallocated at
//! creation with the worst case of the service's QoS (see [`PubSubQos`]), so a send never
//! fails for lack of memory while every peer keeps to its limits. A loan is a chunk of that
//! segment, written in place. `send` writes the chunk's header (publisher id, sequence,
//! and the send time if the publisher was built with `timestamps(true)`), records in the
//! segment which subscribers hold the chunk, and pushes its index into each connected
//! subscriber's delivery queue in the service object, then wakes the
//! subscribers that sleep — a system call only if one does. Subscribers map the publisher's
//! segment read-only, validate the payload as the message contract demands, and hand out a
//! [`Sample`] that reads the chunk in place; dropping it pushes the index into the return
//! queue, which the publisher drains on its next loan or send. Neither side takes a lock or
//! makes a system call on this path, and the payload is never copied: 16 MiB cost what 8 B
//! cost.
//!
//! Chunk ownership lives in shared memory (the holders mask of each chunk, see
//! [`crate::sync::chunk_store`]), so when a subscriber leaves or dies its publisher clears
//! that subscriber's bit from every chunk and gets them all back.
//!
//! Connections are made lazily but never lose the first samples: a subscriber registers
//! before `create` returns and bumps the registry generation; every `loan` and `send`
//! checks the generation first (one atomic load), connects new subscribers and sends them
//! the history. So a subscriber that exists before `send` returns receives the sample.

mod client;
mod publisher;
mod server;
mod subscriber;
mod waitset;

pub use client::{
    CallError, Client, ClientBuilder, ClientCreateError, LIVENESS_SLICE, PendingResponse,
    RequestMut, RequestSendError, Response, ResponseError,
};
pub use publisher::{
    LoanError, Publisher, PublisherBuilder, PublisherCreateError, SampleMut, SampleUninit,
    SendError,
};
pub use server::{
    ActiveRequest, RespondError, ResponseMut, Server, ServerBuilder, ServerCreateError,
};
pub use subscriber::{ReceiveError, Sample, Subscriber, SubscriberBuilder, SubscriberCreateError};
pub use waitset::{AttachError, Attachment, Ready, WaitError, WaitSet, Waitable};

#[allow(unused_imports)]
use crate::service::PubSubQos;
use crate::sync::chunk_store::{ChunkLayout, ChunkLayoutError};

/// To whom a send goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Every connected subscriber (publish-subscribe).
    All,
    /// The subscriber in this slot only (a response to its client).
    Slot(usize),
    /// One connected subscriber, taking turns (a request to one of the servers).
    AnyOne,
}

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// Subscribers that got the sample.
    pub(crate) delivered: usize,
    /// For [`Target::AnyOne`]: the slot and epoch of the one that got it.
    pub(crate) to: Option<(usize, u64)>,
}

/// The geometry of every publisher segment of a service carrying `T` with these QoS.
pub(crate) fn chunk_layout<T>(
    qos: &crate::service::PubSubQos,
) -> Result<ChunkLayout, ChunkLayoutError> {
    ChunkLayout::new(
        u64::from(qos.chunks_per_publisher()),
        size_of::<T>(),
        align_of::<T>(),
    )
}
