//! Cross-crate and cross-process integration tests of shmbus (see `tests/`), and the
//! pieces they share: the message types and the test domains.

use shmbus::{Config, ShmMessage};

/// A sample whose checksum proves it arrived intact.
#[derive(ShmMessage, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Counted {
    /// Sequence number from 1; 0 marks the end of a stream.
    pub seq: u64,
    /// `checksum(seq)`.
    pub checksum: u64,
}

/// The checksum of a sequence number.
pub fn checksum(seq: u64) -> u64 {
    seq.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ 0x5555
}

/// Bytes of [`Huge`].
pub const HUGE_BYTES: usize = 16 << 20;

/// A 16 MiB message.
#[derive(ShmMessage)]
#[repr(C)]
pub struct Huge {
    /// Sequence number.
    pub seq: u64,
    /// The payload.
    pub data: [u8; HUGE_BYTES - 8],
}

/// A configuration with its own domain and runtime folder, so tests run in parallel (other
/// settings from the environment: `SHMBUS_GROUP` lets child processes join a group domain).
pub fn config(domain: &str, root: &std::path::Path) -> Config {
    Config::from_env()
        .and_then(|c| c.with_domain(domain))
        .and_then(|c| c.with_runtime_dir(root))
        .unwrap_or_else(|e| panic!("test configuration: {e}"))
}

/// Names of this configuration's objects left in `/dev/shm` and files in its domain folder.
pub fn leftovers(config: &Config) -> Vec<String> {
    let prefix = config.shm_prefix();
    let mut found: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    if config.domain_dir().exists() {
        found.push(config.domain_dir().display().to_string());
    }
    found
}
