//! Publishes a counter on `examples/counter` every 100 ms. Run it next to
//! `cargo run --example subscriber` in a second terminal:
//! `cargo run --example publisher`.

use std::time::Duration;

use shmbus::{Node, Service, ShmMessage};

/// The message both examples agree on.
#[derive(ShmMessage, Debug, Clone, Copy)]
#[repr(C)]
pub struct Counter {
    /// Increments by one per sample.
    pub count: u64,
    /// `count` squared, so the subscriber can check the sample.
    pub square: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder().name("publisher").create()?;
    let service = Service::publish_subscribe::<Counter>(&node, "examples/counter")
        .history(1)
        .open_or_create()?;
    let publisher = service.publisher().create()?;
    println!(
        "publishing on examples/counter (domain {:?}); Ctrl-C to stop",
        node.config().domain()
    );
    for count in 0.. {
        let mut sample = publisher.loan()?;
        sample.count = count;
        sample.square = count * count;
        let subscribers = sample.send()?;
        println!("sent {count} to {subscribers} subscriber(s)");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
