//! Busy-polling latency loops: a ping-pong over two publish-subscribe services, and calls
//! of a request-response service.
//!
//! The pinging side publishes on `<name>/ping` and waits for the same sequence number to
//! come back on `<name>/pong`; the ponging side answers each ping. Both write the
//! message's first and last 8 bytes and read them back, so a large message costs what its
//! transport costs, not what copying it would. Loans are [`loan_recycled`]: nothing is
//! zeroed or copied, which is what makes 1 MiB cost what 8 B cost.
//!
//! [`loan_recycled`]: shmbus::Publisher::loan_recycled

use std::time::{Duration, Instant};

use shmbus::{Node, Service, ShmMessage};

pub use crate::Error;

/// A payload of `N` bytes whose first and last words carry the sequence number.
#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Payload<const N: usize> {
    /// The sequence number (0 ends the exchange).
    pub seq: u64,
    /// The rest of the message.
    pub data: [u8; N],
    /// The sequence number again, so the receiver reads the last cache line too.
    pub tail: u64,
}

/// 8 bytes of payload besides the two sequence words.
pub type Small = Payload<8>;
/// 1 MiB in all.
pub type Big = Payload<{ (1 << 20) - 16 }>;

/// One-way latency figures of a run, in nanoseconds (round trip / 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// The median.
    pub median_ns: f64,
    /// The 99th percentile.
    pub p99_ns: f64,
    /// Round trips measured (after the warm-up).
    pub rounds: usize,
}

impl Latency {
    fn from_samples(mut ns: Vec<f64>) -> Self {
        ns.sort_by(f64::total_cmp);
        let at = |q: f64| ns[((ns.len() - 1) as f64 * q).round() as usize];
        Self {
            median_ns: at(0.5),
            p99_ns: at(0.99),
            rounds: ns.len(),
        }
    }
}

const WARM_UP: u64 = 200;

/// Pings `rounds` times over `<name>/ping` and `<name>/pong` (after a warm-up) and ends
/// the exchange; the ponging side must run [`pong`] with the same `name` and `N`.
pub fn ping<const N: usize>(node: &Node, name: &str, rounds: usize) -> Result<Latency, Error> {
    let out =
        Service::publish_subscribe::<Payload<N>>(node, &format!("{name}/ping")).open_or_create()?;
    let back =
        Service::publish_subscribe::<Payload<N>>(node, &format!("{name}/pong")).open_or_create()?;
    let publisher = out.publisher().create()?;
    let subscriber = back.subscriber().create()?;
    // The other side subscribes before it publishes: once its publisher is visible, its
    // subscriber exists and nothing sent from now on is lost.
    let deadline = Instant::now() + Duration::from_secs(60);
    while subscriber.publishers().is_empty() {
        if Instant::now() > deadline {
            return Err(format!("nobody answers on {name}/pong").into());
        }
        node.wait(Duration::from_millis(1))?;
    }
    let mut times = Vec::with_capacity(rounds);
    for seq in 1..=(rounds as u64 + WARM_UP) {
        let start = Instant::now();
        let mut sample = publisher.loan_recycled()?;
        sample.seq = seq;
        sample.tail = seq;
        sample.send()?;
        loop {
            if let Some(sample) = subscriber.receive()? {
                if sample.seq == seq && sample.tail == seq {
                    break;
                }
            } else {
                shmbus::os::signal::check()?;
                std::hint::spin_loop();
            }
        }
        if seq > WARM_UP {
            times.push(start.elapsed().as_nanos() as f64 / 2.0);
        }
    }
    let mut end = publisher.loan_recycled()?;
    end.seq = 0;
    end.send()?;
    Ok(Latency::from_samples(times))
}

/// Answers pings on `<name>/ping` until the end marker.
pub fn pong<const N: usize>(node: &Node, name: &str) -> Result<(), Error> {
    let inbound =
        Service::publish_subscribe::<Payload<N>>(node, &format!("{name}/ping")).open_or_create()?;
    let outbound =
        Service::publish_subscribe::<Payload<N>>(node, &format!("{name}/pong")).open_or_create()?;
    let subscriber = inbound.subscriber().create()?;
    let publisher = outbound.publisher().create()?;
    loop {
        let Some(sample) = subscriber.receive()? else {
            shmbus::os::signal::check()?;
            std::hint::spin_loop();
            continue;
        };
        let (seq, tail) = (sample.seq, sample.tail);
        drop(sample);
        if seq == 0 {
            return Ok(());
        }
        let mut reply = publisher.loan_recycled()?;
        reply.seq = seq;
        reply.tail = tail;
        reply.send()?;
    }
}

/// The request-response service of [`call`] and [`serve`]: one client, one server, one
/// request in flight, as small as a call loop needs.
fn call_service<const N: usize>(
    node: &Node,
    name: &str,
) -> Result<shmbus::RequestResponseService<Payload<N>, Payload<N>>, Error> {
    Ok(
        Service::request_response::<Payload<N>, Payload<N>>(node, name)
            .max_clients(1)
            .max_servers(1)
            .max_active_requests_per_client(1)
            .response_buffer(1)
            .max_borrowed_responses(1)
            .open_or_create()?,
    )
}

/// Makes `rounds` busy-polling calls on the request-response service `name` (after a
/// warm-up) and ends the exchange; the serving side must run [`serve`] with the same
/// `name` and `N`. The figures are whole round trips (request there, response back).
pub fn call<const N: usize>(node: &Node, name: &str, rounds: usize) -> Result<Latency, Error> {
    let service = call_service::<N>(node, name)?;
    let client = service.client().create()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client.has_servers() {
        if Instant::now() > deadline {
            return Err(format!("nobody serves {name}").into());
        }
        node.wait(Duration::from_millis(1))?;
    }
    let mut times = Vec::with_capacity(rounds);
    for seq in 1..=(rounds as u64 + WARM_UP) {
        let start = Instant::now();
        let mut request = client.loan_recycled()?;
        request.seq = seq;
        request.tail = seq;
        let pending = request.send()?;
        loop {
            if let Some(response) = pending.receive()? {
                if response.seq == seq && response.tail == seq {
                    break;
                }
            } else {
                shmbus::os::signal::check()?;
                std::hint::spin_loop();
            }
        }
        drop(pending);
        if seq > WARM_UP {
            times.push(start.elapsed().as_nanos() as f64);
        }
    }
    let mut end = client.loan_recycled()?;
    end.seq = 0;
    end.send_oneway()?;
    Ok(Latency::from_samples(times))
}

/// Answers calls on `name` until the end marker (a one-way request with sequence 0).
pub fn serve<const N: usize>(node: &Node, name: &str) -> Result<(), Error> {
    let service = call_service::<N>(node, name)?;
    let server = service.server().create()?;
    loop {
        let Some(request) = server.receive()? else {
            shmbus::os::signal::check()?;
            std::hint::spin_loop();
            continue;
        };
        if request.seq == 0 {
            return Ok(());
        }
        let mut response = request.loan_recycled()?;
        response.seq = request.seq;
        response.tail = request.tail;
        response.send()?;
    }
}
