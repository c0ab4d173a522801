//! Services: named meeting points of ports, with a static configuration and a registry.
//!
//! [`Service::publish_subscribe`] and [`Service::request_response`] start a typed
//! builder; [`Service::raw_publish_subscribe`] and [`Service::raw_request_response`] one
//! whose message types are known at run time, as [`Descriptor`]s (given to create the
//! service, or read from it when it is opened). `create`, `open` and `open_or_create` end
//! a builder, each with its own error type. All three run under the service's lock file
//! (`<domain dir>/services/<id>.<ps|rr>.lock`, an exclusive `flock` the kernel drops if
//! the holder dies), so two processes calling `open_or_create` at once end with one
//! service, and nobody ever sees a half-created one: a service whose creator died before
//! marking it ready is found, still not ready, by the next lock holder, who removes it and
//! starts over. Waiting for the lock is bounded (`lock_timeout` on the builders).
//!
//! A service stores the full descriptors of its types in its static part, so a process
//! without the Rust types — a tool, a bridge, a recorder — can open it, and
//! [`discovery`](ServiceInfo) lists every service of a domain with its types, QoS, ports
//! and nodes without joining any. Opening checks, in order: the magic and the shm-ABI
//! version ([`SHM_ABI_VERSION`], not the crate version, so compatible releases talk), the
//! pattern and full name (the object name is a hash), the message types by layout hash —
//! a mismatch compares the stored descriptor with ours and shows the first differing field
//! — and the QoS: every value the opener set explicitly must be at most what the service
//! offers. Each service handle takes a slot in the service's node table; when the last
//! handle of the last node goes, the service's objects are removed. The same name can
//! host a publish-subscribe and a request-response service: their objects and lock files
//! differ by pattern.
//!
//! The layers: services use nodes, messages and the shared structures below them; ports
//! are built on services (`service.publisher()` and the like are defined in
//! [`crate::port`]). The shared-memory layout is documented in [`layout`].

/// QoS setters of a service builder: each stores the value and marks it explicit (an
/// opener's explicit values must be satisfiable by the service it finds).
macro_rules! qos_setters {
    ($(#[$doc:meta] $field:ident = $i:expr;)*) => {$(
        #[$doc]
        pub fn $field(mut self, value: u32) -> Self {
            self.settings.qos.$field = value;
            self.settings.explicit[$i] = true;
            self
        }
    )*};
}

mod discovery;
mod error;
pub mod layout;
pub mod name;
pub mod pattern;
mod pubsub;
pub mod qos;
mod registry;
mod request_response;
pub(crate) mod sweep;

use std::sync::Arc;
use std::time::Duration;

pub use discovery::{
    DiscoveryError, InspectError, ObjectInfo, Pattern, PortInfo, PortRole, ServiceInfo, ServiceQos,
};
pub use error::{
    JoinError, LockError, OsError, ServiceCreateError, ServiceOpenError, ServiceOpenOrCreateError,
    TypeMismatch,
};
pub use layout::SHM_ABI_VERSION;
pub use name::{ServiceName, ServiceNameError};
pub use pattern::ServicePattern;
pub use pubsub::{PubSubService, PubSubServiceBuilder, RawPubSubService, RawPubSubServiceBuilder};
pub use qos::{OverflowPolicy, PubSubQos, QosError, RequestResponseQos};
pub(crate) use registry::{Claim, PortKind, Registry, Removed, ServiceInner};
pub use request_response::{
    RawRequestResponseService, RawRequestResponseServiceBuilder, RequestResponseService,
    RequestResponseServiceBuilder,
};

use crate::config::retry_races;
use crate::message::{Descriptor, ShmMessage};
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

    /// Starts building a publish-subscribe service whose message type is known at run
    /// time: given as a [`Descriptor`] to create it, or read from the service when it is
    /// opened. Its ports send and receive bytes, checked against the descriptor.
    pub fn raw_publish_subscribe(node: &Node, name: &str) -> RawPubSubServiceBuilder {
        RawPubSubServiceBuilder::new(node, name)
    }

    /// Starts building a request-response service whose types are known at run time (see
    /// [`Service::raw_publish_subscribe`]).
    pub fn raw_request_response(node: &Node, name: &str) -> RawRequestResponseServiceBuilder {
        RawRequestResponseServiceBuilder::new(node, name)
    }
}

/// Checks an opener's explicit QoS requests against the QoS words of the service found.
pub(crate) type CheckOffered<'a> = &'a dyn Fn(&str, [u64; QOS_WORDS]) -> Result<(), QosError>;

/// What a pattern's builder asks of the common open/create machinery.
pub(crate) struct Spec<'a> {
    /// `PATTERN_PUBSUB` or `PATTERN_REQUEST_RESPONSE`.
    pub(crate) pattern: u64,
    /// `"publish-subscribe"` or `"request-response"`, for messages.
    pub(crate) label: &'static str,
    /// The role of each type the service carries (`"message"`, or `"request"` and
    /// `"response"`).
    pub(crate) roles: &'static [&'static str],
    /// The types, in the order of `roles`; `None` to take the service's (open only).
    pub(crate) types: Option<Vec<Descriptor>>,
    /// The QoS words a creator writes.
    pub(crate) qos_words: [u64; QOS_WORDS],
    /// Whether the opener's explicit requests are satisfied by the stored QoS words.
    pub(crate) check_offered: CheckOffered<'a>,
    /// Who may use the objects.
    pub(crate) permissions: Permissions,
    /// The longest wait for the service lock.
    pub(crate) lock_timeout: Duration,
}

/// Creates the service `name` of `node`'s domain as `spec` says; fails if it exists.
pub(crate) fn create(
    node: &Node,
    name: &ServiceName,
    spec: &Spec<'_>,
) -> Result<Arc<ServiceInner>, ServiceCreateError> {
    let Some(types) = &spec.types else {
        return Err(ServiceCreateError::NoType {
            pattern: spec.label,
            name: name.to_string(),
        });
    };
    let encodings = encode_types(types)?;
    let os = |source| ServiceCreateError::Os {
        name: name.to_string(),
        source,
    };
    with_lock(node, name, spec, |opener| {
        if opener.existing().map_err(os)?.is_some() {
            return Err(ServiceCreateError::AlreadyExists {
                pattern: spec.label,
                name: name.to_string(),
                domain: node.config().domain().to_owned(),
            });
        }
        opener.create(types, encodings).map_err(os)
    })
}

/// Opens the existing service `name` of `node`'s domain as `spec` says.
pub(crate) fn open(
    node: &Node,
    name: &ServiceName,
    spec: &Spec<'_>,
) -> Result<Arc<ServiceInner>, ServiceOpenError> {
    let os = |source| ServiceOpenError::Os {
        name: name.to_string(),
        source,
    };
    with_lock(node, name, spec, |opener| {
        let Some(shm) = opener.existing().map_err(os)? else {
            return Err(ServiceOpenError::NotFound {
                pattern: spec.label,
                name: name.to_string(),
                domain: node.config().domain().to_owned(),
            });
        };
        match opener.join(&shm)? {
            Some(inner) => Ok(inner),
            // Half-created by a creator that died: as good as absent.
            None => {
                opener.remove_half_created();
                Err(ServiceOpenError::NotFound {
                    pattern: spec.label,
                    name: name.to_string(),
                    domain: node.config().domain().to_owned(),
                })
            }
        }
    })
}

/// Opens the service `name` of `node`'s domain, creating it if there is none.
pub(crate) fn open_or_create(
    node: &Node,
    name: &ServiceName,
    spec: &Spec<'_>,
) -> Result<Arc<ServiceInner>, ServiceOpenOrCreateError> {
    let encodings = match &spec.types {
        Some(types) => Some(encode_types(types)?),
        None => None,
    };
    let os = |source| ServiceOpenOrCreateError::Os {
        name: name.to_string(),
        source,
    };
    with_lock(node, name, spec, |opener| {
        if let Some(shm) = opener.existing().map_err(os)? {
            if let Some(inner) = opener.join(&shm)? {
                return Ok(inner);
            }
            // Its creator died before marking it ready: we hold the lock, so nobody else
            // is creating it. Remove it and start over.
            tracing::warn!(service = %name, "removing a half-created service left by a dead creator");
            opener.remove_half_created();
        }
        let (Some(types), Some(encodings)) = (&spec.types, encodings.clone()) else {
            return Err(ServiceOpenOrCreateError::NoType {
                pattern: spec.label,
                name: name.to_string(),
            });
        };
        opener.create(types, encodings).map_err(os)
    })
}

fn encode_types(
    types: &[Descriptor],
) -> Result<Vec<Vec<u8>>, crate::message::dynamic::EncodeError> {
    types.iter().map(Descriptor::encode).collect()
}

/// Runs `body` under the service lock of `name`; a failure that leaves no service of ours
/// behind removes the lock file too (we hold the lock, so nobody is creating it now).
fn with_lock<E: From<LockError>>(
    node: &Node,
    name: &ServiceName,
    spec: &Spec<'_>,
    body: impl FnOnce(&Opener<'_>) -> Result<Arc<ServiceInner>, E>,
) -> Result<Arc<ServiceInner>, E> {
    let config = node.config();
    let id = name.object_id(spec.pattern as u8);
    let suffix = pattern_suffix(spec.pattern);
    let lock_name = lock_file_name(suffix, id);
    let lock_os = |source: OsError| LockError::Os {
        name: name.to_string(),
        source,
    };
    let shm_name = ShmName::new(object_name(config, suffix, id)).map_err(|e| lock_os(e.into()))?;
    let (_, lock) = acquire_lock(node.domain_folder(), &lock_name, spec.lock_timeout, name)?;
    let opener = Opener {
        node,
        name,
        spec,
        id,
        shm_name: &shm_name,
        lock_name,
    };
    let result = body(&opener);
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
    lock_name: String,
}

impl Opener<'_> {
    fn corrupted(&self, what: String) -> JoinError {
        JoinError::Corrupted {
            name: self.name.to_string(),
            what,
        }
    }

    /// The service object, if one exists (and is ours).
    fn existing(&self) -> Result<Option<SharedMemory>, OsError> {
        match SharedMemory::open(self.shm_name, Access::ReadWrite, self.spec.permissions) {
            Ok(shm) => Ok(Some(shm)),
            Err(ShmOpenError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a service object whose creator died before marking it ready, with its
    /// segments.
    fn remove_half_created(&self) {
        let _ = shm::unlink(self.shm_name, self.spec.permissions);
        remove_segments(
            self.node.config(),
            pattern_suffix(self.spec.pattern),
            self.id,
            self.spec.permissions,
        );
    }

    fn handle(&self, mapping: Arc<Mapping>, geometry: Geometry) -> Result<Registry, OsError> {
        let view = View::new(mapping.clone(), 0, geometry.total)?;
        Ok(Registry::new(
            self.node.clone(),
            self.name.clone(),
            self.id,
            self.shm_name.clone(),
            self.lock_name.clone(),
            mapping,
            view,
            geometry,
            self.spec.permissions,
        ))
    }

    /// Creates, sizes, maps and initialises the object; marks it ready last; joins it.
    fn create(
        &self,
        types: &[Descriptor],
        encodings: Vec<Vec<u8>>,
    ) -> Result<Arc<ServiceInner>, OsError> {
        let spec = self.spec;
        let plan = StaticPlan::new(self.name.as_str().len(), encodings);
        // The builder checked the QoS; what can still fail is a static part larger than any
        // reader accepts (descriptors of more than 64 MiB): "file too large".
        let geometry = geometry_of(spec.pattern, spec.qos_words, plan.size)
            .ok_or(OsError::Errno(rustix::io::Errno::FBIG))?;
        let shm = SharedMemory::create(self.shm_name, spec.permissions)?;
        let init = || -> Result<Arc<Mapping>, OsError> {
            shm.allocate(geometry.total as u64)?;
            let mapping = Arc::new(Mapping::new(&shm, geometry.total, Protection::ReadWrite)?);
            let view = View::new(mapping.clone(), 0, geometry.total)?;
            let word = |at: usize, value: u64| -> Result<(), OsError> {
                view.u64(at)?.store(value, Ordering::Relaxed);
                Ok(())
            };
            use core::mem::offset_of;
            word(offset_of!(Header, magic), MAGIC)?;
            word(offset_of!(Header, abi), SHM_ABI_VERSION)?;
            word(offset_of!(Header, pattern), spec.pattern)?;
            word(offset_of!(Header, creator), self.node.id().value())?;
            word(offset_of!(Header, static_size), plan.size as u64)?;
            word(GENERATION_AT, 0)?;
            word(
                offset_of!(Header, name_len),
                self.name.as_str().len() as u64,
            )?;
            for (i, value) in spec.qos_words.into_iter().enumerate() {
                word(offset_of!(Header, qos) + 8 * i, value)?;
            }
            view.write_bytes(NAME_AT, self.name.as_str().as_bytes())?;
            for (k, (d, (at, encoding))) in types.iter().zip(&plan.encodings).enumerate() {
                let entry = offset_of!(Header, types) + k * size_of::<TypeEntry>();
                word(entry + offset_of!(TypeEntry, hash), d.layout_hash())?;
                word(entry + offset_of!(TypeEntry, size), d.size() as u64)?;
                word(entry + offset_of!(TypeEntry, align), d.align() as u64)?;
                word(entry + offset_of!(TypeEntry, encoding_at), *at as u64)?;
                word(
                    entry + offset_of!(TypeEntry, encoding_len),
                    encoding.len() as u64,
                )?;
                view.write_bytes(*at, encoding)?;
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
            // SYNC(release): publishes everything above to readers that acquire `state`
            // (openers run under the lock after us, so the lock also orders it).
            view.u64(STATE_AT)?.store(STATE_READY, Ordering::Release);
            Ok(mapping)
        };
        let mapping = match init() {
            Ok(mapping) => mapping,
            Err(source) => {
                let _ = shm::unlink(self.shm_name, spec.permissions);
                return Err(source);
            }
        };
        tracing::info!(service = %self.name, size = geometry.total, "service created");
        let registry = self.handle(mapping, geometry)?;
        let inner = ServiceInner::join_created(registry, types);
        tracing::info!(service = %self.name, pattern = spec.label, "service opened (created)");
        Ok(Arc::new(inner))
    }

    /// Maps an existing object, checks it and joins it; `Ok(None)` if it was never marked
    /// ready.
    fn join(&self, shm: &SharedMemory) -> Result<Option<Arc<ServiceInner>>, JoinError> {
        let (name, spec) = (self.name, self.spec);
        let os = |e: OsError| self.corrupted(e.to_string());
        let len = shm.len().map_err(|e| os(e.into()))?;
        if len < NAME_AT as u64 {
            // A creator that died between creating and sizing the object.
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| self.corrupted(format!("size {len}")))?;
        let mapping =
            Arc::new(Mapping::new(shm, len, Protection::ReadWrite).map_err(|e| os(e.into()))?);
        let stored = match StaticPart::read(&mapping, Some(spec.pattern)) {
            Ok(stored) => stored,
            Err(StaticFault::NotReady) => return Ok(None),
            Err(StaticFault::Abi(found)) => {
                return Err(JoinError::AbiMismatch {
                    name: name.to_string(),
                    found,
                    expected: SHM_ABI_VERSION,
                });
            }
            Err(fault) => return Err(self.corrupted(fault.describe())),
        };
        let stored_name = stored.name();
        if stored_name != name.as_str() {
            return Err(JoinError::HashCollision {
                name: name.to_string(),
                existing: stored_name,
            });
        }
        let mut types = Vec::with_capacity(spec.roles.len());
        for (k, role) in spec.roles.iter().enumerate() {
            let entry = stored
                .type_entry(k)
                .ok_or_else(|| self.corrupted(format!("no {role} type")))?;
            // Decoded (and checked against the words) even when ours matches the words: a
            // service whose description is damaged is refused by every opener alike, not
            // only by the tools that read it.
            let theirs = stored
                .descriptor(k)
                .map_err(|e| self.corrupted(format!("the description of its {role} type: {e}")))?;
            let Some(ours) = spec.types.as_ref().and_then(|t| t.get(k)) else {
                types.push(theirs);
                continue;
            };
            if entry.hash == ours.layout_hash()
                && entry.size == ours.size() as u64
                && entry.align == ours.align() as u64
            {
                // Ours: it shares the static tables of the Rust type.
                types.push(ours.clone());
                continue;
            }
            let difference = theirs
                .first_difference(ours)
                .map_or_else(|| "the layouts differ".to_owned(), |d| d.to_string());
            let indent = |l: &str| l.trim_end().replace('\n', "\n                ");
            let spell = |d: &Descriptor| {
                format!(
                    "{} (size {}, align {}, hash {:#018x})",
                    d.name(),
                    d.size(),
                    d.align(),
                    d.layout_hash()
                )
            };
            return Err(JoinError::TypeMismatch(Box::new(TypeMismatch {
                name: name.to_string(),
                role,
                ours: spell(ours),
                theirs: spell(&theirs),
                difference,
                ours_rendered: indent(&ours.render()),
                theirs_rendered: indent(&theirs.render()),
            })));
        }
        (spec.check_offered)(name.as_str(), stored.header.qos)?;
        let registry = self.handle(mapping, stored.geometry).map_err(os)?;
        registry.remove_dead_nodes();
        let inner = ServiceInner::join(registry, &types)?;
        tracing::info!(service = %name, pattern = spec.label, "service opened");
        Ok(Some(Arc::new(inner)))
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

/// Takes the service lock `file` (in the domain's `services` folder, made if needed),
/// waiting at most `timeout` for another holder; returns the folder with the lock.
fn acquire_lock(
    domain: &Folder,
    file: &str,
    timeout: Duration,
    name: &ServiceName,
) -> Result<(Folder, LockFile), LockError> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_micros(50);
    let os = |source: OsError| LockError::Os {
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
            return Err(LockError::Timeout {
                name: name.to_string(),
                path: services.join(file),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}
