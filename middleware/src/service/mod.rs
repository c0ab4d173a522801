//! Services: named meeting points of ports, with a static configuration and a registry.
//!
//! [`Service::publish_subscribe`] starts a builder; `create`, `open` and `open_or_create`
//! end it. All three run under the service's lock file (`<domain dir>/services/<id>.ps.lock`,
//! an exclusive `flock` the kernel drops if the holder dies), so two processes calling
//! `open_or_create` at once end with one service, and nobody ever sees a half-created one:
//! a service whose creator died before marking it ready is found, still not ready, by the
//! next lock holder, who removes it and starts over. Waiting for the lock is bounded
//! ([`PubSubServiceBuilder::lock_timeout`]).
//!
//! Opening checks, in order: the magic and the shm-ABI version ([`SHM_ABI_VERSION`], not
//! the crate version, so compatible releases talk), the pattern and full name (the object
//! name is a hash), the message type by layout hash — a mismatch shows both types and the
//! first differing field — and the QoS: every value the opener set explicitly must be at
//! most what the service offers. Each service handle takes a slot in the service's node
//! table; when the last handle of the last node goes, the service's objects are removed.
//!
//! The shared-memory layout is documented in [`layout`].

mod error;
pub mod layout;
pub mod name;
pub mod qos;

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::{OsError, ServiceError, TypeMismatch};
pub use layout::SHM_ABI_VERSION;
pub use name::{ServiceName, ServiceNameError};
pub use qos::{OverflowPolicy, PubSubQos, QosError};

use crate::message::{ShmMessage, TypeDescriptor};
use crate::node::{Liveness, Node, NodeId};
use crate::os::lock::{self, LockCreateError, LockFile, TryLock};
use crate::os::mmap::{Mapping, Protection};
use crate::os::shm::{self, Access, Permissions, SharedMemory, ShmName, ShmOpenError};
use crate::sync::atomic::Ordering;
use crate::sync::index_queue::{IndexQueueConsumer, IndexQueueProducer};
use crate::sync::view::View;
use layout::*;

/// Entry point to services.
#[derive(Debug)]
pub struct Service;

impl Service {
    /// Starts building a publish-subscribe service named `name` carrying `T`.
    pub fn publish_subscribe<T: ShmMessage>(node: &Node, name: &str) -> PubSubServiceBuilder<T> {
        PubSubServiceBuilder {
            node: node.clone(),
            name: ServiceName::new(name),
            qos: PubSubQos::default(),
            explicit: [false; 8],
            permissions: node.config().permissions(),
            lock_timeout: Duration::from_secs(10),
            _type: PhantomData,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Open,
    OpenOrCreate,
}

/// Builds or opens a publish-subscribe service. Values set here are the service's QoS when
/// it is created, and requirements (at most what the service offers) when it is opened.
#[derive(Debug)]
#[must_use]
pub struct PubSubServiceBuilder<T> {
    node: Node,
    name: Result<ServiceName, ServiceNameError>,
    qos: PubSubQos,
    explicit: [bool; 8],
    permissions: Permissions,
    lock_timeout: Duration,
    _type: PhantomData<fn() -> T>,
}

macro_rules! qos_setter {
    ($(#[$doc:meta] $field:ident = $i:expr;)*) => {$(
        #[$doc]
        pub fn $field(mut self, value: u32) -> Self {
            self.qos.$field = value;
            self.explicit[$i] = true;
            self
        }
    )*};
}

impl<T: ShmMessage> PubSubServiceBuilder<T> {
    qos_setter! {
        /// Samples a late joiner receives from each publisher (default 0).
        history = 0;
        /// Samples a subscriber buffers per publisher (default 4).
        subscriber_buffer = 1;
        /// Publishers at once (default 2).
        max_publishers = 2;
        /// Subscribers at once (default 8, at most 63).
        max_subscribers = 3;
        /// Service handles at once (default 16).
        max_nodes = 4;
        /// Loans per publisher (default 2).
        max_loans = 5;
        /// Samples a subscriber holds at once per publisher (default 2).
        max_borrowed = 6;
    }

    /// What a publisher does when a subscriber's buffer is full (default: overwrite the
    /// oldest sample).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.qos.overflow = policy;
        self.explicit[7] = true;
        self
    }

    /// Who may open the service's shared-memory objects (default: the node's
    /// [`Config::permissions`](crate::Config::permissions), only this user unless
    /// configured). `Group` makes them mode 0660 with the given group, so processes of two
    /// users can talk; the domain's files need the same setting in the `Config`.
    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// How long to wait for another process that is creating or removing the service
    /// (default 10 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Creates the service; fails if it exists.
    pub fn create(self) -> Result<PubSubService<T>, ServiceError> {
        self.run(Mode::Create)
    }

    /// Opens the existing service; fails if there is none.
    pub fn open(self) -> Result<PubSubService<T>, ServiceError> {
        self.run(Mode::Open)
    }

    /// Opens the service, creating it if there is none.
    pub fn open_or_create(self) -> Result<PubSubService<T>, ServiceError> {
        self.run(Mode::OpenOrCreate)
    }

    fn run(self, mode: Mode) -> Result<PubSubService<T>, ServiceError> {
        let name = self.name.clone()?;
        self.qos.check()?;
        let config = self.node.config().clone();
        let id = name.object_id(PATTERN_PUBSUB as u8);
        let os = |source: OsError| ServiceError::Os {
            name: name.to_string(),
            source,
        };
        let shm_name = ShmName::new(format!("/{}ps.{id:016x}", config.shm_prefix()))
            .map_err(|e| os(e.into()))?;
        let dir = config.domain_dir().join("services");
        lock::create_runtime_dir(&dir, config.permissions()).map_err(|e| os(e.into()))?;
        let lock_path = dir.join(format!("{id:016x}.ps.lock"));
        let lock = acquire_lock(&lock_path, self.lock_timeout, &name, config.permissions())?;
        let result = self.run_locked(mode, &name, id, shm_name.clone(), lock_path.clone());
        // A failed `open` (or a failed creation) leaves no service behind; its lock file
        // must not stay either. We hold the lock, so nobody is creating it right now.
        if result.is_err()
            && matches!(
                SharedMemory::open(&shm_name, Access::ReadOnly),
                Err(ShmOpenError::NotFound { .. })
            )
        {
            if let Err(error) = lock.remove() {
                tracing::warn!(service = %name, %error, "could not remove the lock file of a service that does not exist");
            }
            crate::os::fs::remove_dir_if_empty(&dir);
        } else {
            drop(lock);
        }
        result
    }

    fn run_locked(
        &self,
        mode: Mode,
        name: &ServiceName,
        id: u64,
        shm_name: ShmName,
        lock_path: PathBuf,
    ) -> Result<PubSubService<T>, ServiceError> {
        let domain = self.node.config().domain().to_owned();
        let os = |source: OsError| ServiceError::Os {
            name: name.to_string(),
            source,
        };
        let existing = match SharedMemory::open(&shm_name, Access::ReadWrite) {
            Ok(shm) => Some(shm),
            Err(ShmOpenError::NotFound { .. }) => None,
            Err(e) => return Err(os(e.into())),
        };
        let (mapping, geometry, created) = match existing {
            Some(shm) => {
                if mode == Mode::Create {
                    return Err(ServiceError::AlreadyExists {
                        pattern: "publish-subscribe",
                        name: name.to_string(),
                        domain,
                    });
                }
                match self.join(&shm, name)? {
                    Some((mapping, geometry)) => (mapping, geometry, false),
                    None => {
                        // Its creator died before marking it ready: we hold the lock, so
                        // nobody else is creating it. Remove it and start over.
                        tracing::warn!(service = %name, "removing a half-created service left by a dead creator");
                        let _ = shm::unlink(&shm_name);
                        remove_segments(self.node.config(), id);
                        self.create_object(&shm_name, name)
                            .map(|(m, g)| (m, g, true))?
                    }
                }
            }
            None => {
                if mode == Mode::Open {
                    return Err(ServiceError::NotFound {
                        pattern: "publish-subscribe",
                        name: name.to_string(),
                        domain,
                    });
                }
                self.create_object(&shm_name, name)
                    .map(|(m, g)| (m, g, true))?
            }
        };
        let view = View::new(mapping.clone(), 0, geometry.total).map_err(|e| os(e.into()))?;
        let registry = Registry {
            node: self.node.clone(),
            name: name.clone(),
            id,
            shm_name,
            lock_path,
            mapping,
            view,
            geometry,
            permissions: self.permissions,
        };
        if !created {
            registry.remove_dead_nodes();
        }
        let node_slot = registry.claim_node_slot()?;
        let inner = ServiceInner {
            registry,
            node_slot,
        };
        tracing::info!(service = %name, created, "service opened");
        Ok(PubSubService {
            inner: Arc::new(inner),
            _type: PhantomData,
        })
    }

    /// Creates, sizes, maps and initialises the object; marks it ready last.
    fn create_object(
        &self,
        shm_name: &ShmName,
        name: &ServiceName,
    ) -> Result<(Arc<Mapping>, Geometry), ServiceError> {
        let os = |source: OsError| ServiceError::Os {
            name: name.to_string(),
            source,
        };
        let geometry = Geometry::new(self.qos);
        let shm = SharedMemory::create(shm_name, self.permissions).map_err(|e| os(e.into()))?;
        let init = || -> Result<Arc<Mapping>, OsError> {
            shm.set_len(geometry.total as u64)?;
            let mapping = Arc::new(Mapping::new(&shm, geometry.total, Protection::ReadWrite)?);
            let view = View::new(mapping.clone(), 0, geometry.total)?;
            let d = T::DESCRIPTOR;
            let listing = d.listing();
            let listing = truncate(&listing, LISTING_MAX);
            let type_name = truncate(d.name(), TYPE_NAME_MAX);
            let words: [(usize, u64); 12] = [
                (W_MAGIC, MAGIC),
                (W_ABI, SHM_ABI_VERSION),
                (W_PATTERN, PATTERN_PUBSUB),
                (W_CREATOR, self.node.id().value()),
                (W_TYPE_HASH, d.layout_hash()),
                (W_TYPE_SIZE, d.size() as u64),
                (W_TYPE_ALIGN, d.align() as u64),
                (W_OVERFLOW, self.qos.overflow.code()),
                (W_GENERATION, 0),
                (W_NAME_LEN, name.as_str().len() as u64),
                (W_TYPE_NAME_LEN, type_name.len() as u64),
                (W_LISTING_LEN, listing.len() as u64),
            ];
            for (w, value) in words {
                view.u64(8 * w)?.store(value, Ordering::Relaxed);
            }
            for (i, value) in self.qos.values().into_iter().enumerate() {
                view.u64(8 * (W_QOS + i))?
                    .store(u64::from(value), Ordering::Relaxed);
            }
            view.write_bytes(NAME_AT, name.as_str().as_bytes())?;
            view.write_bytes(TYPE_NAME_AT, type_name.as_bytes())?;
            view.write_bytes(LISTING_AT, listing.as_bytes())?;
            let q = self.qos;
            for p in 0..q.max_publishers as usize {
                for s in 0..q.max_subscribers as usize {
                    IndexQueueProducer::create(
                        mapping.clone(),
                        geometry.deliver_at(p, s),
                        geometry.deliver_capacity,
                        u32::MAX,
                    )?;
                    IndexQueueProducer::create(
                        mapping.clone(),
                        geometry.return_at(p, s),
                        geometry.return_capacity,
                        u32::MAX,
                    )?;
                }
            }
            for kind in [PortKind::Publisher, PortKind::Subscriber] {
                for i in 0..kind.count(&q) {
                    crate::sync::Event::create(
                        mapping.clone(),
                        kind.slot_at(&geometry, i) + SLOT_EVENT,
                    )?;
                }
            }
            // SYNC(release): publishes everything above to openers that acquire `state`
            // (they run under the lock after us, so the lock also orders it).
            view.u64(8 * W_STATE)?.store(STATE_READY, Ordering::Release);
            Ok(mapping)
        };
        match init() {
            Ok(mapping) => {
                tracing::info!(service = %name, size = geometry.total, "service created");
                Ok((mapping, geometry))
            }
            Err(source) => {
                let _ = shm::unlink(shm_name);
                Err(os(source))
            }
        }
    }

    /// Maps an existing object and checks it; `Ok(None)` if it was never marked ready.
    fn join(
        &self,
        shm: &SharedMemory,
        name: &ServiceName,
    ) -> Result<Option<(Arc<Mapping>, Geometry)>, ServiceError> {
        let os = |source: OsError| ServiceError::Os {
            name: name.to_string(),
            source,
        };
        let corrupted = |what: String| ServiceError::Corrupted {
            name: name.to_string(),
            what,
        };
        let len = shm.len().map_err(|e| os(e.into()))?;
        if len < HEADER_SIZE as u64 {
            // A creator that died between creating and sizing the object.
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| corrupted(format!("size {len}")))?;
        let mapping =
            Arc::new(Mapping::new(shm, len, Protection::ReadWrite).map_err(|e| os(e.into()))?);
        let header = View::new(mapping.clone(), 0, HEADER_SIZE).map_err(|e| os(e.into()))?;
        let word = |w: usize| header.load_u64(8 * w).unwrap_or(0);
        if word(W_STATE) != STATE_READY {
            return Ok(None);
        }
        if word(W_MAGIC) != MAGIC {
            return Err(corrupted("wrong magic number".into()));
        }
        if word(W_ABI) != SHM_ABI_VERSION {
            return Err(ServiceError::AbiMismatch {
                name: name.to_string(),
                found: word(W_ABI),
                expected: SHM_ABI_VERSION,
            });
        }
        if word(W_PATTERN) != PATTERN_PUBSUB {
            return Err(corrupted(format!(
                "pattern {} instead of publish-subscribe",
                word(W_PATTERN)
            )));
        }
        let text = |at: usize, w: usize, max: usize| {
            let n = usize::try_from(word(w)).unwrap_or(usize::MAX).min(max);
            String::from_utf8_lossy(&header.read_bytes(at, n).unwrap_or_default()).into_owned()
        };
        let stored_name = text(NAME_AT, W_NAME_LEN, 255);
        if stored_name != name.as_str() {
            return Err(ServiceError::HashCollision {
                name: name.to_string(),
                existing: stored_name,
            });
        }
        let d = T::DESCRIPTOR;
        if word(W_TYPE_HASH) != d.layout_hash()
            || word(W_TYPE_SIZE) != d.size() as u64
            || word(W_TYPE_ALIGN) != d.align() as u64
        {
            let theirs_listing = text(LISTING_AT, W_LISTING_LEN, LISTING_MAX);
            let ours_listing = d.listing();
            let difference = TypeDescriptor::listing_difference(&theirs_listing, &ours_listing)
                .unwrap_or_else(|| "the layouts differ beyond the stored listing".to_owned());
            let indent = |l: &str| l.replace('\t', " ").replace('\n', "\n                ");
            return Err(ServiceError::TypeMismatch(Box::new(TypeMismatch {
                name: name.to_string(),
                ours: format!(
                    "{} (size {}, align {}, hash {:#018x})",
                    d.name(),
                    d.size(),
                    d.align(),
                    d.layout_hash()
                ),
                theirs: format!(
                    "{} (size {}, align {}, hash {:#018x})",
                    text(TYPE_NAME_AT, W_TYPE_NAME_LEN, TYPE_NAME_MAX),
                    word(W_TYPE_SIZE),
                    word(W_TYPE_ALIGN),
                    word(W_TYPE_HASH)
                ),
                difference,
                ours_rendered: indent(ours_listing.trim_end()),
                theirs_rendered: indent(theirs_listing.trim_end()),
            })));
        }
        let mut raw = [0u64; 8];
        for (i, r) in raw.iter_mut().enumerate().take(7) {
            *r = word(W_QOS + i);
        }
        raw[7] = word(W_OVERFLOW);
        let offered = layout::qos_from_words(raw)
            .filter(|q| q.check().is_ok())
            .ok_or_else(|| corrupted(format!("QoS words {raw:?} out of range")))?;
        let requested = self.qos.values();
        for (i, ((setting, _, _), offer)) in qos::LIMITS.iter().zip(offered.values()).enumerate() {
            if self.explicit[i] && requested[i] > offer {
                return Err(QosError::Unsatisfiable {
                    service: name.to_string(),
                    name: setting,
                    requested: requested[i],
                    offered: offer,
                }
                .into());
            }
        }
        if self.explicit[7] && self.qos.overflow != offered.overflow {
            return Err(QosError::OverflowMismatch {
                service: name.to_string(),
                requested: self.qos.overflow,
                offered: offered.overflow,
            }
            .into());
        }
        let geometry = Geometry::new(offered);
        if mapping.len() < geometry.total {
            return Err(corrupted(format!(
                "object is {} bytes, its QoS needs {}",
                mapping.len(),
                geometry.total
            )));
        }
        Ok(Some((mapping, geometry)))
    }
}

/// The name prefix of every data segment of service `id`.
fn segments_prefix(config: &crate::Config, id: u64) -> String {
    format!("/{}d.{id:016x}.", config.shm_prefix())
}

/// Removes every data segment of service `id` (the service is going away, under its lock).
/// Readers that still map one keep reading it.
fn remove_segments(config: &crate::Config, id: u64) {
    match shm::list(&segments_prefix(config, id)) {
        Ok(names) => {
            for name in names {
                if let Err(error) = shm::unlink(&name) {
                    tracing::warn!(%name, %error, "could not remove a data segment");
                }
            }
        }
        Err(error) => tracing::warn!(%error, "cannot list the data segments to remove"),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Takes the service lock, waiting at most `timeout` for another holder.
fn acquire_lock(
    path: &std::path::Path,
    timeout: Duration,
    name: &ServiceName,
    permissions: Permissions,
) -> Result<LockFile, ServiceError> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        let attempt = match LockFile::create(path, permissions) {
            Ok(lock) => Some(lock),
            Err(LockCreateError::AlreadyExists { .. }) => match lock::try_lock(path) {
                Ok(TryLock::Acquired(lock)) => Some(lock),
                Ok(TryLock::Held | TryLock::Missing) => None,
                Err(e) => {
                    return Err(ServiceError::Os {
                        name: name.to_string(),
                        source: e.into(),
                    });
                }
            },
            Err(e) => {
                return Err(ServiceError::Os {
                    name: name.to_string(),
                    source: e.into(),
                });
            }
        };
        if let Some(lock) = attempt {
            return Ok(lock);
        }
        if start.elapsed() >= timeout {
            return Err(ServiceError::LockTimeout {
                name: name.to_string(),
                path: path.to_owned(),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Which kind of port slot.
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

    pub(crate) fn slot_at(self, g: &Geometry, i: usize) -> usize {
        match self {
            Self::Publisher => g.publisher_at(i),
            Self::Subscriber => g.subscriber_at(i),
        }
    }
}

/// A ready port found in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotInfo {
    pub(crate) owner: u64,
    pub(crate) epoch: u64,
    pub(crate) port: u64,
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
    lock_path: PathBuf,
    pub(crate) mapping: Arc<Mapping>,
    pub(crate) view: View<Arc<Mapping>>,
    pub(crate) geometry: Geometry,
    permissions: Permissions,
}

impl Registry {
    pub(crate) fn qos(&self) -> &PubSubQos {
        &self.geometry.qos
    }

    fn word(&self, at: usize) -> Option<&crate::sync::atomic::AtomicU64> {
        self.view.u64(at).ok()
    }

    /// The registry generation: changes whenever a port joins or leaves.
    pub(crate) fn generation(&self) -> u64 {
        // SYNC(acquire): pairs with the release `fetch_add` in `bump_generation`.
        self.word(8 * W_GENERATION)
            .map_or(0, |w| w.load(Ordering::Acquire))
    }

    fn bump_generation(&self) {
        if let Some(w) = self.word(8 * W_GENERATION) {
            // SYNC(release): publishes the slot change made just before.
            w.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The port in slot `i` of `kind`, if one is ready.
    pub(crate) fn slot(&self, kind: PortKind, i: usize) -> Option<SlotInfo> {
        let at = kind.slot_at(&self.geometry, i);
        // SYNC(acquire): pairs with the release store of `state` in `claim_slot`: a ready
        // state makes the epoch and port written before it visible.
        let state = self.word(at + SLOT_STATE)?.load(Ordering::Acquire);
        if state != STATE_READY && state != STATE_DRAINING {
            return None;
        }
        let owner = self.word(at + SLOT_OWNER)?.load(Ordering::Acquire);
        let epoch = self.word(at + SLOT_EPOCH)?.load(Ordering::Acquire);
        let port = self.word(at + SLOT_PORT)?.load(Ordering::Acquire);
        (owner != 0).then_some(SlotInfo { owner, epoch, port })
    }

    /// Takes a free slot of `kind` for a port with id `port`, removing ports of dead nodes
    /// if every slot is taken. `None` when the service is full.
    pub(crate) fn claim_slot(&self, kind: PortKind, port: u64) -> Option<Claim> {
        for attempt in 0..2 {
            for i in 0..kind.count(self.qos()) {
                let at = kind.slot_at(&self.geometry, i);
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
    pub(crate) fn drain_slot(&self, slot: usize) {
        let at = PortKind::Publisher.slot_at(&self.geometry, slot);
        if let Some(state) = self.word(at + SLOT_STATE) {
            state.store(STATE_DRAINING, Ordering::Release);
            self.bump_generation();
        }
    }

    /// Frees a draining publisher slot once every delivery queue of it is empty, and
    /// removes its segment (readers keep their mappings). Returns whether it did.
    pub(crate) fn finish_draining(&self, slot: usize, port: u64) -> bool {
        let at = PortKind::Publisher.slot_at(&self.geometry, slot);
        let empty = (0..self.qos().max_subscribers as usize)
            .all(|s| self.deliver_consumer(slot, s).is_ok_and(|q| q.is_empty()));
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
        if let Ok(name) = self.segment_name(port) {
            let _ = shm::unlink(&name);
        }
        if let Some(w) = self.word(at + SLOT_PORT) {
            w.store(0, Ordering::Relaxed);
        }
        if let Some(w) = self.word(at + SLOT_OWNER) {
            w.store(0, Ordering::Release);
        }
        self.bump_generation();
        true
    }

    /// Whether publisher slot `p` is draining.
    pub(crate) fn slot_is_draining(&self, p: usize) -> bool {
        let at = PortKind::Publisher.slot_at(&self.geometry, p);
        self.word(at + SLOT_STATE)
            .is_some_and(|w| w.load(Ordering::Acquire) == STATE_DRAINING)
    }

    /// Removes the segments of draining publishers (the service is going away).
    fn remove_draining(&self) {
        for p in 0..self.qos().max_publishers as usize {
            let at = PortKind::Publisher.slot_at(&self.geometry, p);
            if self
                .word(at + SLOT_STATE)
                .map(|w| w.load(Ordering::Acquire))
                == Some(STATE_DRAINING)
                && let Some(port) = self.word(at + SLOT_PORT).map(|w| w.load(Ordering::Acquire))
                && let Ok(name) = self.segment_name(port)
            {
                let _ = shm::unlink(&name);
            }
        }
    }

    /// Frees a slot this node claimed.
    pub(crate) fn release_slot(&self, kind: PortKind, slot: usize) {
        let at = kind.slot_at(&self.geometry, slot);
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
        kind: PortKind,
        slot: usize,
    ) -> Option<crate::sync::Event<Arc<Mapping>>> {
        crate::sync::Event::open(
            self.mapping.clone(),
            kind.slot_at(&self.geometry, slot) + SLOT_EVENT,
        )
        .ok()
    }

    /// The delivery queue's producing end for publisher slot `p` and subscriber slot `s`.
    pub(crate) fn deliver_producer(
        &self,
        p: usize,
        s: usize,
    ) -> Result<IndexQueueProducer<Arc<Mapping>>, OsError> {
        Ok(IndexQueueProducer::open(
            self.mapping.clone(),
            self.geometry.deliver_at(p, s),
            self.geometry.deliver_capacity,
            u32::MAX,
        )?)
    }

    /// The delivery queue's consuming end.
    pub(crate) fn deliver_consumer(
        &self,
        p: usize,
        s: usize,
    ) -> Result<IndexQueueConsumer<Arc<Mapping>>, OsError> {
        Ok(IndexQueueConsumer::open(
            self.mapping.clone(),
            self.geometry.deliver_at(p, s),
            self.geometry.deliver_capacity,
            u32::MAX,
        )?)
    }

    /// The return queue's producing end (the subscriber's).
    pub(crate) fn return_producer(
        &self,
        p: usize,
        s: usize,
    ) -> Result<IndexQueueProducer<Arc<Mapping>>, OsError> {
        Ok(IndexQueueProducer::open(
            self.mapping.clone(),
            self.geometry.return_at(p, s),
            self.geometry.return_capacity,
            u32::MAX,
        )?)
    }

    /// The return queue's consuming end (the publisher's).
    pub(crate) fn return_consumer(
        &self,
        p: usize,
        s: usize,
    ) -> Result<IndexQueueConsumer<Arc<Mapping>>, OsError> {
        Ok(IndexQueueConsumer::open(
            self.mapping.clone(),
            self.geometry.return_at(p, s),
            self.geometry.return_capacity,
            u32::MAX,
        )?)
    }

    /// The shared-memory name of a publisher's data segment: under the service's id, so
    /// that removing the service can find every segment by name, whatever its registry
    /// says (a dead or hostile process may have scribbled over it).
    pub(crate) fn segment_name(&self, port: u64) -> Result<ShmName, crate::os::shm::ShmNameError> {
        ShmName::new(format!(
            "{}{port:016x}",
            segments_prefix(self.node.config(), self.id)
        ))
    }

    /// The permissions ports give their own objects (those of the service handle).
    pub(crate) fn permissions(&self) -> Permissions {
        self.permissions
    }

    fn claim_node_slot(&self) -> Result<usize, ServiceError> {
        let max = self.qos().max_nodes;
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
        Err(ServiceError::TooManyNodes {
            name: self.name.to_string(),
            max,
        })
    }

    /// Removes the node entries and ports of nodes whose liveness token is free. The dead
    /// publishers' data segments are unlinked (readers that still map them keep reading).
    pub(crate) fn remove_dead_nodes(&self) -> usize {
        let config = self.node.config();
        let mut dead = Vec::new();
        let check = |owner: u64, dead: &mut Vec<u64>| {
            if owner == 0 || owner == self.node.id().value() || dead.contains(&owner) {
                return;
            }
            if let Some(id) = NodeId::from_value(owner)
                && !matches!(crate::node::liveness(config, id), Liveness::Alive)
            {
                dead.push(owner);
            }
        };
        for i in 0..self.qos().max_nodes as usize {
            if let Some(w) = self.word(self.geometry.node_at(i)) {
                check(w.load(Ordering::Acquire), &mut dead);
            }
        }
        for kind in [PortKind::Publisher, PortKind::Subscriber] {
            for i in 0..kind.count(self.qos()) {
                if let Some(w) = self.word(kind.slot_at(&self.geometry, i) + SLOT_OWNER) {
                    check(w.load(Ordering::Acquire), &mut dead);
                }
            }
        }
        for &owner in &dead {
            tracing::info!(service = %self.name, node = %format!("{owner:016x}"), "removing a dead node's entries");
            for i in 0..self.qos().max_nodes as usize {
                if let Some(w) = self.word(self.geometry.node_at(i)) {
                    let _ = w.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
                }
            }
            for kind in [PortKind::Publisher, PortKind::Subscriber] {
                for i in 0..kind.count(self.qos()) {
                    let at = kind.slot_at(&self.geometry, i);
                    if self
                        .word(at + SLOT_OWNER)
                        .map(|w| w.load(Ordering::Acquire))
                        == Some(owner)
                    {
                        if kind == PortKind::Publisher
                            && let Some(port) =
                                self.word(at + SLOT_PORT).map(|w| w.load(Ordering::Acquire))
                            && port != 0
                            && let Ok(seg) = self.segment_name(port)
                        {
                            let _ = shm::unlink(&seg);
                        }
                        if let Some(w) = self.word(at + SLOT_STATE) {
                            w.store(0, Ordering::Release);
                        }
                        if let Some(w) = self.word(at + SLOT_OWNER) {
                            let _ =
                                w.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
                        }
                        self.bump_generation();
                    }
                }
            }
        }
        dead.len()
    }

    /// Whether any node entry other than `except` or any port is still registered (our
    /// own ports are gone: they keep the handle alive).
    fn in_use(&self, except: usize) -> bool {
        let used = |w: Option<&crate::sync::atomic::AtomicU64>| {
            w.is_some_and(|w| w.load(Ordering::Acquire) != 0)
        };
        (0..self.qos().max_nodes as usize)
            .any(|i| i != except && used(self.word(self.geometry.node_at(i))))
            || [PortKind::Publisher, PortKind::Subscriber]
                .iter()
                .any(|&kind| {
                    (0..kind.count(self.qos())).any(|i| {
                        let at = kind.slot_at(&self.geometry, i);
                        let draining = self
                            .word(at + SLOT_STATE)
                            .is_some_and(|w| w.load(Ordering::Acquire) == STATE_DRAINING);
                        !draining && used(self.word(at + SLOT_OWNER))
                    })
                })
    }
}

/// The shared part of a service handle; ports keep it alive. Dropping the last one leaves
/// the service, and removes it if no other node uses it.
#[derive(Debug)]
pub(crate) struct ServiceInner {
    registry: Registry,
    node_slot: usize,
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
            &self.lock_path,
            Duration::from_secs(10),
            &self.name,
            self.node.config().permissions(),
        ) {
            Ok(lock) => lock,
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
        self.remove_draining();
        remove_segments(self.node.config(), self.id);
        if let Err(error) = shm::unlink(&self.shm_name) {
            tracing::warn!(service = %self.name, %error, "could not remove the service's shared memory");
        }
        if let Err(error) = lock.remove() {
            tracing::warn!(service = %self.name, %error, "could not remove the service's lock file");
        }
        let dir = self.node.config().domain_dir().join("services");
        crate::os::fs::remove_dir_if_empty(dir);
        tracing::info!(service = %self.name, "service removed (last participant left)");
    }
}

/// A publish-subscribe service carrying `T`. Create ports with [`publisher`](Self::publisher)
/// and [`subscriber`](Self::subscriber). Ports keep the service alive.
#[derive(Debug)]
pub struct PubSubService<T> {
    pub(crate) inner: Arc<ServiceInner>,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> PubSubService<T> {
    /// The service's name.
    pub fn name(&self) -> &ServiceName {
        &self.inner.name
    }

    /// The service's QoS (as created).
    pub fn qos(&self) -> &PubSubQos {
        self.inner.qos()
    }

    /// Starts building a publisher.
    pub fn publisher(&self) -> crate::port::PublisherBuilder<T> {
        crate::port::PublisherBuilder::new(self.inner.clone())
    }

    /// Starts building a subscriber.
    pub fn subscriber(&self) -> crate::port::SubscriberBuilder<T> {
        crate::port::SubscriberBuilder::new(self.inner.clone())
    }

    /// Removes the entries and ports of dead nodes from this service; returns how many
    /// dead nodes were found.
    pub fn remove_dead_nodes(&self) -> usize {
        self.inner.remove_dead_nodes()
    }
}
