//! Publishes a counter on `examples/counter` every 100 ms. Run it next to
//! `cargo run --example subscriber` in a second terminal:
//! `cargo run --example publisher`. Ctrl-C (or SIGTERM) ends it cleanly: the loop ends,
//! the ports and the node are dropped, and nothing of it is left in `/dev/shm`.

use std::process::ExitCode;
use std::time::Duration;

use shmbus::{Node, Service, ShmMessage};
use shmbus_examples::Error;

/// The message both examples agree on.
#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
pub struct Counter {
    /// Increments by one per sample.
    pub count: u64,
    /// `count` squared, so the subscriber can check the sample.
    pub square: u64,
}

fn main() -> ExitCode {
    shmbus_examples::main(run)
}

fn run() -> Result<(), Error> {
    let node = Node::builder()
        .name("publisher")
        .signal_handling(true)
        .create()?;
    let service = Service::publish_subscribe::<Counter>(&node, "examples/counter")
        .history(1)
        .open_or_create()?;
    let publisher = service.publisher().create()?;
    println!(
        "publishing on examples/counter (domain {:?}); Ctrl-C to stop",
        node.config().domain()
    );
    let mut count = 0;
    while node.wait(Duration::from_millis(100)).is_ok() {
        let mut sample = publisher.loan()?;
        sample.count = count;
        sample.square = count * count;
        let subscribers = sample.send()?;
        println!("sent {count} to {subscribers} subscriber(s)");
        count += 1;
    }
    println!("stopped after {count} samples");
    Ok(())
}
