//! The mapped registry of a service: node table, port slots and queues of its channels,
//! and the service handle that joins it and removes the service when the last one leaves.

use std::sync::Arc;
use std::time::Duration;

use super::layout::*;
use super::{
    JoinError, OsError, PubSubQos, RequestResponseQos, ServiceName, acquire_lock, remove_segments,
};
use crate::message::Descriptor;
use crate::node::{Liveness, Node, NodeId};
use crate::os::mmap::Mapping;
use crate::os::shm::{self, Permissions, ShmName};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::index_queue::{IndexQueueConsumer, IndexQueueProducer};
use crate::sync::view::View;

/// Which kind of port slot of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortKind {
    Publisher,
    Subscriber,
}

impl PortKind {
    pub(crate) fn count(self, qos: &PubSubQos) -> usize {
        match self {
            Self::Publisher => qos.max_publishers as usize,
            Self::Subscriber => qos.max_subscribers as usize,
        }
    }

    pub(crate) fn slot_at(self, channel: &Channel, i: usize) -> usize {
        match self {
            Self::Publisher => channel.publisher_at(i),
            Self::Subscriber => channel.subscriber_at(i),
        }
    }
}

/// A ready port found in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotInfo {
    pub(crate) owner: u64,
    pub(crate) epoch: u64,
    pub(crate) port: u64,
    /// A monitor: it gets copies, and is no server or client.
    pub(crate) monitor: bool,
}

/// What [`Registry::remove_dead_nodes`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    /// Dead nodes whose entries and ports left the service.
    pub(crate) nodes: usize,
    /// Data segments of their publishers that were unlinked.
    pub(crate) segments: usize,
    /// Their token files that were removed.
    pub(crate) tokens: usize,
}

/// A claimed port slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) slot: usize,
    pub(crate) epoch: u64,
}

/// A mapped service: its registry and everything ports need from it.
#[derive(Debug)]
pub(crate) struct Registry {
    pub(crate) node: Node,
    pub(crate) name: ServiceName,
    /// The hash of the name that names the service's objects.
    id: u64,
    shm_name: ShmName,
    /// The service lock's file name (in the domain's `services` folder).
    lock_name: String,
    pub(crate) mapping: Arc<Mapping>,
    pub(crate) view: View<Arc<Mapping>>,
    pub(crate) geometry: Geometry,
    permissions: Permissions,
}

impl Registry {
    #[allow(clippy::too_many_arguments)] // the parts of a just-opened service, once
    pub(crate) fn new(
        node: Node,
        name: ServiceName,
        id: u64,
        shm_name: ShmName,
        lock_name: String,
        mapping: Arc<Mapping>,
        view: View<Arc<Mapping>>,
        geometry: Geometry,
        permissions: Permissions,
    ) -> Self {
        Self {
            node,
            name,
            id,
            shm_name,
            lock_name,
            mapping,
            view,
            geometry,
            permissions,
        }
    }

    /// The QoS of a request-response service, from its two channels.
    pub(crate) fn request_response_qos(&self) -> RequestResponseQos {
        let (requests, responses) = (*self.qos(0), *self.qos(1));
        RequestResponseQos {
            max_clients: requests.max_publishers,
            max_servers: requests.max_subscribers,
            max_nodes: self.geometry.max_nodes,
            max_active_requests_per_client: requests.subscriber_buffer,
            response_buffer: responses.subscriber_buffer,
            max_loans: requests.max_loans,
            max_borrowed_responses: responses.max_borrowed / requests.subscriber_buffer.max(1),
        }
    }

    /// The pattern's part of the service's object names: `rr` for request-response (the
    /// only pattern with a request table), `ps` for publish-subscribe.
    pub(crate) fn suffix(&self) -> &'static str {
        if self.geometry.requests.is_some() {
            "rr"
        } else {
            "ps"
        }
    }

    /// Channel `ch` of the service.
    #[inline]
    pub(crate) fn channel(&self, ch: usize) -> &Channel {
        self.geometry.channel(ch)
    }

    /// The QoS the ports of channel `ch` work with.
    #[inline]
    pub(crate) fn qos(&self, ch: usize) -> &PubSubQos {
        &self.channel(ch).qos
    }

    #[inline]
    pub(crate) fn word(&self, at: usize) -> Option<&AtomicU64> {
        self.view.u64(at).ok()
    }

    /// The registry generation: changes whenever a port joins or leaves.
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        // SYNC(acquire): pairs with the release `fetch_add` in `bump_generation`.
        self.word(GENERATION_AT)
            .map_or(0, |w| w.load(Ordering::Acquire))
    }

    fn bump_generation(&self) {
        if let Some(w) = self.word(GENERATION_AT) {
            // SYNC(release): publishes the slot change made just before.
            w.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The port in slot `i` of `kind` in channel `ch`, if one is ready.
    pub(crate) fn slot(&self, ch: usize, kind: PortKind, i: usize) -> Option<SlotInfo> {
        let at = kind.slot_at(self.channel(ch), i);
        // SYNC(acquire): pairs with the release store of `state` in `claim_slot`: a ready
        // state makes the epoch and port written before it visible.
        let state = self.word(at + SLOT_STATE)?.load(Ordering::Acquire);
        if state != STATE_READY && state != STATE_DRAINING {
            return None;
        }
        let owner = self.word(at + SLOT_OWNER)?.load(Ordering::Acquire);
        let epoch = self.word(at + SLOT_EPOCH)?.load(Ordering::Acquire);
        let port = self.word(at + SLOT_PORT)?.load(Ordering::Acquire);
        let flags = self.word(at + SLOT_FLAGS)?.load(Ordering::Acquire);
        (owner != 0).then_some(SlotInfo {
            owner,
            epoch,
            port,
            monitor: flags & SLOT_MONITOR != 0,
        })
    }

    /// Takes a free slot of `kind` in channel `ch` for a port with id `port` and `flags`
    /// (`SLOT_MONITOR`), removing
    /// ports of dead nodes if every slot is taken. `None` when the channel is full.
    ///
    /// `prepare` runs after the slot is ours and before it is marked ready, so no peer
    /// connects to it yet: a subscriber clears what a previous occupant left in its queues.
    pub(crate) fn claim_slot(
        &self,
        ch: usize,
        kind: PortKind,
        port: u64,
        flags: u64,
        prepare: &dyn Fn(usize),
    ) -> Option<Claim> {
        let channel = *self.channel(ch);
        for attempt in 0..2 {
            for i in 0..kind.count(&channel.qos) {
                let at = kind.slot_at(&channel, i);
                let owner = self.word(at + SLOT_OWNER)?;
                // SYNC(acq_rel): the claim; acquire pairs with the release in `release_slot`
                // so the previous occupant's last writes are visible.
                if owner
                    .compare_exchange(
                        0,
                        self.node.id().value(),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    let epoch = self
                        .word(at + SLOT_EPOCH)?
                        .fetch_add(1, Ordering::AcqRel)
                        .wrapping_add(1);
                    self.word(at + SLOT_PORT)?.store(port, Ordering::Relaxed);
                    self.word(at + SLOT_FLAGS)?.store(flags, Ordering::Relaxed);
                    prepare(i);
                    // SYNC(release): publishes epoch and port with the ready state.
                    self.word(at + SLOT_STATE)?
                        .store(STATE_READY, Ordering::Release);
                    self.bump_generation();
                    return Some(Claim { slot: i, epoch });
                }
            }
            if attempt == 0 {
                self.remove_dead_nodes();
            }
        }
        None
    }

    /// Leaves a publisher slot whose samples are still queued: subscribers can still map
    /// the segment and read them; the last one to drain it frees the slot
    /// ([`Registry::finish_draining`]).
    pub(crate) fn drain_slot(&self, ch: usize, slot: usize) {
        let at = PortKind::Publisher.slot_at(self.channel(ch), slot);
        if let Some(state) = self.word(at + SLOT_STATE) {
            state.store(STATE_DRAINING, Ordering::Release);
            self.bump_generation();
        }
    }

    /// Frees a draining publisher slot once every delivery queue of it is empty, and
    /// removes its segment (readers keep their mappings). Returns whether it did.
    pub(crate) fn finish_draining(&self, ch: usize, slot: usize, port: u64) -> bool {
        let at = PortKind::Publisher.slot_at(self.channel(ch), slot);
        let empty = (0..self.qos(ch).max_subscribers as usize).all(|s| {
            self.consumer(ch, QueueKind::Deliver, slot, s)
                .is_ok_and(|q| q.is_empty())
        });
        let draining = self.word(at + SLOT_PORT).map(|w| w.load(Ordering::Acquire)) == Some(port)
            && self.word(at + SLOT_STATE).is_some_and(|w| {
                w.compare_exchange(STATE_DRAINING, 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            });
        if !(empty && draining) {
            if draining && let Some(w) = self.word(at + SLOT_STATE) {
                w.store(STATE_DRAINING, Ordering::Release);
            }
            return false;
        }
        let owner = self
            .word(at + SLOT_OWNER)
            .map_or(0, |w| w.load(Ordering::Acquire));
        if let Ok(name) = self.segment_name(owner, port) {
            let _ = shm::unlink(&name, self.permissions);
        }
        self.record_departure(at, false);
        if let Some(w) = self.word(at + SLOT_PORT) {
            w.store(0, Ordering::Relaxed);
        }
        if let Some(w) = self.word(at + SLOT_OWNER) {
            w.store(0, Ordering::Release);
        }
        self.bump_generation();
        true
    }

    /// Whether publisher slot `p` of channel `ch` is draining.
    #[inline]
    pub(crate) fn slot_is_draining(&self, ch: usize, p: usize) -> bool {
        let at = PortKind::Publisher.slot_at(self.channel(ch), p);
        self.word(at + SLOT_STATE)
            .is_some_and(|w| w.load(Ordering::Acquire) == STATE_DRAINING)
    }

    /// Records how the port of a slot ended (before the slot is freed), for counterparts.
    fn record_departure(&self, at: usize, died: bool) {
        if let (Some(epoch), Some(departure)) =
            (self.word(at + SLOT_EPOCH), self.word(at + SLOT_DEPARTURE))
        {
            let epoch = epoch.load(Ordering::Acquire);
            // SYNC(release): read by counterparts after they saw the slot change.
            departure.store(departure_word(epoch, died), Ordering::Release);
        }
    }

    /// How the last port of a slot ended: `Some(died)` if it was the port of `epoch`.
    pub(crate) fn departure(
        &self,
        ch: usize,
        kind: PortKind,
        slot: usize,
        epoch: u64,
    ) -> Option<bool> {
        let at = kind.slot_at(self.channel(ch), slot);
        // SYNC(acquire): pairs with the release store in `record_departure`.
        let word = self.word(at + SLOT_DEPARTURE)?.load(Ordering::Acquire);
        (word >> 1 == epoch).then_some(word & 1 == 1)
    }

    /// Frees a slot this node claimed.
    pub(crate) fn release_slot(&self, ch: usize, kind: PortKind, slot: usize) {
        let at = kind.slot_at(self.channel(ch), slot);
        self.record_departure(at, false);
        if let (Some(state), Some(port), Some(owner)) = (
            self.word(at + SLOT_STATE),
            self.word(at + SLOT_PORT),
            self.word(at + SLOT_OWNER),
        ) {
            state.store(0, Ordering::Release);
            port.store(0, Ordering::Relaxed);
            // SYNC(release): pairs with the acquire CAS of the next claimer.
            owner.store(0, Ordering::Release);
            self.bump_generation();
        }
    }

    /// The event word of a slot.
    pub(crate) fn event(
        &self,
        ch: usize,
        kind: PortKind,
        slot: usize,
    ) -> Option<crate::sync::Event<Arc<Mapping>>> {
        crate::sync::Event::open(
            self.mapping.clone(),
            kind.slot_at(self.channel(ch), slot) + SLOT_EVENT,
        )
        .ok()
    }

    /// The producing end of queue `kind` between publisher slot `p` and subscriber slot `s`
    /// of channel `ch` (the publisher's for deliveries, the subscriber's for returns).
    pub(crate) fn producer(
        &self,
        ch: usize,
        kind: QueueKind,
        p: usize,
        s: usize,
    ) -> Result<IndexQueueProducer<Arc<Mapping>>, OsError> {
        let (at, capacity) = self.channel(ch).queue(kind, p, s);
        Ok(IndexQueueProducer::open(
            self.mapping.clone(),
            at,
            capacity,
            u32::MAX,
        )?)
    }

    /// The consuming end of the same queue.
    pub(crate) fn consumer(
        &self,
        ch: usize,
        kind: QueueKind,
        p: usize,
        s: usize,
    ) -> Result<IndexQueueConsumer<Arc<Mapping>>, OsError> {
        let (at, capacity) = self.channel(ch).queue(kind, p, s);
        Ok(IndexQueueConsumer::open(
            self.mapping.clone(),
            at,
            capacity,
            u32::MAX,
        )?)
    }

    /// The request-table word of request slot `a` of client slot `c` (request-response).
    pub(crate) fn request_word(&self, c: usize, a: usize) -> Option<&AtomicU64> {
        self.word(self.geometry.requests?.word_at(c, a)?)
    }

    /// The shared-memory name of the data segment of publisher `port` of node `owner`:
    /// `<service segments prefix><owner>.<port>`. Under the service's id, so that removing
    /// the service finds every segment by name whatever its registry says (a dead or
    /// hostile process may have scribbled over it); with the owner, so that a cleaner can
    /// tell the segment of a publisher that died before registering it (its node is dead)
    /// from one being set up right now.
    pub(crate) fn segment_name(
        &self,
        owner: u64,
        port: u64,
    ) -> Result<ShmName, crate::os::shm::ShmNameError> {
        ShmName::new(format!(
            "{}{owner:016x}.{port:016x}",
            super::segments_prefix(self.node.config(), self.suffix(), self.id)
        ))
    }

    /// Removes the segments of this service whose owning node is dead (publishers that
    /// died between creating their segment and registering it). Returns how many.
    pub(crate) fn remove_orphan_segments(&self) -> usize {
        let config = self.node.config();
        let prefix = super::segments_prefix(config, self.suffix(), self.id);
        let Ok(names) = shm::list(&prefix, self.permissions) else {
            return 0;
        };
        let mut removed = 0;
        for name in names {
            let owner = name.as_str()[prefix.len()..]
                .split('.')
                .next()
                .and_then(|o| u64::from_str_radix(o, 16).ok())
                .unwrap_or(0);
            if !self.owner_alive(owner) && shm::unlink(&name, self.permissions).is_ok() {
                tracing::info!(service = %self.name, segment = %name, "removed the segment of a publisher that died before registering");
                removed += 1;
            }
        }
        removed
    }

    /// The permissions ports give their own objects (those of the service handle).
    pub(crate) fn permissions(&self) -> Permissions {
        self.permissions
    }

    fn slots(&self) -> impl Iterator<Item = (PortKind, usize)> + '_ {
        self.geometry.channels().iter().flat_map(|c| {
            [PortKind::Publisher, PortKind::Subscriber]
                .into_iter()
                .flat_map(move |kind| {
                    (0..kind.count(&c.qos)).map(move |i| (kind, kind.slot_at(c, i)))
                })
        })
    }

    fn claim_node_slot(&self) -> Result<usize, JoinError> {
        let max = self.geometry.max_nodes;
        for attempt in 0..2 {
            for i in 0..max as usize {
                if let Some(w) = self.word(self.geometry.node_at(i))
                    && w.compare_exchange(
                        0,
                        self.node.id().value(),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    return Ok(i);
                }
            }
            if attempt == 0 {
                self.remove_dead_nodes();
            }
        }
        Err(JoinError::TooManyNodes {
            name: self.name.to_string(),
            max,
        })
    }

    /// Removes the node entries and ports of nodes whose liveness token is free. The dead
    /// publishers' data segments are unlinked (readers that still map them keep reading),
    /// and so are the dead nodes' tokens. Says what it removed.
    pub(crate) fn remove_dead_nodes(&self) -> Removed {
        // Dead owners, with their token locked by us if it is still there.
        let mut dead: Vec<(u64, Option<crate::os::lock::LockFile>)> = Vec::new();
        let check = |owner: u64, dead: &mut Vec<(u64, Option<crate::os::lock::LockFile>)>| {
            if owner == 0 || owner == self.node.id().value() || dead.iter().any(|d| d.0 == owner) {
                return;
            }
            match NodeId::from_value(owner).map(|id| self.node.liveness(id)) {
                Some(Liveness::Alive) => {}
                Some(Liveness::Dead(token)) => dead.push((owner, Some(token))),
                Some(Liveness::Gone) | None => dead.push((owner, None)),
            }
        };
        for i in 0..self.geometry.max_nodes as usize {
            if let Some(w) = self.word(self.geometry.node_at(i)) {
                check(w.load(Ordering::Acquire), &mut dead);
            }
        }
        for (_, at) in self.slots() {
            if let Some(w) = self.word(at + SLOT_OWNER) {
                check(w.load(Ordering::Acquire), &mut dead);
            }
        }
        let mut removed = Removed {
            nodes: dead.len(),
            ..Removed::default()
        };
        for (owner, token) in dead {
            tracing::info!(service = %self.name, node = %format!("{owner:016x}"), "removing a dead node's entries");
            for i in 0..self.geometry.max_nodes as usize {
                if let Some(w) = self.word(self.geometry.node_at(i)) {
                    let _ = w.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
                }
            }
            for (kind, at) in self.slots() {
                if self
                    .word(at + SLOT_OWNER)
                    .map(|w| w.load(Ordering::Acquire))
                    != Some(owner)
                {
                    continue;
                }
                if kind == PortKind::Publisher
                    && let Some(port) = self.word(at + SLOT_PORT).map(|w| w.load(Ordering::Acquire))
                    && port != 0
                    && let Ok(seg) = self.segment_name(owner, port)
                    && shm::unlink(&seg, self.permissions).is_ok()
                {
                    removed.segments += 1;
                }
                self.record_departure(at, true);
                if let Some(w) = self.word(at + SLOT_STATE) {
                    w.store(0, Ordering::Release);
                }
                if let Some(w) = self.word(at + SLOT_OWNER) {
                    let _ = w.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
                }
                self.bump_generation();
            }
            // The dead node's token goes too: a missing token reads as dead for every
            // other service it was in, so their cleaners still find it.
            if let Some(token) = token {
                match token.remove() {
                    Ok(()) => removed.tokens += 1,
                    Err(error) => {
                        tracing::warn!(node = %format!("{owner:016x}"), %error, "could not remove a dead node's token file")
                    }
                }
            }
        }
        removed
    }

    /// Whether the node of `owner` (a slot's owner word) is alive. Costs a `flock` probe:
    /// for waits that must notice a dead peer, never for the data path.
    pub(crate) fn owner_alive(&self, owner: u64) -> bool {
        owner == self.node.id().value()
            || NodeId::from_value(owner)
                .is_some_and(|id| matches!(self.node.liveness(id), Liveness::Alive))
    }

    /// Whether any node entry other than `except` or any port is still registered (our
    /// own ports are gone: they keep the handle alive).
    pub(crate) fn in_use(&self, except: usize) -> bool {
        let used = |w: Option<&AtomicU64>| w.is_some_and(|w| w.load(Ordering::Acquire) != 0);
        (0..self.geometry.max_nodes as usize)
            .any(|i| i != except && used(self.word(self.geometry.node_at(i))))
            || self.slots().any(|(_, at)| {
                let draining = self
                    .word(at + SLOT_STATE)
                    .is_some_and(|w| w.load(Ordering::Acquire) == STATE_DRAINING);
                !draining && used(self.word(at + SLOT_OWNER))
            })
    }
}

/// The shared part of a service handle; ports keep it alive. Dropping the last one leaves
/// the service, and removes it if no other node uses it.
#[derive(Debug)]
pub(crate) struct ServiceInner {
    registry: Registry,
    node_slot: usize,
    /// The message type of each channel (the request type, then the response type).
    types: Box<[Descriptor; 2]>,
}

impl ServiceInner {
    /// Joins the service: takes a slot in its node table. `types` are the message types
    /// of its channels (one for publish-subscribe, two for request-response).
    pub(crate) fn join(registry: Registry, types: &[Descriptor]) -> Result<Self, JoinError> {
        let node_slot = registry.claim_node_slot()?;
        Ok(Self::new(registry, node_slot, types))
    }

    /// Joins a service this node just created, under its lock: the first node slot is
    /// free (nobody else can have opened it yet).
    pub(crate) fn join_created(registry: Registry, types: &[Descriptor]) -> Self {
        if let Some(w) = registry.word(registry.geometry.node_at(0)) {
            w.store(registry.node.id().value(), Ordering::Release);
        }
        Self::new(registry, 0, types)
    }

    fn new(registry: Registry, node_slot: usize, types: &[Descriptor]) -> Self {
        let first = types.first().cloned().unwrap_or_else(Descriptor::of::<u8>);
        let second = types.get(1).cloned().unwrap_or_else(|| first.clone());
        Self {
            registry,
            node_slot,
            types: Box::new([first, second]),
        }
    }

    /// The message type of channel `ch` (the request type is 0, the response type 1).
    pub(crate) fn type_of(&self, ch: usize) -> &Descriptor {
        &self.types[ch.min(1)]
    }
}

impl std::ops::Deref for ServiceInner {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.registry
    }
}

impl Drop for ServiceInner {
    fn drop(&mut self) {
        let lock = match acquire_lock(
            self.node.domain_folder(),
            &self.lock_name,
            Duration::from_secs(10),
            &self.name,
        ) {
            Ok((_, lock)) => lock,
            Err(error) => {
                tracing::warn!(service = %self.name, %error, "cannot take the service lock to leave it; its node entry stays until cleanup");
                return;
            }
        };
        if let Some(w) = self.word(self.geometry.node_at(self.node_slot)) {
            let _ = w.compare_exchange(
                self.node.id().value(),
                0,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
        self.remove_dead_nodes();
        if self.in_use(self.node_slot) {
            drop(lock);
            return;
        }
        // Every data segment of the service goes, draining ones included: found by name,
        // whatever the registry says.
        remove_segments(self.node.config(), self.suffix(), self.id, self.permissions);
        if let Err(error) = shm::unlink(&self.shm_name, self.permissions) {
            tracing::warn!(service = %self.name, %error, "could not remove the service's shared memory");
        }
        if let Err(error) = lock.remove() {
            tracing::warn!(service = %self.name, %error, "could not remove the service's lock file");
        }
        self.node.domain_folder().remove_dir_if_empty("services");
        tracing::info!(service = %self.name, "service removed (last participant left)");
    }
}
