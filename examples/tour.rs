//! The tour: processes talking through shmbus. `cargo run --release --example tour`
//!
//! 1. Two subscriber processes receive 100,000 samples from this process, with no loss
//!    (backpressure), and check every sequence number and checksum.
//! 2. A process that holds a sample is killed with SIGKILL; this process notices the dead
//!    node, removes its ports and gets every chunk back.
//! 3. The `shmbus` command, which knows no Rust type, lists the tour's services and echoes
//!    three samples, decoded through the descriptor the service stores.
//! 4. A ping-pong with a child process measures the one-way latency for 8 B and 1 MiB
//!    messages (busy-polling), and prints the medians.
//! 5. Request-response: a server process answers 10,000 calls, each checked; then a
//!    server is killed with SIGKILL while it holds a request, and the waiting client gets
//!    `ServerGone` instead of hanging; the round-trip latency for 8 B and 1 MiB.
//! 6. At the end nothing of the tour's domain is left in `/dev/shm` or its runtime folder,
//!    and the tour prints the commands to try next.
//!
//! The children are this same program, started with a role argument. Ctrl-C (or SIGTERM)
//! at any point ends the tour and its children cleanly: each leaves its loop, drops its
//! ports and exits with status 0, leaving nothing behind.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use shmbus::service::OverflowPolicy;
use shmbus::{Config, Node, Service, ShmMessage};

use shmbus_examples::latency;
use shmbus_examples::{Children, Error};

const SAMPLES: u64 = 100_000;
const ROUNDS: usize = 5_000;

/// A counter with a checksum of its own.
#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
struct Counter {
    seq: u64,
    checksum: u64,
}

fn checksum(seq: u64) -> u64 {
    seq.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

fn main() -> ExitCode {
    shmbus_examples::main(run)
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("subscriber") => subscriber(),
        Some("holder") => holder(),
        Some("pong") => pong(),
        Some("server") => server(),
        Some("hang") => hang(),
        Some("serve") => serve(),
        // `tour shmbus ARGS...`: the `shmbus` command, run by the tour on its services.
        Some("shmbus") => match shmbus_cli::run(args.iter().skip(1)) {
            code if code == ExitCode::SUCCESS => Ok(()),
            _ => Err("the shmbus command failed".into()),
        },
        _ => tour(),
    }
}

fn config() -> Result<Config, Error> {
    Ok(Config::from_env()?)
}

/// A node of a tour process: Ctrl-C and SIGTERM end its loops instead of killing it.
fn node(name: &str, config: Config) -> Result<Node, Error> {
    Ok(Node::builder()
        .name(name)
        .config(config)
        .signal_handling(true)
        .create()?)
}

type Output = BufReader<std::process::ChildStdout>;

/// Starts a child in `role`, watched by `children`, and waits for its `ready` line.
fn spawn(children: &mut Children, role: &str, domain: &str) -> Result<(usize, Output), Error> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg(role)
        .env("SHMBUS_DOMAIN", domain)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let index = children.add(child);
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.trim() != "ready" {
        return Err(format!("{role} did not start: {line:?}").into());
    }
    Ok((index, reader))
}

fn tour() -> Result<(), Error> {
    let domain = format!("tour{}", std::process::id());
    let config = config()?.with_domain(&domain)?;
    let node = node("tour", config.clone())?;
    let mut children = Children::default();
    println!("shmbus tour — domain {domain:?}, node {}\n", node.id());

    // 1. Publish-subscribe across processes, no loss.
    let service = Service::publish_subscribe::<Counter>(&node, "tour/counter")
        .subscriber_buffer(256)
        .max_borrowed(4)
        .overflow(OverflowPolicy::Block)
        .open_or_create()?;
    let publisher = service
        .publisher()
        .send_timeout(Duration::from_secs(30))
        .create()?;
    let mut subscribers = Vec::new();
    for _ in 0..2 {
        subscribers.push(spawn(&mut children, "subscriber", &domain)?);
    }
    println!("1. two subscriber processes joined; sending {SAMPLES} samples with backpressure");
    let start = Instant::now();
    for seq in 1..=SAMPLES {
        publisher.send_copy(&Counter {
            seq,
            checksum: checksum(seq),
        })?;
    }
    publisher.send_copy(&Counter {
        seq: 0,
        checksum: 0,
    })?; // end marker
    for (child, mut out) in subscribers {
        let mut line = String::new();
        out.read_line(&mut line)?;
        println!(
            "   subscriber {}: {}",
            children.get(child).id(),
            line.trim()
        );
        children.finish(child)?;
    }
    let elapsed = start.elapsed();
    println!(
        "   {SAMPLES} samples to 2 subscribers in {elapsed:.2?} ({:.0} samples/s per subscriber)\n",
        SAMPLES as f64 / elapsed.as_secs_f64()
    );

    // 2. A process dies holding a sample.
    let (holder, mut holder_out) = spawn(&mut children, "holder", &domain)?;
    let total = publisher.free_chunks();
    publisher.send_copy(&Counter {
        seq: 1,
        checksum: checksum(1),
    })?;
    let mut line = String::new();
    holder_out.read_line(&mut line)?;
    if line.trim() != "holding" {
        return Err(format!("the holder did not take the sample: {line:?}").into());
    }
    println!(
        "2. a third process took a sample and holds it: {} of {total} chunks free",
        publisher.free_chunks()
    );
    children.get(holder).kill()?; // SIGKILL
    children.get(holder).wait()?;
    let removed = service.remove_dead_nodes();
    println!(
        "   killed it with SIGKILL; {removed} dead node removed; {} of {total} chunks free again\n",
        publisher.free_chunks()
    );

    // 3. The command line, without the Rust types.
    println!("3. the `shmbus` command reads the services' descriptors; `shmbus list`:");
    let list = Command::new(std::env::current_exe()?)
        .args(["shmbus", "list", "--domain", &domain])
        .status()?;
    if !list.success() {
        return Err("`shmbus list` failed".into());
    }
    println!("   `shmbus echo tour/counter --count 3`, while the tour publishes:");
    let mut echo = Command::new(std::env::current_exe()?)
        .args([
            "shmbus",
            "echo",
            "tour/counter",
            "--count",
            "3",
            "--domain",
            &domain,
        ])
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while publisher.subscriber_count() == 0 {
        if Instant::now() > deadline || echo.try_wait()?.is_some() {
            return Err("`shmbus echo` did not subscribe".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for seq in 1..=3 {
        publisher.send_copy(&Counter {
            seq,
            checksum: checksum(seq),
        })?;
    }
    if !echo.wait()?.success() {
        return Err("`shmbus echo` failed".into());
    }
    println!();

    // 4. Latency.
    drop(publisher);
    drop(service);
    println!("4. ping-pong with a child process, busy-polling, {ROUNDS} round trips each:");
    let (pong, _out) = spawn(&mut children, "pong", &domain)?;
    let small = latency::ping::<8>(&node, "tour/small", ROUNDS)?;
    let big = latency::ping::<{ (1 << 20) - 16 }>(&node, "tour/big", ROUNDS)?;
    children.finish(pong)?;
    println!(
        "   8 B:   median one-way {:>8.0} ns, p99 {:>8.0} ns",
        small.median_ns, small.p99_ns
    );
    println!(
        "   1 MiB: median one-way {:>8.0} ns, p99 {:>8.0} ns (zero-copy: {:.2}x the 8 B median)\n",
        big.median_ns,
        big.p99_ns,
        big.median_ns / small.median_ns
    );

    // 5. Request-response.
    rpc(&node, &domain, &mut children)?;

    drop(children);
    drop(node);
    let left = config.objects()?;
    let folder = config.domain_dir();
    println!(
        "6. shared-memory objects of the tour left in /dev/shm: {}; its runtime folder {}: {}",
        left.len(),
        folder.display(),
        if folder.exists() {
            "still there"
        } else {
            "gone"
        }
    );
    if !left.is_empty() || folder.exists() {
        return Err(format!("left behind: {left:?} {}", folder.display()).into());
    }
    println!(
        "\nTry next, with `cargo run --example publisher` in another terminal (the `shmbus` \
         command is `cargo run -p shmbus-cli --`):\n  \
         shmbus list\n  shmbus inspect examples/counter\n  shmbus echo examples/counter\n  \
         shmbus hz examples/counter\n  shmbus pub examples/counter '{{\"count\": 1, \"square\": 1}}'\n  \
         shmbus doctor"
    );
    Ok(())
}

/// A question and its answer for the request-response step.
#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
struct Question {
    seq: u64,
}

#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
struct Reply {
    seq: u64,
    checksum: u64,
}

const CALLS: u64 = 10_000;

fn rpc(node: &Node, domain: &str, children: &mut Children) -> Result<(), Error> {
    let service =
        Service::request_response::<Question, Reply>(node, "tour/rpc").open_or_create()?;
    let client = service.client().create()?;
    let chunks = client.free_chunks();
    let (server, _out) = spawn(children, "server", domain)?;
    let start = Instant::now();
    for seq in 1..=CALLS {
        let reply = client.call(&Question { seq }, Duration::from_secs(30))?;
        if reply.seq != seq || reply.checksum != checksum(seq) {
            return Err(format!("wrong reply {reply:?} to call {seq}").into());
        }
    }
    let elapsed = start.elapsed();
    client.send_copy_oneway(&Question { seq: 0 })?; // tells the server to leave
    children.finish(server)?;
    println!(
        "5. a server process answered {CALLS} calls, each checked, in {elapsed:.2?} ({:.1} µs per call, blocking waits)",
        elapsed.as_secs_f64() * 1e6 / CALLS as f64
    );
    let (hang, mut hang_out) = spawn(children, "hang", domain)?;
    let pending = client.send_copy(&Question { seq: 1 })?;
    let mut line = String::new();
    hang_out.read_line(&mut line)?;
    if line.trim() != "holding" {
        return Err(format!("the server did not take the request: {line:?}").into());
    }
    children.get(hang).kill()?; // SIGKILL, while it holds the request
    children.get(hang).wait()?;
    let waited = Instant::now();
    match pending.receive_timeout(Duration::from_secs(60)) {
        Err(shmbus::port::ResponseError::ServerGone) => println!(
            "   a server killed with SIGKILL mid-call: the client was told after {:.0?} (ServerGone), {} of its {chunks} request chunks free",
            waited.elapsed(),
            client.free_chunks()
        ),
        other => return Err(format!("expected ServerGone, got {other:?}").into()),
    }
    drop(pending);
    drop(client);
    drop(service);
    let (serve, _out) = spawn(children, "serve", domain)?;
    let small = latency::call::<8>(node, "tour/call-small", ROUNDS)?;
    let big = latency::call::<{ (1 << 20) - 16 }>(node, "tour/call-big", ROUNDS)?;
    children.finish(serve)?;
    println!(
        "   round trip, busy-polling, {ROUNDS} calls each: 8 B median {:.0} ns (p99 {:.0}), 1 MiB median {:.0} ns (p99 {:.0})\n",
        small.median_ns, small.p99_ns, big.median_ns, big.p99_ns
    );
    Ok(())
}

fn server() -> Result<(), Error> {
    let node = node("server", config()?)?;
    let service =
        Service::request_response::<Question, Reply>(&node, "tour/rpc").open_or_create()?;
    let server = service.server().create()?;
    println!("ready");
    loop {
        let request = server.receive_blocking()?;
        if request.seq == 0 {
            return Ok(());
        }
        request.respond_copy(&Reply {
            seq: request.seq,
            checksum: checksum(request.seq),
        })?;
    }
}

fn hang() -> Result<(), Error> {
    let node = node("hang", config()?)?;
    let service =
        Service::request_response::<Question, Reply>(&node, "tour/rpc").open_or_create()?;
    let server = service.server().create()?;
    println!("ready");
    let request = server.receive_blocking()?;
    println!("holding");
    // Until it is killed, or asked to stop: then the request is dropped and the ports too.
    let _ = node.wait(Duration::from_secs(3600));
    drop(request);
    Ok(())
}

fn pong() -> Result<(), Error> {
    let node = node("pong", config()?)?;
    println!("ready");
    latency::pong::<8>(&node, "tour/small")?;
    latency::pong::<{ (1 << 20) - 16 }>(&node, "tour/big")
}

fn serve() -> Result<(), Error> {
    let node = node("serve", config()?)?;
    println!("ready");
    latency::serve::<8>(&node, "tour/call-small")?;
    latency::serve::<{ (1 << 20) - 16 }>(&node, "tour/call-big")
}

fn subscriber() -> Result<(), Error> {
    let node = node("subscriber", config()?)?;
    let service = Service::publish_subscribe::<Counter>(&node, "tour/counter").open_or_create()?;
    let subscriber = service.subscriber().create()?;
    println!("ready");
    let mut expected = 1;
    loop {
        let sample = subscriber.receive_blocking()?;
        if sample.seq == 0 {
            break;
        }
        if sample.seq != expected || sample.checksum != checksum(sample.seq) {
            println!("wrong sample {} (expected {expected})", sample.seq);
            std::process::exit(1);
        }
        expected += 1;
    }
    println!(
        "received {} samples in order, all checksums valid, {} missed",
        expected - 1,
        subscriber.missed()
    );
    Ok(())
}

fn holder() -> Result<(), Error> {
    let node = node("holder", config()?)?;
    let service = Service::publish_subscribe::<Counter>(&node, "tour/counter").open_or_create()?;
    let subscriber = service.subscriber().create()?;
    println!("ready");
    let sample = subscriber.receive_blocking()?;
    println!("holding");
    // Until it is killed, or asked to stop: then the sample is dropped and the ports too.
    let _ = node.wait(Duration::from_secs(3600));
    drop(sample);
    Ok(())
}
