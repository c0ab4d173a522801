//! `shmbus-bridge`: carries the domain's publish-subscribe services to other machines over
//! Zenoh, and theirs here. Configured by flags, or a TOML file (`--config`) whose keys are
//! the flags' names; flags add to the file's lists and override its values.
//!
//! ```text
//! robot$ SHMBUS_DOMAIN=robot shmbus-bridge --listen tcp/0.0.0.0:7447 --export 'robot/**'
//! base$  SHMBUS_DOMAIN=base  shmbus-bridge --connect tcp/robot:7447 --import 'robot/**'
//! ```
//!
//! Runs until Ctrl-C or SIGTERM, then removes everything it made; prints what it carried.
//! What it exports and imports, and what it refuses, is logged on standard error
//! (`SHMBUS_LOG`, a `tracing` filter; default: the bridge's `info`, others' `warn`, Zenoh's
//! `error`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use shmbus::Config;
use shmbus::os::signal;
use shmbus_zenoh::{Bridge, BridgeConfig, Mode, ServicePattern};

/// Carries shmbus services to other machines over Zenoh.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// A TOML file with any of the options below (`listen = ["tcp/0.0.0.0:7447"]`,
    /// `export = ["robot/**"]`, `mode = "client"`, `key-prefix = "fleet"`, ...).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The local domain (default: SHMBUS_DOMAIN, else `default`).
    #[arg(long, value_name = "NAME")]
    domain: Option<String>,
    /// A Zenoh endpoint to listen on (`tcp/0.0.0.0:7447`); repeatable.
    #[arg(long, value_name = "ENDPOINT")]
    listen: Vec<String>,
    /// A Zenoh endpoint to connect to (`tcp/robot:7447`); repeatable.
    #[arg(long, value_name = "ENDPOINT")]
    connect: Vec<String>,
    /// `peer` (default) or `client`.
    #[arg(long, value_name = "MODE")]
    mode: Option<String>,
    /// Find peers on the local network by multicast scouting (off by default).
    #[arg(long)]
    scouting: bool,
    /// Local services to export: names or globs (`robot/*`, `robot/**`); repeatable.
    #[arg(long, value_name = "SERVICE|GLOB")]
    export: Vec<String>,
    /// Remote services to import: names or globs; repeatable.
    #[arg(long, value_name = "SERVICE|GLOB")]
    import: Vec<String>,
    /// The first chunks of every Zenoh key (default `shmbus`); both ends must agree.
    #[arg(long, value_name = "PREFIX")]
    key_prefix: Option<String>,
    /// Seconds to run (default: until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
}

/// The TOML file: the same names as the flags.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    domain: Option<String>,
    #[serde(default)]
    listen: Vec<String>,
    #[serde(default)]
    connect: Vec<String>,
    mode: Option<String>,
    scouting: Option<bool>,
    #[serde(default)]
    export: Vec<String>,
    #[serde(default)]
    import: Vec<String>,
    key_prefix: Option<String>,
}

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Error> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHMBUS_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,shmbus_zenoh=info,zenoh=error")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let file: File = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => File::default(),
    };
    let mode = match args.mode.or(file.mode).as_deref() {
        None | Some("peer") => Mode::Peer,
        Some("client") => Mode::Client,
        Some(other) => return Err(format!("mode {other:?}: use peer or client").into()),
    };
    let patterns = |a: Vec<String>, b: Vec<String>| {
        a.into_iter()
            .chain(b)
            .map(ServicePattern::new)
            .collect::<Vec<_>>()
    };
    let config = BridgeConfig {
        listen: file.listen.into_iter().chain(args.listen).collect(),
        connect: file.connect.into_iter().chain(args.connect).collect(),
        mode,
        scouting: args.scouting || file.scouting.unwrap_or(false),
        export: patterns(file.export, args.export),
        import: patterns(file.import, args.import),
        key_prefix: args
            .key_prefix
            .or(file.key_prefix)
            .unwrap_or_else(|| "shmbus".into()),
        ..BridgeConfig::default()
    };
    if config.export.is_empty() && config.import.is_empty() {
        return Err("nothing to do: give --export and/or --import patterns".into());
    }
    let mut local = Config::from_env()?;
    if let Some(domain) = args.domain.or(file.domain) {
        local = local.with_domain(domain)?;
    }
    signal::install_termination_handler()?;
    let bridge = Bridge::start(local.clone(), config.clone())?;
    println!(
        "bridging domain {:?}: exporting [{}], importing [{}] (Ctrl-C to stop)",
        local.domain(),
        list(&config.export),
        list(&config.import)
    );
    let deadline = args
        .duration
        .map(|s| std::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let stopped = loop {
        if let Some(stop) = signal::termination_requested() {
            break stop.to_string();
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            break "stopped after --duration".to_owned();
        }
        if !bridge.is_running() {
            break "the bridge stopped".to_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut counts: Vec<_> = bridge.counts().into_iter().collect();
    counts.sort_by(|a, b| a.0.cmp(&b.0));
    bridge.stop()?;
    for (service, c) in counts {
        println!(
            "{service}: {} sent, {} delivered, {} refused",
            c.sent, c.delivered, c.refused
        );
    }
    eprintln!("{stopped}; everything it made is removed");
    Ok(())
}

fn list(patterns: &[ServicePattern]) -> String {
    patterns
        .iter()
        .map(ServicePattern::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
