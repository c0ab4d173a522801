//! The runtime subcommands (`list`, `inspect`, `echo`, `pub`, `call`, `hz`, `clean`,
//! `doctor`) against real services: this test process runs the services' ports, the
//! `shmbus` binary runs as a child process in the test's own domain and runtime folder.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use shmbus::message::{Descriptor, Value};
use shmbus::service::{Pattern, PortRole};
use shmbus::{Config, Node, Service, ShmMessage};
use shmbus_test_idl_corpus::round_trip::{geo, rt};
use shmbus_tests::everything::Everything;
use shmbus_tests::{Answer, Ask, Counted, checksum};

/// A guard against hangs only.
const PATIENCE: Duration = Duration::from_secs(60);

/// A test's own domain and runtime folder; the CLI runs in them.
struct Domain {
    name: String,
    root: PathBuf,
    config: Config,
}

impl Domain {
    fn new(test: &str) -> Self {
        let name = format!("cli_{test}_{}", std::process::id());
        let root = std::env::temp_dir().join(format!("shmbus-cli-{test}-{}", std::process::id()));
        let config = Config::from_env()
            .and_then(|c| c.with_domain(&name))
            .and_then(|c| c.with_runtime_dir(&root))
            .unwrap();
        Self { name, root, config }
    }

    fn node(&self, name: &str) -> Node {
        Node::builder()
            .name(name)
            .config(self.config.clone())
            .create()
            .unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shmbus"));
        command
            .args(args)
            .env("SHMBUS_DOMAIN", &self.name)
            .env("SHMBUS_ROOT", &self.root)
            .env_remove("SHMBUS_PREFIX")
            .env_remove("COLUMNS");
        command
    }

    /// Runs `shmbus ARGS` to its end.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run shmbus: {e}"))
    }

    /// Starts `shmbus ARGS`, its stdin and stdout piped.
    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run shmbus: {e}"))
    }

    /// The text with what differs from run to run replaced: the domain, the runtime
    /// folder, the user's object prefix, executables, ids (16 hex digits), and the pids of
    /// this process and of `children`.
    fn redact(&self, text: &str, children: &[u32]) -> String {
        let mut text = text
            .replace(&self.name, "<domain>")
            .replace(&self.root.display().to_string(), "<root>")
            .replace(env!("CARGO_BIN_EXE_shmbus"), "<exe>")
            .replace(
                &format!("shmbus-{}.", shmbus::os::process::euid()),
                "shmbus-<uid>.",
            );
        if let Ok(me) = std::env::current_exe() {
            text = text.replace(&me.display().to_string(), "<exe>");
        }
        for pid in children.iter().chain(&[std::process::id()]) {
            text = replace_number(&text, &pid.to_string(), "<pid>");
        }
        let mut out = String::new();
        let mut word = String::new();
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                word.push(c);
            } else {
                out.push_str(&redact_id(&word));
                word.clear();
                out.push(c);
            }
        }
        out.push_str(&redact_id(&word));
        // Column widths follow what was redacted (a pid of 4 or 5 digits): gaps between
        // columns become two spaces, indentation stays.
        out.lines()
            .map(|line| {
                let body = line.trim_start();
                let indent = &line[..line.len() - body.len()];
                let mut squeezed = String::from(indent);
                let mut spaces = 0;
                for c in body.chars() {
                    if c == ' ' {
                        spaces += 1;
                        continue;
                    }
                    squeezed.push_str(if spaces >= 2 {
                        "  "
                    } else if spaces == 1 {
                        " "
                    } else {
                        ""
                    });
                    spaces = 0;
                    squeezed.push(c);
                }
                squeezed + "\n"
            })
            .collect()
    }

    fn assert_clean(&self) {
        let left = self.config.objects().unwrap();
        assert!(left.is_empty(), "left behind: {left:?}");
        assert!(!self.root.exists(), "{} is left", self.root.display());
    }
}

/// `<id>` for a word of 16 hex digits.
fn redact_id(word: &str) -> String {
    if word.len() == 16 && word.chars().all(|c| c.is_ascii_hexdigit()) {
        "<id>".to_owned()
    } else {
        word.to_owned()
    }
}

/// `text` with the number `n` replaced where it stands alone (not inside a longer number).
fn replace_number(text: &str, n: &str, by: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(n) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + n.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(|c| c.is_ascii_alphanumeric())
            || after.is_some_and(|c| c.is_ascii_alphanumeric())
        {
            out.push_str(n);
        } else {
            out.push_str(by);
        }
        rest = &rest[at + n.len()..];
    }
    out.push_str(rest);
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Waits (bounded) until `ready` holds.
fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How many ports of `role` the service has now.
fn ports(domain: &Domain, name: &str, pattern: Pattern, role: PortRole) -> usize {
    Service::inspect(&domain.config, name, pattern)
        .unwrap()
        .map_or(0, |s| s.count(role))
}

fn sigterm(child: &Child) {
    // The CLI's nodes handle SIGTERM like Ctrl-C (kill(1) sends it).
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn list_and_inspect_show_a_running_system() {
    let domain = Domain::new("list");
    {
        let node = domain.node("robot");
        let state = Service::publish_subscribe::<Everything>(&node, "robot/state")
            .history(1)
            .create()
            .unwrap();
        let _publisher = state.publisher().create().unwrap();
        let _subscribers = [
            state.subscriber().create().unwrap(),
            state.subscriber().create().unwrap(),
        ];
        let plan = Service::request_response::<Ask, Answer>(&node, "robot/plan")
            .create()
            .unwrap();
        let _server = plan.server().create().unwrap();
        // A bridge says what it imported, and why it refused another service.
        let bridge = domain.node("shmbus-bridge");
        let note = |service: &str, text: &str| shmbus::node::NodeNote {
            service: service.to_owned(),
            text: text.to_owned(),
        };
        bridge
            .set_notes(&[
                note(
                    "robot/state",
                    "imported over Zenoh from shmbus/ps/robot/state: this bridge's publisher stands for the remote one",
                ),
                note(
                    "robot/map",
                    "not imported: robot/map: the service has another message type (field 2 `cells`: u8 here, u16 there)",
                ),
            ])
            .unwrap();

        let out = domain.run(&["list"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        insta::assert_snapshot!("list", domain.redact(&stdout(&out), &[]));
        let out = domain.run(&["list", "nodes"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        insta::assert_snapshot!("list_nodes", domain.redact(&stdout(&out), &[]));
        let out = domain.run(&["inspect", "robot/state"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        insta::assert_snapshot!("inspect", domain.redact(&stdout(&out), &[]));

        // The same as JSON, for scripts.
        let out = domain.run(&["list", "--json"]);
        let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(listed[1]["name"], "robot/state");
        assert_eq!(listed[1]["types"][0], "Everything");
        assert_eq!(listed[1]["ports"].as_array().unwrap().len(), 3);
        assert_eq!(listed[0]["pattern"], "request-response");
        let notes = listed[1]["notes"].as_array().unwrap();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("imported over Zenoh")
        );
        let out = domain.run(&["inspect", "robot/state", "--json"]);
        let inspected: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let ty = &inspected[0]["types"][0]["type"];
        assert_eq!(ty["name"], "Everything");
        assert_eq!(ty["size"], Everything::DESCRIPTOR.size());
        assert_eq!(ty["fields"][18]["name"], "shape");
        assert_eq!(ty["fields"][18]["type"]["kind"], "union");
        assert_eq!(inspected[0]["qos"]["history"], 1);
        assert_eq!(inspected[0]["objects"].as_array().unwrap().len(), 2);
    }
    domain.assert_clean();
}

/// `shmbus echo --json` prints, for samples the test publishes, what a byte-level
/// subscriber of this process receives: the same value, field by field, and the same
/// bytes once encoded again.
fn echo_round_trip<T: ShmMessage + Send + 'static>(
    domain: &Domain,
    service: &str,
    samples: Vec<T>,
) {
    let node = domain.node("publisher");
    let typed = Service::publish_subscribe::<T>(&node, service)
        .subscriber_buffer(64)
        .create()
        .unwrap();
    let raw = Service::raw_publish_subscribe(&node, service)
        .open()
        .unwrap();
    let d: Descriptor = raw.message_type().clone();
    let local = raw.subscriber().create().unwrap();
    let publisher = typed.publisher().create().unwrap();
    let n = samples.len().to_string();
    let mut echo = domain.spawn(&["echo", service, "--json", "--count", &n]);
    until("echo to subscribe", || publisher.subscriber_count() == 2);
    for sample in samples {
        publisher
            .loan_uninit()
            .unwrap()
            .write(sample)
            .send()
            .unwrap();
    }
    let lines = BufReader::new(echo.stdout.take().unwrap()).lines();
    let mut count = 0;
    for line in lines {
        let line = line.unwrap();
        let printed: serde_json::Value = serde_json::from_str(&line).unwrap();
        let sample = local.receive().unwrap().expect("the same sample here");
        assert_eq!(printed["sequence"], sample.sequence());
        let here = serde_json::to_value(sample.value().unwrap()).unwrap();
        assert_eq!(printed["value"], here, "field by field");
        let back: Value = serde_json::from_value(printed["value"].clone()).unwrap();
        let bytes = d.encode_value(&back).unwrap();
        let mask = d.meaningful_bytes(sample.bytes()).unwrap();
        for (i, meaningful) in mask.iter().enumerate() {
            assert!(
                !meaningful || bytes[i] == sample.bytes()[i],
                "byte {i} of {line}"
            );
        }
        shmbus::message::validate::<T>(&bytes).unwrap();
        count += 1;
    }
    assert_eq!(count, samples_len(&n));
    assert!(echo.wait().unwrap().success());
}

fn samples_len(n: &str) -> usize {
    n.parse().unwrap()
}

#[test]
fn echo_json_gives_back_every_kind_of_field() {
    let domain = Domain::new("echo");
    echo_round_trip(
        &domain,
        "every/kind",
        (1..=12).map(Everything::sample).collect(),
    );
    // Types generated from IDL: strings, sequences, optionals, enums, maps, unions.
    let samples = (0..4u32)
        .map(|i| {
            let mut s = rt::Sample {
                id: i,
                at: geo::Point {
                    x: f64::from(i) * 0.5,
                    y: -1.0,
                },
                name: shmbus::FixedString::try_from(format!("s{i}").as_str()).unwrap(),
                ..Default::default()
            };
            for v in 0..i {
                s.values.push(v as f32 + 0.25).unwrap();
            }
            if i % 2 == 1 {
                s.level = shmbus::Optional::some(-(i as i16));
            }
            s.mode = [rt::Mode::OFF, rt::Mode::ON, rt::Mode::BLINK, rt::Mode(9)][i as usize];
            s
        })
        .collect();
    echo_round_trip(&domain, "idl/sample", samples);
    let choices = vec![
        rt::Choice::from_small(5),
        rt::Choice::from_point(geo::Point { x: 1.0, y: 2.0 }),
        rt::Choice::from_other(7),
    ];
    echo_round_trip(&domain, "idl/choice", choices);
    domain.assert_clean();
}

#[test]
fn echo_prints_values_for_people_and_single_fields() {
    let domain = Domain::new("echo_text");
    {
        let node = domain.node("publisher");
        let service = Service::publish_subscribe::<Everything>(&node, "every/kind")
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let mut echo = domain.spawn(&["echo", "every/kind", "--count", "1"]);
        let mut field = domain.spawn(&["echo", "every/kind", "--count", "2", "--field", "shape"]);
        until("both to subscribe", || publisher.subscriber_count() == 2);
        publisher.send_copy(&Everything::sample(3)).unwrap();
        publisher.send_copy(&Everything::sample(5)).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut echo.stdout.take().unwrap(), &mut text).unwrap();
        assert!(echo.wait().unwrap().success());
        insta::assert_snapshot!("echo", domain.redact(&text, &[]));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut field.stdout.take().unwrap(), &mut text).unwrap();
        assert!(field.wait().unwrap().success());
        insta::assert_snapshot!("echo_field", domain.redact(&text, &[]));
    }
    domain.assert_clean();
}

#[test]
fn pub_is_received_by_a_typed_subscriber() {
    let domain = Domain::new("pub");
    {
        let node = domain.node("listener");
        let service = Service::publish_subscribe::<Everything>(&node, "every/kind")
            .subscriber_buffer(16)
            .create()
            .unwrap();
        let subscriber = service.subscriber().create().unwrap();
        // One value from the command line ...
        let out = domain.run(&["pub", "every/kind", &Everything::sample_json(7)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let sample = subscriber.receive_timeout(PATIENCE).unwrap().unwrap();
        assert_eq!(*sample, Everything::sample(7));
        drop(sample);
        // ... and one per line from standard input.
        let mut publisher = domain.spawn(&["pub", "every/kind", "-"]);
        let mut stdin = publisher.stdin.take().unwrap();
        for seq in 20..25 {
            writeln!(stdin, "{}", Everything::sample_json(seq)).unwrap();
        }
        drop(stdin);
        assert!(publisher.wait().unwrap().success());
        for seq in 20..25 {
            let sample = subscriber.receive_timeout(PATIENCE).unwrap().unwrap();
            assert_eq!(*sample, Everything::sample(seq));
        }
        // Three times, at a rate.
        let out = domain.run(&["pub", "robot/count", r#"{"seq": 1, "checksum": 2}"#]);
        assert_eq!(out.status.code(), Some(1), "no such service");
        let counted = Service::publish_subscribe::<Counted>(&node, "robot/count")
            .create()
            .unwrap();
        let counter = counted.subscriber().create().unwrap();
        let json = format!(r#"{{"seq": 4, "checksum": {}}}"#, checksum(4));
        let out = domain.run(&["pub", "robot/count", &json, "--count", "3", "--rate", "200"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        for _ in 0..3 {
            let sample = counter.receive_timeout(PATIENCE).unwrap().unwrap();
            assert_eq!(
                *sample,
                Counted {
                    seq: 4,
                    checksum: checksum(4)
                }
            );
        }
    }
    domain.assert_clean();
}

#[test]
fn call_is_answered_by_a_typed_server_as_a_stream() {
    let domain = Domain::new("call");
    {
        let node = domain.node("server");
        let service = Service::request_response::<Ask, Answer>(&node, "rec/rr")
            .create()
            .unwrap();
        let server = service.server().create().unwrap();
        let mut call = domain.spawn(&[
            "call",
            "rec/rr",
            r#"{"client": 1, "seq": 2, "stream": 3}"#,
            "--json",
        ]);
        let request = server
            .receive_timeout(PATIENCE)
            .unwrap()
            .expect("the request");
        assert_eq!(
            *request,
            Ask {
                client: 1,
                seq: 2,
                stream: 3
            }
        );
        for index in 0..3 {
            request.respond_copy(&Answer::to(&request, index)).unwrap();
        }
        drop(request);
        let lines: Vec<String> = BufReader::new(call.stdout.take().unwrap())
            .lines()
            .map(Result::unwrap)
            .collect();
        assert!(call.wait().unwrap().success());
        assert_eq!(lines.len(), 3, "{lines:?}");
        for (index, line) in lines.iter().enumerate() {
            let printed: serde_json::Value = serde_json::from_str(line).unwrap();
            let answer = Answer::to(
                &Ask {
                    client: 1,
                    seq: 2,
                    stream: 3,
                },
                index as u64,
            );
            assert_eq!(printed["value"]["index"], index);
            assert_eq!(printed["value"]["value"], answer.value);
        }
    }
    domain.assert_clean();
}

#[test]
fn hz_measures_a_running_publisher() {
    let domain = Domain::new("hz");
    {
        let node = domain.node("publisher");
        let service = Service::publish_subscribe::<Counted>(&node, "robot/count")
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let hz = domain.spawn(&["hz", "robot/count", "--duration", "3", "--json"]);
        until("hz to subscribe", || publisher.subscriber_count() == 1);
        let mut seq = 0;
        while publisher.subscriber_count() == 1 {
            seq += 1;
            publisher
                .send_copy(&Counted {
                    seq,
                    checksum: checksum(seq),
                })
                .unwrap();
            std::thread::sleep(Duration::from_millis(5));
            assert!(seq < 100_000, "hz did not stop");
        }
        let out = hz.wait_with_output().unwrap();
        assert!(out.status.success());
        let reports: Vec<serde_json::Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!reports.is_empty());
        let timed: Vec<&serde_json::Value> = reports
            .iter()
            .filter(|r| r.get("rate_hz").is_some())
            .collect();
        assert!(!timed.is_empty(), "{reports:?}");
        for r in timed {
            assert!(r["rate_hz"].as_f64().unwrap() > 0.0);
            assert_eq!(r["missed"], 0);
            assert!(r["min_period_s"].as_f64() <= r["max_period_s"].as_f64());
        }
    }
    domain.assert_clean();
}

#[test]
fn clean_removes_exactly_what_a_dead_node_left() {
    let domain = Domain::new("clean");
    {
        let node = domain.node("survivor");
        let kept = Service::publish_subscribe::<Counted>(&node, "kept")
            .create()
            .unwrap();
        let _publisher = kept.publisher().create().unwrap();
        let json = format!(r#"{{"seq": 1, "checksum": {}}}"#, checksum(1));
        // A second publisher, in another process, which is then killed.
        let mut victim = domain.spawn(&["pub", "kept", &json, "--rate", "20", "--wait", "0"]);
        until("the victim's publisher", || {
            ports(
                &domain,
                "kept",
                Pattern::PublishSubscribe,
                PortRole::Publisher,
            ) == 2
        });
        // A service only the victim still holds: it goes with it.
        let lonely = Service::publish_subscribe::<Counted>(&node, "lonely")
            .create()
            .unwrap();
        let mut holder = domain.spawn(&["echo", "lonely"]);
        until("the holder's subscriber", || {
            ports(
                &domain,
                "lonely",
                Pattern::PublishSubscribe,
                PortRole::Subscriber,
            ) == 1
        });
        drop(lonely);
        let pids = [victim.id(), holder.id()];
        victim.kill().unwrap();
        victim.wait().unwrap();
        holder.kill().unwrap();
        holder.wait().unwrap();
        let before = domain.config.objects().unwrap();

        let out = domain.run(&["clean", "--dry-run"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        insta::assert_snapshot!(
            "clean_dry_run",
            domain.redact(&sorted_blocks(&stdout(&out)), &pids)
        );
        assert_eq!(
            domain.config.objects().unwrap(),
            before,
            "a dry run removes nothing"
        );
        // `doctor` sees the leftovers too.
        let out = domain.run(&["doctor", "--json"]);
        assert_eq!(out.status.code(), Some(1));
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let dead = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "dead nodes")
            .unwrap();
        assert_eq!(dead["status"], "warning", "{report}");

        let out = domain.run(&["clean"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        insta::assert_snapshot!("clean", domain.redact(&sorted_blocks(&stdout(&out)), &pids));
        let after = domain.config.objects().unwrap();
        let removed: Vec<_> = before.iter().filter(|o| !after.contains(o)).collect();
        // The victim's data segment, and the lonely service's object.
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert_eq!(
            after.len(),
            2,
            "the kept service and its live publisher's segment"
        );
        assert_eq!(
            ports(
                &domain,
                "kept",
                Pattern::PublishSubscribe,
                PortRole::Publisher
            ),
            1
        );
        let out = domain.run(&["clean"]);
        assert!(
            stdout(&out).starts_with("nothing to clean"),
            "{}",
            stdout(&out)
        );
        let out = domain.run(&["doctor", "--json"]);
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let healthy = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "ok");
        assert_eq!(report["healthy"], healthy);
        assert_eq!(out.status.code(), Some(if healthy { 0 } else { 1 }));
    }
    domain.assert_clean();
}

/// The blocks of `clean`'s output (one per dead node, in no fixed order) sorted, the
/// summary last.
fn sorted_blocks(text: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut tail = String::new();
    for line in text.lines() {
        if line.starts_with("dead node") {
            blocks.push(format!("{line}\n"));
        } else if line.starts_with("  ") {
            if let Some(b) = blocks.last_mut() {
                b.push_str(line);
                b.push('\n');
            }
        } else {
            tail.push_str(line);
            tail.push('\n');
        }
    }
    blocks.sort();
    blocks.concat() + &tail
}

#[test]
fn long_running_commands_end_cleanly_on_sigterm() {
    let domain = Domain::new("signals");
    {
        let node = domain.node("publisher");
        let service = Service::publish_subscribe::<Counted>(&node, "robot/count")
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let echo = domain.spawn(&["echo", "robot/count"]);
        let hz = domain.spawn(&["hz", "robot/count"]);
        let json = format!(r#"{{"seq": 1, "checksum": {}}}"#, checksum(1));
        let publishing =
            domain.spawn(&["pub", "robot/count", &json, "--rate", "10", "--wait", "0"]);
        until("all three", || publisher.subscriber_count() == 2);
        until("the third", || {
            ports(
                &domain,
                "robot/count",
                Pattern::PublishSubscribe,
                PortRole::Publisher,
            ) == 2
        });
        for child in [&echo, &hz, &publishing] {
            sigterm(child);
        }
        for child in [echo, hz, publishing] {
            let status = child.wait_with_output().unwrap().status;
            assert_eq!(status.code(), Some(0));
        }
        assert_eq!(publisher.subscriber_count(), 0);
        assert_eq!(
            ports(
                &domain,
                "robot/count",
                Pattern::PublishSubscribe,
                PortRole::Publisher
            ),
            1
        );
    }
    domain.assert_clean();
}

/// A temporary MCAP file of a test, removed at the end.
struct TempFile(PathBuf);

impl TempFile {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("shmbus-cli-{test}-{}.mcap", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp folder")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The data of the messages the `mcap` crate reads from `file` before its first error,
/// and the error.
fn readable(file: &Path) -> (Vec<Vec<u8>>, Option<String>) {
    let bytes = std::fs::read(file).unwrap_or_default();
    let mut messages = Vec::new();
    let stream = match mcap::MessageStream::new(&bytes) {
        Ok(stream) => stream,
        Err(error) => return (messages, Some(error.to_string())),
    };
    for message in stream {
        match message {
            Ok(m) => messages.push(m.data.into_owned()),
            Err(error) => return (messages, Some(error.to_string())),
        }
    }
    (messages, None)
}

/// Publishes `count` `Counted` samples on `name` (created with a buffer that holds them
/// all, its publisher waiting rather than overwriting), once `recorders` subscribers are
/// connected.
fn publish_counted(domain: &Domain, node: &Node, name: &str, count: u64) {
    let service = Service::publish_subscribe::<Counted>(node, name)
        .subscriber_buffer(64)
        .overflow(shmbus::OverflowPolicy::Block)
        .open_or_create()
        .unwrap();
    until("the recorder's subscriber", || {
        ports(
            domain,
            name,
            Pattern::PublishSubscribe,
            PortRole::Subscriber,
        ) == 1
    });
    let publisher = service.publisher().send_timeout(PATIENCE).create().unwrap();
    for seq in 0..count {
        publisher
            .send_copy(&Counted {
                seq,
                checksum: checksum(seq),
            })
            .unwrap();
    }
}

/// `text` with the file name, size and duration of a record or replay report redacted.
fn redact_report(text: &str, file: &TempFile) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace(file.arg(), "<file>");
            match (line.find(" ("), line.find(" in "), line.rfind(" s: ")) {
                (Some(open), Some(_), Some(end)) if line.starts_with("recorded") => {
                    format!("{} (<size>) in <t>{}", &line[..open], &line[end + 2..])
                }
                (None, Some(at), Some(end)) if line.starts_with("replayed") => {
                    format!("{} in <t>{}", &line[..at], &line[end + 2..])
                }
                _ => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn record_then_replay_into_a_fresh_domain() {
    let file = TempFile::new("record");
    let source = Domain::new("record_source");
    {
        let node = source.node("app");
        let recorder = source.spawn(&["record", "robot/*", "-o", file.arg()]);
        publish_counted(&source, &node, "robot/counted", 20);
        sigterm(&recorder);
        let out = recorder.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        insta::assert_snapshot!("record", redact_report(&stdout(&out), &file));
    }
    source.assert_clean();

    let target = Domain::new("record_target");
    {
        let node = target.node("listener");
        let counted = Service::publish_subscribe::<Counted>(&node, "renamed/counted")
            .subscriber_buffer(64)
            .create()
            .unwrap();
        let subscriber = counted.subscriber().create().unwrap();
        let out = target.run(&[
            "replay",
            file.arg(),
            "--rate",
            "0",
            "--remap",
            "robot/counted=renamed/counted",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        insta::assert_snapshot!("replay", redact_report(&stdout(&out), &file));
        for seq in 0..20 {
            let sample = subscriber.receive().unwrap().expect("a replayed sample");
            assert_eq!(
                *sample,
                Counted {
                    seq,
                    checksum: checksum(seq)
                }
            );
        }
        assert!(subscriber.receive().unwrap().is_none());
    }
    target.assert_clean();
}

#[test]
fn a_recorder_killed_with_sigkill_leaves_a_file_readable_to_its_last_chunk() {
    let file = TempFile::new("killed");
    let source = Domain::new("killed_source");
    let recorder_pid;
    {
        let node = source.node("app");
        let mut recorder = source.spawn(&[
            "record",
            "robot/counted",
            "-o",
            file.arg(),
            "--flush-interval",
            "0.05",
        ]);
        recorder_pid = recorder.id();
        publish_counted(&source, &node, "robot/counted", 30);
        // Each flush closes a chunk: wait until all 30 are in closed chunks.
        until("the recorder's chunks", || readable(&file.0).0.len() == 30);
        recorder.kill().unwrap();
        recorder.wait().unwrap();
    }
    // No summary, no footer: the `mcap` reader gives every message of the closed chunks,
    // then says where the file ends.
    let bytes = std::fs::read(&file.0).unwrap();
    assert!(mcap::Summary::read(&bytes).is_err() || mcap::Summary::read(&bytes).unwrap().is_none());
    let (messages, error) = readable(&file.0);
    assert_eq!(messages.len(), 30);
    assert!(error.is_some(), "a cut-off file ends in an error");
    for (seq, message) in messages.iter().enumerate() {
        let bytes = shmbus_record::cdr::from_cdr(&Descriptor::of::<Counted>(), message).unwrap();
        assert_eq!(bytes[..8], (seq as u64).to_ne_bytes());
    }
    // The killed recorder's leftovers are cleaned as any dead node's.
    let out = source.run(&["clean"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    source.assert_clean();

    // The replay sends what is there, then says the file was cut off.
    let target = Domain::new("killed_target");
    {
        let node = target.node("listener");
        let counted = Service::publish_subscribe::<Counted>(&node, "robot/counted")
            .subscriber_buffer(64)
            .create()
            .unwrap();
        let subscriber = counted.subscriber().create().unwrap();
        let out = target.run(&["replay", file.arg(), "--rate", "0"]);
        assert_eq!(out.status.code(), Some(1));
        let text = stderr(&out).replace(file.arg(), "<file>");
        assert!(
            text.starts_with("error: <file> is damaged or cut off after 30 messages: "),
            "{text}"
        );
        let mut got = 0;
        while subscriber.receive().unwrap().is_some() {
            got += 1;
        }
        assert_eq!(got, 30);
    }
    target.assert_clean();
    let _ = recorder_pid;
}

#[test]
fn bad_input_is_an_error_that_says_what_is_wrong() {
    let domain = Domain::new("errors");
    {
        let node = domain.node("listener");
        let service = Service::publish_subscribe::<Everything>(&node, "every/kind")
            .create()
            .unwrap();
        let _subscriber = service.subscriber().create().unwrap();
        let rr = Service::request_response::<Ask, Answer>(&node, "rec/rr")
            .create()
            .unwrap();
        let existing = TempFile::new("errors");
        std::fs::write(&existing.0, "not a recording").unwrap();
        let mut out_of_range: serde_json::Value =
            serde_json::from_str(&Everything::sample_json(1)).unwrap();
        out_of_range["tiny"] = 300.into();
        let mut unknown = out_of_range.clone();
        unknown["tiny"] = 1.into();
        unknown["speed"] = 1.into();
        let cases: Vec<(&str, Vec<String>)> = vec![
            (
                "invalid JSON",
                vec!["pub".into(), "every/kind".into(), "{nope".into()],
            ),
            (
                "out of range",
                vec!["pub".into(), "every/kind".into(), out_of_range.to_string()],
            ),
            (
                "unknown field",
                vec!["pub".into(), "every/kind".into(), unknown.to_string()],
            ),
            ("missing service", vec!["echo".into(), "no/such".into()]),
            ("wrong pattern", vec!["echo".into(), "rec/rr".into()]),
            (
                "no field",
                vec![
                    "echo".into(),
                    "every/kind".into(),
                    "--field".into(),
                    "speed".into(),
                ],
            ),
            (
                "recording into a file that exists",
                vec![
                    "record".into(),
                    "every/kind".into(),
                    "-o".into(),
                    existing.arg().into(),
                ],
            ),
            (
                "replaying a missing file",
                vec!["replay".into(), "/nonexistent/run.mcap".into()],
            ),
            (
                "replaying what is not MCAP",
                vec!["replay".into(), existing.arg().into()],
            ),
            (
                "a remapping that is none",
                vec![
                    "replay".into(),
                    existing.arg().into(),
                    "--remap".into(),
                    "robot".into(),
                ],
            ),
            (
                "no server",
                vec![
                    "call".into(),
                    "rec/rr".into(),
                    "{}".into(),
                    "--timeout".into(),
                    "0.1".into(),
                ],
            ),
        ];
        let mut report = String::new();
        for (what, args) in cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = domain.run(&args);
            assert_eq!(out.status.code(), Some(1), "{what}: {}", stdout(&out));
            report.push_str(&format!("{what}:\n  {}", stderr(&out)));
        }
        let report = report.replace(existing.arg(), "<file>");
        insta::assert_snapshot!("errors", domain.redact(&report, &[]));
        drop(rr);
    }
    domain.assert_clean();
}
