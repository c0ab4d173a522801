//! Request-response ports: clients send requests to one of the servers of a service and
//! receive their responses; servers answer each request with a stream of responses.
//!
//! Built on two channels of the byte-level core (see [`super::channel`]): a client is a
//! sender of requests (channel 0) and a receiver of responses (channel 1); a server the
//! reverse. Each request goes to **one** server (they take turns; a request is never
//! delivered to several), each response to the one client that asked.
//!
//! ## The protocol
//!
//! Each request takes one of its client's `max_active_requests_per_client` request slots
//! until its pending response is dropped; the slot's word in the service's request table
//! says whether the request is pending, finished by its server, or cancelled (see
//! [`crate::service::layout`]). The correlation word every request and response carries in
//! its chunk header is `client response slot << 56 | request slot << 48 | request id`
//! (48 bits), so a response reaches the right client and the right pending request —
//! responses to a cancelled or older request are recognised and dropped. A one-way request
//! (no response expected) has the request slot `0xff`.
//!
//! Waiting never hangs on a dead server: a waiting client sleeps on its response event in
//! slices of at most [`LIVENESS_SLICE`], and after a slice without news it tests the
//! liveness token of the server that took its request.
//!
//! [`Client`] and [`Server`] are typed; [`RawClient`] and [`RawServer`] carry bytes checked
//! against the service's descriptors. Both are thin layers over one client core and one
//! server core.

mod client;
mod monitor;
mod server;

use std::time::Duration;

pub use client::{
    CallError, Client, ClientBuilder, ClientCreateError, PendingResponse, RawClient,
    RawClientBuilder, RawPendingResponse, RawRequestMut, RawResponse, RequestMut, RequestSendError,
    Response, ResponseError,
};
pub use monitor::{
    Correlation, Direction, MonitorBuilder, MonitorCreateError, Observed, RawMonitor,
};
pub use server::{
    ActiveRequest, RawActiveRequest, RawResponseMut, RawServer, RawServerBuilder, RespondError,
    ResponseMut, Server, ServerBuilder, ServerCreateError,
};

/// The longest a waiting client sleeps before it checks that its server is alive.
pub const LIVENESS_SLICE: Duration = Duration::from_millis(20);

const ID_BITS: u32 = 48;
const ID_MASK: u64 = (1 << ID_BITS) - 1;
/// The request-slot field of a fire-and-forget request (no slot, no response).
const ONEWAY: usize = 0xff;

/// Packs a correlation word.
fn correlation(client_slot: usize, request_slot: usize, id: u64) -> u64 {
    ((client_slot as u64 & 0xff) << 56) | ((request_slot as u64 & 0xff) << 48) | (id & ID_MASK)
}

/// Unpacks a correlation word: client response slot, request slot, request id.
fn split(correlation: u64) -> (usize, usize, u64) {
    (
        (correlation >> 56) as usize,
        ((correlation >> 48) & 0xff) as usize,
        correlation & ID_MASK,
    )
}

/// A request-table word: the request id and its state.
fn request_word(id: u64, state: u64) -> u64 {
    (id << 2) | state
}

/// How a core checks the bytes of received messages: given the channel's descriptor.
/// Typed ports check as their Rust type, byte-level ones with the descriptor.
type Check = fn(&crate::message::Descriptor, &[u8]) -> Result<(), crate::message::ValidationError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_words_round_trip() {
        let word = correlation(62, ONEWAY, ID_MASK);
        assert_eq!(split(word), (62, ONEWAY, ID_MASK));
        assert_eq!(split(correlation(3, 7, ID_MASK + 5)), (3, 7, 4));
        assert_eq!(request_word(5, 2) & 3, 2);
    }
}
