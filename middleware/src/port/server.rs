//! The server port of a request-response service.
//!
//! A server is a subscriber of requests (channel 0 of the service) and a publisher of
//! responses (channel 1). Each received request is an [`ActiveRequest`]: respond to it any
//! number of times (a stream) — each response goes to the one client that asked — and drop
//! it to end the stream, which marks the request `done` in the service's request table and
//! wakes the client.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::client::{ONEWAY, correlation, request_word, split};
use super::publisher::{LoanError, Publisher, PublisherBuilder, PublisherCreateError, SendError};
use super::subscriber::{
    ReceiveError, Sample, Subscriber, SubscriberBuilder, SubscriberCreateError,
};
use super::{Target, Waitable};
use crate::message::ShmMessage;
use crate::os::mmap::Mapping;
use crate::service::layout::{REQUEST_DONE, REQUEST_PENDING};
use crate::service::{PortKind, ServiceInner};
use crate::sync::Event;
use crate::sync::atomic::Ordering;
use crate::sync::chunk_store::{Init, LoanedPayload};

type Region = Arc<Mapping>;

/// Failure of [`ServerBuilder::create`].
#[derive(Debug, thiserror::Error)]
pub enum ServerCreateError {
    /// Every server slot is taken.
    #[error(
        "service {service:?} already has its maximum of {max} servers; raise max_servers when creating it"
    )]
    TooManyServers {
        /// The service.
        service: String,
        /// The limit.
        max: u32,
    },
    /// Creating the request side failed.
    #[error("cannot create the server's request port: {0}")]
    Requests(#[from] SubscriberCreateError),
    /// Creating the response side failed.
    #[error("cannot create the server's response segment: {0}")]
    Responses(#[from] PublisherCreateError),
}

/// Failure of responding.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    /// The request was sent with `send_oneway`: nobody waits for a response.
    #[error("this request expects no response (it was sent one-way)")]
    NoResponseExpected,
    /// The client is gone (it left or died); the response was dropped.
    #[error("the client that sent this request is gone; the response was dropped")]
    ClientGone,
    /// Loaning the response failed.
    #[error(transparent)]
    Loan(#[from] LoanError),
    /// The client did not make room in its response buffer within the send timeout.
    #[error("sending the response failed: {0}")]
    Send(#[from] SendError),
}

/// Builds a [`Server`].
#[derive(Debug)]
#[must_use]
pub struct ServerBuilder<Req, Res> {
    service: Arc<ServiceInner>,
    send_timeout: Duration,
    timestamps: bool,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> ServerBuilder<Req, Res> {
    pub(crate) fn new(service: Arc<ServiceInner>) -> Self {
        Self {
            service,
            send_timeout: Duration::from_secs(1),
            timestamps: false,
            _types: PhantomData,
        }
    }

    /// Stamps every response with the monotonic clock at send, for
    /// [`Response::timestamp_ns`](crate::port::Response::timestamp_ns) (default off).
    pub fn timestamps(mut self, on: bool) -> Self {
        self.timestamps = on;
        self
    }

    /// How long a response waits for room in a client's full response buffer (default 1 s).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Creates the server: its request slot and its response segment.
    pub fn create(self) -> Result<Server<Req, Res>, ServerCreateError> {
        let service = self.service;
        let max = service.qos(0).max_subscribers;
        let too_many = |service: &ServiceInner| ServerCreateError::TooManyServers {
            service: service.name.to_string(),
            max,
        };
        let requests = match SubscriberBuilder::<Req>::new(service.clone(), 0).create() {
            Ok(s) => s,
            Err(SubscriberCreateError::TooManySubscribers { .. }) => {
                return Err(too_many(&service));
            }
            Err(e) => return Err(e.into()),
        };
        let responses = match PublisherBuilder::<Res>::new(service.clone(), 1)
            .send_timeout(self.send_timeout)
            .timestamps(self.timestamps)
            .create()
        {
            Ok(p) => p,
            Err(PublisherCreateError::TooManyPublishers { .. }) => return Err(too_many(&service)),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(service = %service.name, slot = requests.slot(), "server created");
        Ok(Server {
            requests,
            responses,
            service,
        })
    }
}

/// Receives the requests of a request-response service and responds to them.
/// `Send` but not `Sync`: one server per thread.
#[derive(Debug)]
pub struct Server<Req, Res> {
    requests: Subscriber<Req>,
    responses: Publisher<Res>,
    service: Arc<ServiceInner>,
}

impl<Req: ShmMessage, Res: ShmMessage> Server<Req, Res> {
    /// The next request, if one is waiting. Never blocks.
    pub fn receive(&self) -> Result<Option<ActiveRequest<'_, Req, Res>>, ReceiveError> {
        loop {
            let Some(sample) = self.requests.receive()? else {
                return Ok(None);
            };
            if let Some(request) = self.activate(sample) {
                return Ok(Some(request));
            }
        }
    }

    /// Waits at most `timeout` for the next request; `Ok(None)` on timeout.
    pub fn receive_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<ActiveRequest<'_, Req, Res>>, ReceiveError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Some(sample) = self.requests.receive_timeout(left)? else {
                return Ok(None);
            };
            if let Some(request) = self.activate(sample) {
                return Ok(Some(request));
            }
        }
    }

    /// Waits for the next request, however long it takes.
    pub fn receive_blocking(&self) -> Result<ActiveRequest<'_, Req, Res>, ReceiveError> {
        loop {
            let sample = self.requests.receive_blocking()?;
            if let Some(request) = self.activate(sample) {
                return Ok(request);
            }
        }
    }

    /// Free chunks of the server's response segment (for tests and tools): back to its
    /// total once every client released its responses, or its dead client was cleaned up.
    pub fn free_chunks(&self) -> u32 {
        self.responses.free_chunks()
    }

    /// Whether a request is waiting (without taking it).
    pub fn has_requests(&self) -> bool {
        self.requests.poll_ready()
    }

    /// Checks a request's correlation word (a hostile client may write anything); a
    /// request whose reply slot is out of range is dropped.
    fn activate<'a>(&'a self, sample: Sample<'a, Req>) -> Option<ActiveRequest<'a, Req, Res>> {
        let word = sample.correlation();
        let (client, slot, id) = split(word);
        let clients = self.service.qos(1).max_subscribers as usize;
        // The request table checks both slots; a one-way request has no request slot.
        let valid = if slot == ONEWAY {
            client < clients
        } else {
            self.service.request_word(client, slot).is_some()
        };
        if !valid {
            tracing::warn!(service = %self.service.name, correlation = word, "dropped a request with an invalid reply address");
            return None;
        }
        Some(ActiveRequest {
            server: self,
            sample,
            client,
            slot,
            id,
        })
    }
}

impl<Req, Res> super::waitset::sealed::Sealed for Server<Req, Res> {}

impl<Req: ShmMessage, Res: ShmMessage> Waitable for Server<Req, Res> {
    fn wait_event(&self) -> Option<&Event<Region>> {
        self.requests.event()
    }

    fn is_ready(&self) -> bool {
        self.requests.poll_ready()
    }
}

/// A request being served: read it (`Deref<Target = Req>`), respond any number of times,
/// and drop it to end the response stream.
#[derive(Debug)]
pub struct ActiveRequest<'a, Req: ShmMessage, Res: ShmMessage> {
    server: &'a Server<Req, Res>,
    sample: Sample<'a, Req>,
    /// The client's response slot (channel 1 subscriber).
    client: usize,
    /// The request slot in the client's table, or `ONEWAY`.
    slot: usize,
    id: u64,
}

impl<'a, Req: ShmMessage, Res: ShmMessage> ActiveRequest<'a, Req, Res> {
    /// Whether the client expects responses (it did not send the request one-way).
    pub fn expects_response(&self) -> bool {
        self.slot != ONEWAY
    }

    /// Whether the client stopped waiting (it dropped its `PendingResponse`, or is gone):
    /// further work for this request is wasted.
    pub fn is_cancelled(&self) -> bool {
        if !self.expects_response() {
            return false;
        }
        let service = &self.server.service;
        let pending = service
            .request_word(self.client, self.slot)
            .is_some_and(|w| w.load(Ordering::Acquire) == request_word(self.id, REQUEST_PENDING));
        !pending || service.slot(1, PortKind::Subscriber, self.client).is_none()
    }

    /// Loans a response whose payload is all zero bytes, to be written in place and sent
    /// with [`ResponseMut::send`].
    pub fn loan(&self) -> Result<ResponseMut<'_, 'a, Req, Res>, RespondError> {
        const {
            assert!(
                Res::ZEROED_IS_VALID,
                "all-zero bytes are not a valid value of this response type: use respond_copy"
            )
        };
        if !self.expects_response() {
            return Err(RespondError::NoResponseExpected);
        }
        Ok(ResponseMut {
            request: self,
            payload: Some(self.server.responses.initialised_payload(Init::Zeroed)?),
        })
    }

    /// Loans a response holding whatever its chunk held (an earlier response or zeroes),
    /// without writing a byte; for response types valid for every bit pattern.
    pub fn loan_recycled(&self) -> Result<ResponseMut<'_, 'a, Req, Res>, RespondError> {
        const {
            assert!(
                Res::ANY_BIT_PATTERN,
                "not every bit pattern is a valid value of this response type: use loan"
            )
        };
        if !self.expects_response() {
            return Err(RespondError::NoResponseExpected);
        }
        Ok(ResponseMut {
            request: self,
            payload: Some(self.server.responses.initialised_payload(Init::Recycled)?),
        })
    }

    /// Copies `response` into shared memory and sends it to the client.
    pub fn respond_copy(&self, response: &Res) -> Result<(), RespondError>
    where
        Res: Copy,
    {
        if !self.expects_response() {
            return Err(RespondError::NoResponseExpected);
        }
        let payload = self.server.responses.loan_payload()?.write(*response);
        self.send(payload)
    }

    fn send(&self, payload: LoanedPayload<Res, Region>) -> Result<(), RespondError> {
        let server = self.server;
        match server.responses.send_loan_to(
            payload,
            Target::Slot(self.client),
            correlation(self.client, self.slot, self.id),
        ) {
            Ok(d) if d.delivered > 0 => Ok(()),
            Ok(_) => Err(RespondError::ClientGone),
            Err(SendError::Timeout { .. }) if server.service.remove_dead_nodes().nodes > 0 => {
                Err(RespondError::ClientGone)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> std::ops::Deref for ActiveRequest<'_, Req, Res> {
    type Target = Req;
    fn deref(&self) -> &Req {
        &self.sample
    }
}

impl<Req: ShmMessage, Res: ShmMessage> Drop for ActiveRequest<'_, Req, Res> {
    fn drop(&mut self) {
        if !self.expects_response() {
            return;
        }
        let service = &self.server.service;
        if let Some(w) = service.request_word(self.client, self.slot) {
            // SYNC(release): every response was pushed before; the client acquires `done`
            // and then finds them all in its queue.
            let _ = w.compare_exchange(
                request_word(self.id, REQUEST_PENDING),
                request_word(self.id, REQUEST_DONE),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
        if let Some(event) = service.event(1, PortKind::Subscriber, self.client)
            && let Err(error) = event.notify()
        {
            tracing::warn!(service = %service.name, %error, "waking a client failed");
        }
    }
}

/// A loaned response, written in place (`DerefMut`), then sent with [`send`](Self::send).
/// Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct ResponseMut<'r, 'a, Req: ShmMessage, Res: ShmMessage> {
    request: &'r ActiveRequest<'a, Req, Res>,
    payload: Option<LoanedPayload<Res, Region>>,
}

impl<Req: ShmMessage, Res: ShmMessage> ResponseMut<'_, '_, Req, Res> {
    /// Sends the response to the client that asked.
    pub fn send(mut self) -> Result<(), RespondError> {
        match self.payload.take() {
            Some(payload) => self.request.send(payload),
            None => Ok(()),
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> std::ops::Deref for ResponseMut<'_, '_, Req, Res> {
    type Target = Res;
    fn deref(&self) -> &Res {
        match &self.payload {
            Some(p) => p,
            None => unreachable!("the payload is only taken by send, which consumes the response"),
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> std::ops::DerefMut for ResponseMut<'_, '_, Req, Res> {
    fn deref_mut(&mut self) -> &mut Res {
        match &mut self.payload {
            Some(p) => p,
            None => unreachable!("the payload is only taken by send, which consumes the response"),
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> Drop for ResponseMut<'_, '_, Req, Res> {
    fn drop(&mut self) {
        if let Some(payload) = self.payload.take() {
            self.request.server.responses.discard_payload(payload);
        }
    }
}
