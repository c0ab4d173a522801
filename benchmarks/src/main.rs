//! `shmbus-benchmarks`: shmbus side by side with iceoryx2, Unix domain sockets, pipes and
//! the machine's floors, measured in one run. See benchmarks/README.md.

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use iceoryx2::prelude::*;
use shmbus::{Config, Node as ShmNode, Service as ShmService};

use shmbus_benchmarks::asynchronous::{self, Flavor};
use shmbus_benchmarks::bridge::{
    self, ping_shmbus, pong_shmbus, tput_receive_shmbus, tput_send_shmbus,
};
use shmbus_benchmarks::links::{Error, Floor, Link, Setup, Stream, Wait};
use shmbus_benchmarks::msg::{self, Msg, SIZES};
use shmbus_benchmarks::raw::{self, Region};
use shmbus_benchmarks::record;
use shmbus_benchmarks::stats::{self, Report, Row, size_name, summarize};
use shmbus_benchmarks::tput::{self, Mode};
use shmbus_benchmarks::{links, plot, with_msg};

#[derive(Parser)]
#[command(about = "shmbus side by side with iceoryx2, Unix sockets, pipes and the floors")]
struct Cli {
    #[command(subcommand)]
    command: Command_,
}

#[derive(Subcommand)]
enum Command_ {
    /// Pub-sub ping-pong, busy-polling: one-way latency, 8 B to 16 MiB.
    Latency(Opts),
    /// Pub-sub with blocking receive: wake-up latency (8 B).
    Wakeup(Opts),
    /// Request-response round trip, 8 B and 1 MiB.
    Rpc(Opts),
    /// Messages per second, 8 B and 64 KiB, lossless and with overwrite.
    Throughput(Opts),
    /// One publisher to 1, 2, 4, 8 subscribers (8 B): latency to the last one.
    Fanout(Opts),
    /// Shared memory and descriptors of 100 services with 1 publisher and 3 subscribers.
    Footprint(Opts),
    /// Creating and opening 1,000 services; cleaning up after 100 dead nodes.
    Scale(Opts),
    /// `shmbus record` keeping up with 8 B at 100 kHz and 1 MiB at 1 kHz for 10 s.
    Record(Opts),
    /// Wake-up latency of async subscribers (tokio) against blocking receives.
    Async(Opts),
    /// One-way latency through two Zenoh bridges, against plain Zenoh.
    Bridge(Opts),
    /// Every scenario above, in turn.
    All(Opts),
    /// Redraws the plots from the CSV files of the last run.
    Plot(Opts),
    /// The peer process (started by the benchmark itself).
    #[command(hide = true)]
    Peer(PeerArgs),
}

#[derive(Args, Clone)]
struct Opts {
    /// Measured rounds (after one warm-up round); transports alternate within a round.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Multiplies the messages per measurement (and the throughput window).
    #[arg(long, default_value_t = 1.0)]
    work: f64,
    /// Where the CSV files and plots go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    out: PathBuf,
    /// Only these transports (comma-separated: shmbus, iceoryx2, unix-socket, pipe,
    /// floor; in the bridge scenario shmbus, zenoh) in the ping-pong scenarios; for quick
    /// comparisons while working on one.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only these payload sizes in bytes (comma-separated) in the ping-pong scenarios.
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<usize>,
}

#[derive(Args, Clone, Debug)]
struct PeerArgs {
    kind: String,
    transport: String,
    size: usize,
    subscribers: usize,
    tag: String,
    domain: String,
    iox_prefix: String,
    duration_ms: u64,
    /// Messages per second (the record scenario's publisher).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// A new pseudo-random body in every message (the record scenario's publisher).
    #[arg(long)]
    random: bool,
    /// The TCP port to connect to on 127.0.0.1 (the bridge scenario's peer).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

/// The transports, and what the tables call them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Shmbus,
    Iceoryx2,
    Uds,
    Pipe,
    Floor,
}

impl Transport {
    fn arg(self) -> &'static str {
        match self {
            Transport::Shmbus => "shmbus",
            Transport::Iceoryx2 => "iceoryx2",
            Transport::Uds => "unix-socket",
            Transport::Pipe => "pipe",
            Transport::Floor => "floor",
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        [
            Self::Shmbus,
            Self::Iceoryx2,
            Self::Uds,
            Self::Pipe,
            Self::Floor,
        ]
        .into_iter()
        .find(|t| t.arg() == s)
        .ok_or_else(|| format!("unknown transport {s}").into())
    }

    fn label(self, wait: Wait) -> &'static str {
        match (self, wait) {
            (Transport::Floor, Wait::Spin) => "cache-line floor",
            (Transport::Floor, Wait::Block) => "futex floor",
            (t, _) => t.arg(),
        }
    }
}

const ALL: [Transport; 5] = [
    Transport::Shmbus,
    Transport::Iceoryx2,
    Transport::Uds,
    Transport::Pipe,
    Transport::Floor,
];

/// What the benchmark process holds for the whole run.
struct Ctx {
    domain: String,
    iox_prefix: String,
    shm_node: ShmNode,
    iox_node: iceoryx2::node::Node<ipc::Service>,
    counter: Cell<u32>,
}

impl Ctx {
    fn next_tag(&self, kind: &str) -> String {
        let n = self.counter.get();
        self.counter.set(n + 1);
        format!("{kind}-{n}")
    }

    fn config(domain: &str) -> Result<Config, Error> {
        Ok(Config::default().with_domain(domain)?)
    }

    fn shm_prefix(&self) -> Result<String, Error> {
        Ok(Self::config(&self.domain)?.shm_prefix())
    }

    // Every argument is one of the peer's command-line arguments.
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &self,
        kind: &str,
        t: Transport,
        size: usize,
        subscribers: usize,
        tag: &str,
        duration: Duration,
        piped: bool,
    ) -> Result<Child, Error> {
        let stdio = || if piped { Stdio::piped() } else { Stdio::null() };
        Ok(Command::new(std::env::current_exe()?)
            .args([
                "peer",
                kind,
                t.arg(),
                &size.to_string(),
                &subscribers.to_string(),
                tag,
            ])
            .args([
                &self.domain,
                &self.iox_prefix,
                &duration.as_millis().to_string(),
            ])
            .stdin(stdio())
            .stdout(stdio())
            .spawn()?)
    }
}

fn socket_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("shmbus-bench-{}-{tag}.sock", std::process::id()))
}

fn floor_name(prefix: &str, tag: &str) -> String {
    format!("/{prefix}floor-{tag}")
}

/// Waits for the peer after a measurement that succeeded; kills it after one that failed
/// (it may wait for a message that never comes).
fn finish_after<T>(mut child: Child, measured: Result<T, Error>) -> Result<T, Error> {
    match measured {
        Ok(value) => {
            finish(child)?;
            Ok(value)
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

fn finish(mut child: Child) -> Result<(), Error> {
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("the peer process failed: {status}").into());
    }
    Ok(())
}

/// Messages per ping-pong measurement: fewer for the sizes that sockets and pipes copy
/// slowly, the same for every transport.
fn iterations(size: usize, work: f64) -> usize {
    let base = match size {
        s if s <= 1024 => 5_000,
        s if s <= 64 << 10 => 2_000,
        s if s <= 1 << 20 => 300,
        _ => 40,
    };
    ((base as f64 * work) as usize).max(10)
}

/// Which side of the scenario a process plays.
fn kind_wait(kind: &str) -> Wait {
    if kind == "block" {
        Wait::Block
    } else {
        Wait::Spin
    }
}

/// One measurement: spawn the peer, build the link, ping `warm + iters` times, return the
/// last `iters` round trips (halved unless `kind` is `rpc`), in ns.
fn ping_pong<M: Msg>(
    ctx: &Ctx,
    kind: &str,
    t: Transport,
    subscribers: usize,
    iters: usize,
) -> Result<Vec<f64>, Error> {
    let size = M::SIZE;
    let tag = ctx.next_tag(kind);
    let setup = Setup {
        tag: tag.clone(),
        subscribers,
        wait: kind_wait(kind),
    };
    let sock = socket_path(&tag);
    let listener = match t {
        Transport::Uds => Some(UnixListener::bind(&sock)?),
        _ => None,
    };
    let region = match t {
        Transport::Floor => Some(Region::create(
            &floor_name(&ctx.shm_prefix()?, &tag),
            links::floor_region_bytes(size),
        )?),
        _ => None,
    };
    let mut child = ctx.spawn(
        kind,
        t,
        size,
        subscribers,
        &tag,
        Duration::ZERO,
        t == Transport::Pipe,
    )?;
    let spin = setup.wait == Wait::Spin;
    let mut link: Box<dyn Link> = match t {
        Transport::Shmbus if kind == "rpc" => {
            Box::new(links::ShmbusClient::<M>::new(&ctx.shm_node, &setup)?)
        }
        Transport::Shmbus => Box::new(links::ShmbusPubSub::<M>::new(&ctx.shm_node, &setup, true)?),
        Transport::Iceoryx2 if kind == "rpc" => {
            Box::new(links::IoxClient::<M>::new(&ctx.iox_node, &setup)?)
        }
        Transport::Iceoryx2 => Box::new(links::IoxPubSub::<M>::new(&ctx.iox_node, &setup, true)?),
        Transport::Uds => {
            let listener = listener.as_ref().expect("bound above");
            let conns = (0..subscribers)
                .map(|_| Ok(listener.accept()?.0))
                .collect::<Result<Vec<UnixStream>, Error>>()?;
            if spin {
                for c in &conns {
                    links::set_nonblocking(c)?;
                }
            }
            let reads = vec![conns[0].try_clone()?];
            Box::new(Stream::new(reads, conns, size))
        }
        Transport::Pipe => {
            let w = child.stdin.take().expect("piped");
            let r = child.stdout.take().expect("piped");
            if spin {
                links::set_nonblocking(&w)?;
                links::set_nonblocking(&r)?;
            }
            Box::new(Stream::new(vec![r], vec![w], size))
        }
        Transport::Floor => Box::new(Floor::new(
            region.expect("created above"),
            size,
            &setup,
            true,
        )),
    };
    let warm = iters / 10 + 10;
    let halve = if kind == "rpc" { 1.0 } else { 2.0 };
    let mut times = Vec::with_capacity(iters);
    for seq in 1..=(warm + iters) as u64 {
        let start = Instant::now();
        link.ping(seq)?;
        let ns = start.elapsed().as_nanos() as f64 / halve;
        if seq > warm as u64 {
            times.push(ns);
        }
    }
    link.end()?;
    drop(link);
    finish(child)?;
    drop(listener);
    let _ = std::fs::remove_file(&sock);
    Ok(times)
}

fn ping_pong_sized(
    ctx: &Ctx,
    kind: &str,
    t: Transport,
    size: usize,
    subscribers: usize,
    iters: usize,
) -> Result<Vec<f64>, Error> {
    with_msg!(size, ping_pong(ctx, kind, t, subscribers, iters))
}

/// The peer's side of a ping-pong measurement.
fn pong<M: Msg>(a: &PeerArgs) -> Result<(), Error> {
    let t = Transport::parse(&a.transport)?;
    let setup = Setup {
        tag: a.tag.clone(),
        subscribers: a.subscribers,
        wait: kind_wait(&a.kind),
    };
    let spin = setup.wait == Wait::Spin;
    let shm_node = || -> Result<ShmNode, Error> {
        Ok(ShmNode::builder()
            .name("pong")
            .config(Ctx::config(&a.domain)?)
            .create()?)
    };
    let iox = || links::iox_node(&a.iox_prefix);
    // The ports borrow nothing from the nodes, but the nodes must outlive the ports.
    let (_shm, _iox, mut link): (Option<ShmNode>, Option<_>, Box<dyn Link>) = match t {
        Transport::Shmbus => {
            let node = shm_node()?;
            let link: Box<dyn Link> = if a.kind == "rpc" {
                Box::new(links::ShmbusServer::<M>::new(&node, &setup)?)
            } else {
                Box::new(links::ShmbusPubSub::<M>::new(&node, &setup, false)?)
            };
            (Some(node), None, link)
        }
        Transport::Iceoryx2 => {
            let node = iox()?;
            let link: Box<dyn Link> = if a.kind == "rpc" {
                Box::new(links::IoxServer::<M>::new(&node, &setup)?)
            } else {
                Box::new(links::IoxPubSub::<M>::new(&node, &setup, false)?)
            };
            (None, Some(node), link)
        }
        Transport::Uds => {
            let conns = (0..a.subscribers)
                .map(|_| Ok(UnixStream::connect(socket_path_of(&a.tag)?)?))
                .collect::<Result<Vec<_>, Error>>()?;
            if spin {
                for c in &conns {
                    links::set_nonblocking(c)?;
                }
            }
            let writes = vec![conns[0].try_clone()?];
            (None, None, Box::new(Stream::new(conns, writes, M::SIZE)))
        }
        Transport::Pipe => {
            let (r, w) = stdio_files()?;
            if spin {
                links::set_nonblocking(&r)?;
                links::set_nonblocking(&w)?;
            }
            (None, None, Box::new(Stream::new(vec![r], vec![w], M::SIZE)))
        }
        Transport::Floor => {
            let prefix = Ctx::config(&a.domain)?.shm_prefix();
            let region = Region::open(&floor_name(&prefix, &a.tag))?;
            (
                None,
                None,
                Box::new(Floor::new(region, M::SIZE, &setup, false)),
            )
        }
    };
    while link.pong_once()? {}
    Ok(())
}

/// The peer's socket path: the benchmark process's, which is our parent.
fn socket_path_of(tag: &str) -> Result<PathBuf, Error> {
    let parent = rustix::process::getppid().ok_or("no parent process")?;
    Ok(std::env::temp_dir().join(format!(
        "shmbus-bench-{}-{tag}.sock",
        parent.as_raw_nonzero()
    )))
}

/// Our standard input and output as files (unbuffered), for the pipe transport.
fn stdio_files() -> Result<(std::fs::File, std::fs::File), Error> {
    use std::os::fd::AsFd;
    let r = std::io::stdin().as_fd().try_clone_to_owned()?;
    let w = std::io::stdout().as_fd().try_clone_to_owned()?;
    Ok((std::fs::File::from(r), std::fs::File::from(w)))
}

/// Runs a ping-pong scenario: for each case one warm-up round, then `rounds` rounds in
/// which the transports alternate; the samples of all rounds make the summary.
fn run_ping_pong(
    ctx: &Ctx,
    o: &Opts,
    name: &'static str,
    unit: &'static str,
    kind: &str,
    transports: &[Transport],
    cases: &[(String, usize, usize)],
) -> Result<Report, Error> {
    let mut report = Report {
        name,
        unit,
        rows: Vec::new(),
        reference: "shmbus",
    };
    let transports: Vec<Transport> = transports
        .iter()
        .copied()
        .filter(|t| o.only.is_empty() || o.only.iter().any(|n| n == t.arg()))
        .collect();
    let transports = &transports[..];
    for (case, size, subscribers) in cases {
        if !o.sizes.is_empty() && !o.sizes.contains(size) {
            continue;
        }
        let iters = iterations(*size, o.work);
        let mut samples = vec![Vec::new(); transports.len()];
        for round in 0..=o.rounds {
            for (i, &t) in transports.iter().enumerate() {
                let v = ping_pong_sized(ctx, kind, t, *size, *subscribers, iters)?;
                if round > 0 {
                    samples[i].extend(v);
                }
            }
        }
        for (i, &t) in transports.iter().enumerate() {
            let summary = summarize(&samples[i]);
            eprintln!(
                "  {name} {case:>10} {:>16}: median {:>10.0} ns  p99 {:>10.0} ns",
                t.label(kind_wait(kind)),
                summary.median,
                summary.p99
            );
            report.rows.push(Row {
                case: case.clone(),
                transport: t.label(kind_wait(kind)),
                summary,
            });
        }
    }
    Ok(report)
}

fn latency(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    let cases: Vec<_> = SIZES.iter().map(|&s| (size_name(s), s, 1)).collect();
    run_ping_pong(
        ctx,
        o,
        "latency",
        "one-way ns (busy-polling)",
        "spin",
        &ALL,
        &cases,
    )
}

fn wakeup(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    let cases = [(size_name(8), 8, 1)];
    run_ping_pong(
        ctx,
        o,
        "wakeup",
        "one-way ns (blocking receive)",
        "block",
        &ALL,
        &cases,
    )
}

fn rpc(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    let cases: Vec<_> = [8, 1 << 20].iter().map(|&s| (size_name(s), s, 1)).collect();
    run_ping_pong(
        ctx,
        o,
        "rpc",
        "round-trip ns (busy-polling)",
        "rpc",
        &ALL,
        &cases,
    )
}

fn fanout(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    let cases: Vec<_> = [1, 2, 4, 8]
        .iter()
        .map(|&n| (format!("{n} sub"), 8, n))
        .collect();
    // Pipes are left out: a child has one standard input.
    let ts = [
        Transport::Shmbus,
        Transport::Iceoryx2,
        Transport::Uds,
        Transport::Floor,
    ];
    run_ping_pong(
        ctx,
        o,
        "fanout",
        "one-way ns to the last subscriber (8 B)",
        "spin",
        &ts,
        &cases,
    )
}

/// One throughput measurement: the peer sends for the window, we receive and count.
fn tput_one<M: Msg>(ctx: &Ctx, t: Transport, mode: Mode, window: Duration) -> Result<f64, Error> {
    let kind = format!("tput-{}", mode.name());
    let tag = ctx.next_tag(&kind);
    let setup = Setup {
        tag: tag.clone(),
        subscribers: 1,
        wait: Wait::Spin,
    };
    let spawn = |piped| ctx.spawn(&kind, t, M::SIZE, 1, &tag, window, piped);
    let (rate, child) = match t {
        Transport::Shmbus => {
            let child = spawn(false)?;
            (
                tput::shmbus_receive::<M>(&ctx.shm_node, &setup, mode)?,
                child,
            )
        }
        Transport::Iceoryx2 => {
            let child = spawn(false)?;
            (tput::iox_receive::<M>(&ctx.iox_node, &setup, mode)?, child)
        }
        Transport::Uds => {
            let sock = socket_path(&tag);
            let listener = UnixListener::bind(&sock)?;
            let child = spawn(false)?;
            let (mut conn, _) = listener.accept()?;
            let _ = std::fs::remove_file(&sock);
            (tput::stream_receive(&mut conn, M::SIZE)?, child)
        }
        Transport::Pipe => {
            let mut child = spawn(true)?;
            let mut r = child.stdout.take().expect("piped");
            (tput::stream_receive(&mut r, M::SIZE)?, child)
        }
        Transport::Floor => return Err("the floor has no queue: no throughput".into()),
    };
    finish(child)?;
    Ok(rate)
}

fn tput_checked<M: Msg>(
    ctx: &Ctx,
    t: Transport,
    mode: Mode,
    window: Duration,
) -> Result<f64, Error> {
    tput_one::<M>(ctx, t, mode, window)
        .map_err(|e| format!("{} {} B {}: {e}", t.arg(), M::SIZE, mode.name()).into())
}

/// The peer's side of a throughput measurement: it sends.
fn tput_peer<M: Msg>(a: &PeerArgs) -> Result<(), Error> {
    let mode = if a.kind == "tput-lossless" {
        Mode::Lossless
    } else {
        Mode::Overwrite
    };
    let setup = Setup {
        tag: a.tag.clone(),
        subscribers: 1,
        wait: Wait::Spin,
    };
    let window = Duration::from_millis(a.duration_ms);
    match Transport::parse(&a.transport)? {
        Transport::Shmbus => {
            let node = ShmNode::builder()
                .name("sender")
                .config(Ctx::config(&a.domain)?)
                .create()?;
            // What is sent before the receiver subscribed is lost; the receiver's warm-up
            // window covers that.
            tput::shmbus_send::<M>(&node, &setup, mode, window)
        }
        Transport::Iceoryx2 => {
            tput::iox_send::<M>(&links::iox_node(&a.iox_prefix)?, &setup, mode, window)
        }
        Transport::Uds => {
            let mut conn = UnixStream::connect(socket_path_of(&a.tag)?)?;
            tput::stream_send(&mut conn, M::SIZE, window)
        }
        Transport::Pipe => tput::stream_send(&mut stdio_files()?.1, M::SIZE, window),
        Transport::Floor => Err("the floor has no queue".into()),
    }
}

fn throughput(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    let window = Duration::from_secs_f64(0.5 * o.work);
    let mut report = Report {
        name: "throughput",
        unit: "msg/s received",
        rows: Vec::new(),
        reference: "shmbus",
    };
    for mode in [Mode::Lossless, Mode::Overwrite] {
        let ts: &[Transport] = match mode {
            Mode::Lossless => &[
                Transport::Shmbus,
                Transport::Iceoryx2,
                Transport::Uds,
                Transport::Pipe,
            ],
            // Sockets and pipes cannot drop old messages.
            Mode::Overwrite => &[Transport::Shmbus, Transport::Iceoryx2],
        };
        for size in [8, 64 << 10] {
            let case = format!("{} {}", size_name(size), mode.name());
            let mut samples = vec![Vec::new(); ts.len()];
            for round in 0..=o.rounds {
                for (i, &t) in ts.iter().enumerate() {
                    let rate = match size {
                        8 => tput_checked::<msg::Word>(ctx, t, mode, window)?,
                        _ => tput_checked::<msg::K64>(ctx, t, mode, window)?,
                    };
                    if round > 0 {
                        samples[i].push(rate);
                    }
                }
            }
            for (i, &t) in ts.iter().enumerate() {
                let summary = summarize(&samples[i]);
                eprintln!(
                    "  throughput {case:>18} {:>12}: median {:>12.0} msg/s",
                    t.arg(),
                    summary.median
                );
                report.rows.push(Row {
                    case: case.clone(),
                    transport: t.arg(),
                    summary,
                });
            }
        }
    }
    Ok(report)
}

/// Services, publishers and subscribers of the footprint scenario.
const FOOTPRINT_SERVICES: usize = 100;

/// The peer's side of the footprint scenario: builds 100 services with 1 publisher and
/// 3 subscribers each in this one process and prints `objects bytes fds`.
fn footprint_peer(a: &PeerArgs) -> Result<(), Error> {
    let fds_before = raw::open_fds();
    let (objects, bytes, allocated, fds) = match Transport::parse(&a.transport)? {
        Transport::Shmbus => {
            let config = Ctx::config(&a.domain)?;
            let prefix = config.shm_prefix();
            let node = ShmNode::builder()
                .name("footprint")
                .config(config)
                .create()?;
            let mut keep = Vec::new();
            for i in 0..FOOTPRINT_SERVICES {
                let service = ShmService::publish_subscribe::<msg::Word>(
                    &node,
                    &format!("footprint/{}/{i}", a.tag),
                )
                .create()?;
                let publisher = service.publisher().create()?;
                let subs = (0..a.subscribers)
                    .map(|_| service.subscriber().create())
                    .collect::<Result<Vec<_>, _>>()?;
                keep.push((service, publisher, subs));
            }
            let (n, b, m) = raw::shm_objects(&prefix);
            (n, b, m, raw::open_fds() - fds_before)
        }
        Transport::Iceoryx2 => {
            let node = links::iox_node(&a.iox_prefix)?;
            let mut keep = Vec::new();
            for i in 0..FOOTPRINT_SERVICES {
                let service = node
                    .service_builder(&ServiceName::new(&format!("footprint/{}/{i}", a.tag))?)
                    .publish_subscribe::<msg::Word>()
                    .create()?;
                let publisher = service.publisher_builder().create()?;
                let subs = (0..a.subscribers)
                    .map(|_| service.subscriber_builder().create())
                    .collect::<Result<Vec<_>, _>>()?;
                keep.push((service, publisher, subs));
            }
            let (n, b, m) = raw::shm_objects(&a.iox_prefix);
            (n, b, m, raw::open_fds() - fds_before)
        }
        other => return Err(format!("no footprint for {}", other.arg()).into()),
    };
    println!("{objects} {bytes} {allocated} {fds}");
    Ok(())
}

fn footprint(ctx: &Ctx, _: &Opts) -> Result<Report, Error> {
    let mut report = Report {
        name: "footprint",
        unit: "count or bytes",
        rows: Vec::new(),
        reference: "shmbus",
    };
    for t in [Transport::Shmbus, Transport::Iceoryx2] {
        let tag = ctx.next_tag("footprint");
        let child = ctx.spawn("footprint", t, 8, 3, &tag, Duration::ZERO, true)?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("the footprint peer failed: {}", out.status).into());
        }
        let text = String::from_utf8(out.stdout)?;
        let v: Vec<f64> = text
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let cases = ["shm objects", "shm bytes", "shm bytes in use", "open fds"];
        for (case, value) in cases.into_iter().zip(v) {
            let summary = stats::Summary {
                median: value,
                p99: value,
                n: 1,
            };
            eprintln!("  footprint {case:>12} {:>10}: {value}", t.arg());
            report.rows.push(Row {
                case: case.to_owned(),
                transport: t.arg(),
                summary,
            });
        }
    }
    Ok(report)
}

/// The async scenario: one-way wake-up latency of 8-byte messages between two async tasks
/// (tokio current-thread, multi-thread), side by side with shmbus's and iceoryx2's
/// blocking forms as the `wakeup` scenario measures them.
fn async_scenario(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    enum Way {
        Async(Flavor),
        Blocking(Transport),
    }
    let ways = [
        (
            Way::Async(Flavor::CurrentThread),
            Flavor::CurrentThread.label(),
        ),
        (Way::Async(Flavor::MultiThread), Flavor::MultiThread.label()),
        (Way::Blocking(Transport::Shmbus), "shmbus receive_blocking"),
        (
            Way::Blocking(Transport::Iceoryx2),
            "iceoryx2 Event + Listener",
        ),
    ];
    let mut report = Report {
        name: "async",
        unit: "one-way ns (wake-up, 8 B)",
        rows: Vec::new(),
        reference: Flavor::CurrentThread.label(),
    };
    let iters = iterations(8, o.work);
    let warm = iters / 10 + 10;
    let mut samples = vec![Vec::new(); ways.len()];
    for round in 0..=o.rounds {
        for (i, (way, _)) in ways.iter().enumerate() {
            let v = match way {
                Way::Async(flavor) => {
                    let tag = ctx.next_tag(flavor.kind());
                    let child = ctx.spawn(
                        flavor.kind(),
                        Transport::Shmbus,
                        8,
                        1,
                        &tag,
                        Duration::ZERO,
                        false,
                    )?;
                    finish_after(
                        child,
                        asynchronous::ping(&ctx.shm_node, &tag, *flavor, warm, iters),
                    )?
                }
                Way::Blocking(t) => ping_pong_sized(ctx, "block", *t, 8, 1, iters)?,
            };
            if round > 0 {
                samples[i].extend(v);
            }
        }
    }
    for (i, (_, label)) in ways.iter().enumerate() {
        let summary = summarize(&samples[i]);
        eprintln!(
            "  async {label:>36}: median {:>10.0} ns  p99 {:>10.0} ns",
            summary.median, summary.p99
        );
        report.rows.push(Row {
            case: size_name(8),
            transport: label,
            summary,
        });
    }
    Ok(report)
}

/// Starts the bridge scenario's peer (`kind` for `transport`) in a domain of its own,
/// talking to this process on `port`.
fn bridge_peer(
    ctx: &Ctx,
    kind: &str,
    transport: &str,
    size: usize,
    tag: &str,
    duration_ms: u64,
    port: u16,
) -> Result<Child, Error> {
    let domain = format!("{}b", ctx.domain);
    Ok(Command::new(std::env::current_exe()?)
        .args(["peer", kind, transport, &size.to_string(), "1", tag])
        .args([&domain, &ctx.iox_prefix, &duration_ms.to_string()])
        .args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?)
}

/// The bridge scenario: one-way latency of a ping-pong between this process and a peer,
/// each in its own domain, through two `shmbus-zenoh` bridges over TCP on 127.0.0.1,
/// side by side with two plain Zenoh sessions moving the same payloads.
fn bridge_scenario(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    let mut report = Report {
        name: "bridge",
        unit: "one-way ns, or messages per second (TCP on 127.0.0.1)",
        rows: Vec::new(),
        reference: "shmbus bridge",
    };
    let config = Ctx::config(&ctx.domain)?;
    let ways: Vec<_> = [("shmbus bridge", "shmbus"), ("zenoh", "zenoh")]
        .into_iter()
        .filter(|(_, t)| o.only.is_empty() || o.only.iter().any(|only| only == t))
        .collect();
    for size in [8usize, 65536, 1 << 20] {
        if !o.sizes.is_empty() && !o.sizes.contains(&size) {
            continue;
        }
        // Fewer messages than on one machine: each crosses TCP twice.
        let iters = (iterations(size, o.work) / 2).max(50);
        let warm = iters / 10 + 10;
        let mut samples = vec![Vec::new(); ways.len()];
        for round in 0..=o.rounds {
            for (i, (_, transport)) in ways.iter().enumerate() {
                let tag = ctx.next_tag("bridge");
                let port = bridge::free_port()?;
                let child = bridge_peer(ctx, "bridge-pong", transport, size, &tag, 0, port)?;
                let measured = if *transport == "zenoh" {
                    bridge::ping_zenoh(size, &tag, port, warm, iters)
                } else {
                    with_msg!(size, ping_shmbus(&config, &tag, port, warm, iters))
                };
                let v = finish_after(child, measured)?;
                if round > 0 {
                    samples[i].extend(v);
                }
            }
        }
        for (i, (label, _)) in ways.iter().enumerate() {
            let summary = summarize(&samples[i]);
            eprintln!(
                "  bridge {:>10} {label:>14}: median {:>10.0} ns  p99 {:>10.0} ns",
                size_name(size),
                summary.median,
                summary.p99
            );
            report.rows.push(Row {
                case: size_name(size),
                transport: label,
                summary,
            });
        }
    }
    // Throughput: the peer sends for the window as fast as the path takes (Block end to
    // end), this process counts: messages per second (median and max over the rounds).
    let window = Duration::from_secs_f64(2.0 * o.work);
    for size in [8usize, 65536] {
        if !o.sizes.is_empty() && !o.sizes.contains(&size) {
            continue;
        }
        let mut rates = vec![Vec::new(); ways.len()];
        for round in 0..=o.rounds {
            for (i, (_, transport)) in ways.iter().enumerate() {
                let tag = ctx.next_tag("bridge-tput");
                let port = bridge::free_port()?;
                let child = bridge_peer(
                    ctx,
                    "bridge-tput",
                    transport,
                    size,
                    &tag,
                    window.as_millis() as u64,
                    port,
                )?;
                let measured = if *transport == "zenoh" {
                    bridge::tput_receive_zenoh(&tag, port)
                } else {
                    with_msg!(size, tput_receive_shmbus(&config, &tag, port))
                };
                let rate = finish_after(child, measured)?;
                if round > 0 {
                    rates[i].push(rate);
                }
            }
        }
        for (i, (label, _)) in ways.iter().enumerate() {
            let summary = summarize(&rates[i]);
            eprintln!(
                "  bridge throughput {:>10} {label:>14}: median {:>12.0} msg/s",
                size_name(size),
                summary.median
            );
            report.rows.push(Row {
                case: format!("{} msg/s", size_name(size)),
                transport: label,
                summary,
            });
        }
    }
    Ok(report)
}

/// Seconds each measurement of the record scenario publishes (times `--work`).
const RECORD_SECONDS: f64 = 10.0;

fn record_scenario(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    use record::{Case, Sink};
    let mut report = Report {
        name: "record",
        unit: "per second, or count",
        rows: Vec::new(),
        reference: "shmbus",
    };
    let cases = [
        Case {
            size: 8,
            rate: 100_000,
            random: false,
        },
        Case {
            size: 1 << 20,
            rate: 1000,
            random: true,
        },
        Case {
            size: 1 << 20,
            rate: 1000,
            random: false,
        },
    ];
    let sinks = [Sink::RecordZstd, Sink::RecordPlain, Sink::RawDump];
    let duration = Duration::from_secs_f64(RECORD_SECONDS * o.work);
    // `shmbus record` and the programs it records are not pinned: the recorder's two
    // threads and the publisher share both cores as the scheduler sees fit.
    raw::unpin()?;
    let result = record_cases(ctx, o, &cases, &sinks, duration, &mut report);
    raw::pin_to(0)?;
    result.map(|()| report)
}

fn record_cases(
    ctx: &Ctx,
    o: &Opts,
    cases: &[record::Case],
    sinks: &[record::Sink],
    duration: Duration,
    report: &mut Report,
) -> Result<(), Error> {
    // Each measurement is long: no warm-up round, at most 3 rounds.
    let rounds = o.rounds.clamp(1, 3);
    for &case in cases {
        if !o.sizes.is_empty() && !o.sizes.contains(&case.size) {
            continue;
        }
        let figures = [
            "msg/s written",
            "MB/s taken in",
            "file MB/s",
            "missed",
            "not written",
            "sink CPU %",
        ];
        let mut samples = vec![vec![Vec::new(); sinks.len()]; figures.len()];
        for _ in 0..rounds {
            for (i, &sink) in sinks.iter().enumerate() {
                let tag = ctx.next_tag("record");
                let (domain, iox_prefix) = (&ctx.domain, &ctx.iox_prefix);
                let publish = || -> Result<(u64, Duration), Error> {
                    let out = Command::new(std::env::current_exe()?)
                        .args(["peer", "record-pub", "shmbus"])
                        .arg(case.size.to_string())
                        .args(["1", &tag, domain, iox_prefix])
                        .arg(duration.as_millis().to_string())
                        .args(["--rate", &case.rate.to_string()])
                        .args(case.random.then_some("--random"))
                        .stdout(Stdio::piped())
                        .output()?;
                    if !out.status.success() {
                        return Err(format!("the publisher failed: {}", out.status).into());
                    }
                    let text = String::from_utf8(out.stdout)?;
                    let mut words = text.split_whitespace().map(str::parse::<u64>);
                    match (words.next(), words.next()) {
                        (Some(Ok(sent)), Some(Ok(ns))) => Ok((sent, Duration::from_nanos(ns))),
                        _ => Err(format!("the publisher said {text:?}").into()),
                    }
                };
                let got = record::measure(&ctx.shm_node, &tag, case, sink, publish)?;
                let seconds = got.publishing.as_secs_f64();
                let values = [
                    got.written as f64 / seconds,
                    got.bytes as f64 / seconds / 1e6,
                    got.file_bytes as f64 / seconds / 1e6,
                    got.missed as f64,
                    got.sent.saturating_sub(got.written) as f64,
                    got.cpu.as_secs_f64() / seconds * 100.0,
                ];
                eprintln!(
                    "  record {:>32} {:>22}: sent {} written {} missed {} in {seconds:.2} s, {:.0} msg/s, {:.1} MB/s in, file {:.1} MB/s, CPU {:.0} %",
                    case.name(),
                    sink.name(),
                    got.sent,
                    got.written,
                    got.missed,
                    values[0],
                    values[1],
                    values[2],
                    values[5]
                );
                for (f, v) in values.into_iter().enumerate() {
                    samples[f][i].push(v);
                }
            }
        }
        for (f, figure) in figures.iter().enumerate() {
            for (i, sink) in sinks.iter().enumerate() {
                report.rows.push(Row {
                    case: format!("{}: {figure}", case.name()),
                    transport: sink.name(),
                    summary: summarize(&samples[f][i]),
                });
            }
        }
    }
    Ok(())
}

/// Services of the scale scenario.
const SCALE_SERVICES: usize = 1_000;
/// Dead nodes of the cleanup case.
const DEAD_NODES: usize = 100;

/// The peer's side of the cleanup case: a node with a service, a publisher holding a loan
/// and a subscriber; says `ready` and waits to be killed.
fn dead_node_peer(a: &PeerArgs) -> Result<(), Error> {
    let name = format!("dead/{}", a.tag);
    match Transport::parse(&a.transport)? {
        Transport::Shmbus => {
            let node = ShmNode::builder()
                .name("doomed")
                .cleanup(false)
                .config(Ctx::config(&a.domain)?)
                .create()?;
            let service = ShmService::publish_subscribe::<msg::Word>(&node, &name).create()?;
            let publisher = service.publisher().create()?;
            let _subscriber = service.subscriber().create()?;
            let _loan = publisher.loan_zeroed()?;
            println!("ready");
            loop {
                std::thread::park();
            }
        }
        Transport::Iceoryx2 => {
            let node = links::iox_node(&a.iox_prefix)?;
            let service = node
                .service_builder(&ServiceName::new(&name)?)
                .publish_subscribe::<msg::Word>()
                .create()?;
            let publisher = service.publisher_builder().create()?;
            let _subscriber = service.subscriber_builder().create()?;
            let _loan = publisher.loan_uninit()?;
            println!("ready");
            loop {
                std::thread::park();
            }
        }
        other => Err(format!("no dead nodes for {}", other.arg()).into()),
    }
}

fn kill_peers(ctx: &Ctx, t: Transport) -> Result<(), Error> {
    let mut children = Vec::new();
    for _ in 0..DEAD_NODES {
        let tag = ctx.next_tag("dead");
        children.push(ctx.spawn("dead-node", t, 8, 1, &tag, Duration::ZERO, true)?);
    }
    for child in &mut children {
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped")).read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err("a doomed peer did not get ready".into());
        }
    }
    for mut child in children {
        child.kill()?; // SIGKILL
        child.wait()?;
    }
    Ok(())
}

fn scale(ctx: &Ctx, o: &Opts) -> Result<Report, Error> {
    let mut report = Report {
        name: "scale",
        unit: "ms",
        rows: Vec::new(),
        reference: "shmbus",
    };
    let cases = [
        "create 1000 services",
        "open 1000 services",
        "cleanup 100 dead nodes",
    ];
    let ts = [Transport::Shmbus, Transport::Iceoryx2];
    let mut samples = vec![vec![Vec::new(); ts.len()]; cases.len()];
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let rounds = o.rounds.min(5);
    for round in 0..=rounds {
        for (i, &t) in ts.iter().enumerate() {
            let tag = ctx.next_tag("scale");
            let names: Vec<String> = (0..SCALE_SERVICES)
                .map(|k| format!("scale/{tag}/{k}"))
                .collect();
            let (create, open) = match t {
                Transport::Shmbus => {
                    let other = ShmNode::builder()
                        .name("opener")
                        .config(Ctx::config(&ctx.domain)?)
                        .create()?;
                    let start = Instant::now();
                    let created = names
                        .iter()
                        .map(|n| {
                            ShmService::publish_subscribe::<msg::Word>(&ctx.shm_node, n).create()
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let create = ms(start);
                    let start = Instant::now();
                    let opened = names
                        .iter()
                        .map(|n| ShmService::publish_subscribe::<msg::Word>(&other, n).open())
                        .collect::<Result<Vec<_>, _>>()?;
                    let open = ms(start);
                    drop((opened, created));
                    (create, open)
                }
                _ => {
                    let other = links::iox_node(&ctx.iox_prefix)?;
                    let start = Instant::now();
                    let created = names
                        .iter()
                        .map(|n| {
                            Ok(ctx
                                .iox_node
                                .service_builder(&ServiceName::new(n)?)
                                .publish_subscribe::<msg::Word>()
                                .create()?)
                        })
                        .collect::<Result<Vec<_>, Error>>()?;
                    let create = ms(start);
                    let start = Instant::now();
                    let opened = names
                        .iter()
                        .map(|n| {
                            Ok(other
                                .service_builder(&ServiceName::new(n)?)
                                .publish_subscribe::<msg::Word>()
                                .open()?)
                        })
                        .collect::<Result<Vec<_>, Error>>()?;
                    let open = ms(start);
                    drop((opened, created));
                    (create, open)
                }
            };
            kill_peers(ctx, t)?;
            let dead = |t: Transport| -> Result<usize, Error> {
                Ok(match t {
                    Transport::Shmbus => ShmNode::list(&Ctx::config(&ctx.domain)?)?
                        .iter()
                        .filter(|n| n.state == shmbus::node::NodeState::Dead)
                        .count(),
                    _ => {
                        let mut n = 0;
                        iceoryx2::node::Node::<ipc::Service>::list(ctx.iox_node.config(), |s| {
                            if matches!(s, NodeState::Dead(_)) {
                                n += 1;
                            }
                            CallbackProgression::Continue
                        })?;
                        n
                    }
                })
            };
            let before = dead(t)?;
            let start = Instant::now();
            match t {
                Transport::Shmbus => {
                    ctx.shm_node.cleanup_dead_nodes()?;
                }
                _ => {
                    ctx.iox_node.try_cleanup_dead_nodes();
                }
            }
            let cleanup = ms(start);
            let after = dead(t)?;
            if before != DEAD_NODES || after != 0 {
                return Err(format!(
                    "{}: {before} dead nodes before the cleanup (expected {DEAD_NODES}), {after} after",
                    t.arg()
                )
                .into());
            }
            if round > 0 {
                for (c, v) in [create, open, cleanup].into_iter().enumerate() {
                    samples[c][i].push(v);
                }
            }
        }
    }
    for (c, case) in cases.iter().enumerate() {
        for (i, &t) in ts.iter().enumerate() {
            let summary = summarize(&samples[c][i]);
            eprintln!(
                "  scale {case:>24} {:>10}: median {:>8.1} ms",
                t.arg(),
                summary.median
            );
            report.rows.push(Row {
                case: (*case).to_owned(),
                transport: t.arg(),
                summary,
            });
        }
    }
    Ok(report)
}

fn peer(a: PeerArgs) -> Result<(), Error> {
    // The record scenario runs unpinned, as a recorder and its publisher do.
    if a.kind != "record-pub" {
        raw::pin_to(1)?;
    }
    match a.kind.as_str() {
        "spin" | "block" | "rpc" => with_msg!(a.size, pong(&a)),
        "tput-lossless" | "tput-overwrite" => match a.size {
            8 => tput_peer::<msg::Word>(&a),
            _ => tput_peer::<msg::K64>(&a),
        },
        "footprint" => footprint_peer(&a),
        "bridge-tput" => {
            let window = Duration::from_millis(a.duration_ms);
            if a.transport == "zenoh" {
                bridge::tput_send_zenoh(a.size, &a.tag, a.port, window)
            } else {
                let config = Ctx::config(&a.domain)?;
                with_msg!(a.size, tput_send_shmbus(&config, &a.tag, a.port, window))
            }
        }
        "bridge-pong" => {
            if a.transport == "zenoh" {
                bridge::pong_zenoh(&a.tag, a.port)
            } else {
                let config = Ctx::config(&a.domain)?;
                with_msg!(a.size, pong_shmbus(&config, &a.tag, a.port))
            }
        }
        "async-ct" | "async-mt" => {
            let node = ShmNode::builder()
                .name("pong")
                .config(Ctx::config(&a.domain)?)
                .create()?;
            let flavor = Flavor::of_kind(&a.kind).ok_or("an async kind")?;
            asynchronous::pong(&node, &a.tag, flavor)
        }
        "dead-node" => dead_node_peer(&a),
        "record-pub" => {
            let node = ShmNode::builder()
                .name("publisher")
                .config(Ctx::config(&a.domain)?)
                .create()?;
            let case = record::Case {
                size: a.size,
                rate: a.rate,
                random: a.random,
            };
            record::publish(&node, &a.tag, case, Duration::from_millis(a.duration_ms))
        }
        other => Err(format!("unknown peer kind {other}").into()),
    }
}

fn main() -> Result<(), Error> {
    let cli = Cli::parse();
    let opts = match cli.command {
        Command_::Peer(a) => return peer(a),
        Command_::Plot(o) => {
            for name in ["latency", "throughput", "fanout"] {
                let report = plot::read_csv(&o.out.join(format!("{name}.csv")), name)?;
                if let Some(svg) = plot::draw(&report, &o.out)? {
                    eprintln!("wrote {}", svg.display());
                }
            }
            return Ok(());
        }
        Command_::Latency(ref o)
        | Command_::Wakeup(ref o)
        | Command_::Rpc(ref o)
        | Command_::Throughput(ref o)
        | Command_::Fanout(ref o)
        | Command_::Footprint(ref o)
        | Command_::Scale(ref o)
        | Command_::Record(ref o)
        | Command_::Async(ref o)
        | Command_::Bridge(ref o)
        | Command_::All(ref o) => o.clone(),
    };
    raw::pin_to(0)?;
    let pid = std::process::id();
    let domain = format!("bench{pid}");
    let iox_prefix = format!("iox2bench{pid}_");
    let shm_prefix = Ctx::config(&domain)?.shm_prefix();
    let result = {
        let ctx = Ctx {
            shm_node: ShmNode::builder()
                .name("bench")
                .config(Ctx::config(&domain)?)
                .create()?,
            iox_node: links::iox_node(&iox_prefix)?,
            domain: domain.clone(),
            iox_prefix: iox_prefix.clone(),
            counter: Cell::new(0),
        };
        run(&ctx, &cli.command, &opts)
    };
    // Whatever a failed run left behind goes, and a clean run must have left nothing.
    // iceoryx2 keeps one management object per prefix after its last node: not a leak,
    // but removed too, so that runs do not pile them up in /dev/shm.
    let left = raw::remove_shm_objects(&shm_prefix)
        + raw::remove_iox_objects(&iox_prefix)
            .iter()
            .filter(|name| !name.ends_with(".global_mgmt"))
            .count();
    let folder = Ctx::config(&domain)?.domain_dir();
    let folder_left = folder.exists();
    let _ = std::fs::remove_dir_all(&folder);
    result?;
    if left > 0 || folder_left {
        return Err(format!(
            "this run left {left} shared-memory objects in /dev/shm{}",
            if folder_left {
                format!(" and its runtime folder {}", folder.display())
            } else {
                String::new()
            }
        )
        .into());
    }
    Ok(())
}

fn run(ctx: &Ctx, command: &Command_, o: &Opts) -> Result<(), Error> {
    type Scenario = fn(&Ctx, &Opts) -> Result<Report, Error>;
    let all: [(&str, Scenario); 10] = [
        ("latency", latency),
        ("wakeup", wakeup),
        ("rpc", rpc),
        ("throughput", throughput),
        ("fanout", fanout),
        ("footprint", footprint),
        ("scale", scale),
        ("record", record_scenario),
        ("async", async_scenario),
        ("bridge", bridge_scenario),
    ];
    let wanted = match command {
        Command_::Latency(_) => "latency",
        Command_::Wakeup(_) => "wakeup",
        Command_::Rpc(_) => "rpc",
        Command_::Throughput(_) => "throughput",
        Command_::Fanout(_) => "fanout",
        Command_::Footprint(_) => "footprint",
        Command_::Scale(_) => "scale",
        Command_::Record(_) => "record",
        Command_::Async(_) => "async",
        Command_::Bridge(_) => "bridge",
        _ => "all",
    };
    for (name, scenario) in all {
        if wanted != "all" && wanted != name {
            continue;
        }
        if name == "record" {
            eprintln!(
                "== {name} ({} rounds, no warm-up round)",
                o.rounds.clamp(1, 3)
            );
        } else {
            eprintln!("== {name} ({} rounds after a warm-up round)", o.rounds);
        }
        let report = scenario(ctx, o)?;
        println!("{}", report.table());
        let csv = report.write_csv(&o.out)?;
        eprintln!("  wrote {}", csv.display());
        if let Some(svg) = plot::draw(&report, &o.out)? {
            eprintln!("  wrote {}", svg.display());
        }
    }
    Ok(())
}
