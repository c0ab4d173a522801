//! The `async` scenario's shmbus sides: a ping-pong of 8-byte messages whose two ends are
//! async tasks on tokio (current-thread, or multi-thread with the task on a worker), over
//! the same services and QoS as the blocking `wakeup` scenario's shmbus link. Each side's
//! whole loop is one task that owns its ports, as an async program's would be.

use std::time::{Duration, Instant};

use shmbus::{Node, Publisher, Service, Subscriber};

use crate::links::Error;
use crate::msg::{Msg, Word};

/// Which tokio runtime runs the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `new_current_thread`: the task runs on the thread that calls `block_on`.
    CurrentThread,
    /// `new_multi_thread` with 2 workers: the task is spawned onto a worker.
    MultiThread,
}

impl Flavor {
    /// The peer kind that names it.
    pub fn kind(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "async-ct",
            Flavor::MultiThread => "async-mt",
        }
    }

    /// The flavor a peer kind names.
    pub fn of_kind(kind: &str) -> Option<Self> {
        match kind {
            "async-ct" => Some(Flavor::CurrentThread),
            "async-mt" => Some(Flavor::MultiThread),
            _ => None,
        }
    }

    /// Its name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "shmbus async (tokio current-thread)",
            Flavor::MultiThread => "shmbus async (tokio multi-thread)",
        }
    }

    fn runtime(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread().build(),
            Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build(),
        }
    }

    /// Runs `task` to its end as a spawned task of this flavor's runtime.
    fn run<T: Send + 'static>(
        self,
        task: impl std::future::Future<Output = Result<T, String>> + Send + 'static,
    ) -> Result<T, Error> {
        let runtime = self.runtime()?;
        let joined = runtime.block_on(async move { tokio::spawn(task).await });
        Ok(joined.map_err(|e| e.to_string())??)
    }
}

/// The ping and pong services (as `links::ShmbusPubSub` opens them for one subscriber).
fn ports(
    node: &Node,
    tag: &str,
    pinger: bool,
) -> Result<(Publisher<Word>, Subscriber<Word>), Error> {
    let open = |name: &str| {
        Service::publish_subscribe::<Word>(node, &format!("bench/{tag}/{name}"))
            .max_publishers(1)
            .max_subscribers(1)
            .subscriber_buffer(2)
            .open_or_create()
    };
    let (ping, pong) = (open("ping")?, open("pong")?);
    Ok(if pinger {
        let subscriber = pong.subscriber().create()?;
        let publisher = ping.publisher().create()?;
        // The peer subscribes before it publishes: once its publisher is visible, its
        // subscriber exists.
        let deadline = Instant::now() + Duration::from_secs(30);
        while subscriber.publishers().is_empty() {
            if Instant::now() > deadline {
                return Err("timed out waiting for the async peer".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        publisher.update_connections();
        (publisher, subscriber)
    } else {
        let subscriber = ping.subscriber().create()?;
        (pong.publisher().create()?, subscriber)
    })
}

fn send(publisher: &Publisher<Word>, seq: u64) -> Result<(), String> {
    let mut sample = publisher.loan_recycled().map_err(|e| e.to_string())?;
    sample.stamp(seq);
    sample.send().map_err(|e| e.to_string())?;
    Ok(())
}

/// The measuring side: `warm + iters` pings, each timed until its echo came back to the
/// task; returns the last `iters` one-way figures (round trip / 2) in ns.
pub fn ping(
    node: &Node,
    tag: &str,
    flavor: Flavor,
    warm: usize,
    iters: usize,
) -> Result<Vec<f64>, Error> {
    let (publisher, mut subscriber) = ports(node, tag, true)?;
    flavor.run(async move {
        let mut times = Vec::with_capacity(iters);
        for seq in 1..=(warm + iters) as u64 {
            let start = Instant::now();
            send(&publisher, seq)?;
            let got = subscriber
                .receive_async()
                .await
                .map_err(|e| e.to_string())?
                .seqs();
            let ns = start.elapsed().as_nanos() as f64 / 2.0;
            if got != (seq, seq) {
                return Err(format!("received {got:?}, expected {seq}"));
            }
            if seq > warm as u64 {
                times.push(ns);
            }
        }
        send(&publisher, 0)?;
        Ok(times)
    })
}

/// The peer's side: echoes every ping until the end marker.
pub fn pong(node: &Node, tag: &str, flavor: Flavor) -> Result<(), Error> {
    let (publisher, mut subscriber) = ports(node, tag, false)?;
    flavor.run(async move {
        loop {
            let (seq, _) = subscriber
                .receive_async()
                .await
                .map_err(|e| e.to_string())?
                .seqs();
            if seq == 0 {
                return Ok(());
            }
            send(&publisher, seq)?;
        }
    })
}
