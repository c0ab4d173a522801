//! Cross-crate and cross-process integration tests of shmbus (see `tests/`), and the
//! pieces they share: the message types and the test domains.

use shmbus::{Config, ShmMessage};

pub mod chaos;
pub mod everything;

/// A sample whose checksum proves it arrived intact.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq, Eq)]
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

/// A request of the cross-process request-response tests.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Ask {
    /// Who asks (a number of the test's choosing).
    pub client: u64,
    /// Which of its requests.
    pub seq: u64,
    /// 0: one answer; n: a stream of n answers.
    pub stream: u64,
}

/// A response: it names the request it answers, and carries a value derived from it.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Answer {
    /// The asking client.
    pub client: u64,
    /// The request's sequence number.
    pub seq: u64,
    /// Position in a stream (0 for a single answer).
    pub index: u64,
    /// `checksum(client ^ seq ^ index)`.
    pub value: u64,
}

impl Answer {
    /// The answer a correct server gives to `ask` at stream position `index`.
    pub fn to(ask: &Ask, index: u64) -> Self {
        Self {
            client: ask.client,
            seq: ask.seq,
            index,
            value: checksum(ask.client ^ ask.seq.rotate_left(20) ^ index.rotate_left(40)),
        }
    }
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

/// Names of this configuration's objects left in `/dev/shm`, and its runtime folder if it
/// is still there (each test has a runtime folder of its own, gone with its last node).
pub fn leftovers(config: &Config) -> Vec<String> {
    let mut found: Vec<String> = config
        .objects()
        .unwrap_or_default()
        .iter()
        .map(|n| n.file_name().to_owned())
        .collect();
    if config.runtime_dir().exists() {
        found.push(config.runtime_dir().display().to_string());
    }
    found
}

/// A test's own domain and runtime folder; the folder goes with the domain's last node, and
/// is removed here too if a failed test left it.
pub struct Setup {
    /// The domain name.
    pub domain: String,
    /// The runtime folder.
    pub root: std::path::PathBuf,
    /// The configuration naming both.
    pub config: Config,
}

impl Setup {
    /// A domain `<kind>_<test>_<pid>` with its own runtime folder.
    pub fn new(kind: &str, test: &str) -> Self {
        let domain = format!("{kind}_{test}_{}", std::process::id());
        let root =
            std::env::temp_dir().join(format!("shmbus-{kind}-{test}-{}", std::process::id()));
        Self {
            config: config(&domain, &root),
            domain,
            root,
        }
    }
}

impl Setup {
    /// A node of this test's domain.
    pub fn node(&self, name: &str) -> shmbus::Node {
        shmbus::Node::builder()
            .name(name)
            .config(self.config.clone())
            .create()
            .unwrap_or_else(|e| panic!("node {name}: {e}"))
    }

    /// Fails the test if anything of its domain is left: an object in `/dev/shm` or the
    /// runtime folder.
    pub fn assert_clean(&self) {
        let left = leftovers(&self.config);
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.root);
    }
}

/// A child process of a test, talking over its stdin and stdout.
pub struct Peer {
    /// The process.
    pub child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Peer {
    /// Starts `exe ROLE DOMAIN ROOT SERVICE EXTRA...` and waits for its `ready` line.
    pub fn start(exe: &str, setup: &Setup, role: &str, service: &str, extra: &[&str]) -> Peer {
        use std::process::{Command, Stdio};
        let root = setup.root.to_str().expect("a UTF-8 temp folder");
        let mut child = Command::new(exe)
            .args([role, &setup.domain, root, service])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {exe}: {e}"));
        let stdin = child.stdin.take();
        let stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut peer = Peer {
            child,
            stdin,
            stdout,
        };
        assert_eq!(peer.line(), "ready", "{role} did not start");
        peer
    }

    /// The next line the child prints (trimmed; empty at its end).
    pub fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read child output");
        line.trim().to_owned()
    }

    /// Writes a line to the child's stdin.
    pub fn say(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{text}").expect("write to child");
    }

    /// Closes its stdin (the signal to stop, for roles that serve until then).
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Closes its stdin and waits for it to exit successfully.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for child");
        assert!(status.success(), "child failed: {status}");
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL the child");
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    /// A test that fails before it finished or killed its child must not leave it running
    /// (several roles sleep for an hour, holding their node and segments).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
