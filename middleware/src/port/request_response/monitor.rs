//! Monitors: a copy of every request and every response of a request-response service,
//! for recorders and tools, without taking part.
//!
//! A monitor is a receiver of both channels of the service whose slots carry the monitor
//! flag: senders copy to it whatever they send to a server or a client, never choose it as
//! a server, count it as no peer, and never wait for it — a monitor that falls behind
//! loses its oldest messages (counted in [`RawMonitor::missed`]), nobody else is slowed
//! down. It takes one server slot and one client slot of the service.

use std::sync::Arc;
use std::time::Duration;

use super::super::channel::{Held, ReceiveError, Received, Receiver, SubscriberCreateError};
use super::split;
use crate::message::Descriptor;
use crate::os::process;
use crate::service::{RawRequestResponseService, ServiceInner};
use crate::sync::Event;
use crate::sync::event::WaitError;

/// Which way an observed message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A request, from a client to a server.
    Request,
    /// A response, from a server to a client.
    Response,
}

/// What ties a request to its responses: the client's slot and the request's id (48
/// bits); a request and every response to it carry the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Correlation {
    /// The client's response slot.
    pub client: u8,
    /// The request's id, per client.
    pub request: u64,
    /// Whether the request expects no response (sent one-way).
    pub oneway: bool,
}

/// Failure of creating a monitor.
#[derive(Debug, thiserror::Error)]
pub enum MonitorCreateError {
    /// The service has no free server or client slot for it.
    #[error(
        "service {service:?} has no free server and client slot for a monitor (it takes one of each); raise max_servers and max_clients when creating it"
    )]
    NoSlot {
        /// The service.
        service: String,
    },
    /// Creating a receiver failed.
    #[error(transparent)]
    Receiver(#[from] SubscriberCreateError),
}

/// Builds a [`RawMonitor`].
#[derive(Debug)]
#[must_use]
pub struct MonitorBuilder {
    service: Arc<ServiceInner>,
}

impl MonitorBuilder {
    /// Creates the monitor. From the moment this returns, it gets a copy of every request
    /// and response.
    pub fn create(self) -> Result<RawMonitor, MonitorCreateError> {
        let no_slot = |service: &ServiceInner| MonitorCreateError::NoSlot {
            service: service.name.to_string(),
        };
        let open = |ch| match Receiver::create(self.service.clone(), ch, true) {
            Err(SubscriberCreateError::TooManySubscribers { .. }) => Err(no_slot(&self.service)),
            other => other.map_err(MonitorCreateError::from),
        };
        let requests = open(0)?;
        let responses = open(1)?;
        Ok(RawMonitor {
            requests,
            responses,
            service: self.service,
        })
    }
}

impl RawRequestResponseService {
    /// Starts building a monitor: a copy of every request and response (see
    /// [`RawMonitor`]).
    pub fn monitor(&self) -> MonitorBuilder {
        MonitorBuilder {
            service: self.inner.clone(),
        }
    }
}

/// Watches a request-response service: every request and every response, as bytes
/// checked against the service's types (see the [module docs](self)).
#[derive(Debug)]
pub struct RawMonitor {
    requests: Receiver,
    responses: Receiver,
    service: Arc<ServiceInner>,
}

impl RawMonitor {
    /// The request type.
    pub fn request_type(&self) -> &Descriptor {
        self.service.type_of(0)
    }

    /// The response type.
    pub fn response_type(&self) -> &Descriptor {
        self.service.type_of(1)
    }

    crate::port::asynchronous::async_methods! {
        /// The next request or response, when one comes (async, on any executor; see
        /// [`asynchronous`](crate::port::asynchronous)). Dropping the future loses nothing.
        fn receive_async -> Observed<'_>;
        /// Every request and response as it comes, as a
        /// [`Stream`](crate::port::asynchronous::Stream).
        fn messages;
        error ReceiveError;
        take |s| s.receive()
    }

    /// The next request or response, if one is waiting (requests first). Never blocks.
    pub fn receive(&self) -> Result<Option<Observed<'_>>, ReceiveError> {
        for (direction, receiver, ch) in [
            (Direction::Request, &self.requests, 0),
            (Direction::Response, &self.responses, 1),
        ] {
            let message = self.service.type_of(ch);
            if let Some(held) = receiver.receive(|bytes: &[u8]| message.validate(bytes))? {
                return Ok(Some(self.observed(direction, held)));
            }
        }
        Ok(None)
    }

    fn observed(&self, direction: Direction, held: Held) -> Observed<'_> {
        let (receiver, ch) = match direction {
            Direction::Request => (&self.requests, 0),
            Direction::Response => (&self.responses, 1),
        };
        Observed {
            received: Received::new(receiver, held),
            direction,
            message: self.service.type_of(ch),
        }
    }

    /// Waits at most `timeout` for the next request or response; `Ok(None)` on timeout.
    pub fn receive_timeout(&self, timeout: Duration) -> Result<Option<Observed<'_>>, ReceiveError> {
        let deadline = process::monotonic_ns()
            .saturating_add(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
        loop {
            // Tickets first, then the look, then the sleep: a send in between is not missed.
            let events = [self.requests.event(), self.responses.event()];
            let tickets: Vec<_> = events.iter().flatten().map(|e| (*e, e.ticket())).collect();
            if let Some(observed) = self.receive()? {
                return Ok(Some(observed));
            }
            crate::os::signal::check().map_err(WaitError::Terminated)?;
            let left = deadline.saturating_sub(process::monotonic_ns());
            if left == 0 {
                return Ok(None);
            }
            Event::wait_any(&tickets, Some(Duration::from_nanos(left)))
                .map_err(WaitError::Futex)?;
        }
    }

    /// Messages this monitor lost because it fell behind (its oldest were overwritten).
    pub fn missed(&self) -> u64 {
        self.requests
            .missed()
            .saturating_add(self.responses.missed())
    }
}

crate::port::waitset::waitable!(
    RawMonitor,
    |s| events: [s.requests.event(), s.responses.event()],
    ready: s.requests.poll_ready() || s.responses.poll_ready(),
    parked: s.requests.parked(),
);

/// A request or response seen by a monitor: the sender's bytes in place, checked against
/// its type; the chunk goes back when dropped.
#[derive(Debug)]
pub struct Observed<'a> {
    received: Received<'a>,
    direction: Direction,
    message: &'a Descriptor,
}

impl Observed<'_> {
    super::super::channel::raw_payload_methods!(received);

    /// A request or a response.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Its type.
    pub fn message_type(&self) -> &Descriptor {
        self.message
    }

    /// The sender's sequence number of it.
    pub fn sequence(&self) -> u64 {
        self.received.header().sequence
    }

    /// When it was sent (`CLOCK_MONOTONIC` nanoseconds), if its sender stamps messages.
    pub fn timestamp_ns(&self) -> Option<u64> {
        Some(self.received.header().timestamp_ns).filter(|&t| t != 0)
    }

    /// Id of the port that sent it (a client's request port, a server's response port).
    pub fn sender_id(&self) -> u64 {
        self.received.header().origin
    }

    /// What ties it to its request or responses.
    pub fn correlation(&self) -> Correlation {
        let (client, slot, request) = split(self.received.header().correlation);
        Correlation {
            client: client as u8,
            request,
            oneway: slot == super::ONEWAY,
        }
    }
}

const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<RawMonitor>();
};
