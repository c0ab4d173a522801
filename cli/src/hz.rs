//! `shmbus hz SERVICE`: the rate of a publish-subscribe service, once a second: samples per
//! second, mean / min / max period and its standard deviation over a window of samples,
//! samples missed (overwritten before they were read, or gaps in a publisher's sequence),
//! and bytes per second.

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use shmbus::Service;
use shmbus::port::ReceiveError;
use shmbus::service::Pattern;

use crate::common::{Global, Result, find, seconds};

/// `shmbus hz`.
#[derive(Debug, Args)]
pub(crate) struct HzArgs {
    /// The publish-subscribe service.
    service: String,
    /// How many of the latest periods the statistics cover.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(2..))]
    window: u64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    duration: Option<Duration>,
}

/// What one report says.
struct Report {
    rate: f64,
    mean: f64,
    min: f64,
    max: f64,
    std_dev: f64,
    missed: u64,
    bytes_per_second: f64,
    samples: usize,
}

/// The statistics of arrival times (seconds) in the window; `None` with fewer than two.
fn statistics(arrivals: &VecDeque<f64>) -> Option<(f64, f64, f64, f64, f64)> {
    if arrivals.len() < 2 {
        return None;
    }
    let periods: Vec<f64> = arrivals
        .iter()
        .zip(arrivals.iter().skip(1))
        .map(|(a, b)| b - a)
        .collect();
    let n = periods.len() as f64;
    let mean = periods.iter().sum::<f64>() / n;
    let min = periods.iter().copied().fold(f64::INFINITY, f64::min);
    let max = periods.iter().copied().fold(0.0, f64::max);
    let variance = periods.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n;
    let rate = if mean > 0.0 { 1.0 / mean } else { 0.0 };
    Some((rate, mean, min, max, variance.sqrt()))
}

pub(crate) fn run(global: &Global, args: &HzArgs) -> Result<ExitCode> {
    let config = global.config()?;
    find(&config, &args.service, Pattern::PublishSubscribe)?;
    let node = global.node("hz")?;
    let service = Service::raw_publish_subscribe(&node, &args.service).open()?;
    let subscriber = service.subscriber().create()?;
    let started = Instant::now();
    let end = args.duration.map(|d| started + d);
    let window = args.window as usize + 1;
    let mut arrivals: VecDeque<f64> = VecDeque::with_capacity(window);
    let mut last_sequence: HashMap<u64, u64> = HashMap::new();
    let mut gaps = 0u64;
    let mut bytes = 0u64;
    let mut new_samples = 0usize;
    let mut next_report = started + Duration::from_secs(1);
    let mut measuring = false;
    loop {
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            break;
        }
        if now >= next_report {
            let missed = subscriber.missed() + gaps;
            let report = statistics(&arrivals).map(|(rate, mean, min, max, std_dev)| Report {
                rate,
                mean,
                min,
                max,
                std_dev,
                missed,
                bytes_per_second: bytes as f64,
                samples: new_samples,
            });
            print_report(global, report.as_ref(), new_samples)?;
            bytes = 0;
            new_samples = 0;
            next_report += Duration::from_secs(1);
            continue;
        }
        let until = end.map_or(next_report, |e| e.min(next_report));
        match subscriber.receive_timeout(until.saturating_duration_since(now)) {
            // The history a late joiner gets (or the sample in flight when it joined)
            // comes right before the next live one: the first sample of each publisher, and
            // a backlog before the timing starts, only start the clock.
            Ok(Some(sample))
                if !last_sequence.contains_key(&sample.publisher_id())
                    || (!measuring && subscriber.has_samples()) =>
            {
                last_sequence.insert(sample.publisher_id(), sample.sequence());
            }
            Ok(Some(sample)) => {
                measuring = true;
                let at = sample
                    .timestamp_ns()
                    .map_or_else(|| started.elapsed().as_secs_f64(), |t| t as f64 / 1e9);
                if arrivals.len() == window {
                    arrivals.pop_front();
                }
                arrivals.push_back(at);
                let previous = last_sequence.insert(sample.publisher_id(), sample.sequence());
                if let Some(previous) = previous {
                    gaps += sample.sequence().saturating_sub(previous + 1);
                }
                bytes += sample.bytes().len() as u64;
                new_samples += 1;
            }
            Ok(None) => {}
            Err(ReceiveError::Terminated(_)) => break,
            Err(ReceiveError::Invalid(error)) => eprintln!("warning: {error}"),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(global: &Global, report: Option<&Report>, new_samples: usize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match (report, global.json) {
        (Some(r), true) => writeln!(
            out,
            "{}",
            json!({
                "rate_hz": r.rate,
                "mean_period_s": r.mean,
                "min_period_s": r.min,
                "max_period_s": r.max,
                "std_dev_s": r.std_dev,
                "missed": r.missed,
                "bytes_per_second": r.bytes_per_second,
                "samples": r.samples,
            })
        )?,
        (Some(r), false) => writeln!(
            out,
            "rate {:.2} Hz  period mean {:.3} ms  min {:.3} ms  max {:.3} ms  std dev {:.3} ms  missed {}  {}/s  ({} new)",
            r.rate,
            r.mean * 1e3,
            r.min * 1e3,
            r.max * 1e3,
            r.std_dev * 1e3,
            r.missed,
            crate::render::bytes(r.bytes_per_second as u64),
            r.samples
        )?,
        (None, true) => writeln!(out, "{}", json!({ "samples": new_samples }))?,
        (None, false) => writeln!(out, "no samples yet")?,
    }
    out.flush()?;
    Ok(())
}
