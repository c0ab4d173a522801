//! The subscribing port.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::message::ShmMessage;
use crate::os::futex::FutexError;
use crate::os::mmap::{Mapping, Protection};
use crate::os::process;
use crate::os::shm::{Access, SharedMemory};
use crate::os::signal::TerminationRequested;
use crate::service::layout::{Entry, QueueKind, tag};
use crate::service::{Claim, OsError, OverflowPolicy, PortKind, ServiceInner};
use crate::sync::Event;
use crate::sync::chunk_store::{ChunkHeader, ChunkReader, HeldPayload, HoldError};
use crate::sync::event::WaitError;
use crate::sync::index_queue::{IndexQueueConsumer, IndexQueueProducer, Overflow};

type Region = Arc<Mapping>;

/// Failure of [`SubscriberBuilder::create`].
#[derive(Debug, thiserror::Error)]
pub enum SubscriberCreateError {
    /// Every subscriber slot is taken.
    #[error(
        "service {service:?} already has its maximum of {max} subscribers; raise max_subscribers when creating it"
    )]
    TooManySubscribers {
        /// The service.
        service: String,
        /// The limit.
        max: u32,
    },
    /// An operating-system call failed.
    #[error(transparent)]
    Os(#[from] OsError),
}

/// Failure of a receive.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The subscriber holds `max_borrowed` samples of a publisher that has more.
    #[error(
        "this subscriber already holds {max} samples of one publisher; drop some, or raise max_borrowed"
    )]
    TooManyBorrowed {
        /// The limit.
        max: u32,
    },
    /// A publisher sent a sample that is not a valid message; it was dropped.
    #[error("a publisher sent an invalid sample, which was dropped: {0}")]
    Invalid(#[from] HoldError),
    /// Sleeping on the wake-up word failed.
    #[error("waiting for samples failed: {0}")]
    Wait(#[from] FutexError),
    /// The program was asked to terminate (SIGINT or SIGTERM with
    /// [`NodeBuilder::signal_handling`](crate::node::NodeBuilder::signal_handling)): leave
    /// the loop and drop the ports.
    #[error(transparent)]
    Terminated(#[from] TerminationRequested),
}

impl From<WaitError> for ReceiveError {
    fn from(error: WaitError) -> Self {
        match error {
            WaitError::Futex(e) => Self::Wait(e),
            WaitError::Terminated(e) => Self::Terminated(e),
        }
    }
}

/// Builds a [`Subscriber`].
#[derive(Debug)]
#[must_use]
pub struct SubscriberBuilder<T> {
    service: Arc<ServiceInner>,
    ch: usize,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> SubscriberBuilder<T> {
    pub(crate) fn new(service: Arc<ServiceInner>, ch: usize) -> Self {
        Self {
            service,
            ch,
            _type: PhantomData,
        }
    }

    /// Creates the subscriber. From the moment this returns, every sample sent receives it.
    pub fn create(self) -> Result<Subscriber<T>, SubscriberCreateError> {
        let (service, ch) = (self.service, self.ch);
        let qos = *service.qos(ch);
        let port = loop {
            let id = process::random_u64().map_err(OsError::from)?;
            if id != 0 {
                break id;
            }
        };
        // Entries a previous occupant of the slot left unread are stale, and so are the
        // overflows they counted; a lossless (`Block`) publisher would otherwise wait for
        // room that nobody makes.
        let clear = |slot: usize| {
            for p in 0..qos.max_publishers as usize {
                if let Ok(mut queue) = service.consumer(ch, QueueKind::Deliver, p, slot) {
                    while let Ok(Some(_)) = queue.pop() {}
                    let _ = queue.take_overflows();
                }
            }
        };
        let Some(claim) = service.claim_slot(ch, PortKind::Subscriber, port, &clear) else {
            return Err(SubscriberCreateError::TooManySubscribers {
                service: service.name.to_string(),
                max: qos.max_subscribers,
            });
        };
        let mut delivers = Vec::new();
        let mut returns = Vec::new();
        for p in 0..qos.max_publishers as usize {
            let opened = service
                .consumer(ch, QueueKind::Deliver, p, claim.slot)
                .and_then(|d| Ok((d, service.producer(ch, QueueKind::Return, p, claim.slot)?)));
            match opened {
                Ok((d, r)) => {
                    delivers.push(d);
                    returns.push(r);
                }
                Err(e) => {
                    service.release_slot(ch, PortKind::Subscriber, claim.slot);
                    return Err(e.into());
                }
            }
        }
        let event = service.event(ch, PortKind::Subscriber, claim.slot);
        tracing::info!(service = %service.name, port = %format!("{port:016x}"), slot = claim.slot, "subscriber created");
        Ok(Subscriber {
            state: RefCell::new(State {
                connections: (0..qos.max_publishers).map(|_| None).collect(),
                delivers,
                returns,
                generation: u64::MAX,
                next: 0,
                missed: 0,
                deferred: None,
            }),
            service,
            ch,
            claim,
            port,
            event,
            _type: PhantomData,
        })
    }
}

#[derive(Debug)]
struct Connection {
    epoch: u64,
    port: u64,
    reader: Arc<ChunkReader<Region>>,
    event: Option<Event<Region>>,
    borrowed: u32,
}

#[derive(Debug)]
struct State {
    connections: Vec<Option<Connection>>,
    delivers: Vec<IndexQueueConsumer<Region>>,
    returns: Vec<IndexQueueProducer<Region>>,
    generation: u64,
    next: usize,
    missed: u64,
    /// The last chunk let go of and not yet returned. Returning it means writing a cache
    /// line the publisher's core reads (and dropping a mapping handle, a locked
    /// instruction); doing that at the next receive (or the next release) instead of in
    /// `Sample::drop` keeps both off the path of whatever the caller does next —
    /// typically, publishing its answer.
    deferred: Option<Deferred>,
}

/// A chunk let go of and not yet returned (see `State::deferred`).
#[derive(Debug)]
struct Deferred {
    publisher_slot: usize,
    publisher_epoch: u64,
    index: u16,
    /// Keeps the publisher's segment mapped until the chunk is returned.
    _region: Region,
}

/// Receives samples of `T` from every publisher of its service, without copying.
///
/// `Send` but not `Sync`: use one subscriber per thread.
#[derive(Debug)]
pub struct Subscriber<T> {
    service: Arc<ServiceInner>,
    /// The service's channel this port subscribes to.
    ch: usize,
    state: RefCell<State>,
    claim: Claim,
    port: u64,
    event: Option<Event<Region>>,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> Subscriber<T> {
    /// The port's id.
    pub fn id(&self) -> u64 {
        self.port
    }

    /// The next sample, if one is waiting. Never blocks.
    pub fn receive(&self) -> Result<Option<Sample<'_, T>>, ReceiveError> {
        Ok(self.receive_held()?.map(|held| Sample {
            subscriber: self,
            held: Some(held),
        }))
    }

    /// The next sample as an owned handle (no borrow of the port): give it back with
    /// [`Self::release_held`].
    pub(crate) fn receive_held(&self) -> Result<Option<Held<T>>, ReceiveError> {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        self.return_deferred(state);
        self.refresh(state);
        let publishers = state.connections.len();
        let qos = self.service.qos(self.ch);
        let (max, blocking) = (qos.max_borrowed, qos.overflow == OverflowPolicy::Block);
        let mut limited = false;
        // Round robin from `next`, without a division per step.
        let wrap = |i: usize| if i >= publishers { i - publishers } else { i };
        for k in 0..publishers {
            let p = wrap(state.next + k);
            let Some(connection) = state.connections[p].as_mut() else {
                continue;
            };
            let queue = &mut state.delivers[p];
            if connection.borrowed >= max {
                limited |= !queue.is_empty();
                continue;
            }
            loop {
                let raw = match queue.pop() {
                    Ok(Some(raw)) => raw,
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(service = %self.service.name, %error, "delivery queue corrupted; dropping the publisher");
                        state.connections[p] = None;
                        break;
                    }
                };
                let entry = Entry::decode(raw);
                if entry.publisher_epoch != tag(connection.epoch)
                    || entry.subscriber_epoch != tag(self.claim.epoch)
                {
                    continue; // left over from a previous occupant of either slot
                }
                if blocking && let Some(event) = &connection.event {
                    let _ = event.notify();
                }
                let index = u32::from(entry.index);
                let held = match connection.reader.header(index) {
                    None => Err(HoldError::OutOfRange {
                        index,
                        count: connection.reader.layout().count,
                    }),
                    Some(header) if header.origin != connection.port => {
                        Err(HoldError::ForeignChunk {
                            index,
                            found: header.origin,
                            expected: connection.port,
                        })
                    }
                    Some(header) => connection.reader.hold::<T>(index).map(|p| (p, header)),
                };
                match held {
                    Ok((payload, header)) => {
                        connection.borrowed += 1;
                        state.next = wrap(p + 1);
                        return Ok(Some(Held {
                            payload,
                            header,
                            publisher_slot: p,
                            publisher_epoch: connection.epoch,
                            index: entry.index,
                        }));
                    }
                    Err(error) => {
                        let _ = state.returns[p]
                            .push(self.entry(entry.index, connection.epoch), Overflow::Reject);
                        tracing::warn!(service = %self.service.name, %error, "dropped an invalid sample");
                        return Err(error.into());
                    }
                }
            }
        }
        if limited {
            return Err(ReceiveError::TooManyBorrowed { max });
        }
        // Publishers that left with samples queued: free them once everything is read.
        for p in 0..publishers {
            if let Some(connection) = &state.connections[p]
                && state.delivers[p].is_empty()
                && self.service.slot_is_draining(self.ch, p)
            {
                self.service.finish_draining(self.ch, p, connection.port);
            }
        }
        Ok(None)
    }

    /// Waits for the next sample at most `timeout`; `Ok(None)` on timeout.
    pub fn receive_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<Sample<'_, T>>, ReceiveError> {
        self.wait(Some(timeout))
    }

    /// Waits for the next sample, however long it takes.
    pub fn receive_blocking(&self) -> Result<Sample<'_, T>, ReceiveError> {
        loop {
            if let Some(sample) = self.wait(None)? {
                return Ok(sample);
            }
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<Option<Sample<'_, T>>, ReceiveError> {
        let Some(event) = &self.event else {
            return self.receive();
        };
        let found = event.wait_until(timeout, || self.receive().transpose())?;
        found.transpose()
    }

    /// Whether a sample is waiting (without taking it).
    pub fn has_samples(&self) -> bool {
        Self::queued(&self.state.borrow())
    }

    /// Whether a sample is waiting, after connecting publishers that joined (for
    /// [`WaitSet`](super::WaitSet)).
    pub(crate) fn poll_ready(&self) -> bool {
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return false;
        };
        // A wait set looks here before it sleeps: the deferred chunk goes back first.
        self.return_deferred(&mut state);
        self.refresh(&mut state);
        Self::queued(&state)
    }

    fn queued(state: &State) -> bool {
        state
            .connections
            .iter()
            .zip(&state.delivers)
            .any(|(c, q)| c.is_some() && !q.is_empty())
    }

    /// Connects publishers that joined and lets go of those that left, if the registry
    /// changed since the last look (one atomic load when it did not).
    fn refresh(&self, state: &mut State) {
        let generation = self.service.generation();
        if generation != state.generation {
            state.generation = generation;
            self.reconnect(state);
        }
    }

    /// Samples this subscriber lost because its buffer overflowed, since its creation.
    pub fn missed(&self) -> u64 {
        let mut state = self.state.borrow_mut();
        // Counts come from shared memory: a hostile peer could make them huge.
        let taken = state
            .delivers
            .iter_mut()
            .map(IndexQueueConsumer::take_overflows)
            .fold(0u64, u64::saturating_add);
        state.missed = state.missed.saturating_add(taken);
        state.missed
    }

    /// Ids of the publishers this subscriber is connected to.
    pub fn publishers(&self) -> Vec<u64> {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        state.connections.iter().flatten().map(|c| c.port).collect()
    }

    fn entry(&self, index: u16, publisher_epoch: u64) -> u32 {
        Entry {
            index,
            publisher_epoch: tag(publisher_epoch),
            subscriber_epoch: tag(self.claim.epoch),
        }
        .encode()
    }

    fn reconnect(&self, state: &mut State) {
        let qos = *self.service.qos(self.ch);
        let Ok(layout) = super::chunk_layout::<T>(&qos) else {
            return;
        };
        for p in 0..state.connections.len() {
            let info = self.service.slot(self.ch, PortKind::Publisher, p);
            let current = state.connections[p].as_ref().map(|c| (c.epoch, c.port));
            if info.map(|i| (i.epoch, i.port)) == current {
                continue;
            }
            if current.is_some() {
                tracing::debug!(service = %self.service.name, slot = p, "publisher left");
                state.connections[p] = None;
            }
            let Some(info) = info else { continue };
            let reader = (|| -> Result<ChunkReader<Region>, String> {
                let name = self
                    .service
                    .segment_name(info.owner, info.port)
                    .map_err(|e| e.to_string())?;
                let shm = SharedMemory::open(&name, Access::ReadOnly, self.service.permissions())
                    .map_err(|e| e.to_string())?;
                let len = usize::try_from(shm.len().map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
                if len < layout.segment_size {
                    return Err(format!(
                        "segment is {len} bytes, {} expected",
                        layout.segment_size
                    ));
                }
                let mapping = Mapping::new(&shm, layout.segment_size, Protection::ReadOnly)
                    .map_err(|e| e.to_string())?;
                ChunkReader::open(Arc::new(mapping), layout).map_err(|e| e.to_string())
            })();
            match reader {
                Ok(reader) => {
                    tracing::debug!(service = %self.service.name, slot = p, "publisher connected");
                    state.connections[p] = Some(Connection {
                        epoch: info.epoch,
                        port: info.port,
                        reader: Arc::new(reader),
                        event: self.service.event(self.ch, PortKind::Publisher, p),
                        borrowed: 0,
                    });
                }
                Err(error) => {
                    tracing::warn!(service = %self.service.name, slot = p, error, "cannot map a publisher's data segment");
                }
            }
        }
    }

    /// Gives back a sample taken with [`Self::receive_held`].
    pub(crate) fn release_held(&self, held: Held<T>) {
        let region = held.payload.into_region();
        self.release(
            held.publisher_slot,
            held.publisher_epoch,
            held.index,
            region,
        );
    }

    /// The claimed slot (request-response routes responses to it).
    pub(crate) fn slot(&self) -> usize {
        self.claim.slot
    }

    /// The event word publishers notify.
    pub(crate) fn event(&self) -> Option<&Event<Region>> {
        self.event.as_ref()
    }

    /// Waits on this port's event until `condition` returns `Some`, at most `timeout`.
    pub(crate) fn wait_until<R>(
        &self,
        timeout: Option<Duration>,
        condition: impl FnMut() -> Option<R>,
    ) -> Result<Option<R>, WaitError> {
        match &self.event {
            Some(event) => event.wait_until(timeout, condition),
            None => Ok(None),
        }
    }

    /// Lets go of a chunk: it is returned at the next receive or release (see
    /// `State::deferred`), the one deferred before it now.
    fn release(&self, publisher_slot: usize, publisher_epoch: u64, index: u16, region: Region) {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let Some(connection) = state
            .connections
            .get_mut(publisher_slot)
            .and_then(Option::as_mut)
        else {
            return;
        };
        if connection.epoch != publisher_epoch {
            return; // that publisher is gone; its segment goes with the last sample
        }
        connection.borrowed = connection.borrowed.saturating_sub(1);
        self.return_deferred(state);
        state.deferred = Some(Deferred {
            publisher_slot,
            publisher_epoch,
            index,
            _region: region,
        });
    }

    /// Pushes the deferred chunk into its publisher's return queue.
    fn return_deferred(&self, state: &mut State) {
        let Some(Deferred {
            publisher_slot,
            publisher_epoch,
            index,
            ..
        }) = state.deferred.take()
        else {
            return;
        };
        let current = state
            .connections
            .get(publisher_slot)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.epoch == publisher_epoch);
        if !current {
            return; // that publisher is gone, and its chunks with it
        }
        let entry = self.entry(index, publisher_epoch);
        if let Err(error) = state.returns[publisher_slot].push(entry, Overflow::Reject) {
            tracing::warn!(service = %self.service.name, %error, "could not return a chunk; the publisher takes it back when this subscriber leaves");
        }
    }
}

impl<T> super::waitset::sealed::Sealed for Subscriber<T> {}

impl<T: ShmMessage> super::Waitable for Subscriber<T> {
    fn wait_event(&self) -> Option<&Event<Region>> {
        self.event.as_ref()
    }

    fn is_ready(&self) -> bool {
        self.poll_ready()
    }
}

impl<T> Drop for Subscriber<T> {
    fn drop(&mut self) {
        self.service
            .release_slot(self.ch, PortKind::Subscriber, self.claim.slot);
        tracing::info!(service = %self.service.name, port = %format!("{:016x}", self.port), "subscriber removed");
    }
}

/// A received sample owned apart from its port (request-response keeps some aside).
#[derive(Debug)]
pub(crate) struct Held<T> {
    pub(crate) payload: HeldPayload<T, Region>,
    pub(crate) header: ChunkHeader,
    pub(crate) publisher_slot: usize,
    publisher_epoch: u64,
    index: u16,
}

/// A received sample: reads the publisher's memory in place (`Deref<Target = T>`), and
/// gives the chunk back when dropped. (The chunk reaches the publisher's return queue at the
/// subscriber's next receive or the next drop of a sample, so that a sample dropped just
/// before publishing an answer does not delay the answer; it counts against no limit.)
#[derive(Debug)]
pub struct Sample<'a, T: ShmMessage> {
    subscriber: &'a Subscriber<T>,
    /// Always `Some` until dropped.
    held: Option<Held<T>>,
}

impl<T: ShmMessage> Sample<'_, T> {
    fn header(&self) -> ChunkHeader {
        self.held.as_ref().map(|h| h.header).unwrap_or_default()
    }

    /// Id of the publisher that sent it.
    pub fn publisher_id(&self) -> u64 {
        self.header().origin
    }

    /// The publisher's sequence number of this sample (from 1, no gaps on the sender side).
    pub fn sequence(&self) -> u64 {
        self.header().sequence
    }

    /// When it was sent, in nanoseconds of `CLOCK_MONOTONIC` (the same clock in every
    /// process), if its publisher stamps samples
    /// ([`PublisherBuilder::timestamps`](crate::port::PublisherBuilder::timestamps)).
    pub fn timestamp_ns(&self) -> Option<u64> {
        Some(self.header().timestamp_ns).filter(|&t| t != 0)
    }

    /// The request-response correlation word of its header.
    pub(crate) fn correlation(&self) -> u64 {
        self.held.as_ref().map_or(0, |h| h.header.correlation)
    }
}

impl<T: ShmMessage> std::ops::Deref for Sample<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.held {
            Some(held) => &held.payload,
            None => unreachable!("a sample holds its payload until it is dropped"),
        }
    }
}

impl<T: ShmMessage> Drop for Sample<'_, T> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.subscriber.release_held(held);
        }
    }
}
