//! The client port of a request-response service.
//!
//! A client is a publisher of requests (channel 0 of the service) and a subscriber of
//! responses (channel 1). Each request takes one of its `max_active_requests_per_client`
//! request slots until its [`PendingResponse`] is dropped; the slot's word in the service's
//! request table says whether the request is pending, finished by its server, or cancelled.
//! The correlation word every request and response carries is
//! `client response slot << 56 | request slot << 48 | request id` (48 bits), so a response
//! reaches the right client and the right pending request — responses to a cancelled or
//! older request are recognised and dropped.
//!
//! Waiting never hangs on a dead server: a waiting client sleeps on its response event in
//! slices of at most [`LIVENESS_SLICE`], and after a slice without news it tests the
//! liveness token of the server that took its request.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::publisher::{LoanError, Publisher, PublisherBuilder, PublisherCreateError, SendError};
use super::subscriber::{Held, ReceiveError, Subscriber, SubscriberBuilder, SubscriberCreateError};
use super::{Target, Waitable};
use crate::message::ShmMessage;
use crate::os::futex::FutexError;
use crate::os::mmap::Mapping;
use crate::os::process;
use crate::os::signal::TerminationRequested;
use crate::service::layout::{REQUEST_CANCELLED, REQUEST_DONE, REQUEST_PENDING};
use crate::service::{PortKind, RequestResponseQos, ServiceInner};
use crate::sync::Event;
use crate::sync::atomic::Ordering;
use crate::sync::chunk_store::{Init, LoanedPayload};
use crate::sync::event::WaitError;

type Region = Arc<Mapping>;

/// The longest a waiting client sleeps before it checks that its server is alive.
pub const LIVENESS_SLICE: Duration = Duration::from_millis(20);

const ID_BITS: u32 = 48;
const ID_MASK: u64 = (1 << ID_BITS) - 1;
/// The request-slot field of a fire-and-forget request (no slot, no response).
pub(crate) const ONEWAY: usize = 0xff;

/// Packs a correlation word.
pub(crate) fn correlation(client_slot: usize, request_slot: usize, id: u64) -> u64 {
    ((client_slot as u64 & 0xff) << 56) | ((request_slot as u64 & 0xff) << 48) | (id & ID_MASK)
}

/// Unpacks a correlation word: client response slot, request slot, request id.
pub(crate) fn split(correlation: u64) -> (usize, usize, u64) {
    (
        (correlation >> 56) as usize,
        ((correlation >> 48) & 0xff) as usize,
        correlation & ID_MASK,
    )
}

/// A request-table word.
pub(crate) fn request_word(id: u64, state: u64) -> u64 {
    (id << 2) | state
}

/// Failure of [`ClientBuilder::create`].
#[derive(Debug, thiserror::Error)]
pub enum ClientCreateError {
    /// Every client slot is taken.
    #[error(
        "service {service:?} already has its maximum of {max} clients; raise max_clients when creating it"
    )]
    TooManyClients {
        /// The service.
        service: String,
        /// The limit.
        max: u32,
    },
    /// Creating the request side failed.
    #[error("cannot create the client's request segment: {0}")]
    Requests(#[from] PublisherCreateError),
    /// Creating the response side failed.
    #[error("cannot create the client's response port: {0}")]
    Responses(#[from] SubscriberCreateError),
}

/// Failure of sending a request.
#[derive(Debug, thiserror::Error)]
pub enum RequestSendError {
    /// The client has `max_active_requests_per_client` requests in flight.
    #[error(
        "this client already has {max} requests in flight; drop a PendingResponse first, or raise max_active_requests_per_client"
    )]
    TooManyActiveRequests {
        /// The limit.
        max: u32,
    },
    /// No server is connected, or every server's queue from this client is full.
    #[error(
        "no server is there to take the request (none connected, or all busy); start a server or retry later"
    )]
    NoServer,
    /// Loaning the request failed.
    #[error(transparent)]
    Loan(#[from] LoanError),
    /// The request could not be handed over.
    #[error("sending the request failed: {0}")]
    Send(#[from] SendError),
}

/// Failure while waiting for or taking a response.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// The server that took the request is gone (it died, or left without answering).
    #[error(
        "the server that took this request is gone (dead or removed) before it ended its response stream; send the request again"
    )]
    ServerGone,
    /// Taking a response failed.
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    /// Sleeping on the response event failed.
    #[error("waiting for a response failed: {0}")]
    Wait(#[from] FutexError),
    /// The program was asked to terminate (SIGINT or SIGTERM with signal handling on).
    #[error(transparent)]
    Terminated(#[from] TerminationRequested),
}

impl From<WaitError> for ResponseError {
    fn from(error: WaitError) -> Self {
        match error {
            WaitError::Futex(e) => Self::Wait(e),
            WaitError::Terminated(e) => Self::Terminated(e),
        }
    }
}

/// Failure of [`Client::call`].
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Sending failed.
    #[error(transparent)]
    Send(#[from] RequestSendError),
    /// Waiting failed or the server is gone.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// No response came in time.
    #[error(
        "no response within {0:?}; the server may be overloaded: raise the timeout or add servers"
    )]
    Timeout(Duration),
    /// The server ended the stream without a single response.
    #[error("the server ended the request without responding")]
    NoResponse,
}

/// Builds a [`Client`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder<Req, Res> {
    service: Arc<ServiceInner>,
    qos: RequestResponseQos,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> ClientBuilder<Req, Res> {
    pub(crate) fn new(service: Arc<ServiceInner>, qos: RequestResponseQos) -> Self {
        Self {
            service,
            qos,
            _types: PhantomData,
        }
    }

    /// Creates the client: its request segment and its response slot.
    pub fn create(self) -> Result<Client<Req, Res>, ClientCreateError> {
        let service = self.service;
        let max = self.qos.max_clients;
        let too_many = |service: &ServiceInner| ClientCreateError::TooManyClients {
            service: service.name.to_string(),
            max,
        };
        let responses = match SubscriberBuilder::<Res>::new(service.clone(), 1).create() {
            Ok(s) => s,
            Err(SubscriberCreateError::TooManySubscribers { .. }) => {
                return Err(too_many(&service));
            }
            Err(e) => return Err(e.into()),
        };
        let requests = match PublisherBuilder::<Req>::new(service.clone(), 0).create() {
            Ok(p) => p,
            Err(PublisherCreateError::TooManyPublishers { .. }) => return Err(too_many(&service)),
            Err(e) => return Err(e.into()),
        };
        // Whatever a previous client of this slot left in the table is void now.
        for a in 0..self.qos.max_active_requests_per_client as usize {
            if let Some(w) = service.request_word(responses.slot(), a) {
                w.store(0, Ordering::Release);
            }
        }
        let per_request = (self.qos.response_buffer as usize)
            .saturating_mul(self.qos.max_servers as usize)
            .min(4096);
        let slots = self.qos.max_active_requests_per_client as usize;
        let active = (0..slots).map(|_| None).collect();
        // Allocated once: receiving never allocates.
        let stashes = (0..slots)
            .map(|_| VecDeque::with_capacity(per_request))
            .collect();
        // Ids start at a random point, so a stale server of an earlier occupant of the slot
        // cannot end one of our requests by chance.
        let next_id = process::random_u64().unwrap_or(1) & ID_MASK;
        tracing::info!(service = %service.name, slot = responses.slot(), "client created");
        Ok(Client {
            requests,
            responses,
            state: RefCell::new(ClientState {
                active,
                stashes,
                next_id,
                per_request,
            }),
            service,
            qos: self.qos,
        })
    }
}

/// A request in flight.
#[derive(Debug, Clone, Copy)]
struct Active {
    id: u64,
    /// The server slot (channel 0 subscriber) and epoch that took the request.
    server: (usize, u64),
}

#[derive(Debug)]
struct ClientState<Res> {
    /// Per request slot: the request in flight, if any.
    active: Vec<Option<Active>>,
    /// Per request slot: responses received for its request and not yet taken.
    stashes: Vec<VecDeque<Held<Res>>>,
    next_id: u64,
    per_request: usize,
}

/// Sends requests to the servers of a request-response service and receives their
/// responses. `Send` but not `Sync`: one client per thread.
#[derive(Debug)]
pub struct Client<Req, Res> {
    requests: Publisher<Req>,
    responses: Subscriber<Res>,
    state: RefCell<ClientState<Res>>,
    service: Arc<ServiceInner>,
    qos: RequestResponseQos,
}

impl<Req: ShmMessage, Res: ShmMessage> Client<Req, Res> {
    /// Loans a request whose payload is all zero bytes, to be written in place and sent
    /// with [`RequestMut::send`].
    pub fn loan(&self) -> Result<RequestMut<'_, Req, Res>, LoanError> {
        const {
            assert!(
                Req::ZEROED_IS_VALID,
                "all-zero bytes are not a valid value of this request type: use send_copy"
            )
        };
        Ok(RequestMut {
            client: self,
            payload: Some(self.requests.initialised_payload(Init::Zeroed)?),
        })
    }

    /// Loans a request holding whatever its chunk held (an earlier request or zeroes),
    /// without writing a byte; for request types valid for every bit pattern (refused at
    /// compile time otherwise). See [`Publisher::loan_recycled`](crate::Publisher::loan_recycled).
    pub fn loan_recycled(&self) -> Result<RequestMut<'_, Req, Res>, LoanError> {
        const {
            assert!(
                Req::ANY_BIT_PATTERN,
                "not every bit pattern is a valid value of this request type: use loan"
            )
        };
        Ok(RequestMut {
            client: self,
            payload: Some(self.requests.initialised_payload(Init::Recycled)?),
        })
    }

    /// Copies `request` into shared memory and sends it to one server.
    pub fn send_copy(
        &self,
        request: &Req,
    ) -> Result<PendingResponse<'_, Req, Res>, RequestSendError>
    where
        Req: Copy,
    {
        let payload = self.requests.loan_payload()?.write(*request);
        self.send_payload(payload)
    }

    /// Sends a request that expects no response (fire and forget).
    pub fn send_copy_oneway(&self, request: &Req) -> Result<(), RequestSendError>
    where
        Req: Copy,
    {
        let payload = self.requests.loan_payload()?.write(*request);
        self.send_oneway_payload(payload)
    }

    /// Sends `request` and waits at most `timeout` for the first response.
    pub fn call(
        &self,
        request: &Req,
        timeout: Duration,
    ) -> Result<Response<'_, Req, Res>, CallError>
    where
        Req: Copy,
    {
        let pending = self.send_copy(request)?;
        match pending.receive_timeout(timeout)? {
            Some(response) => Ok(response),
            None if pending.is_finished() => Err(CallError::NoResponse),
            None => Err(CallError::Timeout(timeout)),
        }
    }

    /// Requests in flight (sent, not yet dropped).
    pub fn active_requests(&self) -> usize {
        self.state.borrow().active.iter().flatten().count()
    }

    /// Free chunks of the client's request segment (for tests and tools): back to its
    /// total once every request was taken back by its server, or its dead server cleaned up.
    pub fn free_chunks(&self) -> u32 {
        self.requests.free_chunks()
    }

    /// Whether a server is connected.
    pub fn has_servers(&self) -> bool {
        self.requests.has_connections()
    }

    fn send_payload(
        &self,
        payload: LoanedPayload<Req, Region>,
    ) -> Result<PendingResponse<'_, Req, Res>, RequestSendError> {
        let c = self.responses.slot();
        let (a, id) = {
            let mut state = self.state.borrow_mut();
            let Some(a) = state.active.iter().position(Option::is_none) else {
                drop(state);
                self.requests.discard_payload(payload);
                return Err(RequestSendError::TooManyActiveRequests {
                    max: self.qos.max_active_requests_per_client,
                });
            };
            let id = state.next_id;
            state.next_id = (state.next_id + 1) & ID_MASK;
            (a, id)
        };
        let word = self.service.request_word(c, a);
        let set = |value: u64| {
            if let Some(w) = word {
                w.store(value, Ordering::Release);
            }
        };
        // SYNC(release): the request is pending before any server can see it.
        set(request_word(id, REQUEST_PENDING));
        let delivery = self
            .requests
            .send_loan_to(payload, Target::AnyOne, correlation(c, a, id));
        let Some(server) = delivery.as_ref().ok().and_then(|d| d.to) else {
            // Nobody got it: the slot is free again.
            set(0);
            return Err(match delivery {
                Err(e) => e.into(),
                Ok(_) => RequestSendError::NoServer,
            });
        };
        self.state.borrow_mut().active[a] = Some(Active { id, server });
        Ok(PendingResponse {
            client: self,
            slot: a,
            id,
        })
    }

    fn send_oneway_payload(
        &self,
        payload: LoanedPayload<Req, Region>,
    ) -> Result<(), RequestSendError> {
        let c = self.responses.slot();
        let delivery =
            self.requests
                .send_loan_to(payload, Target::AnyOne, correlation(c, ONEWAY, 0))?;
        if delivery.to.is_none() {
            return Err(RequestSendError::NoServer);
        }
        Ok(())
    }

    /// Takes every response waiting in the queue and puts it with its request; responses
    /// to no active request (cancelled, or from an earlier occupant) are given back.
    fn route_responses(&self) -> Result<(), ReceiveError> {
        loop {
            let held = match self.responses.receive_held() {
                Ok(Some(held)) => held,
                Ok(None) => return Ok(()),
                // Enough is held already: what is stashed gets taken first.
                Err(ReceiveError::TooManyBorrowed { .. }) if self.stashed() > 0 => return Ok(()),
                Err(e) => return Err(e),
            };
            let (c, a, id) = split(held.header.correlation);
            let mut state = self.state.borrow_mut();
            let per_request = state.per_request;
            let ours = c == self.responses.slot()
                && state
                    .active
                    .get(a)
                    .copied()
                    .flatten()
                    .is_some_and(|r| r.id == id);
            match state.stashes.get_mut(a) {
                Some(stash) if ours && stash.len() < per_request => stash.push_back(held),
                _ => {
                    drop(state);
                    self.responses.release_held(held);
                }
            }
        }
    }

    /// Responses received and not yet taken, over all requests.
    fn stashed(&self) -> usize {
        self.state.borrow().stashes.iter().map(VecDeque::len).sum()
    }

    /// The state word of request slot `a`.
    fn word(&self, a: usize) -> u64 {
        self.service
            .request_word(self.responses.slot(), a)
            .map_or(0, |w| w.load(Ordering::Acquire))
    }

    /// Whether the server that took request slot `a` is still registered and, with
    /// `probe`, alive (a `flock` test of its token: for waits, never for busy polls).
    fn server_alive(&self, a: usize, probe: bool) -> bool {
        let Some(active) = self.state.borrow().active.get(a).copied().flatten() else {
            return true;
        };
        let (slot, epoch) = active.server;
        let Some(info) = self
            .service
            .slot(0, PortKind::Subscriber, slot)
            .filter(|info| info.epoch == epoch)
        else {
            return false;
        };
        if probe && !self.service.owner_alive(info.owner) {
            // Clean up at once, so every later (cheap) check sees the server gone too.
            self.service.remove_dead_nodes();
            return false;
        }
        true
    }

    /// Whether responses for request slot `a` are waiting.
    fn has_stashed(&self, a: usize) -> bool {
        self.state
            .borrow()
            .stashes
            .get(a)
            .is_some_and(|s| !s.is_empty())
    }
}

/// A loaned request, written in place (`DerefMut`), then sent with [`send`](Self::send) or
/// [`send_oneway`](Self::send_oneway). Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct RequestMut<'a, Req: ShmMessage, Res: ShmMessage> {
    client: &'a Client<Req, Res>,
    payload: Option<LoanedPayload<Req, Region>>,
}

impl<'a, Req: ShmMessage, Res: ShmMessage> RequestMut<'a, Req, Res> {
    /// Sends the request to one server.
    pub fn send(mut self) -> Result<PendingResponse<'a, Req, Res>, RequestSendError> {
        match self.payload.take() {
            Some(payload) => self.client.send_payload(payload),
            None => Err(RequestSendError::NoServer),
        }
    }

    /// Sends the request to one server, expecting no response.
    pub fn send_oneway(mut self) -> Result<(), RequestSendError> {
        match self.payload.take() {
            Some(payload) => self.client.send_oneway_payload(payload),
            None => Err(RequestSendError::NoServer),
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> std::ops::Deref for RequestMut<'_, Req, Res> {
    type Target = Req;
    fn deref(&self) -> &Req {
        match &self.payload {
            Some(p) => p,
            None => unreachable!("the payload is only taken by send, which consumes the request"),
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> std::ops::DerefMut for RequestMut<'_, Req, Res> {
    fn deref_mut(&mut self) -> &mut Req {
        match &mut self.payload {
            Some(p) => p,
            None => unreachable!("the payload is only taken by send, which consumes the request"),
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> Drop for RequestMut<'_, Req, Res> {
    fn drop(&mut self) {
        if let Some(payload) = self.payload.take() {
            self.client.requests.discard_payload(payload);
        }
    }
}

/// What a poll of a pending request found.
enum Poll<Res> {
    Response(Held<Res>),
    Finished,
    Nothing,
}

/// A request sent and not yet done with: receive its responses (a stream: any number,
/// ended by the server), and drop it to cancel the request (the server sees
/// [`ActiveRequest::is_cancelled`](super::ActiveRequest::is_cancelled)).
#[derive(Debug)]
pub struct PendingResponse<'a, Req: ShmMessage, Res: ShmMessage> {
    client: &'a Client<Req, Res>,
    slot: usize,
    id: u64,
}

impl<'a, Req: ShmMessage, Res: ShmMessage> PendingResponse<'a, Req, Res> {
    fn poll(&self) -> Result<Poll<Res>, ResponseError> {
        if let Some(held) = self.next_stashed()? {
            return Ok(Poll::Response(held));
        }
        // SYNC(acquire): pairs with the server's release CAS to `done`, which it makes
        // after pushing its last response: seeing `done` means all of them are queued, so
        // one more look finds any that arrived after the first. (Reading the word only when
        // nothing was found keeps its cache line off the path of a response.)
        if self.client.word(self.slot) != request_word(self.id, REQUEST_DONE) {
            return Ok(Poll::Nothing);
        }
        Ok(match self.next_stashed()? {
            Some(held) => Poll::Response(held),
            None => Poll::Finished,
        })
    }

    /// Routes what arrived, then takes this request's oldest stashed response.
    fn next_stashed(&self) -> Result<Option<Held<Res>>, ResponseError> {
        self.client.route_responses()?;
        Ok(self
            .client
            .state
            .borrow_mut()
            .stashes
            .get_mut(self.slot)
            .and_then(VecDeque::pop_front))
    }

    fn response(&self, held: Held<Res>) -> Response<'a, Req, Res> {
        Response {
            client: self.client,
            held: Some(held),
        }
    }

    /// The next response, if one is waiting; `Ok(None)` if none is waiting or the stream
    /// has ended ([`is_finished`](Self::is_finished)). Never blocks.
    pub fn receive(&self) -> Result<Option<Response<'a, Req, Res>>, ResponseError> {
        match self.poll()? {
            Poll::Response(held) => Ok(Some(self.response(held))),
            Poll::Finished => Ok(None),
            // A cheap check only: a busy-polling caller must not pay a syscall per poll.
            Poll::Nothing if self.client.server_alive(self.slot, false) => Ok(None),
            Poll::Nothing => self.gone(),
        }
    }

    /// Waits at most `timeout` for the next response; `Ok(None)` on timeout or when the
    /// stream has ended ([`is_finished`](Self::is_finished)). A server that dies meanwhile is
    /// noticed within [`LIVENESS_SLICE`] and reported as [`ResponseError::ServerGone`].
    pub fn receive_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<Response<'a, Req, Res>>, ResponseError> {
        self.wait(Some(timeout))
    }

    /// Waits for the next response however long it takes; `Ok(None)` when the stream has
    /// ended. Returns [`ResponseError::ServerGone`] if the server dies.
    pub fn receive_blocking(&self) -> Result<Option<Response<'a, Req, Res>>, ResponseError> {
        self.wait(None)
    }

    fn wait(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Option<Response<'a, Req, Res>>, ResponseError> {
        let deadline = timeout.map(|t| {
            process::monotonic_ns().saturating_add(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
        });
        loop {
            let slice = match deadline {
                None => LIVENESS_SLICE,
                Some(deadline) => {
                    let left = deadline.saturating_sub(process::monotonic_ns());
                    Duration::from_nanos(left).min(LIVENESS_SLICE)
                }
            };
            let mut failure = None;
            let found = self
                .client
                .responses
                .wait_until(Some(slice), || match self.poll() {
                    Ok(Poll::Response(held)) => Some(Some(held)),
                    Ok(Poll::Finished) => Some(None),
                    Ok(Poll::Nothing) => None,
                    Err(e) => {
                        failure = Some(e);
                        Some(None)
                    }
                })?;
            if let Some(error) = failure {
                return Err(error);
            }
            match found {
                Some(Some(held)) => return Ok(Some(self.response(held))),
                Some(None) => return Ok(None),
                None => {}
            }
            if !self.client.server_alive(self.slot, true) {
                return self.gone();
            }
            if deadline.is_some_and(|d| process::monotonic_ns() >= d) {
                return Ok(None);
            }
        }
    }

    fn gone(&self) -> Result<Option<Response<'a, Req, Res>>, ResponseError> {
        // One more look: the server may have ended the stream just before it left.
        match self.poll()? {
            Poll::Response(held) => Ok(Some(self.response(held))),
            Poll::Finished => Ok(None),
            Poll::Nothing => {
                tracing::debug!(service = %self.client.service.name, "the server of a pending request is gone");
                // Let the cleanup take back what the dead server held of ours.
                self.client.service.remove_dead_nodes();
                Err(ResponseError::ServerGone)
            }
        }
    }

    /// Whether the server ended the response stream and every response was taken.
    pub fn is_finished(&self) -> bool {
        if self.client.word(self.slot) != request_word(self.id, REQUEST_DONE) {
            return false;
        }
        let _ = self.client.route_responses();
        !self.client.has_stashed(self.slot)
    }
}

impl<Req: ShmMessage, Res: ShmMessage> Drop for PendingResponse<'_, Req, Res> {
    fn drop(&mut self) {
        let client = self.client;
        if let Some(w) = client
            .service
            .request_word(client.responses.slot(), self.slot)
        {
            // Cancel if still pending (the server may look); a finished request just ends.
            // A load first: a CAS, even one that fails, must own the cache line, and a call
            // that got its answer finds `done` here — usually in the line `poll` just read.
            let pending = request_word(self.id, REQUEST_PENDING);
            if w.load(Ordering::Relaxed) == pending {
                let _ = w.compare_exchange(
                    pending,
                    request_word(self.id, REQUEST_CANCELLED),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
        }
        let mut state = client.state.borrow_mut();
        if let Some(active) = state.active.get_mut(self.slot) {
            *active = None;
        }
        // The buffer stays (empty) for the next request: no allocation.
        if let Some(stash) = state.stashes.get_mut(self.slot) {
            for held in stash.drain(..) {
                client.responses.release_held(held);
            }
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> super::waitset::sealed::Sealed
    for PendingResponse<'_, Req, Res>
{
}

impl<Req: ShmMessage, Res: ShmMessage> Waitable for PendingResponse<'_, Req, Res> {
    fn wait_event(&self) -> Option<&Event<Region>> {
        self.client.responses.event()
    }

    fn is_ready(&self) -> bool {
        let _ = self.client.route_responses();
        self.client.has_stashed(self.slot)
            || self.client.word(self.slot) == request_word(self.id, REQUEST_DONE)
            || !self.client.server_alive(self.slot, true)
    }

    fn poll_interval(&self) -> Option<Duration> {
        // A dead server sends nothing: look again after each slice without news.
        Some(LIVENESS_SLICE)
    }
}

/// A response: reads the server's memory in place (`Deref<Target = Res>`); gives the chunk
/// back when dropped.
#[derive(Debug)]
pub struct Response<'a, Req: ShmMessage, Res: ShmMessage> {
    client: &'a Client<Req, Res>,
    /// Always `Some` until dropped.
    held: Option<Held<Res>>,
}

impl<Req: ShmMessage, Res: ShmMessage> Response<'_, Req, Res> {
    /// The responding server's sequence number of this response.
    pub fn sequence(&self) -> u64 {
        self.held.as_ref().map_or(0, |h| h.header.sequence)
    }

    /// When it was sent, in nanoseconds of `CLOCK_MONOTONIC`, if the server stamps its
    /// responses ([`ServerBuilder::timestamps`](crate::port::ServerBuilder::timestamps)).
    pub fn timestamp_ns(&self) -> Option<u64> {
        self.held
            .as_ref()
            .map(|h| h.header.timestamp_ns)
            .filter(|&t| t != 0)
    }

    /// Id of the responding server's response port.
    pub fn server_id(&self) -> u64 {
        self.held.as_ref().map_or(0, |h| h.header.origin)
    }
}

impl<Req: ShmMessage, Res: ShmMessage> std::ops::Deref for Response<'_, Req, Res> {
    type Target = Res;
    fn deref(&self) -> &Res {
        match &self.held {
            Some(held) => &held.payload,
            None => unreachable!("a response holds its payload until it is dropped"),
        }
    }
}

impl<Req: ShmMessage, Res: ShmMessage> Drop for Response<'_, Req, Res> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.client.responses.release_held(held);
        }
    }
}
