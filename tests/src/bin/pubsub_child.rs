//! A child process for the cross-process tests: `pubsub-child ROLE DOMAIN ROOT SERVICE [N]`.
//! Prints `ready` once its port exists, then one result line. `ROOT` `-` keeps the default
//! runtime folder (and the domain the given one). Errors are printed as their sentence.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use shmbus::service::OverflowPolicy;
use shmbus::{Config, Node, Service, WaitSet};
use shmbus_tests::{Counted, HUGE_BYTES, Huge, checksum, config};

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, role, domain, root, service, rest @ ..] = args.as_slice() else {
        return Err("usage: pubsub-child ROLE DOMAIN ROOT SERVICE [N]".into());
    };
    let config = if root == "-" {
        Config::from_env()?.with_domain(domain)?
    } else {
        config(domain, Path::new(root))
    };
    let node = Node::builder()
        .name(role.as_str())
        .config(config)
        .create()?;
    match role.as_str() {
        // Receives until the end marker; checks order (no loss) and checksums.
        "subscribe-lossless" | "subscribe-lossy" => {
            let lossless = role == "subscribe-lossless";
            let builder =
                Service::publish_subscribe::<Counted>(&node, service).subscriber_buffer(64);
            let service = if lossless {
                builder.overflow(OverflowPolicy::Block).open()?
            } else {
                builder.open()?
            };
            let subscriber = service.subscriber().create()?;
            println!("ready");
            let mut received = 0u64;
            let mut last = 0;
            loop {
                let sample = subscriber.receive_blocking()?;
                if sample.seq == 0 {
                    break;
                }
                if sample.checksum != checksum(sample.seq)
                    || sample.seq <= last
                    || (lossless && sample.seq != last + 1)
                {
                    println!("bad sample {} after {last}", sample.seq);
                    std::process::exit(1);
                }
                last = sample.seq;
                received += 1;
                if !lossless && received.is_multiple_of(1000) {
                    std::thread::yield_now();
                }
            }
            println!("ok {received} {}", subscriber.missed());
        }
        // Sends one sample as soon as the parent says so, and exits at once.
        "publish-and-exit" => {
            let service = Service::publish_subscribe::<Counted>(&node, service).open_or_create()?;
            let publisher = service.publisher().create()?;
            println!("ready");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let delivered = publisher.send_copy(&Counted {
                seq: 7,
                checksum: checksum(7),
            })?;
            println!("sent {delivered}");
        }
        // Opens or creates, subscribes, reports the first sample, waits for stdin to close.
        "open-or-create" => {
            let service = Service::publish_subscribe::<Counted>(&node, service)
                .max_subscribers(8)
                .open_or_create()?;
            let subscriber = service.subscriber().create()?;
            println!("ready");
            let sample = subscriber.receive_blocking()?;
            println!("got {}", sample.seq);
            drop(sample);
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
        }
        // Publishes one 16 MiB sample and waits for stdin to close.
        "publish-huge" => {
            let service = Service::publish_subscribe::<Huge>(&node, service)
                .max_subscribers(1)
                .open()?;
            let publisher = service.publisher().create()?;
            println!("ready");
            let mut sample = publisher.loan_zeroed()?;
            sample.seq = 1;
            for (i, b) in sample.data.iter_mut().enumerate() {
                *b = (i % 251) as u8;
            }
            sample.data[HUGE_BYTES - 9] = 0xAB;
            println!("sent {}", sample.send()?);
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
        }
        // Subscribes to SERVICE/a and SERVICE/b and waits on both with one WaitSet until the
        // end marker (seq 0) came on both; checks order and checksums per service.
        "waitset" => {
            let open = |suffix: &str| {
                Service::publish_subscribe::<Counted>(&node, &format!("{service}/{suffix}"))
                    .subscriber_buffer(64)
                    .overflow(OverflowPolicy::Block)
                    .open()
            };
            let (a, b) = (open("a")?, open("b")?);
            let subscribers = [a.subscriber().create()?, b.subscriber().create()?];
            let mut waitset = WaitSet::new();
            let ids = [
                waitset.attach(&subscribers[0])?,
                waitset.attach(&subscribers[1])?,
            ];
            println!("ready");
            let mut last = [0u64; 2];
            let mut done = [false; 2];
            while !(done[0] && done[1]) {
                let ready = waitset.wait_timeout(std::time::Duration::from_secs(120))?;
                if ready.is_empty() {
                    println!("timed out after {last:?}");
                    std::process::exit(1);
                }
                for k in 0..2 {
                    if !ready.contains(ids[k]) {
                        continue;
                    }
                    while let Some(sample) = subscribers[k].receive()? {
                        if sample.seq == 0 {
                            done[k] = true;
                        } else if sample.seq != last[k] + 1
                            || sample.checksum != checksum(sample.seq)
                        {
                            println!("bad sample {} after {} on {k}", sample.seq, last[k]);
                            std::process::exit(1);
                        } else {
                            last[k] = sample.seq;
                        }
                    }
                }
            }
            println!("ok {} {}", last[0], last[1]);
        }
        // A late joiner: subscribes, says `ready`, and prints the sequence numbers of the
        // next N samples it receives (the history, sent before it existed).
        "late-joiner" => {
            let n: usize = rest.first().map(|n| n.parse()).transpose()?.unwrap_or(1);
            let service = Service::publish_subscribe::<Counted>(&node, service).open()?;
            let subscriber = service.subscriber().create()?;
            println!("ready");
            let mut seqs = Vec::new();
            while seqs.len() < n {
                let Some(sample) =
                    subscriber.receive_timeout(std::time::Duration::from_secs(60))?
                else {
                    break;
                };
                if sample.checksum != checksum(sample.seq) {
                    println!("bad sample {}", sample.seq);
                    std::process::exit(1);
                }
                seqs.push(sample.seq.to_string());
            }
            println!("got {}", seqs.join(" "));
        }
        // Publishes N samples to the subscribers that exist, says `sent`, then sleeps (to be
        // killed: a dead publisher).
        "publish-then-sleep" => {
            let n: u64 = rest.first().map(|n| n.parse()).transpose()?.unwrap_or(1);
            let service = Service::publish_subscribe::<Counted>(&node, service).open()?;
            let publisher = service.publisher().create()?;
            println!("ready");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            for seq in 1..=n {
                publisher.send_copy(&Counted {
                    seq,
                    checksum: checksum(seq),
                })?;
            }
            println!("sent");
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        // Opens the service (lossless), says `ready`, waits for a line, publishes N
        // counted samples and the end marker (seq 0), says `sent` and exits.
        "publish-lossless" => {
            let n: u64 = rest.first().map(|n| n.parse()).transpose()?.unwrap_or(1);
            let service = Service::publish_subscribe::<Counted>(&node, service)
                .subscriber_buffer(64)
                .overflow(OverflowPolicy::Block)
                .open()?;
            let publisher = service.publisher().create()?;
            println!("ready");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            for seq in (1..=n).chain([0]) {
                publisher.send_copy(&Counted {
                    seq,
                    checksum: checksum(seq),
                })?;
            }
            println!("sent");
        }
        // Receives two samples and holds them, says `holding`, then sleeps (a dead
        // subscriber that took chunks with it).
        "hold-two" => {
            let service = Service::publish_subscribe::<Counted>(&node, service).open()?;
            let subscriber = service.subscriber().create()?;
            println!("ready");
            let first = subscriber.receive_blocking()?;
            let second = subscriber.receive_blocking()?;
            println!("holding");
            std::thread::sleep(std::time::Duration::from_secs(3600));
            drop((first, second));
        }
        // Opens or creates a service of its own, with a publisher and a subscriber holding
        // a sample, says `ready`, then sleeps (material for cleaners).
        "own-service" => {
            let service = Service::publish_subscribe::<Counted>(&node, service).open_or_create()?;
            let publisher = service.publisher().create()?;
            let subscriber = service.subscriber().create()?;
            publisher.send_copy(&Counted {
                seq: 1,
                checksum: checksum(1),
            })?;
            let sample = subscriber.receive()?;
            println!("ready");
            std::thread::sleep(std::time::Duration::from_secs(3600));
            drop(sample);
        }
        // Subscribes (creating the service if needed), says `ready`, and prints the distinct
        // sequence numbers of the next N samples (or of what came within 30 s), and how many
        // publishers it saw.
        "receive-tagged" => {
            let n: usize = rest.first().map(|n| n.parse()).transpose()?.unwrap_or(10);
            let service = Service::publish_subscribe::<Counted>(&node, service).open_or_create()?;
            let subscriber = service.subscriber().create()?;
            println!("ready");
            let mut seqs = std::collections::BTreeSet::new();
            let mut received = 0;
            while received < n {
                let Some(sample) =
                    subscriber.receive_timeout(std::time::Duration::from_secs(30))?
                else {
                    break;
                };
                seqs.insert(sample.seq);
                received += 1;
            }
            let seqs: Vec<String> = seqs.iter().map(u64::to_string).collect();
            println!(
                "got {received} [{}] from {} publisher(s)",
                seqs.join(" "),
                subscriber.publishers().len()
            );
        }
        // Publishes N samples tagged with the user's uid (as the sequence number), one every
        // 10 ms, once the parent says `go`.
        "publish-tagged" => {
            let n: u64 = rest.first().map(|n| n.parse()).transpose()?.unwrap_or(10);
            let service = Service::publish_subscribe::<Counted>(&node, service).open_or_create()?;
            let publisher = service.publisher().create()?;
            println!("ready");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let tag = u64::from(shmbus::os::process::euid());
            for _ in 0..n {
                publisher.send_copy(&Counted {
                    seq: tag,
                    checksum: checksum(tag),
                })?;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            println!("sent");
        }
        // In a small /dev/shm: a publisher of 16 MiB messages is refused with an error, and
        // nothing of the domain stays; a publisher of small ones works.
        "small-dev-shm" => {
            let config = node.config().clone();
            {
                let big = Service::publish_subscribe::<Huge>(&node, &format!("{service}/big"))
                    .max_subscribers(1)
                    .open_or_create()?;
                match big.publisher().create() {
                    Ok(_) => return Err("a 16 MiB publisher fit in a small /dev/shm".into()),
                    Err(error) => println!("refused: {error}"),
                }
            }
            println!("objects after the refusal: {}", config.objects()?.len());
            {
                let small =
                    Service::publish_subscribe::<Counted>(&node, &format!("{service}/small"))
                        .open_or_create()?;
                let publisher = small.publisher().create()?;
                let subscriber = small.subscriber().create()?;
                publisher.send_copy(&Counted {
                    seq: 5,
                    checksum: checksum(5),
                })?;
                let got = subscriber.receive()?.map(|s| s.seq);
                println!("small: {got:?}");
            }
            drop(node);
            let left: Vec<String> = std::fs::read_dir("/dev/shm")?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            println!("left in /dev/shm: {left:?}");
        }
        other => return Err(format!("unknown role {other}").into()),
    }
    Ok(())
}
