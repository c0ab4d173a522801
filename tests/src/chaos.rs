//! The kill test: processes of every role, killed with SIGKILL at random moments, while a
//! sentinel (this process) keeps exchanging verified data and checks the invariants.
//!
//! Run by hand: `cargo run --release -p shmbus-tests --bin kill-test -- --seed 7
//! --duration 600`; CI runs it for about a minute (`tests/kill.rs`).
//!
//! A round: keep `workers` child processes (`chaos-child`) running, each with a random role
//! on a random service — publisher, subscriber, client, server, cleaner, a process that
//! creates and removes a service over and over, and one that exits without dropping its
//! ports — and every few milliseconds kill a random one with SIGKILL: during service
//! creation, mid-loan, mid-send, while holding samples or requests, mid-cleanup. After each
//! kill the sentinel opens the victim's service (timing how long until that succeeds) and
//! every so often runs a cleanup. Every `checkpoint_every` kills it kills all workers,
//! cleans up once and checks: its own pools are full again (no chunk held by the dead),
//! exactly its own objects remain, and its data was correct all along. At the end, after a
//! final cleanup, the domain must have no object or file left.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shmbus::port::{RequestSendError, ResponseError};
use shmbus::service::{PubSubServiceBuilder, RequestResponseServiceBuilder};
use shmbus::{Node, PubSubService, RequestResponseService, Service};

use crate::{Answer, Ask, Counted, Setup, checksum, leftovers};

/// The publish-subscribe services of the test.
pub const PS_SERVICES: [&str; 2] = ["chaos/ps0", "chaos/ps1"];
/// The request-response services of the test.
pub const RR_SERVICES: [&str; 2] = ["chaos/rr0", "chaos/rr1"];
/// The service that `churn` workers create and remove over and over.
pub const CHURN_SERVICE: &str = "chaos/churn";

/// Every opener of a chaos pub-sub service uses these QoS (so opens never mismatch).
pub fn ps_builder(node: &Node, name: &str) -> PubSubServiceBuilder<Counted> {
    Service::publish_subscribe::<Counted>(node, name)
        .max_publishers(8)
        .max_subscribers(16)
        .max_nodes(64)
        .subscriber_buffer(8)
        .max_borrowed(2)
        .lock_timeout(Duration::from_secs(30))
}

/// Every opener of a chaos request-response service uses these QoS.
pub fn rr_builder(node: &Node, name: &str) -> RequestResponseServiceBuilder<Ask, Answer> {
    Service::request_response::<Ask, Answer>(node, name)
        .max_clients(16)
        .max_servers(8)
        .max_nodes(64)
        .response_buffer(8)
        .lock_timeout(Duration::from_secs(30))
}

/// The roles a worker can have.
pub const ROLES: [&str; 7] = [
    "publisher",
    "subscriber",
    "client",
    "server",
    "cleaner",
    "churn",
    "exit",
];

/// A small deterministic generator (xorshift64*), so a seed replays the same choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Seed of every random choice (the workers get seeds derived from it).
    pub seed: u64,
    /// How long to keep killing.
    pub duration: Duration,
    /// Workers alive at once.
    pub workers: usize,
    /// Kills between two full checkpoints.
    pub checkpoint_every: u64,
    /// The `chaos-child` executable.
    pub child_exe: PathBuf,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    /// Workers killed with SIGKILL.
    pub kills: u64,
    /// Workers started.
    pub spawned: u64,
    /// Cleanups the sentinel ran (workers of role `cleaner` run more).
    pub cleanups: u64,
    /// Checkpoints whose invariants were checked.
    pub checkpoints: u64,
    /// Individual invariant checks made (pool counts, object sets, data).
    pub checks: u64,
    /// Samples the sentinel received and verified.
    pub samples_verified: u64,
    /// Calls the sentinel made that were answered and verified.
    pub calls_verified: u64,
    /// The longest time from a kill until the sentinel's next successful open of the
    /// victim's service.
    pub max_reopen: Duration,
    /// Objects or files of the domain left after the final cleanup (must be 0).
    pub leaked: Vec<String>,
    /// Violated invariants (must be empty).
    pub failures: Vec<String>,
}

impl ChaosReport {
    /// Whether every invariant held and nothing leaked.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.leaked.is_empty()
    }
}

impl std::fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "kills {}, workers started {}, sentinel cleanups {}, checkpoints {}, invariant checks {}",
            self.kills, self.spawned, self.cleanups, self.checkpoints, self.checks
        )?;
        writeln!(
            f,
            "samples verified {}, calls verified {}, longest kill -> successful open {:.1?}",
            self.samples_verified, self.calls_verified, self.max_reopen
        )?;
        write!(
            f,
            "leaked objects {}, failures {}",
            self.leaked.len(),
            self.failures.len()
        )?;
        for failure in &self.failures {
            write!(f, "\n  failure: {failure}")?;
        }
        for leak in &self.leaked {
            write!(f, "\n  leaked: {leak}")?;
        }
        Ok(())
    }
}

struct Worker {
    child: Child,
    role: &'static str,
    service: String,
}

/// The sentinel's own ports: it must be able to use them across every kill.
struct Sentinel {
    node: Node,
    ps: Vec<(
        PubSubService<Counted>,
        shmbus::Publisher<Counted>,
        shmbus::Subscriber<Counted>,
    )>,
    rr: Vec<(
        RequestResponseService<Ask, Answer>,
        shmbus::Client<Ask, Answer>,
    )>,
    seq: u64,
    totals: Vec<u32>,
}

impl Sentinel {
    fn new(node: Node) -> Result<Self, String> {
        let mut ps = Vec::new();
        let mut totals = Vec::new();
        for name in PS_SERVICES {
            let service = ps_builder(&node, name)
                .open_or_create()
                .map_err(|e| e.to_string())?;
            let publisher = service.publisher().create().map_err(|e| e.to_string())?;
            let subscriber = service.subscriber().create().map_err(|e| e.to_string())?;
            totals.push(publisher.free_chunks());
            ps.push((service, publisher, subscriber));
        }
        let mut rr = Vec::new();
        for name in RR_SERVICES {
            let service = rr_builder(&node, name)
                .open_or_create()
                .map_err(|e| e.to_string())?;
            let client = service.client().create().map_err(|e| e.to_string())?;
            totals.push(client.free_chunks());
            rr.push((service, client));
        }
        Ok(Self {
            node,
            ps,
            rr,
            seq: 0,
            totals,
        })
    }

    /// Publishes one sample per service, receives and verifies what is waiting, and
    /// makes one short call per service.
    fn exchange(&mut self, report: &mut ChaosReport, rng: &mut Rng) {
        for (_, publisher, subscriber) in &self.ps {
            self.seq += 1;
            let _ = publisher.send_copy(&Counted {
                seq: self.seq,
                checksum: checksum(self.seq),
            });
            loop {
                match subscriber.receive() {
                    Ok(Some(sample)) => {
                        if sample.checksum != checksum(sample.seq) {
                            report
                                .failures
                                .push(format!("corrupt sample {:?}", *sample));
                        }
                        report.samples_verified += 1;
                    }
                    Ok(None) => break,
                    Err(error) => {
                        report
                            .failures
                            .push(format!("sentinel receive failed: {error}"));
                        break;
                    }
                }
            }
        }
        for (_, client) in &self.rr {
            let ask = Ask {
                client: 0,
                seq: rng.next_u64() >> 8,
                stream: rng.below(3),
            };
            let pending = match client.send_copy(&ask) {
                Ok(p) => p,
                Err(RequestSendError::NoServer) => continue,
                Err(error) => {
                    report
                        .failures
                        .push(format!("sentinel request failed: {error}"));
                    continue;
                }
            };
            let mut index = 0;
            loop {
                match pending.receive_timeout(Duration::from_millis(200)) {
                    Ok(Some(answer)) => {
                        if *answer != Answer::to(&ask, index) {
                            report
                                .failures
                                .push(format!("wrong answer {:?} to {ask:?}", *answer));
                        }
                        index += 1;
                    }
                    // Finished, or slow: both fine; a dead server is fine too.
                    Ok(None) | Err(ResponseError::ServerGone) => break,
                    Err(error) => {
                        report
                            .failures
                            .push(format!("sentinel response failed: {error}"));
                        break;
                    }
                }
            }
            if index > 0 {
                report.calls_verified += 1;
            }
        }
    }

    /// With every worker dead and cleaned up: pools full, exactly our objects left.
    fn check(&mut self, report: &mut ChaosReport) {
        let mut free = Vec::new();
        for (_, publisher, subscriber) in &self.ps {
            while let Ok(Some(_)) = subscriber.receive() {}
            publisher.update_connections();
            free.push(publisher.free_chunks());
        }
        for (_, client) in &self.rr {
            free.push(client.free_chunks());
        }
        for (i, (got, total)) in free.iter().zip(&self.totals).enumerate() {
            report.checks += 1;
            if got != total {
                report.failures.push(format!(
                    "checkpoint {}: pool {i} has {got} of {total} chunks free after every worker died",
                    report.checkpoints
                ));
            }
        }
        // Our objects: each service, each of our publishers' and clients' segments.
        let expected = PS_SERVICES.len() * 2 + RR_SERVICES.len() * 2;
        let objects: BTreeSet<String> = leftovers(self.node.config())
            .into_iter()
            .filter(|n| n.starts_with(&self.node.config().shm_prefix()))
            .collect();
        report.checks += 1;
        if objects.len() != expected {
            report.failures.push(format!(
                "checkpoint {}: {} objects instead of our {expected}: {objects:?}",
                report.checkpoints,
                objects.len()
            ));
        }
        report.checkpoints += 1;
    }
}

fn spawn(cfg: &ChaosConfig, setup: &Setup, rng: &mut Rng) -> Option<Worker> {
    let role = ROLES[rng.below(ROLES.len() as u64) as usize];
    let service = match role {
        "publisher" | "subscriber" => PS_SERVICES[rng.below(2) as usize],
        "client" | "server" => RR_SERVICES[rng.below(2) as usize],
        "exit" => {
            if rng.below(2) == 0 {
                PS_SERVICES[rng.below(2) as usize]
            } else {
                RR_SERVICES[rng.below(2) as usize]
            }
        }
        _ => CHURN_SERVICE,
    };
    let seed = rng.next_u64().to_string();
    let root = setup.root.to_str()?;
    let child = Command::new(&cfg.child_exe)
        .args([role, &setup.domain, root, service, &seed])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    Some(Worker {
        child,
        role,
        service: service.to_owned(),
    })
}

/// Collects a worker that ended by itself: only `exit` workers may, and only with success.
fn reap_finished(workers: &mut Vec<Worker>, report: &mut ChaosReport) {
    workers.retain_mut(|w| match w.child.try_wait() {
        Ok(Some(status)) => {
            if !(w.role == "exit" && status.success()) {
                let mut said = String::new();
                if let Some(mut err) = w.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut err, &mut said);
                }
                report.failures.push(format!(
                    "a {} worker on {} ended by itself ({status}): {}",
                    w.role,
                    w.service,
                    said.trim()
                ));
            }
            false
        }
        _ => true,
    });
}

fn kill(mut worker: Worker) {
    let _ = worker.child.kill();
    let _ = worker.child.wait();
}

/// Opens `service` from the sentinel's node until that succeeds; returns how long it took.
fn reopen(node: &Node, service: &str) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let opened = if service.contains("/rr") {
            rr_builder(node, service).open_or_create().map(drop)
        } else if service == CHURN_SERVICE {
            return Ok(Duration::ZERO);
        } else {
            ps_builder(node, service).open_or_create().map(drop)
        };
        match opened {
            Ok(()) => return Ok(start.elapsed()),
            Err(error) if start.elapsed() > Duration::from_secs(60) => {
                return Err(format!(
                    "no successful open of {service} within 60 s: {error}"
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// Runs the kill test (see the module docs).
pub fn run(cfg: &ChaosConfig) -> ChaosReport {
    let mut report = ChaosReport::default();
    let mut rng = Rng::new(cfg.seed);
    let setup = Setup::new("chaos", &format!("s{}", cfg.seed));
    let node = match Node::builder()
        .name("sentinel")
        .config(setup.config.clone())
        .create()
    {
        Ok(node) => node,
        Err(error) => {
            report.failures.push(format!("sentinel node: {error}"));
            return report;
        }
    };
    let mut sentinel = match Sentinel::new(node) {
        Ok(s) => s,
        Err(error) => {
            report.failures.push(format!("sentinel ports: {error}"));
            return report;
        }
    };
    let mut workers: Vec<Worker> = Vec::new();
    let start = Instant::now();
    while start.elapsed() < cfg.duration && report.failures.len() < 10 {
        reap_finished(&mut workers, &mut report);
        while workers.len() < cfg.workers {
            match spawn(cfg, &setup, &mut rng) {
                Some(worker) => {
                    report.spawned += 1;
                    workers.push(worker);
                }
                None => {
                    report.failures.push("cannot start a worker".into());
                    break;
                }
            }
        }
        // Let them run for a random while (0 to 20 ms), exchanging data meanwhile.
        let pause = Duration::from_micros(rng.below(20_000));
        let until = Instant::now() + pause;
        while Instant::now() < until {
            sentinel.exchange(&mut report, &mut rng);
        }
        if workers.is_empty() {
            continue;
        }
        let victim = workers.swap_remove(rng.below(workers.len() as u64) as usize);
        let service = victim.service.clone();
        kill(victim);
        report.kills += 1;
        match reopen(&sentinel.node, &service) {
            Ok(took) => report.max_reopen = report.max_reopen.max(took),
            Err(failure) => report.failures.push(failure),
        }
        if report.kills.is_multiple_of(10) {
            match sentinel.node.cleanup_dead_nodes() {
                Ok(_) => report.cleanups += 1,
                Err(error) => report.failures.push(format!("cleanup failed: {error}")),
            }
        }
        if report.kills.is_multiple_of(cfg.checkpoint_every) {
            checkpoint(&mut sentinel, &mut workers, &mut report);
        }
    }
    checkpoint(&mut sentinel, &mut workers, &mut report);
    let config = sentinel.node.config().clone();
    drop(sentinel);
    // A fresh participant cleans up after everything, then leaves.
    match Node::builder()
        .name("final")
        .config(config.clone())
        .create()
    {
        Ok(last) => {
            if let Err(error) = last.cleanup_dead_nodes() {
                report
                    .failures
                    .push(format!("final cleanup failed: {error}"));
            }
            report.cleanups += 1;
        }
        Err(error) => report.failures.push(format!("final node: {error}")),
    }
    report.leaked = leftovers(&config);
    report.leaked.extend(files_under(&setup.root));
    report
}

fn checkpoint(sentinel: &mut Sentinel, workers: &mut Vec<Worker>, report: &mut ChaosReport) {
    reap_finished(workers, report);
    for worker in workers.drain(..) {
        kill(worker);
        report.kills += 1;
    }
    match sentinel.node.cleanup_dead_nodes() {
        Ok(_) => report.cleanups += 1,
        Err(error) => report
            .failures
            .push(format!("checkpoint cleanup failed: {error}")),
    }
    sentinel.check(report);
}

fn files_under(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            found.push(path.display().to_string());
        }
    }
    found
}
