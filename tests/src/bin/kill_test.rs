//! The kill test, run by hand: `cargo run --release -p shmbus-tests --bin kill-test --
//! [--seed N] [--duration SECONDS] [--workers N]`. Prints the report; exits with status 1
//! if an invariant failed or anything leaked. See `shmbus_tests::chaos`.

use std::time::Duration;

use shmbus_tests::chaos::{ChaosConfig, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = ChaosConfig {
        seed: 1,
        duration: Duration::from_secs(60),
        workers: 8,
        checkpoint_every: 500,
        child_exe: std::env::current_exe()?.with_file_name("chaos-child"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => cfg.seed = value.parse()?,
            "--duration" => cfg.duration = Duration::from_secs(value.parse()?),
            "--workers" => cfg.workers = value.parse()?,
            "--checkpoint-every" => cfg.checkpoint_every = value.parse()?,
            other => {
                return Err(format!(
                    "unknown option {other}; use --seed, --duration, --workers, --checkpoint-every"
                )
                .into());
            }
        }
    }
    if !cfg.child_exe.exists() {
        return Err(format!(
            "{} not found: build the package's binaries first",
            cfg.child_exe.display()
        )
        .into());
    }
    println!(
        "kill test: seed {}, {:?}, {} workers, checkpoint every {} kills",
        cfg.seed, cfg.duration, cfg.workers, cfg.checkpoint_every
    );
    let report = run(&cfg);
    println!("{report}");
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}
