//! Ending on a signal is clean: every example, the tour and each of the tour's long-running
//! child roles is started, stopped with SIGINT (Ctrl-C) or SIGTERM (a process manager) at a
//! point where it waits, holds a sample or holds a request, and must exit with status 0 and
//! leave nothing in `/dev/shm` or its runtime folder.
//!
//! The examples are the binaries `cargo test` builds next to this test
//! (`target/<profile>/examples/`). Each run has its own domain and runtime folder.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use shmbus::{Config, Node, Service, ShmMessage};

/// The tour's sample (same name and layout: the tour's children accept it).
#[derive(ShmMessage, Debug, Clone, Copy)]
#[repr(C)]
struct Counter {
    seq: u64,
    checksum: u64,
}

/// The tour's request.
#[derive(ShmMessage, Debug, Clone, Copy)]
#[repr(C)]
struct Question {
    seq: u64,
}

/// The tour's response.
#[derive(ShmMessage, Debug, Clone, Copy)]
#[repr(C)]
struct Reply {
    seq: u64,
    checksum: u64,
}

#[derive(Debug, Clone, Copy)]
enum Sig {
    Int,
    Term,
}

impl Sig {
    fn name(self) -> &'static str {
        match self {
            Sig::Int => "INT",
            Sig::Term => "TERM",
        }
    }
}

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/signals-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("test executable");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target folder")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} was not built: run `cargo test` (which builds the examples)",
        path.display()
    );
    // `cargo test --test signals` alone does not rebuild the examples: refuse stale ones.
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.rs"));
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(built), Some(written)) = (modified(&path), modified(&source)) {
        assert!(
            built >= written,
            "{} is older than {}: run `cargo build --examples` first",
            path.display(),
            source.display()
        );
    }
    path
}

/// A domain and runtime folder of one run.
struct Domain {
    name: String,
    root: PathBuf,
}

impl Domain {
    fn new(tag: &str) -> Self {
        let name = format!("sig_{tag}_{}", std::process::id());
        let root = std::env::temp_dir().join(format!("shmbus-sig-{tag}-{}", std::process::id()));
        Self { name, root }
    }

    fn config(&self) -> Config {
        Config::from_env()
            .and_then(|c| c.with_domain(&self.name))
            .and_then(|c| c.with_runtime_dir(&self.root))
            .expect("test configuration")
    }

    fn command(&self, example_name: &str) -> Command {
        let mut command = Command::new(example(example_name));
        command
            .env("SHMBUS_DOMAIN", &self.name)
            .env("SHMBUS_ROOT", &self.root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// What is left of the domain: objects in /dev/shm, and the runtime folder. Objects
    /// of domains that examples derive from this one (`ping_pong` uses `pingpong<pid>`)
    /// are included by prefix.
    fn leftovers(&self, extra_domains: &[String]) -> Vec<String> {
        let mut found: Vec<String> = self
            .config()
            .objects()
            .unwrap_or_default()
            .iter()
            .map(|n| n.to_string())
            .collect();
        for domain in extra_domains {
            let config = self.config().with_domain(domain).unwrap();
            found.extend(
                config
                    .objects()
                    .unwrap_or_default()
                    .iter()
                    .map(|n| n.to_string()),
            );
        }
        if self.root.exists() {
            found.push(self.root.display().to_string());
        }
        found
    }
}

/// A running example whose output the test reads line by line.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    what: String,
}

impl Running {
    fn start(mut command: Command, what: &str) -> Self {
        // Its own process group, so that a Ctrl-C to the group reaches it and its children
        // only, as a terminal's would.
        command.process_group(0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Self {
            child,
            stdout,
            what: what.to_owned(),
        }
    }

    /// Reads lines until one contains `text` (the child's output says where it is).
    fn until(&mut self, text: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("read output");
            assert!(n > 0, "{} ended before printing {text:?}", self.what);
            if line.contains(text) {
                return;
            }
        }
    }

    /// Sends `sig` to the process (or, with `group`, to its whole process group, as Ctrl-C
    /// in a terminal does) and checks that it exits with status 0.
    fn stop(mut self, sig: Sig, group: bool) {
        let pid = self.child.id().to_string();
        let target = if group { format!("-{pid}") } else { pid };
        let status = Command::new("kill")
            .args([&format!("-{}", sig.name()), "--", &target])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill failed");
        // Drain the output, so that a chatty child never blocks on a full pipe.
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stdout, &mut rest);
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "{} after SIG{}: {status} (stderr: {stderr})",
            self.what,
            sig.name(),
        );
        assert!(
            stderr.contains("stopped by") || stderr.is_empty(),
            "{}: {stderr}",
            self.what
        );
        assert!(!stderr.contains("Os {"), "an error in Debug form: {stderr}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn assert_clean(domain: &Domain, extra: &[String]) {
    // The folder goes with the last node; processes are gone, so nothing changes anymore.
    let left = domain.leftovers(extra);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn publisher_and_subscriber_stop_cleanly() {
    for (tag, sig) in [("ps_int", Sig::Int), ("ps_term", Sig::Term)] {
        let domain = Domain::new(tag);
        let mut publisher = Running::start(domain.command("publisher"), "publisher");
        publisher.until("publishing on");
        let mut subscriber = Running::start(domain.command("subscriber"), "subscriber");
        subscriber.until("received");
        subscriber.stop(sig, true);
        publisher.until("sent");
        publisher.stop(sig, true);
        assert_clean(&domain, &[]);
    }
}

#[test]
fn the_async_node_stops_cleanly_while_its_tasks_wait() {
    for (tag, sig) in [("async_int", Sig::Int), ("async_term", Sig::Term)] {
        let domain = Domain::new(tag);
        let mut node = Running::start(domain.command("async_node"), "async_node");
        // Its three tasks have each received something, and wait for more.
        node.until("plan to");
        node.until("heading");
        node.until("counter");
        node.stop(sig, true);
        assert_clean(&domain, &[]);
    }
}

#[test]
fn server_and_client_stop_cleanly() {
    for (tag, sig) in [("rr_int", Sig::Int), ("rr_term", Sig::Term)] {
        let domain = Domain::new(tag);
        let mut server = Running::start(domain.command("server"), "server");
        server.until("serving");
        let mut client = Running::start(domain.command("client"), "client");
        client.until("stream ended");
        // The client stops between requests, the server while it waits for one.
        client.stop(sig, true);
        server.stop(sig, true);
        assert_clean(&domain, &[]);
    }
}

#[test]
fn ping_pong_stops_cleanly_mid_run() {
    for (tag, sig, group) in [("pp_int", Sig::Int, true), ("pp_term", Sig::Term, false)] {
        let domain = Domain::new(tag);
        let mut command = domain.command("ping_pong");
        // Many rounds: the signal comes while both processes are busy-polling.
        command.arg("100000000");
        let running = Running::start(command, "ping_pong");
        let ping_domain = format!("pingpong{}", running.child.id());
        let config = domain.config().with_domain(&ping_domain).unwrap();
        // Wait until the pong child publishes: both sides are in their loops then.
        let mut waited = 0;
        while config.objects().unwrap_or_default().len() < 4 {
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
            assert!(waited < 6000, "ping_pong did not start");
        }
        running.stop(sig, group);
        assert_clean(&domain, &[ping_domain]);
    }
}

#[test]
fn the_tour_stops_cleanly_with_its_children() {
    for (tag, sig, group) in [
        ("tour_int", Sig::Int, true),
        ("tour_term", Sig::Term, false),
    ] {
        let domain = Domain::new(tag);
        let mut tour = Running::start(domain.command("tour"), "tour");
        tour.until("domain");
        let tour_domain = format!("tour{}", tour.child.id());
        // The two subscriber children have joined and step 1 is under way.
        tour.until("two subscriber processes joined");
        tour.stop(sig, group);
        assert_clean(&domain, &[tour_domain]);
    }
}

/// Starts a tour child role alone in `domain`; it creates its service if the test did not.
fn role(domain: &Domain, role: &str) -> Running {
    let mut command = domain.command("tour");
    command.arg(role);
    let mut running = Running::start(command, &format!("tour {role}"));
    running.until("ready");
    running
}

#[test]
fn the_tours_children_stop_cleanly_while_waiting() {
    for (name, sig) in [
        ("subscriber", Sig::Int),
        ("holder", Sig::Term),
        ("server", Sig::Term),
        ("hang", Sig::Int),
        ("pong", Sig::Term),
        ("serve", Sig::Int),
    ] {
        let domain = Domain::new(&format!("role_{name}"));
        role(&domain, name).stop(sig, false);
        assert_clean(&domain, &[]);
    }
}

#[test]
fn a_holder_stops_cleanly_while_it_holds_a_sample() {
    for (tag, sig) in [("hold_int", Sig::Int), ("hold_term", Sig::Term)] {
        let domain = Domain::new(tag);
        {
            let node = Node::builder()
                .name("test")
                .config(domain.config())
                .create()
                .unwrap();
            let service = Service::publish_subscribe::<Counter>(&node, "tour/counter")
                .open_or_create()
                .unwrap();
            let publisher = service.publisher().create().unwrap();
            let mut holder = role(&domain, "holder");
            let total = publisher.free_chunks();
            publisher
                .send_copy(&Counter {
                    seq: 1,
                    checksum: 2,
                })
                .unwrap();
            holder.until("holding");
            holder.stop(sig, false);
            // It gave the sample back on its way out.
            assert_eq!(publisher.free_chunks(), total);
        }
        assert_clean(&domain, &[]);
    }
}

#[test]
fn a_server_stops_cleanly_while_it_holds_a_request() {
    for (tag, sig) in [("hang_int", Sig::Int), ("hang_term", Sig::Term)] {
        let domain = Domain::new(tag);
        {
            let node = Node::builder()
                .name("test")
                .config(domain.config())
                .create()
                .unwrap();
            let service = Service::request_response::<Question, Reply>(&node, "tour/rpc")
                .open_or_create()
                .unwrap();
            let client = service.client().create().unwrap();
            let mut hang = role(&domain, "hang");
            let pending = client.send_copy(&Question { seq: 1 }).unwrap();
            hang.until("holding");
            hang.stop(sig, false);
            // Dropping the request on its way out ended the stream: no answer, no error.
            assert!(
                pending
                    .receive_timeout(Duration::from_secs(30))
                    .unwrap()
                    .is_none()
            );
            assert!(pending.is_finished());
        }
        assert_clean(&domain, &[]);
    }
}
