//! `shmbus record [SERVICE|GLOB ...]`: records services into an MCAP file that Foxglove and
//! the `mcap` tools open (OMG IDL schemas, CDR messages); `shmbus replay FILE` plays one
//! back. The work is done by the `shmbus-record` library; this module is its command
//! line: options, a live status line on a terminal, the report at the end.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde_json::json;
use shmbus_record::replayer::{ReplayEnd, parse_remap};
use shmbus_record::{
    RecordError, RecordOptions, RecordProgress, Recorder, ReplayOptions, ReplayProgress, Replayer,
    ServicePattern,
};

use crate::common::{CliError, Global, Result, seconds};
use crate::render::{Table, bytes};

/// `shmbus record`.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// Services to record: names, or glob patterns (`robot/*` within a segment, `robot/**`
    /// any depth, `?` one character) that also take in services appearing later.
    #[arg(value_name = "SERVICE|GLOB", required_unless_present = "all")]
    services: Vec<String>,
    /// Record every service of the domain, also those that appear while recording.
    #[arg(long, conflicts_with = "services")]
    all: bool,
    /// The file (default: `shmbus-YYYYMMDD-HHMMSS.mcap`, UTC, in the current folder).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    overwrite: bool,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    duration: Option<Duration>,
    /// Stop before the file passes this size: bytes, or with a unit (`500k`, `20MB`,
    /// `1GiB`).
    #[arg(long, value_name = "SIZE", value_parser = size)]
    max_size: Option<u64>,
    /// Close a chunk at least this often: what a killed recorder can lose.
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "1")]
    flush_interval: Duration,
    /// Write the chunks uncompressed (default: zstd).
    #[arg(long)]
    no_compression: bool,
}

/// `shmbus replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The MCAP file, recorded by `shmbus record`.
    file: PathBuf,
    /// Speed: 1 the recorded timing, 2 twice as fast, 0 as fast as possible.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    rate: f64,
    /// Start again at the end, until Ctrl-C.
    #[arg(long = "loop")]
    looped: bool,
    /// Skip the first SECONDS of the recording.
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "0")]
    start: Duration,
    /// Replay service OLD as service NEW (repeatable).
    #[arg(long, value_name = "OLD=NEW")]
    remap: Vec<String>,
    /// Replay only these services (names or glob patterns of the recorded names).
    #[arg(long, value_name = "SERVICE|GLOB", num_args = 1..)]
    services: Vec<String>,
}

pub(crate) fn record(global: &Global, args: &RecordArgs) -> Result<ExitCode> {
    let node = global.node("record")?;
    let path = args.output.clone().unwrap_or_else(default_file);
    let services = if args.all {
        vec![ServicePattern::everything()]
    } else {
        args.services.iter().map(ServicePattern::new).collect()
    };
    let options = RecordOptions {
        services,
        duration: args.duration,
        max_size: args.max_size,
        flush_interval: args.flush_interval,
        compress: !args.no_compression,
        overwrite: args.overwrite,
        ..RecordOptions::default()
    };
    let recorder = Recorder::create(&node, &path, options).map_err(|error| match error {
        RecordError::Exists { path } => CliError::new(format!(
            "{} exists; choose another file with -o, or pass --overwrite",
            path.display()
        )),
        error => error.into(),
    })?;
    let live = std::io::stderr().is_terminal() && !global.json;
    eprintln!("recording into {} (Ctrl-C to stop)", path.display());
    let mut waiting_said = false;
    let report = recorder.run(|p: &RecordProgress| {
        if !p.waiting_for.is_empty() && !waiting_said {
            eprintln!("waiting for {} to appear", p.waiting_for.join(", "));
            waiting_said = true;
        }
        if live {
            eprint!(
                "\r\x1b[K{:.1} s  {} channels  {} messages  {} in  {} written  {} missed",
                p.elapsed.as_secs_f64(),
                p.channels,
                p.messages,
                bytes(p.bytes),
                bytes(p.file_bytes),
                p.missed
            );
            let _ = std::io::stderr().flush();
        }
    })?;
    if live {
        eprintln!();
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let mut out = std::io::stdout().lock();
    if global.json {
        let channels: Vec<_> = report
            .channels
            .iter()
            .map(|c| {
                json!({
                    "topic": c.topic,
                    "service": c.service,
                    "role": c.role.word(),
                    "schema": c.schema,
                    "messages": c.messages,
                    "bytes": c.bytes,
                    "missed": c.missed,
                    "invalid": c.invalid,
                })
            })
            .collect();
        let line = json!({
            "file": report.path.display().to_string(),
            "stopped": report.stopped.text(),
            "seconds": report.elapsed.as_secs_f64(),
            "messages": report.messages,
            "file_bytes": report.file_bytes,
            "missed": report.missed,
            "channels": channels,
            "never_found": report.never_found,
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "recorded {} messages into {} ({}) in {:.1} s: {}",
            report.messages,
            report.path.display(),
            bytes(report.file_bytes),
            report.elapsed.as_secs_f64(),
            report.stopped.text()
        )?;
        if !report.channels.is_empty() {
            let mut table = Table::new(&["TOPIC", "SCHEMA", "MESSAGES", "BYTES", "MISSED"]);
            for c in &report.channels {
                table.row(vec![
                    c.topic.clone(),
                    c.schema.clone(),
                    c.messages.to_string(),
                    bytes(c.bytes),
                    c.missed.to_string(),
                ]);
            }
            write!(out, "{}", table.render(crate::render::terminal_width()))?;
        }
        writeln!(out, "missed by the recorder: {}", report.missed)?;
        if !report.never_found.is_empty() {
            writeln!(out, "never found: {}", report.never_found.join(", "))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn replay(global: &Global, args: &ReplayArgs) -> Result<ExitCode> {
    let remap = args
        .remap
        .iter()
        .map(|r| parse_remap(r))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let options = ReplayOptions {
        rate: args.rate,
        looped: args.looped,
        start: args.start,
        remap,
        services: args.services.iter().map(ServicePattern::new).collect(),
    };
    let node = global.node("replay")?;
    let replayer = Replayer::open(&node, &args.file, options)?;
    let live = std::io::stderr().is_terminal() && !global.json;
    let report = replayer.run(|p: &ReplayProgress| {
        if live {
            let length = p
                .length
                .map(|l| format!(" / {:.1}", l.as_secs_f64()))
                .unwrap_or_default();
            eprint!(
                "\r\x1b[K{:.1}{length} s  {} messages  {:.0} msg/s{}",
                p.position.as_secs_f64(),
                p.messages,
                p.rate,
                if p.rounds > 0 {
                    format!("  round {}", p.rounds + 1)
                } else {
                    String::new()
                }
            );
            let _ = std::io::stderr().flush();
        }
    });
    if live {
        eprintln!();
    }
    let report = report?;
    let ended = match report.ended {
        ReplayEnd::Finished => "end of file",
        ReplayEnd::Signal => "interrupted",
        ReplayEnd::Requested => "stopped",
    };
    let mut out = std::io::stdout().lock();
    if global.json {
        let line = json!({
            "file": args.file.display().to_string(),
            "ended": ended,
            "seconds": report.elapsed.as_secs_f64(),
            "messages": report.messages,
            "rounds": report.rounds,
            "no_server": report.no_server,
            "responses_skipped": report.responses_skipped,
            "filtered": report.filtered,
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "replayed {} messages from {} in {:.1} s: {ended}",
            report.messages,
            args.file.display(),
            report.elapsed.as_secs_f64()
        )?;
        if report.no_server > 0 {
            writeln!(
                out,
                "{} requests not sent: their service had no server",
                report.no_server
            )?;
        }
        if report.responses_skipped > 0 {
            writeln!(
                out,
                "{} recorded responses not replayed (a response goes to the client that asked)",
                report.responses_skipped
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A size on the command line: bytes, or with a unit (k, M, G: powers of 1000; KiB, MiB,
/// GiB: of 1024; a trailing `B` is optional).
fn size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (bytes, or with a unit: 500k, 20MB, 1GiB)"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit {other:?} (use k, MB, GiB, ...)")),
    };
    let bytes = number * factor;
    if !(1.0..=1e18).contains(&bytes) {
        return Err(format!("{text} is out of range"));
    }
    Ok(bytes as u64)
}

/// `shmbus-YYYYMMDD-HHMMSS.mcap`, in UTC.
fn default_file() -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    PathBuf::from(format!(
        "shmbus-{y:04}{m:02}{d:02}-{:02}{:02}{:02}.mcap",
        t / 3600,
        t / 60 % 60,
        t % 60
    ))
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01), by Howard
/// Hinnant's `civil_from_days` algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl From<shmbus_record::RecordError> for CliError {
    fn from(error: shmbus_record::RecordError) -> Self {
        Self::Library(Box::new(error))
    }
}

impl From<shmbus_record::ReplayError> for CliError {
    fn from(error: shmbus_record::ReplayError) -> Self {
        Self::Library(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units() {
        assert_eq!(size("1000"), Ok(1000));
        assert_eq!(size("500k"), Ok(500_000));
        assert_eq!(size("20MB"), Ok(20_000_000));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        assert_eq!(size("1.5 MiB"), Ok(3 << 19));
        assert!(size("lots").is_err());
        assert!(size("5 parsecs").is_err());
        assert!(size("0").is_err());
    }

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_793), (2026, 12, 6));
    }
}
