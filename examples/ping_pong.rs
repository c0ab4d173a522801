//! A first latency check: a busy-polling ping-pong with a child process over two
//! publish-subscribe services, and request-response calls, for 8 B and 1 MiB messages.
//! `cargo run --release --example ping_pong [ROUNDS]`
//!
//! Prints the median and 99th percentile of the one-way latency (round trip / 2). The full,
//! side-by-side benchmarks (iceoryx2, sockets, pipes) are in `benchmarks/`.

use std::process::{Command, ExitCode, Stdio};

use shmbus::{Config, Node};
use shmbus_examples::latency::{self, Big, Small};
use shmbus_examples::{Children, Error};

fn main() -> ExitCode {
    shmbus_examples::main(run)
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("pong") {
        let node = Node::builder()
            .name("pong")
            .signal_handling(true)
            .create()?;
        latency::pong::<8>(&node, "ping-pong/small")?;
        latency::pong::<{ (1 << 20) - 16 }>(&node, "ping-pong/big")?;
        latency::serve::<8>(&node, "ping-pong/call-small")?;
        return latency::serve::<{ (1 << 20) - 16 }>(&node, "ping-pong/call-big");
    }
    let rounds: usize = match args.get(1) {
        Some(n) => n
            .parse()
            .map_err(|_| format!("ROUNDS must be a number, not {n:?}"))?,
        None => 20_000,
    };
    let domain = format!("pingpong{}", std::process::id());
    let node = Node::builder()
        .name("ping")
        .config(Config::from_env()?.with_domain(&domain)?)
        .signal_handling(true)
        .create()?;
    let mut children = Children::default();
    let child = children.add(
        Command::new(std::env::current_exe()?)
            .arg("pong")
            .env("SHMBUS_DOMAIN", &domain)
            .stdout(Stdio::null())
            .spawn()?,
    );
    let small = latency::ping::<8>(&node, "ping-pong/small", rounds)?;
    let big = latency::ping::<{ (1 << 20) - 16 }>(&node, "ping-pong/big", rounds)?;
    let call_small = latency::call::<8>(&node, "ping-pong/call-small", rounds)?;
    let call_big = latency::call::<{ (1 << 20) - 16 }>(&node, "ping-pong/call-big", rounds)?;
    children.finish(child)?;
    println!("one-way latency, busy-polling, {rounds} round trips each (round trip / 2):");
    for (what, size, l) in [
        ("8 B  ", size_of::<Small>(), small),
        ("1 MiB", size_of::<Big>(), big),
    ] {
        println!(
            "  {what} ({size:>7} B message): median {:>7.0} ns   p99 {:>7.0} ns",
            l.median_ns, l.p99_ns
        );
    }
    println!(
        "  1 MiB / 8 B median: {:.2} (1.0 = zero-copy: the size costs nothing)",
        big.median_ns / small.median_ns
    );
    println!("request-response round trip (request there, response back), busy-polling:");
    for (what, l) in [("8 B  ", call_small), ("1 MiB", call_big)] {
        println!(
            "  {what}: median {:>7.0} ns   p99 {:>7.0} ns",
            l.median_ns, l.p99_ns
        );
    }
    Ok(())
}
