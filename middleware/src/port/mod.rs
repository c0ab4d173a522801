//! Ports: the publishers, subscribers, clients and servers of services.
//!
//! Two levels, one data path:
//!
//! - [`channel`] is the **byte-level core**: a sender and a receiver of one channel of a
//!   service, which know a payload only by the size and alignment of the channel's
//!   [`Descriptor`](crate::message::Descriptor) and own the whole data path (loans, sends,
//!   queues, wake-ups), connection management, and the cleanup hooks for departed peers.
//!   Its module docs describe the data path.
//! - The ports are thin layers over it. Typed ports — [`Publisher<T>`], [`Subscriber<T>`],
//!   [`Client<Req, Res>`], [`Server<Req, Res>`] — add the Rust type and read and write it
//!   in place. Byte-level ports — [`RawPublisher`], [`RawSubscriber`], [`RawClient`],
//!   [`RawServer`], opened through [`Service::raw_publish_subscribe`] and
//!   [`Service::raw_request_response`] — hand out bytes with the service's descriptor and
//!   check every message they send against it, as a typed receiver checks what it receives
//!   (bools, enum values, lengths within capacity, UTF-8): tools, bridges and recorders use
//!   them, and a typed port on the other side cannot tell the difference. A
//!   [`SharedRawSubscriber`] hands out samples that own a share of it, for code that
//!   keeps the bytes in place beyond the call (the Zenoh bridge).
//!
//! Publish-subscribe ports are in [`publisher`] and [`subscriber`]; [`request_response`]
//! builds clients and servers on two channels of the core. Every port is `Send` (not
//! `Sync`: one port per thread), sees its counterparts ([`PortEvent`], counts), and every
//! receiving port can be waited on with others in a [`WaitSet`], or awaited in async code
//! on any executor ([`asynchronous`]).
//!
//! [`Service::raw_publish_subscribe`]: crate::service::Service::raw_publish_subscribe
//! [`Service::raw_request_response`]: crate::service::Service::raw_request_response

pub mod asynchronous;
pub mod channel;
pub mod publisher;
pub mod request_response;
pub mod subscriber;
mod waitset;

pub use channel::{
    Departure, EVENTS_KEPT, LoanError, PortEvent, PublisherCreateError, ReceiveError, SendError,
    SubscriberCreateError,
};
pub use publisher::{
    Publisher, PublisherBuilder, RawPublisher, RawPublisherBuilder, RawSampleMut,
    RawSendValueError, SampleMut, SampleUninit,
};
pub use request_response::{
    ActiveRequest, CallError, Client, ClientBuilder, ClientCreateError, Correlation, Direction,
    LIVENESS_SLICE, MonitorBuilder, MonitorCreateError, Observed, PendingResponse,
    RawActiveRequest, RawClient, RawClientBuilder, RawMonitor, RawPendingResponse, RawRequestMut,
    RawResponse, RawResponseMut, RawServer, RawServerBuilder, RequestMut, RequestSendError,
    RespondError, Response, ResponseError, ResponseMut, Server, ServerBuilder, ServerCreateError,
};
pub use subscriber::{
    RawSample, RawSubscriber, RawSubscriberBuilder, Sample, SharedRawSample, SharedRawSubscriber,
    Subscriber, SubscriberBuilder,
};
pub use waitset::{AttachError, Attachment, Ready, WaitError, WaitSet, Waitable};
