//! The `bridge` scenario: a ping-pong (latency) and a one-way stream (throughput) between
//! two processes, each in its own shmbus domain, through two `shmbus-zenoh` bridges over
//! TCP on 127.0.0.1 — side by side with two plain Zenoh sessions moving the same payloads
//! over the same transport. Each process runs
//! its bridge in-process (the library), as `shmbus-bridge` does.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use shmbus::{Config, Node, Service};
use shmbus_zenoh::{Bridge, BridgeConfig, ServicePattern};
use zenoh::Wait;

use crate::links::Error;
use crate::msg::{Msg, seqs_bytes};
use crate::tput::{Counter, Mode};

/// A guard against hangs only.
const GUARD: Duration = Duration::from_secs(60);

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn bridge(
    config: &Config,
    port: u16,
    listen: bool,
    export: Option<&str>,
    import: Option<&str>,
) -> Result<Bridge, Error> {
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let (listen, connect) = if listen {
        (vec![endpoint], Vec::new())
    } else {
        (Vec::new(), vec![endpoint])
    };
    Ok(Bridge::start(
        config.clone(),
        BridgeConfig {
            listen,
            connect,
            export: export.into_iter().map(ServicePattern::new).collect(),
            import: import.into_iter().map(ServicePattern::new).collect(),
            ..BridgeConfig::default()
        },
    )?)
}

fn zenoh_session(port: u16, listen: bool) -> Result<zenoh::Session, Error> {
    let mut c = zenoh::Config::default();
    let endpoint = format!("[\"tcp/127.0.0.1:{port}\"]");
    let (l, k) = if listen {
        (endpoint.as_str(), "[]")
    } else {
        ("[]", endpoint.as_str())
    };
    c.insert_json5("listen/endpoints", l)?;
    c.insert_json5("connect/endpoints", k)?;
    c.insert_json5("scouting/multicast/enabled", "false")?;
    zenoh::open(c).wait()
}

/// Opens the service once the bridge imported it.
fn imported<M: Msg>(node: &Node, name: &str) -> Result<shmbus::PubSubService<M>, Error> {
    let start = Instant::now();
    loop {
        match Service::publish_subscribe::<M>(node, name).open() {
            Ok(s) => return Ok(s),
            Err(shmbus::service::ServiceOpenError::NotFound { .. }) if start.elapsed() < GUARD => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The measuring side through the bridges: `warm + iters` pings; one-way ns (round
/// trip / 2) of the last `iters`.
pub fn ping_shmbus<M: Msg>(
    config: &Config,
    tag: &str,
    port: u16,
    warm: usize,
    iters: usize,
) -> Result<Vec<f64>, Error> {
    let (ping, pong) = (format!("bench/{tag}/ping"), format!("bench/{tag}/pong"));
    let node = Node::builder()
        .name("ping")
        .config(config.clone())
        .create()?;
    let out = Service::publish_subscribe::<M>(&node, &ping)
        .subscriber_buffer(2)
        .create()?;
    let publisher = out.publisher().create()?;
    let bridge = bridge(config, port, true, Some(ping.as_str()), Some(pong.as_str()))?;
    let back = imported::<M>(&node, &pong)?;
    let subscriber = back.subscriber().create()?;
    // The path is up once an echo comes back.
    let start = Instant::now();
    loop {
        let mut sample = publisher.loan_recycled()?;
        sample.stamp(u64::MAX);
        sample.send()?;
        if subscriber
            .receive_timeout(Duration::from_millis(50))?
            .is_some()
        {
            break;
        }
        if start.elapsed() > GUARD {
            return Err("the bridges never connected".into());
        }
    }
    while subscriber.receive()?.is_some() {}
    let mut times = Vec::with_capacity(iters);
    for seq in 1..=(warm + iters) as u64 {
        let t = Instant::now();
        let mut sample = publisher.loan_recycled()?;
        sample.stamp(seq);
        sample.send()?;
        loop {
            let got = subscriber
                .receive_timeout(GUARD)?
                .ok_or("no echo within a minute")?;
            if got.seqs() == (seq, seq) {
                break;
            }
        }
        if seq > warm as u64 {
            times.push(t.elapsed().as_nanos() as f64 / 2.0);
        }
    }
    let mut end = publisher.loan_recycled()?;
    end.stamp(0);
    end.send()?;
    // Give the end marker time to cross before the bridge goes (the peer also ends on
    // its guard).
    std::thread::sleep(Duration::from_millis(100));
    drop((subscriber, back, publisher, out));
    bridge.stop()?;
    Ok(times)
}

/// The peer through the bridges: echoes every ping until the end marker (seq 0).
pub fn pong_shmbus<M: Msg>(config: &Config, tag: &str, port: u16) -> Result<(), Error> {
    let (ping, pong) = (format!("bench/{tag}/ping"), format!("bench/{tag}/pong"));
    let node = Node::builder()
        .name("pong")
        .config(config.clone())
        .create()?;
    let out = Service::publish_subscribe::<M>(&node, &pong)
        .subscriber_buffer(2)
        .create()?;
    let publisher = out.publisher().create()?;
    let bridge = bridge(
        config,
        port,
        false,
        Some(pong.as_str()),
        Some(ping.as_str()),
    )?;
    let inbound = imported::<M>(&node, &ping)?;
    let subscriber = inbound.subscriber().create()?;
    loop {
        let Some(sample) = subscriber.receive_timeout(GUARD)? else {
            break;
        };
        let (seq, _) = sample.seqs();
        drop(sample);
        if seq == 0 {
            break;
        }
        let mut echo = publisher.loan_recycled()?;
        echo.stamp(seq);
        echo.send()?;
    }
    drop((subscriber, inbound, publisher, out));
    bridge.stop()?;
    Ok(())
}

/// The measuring side with plain Zenoh: the same payloads, a publisher and a subscriber
/// per direction.
pub fn ping_zenoh(
    size: usize,
    tag: &str,
    port: u16,
    warm: usize,
    iters: usize,
) -> Result<Vec<f64>, Error> {
    let session = zenoh_session(port, true)?;
    let publisher = session
        .declare_publisher(format!("zbench/{tag}/ping"))
        .congestion_control(zenoh::qos::CongestionControl::Block)
        .wait()?;
    let subscriber = session
        .declare_subscriber(format!("zbench/{tag}/pong"))
        .wait()?;
    let mut buf = vec![0u8; size];
    let start = Instant::now();
    loop {
        crate::msg::stamp_bytes(&mut buf, u64::MAX);
        publisher.put(buf.clone()).wait()?;
        if subscriber
            .recv_timeout(Duration::from_millis(50))?
            .is_some()
        {
            break;
        }
        if start.elapsed() > GUARD {
            return Err("the zenoh peer never answered".into());
        }
    }
    while subscriber.try_recv()?.is_some() {}
    let mut times = Vec::with_capacity(iters);
    for seq in 1..=(warm + iters) as u64 {
        let t = Instant::now();
        crate::msg::stamp_bytes(&mut buf, seq);
        publisher.put(buf.clone()).wait()?;
        loop {
            let got = subscriber
                .recv_timeout(GUARD)?
                .ok_or("no echo within a minute")?;
            let bytes = got.payload().to_bytes();
            if seqs_bytes(&bytes) == (seq, seq) {
                break;
            }
        }
        if seq > warm as u64 {
            times.push(t.elapsed().as_nanos() as f64 / 2.0);
        }
    }
    crate::msg::stamp_bytes(&mut buf, 0);
    publisher.put(buf).wait()?;
    std::thread::sleep(Duration::from_millis(100));
    session.close().wait()?;
    Ok(times)
}

/// The plain Zenoh peer: echoes until the end marker.
pub fn pong_zenoh(tag: &str, port: u16) -> Result<(), Error> {
    let session = zenoh_session(port, false)?;
    let publisher = session
        .declare_publisher(format!("zbench/{tag}/pong"))
        .congestion_control(zenoh::qos::CongestionControl::Block)
        .wait()?;
    let subscriber = session
        .declare_subscriber(format!("zbench/{tag}/ping"))
        .wait()?;
    while let Some(sample) = subscriber.recv_timeout(GUARD)? {
        let bytes = sample.payload().to_bytes().into_owned();
        if seqs_bytes(&bytes).0 == 0 {
            break;
        }
        publisher.put(bytes).wait()?;
    }
    session.close().wait()?;
    Ok(())
}

/// Seconds the throughput sender publishes before the measured window (the bridges find
/// the service and connect meanwhile).
const TPUT_LEAD: Duration = Duration::from_millis(1500);

/// The receiving side of the throughput case through the bridges: messages per second.
pub fn tput_receive_shmbus<M: Msg>(config: &Config, tag: &str, port: u16) -> Result<f64, Error> {
    let name = format!("bench/{tag}/tput");
    let node = Node::builder()
        .name("sink")
        .config(config.clone())
        .create()?;
    let bridge = bridge(config, port, true, None, Some(name.as_str()))?;
    let service = imported::<M>(&node, &name)?;
    let subscriber = service.subscriber().create()?;
    // Every message must arrive, in order: Block end to end.
    let mut counter = Counter::new(Mode::Lossless);
    let rate = loop {
        let sample = subscriber
            .receive_timeout(GUARD)?
            .ok_or("no sample within a minute")?;
        if counter.record(sample.seqs())? {
            break counter.rate();
        }
    };
    drop((subscriber, service));
    bridge.stop()?;
    Ok(rate)
}

/// The sending side through the bridges: publishes as fast as the path takes them
/// (`Block` end to end) for the lead time and `window`, then end markers.
pub fn tput_send_shmbus<M: Msg>(
    config: &Config,
    tag: &str,
    port: u16,
    window: Duration,
) -> Result<(), Error> {
    let name = format!("bench/{tag}/tput");
    let node = Node::builder()
        .name("source")
        .config(config.clone())
        .create()?;
    let service = Service::publish_subscribe::<M>(&node, &name)
        .subscriber_buffer(64)
        .overflow(shmbus::service::OverflowPolicy::Block)
        .create()?;
    let publisher = service.publisher().create()?;
    let bridge = bridge(config, port, false, Some(name.as_str()), None)?;
    let end = Instant::now() + TPUT_LEAD + window;
    let mut seq = 1;
    while Instant::now() < end {
        let mut sample = publisher.loan_recycled()?;
        sample.stamp(seq);
        sample.send()?;
        seq += 1;
    }
    for _ in 0..20 {
        let mut sample = publisher.loan_recycled()?;
        sample.stamp(0);
        sample.send()?;
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    drop((publisher, service));
    bridge.stop()?;
    Ok(())
}

/// The receiving side with plain Zenoh.
pub fn tput_receive_zenoh(tag: &str, port: u16) -> Result<f64, Error> {
    let session = zenoh_session(port, true)?;
    let subscriber = session
        .declare_subscriber(format!("zbench/{tag}/tput"))
        .wait()?;
    let mut counter = Counter::new(Mode::Lossless);
    let rate = loop {
        let sample = subscriber
            .recv_timeout(GUARD)?
            .ok_or("no sample within a minute")?;
        if counter.record(seqs_bytes(&sample.payload().to_bytes()))? {
            break counter.rate();
        }
    };
    session.close().wait()?;
    Ok(rate)
}

/// The sending side with plain Zenoh (`CongestionControl::Block`).
pub fn tput_send_zenoh(size: usize, tag: &str, port: u16, window: Duration) -> Result<(), Error> {
    let session = zenoh_session(port, false)?;
    let publisher = session
        .declare_publisher(format!("zbench/{tag}/tput"))
        .congestion_control(zenoh::qos::CongestionControl::Block)
        .wait()?;
    let mut buf = vec![0u8; size];
    let end = Instant::now() + TPUT_LEAD + window;
    let mut seq = 1;
    while Instant::now() < end {
        crate::msg::stamp_bytes(&mut buf, seq);
        publisher.put(buf.clone()).wait()?;
        seq += 1;
    }
    for _ in 0..20 {
        crate::msg::stamp_bytes(&mut buf, 0);
        publisher.put(buf.clone()).wait()?;
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    session.close().wait()?;
    Ok(())
}
