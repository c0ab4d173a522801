//! One publisher and one subscriber in one process, sending and receiving a `Word` in a
//! loop: the instructions of the pub-sub path without the cache-line transfers, for
//! `valgrind --tool=callgrind`, which counts them repeatably on a noisy machine.
//!
//! ```sh
//! cargo build --release -p shmbus-benchmarks --example send_receive
//! valgrind --tool=callgrind target/release/examples/send_receive shmbus 100000
//! valgrind --tool=callgrind target/release/examples/send_receive iceoryx2 100000
//! valgrind --tool=callgrind target/release/examples/send_receive shmbus-rr 100000
//! ```
//!
//! `shmbus-rr` is a request-response round trip (request, response, end of the stream)
//! with one client and one server.
//!
//! Run both with 1,000 and 101,000 messages: the difference / 100,000 is the cost of one
//! message, setup excluded.

use iceoryx2::prelude::*;
use shmbus::{Config, Node, Service};
use shmbus_benchmarks::links::Error;
use shmbus_benchmarks::msg::{Msg, Word};

fn shmbus_loop(n: u64) -> Result<(), Error> {
    let config = Config::default().with_domain(format!("sendrecv{}", std::process::id()))?;
    let node = Node::builder().config(config).create()?;
    let service = Service::publish_subscribe::<Word>(&node, "send/receive")
        .max_publishers(1)
        .max_subscribers(1)
        .subscriber_buffer(2)
        .create()?;
    let subscriber = service.subscriber().create()?;
    let publisher = service.publisher().create()?;
    for seq in 1..=n {
        let mut sample = publisher.loan_recycled()?;
        sample.stamp(seq);
        sample.send()?;
        let sample = subscriber.receive()?.ok_or("no sample")?;
        if sample.seqs() != (seq, seq) {
            return Err(format!("received {:?}, expected {seq}", sample.seqs()).into());
        }
    }
    Ok(())
}

fn shmbus_rr_loop(n: u64) -> Result<(), Error> {
    let config = Config::default().with_domain(format!("sendrecv{}", std::process::id()))?;
    let node = Node::builder().config(config).create()?;
    let service = Service::request_response::<Word, Word>(&node, "send/receive").create()?;
    let server = service.server().create()?;
    let client = service.client().create()?;
    for seq in 1..=n {
        let mut request = client.loan_recycled()?;
        request.stamp(seq);
        let pending = request.send()?;
        let request = server.receive()?.ok_or("no request")?;
        let mut response = request.loan_recycled()?;
        response.stamp(request.seq);
        response.send()?;
        drop(request);
        let response = pending.receive()?.ok_or("no response")?;
        if response.seqs() != (seq, seq) {
            return Err(format!("received {:?}, expected {seq}", response.seqs()).into());
        }
    }
    Ok(())
}

fn iceoryx2_loop(n: u64) -> Result<(), Error> {
    let node = NodeBuilder::new().create::<ipc::Service>()?;
    let name = format!("sendrecv{}", std::process::id());
    let service = node
        .service_builder(&name.as_str().try_into()?)
        .publish_subscribe::<Word>()
        .max_publishers(1)
        .max_subscribers(1)
        .subscriber_max_buffer_size(2)
        .create()?;
    let subscriber = service.subscriber_builder().create()?;
    let publisher = service.publisher_builder().create()?;
    for seq in 1..=n {
        let sample = publisher.loan_uninit()?;
        let sample = sample.write_payload(Word { seq });
        sample.send()?;
        let sample = subscriber.receive()?.ok_or("no sample")?;
        if sample.seqs() != (seq, seq) {
            return Err(format!("received {:?}, expected {seq}", sample.seqs()).into());
        }
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "shmbus".into());
    let n: u64 = args.next().map_or(Ok(100_000), |s| s.parse())?;
    match which.as_str() {
        "shmbus" => shmbus_loop(n),
        "iceoryx2" => iceoryx2_loop(n),
        "shmbus-rr" => shmbus_rr_loop(n),
        other => Err(format!("unknown transport {other}: shmbus, iceoryx2 or shmbus-rr").into()),
    }
}
