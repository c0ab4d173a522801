//! Receives the counter that `cargo run --example publisher` sends:
//! `cargo run --example subscriber`. Ctrl-C (or SIGTERM) ends it cleanly.

use std::process::ExitCode;
use std::time::Duration;

use shmbus::port::ReceiveError;
use shmbus::{Node, Service, ShmMessage};
use shmbus_examples::Error;

/// The message both examples agree on (declared again here: the layout hash, not the
/// crate path, decides whether two processes can talk).
#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
pub struct Counter {
    /// Increments by one per sample.
    pub count: u64,
    /// `count` squared.
    pub square: u64,
}

fn main() -> ExitCode {
    shmbus_examples::main(run)
}

fn run() -> Result<(), Error> {
    let node = Node::builder()
        .name("subscriber")
        .signal_handling(true)
        .create()?;
    let service = Service::publish_subscribe::<Counter>(&node, "examples/counter")
        .history(1)
        .open_or_create()?;
    let subscriber = service.subscriber().create()?;
    println!("waiting for samples on examples/counter; Ctrl-C to stop");
    loop {
        let received = match subscriber.receive_timeout(Duration::from_secs(1)) {
            Ok(received) => received,
            // Ctrl-C or SIGTERM: leave the loop; the ports are dropped on return.
            Err(ReceiveError::Terminated(stop)) => {
                println!("{stop}");
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        match received {
            Some(sample) => {
                let ok = sample.square == sample.count * sample.count;
                println!(
                    "received {} (sequence {}, {})",
                    sample.count,
                    sample.sequence(),
                    if ok { "valid" } else { "CORRUPT" }
                );
            }
            None => println!(
                "nothing for a second (missed so far: {})",
                subscriber.missed()
            ),
        }
    }
}
