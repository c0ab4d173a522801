//! The sending end of a channel: a publisher's data segment, its connections to the
//! subscriber slots, loans and sends. Knows bytes only; the ports above add the type.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::entry::Entry;
use super::events::{Events, PortEvent};
use super::{Delivery, Region, Target, chunk_layout, new_port_id};
use crate::os::mmap::{Mapping, Protection};
use crate::os::process;
use crate::os::shm::{self, SharedMemory, ShmName};
use crate::service::layout::QueueKind;
use crate::service::{Claim, OsError, OverflowPolicy, PortKind, ServiceInner};
use crate::sync::Event;
use crate::sync::chunk_store::{
    ChunkHeader, ChunkLayoutError, ChunkStore, LoanedChunk, OWNER_BIT, StoreError,
};
use crate::sync::index_queue::{
    IndexQueueConsumer, IndexQueueProducer, Overflow, PushError, Pushed,
};

/// Failure of creating a publisher (or the request side of a client, the response side of
/// a server).
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
    /// Loaning for a copy failed.
    #[error(transparent)]
    Loan(#[from] LoanError),
    /// The bytes are not a valid message of the service's type (byte-level ports check
    /// before sending); nothing was sent.
    #[error("{0}")]
    Invalid(#[from] crate::message::ValidationError),
    /// The publisher's own segment is inconsistent.
    #[error("the publisher's data segment is corrupted: {0}")]
    Corrupted(#[from] StoreError),
}

/// How a sender is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SenderOptions {
    /// How long a send waits for room under [`OverflowPolicy::Block`].
    pub(crate) send_timeout: Duration,
    /// Whether chunks carry the send time.
    pub(crate) timestamps: bool,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            send_timeout: Duration::from_secs(1),
            timestamps: false,
        }
    }
}

#[derive(Debug)]
struct Connection {
    epoch: u64,
    port: u64,
    /// A monitor: it gets a copy of what goes to the others, is never chosen, never holds
    /// a sender up, and is no counterpart.
    monitor: bool,
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
    /// The subscriber slots whose occupant is a monitor, as a bit mask.
    monitors: u64,
    events: Events,
    /// When the owners of full queues were last probed (monotonic ns; 0: never).
    probed_at: u64,
}

/// How often the owners of full queues are probed for death (a `flock` probe each): under
/// [`OverflowPolicy::Discard`] and [`OverflowPolicy::Error`] at most once per interval
/// before a send, under [`OverflowPolicy::Block`] once per interval of a wait for room. A
/// slow but living subscriber so costs a full-speed publisher nothing, and a dead one
/// holds a send up at most this long.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// The sending end of channel `ch` of a service (see the module docs of [`super`]).
#[derive(Debug)]
pub(crate) struct Sender {
    service: Arc<ServiceInner>,
    ch: usize,
    state: RefCell<State>,
    segment_name: ShmName,
    port: u64,
    claim: Claim,
    event: Option<Event<Region>>,
    options: SenderOptions,
}

impl Sender {
    /// Creates the data segment and claims a publisher slot of channel `ch`.
    pub(crate) fn create(
        service: Arc<ServiceInner>,
        ch: usize,
        options: SenderOptions,
    ) -> Result<Self, PublisherCreateError> {
        let qos = *service.qos(ch);
        let layout = chunk_layout(&service, ch)?;
        let port = new_port_id().map_err(OsError::from)?;
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
        let Some(claim) = service.claim_slot(ch, PortKind::Publisher, port, 0, &|_| {}) else {
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
        tracing::info!(service = %service.name, channel = ch, port = %format!("{port:016x}"), slot = claim.slot, "publisher created");
        Ok(Self {
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
                monitors: 0,
                events: Events::default(),
                probed_at: 0,
            }),
            service,
            ch,
            segment_name,
            port,
            claim,
            event,
            options,
        })
    }

    /// The port's id (in every chunk's header).
    pub(crate) fn id(&self) -> u64 {
        self.port
    }

    /// The service.
    pub(crate) fn service(&self) -> &Arc<ServiceInner> {
        &self.service
    }

    /// Samples not delivered to a subscriber under [`OverflowPolicy::Discard`].
    pub(crate) fn discarded(&self) -> u64 {
        self.state.borrow().discarded
    }

    /// Free chunks of the data segment, after taking back what subscribers returned.
    pub(crate) fn free_chunks(&self) -> u32 {
        let mut state = self.state.borrow_mut();
        self.maintain(&mut state);
        state.store.free_count()
    }

    /// Connects subscribers that joined, lets go of those that left, and takes back the
    /// chunks subscribers returned.
    pub(crate) fn update_connections(&self) {
        let mut state = self.state.borrow_mut();
        self.maintain(&mut state);
    }

    /// How many subscribers are connected (after taking in registry changes); monitors
    /// are not counted.
    pub(crate) fn connected(&self) -> usize {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        state
            .connections
            .iter()
            .flatten()
            .filter(|c| !c.monitor)
            .count()
    }

    /// The ids of the connected subscribers (monitors aside).
    pub(crate) fn connected_ports(&self) -> Vec<u64> {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        state
            .connections
            .iter()
            .flatten()
            .filter(|c| !c.monitor)
            .map(|c| c.port)
            .collect()
    }

    /// Connections and departures of subscribers since the last call, oldest first.
    pub(crate) fn take_events(&self) -> Vec<PortEvent> {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        state.events.take()
    }

    /// Tests the nodes of the service's ports (a `flock` probe each) and removes the dead
    /// ones' ports; returns how many dead nodes were found.
    pub(crate) fn check_liveness(&self) -> usize {
        let removed = self.service.remove_dead_nodes().nodes;
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        removed
    }

    /// A full queue under backpressure may belong to a dead subscriber, which would make
    /// every send fail or lose its sample: test the owners of full queues (at most once
    /// per [`PROBE_INTERVAL`]) and clean up if one is dead, so the others get samples at
    /// full speed again. (Under `Block` the wait for room probes instead.)
    fn reap_dead_full(&self, state: &mut State) {
        if state
            .connections
            .iter_mut()
            .flatten()
            .all(|c| c.deliver.has_room())
        {
            return;
        }
        let now = process::monotonic_ns();
        if now.saturating_sub(state.probed_at) < PROBE_INTERVAL.as_nanos() as u64 {
            return;
        }
        state.probed_at = now;
        let mut dead = false;
        for (s, connection) in state.connections.iter_mut().enumerate() {
            if let Some(c) = connection
                && !c.deliver.has_room()
                && self.owner_dead(s)
            {
                dead = true;
            }
        }
        if dead {
            self.remove_dead(state);
        }
    }

    /// Whether the node holding subscriber slot `s` is dead (a `flock` probe).
    fn owner_dead(&self, s: usize) -> bool {
        self.service
            .slot(self.ch, PortKind::Subscriber, s)
            .is_some_and(|info| !self.service.owner_alive(info.owner))
    }

    /// Removes the ports of dead nodes after one was found holding a full queue, and lets
    /// go of its connection.
    fn remove_dead(&self, state: &mut State) {
        tracing::info!(service = %self.service.name, "a subscriber with a full queue is dead: cleaning up");
        self.service.remove_dead_nodes();
        self.refresh(state);
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
    #[inline]
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
            let current = state.connections[s]
                .as_ref()
                .map(|c| (c.epoch, c.port, c.monitor));
            if info.map(|i| i.epoch) == current.map(|(epoch, _, _)| epoch) {
                continue;
            }
            let bit = 1u64 << s;
            if let Some((epoch, port, monitor)) = current {
                // Its returns first, so that the new occupant finds the queue empty.
                self.drain_returns_of(state, s);
                state.connections[s] = None;
                state.monitors &= !bit;
                if !monitor {
                    state.events.disconnected(
                        &self.service,
                        (self.ch, PortKind::Subscriber, s),
                        epoch,
                        port,
                    );
                }
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
                port: info.port,
                monitor: info.monitor,
                deliver,
                event: self.service.event(self.ch, PortKind::Subscriber, s),
                unreturned: 0,
            };
            // History for the late joiner, oldest first.
            for &index in &state.history {
                let entry = Entry::new(index, self.claim.epoch, info.epoch).encode();
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
            tracing::debug!(service = %self.service.name, slot = s, monitor = info.monitor, "subscriber connected");
            if info.monitor {
                state.monitors |= bit;
            } else {
                state.events.connected(info.port);
            }
            state.connections[s] = Some(connection);
        }
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
        let Some(connection) = connection.filter(|c| entry.is_for(self.claim.epoch, c.epoch))
        else {
            return;
        };
        connection.unreturned = connection.unreturned.saturating_sub(1);
        if let Err(error) = store.release(entry.index, 1 << s) {
            tracing::warn!(service = %self.service.name, %error, "a subscriber returned an invalid chunk");
        }
    }

    /// Loans a chunk: its payload bytes hold whatever they held (an earlier message of this
    /// sender, or zeroes). Give it back with [`Self::send`] or [`Self::discard`].
    pub(crate) fn loan(&self) -> Result<LoanedChunk, LoanError> {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        let max = self.service.qos(self.ch).max_loans;
        if state.loans >= max {
            return Err(LoanError::TooManyLoans { max });
        }
        let chunks = state.store.layout().count;
        let chunk = match state.store.loan_chunk()? {
            Some(chunk) => chunk,
            None => {
                // The free list is empty: now the returned chunks are needed.
                self.drain_returns(&mut state);
                state
                    .store
                    .loan_chunk()?
                    .ok_or(LoanError::OutOfChunks { chunks })?
            }
        };
        state.loans += 1;
        Ok(chunk)
    }

    /// Gives back a loan that will not be sent.
    pub(crate) fn discard(&self, chunk: LoanedChunk) {
        let mut state = self.state.borrow_mut();
        state.loans = state.loans.saturating_sub(1);
        if let Err(error) = state.store.discard(chunk.into_loan()) {
            tracing::warn!(service = %self.service.name, %error, "returning an unsent loan failed");
        }
    }

    /// Sends a loaned chunk to `target` with `correlation` in its header.
    pub(crate) fn send(
        &self,
        chunk: LoanedChunk,
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
        if matches!(
            qos.overflow,
            OverflowPolicy::Discard | OverflowPolicy::Error
        ) {
            self.reap_dead_full(state);
        }
        let loan = chunk.into_loan();
        let slots = state.connections.len();
        // The subscriber slots this sample goes to, as a bit mask (at most 63 slots, the
        // holders mask's width): no allocation on the send path.
        let connected = |i: usize| state.connections[i].as_ref().is_some_and(|c| !c.monitor);
        let monitors = state.monitors;
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
                        .is_some_and(|c| !c.monitor && c.deliver.has_room())
                });
                if let Some(i) = pick {
                    state.turn = (i + 1) % slots;
                }
                pick.map_or(0, |i| 1 << i)
            }
        };
        // Monitors get a copy of what goes to anyone.
        let chosen = if chosen == 0 { 0 } else { chosen | monitors };
        let is_chosen = |i: usize| chosen & (1 << i) != 0;
        if qos.overflow == OverflowPolicy::Error
            && state.connections.iter_mut().enumerate().any(|(i, c)| {
                is_chosen(i)
                    && c.as_mut()
                        .is_some_and(|c| !c.monitor && !c.deliver.has_room())
            })
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
                timestamp_ns: if self.options.timestamps {
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
        let mut reap = false;
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
            let monitor = connection.monitor;
            let entry = Entry::new(index, self.claim.epoch, connection.epoch).encode();
            // A monitor never holds the sender up: its oldest entry goes (and it counts it).
            let policy = if monitor {
                Overflow::OverwriteOldest
            } else {
                policy
            };
            let mut pushed = connection.deliver.push(entry, policy);
            let mut owner_dead = false;
            if !monitor
                && qos.overflow == OverflowPolicy::Block
                && matches!(pushed, Err(PushError::Full { .. }))
                && let Some(event) = &self.event
            {
                // Waits for room in slices; between them, a probe of the queue's owner, so
                // that a subscriber that died with a full queue holds the send up for one
                // slice, not the whole timeout.
                let deliver = &mut connection.deliver;
                let deadline = std::time::Instant::now() + self.options.send_timeout;
                loop {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    let outcome =
                        event.wait_until(Some(left.min(PROBE_INTERVAL)), || {
                            match deliver.push(entry, Overflow::Reject) {
                                Err(PushError::Full { .. }) => None,
                                other => Some(other),
                            }
                        });
                    match outcome {
                        Ok(Some(result)) => {
                            pushed = result;
                            break;
                        }
                        Ok(None) if !left.is_zero() => {
                            owner_dead = self.owner_dead(s);
                            if owner_dead {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
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
                if let Some(c) = state.connections[s].as_mut() {
                    c.unreturned += 1;
                }
                if !monitor {
                    delivered += 1;
                    to = state.connections[s].as_ref().map(|c| (s, c.epoch));
                }
                if let Some(event) = state.connections[s].as_ref().and_then(|c| c.event.as_ref())
                    && let Err(error) = event.notify()
                {
                    tracing::warn!(service = %self.service.name, %error, "waking a subscriber failed");
                }
            } else {
                state.store.release(index, 1 << s)?;
                if monitor || owner_dead {
                    // A monitor's loss is counted in its queue's overflows; a dead owner
                    // is removed below.
                    reap |= owner_dead;
                } else if qos.overflow == OverflowPolicy::Block {
                    undelivered += 1;
                } else {
                    state.discarded += 1;
                }
            }
        }
        if reap {
            self.remove_dead(state);
        }
        if undelivered > 0 {
            return Err(SendError::Timeout {
                undelivered,
                timeout: self.options.send_timeout,
            });
        }
        Ok(Delivery { delivered, to })
    }
}

impl Drop for Sender {
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
