//! The publishing port.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::Duration;

use super::{Delivery, Target};
use crate::message::ShmMessage;
use crate::os::mmap::{Mapping, Protection};
use crate::os::process;
use crate::os::shm::{self, SharedMemory, ShmName};
use crate::service::layout::{Entry, QueueKind, tag};
use crate::service::{Claim, OsError, OverflowPolicy, PortKind, ServiceInner};
use crate::sync::Event;
use crate::sync::chunk_store::{
    ChunkHeader, ChunkLayoutError, ChunkStore, Init, LoanedPayload, OWNER_BIT, StoreError,
};
use crate::sync::index_queue::{
    IndexQueueConsumer, IndexQueueProducer, Overflow, PushError, Pushed,
};

type Region = Arc<Mapping>;

/// Failure of [`PublisherBuilder::create`].
#[derive(Debug, thiserror::Error)]
pub enum PublisherCreateError {
    /// Every publisher slot is taken.
    #[error(
        "service {service:?} already has its maximum of {max} publishers; raise max_publishers when creating it"
    )]
    TooManyPublishers {
        /// The service.
        service: String,
        /// The limit.
        max: u32,
    },
    /// The data segment's geometry is impossible.
    #[error(transparent)]
    Layout(#[from] ChunkLayoutError),
    /// An operating-system call failed.
    #[error("cannot create the publisher's data segment: {0}")]
    Os(#[from] OsError),
}

/// Failure of a loan.
#[derive(Debug, thiserror::Error)]
pub enum LoanError {
    /// The publisher has `max_loans` samples loaned and not sent.
    #[error(
        "the publisher already has {max} loaned samples; send or drop one first, or raise max_loans"
    )]
    TooManyLoans {
        /// The limit.
        max: u32,
    },
    /// Every chunk is held (only possible if a subscriber exceeds its QoS).
    #[error(
        "all {chunks} chunks of the publisher are held by subscribers; they hold more than their QoS allows"
    )]
    OutOfChunks {
        /// Chunks of the segment.
        chunks: u32,
    },
    /// The publisher's own segment is inconsistent.
    #[error("the publisher's data segment is corrupted: {0}")]
    Corrupted(#[from] StoreError),
    /// The message type cannot be loaned initialised this way (all-zero or arbitrary bytes
    /// are not a valid value of it).
    #[error(
        "this message type cannot be loaned {how:?}: not every such byte pattern is a valid value; use loan_uninit"
    )]
    InvalidInit {
        /// The way that was refused.
        how: Init,
    },
}

/// Failure of a send.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Backpressure with [`OverflowPolicy::Error`]: a subscriber's buffer is full; the
    /// sample was delivered to nobody.
    #[error("subscriber buffer full (overflow policy Error); the sample was not sent: retry later")]
    SubscriberFull,
    /// Backpressure with [`OverflowPolicy::Block`]: a subscriber made no room in time.
    #[error(
        "{undelivered} subscriber(s) made no room within {timeout:?} (overflow policy Block); they did not get the sample, the others did"
    )]
    Timeout {
        /// Subscribers that did not get the sample.
        undelivered: usize,
        /// The send timeout.
        timeout: Duration,
    },
    /// Loaning for `send_copy` failed.
    #[error(transparent)]
    Loan(#[from] LoanError),
    /// The publisher's own segment is inconsistent.
    #[error("the publisher's data segment is corrupted: {0}")]
    Corrupted(#[from] StoreError),
}

/// Builds a [`Publisher`].
#[derive(Debug)]
#[must_use]
pub struct PublisherBuilder<T> {
    service: Arc<ServiceInner>,
    ch: usize,
    send_timeout: Duration,
    timestamps: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> PublisherBuilder<T> {
    pub(crate) fn new(service: Arc<ServiceInner>, ch: usize) -> Self {
        Self {
            service,
            ch,
            send_timeout: Duration::from_secs(1),
            timestamps: false,
            _type: PhantomData,
        }
    }

    /// Stamps every sample with the monotonic clock at send, for
    /// [`Sample::timestamp_ns`](crate::Sample::timestamp_ns) (default off: reading the
    /// clock is a fifth of the cost of a send, and most messages carry their own time).
    pub fn timestamps(mut self, on: bool) -> Self {
        self.timestamps = on;
        self
    }

    /// How long `send` waits for room under [`OverflowPolicy::Block`] (default 1 s).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Creates the publisher and its data segment.
    pub fn create(self) -> Result<Publisher<T>, PublisherCreateError> {
        let (service, ch) = (self.service, self.ch);
        let qos = *service.qos(ch);
        let layout = super::chunk_layout::<T>(&qos)?;
        let port = loop {
            let id = process::random_u64().map_err(OsError::from)?;
            if id != 0 {
                break id;
            }
        };
        let segment_name = service
            .segment_name(service.node.id().value(), port)
            .map_err(OsError::from)?;
        let shm =
            SharedMemory::create(&segment_name, service.permissions()).map_err(OsError::from)?;
        let made = (|| -> Result<ChunkStore<Region>, PublisherCreateError> {
            shm.allocate(layout.segment_size as u64)
                .map_err(OsError::from)?;
            let mapping = Arc::new(
                Mapping::new(&shm, layout.segment_size, Protection::ReadWrite)
                    .map_err(OsError::from)?,
            );
            Ok(ChunkStore::create(mapping, layout)?)
        })();
        let store = match made {
            Ok(store) => store,
            Err(e) => {
                let _ = shm::unlink(&segment_name, service.permissions());
                return Err(e);
            }
        };
        drop(shm);
        let Some(claim) = service.claim_slot(ch, PortKind::Publisher, port, &|_| {}) else {
            let _ = shm::unlink(&segment_name, service.permissions());
            return Err(PublisherCreateError::TooManyPublishers {
                service: service.name.to_string(),
                max: qos.max_publishers,
            });
        };
        // Entries a previous publisher of this slot left in the return queues are stale.
        let mut returns = Vec::new();
        for s in 0..qos.max_subscribers as usize {
            match service.consumer(ch, QueueKind::Return, claim.slot, s) {
                Ok(mut q) => {
                    while let Ok(Some(_)) = q.pop() {}
                    returns.push(q);
                }
                Err(e) => {
                    service.release_slot(ch, PortKind::Publisher, claim.slot);
                    let _ = shm::unlink(&segment_name, service.permissions());
                    return Err(e.into());
                }
            }
        }
        let event = service.event(ch, PortKind::Publisher, claim.slot);
        tracing::info!(service = %service.name, port = %format!("{port:016x}"), slot = claim.slot, "publisher created");
        Ok(Publisher {
            state: RefCell::new(State {
                store,
                connections: (0..qos.max_subscribers).map(|_| None).collect(),
                returns,
                history: VecDeque::with_capacity(qos.history as usize),
                sequence: 0,
                generation: u64::MAX,
                loans: 0,
                discarded: 0,
                turn: 0,
            }),
            service,
            ch,
            segment_name,
            port,
            claim,
            event,
            send_timeout: self.send_timeout,
            timestamps: self.timestamps,
            _type: PhantomData,
        })
    }
}

#[derive(Debug)]
struct Connection {
    epoch: u64,
    deliver: IndexQueueProducer<Region>,
    event: Option<Event<Region>>,
    /// Chunks delivered to this subscriber and not taken back yet: an upper bound of the
    /// entries in its return queue, which is drained before this could exceed the queue's
    /// capacity.
    unreturned: u32,
}

#[derive(Debug)]
struct State {
    store: ChunkStore<Region>,
    connections: Vec<Option<Connection>>,
    returns: Vec<IndexQueueConsumer<Region>>,
    history: VecDeque<u32>,
    sequence: u64,
    generation: u64,
    loans: u32,
    discarded: u64,
    /// The next subscriber slot to try for [`Target::AnyOne`].
    turn: usize,
}

/// Publishes samples of `T` to every subscriber of its service, without copying.
///
/// `Send` but not `Sync`: use one publisher per thread.
#[derive(Debug)]
pub struct Publisher<T> {
    service: Arc<ServiceInner>,
    /// The service's channel this port publishes on.
    ch: usize,
    state: RefCell<State>,
    segment_name: ShmName,
    port: u64,
    claim: Claim,
    event: Option<Event<Region>>,
    send_timeout: Duration,
    /// Whether samples carry the send time (0 in the header when not).
    timestamps: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> Publisher<T> {
    /// The port's id (it is in every sample's header).
    pub fn id(&self) -> u64 {
        self.port
    }

    /// Loans a sample whose payload is all zero bytes, to be written in place. Costs a
    /// write of `size_of::<T>()` bytes; for large messages that are written only in part,
    /// [`loan_uninit`](Self::loan_uninit) avoids that.
    pub fn loan(&self) -> Result<SampleMut<'_, T>, LoanError> {
        const {
            assert!(
                T::ZEROED_IS_VALID,
                "all-zero bytes are not a valid value of this type: use loan_uninit and write it"
            )
        };
        Ok(SampleMut {
            publisher: self,
            payload: Some(self.initialised_payload(Init::Zeroed)?),
        })
    }

    /// Loans a sample holding whatever its chunk held — an earlier sample of this publisher
    /// or zeroes — without writing a byte: the cheapest loan for large messages that are
    /// rewritten in part. Only for types valid for every bit pattern (all IDL-generated
    /// types, integers, floats and arrays of them); others are refused at compile time.
    pub fn loan_recycled(&self) -> Result<SampleMut<'_, T>, LoanError> {
        const {
            assert!(
                T::ANY_BIT_PATTERN,
                "not every bit pattern is a valid value of this type: use loan or loan_uninit"
            )
        };
        Ok(SampleMut {
            publisher: self,
            payload: Some(self.initialised_payload(Init::Recycled)?),
        })
    }

    /// Loans a sample with uninitialised payload; write it with [`SampleUninit::write`] or
    /// through [`SampleUninit::as_mut_ptr`] and [`SampleUninit::assume_init`].
    pub fn loan_uninit(&self) -> Result<SampleUninit<'_, T>, LoanError> {
        Ok(SampleUninit {
            publisher: self,
            payload: Some(self.loan_payload()?),
        })
    }

    /// Copies `value` into a loaned sample and sends it.
    pub fn send_copy(&self, value: &T) -> Result<usize, SendError>
    where
        T: Copy,
    {
        self.loan_uninit()?.write(*value).send()
    }

    /// Samples not delivered to a subscriber under [`OverflowPolicy::Discard`].
    pub fn discarded(&self) -> u64 {
        self.state.borrow().discarded
    }

    /// Free chunks of the data segment (for tests and tools).
    pub fn free_chunks(&self) -> u32 {
        let mut state = self.state.borrow_mut();
        self.maintain(&mut state);
        state.store.free_count()
    }

    /// Connects subscribers that joined and lets go of those that left, and takes back
    /// the chunks subscribers returned. `loan` and `send` do this themselves; call it to
    /// deliver history to late joiners without sending.
    pub fn update_connections(&self) {
        let mut state = self.state.borrow_mut();
        self.maintain(&mut state);
    }

    /// A full queue under backpressure may belong to a dead subscriber, which would make
    /// every send wait or fail: test the owners of full queues (a `flock` probe each, only
    /// on this slow path) and clean up if one is dead, so the others get samples at full
    /// speed again.
    fn reap_dead_full(&self, state: &mut State) {
        let mut dead = false;
        for (s, connection) in state.connections.iter_mut().enumerate() {
            if let Some(c) = connection
                && !c.deliver.has_room()
                && self
                    .service
                    .slot(self.ch, PortKind::Subscriber, s)
                    .is_some_and(|info| !self.service.owner_alive(info.owner))
            {
                dead = true;
            }
        }
        if dead {
            tracing::info!(service = %self.service.name, "a subscriber with a full queue is dead: cleaning up");
            self.service.remove_dead_nodes();
            self.refresh(state);
        }
    }

    /// Takes in registry changes, then takes back every chunk subscribers returned. The
    /// data path does not: a loan takes returns back only when the free list is empty, and
    /// a send only from a subscriber whose return queue could otherwise fill up — reading a
    /// return queue moves its cache line from the subscriber's core, and doing that once for
    /// many chunks instead of once per sample takes a cache miss off every message.
    fn maintain(&self, state: &mut State) {
        self.refresh(state);
        self.drain_returns(state);
    }

    /// Connects subscribers that joined and lets go of those that left, if the registry
    /// changed since the last look (one atomic load when it did not).
    fn refresh(&self, state: &mut State) {
        let generation = self.service.generation();
        if generation != state.generation {
            state.generation = generation;
            self.reconnect(state);
        }
    }

    fn reconnect(&self, state: &mut State) {
        for s in 0..state.connections.len() {
            let info = self.service.slot(self.ch, PortKind::Subscriber, s);
            let current = state.connections[s].as_ref().map(|c| c.epoch);
            if info.map(|i| i.epoch) == current {
                continue;
            }
            let bit = 1u64 << s;
            if current.is_some() {
                // Its returns first, so that the new occupant finds the queue empty.
                self.drain_returns_of(state, s);
                state.connections[s] = None;
                match state.store.release_everywhere(bit) {
                    Ok(freed) => {
                        tracing::debug!(service = %self.service.name, slot = s, freed, "subscriber left")
                    }
                    Err(error) => {
                        tracing::warn!(service = %self.service.name, %error, "releasing a departed subscriber's chunks failed")
                    }
                }
            }
            let Some(info) = info else { continue };
            let deliver = match self.service.producer(
                self.ch,
                QueueKind::Deliver,
                self.claim.slot,
                s,
            ) {
                Ok(q) => q,
                Err(error) => {
                    tracing::warn!(service = %self.service.name, %error, "cannot connect a subscriber");
                    continue;
                }
            };
            let mut connection = Connection {
                epoch: info.epoch,
                deliver,
                event: self.service.event(self.ch, PortKind::Subscriber, s),
                unreturned: 0,
            };
            // History for the late joiner, oldest first.
            for &index in &state.history {
                let entry = self.entry(index, info.epoch);
                if !state.store.add_holders(index, bit) {
                    continue;
                }
                if matches!(
                    connection.deliver.push(entry, Overflow::Reject),
                    Ok(Pushed::Stored)
                ) {
                    connection.unreturned += 1;
                } else {
                    let _ = state.store.release(index, bit);
                }
            }
            if let Some(event) = &connection.event {
                let _ = event.notify();
            }
            tracing::debug!(service = %self.service.name, slot = s, "subscriber connected");
            state.connections[s] = Some(connection);
        }
    }

    fn entry(&self, index: u32, subscriber_epoch: u64) -> u32 {
        Entry {
            index: index as u16,
            publisher_epoch: tag(self.claim.epoch),
            subscriber_epoch: tag(subscriber_epoch),
        }
        .encode()
    }

    /// Takes back the chunks every subscriber returned.
    fn drain_returns(&self, state: &mut State) {
        for s in 0..state.returns.len() {
            self.drain_returns_of(state, s);
        }
    }

    /// Takes back the chunks subscriber slot `s` returned, if their entries carry the
    /// current epochs of both ends (others are left over from earlier occupants).
    fn drain_returns_of(&self, state: &mut State, s: usize) {
        let State {
            store,
            connections,
            returns,
            ..
        } = state;
        let Some(queue) = returns.get_mut(s) else {
            return;
        };
        loop {
            let raw = match queue.pop() {
                Ok(Some(raw)) => raw,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(service = %self.service.name, %error, "return queue corrupted");
                    break;
                }
            };
            self.take_back(store, connections[s].as_mut(), s, raw);
        }
    }

    fn take_back(
        &self,
        store: &mut ChunkStore<Region>,
        connection: Option<&mut Connection>,
        s: usize,
        raw: u32,
    ) {
        let entry = Entry::decode(raw);
        let Some(connection) = connection.filter(|c| {
            entry.publisher_epoch == tag(self.claim.epoch) && entry.subscriber_epoch == tag(c.epoch)
        }) else {
            return;
        };
        connection.unreturned = connection.unreturned.saturating_sub(1);
        if let Err(error) = store.release(u32::from(entry.index), 1 << s) {
            tracing::warn!(service = %self.service.name, %error, "a subscriber returned an invalid chunk");
        }
    }

    fn send_loan(&self, payload: LoanedPayload<T, Region>) -> Result<usize, SendError> {
        self.send_loan_to(payload, Target::All, 0)
            .map(|d| d.delivered)
    }

    /// Sends a loaned payload to `target` with `correlation` in its header.
    pub(crate) fn send_loan_to(
        &self,
        payload: LoanedPayload<T, Region>,
        target: Target,
        correlation: u64,
    ) -> Result<Delivery, SendError> {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        state.loans = state.loans.saturating_sub(1);
        // A subscriber that exists now must get the sample (no lost first samples); the
        // returned chunks wait for the next loan, which is the one that needs them.
        self.refresh(state);
        let qos = *self.service.qos(self.ch);
        if qos.overflow != OverflowPolicy::OverwriteOldest {
            self.reap_dead_full(state);
        }
        // The region handle is dropped at the end, after the sample is published.
        let (loan, _region) = payload.into_parts();
        let slots = state.connections.len();
        // The subscriber slots this sample goes to, as a bit mask (at most 63 slots, the
        // holders mask's width): no allocation on the send path.
        let connected = |i: usize| state.connections[i].is_some();
        let chosen: u64 = match target {
            Target::All => (0..slots)
                .filter(|&i| connected(i))
                .fold(0, |m, i| m | 1 << i),
            Target::Slot(s) if s < slots && connected(s) => 1 << s,
            Target::Slot(_) => 0,
            Target::AnyOne => {
                // The first connected subscriber with room, starting at our turn.
                let turn = state.turn;
                let pick = (0..slots).map(|k| (turn + k) % slots).find(|&i| {
                    state.connections[i]
                        .as_mut()
                        .is_some_and(|c| c.deliver.has_room())
                });
                if let Some(i) = pick {
                    state.turn = (i + 1) % slots;
                }
                pick.map_or(0, |i| 1 << i)
            }
        };
        let is_chosen = |i: usize| chosen & (1 << i) != 0;
        if qos.overflow == OverflowPolicy::Error
            && state
                .connections
                .iter_mut()
                .enumerate()
                .any(|(i, c)| is_chosen(i) && c.as_mut().is_some_and(|c| !c.deliver.has_room()))
        {
            state.store.discard(loan)?;
            return Err(SendError::SubscriberFull);
        }
        state.sequence += 1;
        state.store.write_header(
            &loan,
            ChunkHeader {
                origin: self.port,
                sequence: state.sequence,
                timestamp_ns: if self.timestamps {
                    process::monotonic_ns()
                } else {
                    0
                },
                correlation,
            },
        );
        let keep = qos.history > 0;
        let index = state.store.share(loan, chosen, keep)?;
        if keep {
            state.history.push_back(index);
            if state.history.len() > qos.history as usize
                && let Some(old) = state.history.pop_front()
            {
                state.store.release(old, OWNER_BIT)?;
            }
        }
        let policy = match qos.overflow {
            OverflowPolicy::OverwriteOldest => Overflow::OverwriteOldest,
            _ => Overflow::Reject,
        };
        let mut delivered = 0;
        let mut undelivered = 0;
        let mut to = None;
        for s in (0..state.connections.len()).filter(|&s| is_chosen(s)) {
            let return_capacity = state.returns.get(s).map_or(0, |q| q.capacity());
            if state.connections[s]
                .as_ref()
                .is_some_and(|c| c.unreturned >= return_capacity)
            {
                self.drain_returns_of(state, s);
            }
            let Some(connection) = state.connections[s].as_mut() else {
                continue;
            };
            let entry = self.entry(index, connection.epoch);
            let mut pushed = connection.deliver.push(entry, policy);
            if qos.overflow == OverflowPolicy::Block
                && matches!(pushed, Err(PushError::Full { .. }))
                && let Some(event) = &self.event
            {
                let deliver = &mut connection.deliver;
                let outcome = event.wait_until(Some(self.send_timeout), || {
                    match deliver.push(entry, Overflow::Reject) {
                        Err(PushError::Full { .. }) => None,
                        other => Some(other),
                    }
                });
                pushed = match outcome {
                    Ok(Some(result)) => result,
                    _ => pushed,
                };
            }
            let ok = match pushed {
                Ok(Pushed::Stored) => true,
                Ok(Pushed::Displaced(old)) => {
                    let connection = state.connections[s].as_mut();
                    self.take_back(&mut state.store, connection, s, old);
                    true
                }
                Ok(Pushed::DisplacedInvalid(_)) => true,
                Err(PushError::Full { .. }) => false,
                Err(error) => {
                    tracing::warn!(service = %self.service.name, %error, slot = s, "delivery queue unusable");
                    false
                }
            };
            if ok {
                delivered += 1;
                if let Some(c) = state.connections[s].as_mut() {
                    c.unreturned += 1;
                }
                to = state.connections[s].as_ref().map(|c| (s, c.epoch));
                if let Some(event) = state.connections[s].as_ref().and_then(|c| c.event.as_ref())
                    && let Err(error) = event.notify()
                {
                    tracing::warn!(service = %self.service.name, %error, "waking a subscriber failed");
                }
            } else {
                state.store.release(index, 1 << s)?;
                if qos.overflow == OverflowPolicy::Block {
                    undelivered += 1;
                } else {
                    state.discarded += 1;
                }
            }
        }
        if undelivered > 0 {
            return Err(SendError::Timeout {
                undelivered,
                timeout: self.send_timeout,
            });
        }
        Ok(Delivery { delivered, to })
    }

    /// Whether any subscriber is connected (after taking in registry changes).
    pub(crate) fn has_connections(&self) -> bool {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        state.connections.iter().any(Option::is_some)
    }

    /// Loans for a sample to be sent with [`Self::send_loan_to`]: the payload without the
    /// `SampleMut` wrapper (request-response builds its own).
    pub(crate) fn loan_payload(&self) -> Result<LoanedPayload<MaybeUninit<T>, Region>, LoanError> {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        let max = self.service.qos(self.ch).max_loans;
        if state.loans >= max {
            return Err(LoanError::TooManyLoans { max });
        }
        let chunks = state.store.layout().count;
        let payload = match state.store.loan::<T>()? {
            Some(payload) => payload,
            None => {
                // The free list is empty: now the returned chunks are needed.
                self.drain_returns(&mut state);
                state
                    .store
                    .loan::<T>()?
                    .ok_or(LoanError::OutOfChunks { chunks })?
            }
        };
        state.loans += 1;
        Ok(payload)
    }

    /// A loaned payload made a `T` as `how` says (the callers assert at compile time that
    /// `T` allows it, so the error is only a guard).
    pub(crate) fn initialised_payload(
        &self,
        how: Init,
    ) -> Result<LoanedPayload<T, Region>, LoanError> {
        match self.loan_payload()?.init(how) {
            Ok(payload) => Ok(payload),
            Err(payload) => {
                self.discard_loan(payload);
                Err(LoanError::InvalidInit { how })
            }
        }
    }

    /// Gives back a loan that will not be sent.
    pub(crate) fn discard_payload<P>(&self, payload: LoanedPayload<P, Region>) {
        self.discard_loan(payload);
    }

    fn discard_loan<P>(&self, payload: LoanedPayload<P, Region>) {
        let mut state = self.state.borrow_mut();
        state.loans = state.loans.saturating_sub(1);
        if let Err(error) = state.store.discard(payload.into_loan()) {
            tracing::warn!(service = %self.service.name, %error, "returning an unsent loan failed");
        }
    }
}

impl<T> Drop for Publisher<T> {
    fn drop(&mut self) {
        let queued = self
            .state
            .get_mut()
            .connections
            .iter()
            .flatten()
            .any(|c| !c.deliver.is_empty());
        if queued {
            // Samples are still on their way: let the subscribers read them first.
            self.service.drain_slot(self.ch, self.claim.slot);
            tracing::info!(service = %self.service.name, port = %format!("{:016x}", self.port), "publisher left; its queued samples stay readable");
            return;
        }
        self.service
            .release_slot(self.ch, PortKind::Publisher, self.claim.slot);
        if let Err(error) = shm::unlink(&self.segment_name, self.service.permissions()) {
            tracing::warn!(%error, "could not remove the publisher's data segment");
        }
        tracing::info!(service = %self.service.name, port = %format!("{:016x}", self.port), "publisher removed");
    }
}

/// A loaned sample with an uninitialised payload. Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct SampleUninit<'a, T: ShmMessage> {
    publisher: &'a Publisher<T>,
    payload: Option<LoanedPayload<MaybeUninit<T>, Region>>,
}

impl<'a, T: ShmMessage> SampleUninit<'a, T> {
    /// Moves `value` into the sample.
    pub fn write(mut self, value: T) -> SampleMut<'a, T> {
        SampleMut {
            publisher: self.publisher,
            payload: self.payload.take().map(|p| p.write(value)),
        }
    }

    /// A pointer to the payload, for writing it in place field by field (for large
    /// messages that should not pass through the stack).
    pub fn as_mut_ptr(&mut self) -> *mut T {
        match &mut self.payload {
            Some(p) => p.as_mut_ptr(),
            None => std::ptr::null_mut(),
        }
    }

    /// Declares the payload written.
    ///
    /// # Safety
    ///
    /// Every field must have been written with a valid value (the promise of
    /// [`MaybeUninit::assume_init`]).
    #[allow(unsafe_code)] // forwards the caller's promise; no unsafe operation of its own
    pub unsafe fn assume_init(mut self) -> SampleMut<'a, T> {
        SampleMut {
            publisher: self.publisher,
            // SAFETY: the caller promises the payload is initialised.
            payload: self.payload.take().map(|p| unsafe { p.assume_init() }),
        }
    }
}

impl<T: ShmMessage> Drop for SampleUninit<'_, T> {
    fn drop(&mut self) {
        if let Some(payload) = self.payload.take() {
            self.publisher.discard_loan(payload);
        }
    }
}

/// A loaned, initialised sample: write it in place (`DerefMut`), then [`send`](Self::send).
/// Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct SampleMut<'a, T: ShmMessage> {
    publisher: &'a Publisher<T>,
    payload: Option<LoanedPayload<T, Region>>,
}

impl<T: ShmMessage> SampleMut<'_, T> {
    /// Sends the sample to every connected subscriber; returns how many got it.
    pub fn send(mut self) -> Result<usize, SendError> {
        match self.payload.take() {
            Some(payload) => self.publisher.send_loan(payload),
            None => Ok(0),
        }
    }
}

impl<T: ShmMessage> std::ops::Deref for SampleMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.payload {
            Some(p) => p,
            None => unreachable!("the payload is only taken by send, which consumes the sample"),
        }
    }
}

impl<T: ShmMessage> std::ops::DerefMut for SampleMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.payload {
            Some(p) => p,
            None => unreachable!("the payload is only taken by send, which consumes the sample"),
        }
    }
}

impl<T: ShmMessage> Drop for SampleMut<'_, T> {
    fn drop(&mut self) {
        if let Some(payload) = self.payload.take() {
            self.publisher.discard_loan(payload);
        }
    }
}
