//! One ping-pong link per transport. The pinging side sends a message and waits for its
//! echo (`ping`); the ponging side (the peer process) echoes (`pong_once`). The same link
//! shapes serve the busy-polling, blocking, request-response and fan-out scenarios.
//!
//! `unsafe` appears only to call iceoryx2's `assume_init` on loans (each block argued).
#![allow(unsafe_code)]

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use iceoryx2::prelude::*;
use shmbus::{Node as ShmNode, Service as ShmService};

use crate::msg::{Msg, seqs_bytes, stamp_bytes};
use crate::raw::Region;

/// A boxed error.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How a receiver waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Spin on a non-blocking receive.
    Spin,
    /// Sleep in the kernel until woken.
    Block,
}

/// One side of a ping-pong.
pub trait Link {
    /// Sends `seq` and waits for its echo (the ping side).
    fn ping(&mut self, seq: u64) -> Result<(), Error>;
    /// Ends the exchange (the ping side).
    fn end(&mut self) -> Result<(), Error>;
    /// Receives one message and echoes it; `false` once the end marker came (the pong side).
    fn pong_once(&mut self) -> Result<bool, Error>;
}

/// What both sides agree on for one measurement.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Unique per measurement: names services, sockets and regions.
    pub tag: String,
    /// Subscribers the ping side fans out to (1 except in the fan-out scenario).
    pub subscribers: usize,
    /// How receivers wait.
    pub wait: Wait,
}

fn check(got: (u64, u64), want: u64) -> Result<(), Error> {
    if got != (want, want) {
        return Err(format!("received {got:?}, expected {want}").into());
    }
    Ok(())
}

/// A link whose two directions carry the same messages (pub-sub, sockets and pipes, the
/// floor): its [`Link`] is `send` and `recv_all` in ping-pong order.
trait Duplex {
    /// Sends `seq` to every receiver.
    fn send(&mut self, seq: u64) -> Result<(), Error>;
    /// Receives one message from every sender, and its sequence number (they must agree).
    fn recv_all(&mut self) -> Result<u64, Error>;
}

impl<T: Duplex> Link for T {
    fn ping(&mut self, seq: u64) -> Result<(), Error> {
        self.send(seq)?;
        let got = self.recv_all()?;
        check((got, got), seq)
    }
    fn end(&mut self) -> Result<(), Error> {
        self.send(0)
    }
    fn pong_once(&mut self) -> Result<bool, Error> {
        let seq = self.recv_all()?;
        if seq == 0 {
            return Ok(false);
        }
        self.send(seq)?;
        Ok(true)
    }
}

/// Adds one receiver's first and last word to the sequence number all receivers agree on.
fn agree(seq: &mut Option<u64>, got: (u64, u64)) -> Result<(), Error> {
    if got.0 != got.1 || seq.is_some_and(|s| s != got.0) {
        return Err(format!("torn or mixed message {got:?}").into());
    }
    *seq = Some(got.0);
    Ok(())
}

fn deadline_wait(what: &str, mut ready: impl FnMut() -> bool) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

// ---------------------------------------------------------------------------- shmbus

/// shmbus publish-subscribe: `<tag>/ping` out, `<tag>/pong` back.
pub struct ShmbusPubSub<M: Msg> {
    publisher: shmbus::Publisher<M>,
    subscribers: Vec<shmbus::Subscriber<M>>,
    wait: Wait,
}

impl<M: Msg> ShmbusPubSub<M> {
    /// Opens the link; `pinger` says which side this is.
    pub fn new(node: &ShmNode, setup: &Setup, pinger: bool) -> Result<Self, Error> {
        let n = setup.subscribers as u32;
        let open = |name: &str| {
            ShmService::publish_subscribe::<M>(node, &format!("bench/{}/{name}", setup.tag))
                .max_publishers(1)
                .max_subscribers(n.max(1))
                .subscriber_buffer(2)
                .open_or_create()
        };
        let ping = open("ping")?;
        let pong = open("pong")?;
        let link = if pinger {
            let subscriber = pong.subscriber().create()?;
            let publisher = ping.publisher().create()?;
            // The peer subscribes before it publishes: once its publisher is visible, all
            // its subscribers exist.
            deadline_wait("the shmbus peer", || !subscriber.publishers().is_empty())?;
            publisher.update_connections();
            Self {
                publisher,
                subscribers: vec![subscriber],
                wait: setup.wait,
            }
        } else {
            let subscribers = (0..setup.subscribers)
                .map(|_| ping.subscriber().create())
                .collect::<Result<Vec<_>, _>>()?;
            let publisher = pong.publisher().create()?;
            Self {
                publisher,
                subscribers,
                wait: setup.wait,
            }
        };
        Ok(link)
    }
}

impl<M: Msg> Duplex for ShmbusPubSub<M> {
    fn send(&mut self, seq: u64) -> Result<(), Error> {
        let mut sample = self.publisher.loan_recycled()?;
        sample.stamp(seq);
        sample.send()?;
        Ok(())
    }

    fn recv_all(&mut self) -> Result<u64, Error> {
        let mut seq = None;
        for subscriber in &self.subscribers {
            let got = loop {
                let sample = match self.wait {
                    Wait::Spin => subscriber.receive()?,
                    Wait::Block => Some(subscriber.receive_blocking()?),
                };
                match sample {
                    Some(sample) => break sample.seqs(),
                    None => std::hint::spin_loop(),
                }
            };
            agree(&mut seq, got)?;
        }
        Ok(seq.unwrap_or(0))
    }
}

fn shmbus_rr<M: Msg>(
    node: &ShmNode,
    setup: &Setup,
) -> Result<shmbus::RequestResponseService<M, M>, Error> {
    Ok(
        ShmService::request_response::<M, M>(node, &format!("bench/{}/rr", setup.tag))
            .max_clients(1)
            .max_servers(1)
            .max_active_requests_per_client(1)
            .response_buffer(1)
            .max_borrowed_responses(1)
            .open_or_create()?,
    )
}

/// shmbus request-response, client side.
pub struct ShmbusClient<M: Msg> {
    client: shmbus::Client<M, M>,
}

impl<M: Msg> ShmbusClient<M> {
    /// Opens the service and waits for the server.
    pub fn new(node: &ShmNode, setup: &Setup) -> Result<Self, Error> {
        let client = shmbus_rr::<M>(node, setup)?.client().create()?;
        deadline_wait("the shmbus server", || client.has_servers())?;
        Ok(Self { client })
    }
}

impl<M: Msg> Link for ShmbusClient<M> {
    fn ping(&mut self, seq: u64) -> Result<(), Error> {
        let mut request = self.client.loan_recycled()?;
        request.stamp(seq);
        let pending = request.send()?;
        loop {
            if let Some(response) = pending.receive()? {
                return check(response.seqs(), seq);
            }
            std::hint::spin_loop();
        }
    }
    fn end(&mut self) -> Result<(), Error> {
        let mut request = self.client.loan_recycled()?;
        request.stamp(0);
        request.send_oneway()?;
        Ok(())
    }
    fn pong_once(&mut self) -> Result<bool, Error> {
        Err("a client does not serve".into())
    }
}

/// shmbus request-response, server side.
pub struct ShmbusServer<M: Msg> {
    server: shmbus::Server<M, M>,
}

impl<M: Msg> ShmbusServer<M> {
    /// Opens the service and creates the server.
    pub fn new(node: &ShmNode, setup: &Setup) -> Result<Self, Error> {
        Ok(Self {
            server: shmbus_rr::<M>(node, setup)?.server().create()?,
        })
    }
}

impl<M: Msg> Link for ShmbusServer<M> {
    fn ping(&mut self, _: u64) -> Result<(), Error> {
        Err("a server does not call".into())
    }
    fn end(&mut self) -> Result<(), Error> {
        Ok(())
    }
    fn pong_once(&mut self) -> Result<bool, Error> {
        let request = loop {
            if let Some(request) = self.server.receive()? {
                break request;
            }
            std::hint::spin_loop();
        };
        let (seq, tail) = request.seqs();
        if seq == 0 {
            return Ok(false);
        }
        check((seq, tail), seq)?;
        let mut response = request.loan_recycled()?;
        response.stamp(seq);
        response.send()?;
        Ok(true)
    }
}

// ---------------------------------------------------------------------------- iceoryx2

/// An iceoryx2 node whose objects carry `prefix`, so they can be counted and removed.
pub fn iox_node(prefix: &str) -> Result<iceoryx2::node::Node<ipc::Service>, Error> {
    let mut config = iceoryx2::config::Config::default();
    config.global.prefix = FileName::new(prefix.as_bytes())?;
    Ok(NodeBuilder::new()
        .config(&config)
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<ipc::Service>()?)
}

type IoxNode = iceoryx2::node::Node<ipc::Service>;

fn iox_name(setup: &Setup, what: &str) -> Result<ServiceName, Error> {
    Ok(ServiceName::new(&format!("bench/{}/{what}", setup.tag))?)
}

pub(crate) fn iox_loan_send<M: Msg>(
    publisher: &iceoryx2::port::publisher::Publisher<ipc::Service, M, ()>,
    seq: u64,
) -> Result<(), Error> {
    let sample = publisher.loan_uninit()?;
    // SAFETY: every bit pattern is a valid `M` (plain integers and byte arrays: it is a
    // `ShmMessage` without invalid bit patterns), and the chunk is shared memory that the
    // kernel zero-filled when iceoryx2 sized it, later holding earlier messages of the
    // same type: it is initialised memory of a valid `M`, so assuming it initialised is
    // what `loan_recycled` does in shmbus, no zeroing and no copy.
    let mut sample = unsafe { sample.assume_init() };
    sample.payload_mut().stamp(seq);
    sample.send()?;
    Ok(())
}

/// iceoryx2 publish-subscribe (plus, when blocking, an Event service per direction as
/// its documentation prescribes for waking a listener).
pub struct IoxPubSub<M: Msg> {
    publisher: iceoryx2::port::publisher::Publisher<ipc::Service, M, ()>,
    subscribers: Vec<iceoryx2::port::subscriber::Subscriber<ipc::Service, M, ()>>,
    notifier: Option<iceoryx2::port::notifier::Notifier<ipc::Service>>,
    listener: Option<iceoryx2::port::listener::Listener<ipc::Service>>,
}

impl<M: Msg> IoxPubSub<M> {
    /// Opens the link; `pinger` says which side this is.
    pub fn new(node: &IoxNode, setup: &Setup, pinger: bool) -> Result<Self, Error> {
        let n = setup.subscribers.max(1);
        let open = |what: &str| {
            node.service_builder(&iox_name(setup, what)?)
                .publish_subscribe::<M>()
                .max_publishers(1)
                .max_subscribers(n)
                .subscriber_max_buffer_size(2)
                .open_or_create()
                .map_err(Error::from)
        };
        let ping = open("ping")?;
        let pong = open("pong")?;
        let events = |what: &str| -> Result<_, Error> {
            Ok(node
                .service_builder(&iox_name(setup, what)?)
                .event()
                .open_or_create()?)
        };
        let (notifier, listener) = if setup.wait == Wait::Block {
            let ping_ev = events("ping-event")?;
            let pong_ev = events("pong-event")?;
            let (out, back) = if pinger {
                (ping_ev, pong_ev)
            } else {
                (pong_ev, ping_ev)
            };
            (
                Some(out.notifier_builder().create()?),
                Some(back.listener_builder().create()?),
            )
        } else {
            (None, None)
        };
        if pinger {
            let subscriber = pong.subscriber_builder().create()?;
            let publisher = ping.publisher_builder().create()?;
            deadline_wait("the iceoryx2 peer", || {
                pong.dynamic_config().number_of_publishers() >= 1
                    && ping.dynamic_config().number_of_subscribers() >= n
            })?;
            Ok(Self {
                publisher,
                subscribers: vec![subscriber],
                notifier,
                listener,
            })
        } else {
            let subscribers = (0..n)
                .map(|_| ping.subscriber_builder().create())
                .collect::<Result<Vec<_>, _>>()?;
            let publisher = pong.publisher_builder().create()?;
            Ok(Self {
                publisher,
                subscribers,
                notifier,
                listener,
            })
        }
    }
}

impl<M: Msg> Duplex for IoxPubSub<M> {
    fn send(&mut self, seq: u64) -> Result<(), Error> {
        iox_loan_send(&self.publisher, seq)?;
        if let Some(notifier) = &self.notifier {
            notifier.notify()?;
        }
        Ok(())
    }

    fn recv_all(&mut self) -> Result<u64, Error> {
        let mut seq = None;
        for subscriber in &self.subscribers {
            let got = loop {
                if let Some(sample) = subscriber.receive()? {
                    break sample.payload().seqs();
                }
                match &self.listener {
                    Some(listener) => {
                        listener.blocking_wait(|_| {})?;
                    }
                    None => std::hint::spin_loop(),
                }
            };
            agree(&mut seq, got)?;
        }
        Ok(seq.unwrap_or(0))
    }
}

type IoxRr<M> =
    iceoryx2::service::port_factory::request_response::PortFactory<ipc::Service, M, (), M, ()>;

fn iox_rr<M: Msg>(node: &IoxNode, setup: &Setup) -> Result<IoxRr<M>, Error> {
    Ok(node
        .service_builder(&iox_name(setup, "rr")?)
        .request_response::<M, M>()
        .enable_fire_and_forget_requests(true)
        .max_clients(1)
        .max_servers(1)
        .max_active_requests_per_client(1)
        .max_response_buffer_size(1)
        .open_or_create()?)
}

/// iceoryx2 request-response, client side.
pub struct IoxClient<M: Msg> {
    client: iceoryx2::port::client::Client<ipc::Service, M, (), M, ()>,
}

impl<M: Msg> IoxClient<M> {
    /// Opens the service and waits for the server.
    pub fn new(node: &IoxNode, setup: &Setup) -> Result<Self, Error> {
        let service = iox_rr::<M>(node, setup)?;
        let client = service.client_builder().create()?;
        deadline_wait("the iceoryx2 server", || {
            service.dynamic_config().number_of_servers() >= 1
        })?;
        Ok(Self { client })
    }
}

impl<M: Msg> Link for IoxClient<M> {
    fn ping(&mut self, seq: u64) -> Result<(), Error> {
        let request = self.client.loan_uninit()?;
        // SAFETY: as in `iox_loan_send`: any bit pattern is a valid `M` and the chunk is
        // initialised shared memory.
        let mut request = unsafe { request.assume_init() };
        request.payload_mut().stamp(seq);
        let pending = request.send()?;
        loop {
            if let Some(response) = pending.receive()? {
                return check(response.payload().seqs(), seq);
            }
            std::hint::spin_loop();
        }
    }
    fn end(&mut self) -> Result<(), Error> {
        let request = self.client.loan_uninit()?;
        // SAFETY: as in `ping`.
        let mut request = unsafe { request.assume_init() };
        request.payload_mut().stamp(0);
        drop(request.send()?);
        Ok(())
    }
    fn pong_once(&mut self) -> Result<bool, Error> {
        Err("a client does not serve".into())
    }
}

/// iceoryx2 request-response, server side.
pub struct IoxServer<M: Msg> {
    server: iceoryx2::port::server::Server<ipc::Service, M, (), M, ()>,
}

impl<M: Msg> IoxServer<M> {
    /// Opens the service and creates the server.
    pub fn new(node: &IoxNode, setup: &Setup) -> Result<Self, Error> {
        Ok(Self {
            server: iox_rr::<M>(node, setup)?.server_builder().create()?,
        })
    }
}

impl<M: Msg> Link for IoxServer<M> {
    fn ping(&mut self, _: u64) -> Result<(), Error> {
        Err("a server does not call".into())
    }
    fn end(&mut self) -> Result<(), Error> {
        Ok(())
    }
    fn pong_once(&mut self) -> Result<bool, Error> {
        let request = loop {
            if let Some(request) = self.server.receive()? {
                break request;
            }
            std::hint::spin_loop();
        };
        let (seq, tail) = request.payload().seqs();
        if seq == 0 {
            return Ok(false);
        }
        check((seq, tail), seq)?;
        let response = request.loan_uninit()?;
        // SAFETY: as in `iox_loan_send`.
        let mut response = unsafe { response.assume_init() };
        response.payload_mut().stamp(seq);
        response.send()?;
        Ok(true)
    }
}

// ---------------------------------------------------------------------------- byte streams

/// Sets `O_NONBLOCK` on a descriptor (busy-polling byte streams).
pub fn set_nonblocking(fd: impl AsFd) -> Result<(), Error> {
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

fn read_exact_spin(r: &mut impl Read, mut buf: &mut [u8]) -> Result<(), Error> {
    while !buf.is_empty() {
        match r.read(buf) {
            Ok(0) => return Err("the peer closed the stream".into()),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn write_all_spin(w: &mut impl Write, mut buf: &[u8]) -> Result<(), Error> {
    while !buf.is_empty() {
        match w.write(buf) {
            Ok(0) => return Err("the peer closed the stream".into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A byte-stream link (Unix domain sockets, pipes): the whole message is written and read,
/// which is what those transports cost. The ping side writes to every output (fan-out).
pub struct Stream<R: Read, W: Write> {
    reads: Vec<R>,
    writes: Vec<W>,
    buf: Vec<u8>,
}

impl<R: Read, W: Write> Stream<R, W> {
    /// A link of `size`-byte messages: read from `reads` (all of them, in turn), write to
    /// `writes` (all of them).
    pub fn new(reads: Vec<R>, writes: Vec<W>, size: usize) -> Self {
        Self {
            reads,
            writes,
            buf: vec![0x5a; size],
        }
    }
}

impl<R: Read, W: Write> Duplex for Stream<R, W> {
    fn send(&mut self, seq: u64) -> Result<(), Error> {
        stamp_bytes(&mut self.buf, seq);
        for w in &mut self.writes {
            write_all_spin(w, &self.buf)?;
        }
        Ok(())
    }

    fn recv_all(&mut self) -> Result<u64, Error> {
        let mut seq = None;
        for r in &mut self.reads {
            read_exact_spin(r, &mut self.buf)?;
            let got = seqs_bytes(&self.buf);
            agree(&mut seq, got)?;
        }
        Ok(seq.unwrap_or(0))
    }
}

// ---------------------------------------------------------------------------- the floors

/// Word layout of a floor region: ping flags of up to 8 receivers on their own cache
/// lines, the pong flag, then the two payloads.
const PONG_FLAG: usize = 64;
const PAYLOAD: usize = 128;

/// Bytes of a floor region for `size`-byte payloads.
pub fn floor_region_bytes(size: usize) -> usize {
    PAYLOAD * 8 + 2 * size.next_multiple_of(64)
}

/// The physical floor: flags and payload in plain shared memory. Spinning: a cache-line
/// ping-pong through an atomic word; blocking: a raw futex ping-pong on the same words.
/// The sender writes the payload's first and last word, then the flag (release); the
/// receiver waits for the flag (acquire), then reads both words.
pub struct Floor {
    region: Region,
    size_words: usize,
    pinger: bool,
    subscribers: usize,
    wait: Wait,
    last: u64,
}

impl Floor {
    /// Opens (`pinger == false`) or wraps (`pinger`) the region.
    pub fn new(region: Region, size: usize, setup: &Setup, pinger: bool) -> Self {
        Self {
            region,
            size_words: size.next_multiple_of(64) / 8,
            pinger,
            subscribers: setup.subscribers.max(1),
            wait: setup.wait,
            last: 0,
        }
    }

    fn payload(&self, outgoing: bool) -> usize {
        // The ping side's outgoing payload is the first one.
        if outgoing == self.pinger {
            PAYLOAD
        } else {
            PAYLOAD + self.size_words
        }
    }

    fn flags_out(&self) -> Vec<usize> {
        if self.pinger {
            (0..self.subscribers).map(|i| i * 8).collect()
        } else {
            vec![PONG_FLAG]
        }
    }

    fn flags_in(&self) -> Vec<usize> {
        if self.pinger {
            vec![PONG_FLAG]
        } else {
            (0..self.subscribers).map(|i| i * 8).collect()
        }
    }
}

impl Duplex for Floor {
    fn send(&mut self, seq: u64) -> Result<(), Error> {
        use std::sync::atomic::Ordering::{Relaxed, Release};
        let words = self.region.words();
        let p = self.payload(true);
        words[p].store(seq, Relaxed);
        words[p + self.size_words - 1].store(seq, Relaxed);
        for flag in self.flags_out() {
            match self.wait {
                Wait::Spin => words[flag].store(seq, Release),
                Wait::Block => {
                    let word = self.region.futex_word(flag);
                    word.store(seq as u32, Release);
                    rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), 1)?;
                }
            }
        }
        Ok(())
    }

    fn recv_all(&mut self) -> Result<u64, Error> {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        let words = self.region.words();
        let mut seq = 0;
        for flag in self.flags_in() {
            seq = match self.wait {
                Wait::Spin => loop {
                    let v = words[flag].load(Acquire);
                    if v != self.last {
                        break v;
                    }
                    std::hint::spin_loop();
                },
                Wait::Block => {
                    let word = self.region.futex_word(flag);
                    loop {
                        let v = word.load(Acquire);
                        if u64::from(v) != self.last {
                            break u64::from(v);
                        }
                        match rustix::thread::futex::wait(
                            word,
                            rustix::thread::futex::Flags::empty(),
                            v,
                            None,
                        ) {
                            Ok(()) | Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
            };
        }
        self.last = seq;
        let p = self.payload(false);
        let got = (
            words[p].load(Relaxed),
            words[p + self.size_words - 1].load(Relaxed),
        );
        if seq != 0 {
            check(got, seq)?;
        }
        Ok(seq)
    }
}
