//! Discovery: every service of a domain, with its types, QoS, ports and nodes, read
//! without joining it.
//!
//! A service object is opened read-only and mapped read-only; its static part is checked
//! ([`StaticPart::read`]) and its stored descriptors decoded and checked against its words,
//! exactly as an opener does, and its registry slots are read with atomic loads. Nothing
//! is written: no node slot is taken, no lock held, so a tool looking at a domain never
//! disturbs it. What it sees is a snapshot; ports come and go meanwhile.
//!
//! A service whose static part or descriptors are corrupted is reported as an
//! [`InspectError`] naming it, among the others; one that is being created (not ready) is
//! left out.

use std::path::PathBuf;
use std::sync::Arc;

use super::layout::*;
use super::registry::PortKind;
use super::sweep::{self, ServiceKey};
use super::{OsError, PubSubQos, RequestResponseQos, ServiceName, lock_file_name, object_name};
use crate::config::Config;
use crate::message::Descriptor;
use crate::node::{Node, NodeId, NodeState};
use crate::os::mmap::{Mapping, Protection};
use crate::os::shm::{self, Access, Footprint, SharedMemory, ShmName, ShmOpenError};
use crate::sync::view::View;

/// The messaging pattern of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// Publish-subscribe.
    PublishSubscribe,
    /// Request-response.
    RequestResponse,
}

impl Pattern {
    pub(crate) fn code(self) -> u64 {
        match self {
            Pattern::PublishSubscribe => PATTERN_PUBSUB,
            Pattern::RequestResponse => PATTERN_REQUEST_RESPONSE,
        }
    }

    pub(crate) fn from_code(code: u64) -> Option<Self> {
        match code {
            PATTERN_PUBSUB => Some(Pattern::PublishSubscribe),
            PATTERN_REQUEST_RESPONSE => Some(Pattern::RequestResponse),
            _ => None,
        }
    }

    /// `"publish-subscribe"` or `"request-response"`.
    pub fn label(self) -> &'static str {
        match self {
            Pattern::PublishSubscribe => "publish-subscribe",
            Pattern::RequestResponse => "request-response",
        }
    }

    /// The roles of its types: `["message"]`, or `["request", "response"]`.
    pub fn roles(self) -> &'static [&'static str] {
        match self {
            Pattern::PublishSubscribe => &["message"],
            Pattern::RequestResponse => &["request", "response"],
        }
    }
}

/// A service's QoS, as it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceQos {
    /// Of a publish-subscribe service.
    PublishSubscribe(PubSubQos),
    /// Of a request-response service.
    RequestResponse(RequestResponseQos),
}

/// What kind of port a registry slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortRole {
    /// A publisher of a publish-subscribe service.
    Publisher,
    /// A subscriber of a publish-subscribe service.
    Subscriber,
    /// A client of a request-response service.
    Client,
    /// A server of a request-response service.
    Server,
    /// A monitor of a request-response service: it gets a copy of every request and
    /// response, and takes no part (a recorder).
    Monitor,
}

/// A port found in a service's registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Its role.
    pub role: PortRole,
    /// Its id (a publisher's is in every sample it sends).
    pub id: u64,
    /// The node that owns it.
    pub node: NodeId,
    /// Whether that node is alive (`None`: no token of it was found).
    pub node_state: Option<NodeState>,
    /// A publisher that left while samples of it were still queued.
    pub draining: bool,
}

/// A shared-memory object of a service, with its footprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its name.
    pub name: ShmName,
    /// Its size and the memory it occupies.
    pub footprint: Footprint,
}

/// Everything about one service that can be read without joining it.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    /// Its name.
    pub name: ServiceName,
    /// Its pattern.
    pub pattern: Pattern,
    /// Its types, in the order of [`Pattern::roles`].
    pub types: Vec<Descriptor>,
    /// Its QoS.
    pub qos: ServiceQos,
    /// The shared-memory ABI version it was created with.
    pub abi_version: u64,
    /// The node that created it.
    pub creator: Option<NodeId>,
    /// The nodes holding a handle of it, and whether they are alive.
    pub nodes: Vec<(NodeId, Option<NodeState>)>,
    /// Its ports.
    pub ports: Vec<PortInfo>,
    /// The service object.
    pub object: ObjectInfo,
    /// Its publishers' (and for request-response, clients' and servers') data segments.
    pub segments: Vec<ObjectInfo>,
    /// Its lock file.
    pub lock_file: PathBuf,
}

impl ServiceInfo {
    /// How many ports of `role` it has.
    pub fn count(&self, role: PortRole) -> usize {
        self.ports.iter().filter(|p| p.role == role).count()
    }
}

/// The domain's services could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list the services of domain {domain:?}: {source}")]
pub struct DiscoveryError {
    /// The domain.
    pub domain: String,
    /// The cause.
    #[source]
    pub source: OsError,
}

/// One service could not be read.
#[derive(Debug, thiserror::Error)]
#[error("service {service} cannot be read: {problem}")]
pub struct InspectError {
    /// The service: its stored name when it could be read, else its pattern and object
    /// name.
    pub service: String,
    /// What is wrong.
    pub problem: String,
}

impl super::Service {
    /// Every service of `config`'s domain: one entry each, sorted by name and pattern, or
    /// an error naming a service whose shared memory cannot be read (a damaged static part
    /// or descriptor). Read without joining: objects are mapped read-only and checked as an
    /// opener checks them, nothing is written and no lock is taken, so looking never
    /// disturbs the domain; what it sees is a snapshot. Services being created are left
    /// out.
    pub fn list(config: &Config) -> Result<Vec<Result<ServiceInfo, InspectError>>, DiscoveryError> {
        let fail = |source| DiscoveryError {
            domain: config.domain().to_owned(),
            source,
        };
        let objects = sweep::objects(config).map_err(fail)?;
        let nodes = node_states(config);
        let mut found = Vec::new();
        for (key, name) in &objects {
            if !sweep::is_service_object(config, *key, name) {
                continue;
            }
            match inspect_key(config, *key, &objects, &nodes) {
                Ok(Some(info)) => found.push(Ok(info)),
                Ok(None) => {}
                Err(error) => found.push(Err(error)),
            }
        }
        found.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => (a.name.as_str(), a.pattern).cmp(&(b.name.as_str(), b.pattern)),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(a), Err(b)) => a.service.cmp(&b.service),
        });
        Ok(found)
    }

    /// The service `name` of `pattern` in `config`'s domain, read without joining it;
    /// `Ok(None)` if there is none.
    pub fn inspect(
        config: &Config,
        name: &str,
        pattern: Pattern,
    ) -> Result<Option<ServiceInfo>, InspectError> {
        let name = ServiceName::new(name).map_err(|e| InspectError {
            service: name.to_owned(),
            problem: e.to_string(),
        })?;
        let key = ServiceKey {
            pattern: pattern.code(),
            id: name.object_id(pattern.code() as u8),
        };
        let objects = sweep::objects(config).map_err(|e| InspectError {
            service: name.to_string(),
            problem: e.to_string(),
        })?;
        inspect_key(config, key, &objects, &node_states(config))
    }
}

/// The state of every node of the domain that has a token.
fn node_states(config: &Config) -> Vec<(NodeId, NodeState)> {
    match Node::list(config) {
        Ok(nodes) => nodes.into_iter().map(|n| (n.id, n.state)).collect(),
        Err(error) => {
            tracing::debug!(%error, "cannot list the nodes for discovery");
            Vec::new()
        }
    }
}

/// Reads the service `key`; `Ok(None)` when it has no object (or one not ready yet).
fn inspect_key(
    config: &Config,
    key: ServiceKey,
    objects: &[(ServiceKey, ShmName)],
    nodes: &[(NodeId, NodeState)],
) -> Result<Option<ServiceInfo>, InspectError> {
    let object =
        ShmName::new(object_name(config, key.suffix(), key.id)).map_err(|e| InspectError {
            service: format!("{}/{:016x}", key.suffix(), key.id),
            problem: e.to_string(),
        })?;
    let fail = |problem: String| InspectError {
        service: object.to_string(),
        problem,
    };
    let shm = match SharedMemory::open(&object, Access::ReadOnly, config.permissions()) {
        Ok(shm) => shm,
        Err(ShmOpenError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(fail(e.to_string())),
    };
    let footprint = shm.footprint().map_err(|e| fail(e.to_string()))?;
    let len = usize::try_from(footprint.size).map_err(|_| fail("too large".into()))?;
    if len < NAME_AT {
        return Ok(None); // its creator is at work, or died before sizing it
    }
    let mapping =
        Arc::new(Mapping::new(&shm, len, Protection::ReadOnly).map_err(|e| fail(e.to_string()))?);
    let stored = match StaticPart::read(&mapping, Some(key.pattern)) {
        Ok(stored) => stored,
        Err(StaticFault::NotReady) => return Ok(None),
        Err(fault) => return Err(fail(fault.describe())),
    };
    let name = ServiceName::new(stored.name())
        .map_err(|e| fail(format!("its stored name is invalid: {e}")))?;
    let named = |problem: String| InspectError {
        service: name.to_string(),
        problem,
    };
    let pattern = Pattern::from_code(key.pattern).ok_or_else(|| named("unknown pattern".into()))?;
    let types = (0..pattern.roles().len())
        .map(|k| stored.descriptor(k))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| named(e.to_string()))?;
    let qos = match pattern {
        Pattern::PublishSubscribe => {
            PubSubQos::from_words(stored.header.qos).map(ServiceQos::PublishSubscribe)
        }
        Pattern::RequestResponse => {
            RequestResponseQos::from_words(stored.header.qos).map(ServiceQos::RequestResponse)
        }
    }
    .ok_or_else(|| named("its QoS are out of range".into()))?;
    let geometry = stored.geometry;
    let view = View::new(mapping.clone(), 0, geometry.total).map_err(|e| named(e.to_string()))?;
    let word = |at: usize| view.load_u64(at).unwrap_or(0);
    let state_of = |id: NodeId| nodes.iter().find(|(n, _)| *n == id).map(|(_, s)| *s);
    let mut node_ids = Vec::new();
    for i in 0..geometry.max_nodes as usize {
        if let Some(id) = NodeId::from_value(word(geometry.node_at(i))) {
            node_ids.push((id, state_of(id)));
        }
    }
    let mut ports = Vec::new();
    for (ch, channel) in geometry.channels().iter().enumerate() {
        for kind in [PortKind::Publisher, PortKind::Subscriber] {
            for i in 0..kind.count(&channel.qos) {
                let at = kind.slot_at(channel, i);
                let state = word(at + SLOT_STATE);
                let Some(owner) = NodeId::from_value(word(at + SLOT_OWNER)) else {
                    continue;
                };
                if state != STATE_READY && state != STATE_DRAINING {
                    continue;
                }
                let monitor = word(at + SLOT_FLAGS) & SLOT_MONITOR != 0;
                let role = match (pattern, ch, kind) {
                    (Pattern::PublishSubscribe, _, PortKind::Publisher) => PortRole::Publisher,
                    (Pattern::PublishSubscribe, _, PortKind::Subscriber) => PortRole::Subscriber,
                    // Channel 0 carries requests (clients publish), channel 1 responses.
                    (Pattern::RequestResponse, 0, PortKind::Publisher) => PortRole::Client,
                    (Pattern::RequestResponse, 0, PortKind::Subscriber) if monitor => {
                        PortRole::Monitor
                    }
                    (Pattern::RequestResponse, 0, PortKind::Subscriber) => PortRole::Server,
                    // The other half of the same clients and servers: listed once.
                    (Pattern::RequestResponse, _, _) => continue,
                };
                ports.push(PortInfo {
                    role,
                    id: word(at + SLOT_PORT),
                    node: owner,
                    node_state: state_of(owner),
                    draining: state == STATE_DRAINING,
                });
            }
        }
    }
    let segments = objects
        .iter()
        .filter(|(k, n)| *k == key && n != &object)
        .filter_map(|(_, n)| {
            shm::footprint(n, config.permissions()).map(|footprint| ObjectInfo {
                name: n.clone(),
                footprint,
            })
        })
        .collect();
    Ok(Some(ServiceInfo {
        name,
        pattern,
        types,
        qos,
        abi_version: stored.header.abi,
        creator: NodeId::from_value(stored.header.creator),
        nodes: node_ids,
        ports,
        object: ObjectInfo {
            name: object,
            footprint,
        },
        segments,
        lock_file: config
            .domain_dir()
            .join("services")
            .join(lock_file_name(key.suffix(), key.id)),
    }))
}
