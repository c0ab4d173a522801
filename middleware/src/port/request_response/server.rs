//! The server side: [`Server`] (typed) and [`RawServer`] (bytes) over one server core.
//!
//! Each received request is an active request: respond to it any number of times (a
//! stream) — each response goes to the one client that asked — and drop it to end the
//! stream, which marks the request `done` in the service's request table and wakes the
//! client.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::channel::{
    Held, LoanError, Loaned, PublisherCreateError, ReceiveError, Received, Receiver, SendError,
    Sender, SenderOptions, SubscriberCreateError, Target, TypedLoan, copy_exact,
    counterpart_methods, raw_payload_methods, sender_setters, validator,
};
use super::super::waitset::waitable;
use super::{Check, ONEWAY, correlation, request_word, split};
use crate::message::{AnyBitPattern, Descriptor, ShmMessage, ValidationError, Value, ValueError};
use crate::service::layout::{REQUEST_DONE, REQUEST_PENDING};
use crate::service::{PortKind, RawRequestResponseService, RequestResponseService, ServiceInner};
use crate::sync::atomic::Ordering;
use crate::sync::chunk_store::LoanedChunk;

/// Failure of creating a server.
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
    /// The request was sent one-way: nobody waits for a response.
    #[error("this request expects no response (it was sent one-way)")]
    NoResponseExpected,
    /// The client is gone (it left or died); the response was dropped.
    #[error("the client that sent this request is gone; the response was dropped")]
    ClientGone,
    /// Loaning the response failed.
    #[error(transparent)]
    Loan(#[from] LoanError),
    /// The response's bytes are not a valid message of the response type (byte-level
    /// servers check before sending); nothing was sent.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The value does not fit the response type.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// The client did not make room in its response buffer within the send timeout.
    #[error("sending the response failed: {0}")]
    Send(#[from] SendError),
}

/// What both servers are made of: the request receiver and the response sender.
#[derive(Debug)]
struct ServerCore {
    requests: Receiver,
    responses: Sender,
    service: Arc<ServiceInner>,
    /// How requests are checked.
    check: Check,
}

impl ServerCore {
    fn create(
        service: Arc<ServiceInner>,
        options: SenderOptions,
        check: Check,
    ) -> Result<Self, ServerCreateError> {
        let max = service.qos(0).max_subscribers;
        let too_many = |service: &ServiceInner| ServerCreateError::TooManyServers {
            service: service.name.to_string(),
            max,
        };
        let requests = match Receiver::create(service.clone(), 0, false) {
            Ok(s) => s,
            Err(SubscriberCreateError::TooManySubscribers { .. }) => {
                return Err(too_many(&service));
            }
            Err(e) => return Err(e.into()),
        };
        let responses = match Sender::create(service.clone(), 1, options) {
            Ok(p) => p,
            Err(PublisherCreateError::TooManyPublishers { .. }) => return Err(too_many(&service)),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(service = %service.name, slot = requests.slot(), "server created");
        Ok(Self {
            requests,
            responses,
            service,
            check,
        })
    }

    fn take(&self) -> Result<Option<Held>, ReceiveError> {
        let message = self.service.type_of(0);
        self.requests
            .receive(|bytes: &[u8]| (self.check)(message, bytes))
    }

    /// The next request with a valid reply address, if one is waiting.
    fn receive(&self) -> Result<Option<Active<'_>>, ReceiveError> {
        while let Some(held) = self.take()? {
            if let Some(active) = self.activate(held) {
                return Ok(Some(active));
            }
        }
        Ok(None)
    }

    /// Waits at most `timeout` (`None`: however long it takes) for the next request.
    fn wait(&self, timeout: Option<Duration>) -> Result<Option<Active<'_>>, ReceiveError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let found = self
                .requests
                .wait_until(left, || self.receive().transpose())?;
            match found.transpose()? {
                Some(active) => return Ok(Some(active)),
                None if deadline.is_some() => return Ok(None),
                None => {}
            }
        }
    }

    /// Checks a request's correlation word (a hostile client may write anything); a
    /// request whose reply slot is out of range is dropped.
    fn activate(&self, held: Held) -> Option<Active<'_>> {
        let word = held.header.correlation;
        let received = Received::new(&self.requests, held);
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
        Some(Active {
            server: self,
            received,
            client,
            slot,
            id,
            abandoned: false,
        })
    }
}

/// What both servers offer; `$wrap` makes an active request of the core's.
macro_rules! server_methods {
    ($request:ty) => {
        /// The next request, if one is waiting. Never blocks.
        pub fn receive(&self) -> Result<Option<$request>, ReceiveError> {
            Ok(self.core.receive()?.map(|a| self.wrap(a)))
        }

        /// Waits at most `timeout` for the next request; `Ok(None)` on timeout.
        pub fn receive_timeout(&self, timeout: Duration) -> Result<Option<$request>, ReceiveError> {
            Ok(self.core.wait(Some(timeout))?.map(|a| self.wrap(a)))
        }

        /// Waits for the next request, however long it takes.
        pub fn receive_blocking(&self) -> Result<$request, ReceiveError> {
            loop {
                if let Some(active) = self.core.wait(None)? {
                    return Ok(self.wrap(active));
                }
            }
        }

        $crate::port::asynchronous::async_methods! {
            /// The next request, when one comes: the async form of
            /// [`receive_blocking`](Self::receive_blocking), on any executor (see
            /// [`asynchronous`](crate::port::asynchronous)). Dropping the future loses nothing.
            fn receive_async -> $request;
            /// Every request as it comes, as a [`Stream`](crate::port::asynchronous::Stream)
            /// (async; see [`asynchronous`](crate::port::asynchronous)).
            fn requests;
            error ReceiveError;
            take |s| s.receive()
        }

        /// Whether a request is waiting (without taking it).
        pub fn has_requests(&self) -> bool {
            self.core.requests.poll_ready()
        }

        /// Free chunks of the server's response segment (for tests and tools): back to its
        /// total once every client released its responses, or its dead client was cleaned
        /// up.
        pub fn free_chunks(&self) -> u32 {
            self.core.responses.free_chunks()
        }

        counterpart_methods!(client_count, "clients", core.responses);
    };
}

/// The core of an active request: the reply address, responding, and ending the stream
/// when dropped.
#[derive(Debug)]
struct Active<'a> {
    server: &'a ServerCore,
    received: Received<'a>,
    /// The client's response slot (channel 1 receiver).
    client: usize,
    /// The request slot in the client's table, or `ONEWAY`.
    slot: usize,
    id: u64,
    /// Let go of without ending the stream (`abandon`).
    abandoned: bool,
}

impl Active<'_> {
    fn expects_response(&self) -> bool {
        self.slot != ONEWAY
    }

    fn is_cancelled(&self) -> bool {
        if !self.expects_response() {
            return false;
        }
        let service = &self.server.service;
        let pending = service
            .request_word(self.client, self.slot)
            .is_some_and(|w| w.load(Ordering::Acquire) == request_word(self.id, REQUEST_PENDING));
        !pending || service.slot(1, PortKind::Subscriber, self.client).is_none()
    }

    /// A loan for a response, if one is expected.
    fn loan(&self) -> Result<Loaned<'_>, RespondError> {
        if !self.expects_response() {
            return Err(RespondError::NoResponseExpected);
        }
        Ok(Loaned::new(
            &self.server.responses,
            self.server.responses.loan()?,
        ))
    }

    /// A typed loan for a response, if one is expected.
    fn loan_typed<Res: ShmMessage>(&self) -> Result<Loaned<'_>, RespondError> {
        if !self.expects_response() {
            return Err(RespondError::NoResponseExpected);
        }
        Ok(Loaned::typed::<Res>(&self.server.responses)?)
    }

    fn send(&self, chunk: LoanedChunk) -> Result<(), RespondError> {
        let server = self.server;
        match server.responses.send(
            chunk,
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

impl Drop for Active<'_> {
    fn drop(&mut self) {
        if !self.expects_response() || self.abandoned {
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

/// What both active requests offer.
macro_rules! active_methods {
    () => {
        /// Whether the client expects responses (it did not send the request one-way).
        pub fn expects_response(&self) -> bool {
            self.active.expects_response()
        }

        /// Whether the client stopped waiting (it dropped its pending response, or is
        /// gone): further work for this request is wasted.
        pub fn is_cancelled(&self) -> bool {
            self.active.is_cancelled()
        }

        /// Id of the client's request port.
        pub fn client_id(&self) -> u64 {
            self.active.received.header().origin
        }

        /// Lets go of the request *without* ending its response stream: the client goes
        /// on waiting until this server port is gone, and then gets
        /// [`ResponseError::ServerGone`](crate::port::ResponseError::ServerGone). Drop the
        /// server right after. This is for proxies of a remote server that was lost (the
        /// network bridge), which must report the loss as a local server's death would;
        /// any other server ends the stream by dropping the request.
        pub fn abandon(mut self) {
            self.active.abandoned = true;
        }
    };
}

/// Builds a [`Server`].
#[derive(Debug)]
#[must_use]
pub struct ServerBuilder<Req, Res> {
    service: Arc<ServiceInner>,
    options: SenderOptions,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> ServerBuilder<Req, Res> {
    sender_setters!(
        "Stamps every response with the monotonic clock at send, for [`Response::timestamp_ns`](crate::port::Response::timestamp_ns) (default off).",
        "How long a response waits for room in a client's full response buffer (default 1 s)."
    );

    /// Creates the server: its request slot and its response segment.
    pub fn create(self) -> Result<Server<Req, Res>, ServerCreateError> {
        Ok(Server {
            core: ServerCore::create(self.service, self.options, |_, bytes| {
                validator::<Req>(bytes)
            })?,
            _types: PhantomData,
        })
    }
}

impl<Req: ShmMessage, Res: ShmMessage> RequestResponseService<Req, Res> {
    /// Starts building a server.
    pub fn server(&self) -> ServerBuilder<Req, Res> {
        ServerBuilder {
            service: self.inner.clone(),
            options: SenderOptions::default(),
            _types: PhantomData,
        }
    }
}

/// Receives the requests of a request-response service and responds to them.
/// `Send` but not `Sync`: one server per thread.
#[derive(Debug)]
pub struct Server<Req, Res> {
    core: ServerCore,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> Server<Req, Res> {
    server_methods!(ActiveRequest<'_, Req, Res>);

    fn wrap<'a>(&'a self, active: Active<'a>) -> ActiveRequest<'a, Req, Res> {
        ActiveRequest {
            active,
            _types: PhantomData,
        }
    }
}

waitable!({Req, Res} Server<Req, Res>, |s| event: s.core.requests.event(), ready: s.core.requests.poll_ready(), parked: s.core.requests.parked());

/// A request being served: read it (`Deref<Target = Req>`), respond any number of times,
/// and drop it to end the response stream.
#[derive(Debug)]
pub struct ActiveRequest<'a, Req, Res> {
    /// Received with `validator::<Req>` (the typed server's check).
    active: Active<'a>,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<'a, Req: ShmMessage, Res: ShmMessage> ActiveRequest<'a, Req, Res> {
    active_methods!();

    fn response<'r>(&'r self, loaned: Loaned<'r>) -> ResponseMut<'r, Res> {
        // SAFETY: every caller passes a typed loan it initialised: `loan` wrote a `Res`,
        // `loan_zeroed` zero bytes (valid for `Res`, asserted at compile time),
        // `loan_recycled` any bytes (valid for `Res: AnyBitPattern`).
        #[allow(unsafe_code)]
        let loan = unsafe { TypedLoan::assume_init(loaned) };
        ResponseMut {
            loan,
            active: &self.active,
        }
    }

    /// Loans a response holding `Res::default()`, to be changed in place and sent with
    /// [`ResponseMut::send`].
    pub fn loan(&self) -> Result<ResponseMut<'_, Res>, RespondError>
    where
        Res: Default,
    {
        let mut loaned = self.active.loan_typed::<Res>()?;
        // SAFETY: `Loaned::typed` checked size and alignment; the chunk is ours alone.
        #[allow(unsafe_code)]
        unsafe {
            loaned.as_mut_ptr().cast::<Res>().write(Res::default())
        };
        Ok(self.response(loaned))
    }

    /// Loans a response whose payload is all zero bytes (refused at compile time for types
    /// for which that is no value).
    pub fn loan_zeroed(&self) -> Result<ResponseMut<'_, Res>, RespondError> {
        const {
            assert!(
                Res::ZEROED_IS_VALID,
                "all-zero bytes are not a valid value of this response type: use loan"
            )
        };
        let mut loaned = self.active.loan_typed::<Res>()?;
        loaned.bytes_mut().fill(0);
        Ok(self.response(loaned))
    }

    /// Loans a response holding whatever its chunk held (an earlier response or zeroes),
    /// without writing a byte; for response types valid for every bit pattern.
    pub fn loan_recycled(&self) -> Result<ResponseMut<'_, Res>, RespondError>
    where
        Res: AnyBitPattern,
    {
        Ok(self.response(self.active.loan_typed::<Res>()?))
    }

    /// Copies `response` into shared memory and sends it to the client.
    pub fn respond_copy(&self, response: &Res) -> Result<(), RespondError>
    where
        Res: Copy,
    {
        let mut loaned = self.active.loan_typed::<Res>()?;
        // SAFETY: `Loaned::typed` checked size and alignment; the chunk is ours alone.
        #[allow(unsafe_code)]
        unsafe {
            loaned.as_mut_ptr().cast::<Res>().write(*response)
        };
        self.response(loaned).send()
    }
}

impl<Req: ShmMessage, Res> std::ops::Deref for ActiveRequest<'_, Req, Res> {
    type Target = Req;
    fn deref(&self) -> &Req {
        // SAFETY: a typed server's core checks requests with `validator::<Req>`.
        #[allow(unsafe_code)]
        unsafe {
            self.active.received.read_as::<Req>()
        }
    }
}

/// A loaned response, written in place (`DerefMut`), then sent with [`send`](Self::send).
/// Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct ResponseMut<'r, Res> {
    loan: TypedLoan<'r, Res>,
    active: &'r Active<'r>,
}

impl<Res: ShmMessage> ResponseMut<'_, Res> {
    /// Sends the response to the client that asked.
    pub fn send(self) -> Result<(), RespondError> {
        let active = self.active;
        let mut loaned = self.loan.into_loaned();
        match loaned.take() {
            Some(chunk) => active.send(chunk),
            None => Ok(()),
        }
    }
}

impl<Res: ShmMessage> std::ops::Deref for ResponseMut<'_, Res> {
    type Target = Res;
    fn deref(&self) -> &Res {
        &self.loan
    }
}

impl<Res: ShmMessage> std::ops::DerefMut for ResponseMut<'_, Res> {
    fn deref_mut(&mut self) -> &mut Res {
        &mut self.loan
    }
}

/// Builds a [`RawServer`].
#[derive(Debug)]
#[must_use]
pub struct RawServerBuilder {
    service: Arc<ServiceInner>,
    options: SenderOptions,
}

impl RawServerBuilder {
    sender_setters!(
        "Stamps every response with the monotonic clock at send, for [`Response::timestamp_ns`](crate::port::Response::timestamp_ns) (default off).",
        "How long a response waits for room in a client's full response buffer (default 1 s)."
    );

    /// Creates the server: its request slot and its response segment.
    pub fn create(self) -> Result<RawServer, ServerCreateError> {
        Ok(RawServer {
            core: ServerCore::create(self.service, self.options, |message, bytes| {
                message.validate(bytes)
            })?,
        })
    }
}

impl RawRequestResponseService {
    /// Starts building a byte-level server.
    pub fn server(&self) -> RawServerBuilder {
        RawServerBuilder {
            service: self.inner.clone(),
            options: SenderOptions::default(),
        }
    }
}

/// Receives requests as bytes checked against the request type and responds with bytes or
/// [`Value`]s checked against the response type. `Send` but not `Sync`: one server per
/// thread.
#[derive(Debug)]
pub struct RawServer {
    core: ServerCore,
}

impl RawServer {
    server_methods!(RawActiveRequest<'_>);

    fn wrap<'a>(&'a self, active: Active<'a>) -> RawActiveRequest<'a> {
        RawActiveRequest {
            active,
            message: self.request_type(),
            response: self.response_type(),
        }
    }

    /// The request type.
    pub fn request_type(&self) -> &Descriptor {
        self.core.service.type_of(0)
    }

    /// The response type.
    pub fn response_type(&self) -> &Descriptor {
        self.core.service.type_of(1)
    }
}

waitable!(RawServer, |s| event: s.core.requests.event(), ready: s.core.requests.poll_ready(), parked: s.core.requests.parked());

/// A byte-level request being served: its bytes, checked against the request type;
/// respond any number of times and drop it to end the stream.
#[derive(Debug)]
pub struct RawActiveRequest<'a> {
    active: Active<'a>,
    /// The request type.
    message: &'a Descriptor,
    /// The response type.
    response: &'a Descriptor,
}

impl RawActiveRequest<'_> {
    active_methods!();

    raw_payload_methods!(active.received);

    /// The request type.
    pub fn request_type(&self) -> &Descriptor {
        self.message
    }

    /// The response type.
    pub fn response_type(&self) -> &Descriptor {
        self.response
    }

    /// Loans a response whose bytes hold whatever its chunk held: write all of them, then
    /// send.
    pub fn loan(&self) -> Result<RawResponseMut<'_>, RespondError> {
        Ok(RawResponseMut {
            loaned: self.active.loan()?,
            active: &self.active,
            message: self.response,
        })
    }

    /// Copies `bytes` (exactly the response type's size) into a loaned response, checks
    /// and sends it.
    pub fn respond_bytes(&self, bytes: &[u8]) -> Result<(), RespondError> {
        let mut response = self.loan()?;
        copy_exact(response.bytes_mut(), bytes).map_err(RespondError::Invalid)?;
        response.send()
    }

    /// Writes `value` into a loaned response and sends it.
    pub fn respond_value(&self, value: &Value) -> Result<(), RespondError> {
        let mut response = self.loan()?;
        response.write_value(value)?;
        response.send()
    }
}

/// A loaned byte-level response: write its bytes, then send it, which checks them first.
#[derive(Debug)]
pub struct RawResponseMut<'r> {
    loaned: Loaned<'r>,
    active: &'r Active<'r>,
    message: &'r Descriptor,
}

impl RawResponseMut<'_> {
    /// The payload's bytes (the response type's size).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.loaned.bytes_mut()
    }

    /// Encodes `value` into the payload.
    pub fn write_value(&mut self, value: &Value) -> Result<(), ValueError> {
        self.message
            .encode_value_into(value, self.loaned.bytes_mut())
    }

    /// Checks the bytes against the response type and sends them to the client.
    pub fn send(mut self) -> Result<(), RespondError> {
        self.message.validate(self.loaned.bytes_mut())?;
        match self.loaned.take() {
            Some(chunk) => self.active.send(chunk),
            None => Ok(()),
        }
    }
}

// Ports move into threads and tasks.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Server<u64, u64>>();
    is_send::<RawServer>();
    is_send::<
        crate::port::asynchronous::Next<
            'static,
            Server<u64, u64>,
            ActiveRequest<'static, u64, u64>,
            ReceiveError,
        >,
    >();
};
