//! The receiving end of a channel: a subscriber slot, its connections to the publishers'
//! segments, receives and returns. Knows bytes only; the ports above add the type.

use std::cell::RefCell;

use crate::port::asynchronous::Parked;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use super::entry::Entry;
use super::events::{Events, PortEvent};
use super::{Region, chunk_layout, new_port_id};
use crate::message::ValidationError;
use crate::os::futex::FutexError;
use crate::os::mmap::{Mapping, Protection};
use crate::os::shm::{Access, SharedMemory};
use crate::os::signal::TerminationRequested;
use crate::service::layout::{QueueKind, SLOT_MONITOR};
use crate::service::{Claim, OsError, OverflowPolicy, PortKind, ServiceInner};
use crate::sync::Event;
use crate::sync::chunk_store::{
    ChunkHeader, ChunkLayout, ChunkLayoutError, ChunkReader, HoldError,
};
use crate::sync::event::WaitError;
use crate::sync::index_queue::{IndexQueueConsumer, IndexQueueProducer, Overflow};

/// Failure of creating a subscriber (or the response side of a client, the request side of
/// a server).
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
    /// The service's types and QoS give no possible data segment (a service created by a
    /// broken peer: a healthy creator checks this).
    #[error(transparent)]
    Layout(#[from] ChunkLayoutError),
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
    /// Waiting asynchronously could not start or failed.
    #[error(transparent)]
    Async(#[from] crate::port::asynchronous::waker::WakerError),
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

#[derive(Debug)]
struct Connection {
    epoch: u64,
    port: u64,
    reader: ChunkReader<Region>,
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
    /// instruction); doing that at the next receive (or the next release) instead of when
    /// the sample is dropped keeps both off the path of whatever the caller does next —
    /// typically, publishing its answer.
    deferred: Option<Deferred>,
    /// Segments of publishers that went away while this receiver held chunks of them: kept
    /// mapped until the last of those chunks is let go of.
    retired: Vec<Retired>,
    events: Events,
}

/// The mapping of a departed publisher's segment, kept for the chunks still held.
#[derive(Debug)]
struct Retired {
    publisher_slot: usize,
    publisher_epoch: u64,
    borrowed: u32,
    _reader: ChunkReader<Region>,
}

/// A chunk let go of and not yet returned (see `State::deferred`).
#[derive(Debug)]
struct Deferred {
    publisher_slot: usize,
    publisher_epoch: u64,
    index: u32,
}

/// A received chunk, owned apart from its receiver: where its payload is (validated by
/// the receive that took it), its header and where to return it. Give it back with
/// [`Receiver::release`]. Its receiver keeps the publisher's segment mapped until then,
/// even if the publisher goes away meanwhile (`State::retired`): holding a chunk costs no
/// reference count, so receiving makes no locked instruction for it.
#[derive(Debug)]
pub(crate) struct Held {
    ptr: NonNull<u8>,
    len: usize,
    pub(crate) header: ChunkHeader,
    pub(crate) publisher_slot: usize,
    publisher_epoch: u64,
    index: u32,
}

// SAFETY: `Held` is an address in a mapping its receiver keeps alive until the chunk is
// released, and the publisher does not write the chunk meanwhile; neither depends on the
// thread that holds it.
#[allow(unsafe_code)]
unsafe impl Send for Held {}

impl Held {
    /// The payload's bytes.
    ///
    /// # Safety
    ///
    /// The receiver that received the chunk must be alive, and the chunk not released.
    #[inline]
    #[allow(unsafe_code)]
    pub(crate) unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` and `len` come from `ChunkReader::payload_ptr`, which checked that
        // the range lies inside the mapping; the receiver keeps that mapping (in a
        // connection or in `retired`) until the chunk is released, and by the caller's
        // promise it is alive and the chunk held; every byte of a mapping is initialised,
        // and the publisher does not write a chunk while a reader holds it (a hostile one
        // may: readers of types not valid for every bit pattern validated the bytes, see
        // `message::validate`).
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr(), self.len)
        }
    }

    /// The payload's address.
    #[inline]
    pub(crate) fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }
}

/// The receiving end of channel `ch` of a service (see the module docs of [`super`]).
#[derive(Debug)]
pub(crate) struct Receiver {
    service: Arc<ServiceInner>,
    ch: usize,
    state: RefCell<State>,
    claim: Claim,
    port: u64,
    layout: ChunkLayout,
    event: Option<Event<Region>>,
    /// The async futures' registration with the waker threads, kept between futures so
    /// that a task awaiting this port in a loop registers once (`port::asynchronous`).
    parked: Parked,
}

impl Receiver {
    /// Claims a subscriber slot of channel `ch` — a monitor's if `monitor` (it gets a copy
    /// of every chunk sent, and is not one of the channel's receivers to choose from). From
    /// the moment this returns, every chunk sent to all subscribers reaches it.
    pub(crate) fn create(
        service: Arc<ServiceInner>,
        ch: usize,
        monitor: bool,
    ) -> Result<Self, SubscriberCreateError> {
        let qos = *service.qos(ch);
        let layout = chunk_layout(&service, ch)?;
        let port = new_port_id().map_err(OsError::from)?;
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
        let Some(claim) = service.claim_slot(
            ch,
            PortKind::Subscriber,
            port,
            if monitor { SLOT_MONITOR } else { 0 },
            &clear,
        ) else {
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
        tracing::info!(service = %service.name, channel = ch, port = %format!("{port:016x}"), slot = claim.slot, "subscriber created");
        Ok(Self {
            state: RefCell::new(State {
                connections: (0..qos.max_publishers).map(|_| None).collect(),
                delivers,
                returns,
                generation: u64::MAX,
                next: 0,
                missed: 0,
                deferred: None,
                retired: Vec::new(),
                events: Events::default(),
            }),
            service,
            ch,
            claim,
            port,
            layout,
            event,
            parked: Parked::default(),
        })
    }

    /// The port's id.
    pub(crate) fn id(&self) -> u64 {
        self.port
    }

    /// The service.
    pub(crate) fn service(&self) -> &Arc<ServiceInner> {
        &self.service
    }

    /// The claimed slot (request-response routes responses to it).
    pub(crate) fn slot(&self) -> usize {
        self.claim.slot
    }

    /// Where the async futures keep their registration between futures.
    pub(crate) fn parked(&self) -> &Parked {
        &self.parked
    }

    /// The event word publishers notify.
    pub(crate) fn event(&self) -> Option<&Event<Region>> {
        self.event.as_ref()
    }

    /// The next chunk whose bytes `validate` accepts, if one is waiting. Never blocks. A
    /// chunk that fails is returned to its publisher and reported.
    pub(crate) fn receive(
        &self,
        validate: impl Fn(&[u8]) -> Result<(), ValidationError>,
    ) -> Result<Option<Held>, ReceiveError> {
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
                        Self::drop_connection(state, p);
                        break;
                    }
                };
                let entry = Entry::decode(raw);
                if !entry.is_for(connection.epoch, self.claim.epoch) {
                    continue; // left over from a previous occupant of either slot
                }
                if blocking && let Some(event) = &connection.event {
                    let _ = event.notify();
                }
                let index = entry.index;
                let reader = &connection.reader;
                let held = match (reader.header(index), reader.payload_ptr(index)) {
                    (Some(header), _) if header.origin != connection.port => {
                        Err(HoldError::ForeignChunk {
                            index,
                            found: header.origin,
                            expected: connection.port,
                        })
                    }
                    (Some(header), Some(ptr)) => {
                        let held = Held {
                            ptr,
                            len: reader.layout().payload_size,
                            header,
                            publisher_slot: p,
                            publisher_epoch: connection.epoch,
                            index,
                        };
                        // SAFETY: this receiver is alive and holds the chunk.
                        #[allow(unsafe_code)]
                        let bytes = unsafe { held.bytes() };
                        match validate(bytes) {
                            Ok(()) => Ok(held),
                            Err(error) => Err(HoldError::Invalid(error)),
                        }
                    }
                    _ => Err(HoldError::OutOfRange {
                        index,
                        count: reader.layout().count,
                    }),
                };
                match held {
                    Ok(held) => {
                        connection.borrowed += 1;
                        state.next = wrap(p + 1);
                        return Ok(Some(held));
                    }
                    Err(error) => {
                        let entry = Entry::new(index, connection.epoch, self.claim.epoch);
                        let _ = state.returns[p].push(entry.encode(), Overflow::Reject);
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

    /// Waits on this port's event until `condition` returns `Some`, at most `timeout`
    /// (`None`: however long it takes). Without an event word (an unusable service object)
    /// it looks once.
    pub(crate) fn wait_until<R>(
        &self,
        timeout: Option<Duration>,
        mut condition: impl FnMut() -> Option<R>,
    ) -> Result<Option<R>, WaitError> {
        match &self.event {
            Some(event) => event.wait_until(timeout, condition),
            None => Ok(condition()),
        }
    }

    /// Whether a chunk is waiting (without taking it).
    pub(crate) fn has_samples(&self) -> bool {
        Self::queued(&self.state.borrow())
    }

    /// Whether a chunk is waiting, after connecting publishers that joined (for wait sets
    /// and futures: the deferred chunk goes back first, as they look before sleeping).
    pub(crate) fn poll_ready(&self) -> bool {
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return false;
        };
        self.return_deferred(&mut state);
        self.refresh(&mut state);
        Self::queued(&state)
    }

    #[inline]
    fn queued(state: &State) -> bool {
        state
            .connections
            .iter()
            .zip(&state.delivers)
            .any(|(c, q)| c.is_some() && !q.is_empty())
    }

    /// Connects publishers that joined and lets go of those that left, if the registry
    /// changed since the last look (one atomic load when it did not).
    #[inline]
    fn refresh(&self, state: &mut State) {
        let generation = self.service.generation();
        if generation != state.generation {
            state.generation = generation;
            self.reconnect(state);
        }
    }

    /// Samples this receiver lost because its buffer overflowed, since its creation.
    pub(crate) fn missed(&self) -> u64 {
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

    /// Ids of the publishers this receiver is connected to.
    pub(crate) fn connected_ports(&self) -> Vec<u64> {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        state.connections.iter().flatten().map(|c| c.port).collect()
    }

    /// How many publishers are connected.
    pub(crate) fn connected(&self) -> usize {
        let mut state = self.state.borrow_mut();
        self.refresh(&mut state);
        state.connections.iter().flatten().count()
    }

    /// Connections and departures of publishers since the last call, oldest first.
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

    fn reconnect(&self, state: &mut State) {
        for p in 0..state.connections.len() {
            let info = self.service.slot(self.ch, PortKind::Publisher, p);
            let current = state.connections[p].as_ref().map(|c| (c.epoch, c.port));
            if info.map(|i| (i.epoch, i.port)) == current {
                continue;
            }
            if let Some((epoch, port)) = current {
                tracing::debug!(service = %self.service.name, slot = p, "publisher left");
                Self::drop_connection(state, p);
                state.events.disconnected(
                    &self.service,
                    (self.ch, PortKind::Publisher, p),
                    epoch,
                    port,
                );
            }
            let Some(info) = info else { continue };
            match self.map_segment(info.owner, info.port) {
                Ok(reader) => {
                    tracing::debug!(service = %self.service.name, slot = p, "publisher connected");
                    state.events.connected(info.port);
                    state.connections[p] = Some(Connection {
                        epoch: info.epoch,
                        port: info.port,
                        reader,
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

    /// Lets go of the connection to publisher slot `p`; its segment stays mapped while
    /// chunks of it are held.
    fn drop_connection(state: &mut State, p: usize) {
        let Some(connection) = state.connections.get_mut(p).and_then(Option::take) else {
            return;
        };
        if connection.borrowed > 0 {
            state.retired.push(Retired {
                publisher_slot: p,
                publisher_epoch: connection.epoch,
                borrowed: connection.borrowed,
                _reader: connection.reader,
            });
        }
    }

    /// Maps a publisher's segment read-only and checks its geometry.
    fn map_segment(&self, owner: u64, port: u64) -> Result<ChunkReader<Region>, String> {
        let layout = self.layout;
        let name = self
            .service
            .segment_name(owner, port)
            .map_err(|e| e.to_string())?;
        let shm = SharedMemory::open(&name, Access::ReadOnly, self.service.permissions())
            .map_err(|e| e.to_string())?;
        let len =
            usize::try_from(shm.len().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        if len < layout.segment_size {
            return Err(format!(
                "segment is {len} bytes, {} expected",
                layout.segment_size
            ));
        }
        let mapping = Mapping::new(&shm, layout.segment_size, Protection::ReadOnly)
            .map_err(|e| e.to_string())?;
        ChunkReader::open(Arc::new(mapping), layout).map_err(|e| e.to_string())
    }

    /// Gives back a chunk taken with [`Self::receive`]: it is returned to its publisher at
    /// the next receive or release (see `State::deferred`), the one deferred before it now.
    pub(crate) fn release(&self, held: Held) {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let current = state
            .connections
            .get_mut(held.publisher_slot)
            .and_then(Option::as_mut)
            .filter(|c| c.epoch == held.publisher_epoch);
        let Some(connection) = current else {
            // That publisher is gone: its chunks go with its segment, unmapped with the last.
            if let Some(at) = state.retired.iter().position(|r| {
                r.publisher_slot == held.publisher_slot && r.publisher_epoch == held.publisher_epoch
            }) {
                let retired = &mut state.retired[at];
                retired.borrowed = retired.borrowed.saturating_sub(1);
                if retired.borrowed == 0 {
                    state.retired.swap_remove(at);
                }
            }
            return;
        };
        connection.borrowed = connection.borrowed.saturating_sub(1);
        self.return_deferred(state);
        state.deferred = Some(Deferred {
            publisher_slot: held.publisher_slot,
            publisher_epoch: held.publisher_epoch,
            index: held.index,
        });
    }

    /// Pushes the deferred chunk, if there is one, into its publisher's return queue.
    #[inline]
    fn return_deferred(&self, state: &mut State) {
        if state.deferred.is_some() {
            self.return_deferred_now(state);
        }
    }

    fn return_deferred_now(&self, state: &mut State) {
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
        let entry = Entry::new(index, publisher_epoch, self.claim.epoch).encode();
        if let Err(error) = state.returns[publisher_slot].push(entry, Overflow::Reject) {
            tracing::warn!(service = %self.service.name, %error, "could not return a chunk; the publisher takes it back when this subscriber leaves");
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.service
            .release_slot(self.ch, PortKind::Subscriber, self.claim.slot);
        tracing::info!(service = %self.service.name, port = %format!("{:016x}", self.port), "subscriber removed");
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Receiver;
    use crate::service::Service;
    use crate::{Config, Node};

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot call shm_open")]
    fn a_departed_publishers_segment_stays_mapped_while_a_chunk_of_it_is_held() {
        let root = std::env::temp_dir().join(format!("shmbus-retired-{}", std::process::id()));
        let config = Config::default()
            .with_domain(format!("retired_{}", std::process::id()))
            .unwrap()
            .with_runtime_dir(&root)
            .unwrap();
        let node = Node::builder().config(config.clone()).create().unwrap();
        {
            let service = Service::publish_subscribe::<u64>(&node, "retired")
                .create()
                .unwrap();
            let receiver = Receiver::create(service.inner.clone(), 0, false).unwrap();
            let publisher = service.publisher().create().unwrap();
            publisher.send_copy(&7).unwrap();
            let held = receiver.receive(|_| Ok(())).unwrap().unwrap();
            drop(publisher);
            // The publisher's slot is free: the connection goes, the mapping stays.
            assert_eq!(receiver.connected(), 0);
            assert_eq!(receiver.state.borrow().retired.len(), 1);
            // SAFETY: the receiver is alive and the chunk held.
            #[allow(unsafe_code)]
            let bytes = unsafe { held.bytes() };
            assert_eq!(bytes, 7u64.to_ne_bytes());
            receiver.release(held);
            assert!(receiver.state.borrow().retired.is_empty());
        }
        drop(node);
        assert!(config.objects().unwrap().is_empty());
    }
}
