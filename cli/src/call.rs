//! `shmbus call SERVICE JSON`: sends one request, given as JSON and checked through the
//! service's request type, and prints every response of the stream as it comes.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use shmbus::Service;
use shmbus::message::Value;
use shmbus::port::ResponseError;
use shmbus::service::Pattern;

use crate::common::{CliError, Global, Result, find, seconds};
use crate::render::value_text;

/// `shmbus call`.
#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// The request-response service.
    service: String,
    /// The request, as JSON (an object with the request type's fields).
    #[arg(value_name = "JSON")]
    value: String,
    /// Give up when no server is there, or no response comes, for this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "5")]
    timeout: Duration,
}

pub(crate) fn run(global: &Global, args: &CallArgs) -> Result<ExitCode> {
    let config = global.config()?;
    find(&config, &args.service, Pattern::RequestResponse)?;
    let request: Value = serde_json::from_str(&args.value)
        .map_err(|e| CliError::new(format!("invalid JSON: {e}")))?;
    let node = global.node("call")?;
    let service = Service::raw_request_response(&node, &args.service).open()?;
    let client = service.client().create()?;
    let deadline = Instant::now() + args.timeout;
    while client.server_count() == 0 {
        if Instant::now() >= deadline {
            return Err(CliError::new(format!(
                "{:?} has no server (waited {:.1} s)",
                args.service,
                args.timeout.as_secs_f64()
            )));
        }
        if node.wait(Duration::from_millis(10)).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let pending = client.send_value(&request)?;
    let mut responses = 0u64;
    let mut out = std::io::stdout().lock();
    loop {
        let response = match pending.receive_timeout(args.timeout) {
            Ok(Some(response)) => response,
            Ok(None) if pending.is_finished() => break,
            Ok(None) => {
                return Err(CliError::new(format!(
                    "no {} within {:.1} s ({responses} received)",
                    if responses == 0 {
                        "response"
                    } else {
                        "further response"
                    },
                    args.timeout.as_secs_f64()
                )));
            }
            Err(ResponseError::Terminated(_)) => return Ok(ExitCode::SUCCESS),
            Err(error) => return Err(error.into()),
        };
        responses += 1;
        let value = response.value()?;
        if global.json {
            let line = json!({
                "response": responses,
                "server": format!("{:016x}", response.server_id()),
                "value": serde_json::to_value(&value)?,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "--- response #{responses}")?;
            writeln!(out, "{}", value_text(&value))?;
        }
        out.flush()?;
    }
    if !global.json {
        writeln!(out, "--- end of stream ({responses} response(s))")?;
    }
    Ok(ExitCode::SUCCESS)
}
