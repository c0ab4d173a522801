//! Throughput: one sender, one receiver, messages per second over a fixed time.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use iceoryx2::prelude::*;
use shmbus::{Node as ShmNode, OverflowPolicy, Service as ShmService};

use crate::links::{Error, Setup};
use crate::msg::{Msg, seqs_bytes, stamp_bytes};

/// Samples each subscriber can buffer, the same for shmbus and iceoryx2.
pub const BUFFER: usize = 16;

/// Received at the start of a measurement but neither counted nor checked.
const WARM_UP: Duration = Duration::from_millis(50);

/// Whether the receiver must get every message (backpressure) or may miss some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The sender waits for room: nothing is lost.
    Lossless,
    /// The sender overwrites the oldest unread message.
    Overwrite,
}

impl Mode {
    /// Its name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Lossless => "lossless",
            Mode::Overwrite => "overwrite",
        }
    }
}

/// Counts what arrives until the end marker: messages per second from the first message
/// on. In lossless mode every sequence number must arrive, in order.
pub(crate) struct Counter {
    counted_from: Instant,
    idle_since: Instant,
    mode: Mode,
    first: Option<Instant>,
    last_seq: u64,
    count: u64,
}

impl Counter {
    pub(crate) fn new(mode: Mode) -> Self {
        Self {
            counted_from: Instant::now(),
            idle_since: Instant::now(),
            mode,
            first: None,
            last_seq: 0,
            count: 0,
        }
    }

    /// Records one message; `true` once the end marker came.
    pub(crate) fn record(&mut self, (seq, tail): (u64, u64)) -> Result<bool, Error> {
        if seq != tail {
            return Err(format!("torn message {seq} / {tail}").into());
        }
        self.idle_since = Instant::now();
        if seq == 0 {
            return Ok(true);
        }
        // The first 50 ms are a warm-up, for every transport alike: not counted, not
        // checked (an iceoryx2 publisher may drop samples while its connection to a new
        // subscriber is being set up, even with backpressure).
        let first = *self.first.get_or_insert_with(Instant::now);
        if first.elapsed() < WARM_UP {
            self.last_seq = seq;
            self.counted_from = Instant::now();
            return Ok(false);
        }
        self.count += 1;
        let ok = match self.mode {
            Mode::Lossless => self.last_seq == 0 || seq == self.last_seq + 1,
            Mode::Overwrite => seq > self.last_seq,
        };
        if !ok {
            return Err(format!("{} after {}: lost or reordered", seq, self.last_seq).into());
        }
        self.last_seq = seq;
        Ok(false)
    }

    /// Fails once nothing came for 10 s (the sender died).
    fn idle(&mut self) -> Result<(), Error> {
        if self.idle_since.elapsed() > Duration::from_secs(10) {
            return Err(format!("nothing received for 10 s after {}", self.last_seq).into());
        }
        std::hint::spin_loop();
        Ok(())
    }

    pub(crate) fn rate(&self) -> f64 {
        self.count as f64 / self.counted_from.elapsed().as_secs_f64()
    }
}

fn shmbus_service<M: Msg>(
    node: &ShmNode,
    setup: &Setup,
    mode: Mode,
) -> Result<shmbus::PubSubService<M>, Error> {
    Ok(
        ShmService::publish_subscribe::<M>(node, &format!("bench/{}/tput", setup.tag))
            .max_publishers(1)
            .max_subscribers(1)
            .subscriber_buffer(BUFFER as u32)
            .overflow(match mode {
                Mode::Lossless => OverflowPolicy::Block,
                Mode::Overwrite => OverflowPolicy::OverwriteOldest,
            })
            .open_or_create()?,
    )
}

/// Receives on shmbus until the end marker; messages per second.
pub fn shmbus_receive<M: Msg>(node: &ShmNode, setup: &Setup, mode: Mode) -> Result<f64, Error> {
    let subscriber = shmbus_service::<M>(node, setup, mode)?
        .subscriber()
        .create()?;
    let mut counter = Counter::new(mode);
    loop {
        match subscriber.receive()? {
            Some(sample) => {
                if counter.record(sample.seqs())? {
                    return Ok(counter.rate());
                }
            }
            None => counter.idle()?,
        }
    }
}

/// Sends on shmbus for `duration` once the receiver is there, then the end marker.
pub fn shmbus_send<M: Msg>(
    node: &ShmNode,
    setup: &Setup,
    mode: Mode,
    duration: Duration,
) -> Result<(), Error> {
    let service = shmbus_service::<M>(node, setup, mode)?;
    let publisher = service
        .publisher()
        .send_timeout(Duration::from_secs(10))
        .create()?;
    let start = Instant::now();
    let mut seq = 1;
    while start.elapsed() < duration {
        let mut sample = publisher.loan_recycled()?;
        sample.stamp(seq);
        sample.send()?;
        seq += 1;
    }
    let mut sample = publisher.loan_recycled()?;
    sample.stamp(0);
    sample.send()?;
    Ok(())
}

type IoxNode = iceoryx2::node::Node<ipc::Service>;

fn iox_service<M: Msg>(
    node: &IoxNode,
    setup: &Setup,
    mode: Mode,
) -> Result<
    iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, M, ()>,
    Error,
> {
    Ok(node
        .service_builder(&ServiceName::new(&format!("bench/{}/tput", setup.tag))?)
        .publish_subscribe::<M>()
        .max_publishers(1)
        .max_subscribers(1)
        .subscriber_max_buffer_size(BUFFER)
        .enable_safe_overflow(mode == Mode::Overwrite)
        .open_or_create()?)
}

/// Receives on iceoryx2 until the end marker; messages per second.
pub fn iox_receive<M: Msg>(node: &IoxNode, setup: &Setup, mode: Mode) -> Result<f64, Error> {
    let subscriber = iox_service::<M>(node, setup, mode)?
        .subscriber_builder()
        .create()?;
    let mut counter = Counter::new(mode);
    loop {
        match subscriber.receive()? {
            Some(sample) => {
                if counter.record(sample.payload().seqs())? {
                    return Ok(counter.rate());
                }
            }
            None => counter.idle()?,
        }
    }
}

/// Sends on iceoryx2 for `duration` once the receiver is there, then the end marker.
pub fn iox_send<M: Msg>(
    node: &IoxNode,
    setup: &Setup,
    mode: Mode,
    duration: Duration,
) -> Result<(), Error> {
    let service = iox_service::<M>(node, setup, mode)?;
    let publisher = service
        .publisher_builder()
        .backpressure_strategy(match mode {
            Mode::Lossless => BackpressureStrategy::RetryUntilDelivered,
            Mode::Overwrite => BackpressureStrategy::DiscardData,
        })
        .create()?;
    let send = |seq: u64| crate::links::iox_loan_send(&publisher, seq);
    let start = Instant::now();
    let mut seq = 1;
    while start.elapsed() < duration {
        send(seq)?;
        seq += 1;
    }
    send(0)
}

/// Receives `size`-byte messages from a byte stream until the end marker.
pub fn stream_receive(r: &mut impl Read, size: usize) -> Result<f64, Error> {
    let mut buf = vec![0u8; size];
    let mut counter = Counter::new(Mode::Lossless);
    loop {
        r.read_exact(&mut buf)?;
        if counter.record(seqs_bytes(&buf))? {
            return Ok(counter.rate());
        }
    }
}

/// Writes `size`-byte messages to a byte stream for `duration`, then the end marker.
pub fn stream_send(w: &mut impl Write, size: usize, duration: Duration) -> Result<(), Error> {
    let mut buf = vec![0x5au8; size];
    let start = Instant::now();
    let mut seq = 1;
    while start.elapsed() < duration {
        stamp_bytes(&mut buf, seq);
        w.write_all(&buf)?;
        seq += 1;
    }
    stamp_bytes(&mut buf, 0);
    w.write_all(&buf)?;
    w.flush()?;
    Ok(())
}
