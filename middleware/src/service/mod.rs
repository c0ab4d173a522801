//! Services: named meeting points of ports, with a static configuration and a registry.
//!
//! [`Service::publish_subscribe`] and [`Service::request_response`] start a builder;
//! `create`, `open` and `open_or_create` end it. All three run under the service's lock
//! file (`<domain dir>/services/<id>.<ps|rr>.lock`, an exclusive `flock` the kernel drops if
//! the holder dies), so two processes calling `open_or_create` at once end with one
//! service, and nobody ever sees a half-created one: a service whose creator died before
//! marking it ready is found, still not ready, by the next lock holder, who removes it and
//! starts over. Waiting for the lock is bounded (`lock_timeout` on the builders).
//!
//! Opening checks, in order: the magic and the shm-ABI version ([`SHM_ABI_VERSION`], not
//! the crate version, so compatible releases talk), the pattern and full name (the object
//! name is a hash), the message types by layout hash — a mismatch shows both types and the
//! first differing field — and the QoS: every value the opener set explicitly must be at
//! most what the service offers. Each service handle takes a slot in the service's node
//! table; when the last handle of the last node goes, the service's objects are removed.
//! The same name can host a publish-subscribe and a request-response service: their
//! objects and lock files differ by pattern.
//!
//! The shared-memory layout is documented in [`layout`].

/// QoS setters of a service builder: each stores the value and marks it explicit (an
/// opener's explicit values must be satisfiable by the service it finds).
macro_rules! qos_setters {
    ($(#[$doc:meta] $field:ident = $i:expr;)*) => {$(
        #[$doc]
        pub fn $field(mut self, value: u32) -> Self {
            self.qos.$field = value;
            self.explicit[$i] = true;
            self
        }
    )*};
}

mod error;
pub mod layout;
pub mod name;
mod pubsub;
pub mod qos;
mod registry;
mod request_response;
pub(crate) mod sweep;

use std::sync::Arc;
use std::time::Duration;

pub use error::{OsError, ServiceError, TypeMismatch};
pub use layout::SHM_ABI_VERSION;
pub use name::{ServiceName, ServiceNameError};
pub use pubsub::{PubSubService, PubSubServiceBuilder};
pub use qos::{OverflowPolicy, PubSubQos, QosError, RequestResponseQos};
pub(crate) use registry::{Claim, PortKind, Registry, Removed, ServiceInner};
pub use request_response::{RequestResponseService, RequestResponseServiceBuilder};

use crate::config::retry_races;
use crate::message::{ShmMessage, TypeDescriptor};
use crate::node::Node;
use crate::os::dir::Folder;
use crate::os::lock::{self, LockCreateError, LockFile, TryLock};
use crate::os::mmap::{Mapping, Protection};
use crate::os::shm::{self, Access, Permissions, SharedMemory, ShmName, ShmOpenError};
use crate::sync::atomic::Ordering;
use crate::sync::index_queue::IndexQueueProducer;
use crate::sync::view::View;
use layout::*;

/// Entry point to services.
#[derive(Debug)]
pub struct Service;

impl Service {
    /// Starts building a publish-subscribe service named `name` carrying `T`.
    pub fn publish_subscribe<T: ShmMessage>(node: &Node, name: &str) -> PubSubServiceBuilder<T> {
        PubSubServiceBuilder::new(node, name)
    }

    /// Starts building a request-response service named `name`: clients send `Req`,
    /// servers answer with any number of `Res`.
    pub fn request_response<Req: ShmMessage, Res: ShmMessage>(
        node: &Node,
        name: &str,
    ) -> RequestResponseServiceBuilder<Req, Res> {
        RequestResponseServiceBuilder::new(node, name)
    }
}

/// How a builder ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Open,
    OpenOrCreate,
}

/// Checks an opener's explicit QoS requests against the QoS words of the service found.
pub(crate) type CheckOffered<'a> = &'a dyn Fn(&str, [u64; QOS_WORDS]) -> Result<(), QosError>;

/// What a pattern's builder asks of the common open/create machinery.
pub(crate) struct Spec<'a> {
    /// `PATTERN_PUBSUB` or `PATTERN_REQUEST_RESPONSE`.
    pub(crate) pattern: u64,
    /// `"publish-subscribe"` or `"request-response"`, for messages.
    pub(crate) label: &'static str,
    /// The types the service carries, with their role (`"message"`, `"request"`, ...).
    pub(crate) types: &'a [(&'static str, &'static TypeDescriptor)],
    /// The QoS words a creator writes.
    pub(crate) qos_words: [u64; QOS_WORDS],
    /// Whether the opener's explicit requests are satisfied by the stored QoS words.
    pub(crate) check_offered: CheckOffered<'a>,
    /// Who may use the objects.
    pub(crate) permissions: Permissions,
    /// The longest wait for the service lock.
    pub(crate) lock_timeout: Duration,
}

/// Opens and/or creates the service `name` of `node`'s domain as `spec` says, under the
/// service lock, and joins it (takes a node-table slot).
pub(crate) fn open_service(
    node: &Node,
    name: &ServiceName,
    spec: &Spec<'_>,
    mode: Mode,
) -> Result<Arc<ServiceInner>, ServiceError> {
    let config = node.config().clone();
    let id = name.object_id(spec.pattern as u8);
    let os = |source: OsError| ServiceError::Os {
        name: name.to_string(),
        source,
    };
    let suffix = pattern_suffix(spec.pattern);
    let shm_name = ShmName::new(object_name(&config, suffix, id)).map_err(|e| os(e.into()))?;
    let lock_name = lock_file_name(suffix, id);
    let (_, lock) = acquire_lock(node.domain_folder(), &lock_name, spec.lock_timeout, name)?;
    let opener = Opener {
        node,
        name,
        spec,
        id,
        shm_name: &shm_name,
    };
    let result = opener.run_locked(mode, lock_name);
    // A failed `open` (or a failed creation) leaves no service of ours behind; its lock
    // file must not stay either. We hold the lock, so nobody is creating it right now.
    // (An object under the name that is not ours is someone else's: not our service.)
    if result.is_err() && SharedMemory::open(&shm_name, Access::ReadOnly, spec.permissions).is_err()
    {
        if let Err(error) = lock.remove() {
            tracing::warn!(service = %name, %error, "could not remove the lock file of a service that does not exist");
        }
        node.domain_folder().remove_dir_if_empty("services");
    } else {
        drop(lock);
    }
    result
}

struct Opener<'a> {
    node: &'a Node,
    name: &'a ServiceName,
    spec: &'a Spec<'a>,
    id: u64,
    shm_name: &'a ShmName,
}

impl Opener<'_> {
    fn os(&self, source: OsError) -> ServiceError {
        ServiceError::Os {
            name: self.name.to_string(),
            source,
        }
    }

    fn corrupted(&self, what: String) -> ServiceError {
        ServiceError::Corrupted {
            name: self.name.to_string(),
            what,
        }
    }

    fn run_locked(&self, mode: Mode, lock_name: String) -> Result<Arc<ServiceInner>, ServiceError> {
        let (name, spec) = (self.name, self.spec);
        let domain = self.node.config().domain().to_owned();
        let existing = match SharedMemory::open(self.shm_name, Access::ReadWrite, spec.permissions)
        {
            Ok(shm) => Some(shm),
            Err(ShmOpenError::NotFound { .. }) => None,
            Err(e) => return Err(self.os(e.into())),
        };
        let (mapping, geometry, created) = match existing {
            Some(shm) => {
                if mode == Mode::Create {
                    return Err(ServiceError::AlreadyExists {
                        pattern: spec.label,
                        name: name.to_string(),
                        domain,
                    });
                }
                match self.join(&shm)? {
                    Some((mapping, geometry)) => (mapping, geometry, false),
                    None => {
                        // Its creator died before marking it ready: we hold the lock, so
                        // nobody else is creating it. Remove it and start over.
                        tracing::warn!(service = %name, "removing a half-created service left by a dead creator");
                        let _ = shm::unlink(self.shm_name, spec.permissions);
                        remove_segments(
                            self.node.config(),
                            pattern_suffix(self.spec.pattern),
                            self.id,
                            spec.permissions,
                        );
                        self.create_object().map(|(m, g)| (m, g, true))?
                    }
                }
            }
            None => {
                if mode == Mode::Open {
                    return Err(ServiceError::NotFound {
                        pattern: spec.label,
                        name: name.to_string(),
                        domain,
                    });
                }
                self.create_object().map(|(m, g)| (m, g, true))?
            }
        };
        let view = View::new(mapping.clone(), 0, geometry.total).map_err(|e| self.os(e.into()))?;
        let registry = Registry::new(
            self.node.clone(),
            name.clone(),
            self.id,
            self.shm_name.clone(),
            lock_name,
            mapping,
            view,
            geometry,
            spec.permissions,
        );
        if !created {
            registry.remove_dead_nodes();
        }
        let inner = ServiceInner::join(registry)?;
        tracing::info!(service = %name, pattern = spec.label, created, "service opened");
        Ok(Arc::new(inner))
    }

    /// Creates, sizes, maps and initialises the object; marks it ready last.
    fn create_object(&self) -> Result<(Arc<Mapping>, Geometry), ServiceError> {
        let spec = self.spec;
        let geometry = geometry_of(spec.pattern, spec.qos_words)
            .ok_or_else(|| self.corrupted("the QoS to create it with are out of range".into()))?;
        let shm =
            SharedMemory::create(self.shm_name, spec.permissions).map_err(|e| self.os(e.into()))?;
        let init = || -> Result<Arc<Mapping>, OsError> {
            shm.allocate(geometry.total as u64)?;
            let mapping = Arc::new(Mapping::new(&shm, geometry.total, Protection::ReadWrite)?);
            let view = View::new(mapping.clone(), 0, geometry.total)?;
            let mut words = vec![
                (W_MAGIC, MAGIC),
                (W_ABI, SHM_ABI_VERSION),
                (W_PATTERN, spec.pattern),
                (W_CREATOR, self.node.id().value()),
                (W_GENERATION, 0),
                (W_NAME_LEN, self.name.as_str().len() as u64),
            ];
            for (i, value) in spec.qos_words.into_iter().enumerate() {
                words.push((W_QOS + i, value));
            }
            view.write_bytes(NAME_AT, self.name.as_str().as_bytes())?;
            for (slot, (_, d)) in TYPE_SLOTS.iter().zip(spec.types) {
                let listing = d.listing();
                let listing = truncate(&listing, LISTING_MAX);
                let type_name = truncate(d.name(), TYPE_NAME_MAX);
                words.extend([
                    (slot.hash, d.layout_hash()),
                    (slot.size, d.size() as u64),
                    (slot.align, d.align() as u64),
                    (slot.name_len, type_name.len() as u64),
                    (slot.listing_len, listing.len() as u64),
                ]);
                view.write_bytes(slot.name_at, type_name.as_bytes())?;
                view.write_bytes(slot.listing_at, listing.as_bytes())?;
            }
            for (w, value) in words {
                view.u64(8 * w)?.store(value, Ordering::Relaxed);
            }
            for channel in geometry.channels() {
                let q = channel.qos;
                for p in 0..q.max_publishers as usize {
                    for s in 0..q.max_subscribers as usize {
                        for kind in [QueueKind::Deliver, QueueKind::Return] {
                            let (at, capacity) = channel.queue(kind, p, s);
                            IndexQueueProducer::create(mapping.clone(), at, capacity, u32::MAX)?;
                        }
                    }
                }
                for kind in [PortKind::Publisher, PortKind::Subscriber] {
                    for i in 0..kind.count(&q) {
                        crate::sync::Event::create(
                            mapping.clone(),
                            kind.slot_at(channel, i) + SLOT_EVENT,
                        )?;
                    }
                }
            }
            // SYNC(release): publishes everything above to openers that acquire `state`
            // (they run under the lock after us, so the lock also orders it).
            view.u64(8 * W_STATE)?.store(STATE_READY, Ordering::Release);
            Ok(mapping)
        };
        match init() {
            Ok(mapping) => {
                tracing::info!(service = %self.name, size = geometry.total, "service created");
                Ok((mapping, geometry))
            }
            Err(source) => {
                let _ = shm::unlink(self.shm_name, spec.permissions);
                Err(self.os(source))
            }
        }
    }

    /// Maps an existing object and checks it; `Ok(None)` if it was never marked ready.
    fn join(&self, shm: &SharedMemory) -> Result<Option<(Arc<Mapping>, Geometry)>, ServiceError> {
        let (name, spec) = (self.name, self.spec);
        let len = shm.len().map_err(|e| self.os(e.into()))?;
        if len < HEADER_SIZE as u64 {
            // A creator that died between creating and sizing the object.
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| self.corrupted(format!("size {len}")))?;
        let mapping =
            Arc::new(Mapping::new(shm, len, Protection::ReadWrite).map_err(|e| self.os(e.into()))?);
        let stored = match StaticPart::read(&mapping, spec.pattern) {
            Ok(stored) => stored,
            Err(StaticFault::NotReady) => return Ok(None),
            Err(StaticFault::Magic) => return Err(self.corrupted("wrong magic number".into())),
            Err(StaticFault::Abi(found)) => {
                return Err(ServiceError::AbiMismatch {
                    name: name.to_string(),
                    found,
                    expected: SHM_ABI_VERSION,
                });
            }
            Err(StaticFault::Pattern(found)) => {
                return Err(self.corrupted(format!("pattern {found} instead of {}", spec.label)));
            }
            Err(StaticFault::Qos(words)) => {
                return Err(self.corrupted(format!("QoS words {words:?} out of range")));
            }
            Err(StaticFault::TooSmall { len, needs }) => {
                return Err(self.corrupted(format!("object is {len} bytes, its QoS needs {needs}")));
            }
        };
        let word = |w: usize| stored.word(w);
        let text = |at: usize, w: usize, max: usize| stored.text(at, w, max);
        let stored_name = text(NAME_AT, W_NAME_LEN, 255);
        if stored_name != name.as_str() {
            return Err(ServiceError::HashCollision {
                name: name.to_string(),
                existing: stored_name,
            });
        }
        for (slot, (role, d)) in TYPE_SLOTS.iter().zip(spec.types) {
            if word(slot.hash) == d.layout_hash()
                && word(slot.size) == d.size() as u64
                && word(slot.align) == d.align() as u64
            {
                continue;
            }
            let theirs_listing = text(slot.listing_at, slot.listing_len, LISTING_MAX);
            let ours_listing = d.listing();
            let difference = TypeDescriptor::listing_difference(&theirs_listing, &ours_listing)
                .unwrap_or_else(|| "the layouts differ beyond the stored listing".to_owned());
            let indent = |l: &str| l.replace('\t', " ").replace('\n', "\n                ");
            return Err(ServiceError::TypeMismatch(Box::new(TypeMismatch {
                name: name.to_string(),
                role,
                ours: format!(
                    "{} (size {}, align {}, hash {:#018x})",
                    d.name(),
                    d.size(),
                    d.align(),
                    d.layout_hash()
                ),
                theirs: format!(
                    "{} (size {}, align {}, hash {:#018x})",
                    text(slot.name_at, slot.name_len, TYPE_NAME_MAX),
                    word(slot.size),
                    word(slot.align),
                    word(slot.hash)
                ),
                difference,
                ours_rendered: indent(ours_listing.trim_end()),
                theirs_rendered: indent(theirs_listing.trim_end()),
            })));
        }
        (spec.check_offered)(name.as_str(), stored.qos)?;
        Ok(Some((mapping, stored.geometry)))
    }
}

/// The name prefix of every data segment of the service with object suffix `suffix`
/// (`ps` or `rr`) and id `id`: `/<prefix>.<domain>.d.<suffix>.<id>.`, so a segment names
/// its service exactly.
fn segments_prefix(config: &crate::Config, suffix: &str, id: u64) -> String {
    format!("/{}d.{suffix}.{id:016x}.", config.shm_prefix())
}

/// The name of the service object with suffix `suffix` (`ps` or `rr`) and id `id`:
/// `/<prefix>.<domain>.<suffix>.<id>`.
fn object_name(config: &crate::Config, suffix: &str, id: u64) -> String {
    format!("/{}{suffix}.{id:016x}", config.shm_prefix())
}

/// The file name of the service lock (in the domain's `services` folder).
fn lock_file_name(suffix: &str, id: u64) -> String {
    format!("{id:016x}.{suffix}.lock")
}

/// Removes every data segment of a service (it is going away, under its lock) that is
/// ours under `permissions`. Readers that still map one keep reading it.
fn remove_segments(config: &crate::Config, suffix: &str, id: u64, permissions: Permissions) {
    match shm::list(&segments_prefix(config, suffix, id), permissions) {
        Ok(names) => {
            for name in names {
                if let Err(error) = shm::unlink(&name, permissions) {
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

/// Takes the service lock `file` (in the domain's `services` folder, made if needed),
/// waiting at most `timeout` for another holder; returns the folder with the lock.
fn acquire_lock(
    domain: &Folder,
    file: &str,
    timeout: Duration,
    name: &ServiceName,
) -> Result<(Folder, LockFile), ServiceError> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_micros(50);
    let os = |source: OsError| ServiceError::Os {
        name: name.to_string(),
        source,
    };
    loop {
        let services =
            retry_races(|| domain.open_or_create("services")).map_err(|e| os(e.into()))?;
        let attempt = match LockFile::create(&services, file) {
            Ok(lock) => Some(lock),
            // The last participant of another service removed the (empty) folder between
            // our opening it and our lock file: open it again, at once.
            Err(e) if e.is_folder_race() => continue,
            Err(LockCreateError::AlreadyExists { .. }) => match lock::try_lock(&services, file) {
                Ok(TryLock::Acquired(lock)) => Some(lock),
                Ok(TryLock::Held | TryLock::Missing) => None,
                Err(e) => return Err(os(e.into())),
            },
            Err(e) => return Err(os(e.into())),
        };
        if let Some(lock) = attempt {
            return Ok((services, lock));
        }
        if start.elapsed() >= timeout {
            return Err(ServiceError::LockTimeout {
                name: name.to_string(),
                path: services.join(file),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}
