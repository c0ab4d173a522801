//! The tour: processes talking through shmbus. `cargo run --release --example tour`
//!
//! 1. Two subscriber processes receive 100,000 samples from this process, with no loss
//!    (backpressure), and check every sequence number and checksum.
//! 2. A process that holds a sample is killed with SIGKILL; this process notices the dead
//!    node, removes its ports and gets every chunk back.
//! 3. A ping-pong with a child process measures the one-way latency for 8 B and 1 MiB
//!    messages (busy-polling), and prints the medians.
//! 4. At the end nothing of the tour's domain is left in `/dev/shm`.
//!
//! The children are this same program, started with a role argument.

// Writing a 1 MiB message in place, without passing it through the stack, takes a raw
// pointer into the loan; each such block states why it is sound.
#![allow(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shmbus::service::OverflowPolicy;
use shmbus::{Config, Node, Service, ShmMessage};

type Error = Box<dyn std::error::Error>;

const SAMPLES: u64 = 100_000;
const ROUNDS: usize = 2_000;

/// A counter with a checksum of its own.
#[derive(ShmMessage, Debug, Clone, Copy)]
#[repr(C)]
struct Counter {
    seq: u64,
    checksum: u64,
}

fn checksum(seq: u64) -> u64 {
    seq.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

/// A small message for the latency check.
#[derive(ShmMessage, Debug, Clone, Copy)]
#[repr(C)]
struct Small {
    seq: u64,
}

const BIG_BYTES: usize = 1 << 20;

/// A 1 MiB message; only its first and last bytes are written per round trip.
#[derive(ShmMessage)]
#[repr(C)]
struct Big {
    seq: u64,
    data: [u8; BIG_BYTES - 8],
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("subscriber") => subscriber(),
        Some("holder") => holder(),
        Some("pong") => pong(),
        _ => tour(),
    }
}

fn config() -> Result<Config, Error> {
    Ok(Config::from_env()?)
}

fn spawn(role: &str, domain: &str) -> Result<(Child, BufReader<std::process::ChildStdout>), Error> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg(role)
        .env("SHMBUS_DOMAIN", domain)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.trim() != "ready" {
        return Err(format!("{role} did not start: {line:?}").into());
    }
    Ok((child, reader))
}

fn tour() -> Result<(), Error> {
    let domain = format!("tour{}", std::process::id());
    let config = config()?.with_domain(&domain)?;
    let node = Node::builder()
        .name("tour")
        .config(config.clone())
        .create()?;
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
    let mut children = Vec::new();
    for _ in 0..2 {
        children.push(spawn("subscriber", &domain)?);
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
    for (mut child, mut out) in children {
        let mut line = String::new();
        out.read_line(&mut line)?;
        println!("   subscriber {}: {}", child.id(), line.trim());
        child.wait()?;
    }
    let elapsed = start.elapsed();
    println!(
        "   {SAMPLES} samples to 2 subscribers in {elapsed:.2?} ({:.0} samples/s per subscriber)\n",
        SAMPLES as f64 / elapsed.as_secs_f64()
    );

    // 2. A process dies holding a sample.
    let (mut holder, _out) = spawn("holder", &domain)?;
    let total = publisher.free_chunks();
    publisher.send_copy(&Counter {
        seq: 1,
        checksum: checksum(1),
    })?;
    std::thread::sleep(Duration::from_millis(200));
    println!(
        "2. a third process took a sample and holds it: {} of {total} chunks free",
        publisher.free_chunks()
    );
    holder.kill()?; // SIGKILL
    holder.wait()?;
    let removed = service.remove_dead_nodes();
    println!(
        "   killed it with SIGKILL; {removed} dead node removed; {} of {total} chunks free again\n",
        publisher.free_chunks()
    );

    // 3. Latency.
    drop(publisher);
    drop(service);
    println!("3. ping-pong with a child process, busy-polling, {ROUNDS} round trips each:");
    let (mut child, _out) = spawn("pong", &domain)?;
    let small = ping::<Small>(
        &node,
        "tour/small",
        |s, seq| s.write(Small { seq }),
        |s| s.seq,
    )?;
    let big = ping::<Big>(
        &node,
        "tour/big",
        |mut s, seq| {
            write_big(&mut s, seq);
            // SAFETY: `write_big` wrote `seq`; `data` is bytes, valid for any value, and the
            // chunk holds bytes written earlier or the kernel's zeroes.
            unsafe { s.assume_init() }
        },
        |s| s.seq,
    )?;
    child.wait()?;
    println!("   8 B:   median one-way {:>8.0} ns", small);
    println!(
        "   1 MiB: median one-way {:>8.0} ns (zero-copy: same path as 8 B)\n",
        big
    );

    drop(node);
    let prefix = config.shm_prefix();
    let left: Vec<_> = std::fs::read_dir("/dev/shm")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    println!(
        "4. shared-memory objects of the tour left in /dev/shm: {}",
        left.len()
    );
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    Ok(())
}

fn write_big(sample: &mut shmbus::port::SampleUninit<'_, Big>, seq: u64) {
    let ptr = sample.as_mut_ptr();
    // SAFETY: `ptr` points to the loaned chunk's payload, which this process alone may
    // write while the sample is loaned; the writes stay inside the `Big`.
    unsafe {
        std::ptr::addr_of_mut!((*ptr).seq).write(seq);
        let data = std::ptr::addr_of_mut!((*ptr).data).cast::<u8>();
        data.write(seq as u8);
        data.add(BIG_BYTES - 9).write(seq as u8);
    }
}

fn ping<T: ShmMessage>(
    node: &Node,
    name: &str,
    fill: impl Fn(shmbus::port::SampleUninit<'_, T>, u64) -> shmbus::SampleMut<'_, T>,
    seq_of: impl Fn(&T) -> u64,
) -> Result<f64, Error> {
    let out = Service::publish_subscribe::<T>(node, &format!("{name}/ping")).open_or_create()?;
    let back = Service::publish_subscribe::<T>(node, &format!("{name}/pong")).open_or_create()?;
    let publisher = out.publisher().create()?;
    let subscriber = back.subscriber().create()?;
    // The pong process subscribes before it publishes: once its publisher is visible,
    // its subscriber exists and nothing sent from now on is lost.
    let deadline = Instant::now() + Duration::from_secs(30);
    while subscriber.publishers().is_empty() {
        if Instant::now() > deadline {
            return Err("the pong process did not join".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut times = Vec::with_capacity(ROUNDS);
    for seq in 1..=(ROUNDS as u64 + 200) {
        let start = Instant::now();
        fill(publisher.loan_uninit()?, seq).send()?;
        loop {
            if let Some(sample) = subscriber.receive()? {
                if seq_of(&sample) == seq {
                    break;
                }
            } else {
                std::hint::spin_loop();
            }
        }
        if seq > 200 {
            times.push(start.elapsed().as_nanos() as f64 / 2.0);
        }
    }
    publisher.send_copy_end()?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

trait EndMarker {
    fn send_copy_end(&self) -> Result<(), Error>;
}

impl<T: ShmMessage> EndMarker for shmbus::Publisher<T> {
    /// Sequence 0 tells the pong process to move on.
    fn send_copy_end(&self) -> Result<(), Error> {
        let mut s = self.loan_uninit()?;
        let ptr = s.as_mut_ptr().cast::<u64>();
        write_u64(ptr, 0);
        // SAFETY: the first field of both ping types is the `u64` just written; the rest is
        // bytes of an earlier sample or zeroes, valid for these any-bit-pattern types.
        unsafe { s.assume_init() }.send()?;
        Ok(())
    }
}

fn write_u64(ptr: *mut u64, value: u64) {
    // SAFETY: callers pass the payload pointer of a loaned sample whose first field is a u64.
    unsafe { ptr.write(value) }
}

fn pong_loop<T: ShmMessage>(
    node: &Node,
    name: &str,
    seq_of: impl Fn(&T) -> u64,
) -> Result<(), Error> {
    let inbound =
        Service::publish_subscribe::<T>(node, &format!("{name}/ping")).open_or_create()?;
    let outbound =
        Service::publish_subscribe::<T>(node, &format!("{name}/pong")).open_or_create()?;
    let subscriber = inbound.subscriber().create()?;
    let publisher = outbound.publisher().create()?;
    loop {
        let Some(sample) = subscriber.receive()? else {
            std::hint::spin_loop();
            continue;
        };
        let seq = seq_of(&sample);
        drop(sample);
        if seq == 0 {
            return Ok(());
        }
        let mut reply = publisher.loan_uninit()?;
        write_u64(reply.as_mut_ptr().cast::<u64>(), seq);
        // SAFETY: as in `send_copy_end`.
        unsafe { reply.assume_init() }.send()?;
    }
}

fn pong() -> Result<(), Error> {
    let node = Node::builder().name("pong").config(config()?).create()?;
    println!("ready");
    pong_loop::<Small>(&node, "tour/small", |s| s.seq)?;
    pong_loop::<Big>(&node, "tour/big", |s| s.seq)?;
    Ok(())
}

fn subscriber() -> Result<(), Error> {
    let node = Node::builder()
        .name("subscriber")
        .config(config()?)
        .create()?;
    let service = Service::publish_subscribe::<Counter>(&node, "tour/counter").open()?;
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
    let node = Node::builder().name("holder").config(config()?).create()?;
    let service = Service::publish_subscribe::<Counter>(&node, "tour/counter").open()?;
    let subscriber = service.subscriber().create()?;
    println!("ready");
    let sample = subscriber.receive_blocking()?;
    std::thread::sleep(Duration::from_secs(3600));
    drop(sample);
    Ok(())
}
