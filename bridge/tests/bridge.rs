//! Two domains on one machine stand in for two hosts: two `shmbus-bridge` processes over
//! TCP on 127.0.0.1 (a port the test picks), scouting off.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shmbus::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use shmbus::port::{CallError, ResponseError};
use shmbus::service::OverflowPolicy;
use shmbus::{Node, RequestResponseService, Service};
use shmbus_tests::everything::Everything;
use shmbus_tests::{Answer, Ask, Peer, Setup};
use zenoh::Wait;

/// A guard against hangs only: every wait below ends as soon as its condition holds.
const GUARD: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A bridge process in `setup`'s domain.
struct BridgeProcess {
    child: Child,
}

impl BridgeProcess {
    fn start(setup: &Setup, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shmbus-bridge"))
            .env("SHMBUS_DOMAIN", &setup.domain)
            .env("SHMBUS_ROOT", &setup.root)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shmbus-bridge");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped"))
            .read_line(&mut first)
            .expect("read the bridge's first line");
        assert!(
            first.starts_with("bridging domain"),
            "bridge said {first:?}"
        );
        Self { child }
    }

    /// Ctrl-C, then its report (stdout) once it exited with status 0.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill");
        assert!(status.success());
        let out = std::mem::replace(
            &mut self.child,
            Command::new("true").spawn().expect("a placeholder"),
        )
        .wait_with_output()
        .expect("wait for the bridge");
        assert!(
            out.status.success(),
            "bridge: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL the bridge");
        let _ = self.child.wait();
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < GUARD, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn exporter(setup: &Setup, port: u16) -> BridgeProcess {
    let listen = format!("tcp/127.0.0.1:{port}");
    BridgeProcess::start(setup, &["--listen", &listen, "--export", "robot/**"])
}

fn importer(setup: &Setup, port: u16, listen: Option<u16>) -> BridgeProcess {
    let connect = format!("tcp/127.0.0.1:{port}");
    let mut args = vec!["--connect".to_owned(), connect];
    if let Some(listen) = listen {
        args.extend(["--listen".to_owned(), format!("tcp/127.0.0.1:{listen}")]);
    }
    args.extend(["--import".to_owned(), "robot/**".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    BridgeProcess::start(setup, &args)
}

/// Opens the imported service once the importing bridge made it.
fn imported(node: &Node, name: &str) -> shmbus::PubSubService<Everything> {
    let start = Instant::now();
    loop {
        match Service::publish_subscribe::<Everything>(node, name).open() {
            Ok(service) => return service,
            Err(shmbus::service::ServiceOpenError::NotFound { .. }) => {
                assert!(start.elapsed() < GUARD, "{name} was never imported");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn every_sample_crosses_and_a_killed_exporter_takes_its_proxy_with_it() {
    const N: u64 = 10_000;
    let (robot, base) = (Setup::new("br", "robot"), Setup::new("br", "base"));
    let port = free_port();
    {
        let robot_node = robot.node("app");
        let service = Service::publish_subscribe::<Everything>(&robot_node, "robot/everything")
            .subscriber_buffer(64)
            .overflow(OverflowPolicy::Block)
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let robot_bridge = exporter(&robot, port);
        let base_bridge = importer(&base, port, None);
        let base_node = base.node("listener");
        let far = imported(&base_node, "robot/everything");
        let subscriber = far.subscriber().create().unwrap();
        // The path is up once a warm-up sample (seq 0) arrives; from then on nothing is
        // lost: Block on both sides, TCP between them.
        until("the first sample across", || {
            publisher.send_copy(&Everything::sample(0)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let mut got = false;
            while let Some(s) = subscriber.receive().unwrap() {
                got |= s.seq == 0;
            }
            got
        });
        // Ports are Send, not Sync: the publisher moves to its thread and back.
        let (received, publisher) = std::thread::scope(|s| {
            let sender = s.spawn(move || {
                for seq in 1..=N {
                    publisher.send_copy(&Everything::sample(seq)).unwrap();
                }
                publisher
            });
            let mut next = 1;
            while next <= N {
                let sample = subscriber
                    .receive_timeout(GUARD)
                    .unwrap()
                    .expect("a sample within the guard");
                if sample.seq == 0 {
                    continue;
                }
                assert_eq!(*sample, Everything::sample(next), "sample {next}");
                next += 1;
            }
            (next - 1, sender.join().unwrap())
        });
        assert_eq!(received, N);
        assert_eq!(subscriber.publishers().len(), 1, "the proxy publisher");

        // The exporter dies: its liveliness token goes, and so does the proxy.
        robot_bridge.kill();
        until("the proxy to go", || subscriber.publishers().is_empty());

        // It comes back: the proxy is made again and samples flow.
        let robot_bridge = exporter(&robot, port);
        until("the proxy to come back", || {
            !subscriber.publishers().is_empty()
        });
        until("a sample after the restart", || {
            publisher.send_copy(&Everything::sample(7)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let mut got = false;
            while let Some(s) = subscriber.receive().unwrap() {
                got |= *s == Everything::sample(7);
            }
            got
        });
        let report = robot_bridge.stop();
        assert!(report.contains("robot/everything:"), "{report}");
        drop((subscriber, far, base_node));
        let report = base_bridge.stop();
        assert!(report.contains("0 refused"), "{report}");
        drop((publisher, service, robot_node));
    }
    robot.assert_clean();
    base.assert_clean();
}

#[test]
fn bad_bytes_from_the_network_are_refused_and_counted() {
    let (robot, base) = (Setup::new("br", "bad_robot"), Setup::new("br", "bad_base"));
    let (port, base_port) = (free_port(), free_port());
    {
        let robot_node = robot.node("app");
        let service = Service::publish_subscribe::<Everything>(&robot_node, "robot/everything")
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let robot_bridge = exporter(&robot, port);
        let base_bridge = importer(&base, port, Some(base_port));
        let base_node = base.node("listener");
        let far = imported(&base_node, "robot/everything");
        let subscriber = far.subscriber().create().unwrap();
        until("the first sample across", || {
            publisher.send_copy(&Everything::sample(0)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            subscriber.receive().unwrap().is_some()
        });
        // A plain Zenoh program, connected to the importing bridge, puts garbage on the
        // service's key.
        let session = plain_zenoh(base_port);
        let descriptor =
            shmbus::Descriptor::from_static(<Everything as shmbus::ShmMessage>::DESCRIPTOR);
        let good = shmbus_zenoh::wire::SampleHeader {
            flags: 0,
            sequence: 1,
            timestamp_ns: 0,
            layout_hash: descriptor.layout_hash(),
        };
        let valid_size = std::mem::size_of::<Everything>();
        let bad: Vec<(Vec<u8>, Vec<u8>)> = vec![
            // wrong size
            (vec![1, 2, 3], good.encode().to_vec()),
            // invalid values (a bool of 0xff, ...)
            (vec![0xff; valid_size], good.encode().to_vec()),
            // a foreign header
            (vec![0; valid_size], vec![0; 32]),
            // a short header
            (vec![0; valid_size], vec![1]),
        ];
        for _ in 0..25 {
            for (payload, attachment) in &bad {
                session
                    .put("shmbus/ps/robot/everything", payload.clone())
                    .attachment(attachment.clone())
                    .wait()
                    .unwrap();
            }
        }
        // Then a good sample, put the same way, as a plain Zenoh program in any language
        // can: it arrives after the bad ones were seen (one session, one route, in order),
        // and none of them did.
        let value: shmbus::Value = serde_json::from_str(&Everything::sample_json(9)).unwrap();
        let bytes = descriptor.encode_value(&value).unwrap();
        session
            .put("shmbus/ps/robot/everything", bytes)
            .attachment(good.encode().to_vec())
            .wait()
            .unwrap();
        let start = Instant::now();
        loop {
            let sample = subscriber
                .receive_timeout(GUARD)
                .unwrap()
                .expect("the good sample");
            if sample.seq == 9 {
                assert_eq!(*sample, Everything::sample(9));
                break;
            }
            assert_eq!(sample.seq, 0, "a sample that was never sent");
            assert!(start.elapsed() < GUARD);
        }
        session.close().wait().unwrap();
        drop((subscriber, far, base_node));
        let report = base_bridge.stop();
        assert!(report.contains("100 refused"), "{report}");
        robot_bridge.stop();
        drop((publisher, service, robot_node));
    }
    robot.assert_clean();
    base.assert_clean();
}

/// Opens the imported request-response service once the importing bridge made it.
fn imported_rr(node: &Node, name: &str) -> RequestResponseService<Ask, Answer> {
    let start = Instant::now();
    loop {
        match Service::request_response::<Ask, Answer>(node, name).open() {
            Ok(service) => return service,
            Err(shmbus::service::ServiceOpenError::NotFound { .. }) => {
                assert!(start.elapsed() < GUARD, "{name} was never imported");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn calls_streams_cancels_and_lost_servers_cross_the_bridge() {
    const CALLS: u64 = 1_000;
    const STREAM: u64 = 1_000;
    let (robot, base) = (Setup::new("br", "rr_robot"), Setup::new("br", "rr_base"));
    let port = free_port();
    {
        let robot_node = robot.node("planner");
        let service = Service::request_response::<Ask, Answer>(&robot_node, "robot/plan")
            .response_buffer(16)
            .max_clients(8)
            .create()
            .unwrap();
        // The real server, in a thread: answers every request (`stream` answers, or one),
        // stops early on a cancellation and counts it; `client == 99` asks it to vanish
        // while holding the request, as a server that dies does.
        let server = service.server().create().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let cancelled = Arc::new(AtomicU64::new(0));
        let oneway = Arc::new(AtomicU64::new(0));
        let served = {
            let (stop, cancelled, oneway) = (
                Arc::clone(&stop),
                Arc::clone(&cancelled),
                Arc::clone(&oneway),
            );
            let fresh = service.server();
            std::thread::spawn(move || {
                let mut server = Some(server);
                let mut fresh = Some(fresh);
                while !stop.load(Ordering::Acquire) {
                    let Some(s) = server.as_ref() else { break };
                    let Some(request) = s.receive_timeout(Duration::from_millis(50)).unwrap()
                    else {
                        continue;
                    };
                    if !request.expects_response() {
                        assert_eq!(
                            *request,
                            Ask {
                                client: 7,
                                seq: 1,
                                stream: 0
                            }
                        );
                        oneway.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if request.client == 99 {
                        request.abandon();
                        server = fresh.take().map(|b| b.create().unwrap());
                        continue;
                    }
                    for index in 0..request.stream.max(1) {
                        if request.is_cancelled()
                            || request.respond_copy(&Answer::to(&request, index)).is_err()
                        {
                            break;
                        }
                    }
                    if request.is_cancelled() {
                        cancelled.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        let robot_bridge = exporter(&robot, port);
        let base_bridge = importer(&base, port, None);
        let base_node = base.node("client");
        let far = imported_rr(&base_node, "robot/plan");
        let client = far.client().create().unwrap();
        until("the first call across", || {
            client
                .call(&Ask::default(), Duration::from_millis(200))
                .is_ok()
        });
        for seq in 1..=CALLS {
            let ask = Ask {
                client: 1,
                seq,
                stream: 0,
            };
            let answer = client.call(&ask, GUARD).unwrap();
            assert_eq!(*answer, Answer::to(&ask, 0));
        }
        // A one-way request arrives as one.
        client
            .send_copy_oneway(&Ask {
                client: 7,
                seq: 1,
                stream: 0,
            })
            .unwrap();
        until("the one-way request", || {
            oneway.load(Ordering::Relaxed) == 1
        });
        // A stream of 1,000, in order, ended by the server.
        let ask = Ask {
            client: 2,
            seq: 1,
            stream: STREAM,
        };
        let pending = client.send_copy(&ask).unwrap();
        for index in 0..STREAM {
            let answer = pending.receive_timeout(GUARD).unwrap().expect("an answer");
            assert_eq!(*answer, Answer::to(&ask, index));
        }
        assert!(pending.receive_timeout(GUARD).unwrap().is_none());
        assert!(pending.is_finished());
        drop(pending);
        // Cancel: a stream far too long to finish; read one answer and drop the rest.
        let ask = Ask {
            client: 3,
            seq: 1,
            stream: u64::MAX,
        };
        let pending = client.send_copy(&ask).unwrap();
        pending
            .receive_timeout(GUARD)
            .unwrap()
            .expect("a first answer");
        drop(pending);
        until("the real server to see the cancellation", || {
            cancelled.load(Ordering::Relaxed) == 1
        });
        // The real server vanishes holding a request: the far client hears ServerGone.
        let ask = Ask {
            client: 99,
            seq: 1,
            stream: 0,
        };
        let pending = client.send_copy(&ask).unwrap();
        assert!(matches!(
            pending.receive_timeout(GUARD),
            Err(ResponseError::ServerGone)
        ));
        drop(pending);
        // And calls go on, to the server that took its place.
        let ask = Ask {
            client: 4,
            seq: 1,
            stream: 0,
        };
        until("a call after the lost server", || {
            client.call(&ask, Duration::from_secs(1)).is_ok()
        });
        // The exporting bridge dies mid-call: ServerGone too, never a hang.
        let ask = Ask {
            client: 5,
            seq: 1,
            stream: u64::MAX,
        };
        let pending = client.send_copy(&ask).unwrap();
        pending
            .receive_timeout(GUARD)
            .unwrap()
            .expect("a first answer");
        robot_bridge.kill();
        let outcome = loop {
            match pending.receive_timeout(GUARD) {
                Ok(Some(_)) => continue,
                Ok(None) => break "the stream ended".to_owned(),
                Err(ResponseError::ServerGone) => break "gone".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        assert_eq!(outcome, "gone");
        drop(pending);
        // The proxy service stays, without servers: a call fails at once.
        until("the proxies to go", || {
            matches!(
                client.call(&Ask::default(), Duration::from_millis(100)),
                Err(CallError::Send(_))
            )
        });
        stop.store(true, Ordering::Release);
        served.join().unwrap();
        drop((client, far, base_node));
        let report = base_bridge.stop();
        assert!(report.contains("0 refused"), "{report}");
        drop((service, robot_node));
    }
    robot.assert_clean();
    base.assert_clean();
}

/// A child-process binary of the workspace's test package: `cargo test` at the workspace
/// root builds it next to this package's `shmbus-bridge`.
fn test_binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_shmbus-bridge")).with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test` at the workspace root, which builds the binaries of shmbus-tests",
        path.display()
    );
    path
}

#[test]
fn a_server_process_killed_behind_the_bridge_is_server_gone_at_the_far_client() {
    let (robot, base) = (
        Setup::new("br", "kill_robot"),
        Setup::new("br", "kill_base"),
    );
    let port = free_port();
    let rr_child = test_binary("rr-child");
    let rr_child = rr_child.to_str().expect("a UTF-8 path");
    {
        let robot_node = robot.node("owner");
        let service = Service::request_response::<Ask, Answer>(&robot_node, "robot/plan")
            .response_buffer(16)
            .create()
            .unwrap();
        let server = Peer::start(rr_child, &robot, "server", "robot/plan", &[]);
        let robot_bridge = exporter(&robot, port);
        let base_bridge = importer(&base, port, None);
        let base_node = base.node("client");
        let far = imported_rr(&base_node, "robot/plan");
        let client = far.client().create().unwrap();
        until("the first call across", || {
            client
                .call(&Ask::default(), Duration::from_millis(200))
                .is_ok()
        });
        // A stream without end; after its first answer the server process is SIGKILLed.
        let ask = Ask {
            client: 1,
            seq: 1,
            stream: u64::MAX,
        };
        let pending = client.send_copy(&ask).unwrap();
        let first = pending.receive_timeout(GUARD).unwrap().expect("an answer");
        assert_eq!(*first, Answer::to(&ask, 0));
        drop(first);
        server.kill();
        let mut index = 1;
        let outcome = loop {
            match pending.receive_timeout(GUARD) {
                Ok(Some(answer)) => {
                    // What the server sent before it died arrives, in order.
                    assert_eq!(*answer, Answer::to(&ask, index));
                    index += 1;
                }
                Ok(None) => break "the stream ended".to_owned(),
                Err(ResponseError::ServerGone) => break "gone".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        assert_eq!(outcome, "gone");
        drop(pending);
        // Another server process takes its place: calls go through, nobody restarted.
        let server = Peer::start(rr_child, &robot, "server", "robot/plan", &[]);
        let ask = Ask {
            client: 2,
            seq: 1,
            stream: 0,
        };
        until("a call to the new server", || {
            client
                .call(&ask, Duration::from_secs(1))
                .is_ok_and(|answer| *answer == Answer::to(&ask, 0))
        });
        server.finish();
        drop((client, far, base_node));
        let report = base_bridge.stop();
        assert!(report.contains("0 refused"), "{report}");
        robot_bridge.stop();
        drop((service, robot_node));
    }
    robot.assert_clean();
    base.assert_clean();
}

/// What the bridge nodes of `setup`'s domain say about `service` (their notes).
fn bridge_notes(setup: &Setup, service: &str) -> Vec<String> {
    Node::list(&setup.config)
        .unwrap()
        .into_iter()
        .filter(|n| n.name == "shmbus-bridge")
        .flat_map(|n| n.notes)
        .filter(|note| note.service == service)
        .map(|note| note.text)
        .collect()
}

/// CPU time (user and system) process `pid` used so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process's stat");
    // The fields after the command name (in parentheses): utime and stime are the 12th
    // and 13th, in clock ticks of 1/100 s (Linux's USER_HZ).
    let rest = &stat[stat.rfind(')').expect("a command name") + 1..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Duration::from_millis((fields[10] + fields[11]) * 10)
}

/// The ids of process `pid`'s threads named like Zenoh's transmit threads (`tx-N`).
fn transmit_threads(pid: u32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.starts_with("tx-"))
        })
        .filter_map(|task| task.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn idle_bridges_sleep() {
    let (robot, base) = (
        Setup::new("br", "idle_robot"),
        Setup::new("br", "idle_base"),
    );
    let port = free_port();
    {
        // An exporter with nothing to import and an importer with nothing to export:
        // neither may spin while nothing happens.
        let robot_node = robot.node("app");
        let service = Service::publish_subscribe::<Everything>(&robot_node, "robot/idle")
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let robot_bridge = exporter(&robot, port);
        let base_bridge = importer(&base, port, None);
        let base_node = base.node("listener");
        let far = imported(&base_node, "robot/idle");
        // Each bridge says what it does, for `shmbus list` and `inspect`.
        until("the bridges' notes", || {
            !bridge_notes(&robot, "robot/idle").is_empty()
                && !bridge_notes(&base, "robot/idle").is_empty()
        });
        assert_eq!(
            bridge_notes(&robot, "robot/idle"),
            ["exported over Zenoh as shmbus/ps/robot/idle"]
        );
        assert!(
            bridge_notes(&base, "robot/idle")[0]
                .starts_with("imported over Zenoh from shmbus/ps/robot/idle")
        );
        let pids = [robot_bridge.child.id(), base_bridge.child.id()];
        // Both have a link, so Zenoh's transmit threads, which they make batch threads
        // (lib.rs, "Zenoh's transmit threads"; this fails if Zenoh renames them).
        until("batch transmit threads", || {
            pids.iter().all(|&pid| {
                let tx = transmit_threads(pid);
                !tx.is_empty()
                    && tx
                        .iter()
                        .all(|&t| shmbus::os::thread::is_batch(t) == Ok(true))
            })
        });
        let before = pids.map(cpu_time);
        let window = Duration::from_secs(2);
        std::thread::sleep(window);
        for (pid, before) in pids.into_iter().zip(before) {
            let used = cpu_time(pid) - before;
            assert!(
                used < window / 4,
                "an idle bridge used {used:?} of CPU in {window:?}"
            );
        }
        drop((far, base_node));
        base_bridge.stop();
        robot_bridge.stop();
        drop((publisher, service, robot_node));
    }
    robot.assert_clean();
    base.assert_clean();
}

#[test]
fn the_configuration_file_and_its_errors() {
    let setup = Setup::new("br", "toml");
    let dir = std::env::temp_dir().join(format!("bridge-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let good = dir.join("bridge.toml");
    std::fs::write(
        &good,
        format!(
            "listen = [\"tcp/127.0.0.1:{port}\"]\nexport = [\"robot/**\"]\nmode = \"peer\"\nkey-prefix = \"fleet/one\"\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shmbus-bridge"))
            .env("SHMBUS_DOMAIN", &setup.domain)
            .env("SHMBUS_ROOT", &setup.root)
            .args(args)
            .output()
            .expect("run shmbus-bridge")
    };
    let out = run(&["--config", good.to_str().unwrap(), "--duration", "0.3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("bridging domain") && stdout.contains("exporting [robot/**]"),
        "{stdout}"
    );
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "exports = [\"robot/**\"]\n").unwrap();
    for (args, says) in [
        (
            vec!["--config", bad.to_str().unwrap()],
            "unknown field `exports`",
        ),
        (
            vec!["--export", "a/**", "--mode", "router"],
            "mode \"router\": use peer or client",
        ),
        (
            vec![],
            "nothing to do: give --export and/or --import patterns",
        ),
        (
            vec!["--export", "a/**", "--key-prefix", "a/*"],
            "key prefix \"a/*\"",
        ),
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    setup.assert_clean();
}

/// A 1 MiB message: a sequence number and a body derived from it.
#[derive(shmbus::ShmMessage)]
#[repr(C)]
struct Mega {
    seq: u64,
    body: [u8; (1 << 20) - 8],
}

fn fill(body: &mut [u8], seq: u64) {
    for (i, b) in body.iter_mut().enumerate() {
        *b = (i as u64 ^ seq) as u8;
    }
}

fn check_mega(sample: &Mega, seq: u64) {
    assert_eq!(sample.seq, seq);
    let mut want = vec![0u8; sample.body.len()];
    fill(&mut want, seq);
    assert!(sample.body[..] == want[..], "body of {seq}");
}

#[test]
fn one_mebibyte_samples_cross_and_late_joiners_get_history() {
    const N: u64 = 30;
    let (robot, base) = (
        Setup::new("br", "mega_robot"),
        Setup::new("br", "mega_base"),
    );
    let port = free_port();
    {
        let robot_node = robot.node("camera");
        let service = Service::publish_subscribe::<Mega>(&robot_node, "robot/image")
            .history(2)
            .subscriber_buffer(8)
            .overflow(OverflowPolicy::Block)
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let send = |seq: u64| {
            let mut sample = publisher.loan_zeroed().unwrap();
            sample.seq = seq;
            fill(&mut sample.body, seq);
            sample.send().unwrap();
        };
        let robot_bridge = exporter(&robot, port);
        let base_bridge = importer(&base, port, None);
        let base_node = base.node("viewer");
        let far = {
            let start = Instant::now();
            loop {
                match Service::publish_subscribe::<Mega>(&base_node, "robot/image").open() {
                    Ok(s) => break s,
                    Err(shmbus::service::ServiceOpenError::NotFound { .. }) => {
                        assert!(start.elapsed() < GUARD, "never imported");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        };
        // The imported service has the exporter's QoS.
        assert_eq!(far.qos().history, 2);
        let subscriber = far.subscriber().create().unwrap();
        until("the first sample across", || {
            send(0);
            std::thread::sleep(Duration::from_millis(20));
            let mut got = false;
            while let Some(s) = subscriber.receive().unwrap() {
                got |= s.seq == 0;
            }
            got
        });
        for seq in 1..=N {
            send(seq);
            loop {
                let sample = subscriber
                    .receive_timeout(GUARD)
                    .unwrap()
                    .expect("a sample");
                if sample.seq != 0 {
                    check_mega(&sample, seq);
                    break;
                }
            }
        }
        // A subscriber that joins now gets the last two from the proxy's history, when the
        // proxy publisher next publishes (as from a local publisher), then the new one.
        let late = far.subscriber().create().unwrap();
        send(N + 1);
        let got: Vec<u64> = (0..3)
            .map(|_| {
                let sample = late.receive_timeout(GUARD).unwrap().expect("a sample");
                check_mega(&sample, sample.seq);
                sample.seq
            })
            .collect();
        assert_eq!(got, vec![N - 1, N, N + 1]);
        drop((late, subscriber, far, base_node));
        base_bridge.stop();
        robot_bridge.stop();
        drop((publisher, service, robot_node));
    }
    robot.assert_clean();
    base.assert_clean();
}

/// A plain Zenoh session connected to 127.0.0.1:`port`, scouting off.
fn plain_zenoh(port: u16) -> zenoh::Session {
    let mut config = zenoh::Config::default();
    config
        .insert_json5("connect/endpoints", &format!("[\"tcp/127.0.0.1:{port}\"]"))
        .unwrap();
    config.insert_json5("listen/endpoints", "[]").unwrap();
    config
        .insert_json5("scouting/multicast/enabled", "false")
        .unwrap();
    zenoh::open(config).wait().unwrap()
}

#[test]
fn a_bridge_that_starts_late_gets_the_history() {
    let (robot, base) = (
        Setup::new("br", "late_robot"),
        Setup::new("br", "late_base"),
    );
    let port = free_port();
    {
        let robot_node = robot.node("app");
        let service = Service::publish_subscribe::<Everything>(&robot_node, "robot/late")
            .history(3)
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        for seq in 1..=5 {
            publisher.send_copy(&Everything::sample(seq)).unwrap();
        }
        let robot_bridge = exporter(&robot, port);
        until("the export", || {
            !bridge_notes(&robot, "robot/late").is_empty()
        });
        // The exporter's subscriber gets the local history (3, 4, 5) and puts it on Zenoh,
        // where nobody listens yet; it keeps it, as a plain Zenoh query shows.
        publisher.update_connections();
        let session = plain_zenoh(port);
        until("the exporter to keep the history", || {
            let replies = session
                .get("shmbus/history/ps/robot/late")
                .consolidation(zenoh::query::ConsolidationMode::None)
                .wait()
                .unwrap();
            let mut sequences = Vec::new();
            while let Ok(reply) = replies.recv() {
                let sample = reply.result().expect("a reply");
                let header = shmbus_zenoh::wire::SampleHeader::decode(
                    &sample.attachment().expect("a header").to_bytes(),
                )
                .unwrap();
                sequences.push(header.sequence);
            }
            sequences == [3, 4, 5]
        });
        session.close().wait().unwrap();
        // Only now does the base station's bridge start: it fetches the history, and a
        // subscriber there gets it (when the proxy next publishes, as from a local
        // publisher), then what comes live.
        let base_bridge = importer(&base, port, None);
        let base_node = base.node("listener");
        let far = imported(&base_node, "robot/late");
        assert_eq!(far.qos().history, 3);
        let subscriber = far.subscriber().create().unwrap();
        publisher.send_copy(&Everything::sample(6)).unwrap();
        let got: Vec<u64> = (0..4)
            .map(|_| {
                let sample = subscriber
                    .receive_timeout(GUARD)
                    .unwrap()
                    .expect("a sample");
                assert_eq!(*sample, Everything::sample(sample.seq));
                sample.seq
            })
            .collect();
        assert_eq!(got, [3, 4, 5, 6]);
        drop((subscriber, far, base_node));
        let report = base_bridge.stop();
        assert!(report.contains("0 refused"), "{report}");
        robot_bridge.stop();
        drop((publisher, service, robot_node));
    }
    robot.assert_clean();
    base.assert_clean();
}

#[test]
fn a_local_service_of_another_type_is_not_joined() {
    let (robot, base) = (
        Setup::new("br", "type_robot"),
        Setup::new("br", "type_base"),
    );
    let port = free_port();
    {
        let robot_node = robot.node("app");
        let service = Service::publish_subscribe::<Everything>(&robot_node, "robot/everything")
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        // The base station already has a service of that name, of another type.
        let base_node = base.node("listener");
        let other =
            Service::publish_subscribe::<shmbus_tests::Counted>(&base_node, "robot/everything")
                .create()
                .unwrap();
        let subscriber = other.subscriber().create().unwrap();
        let robot_bridge = exporter(&robot, port);
        let mut base_bridge = importer(&base, port, None);
        // The bridge says why it refuses, naming what differs.
        let mut stderr = BufReader::new(base_bridge.child.stderr.take().expect("piped"));
        let mut line = String::new();
        loop {
            line.clear();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "the bridge ended");
            if line.contains("cannot import") {
                break;
            }
        }
        assert!(line.contains("robot/everything"), "{line}");
        // And `shmbus list` shows it: the bridge node's note names the first difference.
        until("the bridge's note on the refusal", || {
            !bridge_notes(&base, "robot/everything").is_empty()
        });
        let notes = bridge_notes(&base, "robot/everything");
        assert!(
            notes[0].starts_with("not imported: robot/everything:") && notes[0].contains("field"),
            "{notes:?}"
        );
        for seq in 1..=20 {
            publisher.send_copy(&Everything::sample(seq)).unwrap();
        }
        // Nothing reached the local service of the other type, and it has no publisher.
        assert!(subscriber.receive().unwrap().is_none());
        assert!(subscriber.publishers().is_empty());
        drop((subscriber, other, base_node));
        base_bridge.stop();
        robot_bridge.stop();
        drop((publisher, service, robot_node));
    }
    robot.assert_clean();
    base.assert_clean();
}
