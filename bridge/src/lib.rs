//! A bridge that carries shmbus publish-subscribe services between machines over Zenoh.
//!
//! One bridge runs in each domain (each machine). An *exporting* bridge subscribes to the
//! local services its `export` patterns match, through byte-level subscribers that read
//! each publisher's memory in place, and puts every sample on Zenoh; an *importing* bridge
//! creates each remote service its `import` patterns match, from the descriptor the
//! exporter announces, and publishes every sample it receives after checking it against
//! that descriptor. A bridge can do both.
//!
//! ## Key expressions (`P` is the key prefix, `shmbus` unless configured)
//!
//! | key | what |
//! |-----|------|
//! | `P/ps/<service name>` | the samples: payload = the message's bytes in the fixed layout, attachment = [`wire::SampleHeader`] |
//! | `P/about/ps/<service name>` | a queryable answering with the service's [`wire::Announcement`] (type and QoS) |
//! | `P/alive/<zenoh id>/ps/<service name>` | a liveliness token per exported service, gone when the exporter stops or dies |
//!
//! Service names are valid key chunks as they are (segments of `A-Z a-z 0-9 _ - .`), so a
//! plain Zenoh program can subscribe to `P/ps/robot/scan` and read the bytes, or publish
//! into an imported service with the 32-byte header (whatever arrives is checked like
//! anything else). Both ends must use the same byte order: a bridge refuses to import a
//! type from a host of the other byte order (the announced layout hash differs).
//!
//! ## What a bridge never does
//!
//! - export a service whose only publishers are bridges (its own imports or another
//!   bridge's), or forward a sample that one of its own proxies published: no loops;
//! - hand a local subscriber bytes that were not checked: a sample of the wrong size, with
//!   an invalid value, a foreign header or another layout hash is dropped and counted
//!   (logged at most once a second per service);
//! - keep a proxy of a remote service whose exporter went away: when its liveliness token
//!   disappears (the exporting bridge stopped, died or lost the link), the proxy publisher
//!   is removed, so local subscribers see their publisher leave; when it comes back, the
//!   proxy is made again and traffic resumes.
//!
//! Request-response services are not carried yet (see the README).

pub mod wire;

use shmbus::sync::atomic::AtomicU64;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shmbus::port::RawSubscriber;
use shmbus::service::qos::PubSubQos;
use shmbus::service::{Pattern, PortRole, ServiceQos};
use shmbus::{Config, Node, NodeId, Service};
use zenoh::Wait;
use zenoh::qos::CongestionControl;
use zenoh::sample::SampleKind;

pub use shmbus::service::ServicePattern;

use crate::wire::{Announcement, SampleHeader};

/// The name of every bridge's node: services whose publishers all belong to such nodes
/// are proxies, never exported.
pub const BRIDGE_NODE: &str = "shmbus-bridge";

/// Zenoh mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A peer: listens and connects to other peers.
    Peer,
    /// A client: connects to one router or peer.
    Client,
}

/// How a bridge is set up.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Zenoh endpoints to listen on (`tcp/0.0.0.0:7447`).
    pub listen: Vec<String>,
    /// Zenoh endpoints to connect to (`tcp/robot:7447`).
    pub connect: Vec<String>,
    /// Peer or client.
    pub mode: Mode,
    /// Multicast scouting (finding peers on the local network without `connect`).
    pub scouting: bool,
    /// Local services to export (names or globs).
    pub export: Vec<ServicePattern>,
    /// Remote services to import (names or globs).
    pub import: Vec<ServicePattern>,
    /// The first chunks of every key (`shmbus`); both ends must agree.
    pub key_prefix: String,
    /// How often the local domain is looked at for services to export.
    pub discovery_interval: Duration,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            connect: Vec::new(),
            mode: Mode::Peer,
            scouting: false,
            export: Vec::new(),
            import: Vec::new(),
            key_prefix: "shmbus".into(),
            discovery_interval: Duration::from_millis(500),
        }
    }
}

/// Failure of a bridge.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The configuration cannot work.
    #[error("bridge configuration: {0}")]
    Config(String),
    /// Zenoh failed (opening the session, declaring a key).
    #[error("zenoh: {what}: {message}")]
    Zenoh {
        /// What was being done.
        what: String,
        /// Zenoh's error.
        message: String,
    },
    /// The local node could not be made.
    #[error(transparent)]
    Node(#[from] shmbus::node::NodeCreateError),
    /// The local domain could not be looked at.
    #[error(transparent)]
    Discovery(#[from] shmbus::service::DiscoveryError),
}

fn zenoh_error(what: impl Into<String>) -> impl FnOnce(zenoh::Error) -> BridgeError {
    let what = what.into();
    move |e| BridgeError::Zenoh {
        what,
        message: e.to_string(),
    }
}

/// What a bridge did, per service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Samples put on Zenoh (exported).
    pub sent: u64,
    /// Samples published locally (imported).
    pub delivered: u64,
    /// Samples from the network refused (wrong size, invalid, foreign header, other type).
    pub refused: u64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    delivered: AtomicU64,
    refused: AtomicU64,
    /// When a refusal was last logged (ns since the bridge started), for the rate limit.
    last_log: AtomicU64,
}

/// A running bridge; [`Bridge::stop`] or dropping it ends it and removes what it made.
pub struct Bridge {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), BridgeError>>>,
    counters: Arc<Mutex<HashMap<String, Arc<Counters>>>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

impl Bridge {
    /// Opens the Zenoh session and starts bridging the domain of `local`.
    pub fn start(local: Config, config: BridgeConfig) -> Result<Self, BridgeError> {
        check_prefix(&config.key_prefix)?;
        let session = zenoh::open(zenoh_config(&config)?)
            .wait()
            .map_err(zenoh_error("opening the session"))?;
        let node = Node::builder().name(BRIDGE_NODE).config(local).create()?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Mutex::new(HashMap::new()));
        let mut state = State {
            node,
            session,
            config,
            exports: HashMap::new(),
            imports: HashMap::new(),
            proxy_ports: Arc::new(Mutex::new(HashSet::new())),
            counters: Arc::clone(&counters),
            started: Instant::now(),
        };
        let (events, incoming) = channel();
        let watch = state.watch_remote(events)?;
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("shmbus-bridge".into())
                .spawn(move || {
                    let result = state.run(&stop, &incoming);
                    drop(watch);
                    state.shutdown();
                    result
                })
                .map_err(|e| BridgeError::Config(format!("cannot start its thread: {e}")))?
        };
        Ok(Self {
            stop,
            thread: Some(thread),
            counters,
        })
    }

    /// Counts per service so far (exported and imported).
    pub fn counts(&self) -> HashMap<String, Counts> {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        counters
            .iter()
            .map(|(name, c)| {
                (
                    name.clone(),
                    Counts {
                        sent: c.sent.load(Ordering::Relaxed),
                        delivered: c.delivered.load(Ordering::Relaxed),
                        refused: c.refused.load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }

    /// Whether it is still running (an error ends it: see [`Bridge::stop`]).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops it: every proxy, export and token goes; returns the error that ended it, if
    /// one did.
    pub fn stop(mut self) -> Result<(), BridgeError> {
        self.end()
    }

    fn end(&mut self) -> Result<(), BridgeError> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(BridgeError::Config("the bridge thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Err(error) = self.end() {
            tracing::warn!(%error, "the bridge ended with an error");
        }
    }
}

fn check_prefix(prefix: &str) -> Result<(), BridgeError> {
    let ok = !prefix.is_empty()
        && prefix.split('/').all(|chunk| {
            !chunk.is_empty()
                && chunk
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(BridgeError::Config(format!(
            "key prefix {prefix:?}: use chunks of A-Z, a-z, 0-9, '_', '-', '.' separated by '/'"
        )))
    }
}

fn zenoh_config(config: &BridgeConfig) -> Result<zenoh::Config, BridgeError> {
    let mut c = zenoh::Config::default();
    let json = |v: &Vec<String>| {
        format!(
            "[{}]",
            v.iter()
                .map(|e| format!("{e:?}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let mode = match config.mode {
        Mode::Peer => "\"peer\"",
        Mode::Client => "\"client\"",
    };
    let scouting = if config.scouting { "true" } else { "false" };
    for (key, value) in [
        ("mode", mode.to_owned()),
        ("listen/endpoints", json(&config.listen)),
        ("connect/endpoints", json(&config.connect)),
        ("scouting/multicast/enabled", scouting.to_owned()),
    ] {
        c.insert_json5(key, &value)
            .map_err(|e| BridgeError::Config(format!("zenoh setting {key} = {value}: {e}")))?;
    }
    Ok(c)
}

/// A local service put on Zenoh.
struct Export {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
    // Declared on the session; dropping them undeclares.
    _about: zenoh::query::Queryable<()>,
    _token: zenoh::liveliness::LivelinessToken,
}

/// A remote service published locally.
struct Import {
    _subscriber: zenoh::pubsub::Subscriber<()>,
    publisher_id: u64,
}

enum RemoteEvent {
    Appeared(String),
    Gone(String),
}

struct State {
    node: Node,
    session: zenoh::Session,
    config: BridgeConfig,
    exports: HashMap<String, Export>,
    imports: HashMap<String, Import>,
    /// Ids of this bridge's proxy publishers: samples from them are never exported.
    proxy_ports: Arc<Mutex<HashSet<u64>>>,
    counters: Arc<Mutex<HashMap<String, Arc<Counters>>>>,
    started: Instant,
}

impl State {
    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.config.key_prefix.clone();
        for p in parts {
            key.push('/');
            key.push_str(p);
        }
        key
    }

    fn counters(&self, service: &str) -> Arc<Counters> {
        let mut all = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(all.entry(service.to_owned()).or_default())
    }

    /// Follows the remote exporters' liveliness tokens (also those alive already).
    fn watch_remote(
        &self,
        events: Sender<RemoteEvent>,
    ) -> Result<Option<zenoh::pubsub::Subscriber<()>>, BridgeError> {
        if self.config.import.is_empty() {
            return Ok(None);
        }
        let alive = self.key(&["alive"]);
        let own = self.session.zid().to_string();
        let events = Mutex::new(events);
        let subscriber = self
            .session
            .liveliness()
            .declare_subscriber(format!("{alive}/*/ps/**"))
            .history(true)
            .callback(move |sample| {
                let key = sample.key_expr().as_str();
                // <alive>/<zid>/ps/<name>
                let Some(rest) = key.strip_prefix(&alive).and_then(|r| r.strip_prefix('/')) else {
                    return;
                };
                let Some((zid, name)) = rest.split_once("/ps/") else {
                    return;
                };
                if zid == own {
                    return;
                }
                let event = match sample.kind() {
                    SampleKind::Put => RemoteEvent::Appeared(name.to_owned()),
                    SampleKind::Delete => RemoteEvent::Gone(name.to_owned()),
                };
                let _ = events.lock().unwrap_or_else(|p| p.into_inner()).send(event);
            })
            .wait()
            .map_err(zenoh_error("following remote services"))?;
        Ok(Some(subscriber))
    }

    fn run(
        &mut self,
        stop: &AtomicBool,
        incoming: &Receiver<RemoteEvent>,
    ) -> Result<(), BridgeError> {
        let mut next_discovery = Instant::now();
        while !stop.load(Ordering::Acquire) {
            if Instant::now() >= next_discovery {
                self.discover_exports()?;
                self.reap_exports();
                next_discovery = Instant::now() + self.config.discovery_interval;
            }
            match incoming.recv_timeout(Duration::from_millis(50)) {
                Ok(RemoteEvent::Appeared(name)) => self.import(&name),
                Ok(RemoteEvent::Gone(name)) => {
                    if let Some(import) = self.imports.remove(&name) {
                        tracing::info!(service = %name, "the remote exporter is gone: proxy removed");
                        self.forget_proxy(import.publisher_id);
                    }
                }
                Err(_) => {}
            }
        }
        Ok(())
    }

    fn forget_proxy(&self, id: u64) {
        self.proxy_ports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Exports every local publish-subscribe service the patterns match that has a
    /// publisher of a node other than a bridge.
    fn discover_exports(&mut self) -> Result<(), BridgeError> {
        if self.config.export.is_empty() {
            return Ok(());
        }
        let bridges: HashSet<NodeId> = Node::list(self.node.config())
            .map(|nodes| {
                nodes
                    .into_iter()
                    .filter(|n| n.name == BRIDGE_NODE)
                    .map(|n| n.id)
                    .collect()
            })
            .unwrap_or_default();
        for info in Service::list(self.node.config())?.into_iter().flatten() {
            let name = info.name.as_str().to_owned();
            if info.pattern != Pattern::PublishSubscribe
                || self.exports.contains_key(&name)
                || !self.config.export.iter().any(|p| p.matches(&name))
            {
                continue;
            }
            let real_publisher = info
                .ports
                .iter()
                .any(|p| p.role == PortRole::Publisher && !bridges.contains(&p.node));
            if !real_publisher {
                continue;
            }
            let ServiceQos::PublishSubscribe(qos) = info.qos else {
                continue;
            };
            match self.export(&name, &qos) {
                Ok(export) => {
                    tracing::info!(service = %name, "exported");
                    self.exports.insert(name, export);
                }
                Err(error) => tracing::warn!(service = %name, %error, "cannot export"),
            }
        }
        Ok(())
    }

    /// Drops exports whose thread ended (the service went away).
    fn reap_exports(&mut self) {
        let ended: Vec<String> = self
            .exports
            .iter()
            .filter(|(_, e)| e.thread.is_finished())
            .map(|(n, _)| n.clone())
            .collect();
        for name in ended {
            if let Some(export) = self.exports.remove(&name) {
                let _ = export.thread.join();
                tracing::info!(service = %name, "export ended");
            }
        }
    }

    fn export(&self, name: &str, qos: &PubSubQos) -> Result<Export, BridgeError> {
        let fail = |e: &dyn std::fmt::Display| BridgeError::Config(format!("{name}: {e}"));
        let service = Service::raw_publish_subscribe(&self.node, name)
            .open()
            .map_err(|e| fail(&e))?;
        let subscriber = service.subscriber().create().map_err(|e| fail(&e))?;
        let announcement = Announcement {
            message: service.message_type().clone(),
            history: qos.history,
            subscriber_buffer: qos.subscriber_buffer,
            overflow: qos.overflow,
        }
        .encode()
        .map_err(|e| fail(&e))?;
        let about = self
            .session
            .declare_queryable(self.key(&["about", "ps", name]))
            .callback(move |query| {
                let key = query.key_expr().clone();
                if let Err(error) = query.reply(key, announcement.clone()).wait() {
                    tracing::debug!(%error, "an announcement reply failed");
                }
            })
            .wait()
            .map_err(zenoh_error(format!("declaring {name}'s announcement")))?;
        let publisher = self
            .session
            .declare_publisher(self.key(&["ps", name]))
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(zenoh_error(format!("declaring {name}'s publisher")))?;
        let zid = self.session.zid().to_string();
        let token = self
            .session
            .liveliness()
            .declare_token(self.key(&["alive", &zid, "ps", name]))
            .wait()
            .map_err(zenoh_error(format!("declaring {name}'s liveliness token")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            let proxies = Arc::clone(&self.proxy_ports);
            let counters = self.counters(name);
            let layout_hash = service.message_type().layout_hash();
            let name = name.to_owned();
            std::thread::Builder::new()
                .name(format!("export {name}"))
                .spawn(move || {
                    forward(
                        &subscriber,
                        &publisher,
                        &stop,
                        &proxies,
                        &counters,
                        layout_hash,
                        &name,
                    );
                    drop(service);
                })
                .map_err(|e| fail(&e))?
        };
        Ok(Export {
            stop,
            thread,
            _about: about,
            _token: token,
        })
    }

    /// Makes a local proxy of remote service `name`, from its announcement.
    fn import(&mut self, name: &str) {
        if self.imports.contains_key(name) || !self.config.import.iter().any(|p| p.matches(name)) {
            return;
        }
        match self.make_import(name) {
            Ok(import) => {
                tracing::info!(service = %name, "imported");
                self.proxy_ports
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(import.publisher_id);
                self.imports.insert(name.to_owned(), import);
            }
            Err(error) => tracing::warn!(service = %name, %error, "cannot import"),
        }
    }

    fn make_import(&self, name: &str) -> Result<Import, BridgeError> {
        let fail = |e: &dyn std::fmt::Display| BridgeError::Config(format!("{name}: {e}"));
        let replies = self
            .session
            .get(self.key(&["about", "ps", name]))
            .timeout(Duration::from_secs(5))
            .wait()
            .map_err(zenoh_error(format!("asking for {name}'s type")))?;
        let mut announcement = None;
        while let Ok(reply) = replies.recv() {
            if let Ok(sample) = reply.result() {
                match Announcement::decode(&sample.payload().to_bytes()) {
                    Ok(a) => {
                        announcement = Some(a);
                        break;
                    }
                    Err(e) => tracing::warn!(service = %name, error = %e, "a bad announcement"),
                }
            }
        }
        let announcement =
            announcement.ok_or_else(|| fail(&"no exporter answered with its type"))?;
        let qos = PubSubQos {
            history: announcement.history,
            subscriber_buffer: announcement.subscriber_buffer,
            overflow: announcement.overflow,
            ..PubSubQos::default()
        };
        let open = || {
            Service::raw_publish_subscribe(&self.node, name)
                .message_type(announcement.message.clone())
                .open()
        };
        let service = match open() {
            Ok(s) => s,
            Err(shmbus::service::ServiceOpenError::NotFound { .. }) => {
                match Service::raw_publish_subscribe(&self.node, name)
                    .message_type(announcement.message.clone())
                    .qos(qos)
                    .create()
                {
                    Ok(s) => s,
                    Err(shmbus::service::ServiceCreateError::AlreadyExists { .. }) => {
                        open().map_err(|e| fail(&e))?
                    }
                    Err(e) => return Err(fail(&e)),
                }
            }
            // A local service of another type: refused, with the field that differs.
            Err(e) => return Err(fail(&e)),
        };
        let publisher = service.publisher().create().map_err(|e| fail(&e))?;
        let publisher_id = publisher.id();
        let layout_hash = announcement.message.layout_hash();
        let counters = self.counters(name);
        let started = self.started;
        let service_name = name.to_owned();
        let publisher = Mutex::new((service, publisher));
        let subscriber = self
            .session
            .declare_subscriber(self.key(&["ps", name]))
            .callback(move |sample| {
                let refused = |why: &dyn std::fmt::Display| {
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    let now = started.elapsed().as_nanos() as u64;
                    let last = counters.last_log.load(Ordering::Relaxed);
                    if now.saturating_sub(last) >= 1_000_000_000
                        && counters
                            .last_log
                            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                            .is_ok()
                    {
                        tracing::warn!(service = %service_name, reason = %why, "a sample from the network was refused");
                    }
                };
                let header = match sample.attachment().map(|a| SampleHeader::decode(&a.to_bytes())) {
                    Some(Ok(h)) => h,
                    Some(Err(e)) => return refused(&e),
                    None => return refused(&"no header"),
                };
                if header.layout_hash != layout_hash {
                    return refused(&format_args!(
                        "layout hash {:#x}, the service's is {layout_hash:#x}",
                        header.layout_hash
                    ));
                }
                let guard = publisher.lock().unwrap_or_else(|p| p.into_inner());
                // send_bytes checks the size and every value against the descriptor.
                match guard.1.send_bytes(&sample.payload().to_bytes()) {
                    Ok(_) => {
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => refused(&e),
                }
            })
            .wait()
            .map_err(zenoh_error(format!("subscribing to {name}")))?;
        Ok(Import {
            _subscriber: subscriber,
            publisher_id,
        })
    }

    fn shutdown(&mut self) {
        for (_, export) in self.exports.drain() {
            export.stop.store(true, Ordering::Release);
            let _ = export.thread.join();
        }
        self.imports.clear();
    }
}

/// An export's loop: every sample of the local service goes on Zenoh with its header,
/// except the bridge's own proxies'.
fn forward(
    subscriber: &RawSubscriber,
    publisher: &zenoh::pubsub::Publisher<'static>,
    stop: &AtomicBool,
    proxies: &Mutex<HashSet<u64>>,
    counters: &Counters,
    layout_hash: u64,
    name: &str,
) {
    while !stop.load(Ordering::Acquire) {
        let sample = match subscriber.receive_timeout(Duration::from_millis(100)) {
            Ok(Some(sample)) => sample,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(service = %name, %error, "a local sample could not be taken");
                continue;
            }
        };
        if proxies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&sample.publisher_id())
        {
            continue;
        }
        let header = SampleHeader {
            sequence: sample.sequence(),
            timestamp_ns: sample.timestamp_ns().unwrap_or(0),
            layout_hash,
        };
        match publisher
            .put(sample.bytes().to_vec())
            .attachment(header.encode().to_vec())
            .wait()
        {
            Ok(()) => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(service = %name, %error, "a sample could not be put on zenoh")
            }
        }
    }
}
