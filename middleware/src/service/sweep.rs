//! Sweeping a service without joining it: remove the ports of dead nodes, and remove the
//! whole service when no live node uses it any more. The cleaner's half of
//! [`crate::cleanup`]; it runs under the service lock, so it never races with a process
//! that creates, opens or leaves the same service.

use std::sync::Arc;
use std::time::Duration;

use super::layout::*;
use super::{
    LockError, OsError, Registry, Removed, ServiceName, acquire_lock, lock_file_name, object_name,
    remove_segments,
};
use crate::node::Node;
use crate::os::mmap::{Mapping, Protection};
use crate::os::shm::{self, Access, SharedMemory, ShmName, ShmOpenError};
use crate::sync::view::View;

/// A service of a domain, as its objects and files name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ServiceKey {
    /// `PATTERN_PUBSUB` or `PATTERN_REQUEST_RESPONSE`.
    pub(crate) pattern: u64,
    /// The hash of its name.
    pub(crate) id: u64,
}

impl ServiceKey {
    pub(crate) fn suffix(self) -> &'static str {
        pattern_suffix(self.pattern)
    }
}

/// What a sweep did to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swept {
    /// Live nodes still use it; what of dead nodes was removed, and how many segments of
    /// publishers that died before registering.
    Kept { dead: Removed, orphans: usize },
    /// Nobody alive used it: its objects and lock file are gone (after removing what of
    /// `dead` nodes was in it); `objects` counts those removed with the service.
    Removed { dead: Removed, objects: usize },
    /// Another process held its lock for the whole wait: left for the next sweep.
    Busy,
    /// Written by another shm-ABI version or unreadable: not touched.
    Foreign,
}

/// A service could not be swept.
#[derive(Debug, thiserror::Error)]
#[error("cannot clean service {service}: {source}")]
pub struct SweepError {
    /// The service (its name, or its pattern and object id when the name is unknown).
    pub service: String,
    /// The cause.
    #[source]
    pub source: OsError,
}

/// Every service of `node`'s domain that has an object, a lock file or a data segment.
pub(crate) fn services(node: &Node) -> Result<Vec<ServiceKey>, OsError> {
    let mut keys: Vec<ServiceKey> = objects(node.config())?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let lock_files = match node.domain_folder().open("services")? {
        Some(services) => services.list(".lock")?,
        None => Vec::new(),
    };
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    for file in lock_files {
        let mut parts = file.split('.');
        let (Some(id), Some(kind)) = (parts.next().and_then(hex), parts.next()) else {
            continue;
        };
        let pattern = match kind {
            "ps" => PATTERN_PUBSUB,
            "rr" => PATTERN_REQUEST_RESPONSE,
            _ => continue,
        };
        keys.push(ServiceKey { pattern, id });
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The shared-memory objects of `config`'s domain that are ours, by the service they
/// belong to; `true` for a service object, `false` for a data segment.
pub(crate) fn objects(config: &crate::Config) -> Result<Vec<(ServiceKey, ShmName)>, OsError> {
    let prefix = format!("/{}", config.shm_prefix());
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    let mut out = Vec::new();
    for name in shm::list(&prefix, config.permissions())? {
        let rest = &name.as_str()[prefix.len()..];
        let key = if let Some(id) = rest.strip_prefix("ps.") {
            hex(id).map(|id| (PATTERN_PUBSUB, id))
        } else if let Some(id) = rest.strip_prefix("rr.") {
            hex(id).map(|id| (PATTERN_REQUEST_RESPONSE, id))
        } else if let Some(seg) = rest.strip_prefix("d.ps.") {
            seg.split('.')
                .next()
                .and_then(hex)
                .map(|id| (PATTERN_PUBSUB, id))
        } else if let Some(seg) = rest.strip_prefix("d.rr.") {
            seg.split('.')
                .next()
                .and_then(hex)
                .map(|id| (PATTERN_REQUEST_RESPONSE, id))
        } else {
            None
        };
        if let Some((pattern, id)) = key {
            out.push((ServiceKey { pattern, id }, name));
        }
    }
    Ok(out)
}

/// Whether `name` is the service object (not a data segment) of `key` in `config`'s domain.
pub(crate) fn is_service_object(config: &crate::Config, key: ServiceKey, name: &ShmName) -> bool {
    name.as_str() == object_name(config, key.suffix(), key.id)
}

/// Sweeps one service (see the module docs). Waits at most `lock_timeout` for its lock.
pub(crate) fn sweep(
    node: &Node,
    key: ServiceKey,
    lock_timeout: Duration,
) -> Result<Swept, SweepError> {
    let config = node.config();
    // Until its stored name is read: the pattern and object id, a valid name as well.
    let label = ServiceName::from_checked(format!("{}/{:016x}", key.suffix(), key.id));
    let os = |source: OsError| SweepError {
        service: label.to_string(),
        source,
    };
    let permissions = config.permissions();
    let lock_name = lock_file_name(key.suffix(), key.id);
    let lock = match acquire_lock(node.domain_folder(), &lock_name, lock_timeout, &label) {
        Ok((_, lock)) => lock,
        Err(LockError::Timeout { .. }) => return Ok(Swept::Busy),
        Err(LockError::Os { source, .. }) => return Err(os(source)),
    };
    let shm_name =
        ShmName::new(object_name(config, key.suffix(), key.id)).map_err(|e| os(e.into()))?;
    let remove_all = |lock: crate::os::lock::LockFile, dead: Removed| {
        let mut objects = shm::list(
            &super::segments_prefix(config, key.suffix(), key.id),
            permissions,
        )
        .map_or(0, |l| l.len());
        remove_segments(config, key.suffix(), key.id, permissions);
        if shm::unlink(&shm_name, permissions).is_ok() {
            objects += 1;
        }
        if let Err(error) = lock.remove() {
            tracing::warn!(service = %label, %error, "could not remove a swept service's lock file");
        }
        node.domain_folder().remove_dir_if_empty("services");
        tracing::info!(service = %label, dead = dead.nodes, objects, "removed a service no live node uses");
        Swept::Removed { dead, objects }
    };
    let shm = match SharedMemory::open(&shm_name, Access::ReadWrite, permissions) {
        Ok(shm) => shm,
        // Only a lock file or orphaned segments are left.
        Err(ShmOpenError::NotFound { .. }) => return Ok(remove_all(lock, Removed::default())),
        // Someone else's object under our name: not ours to judge or to remove.
        Err(error @ ShmOpenError::NotOurs { .. }) => {
            tracing::warn!(%error, "left a service object that is not ours alone");
            return Ok(Swept::Foreign);
        }
        Err(e) => return Err(os(e.into())),
    };
    let len = shm.len().map_err(|e| os(e.into()))?;
    let Ok(len) = usize::try_from(len) else {
        return Ok(Swept::Foreign);
    };
    if len < NAME_AT {
        // We hold the lock, so its creator is not at work: it died before sizing it.
        return Ok(remove_all(lock, Removed::default()));
    }
    let mapping =
        Arc::new(Mapping::new(&shm, len, Protection::ReadWrite).map_err(|e| os(e.into()))?);
    let stored = match StaticPart::read(&mapping, Some(key.pattern)) {
        Ok(stored) => stored,
        // Half-created by a creator that died (we hold the lock).
        Err(StaticFault::NotReady) => return Ok(remove_all(lock, Removed::default())),
        Err(_) => return Ok(Swept::Foreign),
    };
    let geometry = stored.geometry;
    let name = ServiceName::new(stored.name()).unwrap_or(label.clone());
    let view = View::new(mapping.clone(), 0, geometry.total).map_err(|e| os(e.into()))?;
    let registry = Registry::new(
        node.clone(),
        name,
        key.id,
        shm_name.clone(),
        lock_name.clone(),
        mapping,
        view,
        geometry,
        config.permissions(),
    );
    let dead = registry.remove_dead_nodes();
    if registry.in_use(usize::MAX) {
        let orphans = registry.remove_orphan_segments();
        return Ok(Swept::Kept { dead, orphans });
    }
    drop(registry);
    Ok(remove_all(lock, dead))
}
