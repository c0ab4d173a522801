//! The kill test in CI: a bounded run of `shmbus_tests::chaos` (about 40 s; set
//! `SHMBUS_KILL_SECS` and `SHMBUS_KILL_SEED` to change it). Longer runs are made by hand
//! with the `kill-test` binary.

use std::time::Duration;

use shmbus_tests::chaos::{ChaosConfig, run};

#[test]
fn random_kills_leave_working_survivors_and_nothing_behind() {
    let secs = std::env::var("SHMBUS_KILL_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let seed = std::env::var("SHMBUS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_201);
    let report = run(&ChaosConfig {
        seed,
        duration: Duration::from_secs(secs),
        workers: 6,
        checkpoint_every: 100,
        child_exe: env!("CARGO_BIN_EXE_chaos-child").into(),
    });
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(
        report.kills > 0 && report.checkpoints > 0 && report.checks > 0,
        "{report}"
    );
    assert!(report.samples_verified > 0, "{report}");
}
