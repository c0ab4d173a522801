//! The client side: [`Client`] (typed) and [`RawClient`] (bytes) over one client core.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::super::channel::{
    Held, LoanError, Loaned, PublisherCreateError, ReceiveError, Received, Receiver, SendError,
    Sender, SenderOptions, SubscriberCreateError, Target, TypedLoan, TypedReceived, copy_exact,
    counterpart_methods, raw_payload_methods, validator,
};
use super::super::waitset::waitable;
use super::{Check, ID_MASK, LIVENESS_SLICE, ONEWAY, correlation, request_word, split};
use crate::message::{AnyBitPattern, Descriptor, ShmMessage, ValidationError, Value, ValueError};
use crate::os::futex::FutexError;
use crate::os::process;
use crate::os::signal::TerminationRequested;
use crate::service::layout::{REQUEST_CANCELLED, REQUEST_DONE, REQUEST_PENDING};
use crate::service::{
    PortKind, RawRequestResponseService, RequestResponseQos, RequestResponseService, ServiceInner,
};
use crate::sync::atomic::Ordering;
use crate::sync::chunk_store::LoanedChunk;
use crate::sync::event::WaitError;

/// Failure of creating a client.
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
    /// The request's bytes are not a valid message of the request type (byte-level
    /// clients check before sending); nothing was sent.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The value does not fit the request type.
    #[error(transparent)]
    Value(#[from] ValueError),
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

impl From<crate::port::asynchronous::waker::WakerError> for ResponseError {
    fn from(error: crate::port::asynchronous::waker::WakerError) -> Self {
        Self::Receive(ReceiveError::Async(error))
    }
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

/// A request in flight.
#[derive(Debug, Clone, Copy)]
struct Active {
    id: u64,
    /// The server slot (channel 0 receiver) and epoch that took the request.
    server: (usize, u64),
}

#[derive(Debug)]
struct ClientState {
    /// Per request slot: the request in flight, if any.
    active: Vec<Option<Active>>,
    /// Per request slot: responses received for its request and not yet taken.
    stashes: Vec<VecDeque<Held>>,
    next_id: u64,
    per_request: usize,
}

/// What both clients are made of: the request sender, the response receiver, and the
/// bookkeeping of the requests in flight.
#[derive(Debug)]
struct ClientCore {
    requests: Sender,
    responses: Receiver,
    state: RefCell<ClientState>,
    service: Arc<ServiceInner>,
    qos: RequestResponseQos,
    /// How responses are checked.
    check: Check,
}

impl ClientCore {
    fn create(service: Arc<ServiceInner>, check: Check) -> Result<Self, ClientCreateError> {
        let qos = service.request_response_qos();
        let too_many = |service: &ServiceInner| ClientCreateError::TooManyClients {
            service: service.name.to_string(),
            max: qos.max_clients,
        };
        let responses = match Receiver::create(service.clone(), 1, false) {
            Ok(s) => s,
            Err(SubscriberCreateError::TooManySubscribers { .. }) => {
                return Err(too_many(&service));
            }
            Err(e) => return Err(e.into()),
        };
        let requests = match Sender::create(service.clone(), 0, SenderOptions::default()) {
            Ok(p) => p,
            Err(PublisherCreateError::TooManyPublishers { .. }) => return Err(too_many(&service)),
            Err(e) => return Err(e.into()),
        };
        // Whatever a previous client of this slot left in the table is void now.
        for a in 0..qos.max_active_requests_per_client as usize {
            if let Some(w) = service.request_word(responses.slot(), a) {
                w.store(0, Ordering::Release);
            }
        }
        let per_request = (qos.response_buffer as usize)
            .saturating_mul(qos.max_servers as usize)
            .min(4096);
        let slots = qos.max_active_requests_per_client as usize;
        let active = (0..slots).map(|_| None).collect();
        // Allocated once: receiving never allocates.
        let stashes = (0..slots)
            .map(|_| VecDeque::with_capacity(per_request))
            .collect();
        // Ids start at a random point, so a stale server of an earlier occupant of the slot
        // cannot end one of our requests by chance.
        let next_id = process::random_u64().unwrap_or(1) & ID_MASK;
        tracing::info!(service = %service.name, slot = responses.slot(), "client created");
        Ok(Self {
            requests,
            responses,
            state: RefCell::new(ClientState {
                active,
                stashes,
                next_id,
                per_request,
            }),
            service,
            qos,
            check,
        })
    }

    /// Sends a loaned request to one server; the request slot it takes is freed when the
    /// returned [`Pending`] is dropped.
    fn send(&self, chunk: LoanedChunk) -> Result<Pending<'_>, RequestSendError> {
        let c = self.responses.slot();
        let (a, id) = {
            let mut state = self.state.borrow_mut();
            let Some(a) = state.active.iter().position(Option::is_none) else {
                drop(state);
                self.requests.discard(chunk);
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
            .send(chunk, Target::AnyOne, correlation(c, a, id));
        let Some(server) = delivery.as_ref().ok().and_then(|d| d.to) else {
            // Nobody got it: the slot is free again.
            set(0);
            return Err(match delivery {
                Err(e) => e.into(),
                Ok(_) => RequestSendError::NoServer,
            });
        };
        self.state.borrow_mut().active[a] = Some(Active { id, server });
        Ok(Pending {
            client: self,
            slot: a,
            id,
        })
    }

    /// Sends a loaned request to one server, expecting no response.
    fn send_oneway(&self, chunk: LoanedChunk) -> Result<(), RequestSendError> {
        let c = self.responses.slot();
        let delivery = self
            .requests
            .send(chunk, Target::AnyOne, correlation(c, ONEWAY, 0))?;
        if delivery.to.is_none() {
            return Err(RequestSendError::NoServer);
        }
        Ok(())
    }

    /// Takes every response waiting in the queue and puts it with its request; responses
    /// to no active request (cancelled, or from an earlier occupant) are given back.
    fn route_responses(&self) -> Result<(), ReceiveError> {
        let message = self.service.type_of(1);
        let check = |bytes: &[u8]| (self.check)(message, bytes);
        loop {
            let held = match self.responses.receive(check) {
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
                    self.responses.release(held);
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

    fn active_requests(&self) -> usize {
        self.state.borrow().active.iter().flatten().count()
    }
}

/// What both clients tell about themselves and their servers.
macro_rules! client_info {
    () => {
        /// Requests in flight (sent, their pending response not yet dropped).
        pub fn active_requests(&self) -> usize {
            self.core.active_requests()
        }

        /// Free chunks of the client's request segment (for tests and tools): back to its
        /// total once every request was taken back by its server, or its dead server
        /// cleaned up.
        pub fn free_chunks(&self) -> u32 {
            self.core.requests.free_chunks()
        }

        /// Whether a server is connected.
        pub fn has_servers(&self) -> bool {
            self.core.requests.connected() > 0
        }

        counterpart_methods!(server_count, "servers", core.requests);
    };
}

/// Builds a [`Client`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder<Req, Res> {
    service: Arc<ServiceInner>,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> ClientBuilder<Req, Res> {
    /// Creates the client: its request segment and its response slot.
    pub fn create(self) -> Result<Client<Req, Res>, ClientCreateError> {
        Ok(Client {
            core: ClientCore::create(self.service, |_, bytes| validator::<Res>(bytes))?,
            _types: PhantomData,
        })
    }
}

impl<Req: ShmMessage, Res: ShmMessage> RequestResponseService<Req, Res> {
    /// Starts building a client.
    pub fn client(&self) -> ClientBuilder<Req, Res> {
        ClientBuilder {
            service: self.inner.clone(),
            _types: PhantomData,
        }
    }
}

/// Sends requests to the servers of a request-response service and receives their
/// responses. `Send` but not `Sync`: one client per thread.
#[derive(Debug)]
pub struct Client<Req, Res> {
    core: ClientCore,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> Client<Req, Res> {
    client_info!();

    fn request<'a>(&'a self, loaned: Loaned<'a>) -> RequestMut<'a, Req, Res> {
        // SAFETY: every caller passes a typed loan it initialised: `loan` wrote a `Req`,
        // `loan_zeroed` zero bytes (valid for `Req`, asserted at compile time),
        // `loan_recycled` any bytes (valid for `Req: AnyBitPattern`).
        #[allow(unsafe_code)]
        let loan = unsafe { TypedLoan::assume_init(loaned) };
        RequestMut { loan, client: self }
    }

    /// Loans a request holding `Req::default()`, to be changed in place and sent with
    /// [`RequestMut::send`].
    pub fn loan(&self) -> Result<RequestMut<'_, Req, Res>, LoanError>
    where
        Req: Default,
    {
        let mut loaned = Loaned::typed::<Req>(&self.core.requests)?;
        // SAFETY: `Loaned::typed` checked size and alignment; the chunk is ours alone.
        #[allow(unsafe_code)]
        unsafe {
            loaned.as_mut_ptr().cast::<Req>().write(Req::default())
        };
        Ok(self.request(loaned))
    }

    /// Loans a request whose payload is all zero bytes (refused at compile time for types
    /// for which that is no value).
    pub fn loan_zeroed(&self) -> Result<RequestMut<'_, Req, Res>, LoanError> {
        const {
            assert!(
                Req::ZEROED_IS_VALID,
                "all-zero bytes are not a valid value of this request type: use loan"
            )
        };
        let mut loaned = Loaned::typed::<Req>(&self.core.requests)?;
        loaned.bytes_mut().fill(0);
        Ok(self.request(loaned))
    }

    /// Loans a request holding whatever its chunk held (an earlier request or zeroes),
    /// without writing a byte; for request types valid for every bit pattern. See
    /// [`Publisher::loan_recycled`](crate::Publisher::loan_recycled).
    pub fn loan_recycled(&self) -> Result<RequestMut<'_, Req, Res>, LoanError>
    where
        Req: AnyBitPattern,
    {
        Ok(self.request(Loaned::typed::<Req>(&self.core.requests)?))
    }

    /// Copies `request` into shared memory and sends it to one server.
    pub fn send_copy(&self, request: &Req) -> Result<PendingResponse<'_, Res>, RequestSendError>
    where
        Req: Copy,
    {
        self.copy(request)?.send()
    }

    /// Sends a request that expects no response (fire and forget).
    pub fn send_copy_oneway(&self, request: &Req) -> Result<(), RequestSendError>
    where
        Req: Copy,
    {
        self.copy(request)?.send_oneway()
    }

    fn copy(&self, request: &Req) -> Result<RequestMut<'_, Req, Res>, LoanError>
    where
        Req: Copy,
    {
        let mut loaned = Loaned::typed::<Req>(&self.core.requests)?;
        // SAFETY: `Loaned::typed` checked size and alignment; the chunk is ours alone.
        #[allow(unsafe_code)]
        unsafe {
            loaned.as_mut_ptr().cast::<Req>().write(*request)
        };
        Ok(self.request(loaned))
    }

    /// Sends `request` and waits for the first response (async, on any executor; see
    /// [`asynchronous`](crate::port::asynchronous)). No timeout of its own: wrap it in
    /// your executor's (`tokio::time::timeout`, say); dropping the future cancels the
    /// request. A server that dies is [`ResponseError::ServerGone`], one that ends the
    /// stream without a response [`CallError::NoResponse`].
    pub async fn call_async(&self, request: &Req) -> Result<Response<'_, Res>, CallError>
    where
        Req: Copy,
    {
        let mut pending = self.send_copy(request)?;
        match pending.receive_async().await? {
            Some(response) => Ok(response),
            None => Err(CallError::NoResponse),
        }
    }

    /// Sends `request` and waits at most `timeout` for the first response.
    pub fn call(&self, request: &Req, timeout: Duration) -> Result<Response<'_, Res>, CallError>
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
}

/// A loaned request, written in place (`DerefMut`), then sent with [`send`](Self::send) or
/// [`send_oneway`](Self::send_oneway). Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct RequestMut<'a, Req, Res> {
    loan: TypedLoan<'a, Req>,
    client: &'a Client<Req, Res>,
}

impl<'a, Req: ShmMessage, Res: ShmMessage> RequestMut<'a, Req, Res> {
    /// Sends the request to one server.
    pub fn send(self) -> Result<PendingResponse<'a, Res>, RequestSendError> {
        let mut loaned = self.loan.into_loaned();
        let chunk = loaned.take().ok_or(RequestSendError::NoServer)?;
        Ok(PendingResponse {
            pending: self.client.core.send(chunk)?,
            _type: PhantomData,
        })
    }

    /// Sends the request to one server, expecting no response.
    pub fn send_oneway(self) -> Result<(), RequestSendError> {
        let mut loaned = self.loan.into_loaned();
        let chunk = loaned.take().ok_or(RequestSendError::NoServer)?;
        self.client.core.send_oneway(chunk)
    }
}

impl<Req: ShmMessage, Res> std::ops::Deref for RequestMut<'_, Req, Res> {
    type Target = Req;
    fn deref(&self) -> &Req {
        &self.loan
    }
}

impl<Req: ShmMessage, Res> std::ops::DerefMut for RequestMut<'_, Req, Res> {
    fn deref_mut(&mut self) -> &mut Req {
        &mut self.loan
    }
}

/// What a poll of a pending request found.
enum Poll {
    Response(Held),
    Finished,
    Nothing,
}

/// The core of a pending response: the request's slot, and the waiting that both kinds of
/// client share. Dropping it cancels the request if it is still pending.
#[derive(Debug)]
struct Pending<'a> {
    client: &'a ClientCore,
    slot: usize,
    id: u64,
}

impl<'a> Pending<'a> {
    fn poll(&self) -> Result<Poll, ResponseError> {
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
    fn next_stashed(&self) -> Result<Option<Held>, ResponseError> {
        self.client.route_responses()?;
        Ok(self
            .client
            .state
            .borrow_mut()
            .stashes
            .get_mut(self.slot)
            .and_then(VecDeque::pop_front))
    }

    fn received(&self, held: Held) -> Received<'a> {
        Received::new(&self.client.responses, held)
    }

    fn receive(&self) -> Result<Option<Received<'a>>, ResponseError> {
        match self.poll()? {
            Poll::Response(held) => Ok(Some(self.received(held))),
            Poll::Finished => Ok(None),
            // A cheap check only: a busy-polling caller must not pay a syscall per poll.
            Poll::Nothing if self.client.server_alive(self.slot, false) => Ok(None),
            Poll::Nothing => self.gone(),
        }
    }

    /// One look for the async forms: `Some(Some)` a response, `Some(None)` the end of the
    /// stream, `None` nothing yet (and the server is alive: checked thoroughly, since
    /// async tasks look only when notified or every `LIVENESS_SLICE`).
    fn poll_async(&self) -> Result<Option<Option<Received<'a>>>, ResponseError> {
        match self.poll()? {
            Poll::Response(held) => Ok(Some(Some(self.received(held)))),
            Poll::Finished => Ok(Some(None)),
            Poll::Nothing if self.client.server_alive(self.slot, true) => Ok(None),
            Poll::Nothing => self.gone().map(Some),
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<Option<Received<'a>>, ResponseError> {
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
                Some(Some(held)) => return Ok(Some(self.received(held))),
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

    fn gone(&self) -> Result<Option<Received<'a>>, ResponseError> {
        // One more look: the server may have ended the stream just before it left.
        match self.poll()? {
            Poll::Response(held) => Ok(Some(self.received(held))),
            Poll::Finished => Ok(None),
            Poll::Nothing => {
                tracing::debug!(service = %self.client.service.name, "the server of a pending request is gone");
                // Let the cleanup take back what the dead server held of ours.
                self.client.service.remove_dead_nodes();
                Err(ResponseError::ServerGone)
            }
        }
    }

    fn is_finished(&self) -> bool {
        if self.client.word(self.slot) != request_word(self.id, REQUEST_DONE) {
            return false;
        }
        let _ = self.client.route_responses();
        !self.client.has_stashed(self.slot)
    }

    fn is_ready(&self) -> bool {
        let _ = self.client.route_responses();
        self.client.has_stashed(self.slot)
            || self.client.word(self.slot) == request_word(self.id, REQUEST_DONE)
            || !self.client.server_alive(self.slot, true)
    }
}

impl Drop for Pending<'_> {
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
                client.responses.release(held);
            }
        }
    }
}

/// What both pending responses offer; `$wrap` makes a response of a received chunk.
macro_rules! pending_methods {
    ($response:ty) => {
        /// The next response, if one is waiting; `Ok(None)` if none is waiting or the
        /// stream has ended ([`is_finished`](Self::is_finished)). Never blocks.
        pub fn receive(&self) -> Result<Option<$response>, ResponseError> {
            Ok(self.pending.receive()?.map(|r| self.wrap(r)))
        }

        /// Waits at most `timeout` for the next response; `Ok(None)` on timeout or when the
        /// stream has ended ([`is_finished`](Self::is_finished)). A server that dies
        /// meanwhile is noticed within [`LIVENESS_SLICE`] and reported as
        /// [`ResponseError::ServerGone`].
        pub fn receive_timeout(
            &self,
            timeout: Duration,
        ) -> Result<Option<$response>, ResponseError> {
            Ok(self.pending.wait(Some(timeout))?.map(|r| self.wrap(r)))
        }

        /// Waits for the next response however long it takes; `Ok(None)` when the stream
        /// has ended. Returns [`ResponseError::ServerGone`] if the server dies.
        pub fn receive_blocking(&self) -> Result<Option<$response>, ResponseError> {
            Ok(self.pending.wait(None)?.map(|r| self.wrap(r)))
        }

        /// The next response, when one comes; `Ok(None)` when the server ended the stream
        /// (the async form of [`receive_blocking`](Self::receive_blocking), on any executor;
        /// see [`asynchronous`](crate::port::asynchronous)). A server that dies meanwhile
        /// ends it with [`ResponseError::ServerGone`]. Dropping the future loses nothing.
        pub fn receive_async(
            &mut self,
        ) -> $crate::port::asynchronous::Next<'_, Self, Option<$response>, ResponseError> {
            $crate::port::asynchronous::Next::new(self, |s| {
                Ok(s.pending
                    .poll_async()?
                    .map(|found| found.map(|r| s.wrap(r))))
            })
        }

        /// Every response as it comes, as a
        /// [`Stream`](crate::port::asynchronous::Stream) that ends when the server ends
        /// the response stream, or after a [`ResponseError::ServerGone`] item.
        pub fn responses(
            &self,
        ) -> $crate::port::asynchronous::Items<'_, Self, $response, ResponseError> {
            $crate::port::asynchronous::Items::new(
                self,
                |s| {
                    Ok(s.pending
                        .poll_async()?
                        .map(|found| found.map(|r| s.wrap(r))))
                },
                true,
            )
        }

        /// Whether the server ended the response stream and every response was taken.
        pub fn is_finished(&self) -> bool {
            self.pending.is_finished()
        }
    };
}

/// What both responses tell of their header.
macro_rules! response_header {
    () => {
        /// The responding server's sequence number of this response.
        pub fn sequence(&self) -> u64 {
            self.received.header().sequence
        }

        /// When it was sent, in nanoseconds of `CLOCK_MONOTONIC`, if the server stamps its
        /// responses ([`ServerBuilder::timestamps`](crate::port::ServerBuilder::timestamps)).
        pub fn timestamp_ns(&self) -> Option<u64> {
            Some(self.received.header().timestamp_ns).filter(|&t| t != 0)
        }

        /// Id of the responding server's response port.
        pub fn server_id(&self) -> u64 {
            self.received.header().origin
        }
    };
}

/// A request sent and not yet done with: receive its responses (a stream: any number,
/// ended by the server), and drop it to cancel the request (the server sees
/// [`ActiveRequest::is_cancelled`](crate::port::ActiveRequest::is_cancelled)).
#[derive(Debug)]
pub struct PendingResponse<'a, Res> {
    pending: Pending<'a>,
    _type: PhantomData<fn() -> Res>,
}

impl<'a, Res: ShmMessage> PendingResponse<'a, Res> {
    pending_methods!(Response<'a, Res>);

    fn wrap(&self, received: Received<'a>) -> Response<'a, Res> {
        // SAFETY: a typed client's core checks responses with `validator::<Res>`.
        #[allow(unsafe_code)]
        let received = unsafe { TypedReceived::assume_valid(received) };
        Response { received }
    }
}

// A dead server sends nothing: a waiter looks again after each slice without news.
waitable!(
    {Res} PendingResponse<'_, Res>,
    |s| event: s.pending.client.responses.event(),
    ready: s.pending.is_ready(),
    interval: Some(LIVENESS_SLICE),
    parked: s.pending.client.responses.parked(),
);

/// A response: reads the server's memory in place (`Deref<Target = Res>`); gives the chunk
/// back when dropped.
#[derive(Debug)]
pub struct Response<'a, Res> {
    received: TypedReceived<'a, Res>,
}

impl<Res: ShmMessage> Response<'_, Res> {
    response_header!();
}

impl<Res: ShmMessage> std::ops::Deref for Response<'_, Res> {
    type Target = Res;
    fn deref(&self) -> &Res {
        &self.received
    }
}

/// Builds a [`RawClient`].
#[derive(Debug)]
#[must_use]
pub struct RawClientBuilder {
    service: Arc<ServiceInner>,
}

impl RawClientBuilder {
    /// Creates the client: its request segment and its response slot.
    pub fn create(self) -> Result<RawClient, ClientCreateError> {
        Ok(RawClient {
            core: ClientCore::create(self.service, |message, bytes| message.validate(bytes))?,
        })
    }
}

impl RawRequestResponseService {
    /// Starts building a byte-level client.
    pub fn client(&self) -> RawClientBuilder {
        RawClientBuilder {
            service: self.inner.clone(),
        }
    }
}

/// Sends requests given as bytes or [`Value`]s, checked against the request type before
/// they are sent, and receives responses as bytes checked against the response type.
/// `Send` but not `Sync`: one client per thread.
#[derive(Debug)]
pub struct RawClient {
    core: ClientCore,
}

impl RawClient {
    client_info!();

    /// The request type.
    pub fn request_type(&self) -> &Descriptor {
        self.core.service.type_of(0)
    }

    /// The response type.
    pub fn response_type(&self) -> &Descriptor {
        self.core.service.type_of(1)
    }

    /// Loans a request whose bytes hold whatever its chunk held (an earlier request, or
    /// zeroes): write all of them, then send.
    pub fn loan(&self) -> Result<RawRequestMut<'_>, LoanError> {
        Ok(RawRequestMut {
            loaned: Loaned::new(&self.core.requests, self.core.requests.loan()?),
            client: self,
        })
    }

    /// Copies `bytes` (exactly the request type's size) into a loaned request, checks it
    /// and sends it to one server.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<RawPendingResponse<'_>, RequestSendError> {
        let mut request = self.loan()?;
        copy_exact(request.bytes_mut(), bytes).map_err(RequestSendError::Invalid)?;
        request.send()
    }

    /// Copies `bytes` (exactly the request type's size) into a loaned request, checks it
    /// and sends it to one server, expecting no response.
    pub fn send_bytes_oneway(&self, bytes: &[u8]) -> Result<(), RequestSendError> {
        let mut request = self.loan()?;
        copy_exact(request.bytes_mut(), bytes).map_err(RequestSendError::Invalid)?;
        request.send_oneway()
    }

    /// Writes `value` into a loaned request and sends it to one server.
    pub fn send_value(&self, value: &Value) -> Result<RawPendingResponse<'_>, RequestSendError> {
        let mut request = self.loan()?;
        request.write_value(value)?;
        request.send()
    }
}

/// A loaned byte-level request: write its bytes, then send it, which checks them first.
/// Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct RawRequestMut<'a> {
    loaned: Loaned<'a>,
    client: &'a RawClient,
}

impl<'a> RawRequestMut<'a> {
    /// The payload's bytes (the request type's size).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.loaned.bytes_mut()
    }

    /// Encodes `value` into the payload.
    pub fn write_value(&mut self, value: &Value) -> Result<(), ValueError> {
        self.client
            .request_type()
            .encode_value_into(value, self.loaned.bytes_mut())
    }

    fn checked(mut self) -> Result<LoanedChunk, RequestSendError> {
        self.client
            .request_type()
            .validate(self.loaned.bytes_mut())?;
        self.loaned.take().ok_or(RequestSendError::NoServer)
    }

    /// Checks the bytes against the request type and sends them to one server.
    pub fn send(self) -> Result<RawPendingResponse<'a>, RequestSendError> {
        let client = self.client;
        let chunk = self.checked()?;
        Ok(RawPendingResponse {
            pending: client.core.send(chunk)?,
            client,
        })
    }

    /// Checks the bytes and sends them to one server, expecting no response.
    pub fn send_oneway(self) -> Result<(), RequestSendError> {
        let client = self.client;
        let chunk = self.checked()?;
        client.core.send_oneway(chunk)
    }
}

/// A byte-level request sent and not yet done with (see [`PendingResponse`]).
#[derive(Debug)]
pub struct RawPendingResponse<'a> {
    pending: Pending<'a>,
    client: &'a RawClient,
}

impl<'a> RawPendingResponse<'a> {
    pending_methods!(RawResponse<'a>);

    fn wrap(&self, received: Received<'a>) -> RawResponse<'a> {
        RawResponse {
            received,
            message: self.client.response_type(),
        }
    }
}

waitable!(
    RawPendingResponse<'_>,
    |s| event: s.pending.client.responses.event(),
    ready: s.pending.is_ready(),
    interval: Some(LIVENESS_SLICE),
    parked: s.pending.client.responses.parked(),
);

/// A byte-level response: the server's bytes in place, checked against the response type;
/// gives the chunk back when dropped.
#[derive(Debug)]
pub struct RawResponse<'a> {
    received: Received<'a>,
    message: &'a Descriptor,
}

impl RawResponse<'_> {
    response_header!();

    raw_payload_methods!(received);

    /// The response type.
    pub fn message_type(&self) -> &Descriptor {
        self.message
    }
}

// Ports move into threads and tasks.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Client<u64, u64>>();
    is_send::<RawClient>();
};
