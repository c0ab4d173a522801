//! `shmbus pub SERVICE JSON`: publishes values given as JSON (or read from standard
//! input, one per line), each checked through the service's descriptor before it is sent.

use std::io::BufRead as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use shmbus::Service;
use shmbus::message::Value;
use shmbus::port::RawPublisher;
use shmbus::service::Pattern;

use crate::common::{CliError, Global, Result, find, seconds};

/// `shmbus pub`.
#[derive(Debug, Args)]
pub(crate) struct PubArgs {
    /// The publish-subscribe service.
    service: String,
    /// The value, as JSON (an object with the message's fields); `-` or none: one value per
    /// line from standard input.
    #[arg(value_name = "JSON")]
    value: Option<String>,
    /// Publish at this rate, in samples per second (default: as fast as given).
    #[arg(long, value_name = "HZ")]
    rate: Option<f64>,
    /// Publish the value N times (default: once; with --rate, until Ctrl-C).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Wait at most this long for a subscriber before the first sample.
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "1")]
    wait: Duration,
}

pub(crate) fn run(global: &Global, args: &PubArgs) -> Result<ExitCode> {
    let config = global.config()?;
    find(&config, &args.service, Pattern::PublishSubscribe)?;
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(CliError::new(
            "--rate must be a positive number of samples per second",
        ));
    }
    let node = global.node("pub")?;
    let service = Service::raw_publish_subscribe(&node, &args.service).open()?;
    let publisher = service.publisher().create()?;
    // Samples sent before anyone subscribes go to nobody: give subscribers a moment.
    let deadline = Instant::now() + args.wait;
    while publisher.subscriber_count() == 0 && Instant::now() < deadline {
        if node.wait(Duration::from_millis(10)).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if publisher.subscriber_count() == 0 {
        eprintln!(
            "note: {:?} has no subscriber yet; publishing anyway",
            args.service
        );
    }
    let period = args.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let mut pacer = Pacer::new(period);
    let mut sent = 0u64;
    match args.value.as_deref() {
        Some(text) if text != "-" => {
            let value = parse(text)?;
            let count = args
                .count
                .unwrap_or(if period.is_some() { u64::MAX } else { 1 });
            while sent < count {
                if !pacer.wait(&node) {
                    break;
                }
                publish(global, &publisher, &value, &mut sent)?;
            }
        }
        _ => {
            for line in std::io::stdin().lock().lines() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let value = parse(&line)?;
                if !pacer.wait(&node) {
                    break;
                }
                publish(global, &publisher, &value, &mut sent)?;
                if args.count.is_some_and(|n| sent >= n) {
                    break;
                }
            }
        }
    }
    if !global.json {
        eprintln!("published {sent} sample(s) to {:?}", args.service);
    }
    Ok(ExitCode::SUCCESS)
}

fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| CliError::new(format!("invalid JSON: {e}")))
}

fn publish(global: &Global, publisher: &RawPublisher, value: &Value, sent: &mut u64) -> Result<()> {
    let delivered = publisher.send_value(value)?;
    *sent += 1;
    if global.json {
        println!("{}", json!({ "sample": *sent, "subscribers": delivered }));
    } else {
        println!("sent #{} to {delivered} subscriber(s)", *sent);
    }
    Ok(())
}

/// Keeps a rate: each `wait` returns at the next multiple of the period (at once without
/// one); `false` when the program was asked to stop.
struct Pacer {
    period: Option<Duration>,
    next: Instant,
}

impl Pacer {
    fn new(period: Option<Duration>) -> Self {
        Self {
            period,
            next: Instant::now(),
        }
    }

    fn wait(&mut self, node: &shmbus::Node) -> bool {
        if let Some(period) = self.period {
            let now = Instant::now();
            if self.next > now && node.wait(self.next - now).is_err() {
                return false;
            }
            self.next = self.next.max(now) + period;
        }
        !node.termination_requested()
    }
}
