//! A bridge that carries shmbus services between machines over Zenoh: publish-subscribe
//! and request-response.
//!
//! One bridge runs in each domain (each machine). An *exporting* bridge serves the local
//! services its `export` patterns match; an *importing* bridge creates each remote service
//! its `import` patterns match, from the types the exporter announces. A bridge can do
//! both.
//!
//! - **Publish-subscribe**: the exporter reads each sample in place through a byte-level
//!   subscriber ([`shmbus::port::SharedRawSubscriber`]) and puts it on Zenoh without a
//!   copy; the importer publishes it locally through a proxy
//!   publisher, after checking it against the type (size, every value). The exporter
//!   keeps copies of the last `history` samples it put, and an importer that starts later fetches
//!   them first: late joiners get the history as on one host.
//! - **Request-response**: the importer offers proxy servers locally; each request becomes
//!   a Zenoh query to the exporter, which sends it to the real server through its own
//!   clients; each response comes back as a reply and is checked and sent on, and a final
//!   reply marks the end of the stream. A client that drops its pending response cancels
//!   the query and the request behind it. A real server that dies, or an exporter that
//!   goes away, ends the local request with `ResponseError::ServerGone`, as a local
//!   server's death would. Each side serves [`BridgeConfig::workers`] requests at once.
//!
//! ## Key expressions (`P` is the key prefix, `shmbus` unless configured)
//!
//! | key | what |
//! |-----|------|
//! | `P/ps/<service name>` | the samples: payload = the message's bytes in the fixed layout, attachment = [`wire::SampleHeader`] |
//! | `P/rr/<service name>` | a queryable taking requests (payload and header as samples, the header's sequence = the request's id); replies are responses, the last one flagged [`wire::FLAG_END`] and empty |
//! | `P/cancel/rr/<service name>` | puts of a request's id (8 bytes, little-endian): its client stopped waiting |
//! | `P/about/<ps or rr>/<service name>` | a queryable answering with the service's [`wire::Announcement`] (types and QoS) |
//! | `P/history/ps/<service name>` | a queryable answering the last `history` samples put, oldest first, shaped like samples |
//! | `P/alive/<zenoh id>/<ps or rr>/<service name>` | a liveliness token per exported service, gone when the exporter stops or dies |
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
//! What it exports, imports and refused (and why) it notes on its node
//! ([`shmbus::Node::set_notes`]), for `shmbus list` and `shmbus inspect`.
//!
//! ## Zenoh's transmit threads
//!
//! Once Zenoh has a link, the bridge makes Zenoh's transmit threads (named `tx-N`) batch
//! threads (`SCHED_BATCH`): they keep their fair share of the CPU, but waking one no
//! longer preempts the thread that woke it. An export thread hands Zenoh a 64 KiB sample
//! in two fragments; where the transmit thread shares its core, it used to preempt the
//! export thread at each fragment and send the first before the second was ready, which
//! cost about 1.3x plain Zenoh's latency (benchmarks/README.md, bridge). Zenoh's runtimes
//! belong to the whole process, so this also applies to sessions that a program embedding
//! the bridge opens itself; for a program that puts and then waits on a Zenoh receive,
//! the benchmark measured more latency and more throughput with it.

mod pubsub;
mod rr;
pub mod wire;

use shmbus::sync::atomic::AtomicU64;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shmbus::node::NodeNote;
use shmbus::service::{Pattern, PortRole, ServiceQos};
use shmbus::{Config, Node, NodeId, Service};
use zenoh::Wait;
use zenoh::sample::SampleKind;

pub use shmbus::service::ServicePattern;

use crate::wire::Announcement;

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
    /// Requests served at once per request-response service, on each side (each one a
    /// client port at the exporter and a server port at the importer).
    pub workers: usize,
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
            workers: 4,
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
    /// One service cannot be exported or imported (the others can).
    #[error("{service}: {problem}")]
    Service {
        /// The service.
        service: String,
        /// Why, first line first (a type mismatch names the first field that differs).
        problem: String,
    },
    /// The local node could not be made.
    #[error(transparent)]
    Node(#[from] shmbus::node::NodeCreateError),
    /// The local domain could not be looked at.
    #[error(transparent)]
    Discovery(#[from] shmbus::service::DiscoveryError),
}

impl BridgeError {
    fn service(service: &str, problem: &dyn std::fmt::Display) -> Self {
        Self::Service {
            service: service.to_owned(),
            problem: problem.to_string(),
        }
    }
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
pub(crate) struct Counters {
    sent: AtomicU64,
    delivered: AtomicU64,
    refused: AtomicU64,
    /// When a refusal was last logged (ns since the bridge started), for the rate limit.
    last_log: AtomicU64,
}

impl Counters {
    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts bytes from the network that were refused, and logs why at most once a
    /// second per service.
    pub(crate) fn refused(&self, service: &str, started: Instant, why: &dyn std::fmt::Display) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let last = self.last_log.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1_000_000_000
            && self
                .last_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(service, reason = %why, "bytes from the network were refused");
        }
    }
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
            notes: BTreeMap::new(),
            transmit_batched: false,
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

/// The two patterns, as key chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    PublishSubscribe,
    RequestResponse,
}

impl Kind {
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Kind::PublishSubscribe => "ps",
            Kind::RequestResponse => "rr",
        }
    }

    fn of_tag(tag: &str) -> Option<Self> {
        match tag {
            "ps" => Some(Kind::PublishSubscribe),
            "rr" => Some(Kind::RequestResponse),
            _ => None,
        }
    }
}

/// What a bridge keeps running for one service: threads, Zenoh declarations, local ports.
/// Dropping it stops the threads and undeclares everything.
pub(crate) struct Link {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) threads: Vec<std::thread::JoinHandle<()>>,
    /// Zenoh declarations and shmbus handles kept alive with the link.
    pub(crate) held: Vec<Box<dyn std::any::Any + Send>>,
    /// Ids of the proxy publishers it made (never exported).
    pub(crate) proxies: Vec<u64>,
}

impl Link {
    fn finished(&self) -> bool {
        self.threads.iter().any(|t| t.is_finished())
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        // Then the declarations and handles, in their order.
        self.held.clear();
    }
}

/// What the pattern modules need of the bridge.
pub(crate) struct Ctx<'a> {
    pub(crate) node: &'a Node,
    pub(crate) session: &'a zenoh::Session,
    pub(crate) prefix: &'a str,
    pub(crate) proxies: &'a Arc<Mutex<HashSet<u64>>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) started: Instant,
    pub(crate) workers: usize,
}

impl Ctx<'_> {
    /// `P/<parts...>`.
    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.to_owned();
        for p in parts {
            key.push('/');
            key.push_str(p);
        }
        key
    }

    /// Declares the announcement queryable and the liveliness token of an exported
    /// service: the queryable first, so that an importer reacting to the token finds it.
    pub(crate) fn announce(
        &self,
        kind: Kind,
        name: &str,
        announcement: &Announcement,
    ) -> Result<Vec<Box<dyn std::any::Any + Send>>, BridgeError> {
        let bytes = announcement
            .encode()
            .map_err(|e| BridgeError::service(name, &e))?;
        let about = self
            .session
            .declare_queryable(self.key(&["about", kind.tag(), name]))
            .callback(move |query| {
                let key = query.key_expr().clone();
                if let Err(error) = query.reply(key, bytes.clone()).wait() {
                    tracing::debug!(%error, "an announcement reply failed");
                }
            })
            .wait()
            .map_err(zenoh_error(format!("declaring {name}'s announcement")))?;
        let zid = self.session.zid().to_string();
        let token = self
            .session
            .liveliness()
            .declare_token(self.key(&["alive", &zid, kind.tag(), name]))
            .wait()
            .map_err(zenoh_error(format!("declaring {name}'s liveliness token")))?;
        Ok(vec![Box::new(about), Box::new(token)])
    }
}

enum RemoteEvent {
    Appeared(Kind, String),
    Gone(Kind, String),
}

struct State {
    node: Node,
    session: zenoh::Session,
    config: BridgeConfig,
    exports: HashMap<(Kind, String), Link>,
    imports: HashMap<(Kind, String), Link>,
    /// Ids of this bridge's proxy publishers: samples from them are never exported.
    proxy_ports: Arc<Mutex<HashSet<u64>>>,
    counters: Arc<Mutex<HashMap<String, Arc<Counters>>>>,
    started: Instant,
    /// What the bridge says about each service it exports, imports or refused, shown by
    /// `shmbus list` and `shmbus inspect` (the node's notes).
    notes: BTreeMap<(&'static str, String), String>,
    /// Whether Zenoh's transmit threads are batch threads yet (they start with the first
    /// link).
    transmit_batched: bool,
}

impl State {
    /// Sets (or with `None` forgets) what the bridge says about service `name`, and
    /// rewrites the node's notes if that changed anything.
    fn note(&mut self, kind: Kind, name: &str, text: Option<String>) {
        let key = (kind.tag(), name.to_owned());
        let changed = match text {
            Some(text) => {
                self.notes.get(&key) != Some(&text) && {
                    self.notes.insert(key, text);
                    true
                }
            }
            None => self.notes.remove(&key).is_some(),
        };
        if !changed {
            return;
        }
        let notes: Vec<NodeNote> = self
            .notes
            .iter()
            .map(|((_, service), text)| NodeNote {
                service: service.clone(),
                text: text.clone(),
            })
            .collect();
        if let Err(error) = self.node.set_notes(&notes) {
            tracing::warn!(%error, "cannot note what the bridge does for shmbus list");
        }
    }

    fn ctx(&self, service: &str) -> Ctx<'_> {
        let counters = {
            let mut all = self.counters.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(all.entry(service.to_owned()).or_default())
        };
        Ctx {
            node: &self.node,
            session: &self.session,
            prefix: &self.config.key_prefix,
            proxies: &self.proxy_ports,
            counters,
            started: self.started,
            workers: self.config.workers.max(1),
        }
    }

    /// Follows the remote exporters' liveliness tokens (also those alive already).
    fn watch_remote(
        &self,
        events: Sender<RemoteEvent>,
    ) -> Result<Option<zenoh::pubsub::Subscriber<()>>, BridgeError> {
        if self.config.import.is_empty() {
            return Ok(None);
        }
        let alive = format!("{}/alive", self.config.key_prefix);
        let own = self.session.zid().to_string();
        let events = Mutex::new(events);
        let subscriber = self
            .session
            .liveliness()
            .declare_subscriber(format!("{alive}/**"))
            .history(true)
            .callback(move |sample| {
                // <alive>/<zid>/<ps|rr>/<name>
                let key = sample.key_expr().as_str();
                let Some(rest) = key.strip_prefix(&alive).and_then(|r| r.strip_prefix('/')) else {
                    return;
                };
                let mut parts = rest.splitn(3, '/');
                let (Some(zid), Some(tag), Some(name)) = (parts.next(), parts.next(), parts.next())
                else {
                    return;
                };
                let Some(kind) = Kind::of_tag(tag) else {
                    return;
                };
                if zid == own {
                    return;
                }
                let event = match sample.kind() {
                    SampleKind::Put => RemoteEvent::Appeared(kind, name.to_owned()),
                    SampleKind::Delete => RemoteEvent::Gone(kind, name.to_owned()),
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
                self.batch_transmit_threads();
                self.discover_exports()?;
                let mut ended = Vec::new();
                self.exports.retain(|(kind, name), link| {
                    let keep = !link.finished();
                    if !keep {
                        tracing::info!(service = %name, "export ended");
                        ended.push((*kind, name.clone()));
                    }
                    keep
                });
                for (kind, name) in ended {
                    self.note(kind, &name, None);
                }
                next_discovery = Instant::now() + self.config.discovery_interval;
            }
            match incoming.recv_timeout(Duration::from_millis(50)) {
                Ok(RemoteEvent::Appeared(kind, name)) => {
                    // A remote bridge: there is a link, so its transmit thread.
                    self.batch_transmit_threads();
                    self.import(kind, &name);
                }
                Ok(RemoteEvent::Gone(kind, name)) => {
                    self.note(kind, &name, None);
                    if let Some(link) = self.imports.remove(&(kind, name.clone())) {
                        tracing::info!(service = %name, "the remote exporter is gone: proxy removed");
                        let mut proxies =
                            self.proxy_ports.lock().unwrap_or_else(|p| p.into_inner());
                        for id in &link.proxies {
                            proxies.remove(id);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Nothing is imported, so nobody sends events: wait for the next look at
                // the local services instead (without this the loop would spin).
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(
                    next_discovery
                        .saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(50)),
                ),
            }
        }
        Ok(())
    }

    /// Makes Zenoh's transmit threads batch threads once they exist (see the crate's
    /// documentation, "Zenoh's transmit threads"). Their name is zenoh-runtime's (`tx-N`,
    /// zenoh 1.10); `idle_bridges_sleep` in `tests/bridge.rs` fails if that changes.
    fn batch_transmit_threads(&mut self) {
        if self.transmit_batched {
            return;
        }
        let transmit = |name: &str| {
            name.strip_prefix("tx-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        match shmbus::os::thread::batch_threads(transmit) {
            Ok(0) => {}
            Ok(count) => {
                tracing::debug!(count, "Zenoh's transmit threads are batch threads");
                self.transmit_batched = true;
            }
            Err(error) => {
                // Only slower where the transmit thread shares a core; not asked again.
                tracing::warn!(%error, "Zenoh's transmit threads keep their policy");
                self.transmit_batched = true;
            }
        }
    }

    /// Exports every local service the patterns match that has a publisher (or server)
    /// of a node other than a bridge.
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
            let (kind, source) = match info.pattern {
                Pattern::PublishSubscribe => (Kind::PublishSubscribe, PortRole::Publisher),
                Pattern::RequestResponse => (Kind::RequestResponse, PortRole::Server),
            };
            if self.exports.contains_key(&(kind, name.clone()))
                || !self.config.export.iter().any(|p| p.matches(&name))
            {
                continue;
            }
            let real = info
                .ports
                .iter()
                .any(|p| p.role == source && !bridges.contains(&p.node));
            if !real {
                continue;
            }
            let ctx = self.ctx(&name);
            let exported = match info.qos {
                ServiceQos::PublishSubscribe(qos) => pubsub::export(&ctx, &name, &qos),
                ServiceQos::RequestResponse(_) => rr::export(&ctx, &name),
            };
            let key = ctx.key(&[kind.tag(), &name]);
            match exported {
                Ok(link) => {
                    tracing::info!(service = %name, pattern = kind.tag(), "exported");
                    self.note(kind, &name, Some(format!("exported over Zenoh as {key}")));
                    self.exports.insert((kind, name), link);
                }
                Err(error) => {
                    tracing::warn!(service = %name, %error, "cannot export");
                    self.note(
                        kind,
                        &name,
                        Some(format!("not exported: {}", first_line(&error))),
                    );
                }
            }
        }
        Ok(())
    }

    /// Makes a local proxy of remote service `name`, from its announcement.
    fn import(&mut self, kind: Kind, name: &str) {
        if self.imports.contains_key(&(kind, name.to_owned()))
            || !self.config.import.iter().any(|p| p.matches(name))
        {
            return;
        }
        let ctx = self.ctx(name);
        let made = fetch_announcement(&ctx, kind, name).and_then(|a| match a {
            Announcement::PublishSubscribe { .. } if kind == Kind::PublishSubscribe => {
                pubsub::import(&ctx, name, a)
            }
            Announcement::RequestResponse { .. } if kind == Kind::RequestResponse => {
                rr::import(&ctx, name, a)
            }
            _ => Err(BridgeError::service(
                name,
                &"the announcement is of another pattern",
            )),
        });
        let key = ctx.key(&[kind.tag(), name]);
        let proxy = match kind {
            Kind::PublishSubscribe => "publisher",
            Kind::RequestResponse => "server",
        };
        match made {
            Ok(link) => {
                tracing::info!(service = %name, pattern = kind.tag(), "imported");
                self.note(
                    kind,
                    name,
                    Some(format!(
                        "imported over Zenoh from {key}: this bridge's {proxy} stands for the remote one"
                    )),
                );
                self.proxy_ports
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(link.proxies.iter().copied());
                self.imports.insert((kind, name.to_owned()), link);
            }
            Err(error) => {
                tracing::warn!(service = %name, %error, "cannot import");
                self.note(
                    kind,
                    name,
                    Some(format!("not imported: {}", first_line(&error))),
                );
            }
        }
    }

    fn shutdown(&mut self) {
        self.exports.clear();
        self.imports.clear();
    }
}

/// The first line of an error's text: what a note shows (`shmbus inspect` shows the rest).
fn first_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Asks the exporter of `name` for its announcement.
fn fetch_announcement(ctx: &Ctx<'_>, kind: Kind, name: &str) -> Result<Announcement, BridgeError> {
    let replies = ctx
        .session
        .get(ctx.key(&["about", kind.tag(), name]))
        .timeout(Duration::from_secs(5))
        .wait()
        .map_err(zenoh_error(format!("asking for {name}'s types")))?;
    let mut problem = "no exporter answered".to_owned();
    while let Ok(reply) = replies.recv() {
        if let Ok(sample) = reply.result() {
            match Announcement::decode(&sample.payload().to_bytes()) {
                Ok(a) => return Ok(a),
                Err(e) => problem = e.to_string(),
            }
        }
    }
    Err(BridgeError::service(name, &problem))
}

/// Opens the local service `open` finds, or creates it with `create`; one made by
/// somebody else in between is opened.
pub(crate) fn open_or_create<S>(
    name: &str,
    open: impl Fn() -> Result<S, shmbus::service::ServiceOpenError>,
    create: impl Fn() -> Result<S, shmbus::service::ServiceCreateError>,
) -> Result<S, BridgeError> {
    let fail = |e: &dyn std::fmt::Display| BridgeError::service(name, e);
    match open() {
        Ok(s) => Ok(s),
        Err(shmbus::service::ServiceOpenError::NotFound { .. }) => match create() {
            Ok(s) => Ok(s),
            Err(shmbus::service::ServiceCreateError::AlreadyExists { .. }) => {
                open().map_err(|e| fail(&e))
            }
            Err(e) => Err(fail(&e)),
        },
        // A local service of another type: refused, with the field that differs.
        Err(e) => Err(fail(&e)),
    }
}
