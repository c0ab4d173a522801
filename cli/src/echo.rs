//! `shmbus echo SERVICE`: subscribes and prints each sample decoded through the descriptor
//! the service stores, as indented text or one JSON object per line.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use shmbus::Service;
use shmbus::message::Value;
use shmbus::port::{RawSample, ReceiveError};
use shmbus::service::Pattern;

use crate::common::{CliError, Global, Result, find, seconds};
use crate::render::value_text;

/// `shmbus echo`.
#[derive(Debug, Args)]
pub(crate) struct EchoArgs {
    /// The publish-subscribe service.
    service: String,
    /// Stop after N samples (default: run until Ctrl-C).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Print only this field: a path such as `pose.position.x` or `points[2]`.
    #[arg(long, value_name = "PATH")]
    field: Option<String>,
    /// Give up (exit 1) when no sample comes for this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    timeout: Option<Duration>,
}

pub(crate) fn run(global: &Global, args: &EchoArgs) -> Result<ExitCode> {
    let config = global.config()?;
    find(&config, &args.service, Pattern::PublishSubscribe)?;
    let node = global.node("echo")?;
    let service = Service::raw_publish_subscribe(&node, &args.service).open()?;
    let subscriber = service.subscriber().create()?;
    if let Some(path) = &args.field {
        check_path(service.message_type(), path)?;
    }
    let mut printed = 0;
    while args.count.is_none_or(|n| printed < n) {
        let sample = match args.timeout {
            Some(timeout) => {
                let started = Instant::now();
                match subscriber.receive_timeout(timeout) {
                    Ok(Some(sample)) => Ok(sample),
                    Ok(None) => {
                        return Err(CliError::new(format!(
                            "no sample of {:?} within {:.1} s (received {printed})",
                            args.service,
                            started.elapsed().as_secs_f64()
                        )));
                    }
                    Err(e) => Err(e),
                }
            }
            None => subscriber.receive_blocking(),
        };
        match sample {
            Ok(sample) => {
                print_sample(global, args, &sample)?;
                printed += 1;
            }
            // Ctrl-C or SIGTERM: the end, not a failure.
            Err(ReceiveError::Terminated(_)) => break,
            // A publisher sent bytes that are not a valid message: say so, go on.
            Err(ReceiveError::Invalid(error)) => eprintln!("warning: {error}"),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Fails when `path` names no field of the message type (checked on the type's filler).
fn check_path(message: &shmbus::message::Descriptor, path: &str) -> Result<()> {
    let value = message.decode_value(&message.filler())?;
    // A vector is empty in the filler: only the part before the first index is checked.
    let head = path.split('[').next().unwrap_or(path);
    if value.pointer(head).is_none() {
        let fields = match &value {
            Value::Map(entries) => entries
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        return Err(CliError::new(format!(
            "`{}` has no field `{path}`; its fields are {fields}",
            message.name()
        )));
    }
    Ok(())
}

fn print_sample(global: &Global, args: &EchoArgs, sample: &RawSample<'_>) -> Result<()> {
    let value = sample.value()?;
    let shown = match &args.field {
        Some(path) => value.pointer(path).cloned().unwrap_or(Value::Null),
        None => value,
    };
    let mut out = std::io::stdout().lock();
    if global.json {
        let line = json!({
            "sequence": sample.sequence(),
            "publisher": format!("{:016x}", sample.publisher_id()),
            "timestamp_ns": sample.timestamp_ns(),
            "value": serde_json::to_value(&shown)?,
        });
        writeln!(out, "{line}")?;
    } else {
        let sent = sample
            .timestamp_ns()
            .map(|t| format!(", sent at {:.6} s", t as f64 / 1e9))
            .unwrap_or_default();
        writeln!(
            out,
            "--- #{} from publisher {:016x}{sent}",
            sample.sequence(),
            sample.publisher_id()
        )?;
        writeln!(out, "{}", value_text(&shown))?;
    }
    out.flush()?;
    Ok(())
}
