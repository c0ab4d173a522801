//! Recording and replaying through the library: every kind of field, request-response
//! with its correlation, an independent reader of the file, and each kind of bad input.
//! Services are recorded in one domain and replayed into a fresh one.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{CdrChoice, CdrSample, compile, same_root};
use shmbus::message::{Descriptor, Value};
use shmbus::service::qos::{OverflowPolicy, PubSubQos};
use shmbus::{RawSubscriber, Service};
use shmbus_record::format::{self, Role, ServiceSpec};
use shmbus_record::replayer::ReplayEnd;
use shmbus_record::{
    RecordOptions, RecordReport, Recorder, ReplayError, ReplayOptions, ReplayReport, Replayer,
};
use shmbus_test_idl_corpus::kinds;
use shmbus_test_idl_corpus::random::{Rng, random};
use shmbus_test_idl_corpus::round_trip::rt;
use shmbus_tests::everything::Everything;
use shmbus_tests::{Answer, Ask, Setup};

/// A guard against hangs only.
const PATIENCE: Duration = Duration::from_secs(60);
/// Samples per publish-subscribe service (each subscriber buffer holds them all, so no
/// step of the test waits for another).
const SAMPLES: usize = 40;
/// Requests of the request-response service.
const REQUESTS: u64 = 12;

/// A file of the test's own, removed at the end.
struct TempFile(PathBuf);

impl TempFile {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("shmbus-record-{test}-{}.mcap", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// QoS that holds a whole test's samples and never loses one: publishers wait.
fn roomy() -> PubSubQos {
    PubSubQos {
        subscriber_buffer: 64,
        max_subscribers: 2,
        overflow: OverflowPolicy::Block,
        ..PubSubQos::default()
    }
}

/// What the publishers sent, per service, as values (canonical: through the bytes).
type Sent = BTreeMap<String, Vec<Value>>;

fn canonical(d: &Descriptor, value: &Value) -> Value {
    let bytes = d.encode_value(value).unwrap_or_else(|e| panic!("{d}: {e}"));
    d.decode_value(&bytes).unwrap()
}

/// Records the test services of `setup` into `file` while they publish and serve.
fn record_everything(setup: &Setup, file: &Path) -> (Sent, RecordReport) {
    let node = setup.node("app");
    let mut sent = Sent::new();
    let open = |name: &str, d: Descriptor| {
        Service::raw_publish_subscribe(&node, name)
            .message_type(d)
            .qos(roomy())
            .create()
            .unwrap()
    };
    let services = [
        (
            "kinds/everything",
            Descriptor::of::<kinds::kinds::Everything>(),
        ),
        ("hand/everything", Descriptor::of::<Everything>()),
        ("rt/sample", Descriptor::of::<rt::Sample>()),
        ("rt/choice", Descriptor::of::<rt::Choice>()),
    ];
    let opened: Vec<_> = services.iter().map(|(n, d)| open(n, d.clone())).collect();
    let calc = Service::request_response::<Ask, Answer>(&node, "calc")
        .max_active_requests_per_client(32)
        .response_buffer(32)
        .create()
        .unwrap();

    let recorder_node = setup.node("recorder");
    let recorder = Recorder::create(
        &recorder_node,
        file,
        RecordOptions::services(["kinds/*", "hand/everything", "rt/*", "calc"]),
    )
    .unwrap();
    let stop = recorder.stop_handle();
    let recording = std::thread::spawn(move || recorder.run(|_| {}));

    let mut rng = Rng(0x2ec0_4d00);
    for ((name, d), service) in services.iter().zip(&opened) {
        let publisher = service.publisher().send_timeout(PATIENCE).create().unwrap();
        let values = sent.entry((*name).to_owned()).or_default();
        for seq in 0..SAMPLES {
            let value = if *name == "hand/everything" {
                serde_json::from_str(&Everything::sample_json(seq as u64)).unwrap()
            } else {
                random(d, &mut rng)
            };
            publisher.send_value(&value).unwrap();
            values.push(canonical(d, &value));
        }
    }
    // Requests, each answered by a stream of two responses.
    let server = calc.server().create().unwrap();
    let client = calc.client().create().unwrap();
    for seq in 0..REQUESTS {
        let ask = Ask {
            client: 5,
            seq,
            stream: 2,
        };
        let pending = client.send_copy(&ask).unwrap();
        let request = server
            .receive_timeout(PATIENCE)
            .unwrap()
            .expect("a request");
        assert_eq!(*request, ask);
        for index in 0..2 {
            request.respond_copy(&Answer::to(&ask, index)).unwrap();
        }
        drop(request);
        for index in 0..2 {
            let answer = pending
                .receive_timeout(PATIENCE)
                .unwrap()
                .expect("an answer");
            assert_eq!(*answer, Answer::to(&ask, index));
        }
    }
    stop.stop();
    let report = recording.join().unwrap().unwrap();
    drop((server, client, calc, opened));
    (sent, report)
}

/// Everything a subscriber has, as values.
fn drain(subscriber: &RawSubscriber) -> Vec<Value> {
    let mut got = Vec::new();
    while let Some(sample) = subscriber.receive().unwrap() {
        got.push(sample.value().unwrap());
    }
    got
}

#[test]
fn every_kind_of_field_survives_a_recording_and_a_replay_into_a_fresh_domain() {
    let file = TempFile::new("kinds");
    let source = Setup::new("record", "kinds_source");
    let (sent, report) = record_everything(&source, &file.0);
    assert_eq!(report.missed, 0, "{report:?}");
    assert_eq!(
        report.messages,
        4 * SAMPLES as u64 + 3 * REQUESTS,
        "{report:?}"
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let topics: Vec<(&str, u64)> = report
        .channels
        .iter()
        .map(|c| (c.topic.as_str(), c.messages))
        .collect();
    assert_eq!(
        topics,
        [
            ("calc/request", REQUESTS),
            ("calc/response", 2 * REQUESTS),
            ("hand/everything", SAMPLES as u64),
            ("kinds/everything", SAMPLES as u64),
            ("rt/choice", SAMPLES as u64),
            ("rt/sample", SAMPLES as u64),
        ]
    );
    source.assert_clean();

    // Replayed into a fresh domain: the replay creates the services (from the file's
    // summary, before it sends anything), the test subscribes, then the replay runs.
    let target = Setup::new("record", "kinds_target");
    let node = target.node("replayer");
    let replayer = Replayer::open(
        &node,
        &file.0,
        ReplayOptions {
            rate: 0.0,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    let listener = target.node("listener");
    let subscribers: BTreeMap<&String, RawSubscriber> = sent
        .keys()
        .map(|name| {
            let service = Service::raw_publish_subscribe(&listener, name)
                .open()
                .unwrap();
            // Created with the recorded QoS.
            assert_eq!(*service.qos(), roomy(), "{name}");
            (name, service.subscriber().create().unwrap())
        })
        .collect();
    let calc = Service::request_response::<Ask, Answer>(&listener, "calc")
        .open()
        .unwrap();
    let server = calc.server().create().unwrap();
    let replayed = replayer.run(|_| {}).unwrap();
    assert_eq!(
        replayed,
        ReplayReport {
            ended: ReplayEnd::Finished,
            messages: 4 * SAMPLES as u64 + REQUESTS,
            no_server: 0,
            responses_skipped: 2 * REQUESTS,
            filtered: 0,
            rounds: 1,
            elapsed: replayed.elapsed,
        }
    );
    for (name, subscriber) in &subscribers {
        assert_eq!(&drain(subscriber), &sent[*name], "{name}");
    }
    // The recorded requests reach the server again, in order.
    for seq in 0..REQUESTS {
        let request = server.receive().unwrap().expect("a replayed request");
        assert_eq!(
            *request,
            Ask {
                client: 5,
                seq,
                stream: 2
            }
        );
    }
    drop((server, calc, subscribers, listener, node));
    target.assert_clean();
}

#[test]
fn the_file_is_plain_mcap_that_other_decoders_read() {
    let file = TempFile::new("independent");
    let source = Setup::new("record", "independent");
    let (sent, _) = record_everything(&source, &file.0);
    source.assert_clean();
    let bytes = std::fs::read(&file.0).unwrap();

    // The summary: every schema is OMG IDL, every channel CDR.
    let summary = mcap::Summary::read(&bytes).unwrap().expect("a summary");
    let stats = summary.stats.as_ref().expect("statistics");
    assert_eq!(stats.message_count, 4 * SAMPLES as u64 + 3 * REQUESTS);
    assert_eq!(summary.channels.len(), 6);
    for channel in summary.channels.values() {
        let schema = channel.schema.as_ref().expect("a schema");
        assert_eq!(schema.encoding, "omgidl", "{}", channel.topic);
        assert_eq!(channel.message_encoding, "cdr", "{}", channel.topic);
        // The IDL text reads back, with our own front end, as the recorded type.
        let (_, role, spec) = ServiceSpec::from_metadata(&channel.metadata).unwrap();
        let d = spec.type_of(role).unwrap();
        let text = std::str::from_utf8(&schema.data).unwrap();
        let hir = compile(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let root = hir.find(&schema.name).expect("the schema's root type");
        same_root(&hir, root, d);
        assert_eq!(
            format::topic(&channel.metadata[format::SERVICE], role),
            channel.topic
        );
    }

    // Every message through the `mcap` crate's reader; two channels through the `cdr`
    // crate: the values are the published ones.
    let mut samples = Vec::new();
    let mut choices = Vec::new();
    let mut requests = BTreeMap::new();
    let mut responses: BTreeMap<u32, Vec<Answer>> = BTreeMap::new();
    for message in mcap::MessageStream::new(&bytes).unwrap() {
        let message = message.unwrap();
        assert!(message.publish_time <= message.log_time);
        match message.channel.topic.as_str() {
            "rt/sample" => samples.push(cdr::deserialize::<CdrSample>(&message.data).unwrap()),
            "rt/choice" => choices.push(cdr::deserialize::<CdrChoice>(&message.data).unwrap()),
            "calc/request" => {
                let d = Descriptor::of::<Ask>();
                let bytes = shmbus_record::cdr::from_cdr(&d, &message.data).unwrap();
                requests.insert(message.sequence, ask_of(&d.decode_value(&bytes).unwrap()));
            }
            "calc/response" => {
                let d = Descriptor::of::<Answer>();
                let bytes = shmbus_record::cdr::from_cdr(&d, &message.data).unwrap();
                responses
                    .entry(message.sequence)
                    .or_default()
                    .push(answer_of(&d.decode_value(&bytes).unwrap()));
            }
            _ => {}
        }
    }
    assert_eq!(samples.len(), SAMPLES);
    for (theirs, ours) in samples.iter().zip(&sent["rt/sample"]) {
        let ours = ours.to_json();
        assert_eq!(theirs.id, ours["id"]);
        assert_eq!(
            (theirs.at.x, theirs.at.y),
            (f(&ours["at"]["x"]), f(&ours["at"]["y"]))
        );
        assert_eq!(theirs.name, ours["name"]);
        let values: Vec<f64> = theirs.values.iter().map(|v| f64::from(*v)).collect();
        let expected: Vec<f64> = ours["values"].as_array().unwrap().iter().map(f).collect();
        assert_eq!(values, expected);
        assert_eq!(theirs.level.0.map(i64::from), ours["level"].as_i64());
        assert_eq!(theirs.ok, ours["ok"]);
        assert_eq!(
            theirs.raw.to_vec(),
            serde_json::from_value::<Vec<u8>>(ours["raw"].clone()).unwrap()
        );
        assert_eq!(theirs.table.len(), ours["table"].as_array().unwrap().len());
    }
    assert_eq!(choices.len(), SAMPLES);
    for (theirs, ours) in choices.iter().zip(&sent["rt/choice"]) {
        let ours = ours.to_json();
        let expected = match ours["_d"].as_i64().unwrap() as i16 {
            d @ (1 | 2) => CdrChoice::Small(d, ours["small"].as_i64().unwrap() as i32),
            3 => CdrChoice::Point(common::CdrPoint {
                x: f(&ours["point"]["x"]),
                y: f(&ours["point"]["y"]),
            }),
            d => CdrChoice::Other(d, ours["other"].as_u64().unwrap() as u8),
        };
        assert_eq!(theirs, &expected, "{ours}");
    }
    // A request and both its responses carry the same sequence.
    assert_eq!(requests.len(), REQUESTS as usize);
    for (sequence, ask) in &requests {
        assert_eq!(
            responses[sequence],
            [Answer::to(ask, 0), Answer::to(ask, 1)],
            "sequence {sequence:#x}"
        );
    }
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

trait ToJson {
    fn to_json(&self) -> serde_json::Value;
}

impl ToJson for Value {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap()
    }
}

fn ask_of(v: &Value) -> Ask {
    let j = v.to_json();
    Ask {
        client: j["client"].as_u64().unwrap(),
        seq: j["seq"].as_u64().unwrap(),
        stream: j["stream"].as_u64().unwrap(),
    }
}

fn answer_of(v: &Value) -> Answer {
    serde_json::from_value::<AnswerJson>(v.to_json()).unwrap().0
}

struct AnswerJson(Answer);

impl<'de> serde::Deserialize<'de> for AnswerJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct A {
            client: u64,
            seq: u64,
            index: u64,
            value: u64,
        }
        let a = A::deserialize(d)?;
        Ok(AnswerJson(Answer {
            client: a.client,
            seq: a.seq,
            index: a.index,
            value: a.value,
        }))
    }
}

// ---- bad input --------------------------------------------------------------------------

/// Records `count` u64 samples of service `name` (values 0, 1, ...) into `file`.
fn record_numbers(setup: &Setup, file: &Path, name: &str, count: u64, options: RecordOptions) {
    let node = setup.node("app");
    let service = Service::publish_subscribe::<u64>(&node, name)
        .subscriber_buffer(64)
        .overflow(OverflowPolicy::Block)
        .create()
        .unwrap();
    let recorder = Recorder::create(&setup.node("recorder"), file, options).unwrap();
    let stop = recorder.stop_handle();
    let recording = std::thread::spawn(move || recorder.run(|_| {}));
    let publisher = service.publisher().send_timeout(PATIENCE).create().unwrap();
    for i in 0..count {
        publisher.send_copy(&i).unwrap();
    }
    stop.stop();
    let report = recording.join().unwrap().unwrap();
    assert_eq!(report.messages, count);
}

/// Replays `file` into `setup`'s domain, where the service `name` of u64 is subscribed
/// (created by the test first); the result and the values that arrived.
fn replay_numbers(
    setup: &Setup,
    file: &Path,
    name: &str,
    options: ReplayOptions,
) -> (Result<ReplayReport, ReplayError>, Vec<u64>) {
    let node = setup.node("listener");
    let service = Service::publish_subscribe::<u64>(&node, name)
        .subscriber_buffer(256)
        .open_or_create()
        .unwrap();
    let subscriber = service.subscriber().create().unwrap();
    let result = Replayer::open(&setup.node("replayer"), file, options).and_then(|r| r.run(|_| {}));
    let mut got = Vec::new();
    while let Some(sample) = subscriber.receive().unwrap() {
        got.push(*sample);
    }
    (result, got)
}

fn fast() -> ReplayOptions {
    ReplayOptions {
        rate: 0.0,
        ..ReplayOptions::default()
    }
}

#[test]
fn a_service_of_another_type_is_refused_before_anything_is_sent() {
    let file = TempFile::new("mismatch");
    let source = Setup::new("record", "mismatch_source");
    record_numbers(
        &source,
        &file.0,
        "numbers",
        5,
        RecordOptions::services(["numbers"]),
    );

    let target = Setup::new("record", "mismatch_target");
    let node = target.node("other");
    let other = Service::publish_subscribe::<u32>(&node, "numbers")
        .create()
        .unwrap();
    let subscriber = other.subscriber().create().unwrap();
    let error = Replayer::open(&target.node("replayer"), &file.0, fast()).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ReplayError::OpenService { .. }), "{text}");
    assert!(
        text.contains("\"numbers\"") && text.contains("u64"),
        "{text}"
    );
    assert!(subscriber.receive().unwrap().is_none());

    // Remapped, it goes elsewhere.
    let (result, got) = replay_numbers(
        &target,
        &file.0,
        "renamed",
        ReplayOptions {
            remap: vec![("numbers".into(), "renamed".into())],
            ..fast()
        },
    );
    assert_eq!(result.unwrap().messages, 5);
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn a_cut_off_file_replays_up_to_its_last_complete_chunk_then_says_so() {
    let file = TempFile::new("cut");
    let source = Setup::new("record", "cut_source");
    record_numbers(
        &source,
        &file.0,
        "numbers",
        30,
        RecordOptions::services(["numbers"]),
    );
    let whole = std::fs::read(&file.0).unwrap();

    // Where the data section ends: the summary and footer follow. Cut in the summary, and
    // in the middle of the messages' chunk.
    let summary_start = mcap::read::footer(&whole).unwrap().summary_start as usize;
    let target = Setup::new("record", "cut_target");
    std::fs::write(&file.0, &whole[..summary_start + 10]).unwrap();
    let (result, got) = replay_numbers(&target, &file.0, "numbers", fast());
    let error = result.unwrap_err();
    assert!(
        matches!(error, ReplayError::Read { messages: 30, .. }),
        "{error}"
    );
    assert_eq!(got, (0..30).collect::<Vec<_>>());

    let chunk = find(&whole, b"zstd").expect("a compressed chunk");
    std::fs::write(&file.0, &whole[..chunk + 40]).unwrap();
    let (result, got) = replay_numbers(&target, &file.0, "numbers", fast());
    let error = result.unwrap_err();
    assert!(
        matches!(error, ReplayError::Read { messages: 0, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("cut off"), "{error}");
    assert!(got.is_empty(), "{got:?}");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn damaged_files_are_refused_and_nothing_invalid_is_sent() {
    let file = TempFile::new("damaged");
    let source = Setup::new("record", "damaged_source");
    record_numbers(
        &source,
        &file.0,
        "numbers",
        20,
        RecordOptions::services(["numbers"]),
    );
    let whole = std::fs::read(&file.0).unwrap();
    let target = Setup::new("record", "damaged_target");

    // Not MCAP at all.
    std::fs::write(&file.0, b"hello, this is not a recording").unwrap();
    let (result, got) = replay_numbers(&target, &file.0, "numbers", fast());
    assert!(
        matches!(result, Err(ReplayError::NotMcap { .. })),
        "{result:?}"
    );
    assert!(got.is_empty());

    // A byte of the compressed chunk flipped: its CRC (or zstd) refuses it whole.
    let chunk = find(&whole, b"zstd").unwrap();
    let mut damaged = whole.clone();
    damaged[chunk + 60] ^= 0x40;
    std::fs::write(&file.0, &damaged).unwrap();
    let (result, got) = replay_numbers(&target, &file.0, "numbers", fast());
    assert!(
        matches!(result, Err(ReplayError::Read { .. })),
        "{result:?}"
    );
    assert!(got.is_empty(), "{got:?}");

    // Bytes flipped anywhere: an error or a replay, never a panic, never an invalid
    // sample (the subscriber validates each; the values are the recorded ones).
    let mut rng = Rng(99);
    for _ in 0..150 {
        let mut damaged = whole.clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(damaged.len() as u64) as usize;
            damaged[at] ^= 1 << rng.below(8);
        }
        std::fs::write(&file.0, &damaged).unwrap();
        let (_, got) = replay_numbers(&target, &file.0, "numbers", fast());
        assert!(got.iter().all(|v| *v < 20), "{got:?}");
    }
    target.assert_clean();
}

/// Writes an MCAP file with one channel and the given messages.
fn write_file(
    path: &Path,
    schema_encoding: &str,
    metadata: &BTreeMap<String, String>,
    messages: &[Vec<u8>],
) {
    let mut writer = mcap::Writer::new(std::io::BufWriter::new(
        std::fs::File::create(path).unwrap(),
    ))
    .unwrap();
    let schema = writer
        .add_schema("Number", schema_encoding, b"uint64 value")
        .unwrap();
    let channel = writer
        .add_channel(schema, "numbers", "cdr", metadata)
        .unwrap();
    for (i, data) in messages.iter().enumerate() {
        writer
            .write_to_known_channel(
                &mcap::records::MessageHeader {
                    channel_id: channel,
                    sequence: i as u32,
                    log_time: i as u64,
                    publish_time: i as u64,
                },
                data,
            )
            .unwrap();
    }
    writer.finish().unwrap();
}

fn number_cdr(v: u64) -> Vec<u8> {
    shmbus_record::cdr::to_cdr(&Descriptor::of::<u64>(), &v.to_ne_bytes())
}

#[test]
fn foreign_channels_and_undecodable_messages_are_precise_errors() {
    let file = TempFile::new("foreign");
    let target = Setup::new("record", "foreign");
    let spec = ServiceSpec::PublishSubscribe {
        message: Descriptor::of::<u64>(),
        qos: PubSubQos::default(),
    };
    let ours = spec.metadata("numbers", Role::Message).unwrap();

    // A schema that is not OMG IDL.
    write_file(&file.0, "ros2msg", &ours, &[number_cdr(1)]);
    let (result, got) = replay_numbers(&target, &file.0, "numbers", fast());
    let error = result.unwrap_err();
    assert!(matches!(error, ReplayError::Schema { .. }), "{error}");
    assert!(error.to_string().contains("\"ros2msg\""), "{error}");
    assert!(got.is_empty());

    // OMG IDL, but not recorded by shmbus: no descriptor.
    write_file(&file.0, "omgidl", &BTreeMap::new(), &[number_cdr(1)]);
    let (result, _) = replay_numbers(&target, &file.0, "numbers", fast());
    let error = result.unwrap_err();
    assert!(matches!(error, ReplayError::Metadata { .. }), "{error}");
    assert!(error.to_string().contains("shmbus.service"), "{error}");

    // A message that does not decode, after one that does: only the first is sent.
    let mut short = number_cdr(2);
    short.truncate(9);
    write_file(
        &file.0,
        "omgidl",
        &ours,
        &[number_cdr(1), short, number_cdr(3)],
    );
    let (result, got) = replay_numbers(&target, &file.0, "numbers", fast());
    let error = result.unwrap_err();
    assert!(
        matches!(error, ReplayError::Decode { index: 1, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("nothing of it was sent"),
        "{error}"
    );
    assert_eq!(got, [1]);

    // A message whose bytes decode but are not a valid value (a bool of 2).
    let spec = ServiceSpec::PublishSubscribe {
        message: Descriptor::of::<shmbus::Boolean>(),
        qos: PubSubQos::default(),
    };
    write_file(
        &file.0,
        "omgidl",
        &spec.metadata("flags", Role::Message).unwrap(),
        &[vec![0, 1, 0, 0, 2]],
    );
    let node = target.node("listener");
    let flags = Service::publish_subscribe::<shmbus::Boolean>(&node, "flags")
        .create()
        .unwrap();
    let subscriber = flags.subscriber().create().unwrap();
    let error = Replayer::open(&target.node("replayer"), &file.0, fast())
        .and_then(|r| r.run(|_| {}))
        .unwrap_err();
    assert!(
        matches!(error, ReplayError::Decode { index: 0, .. }),
        "{error}"
    );
    assert!(subscriber.receive().unwrap().is_none());
    drop((subscriber, flags, node));
    target.assert_clean();
}

#[test]
fn replay_options_select_start_and_rate() {
    let file = TempFile::new("options");
    let source = Setup::new("record", "options_source");
    record_numbers(
        &source,
        &file.0,
        "numbers",
        10,
        RecordOptions::services(["numbers"]),
    );
    let target = Setup::new("record", "options_target");

    // Only the listed services.
    let (result, got) = replay_numbers(
        &target,
        &file.0,
        "numbers",
        ReplayOptions {
            services: vec![shmbus_record::ServicePattern::new("other/*")],
            ..fast()
        },
    );
    let report = result.unwrap();
    assert_eq!((report.messages, report.filtered), (0, 10));
    assert!(got.is_empty());

    // A start past the end sends nothing.
    let (result, got) = replay_numbers(
        &target,
        &file.0,
        "numbers",
        ReplayOptions {
            start: Duration::from_secs(3600),
            ..fast()
        },
    );
    assert_eq!(result.unwrap().messages, 0);
    assert!(got.is_empty());

    // A rate that is no rate.
    let error = Replayer::open(
        &target.node("replayer"),
        &file.0,
        ReplayOptions {
            rate: -1.0,
            ..ReplayOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(error, ReplayError::Rate { .. }), "{error}");
    target.assert_clean();
}

#[test]
fn recording_refuses_what_it_cannot_do() {
    let file = TempFile::new("refuse");
    let setup = Setup::new("record", "refuse");
    let node = setup.node("recorder");
    let error = Recorder::create(&node, &file.0, RecordOptions::default()).unwrap_err();
    assert!(error.to_string().contains("nothing to record"), "{error}");

    std::fs::write(&file.0, b"precious").unwrap();
    let error = Recorder::create(&node, &file.0, RecordOptions::all()).unwrap_err();
    assert!(error.to_string().contains("exists"), "{error}");
    assert_eq!(std::fs::read(&file.0).unwrap(), b"precious");

    // A service with no subscriber slot left, asked for by name.
    let app = setup.node("app");
    let full = Service::publish_subscribe::<u64>(&app, "full")
        .max_subscribers(1)
        .create()
        .unwrap();
    let _taken = full.subscriber().create().unwrap();
    let error = Recorder::create(
        &node,
        &file.0,
        RecordOptions {
            overwrite: true,
            ..RecordOptions::services(["full"])
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("\"full\""), "{error}");

    // Matched by a pattern, it is a warning in the report; the others are recorded.
    let recorder = Recorder::create(
        &node,
        &file.0,
        RecordOptions {
            overwrite: true,
            duration: Some(Duration::ZERO),
            ..RecordOptions::all()
        },
    )
    .unwrap();
    let report = recorder.run(|_| {}).unwrap();
    assert_eq!(report.warnings.len(), 1, "{report:?}");
    assert!(report.warnings[0].contains("\"full\""), "{report:?}");
    assert_eq!(
        report.stopped,
        shmbus_record::recorder::StopReason::Duration
    );
}

#[test]
fn services_that_appear_later_are_recorded_and_the_size_limit_holds() {
    let file = TempFile::new("later");
    let setup = Setup::new("record", "later");
    let recorder = Recorder::create(
        &setup.node("recorder"),
        &file.0,
        RecordOptions {
            discovery_interval: Duration::from_millis(20),
            max_size: Some(64 << 10),
            ..RecordOptions::services(["late/*"])
        },
    )
    .unwrap();
    let recording = std::thread::spawn(move || recorder.run(|_| {}));
    let node = setup.node("app");
    let service = Service::publish_subscribe::<[u8; 1000]>(&node, "late/bytes")
        .subscriber_buffer(64)
        .overflow(OverflowPolicy::Block)
        .create()
        .unwrap();
    let publisher = service
        .publisher()
        .send_timeout(Duration::from_millis(50))
        .create()
        .unwrap();
    // Until the recorder has joined and then filled the file (a bounded loop).
    let mut sent = 0;
    while !recording.is_finished() && sent < 100_000 {
        if publisher.send_copy(&[sent as u8; 1000]).is_ok() {
            sent += 1;
        }
    }
    let report = recording.join().unwrap().unwrap();
    assert_eq!(report.stopped, shmbus_record::recorder::StopReason::MaxSize);
    assert!(report.messages > 0, "{report:?}");
    let size = std::fs::metadata(&file.0).unwrap().len();
    assert_eq!(size, report.file_bytes);
    // The data stays under the limit; the summary adds its indexes.
    let bytes = std::fs::read(&file.0).unwrap();
    let summary_start = mcap::read::footer(&bytes).unwrap().summary_start;
    assert!(summary_start <= 64 << 10, "{summary_start}");
    let mut read = 0;
    for message in mcap::MessageStream::new(&bytes).unwrap() {
        message.unwrap();
        read += 1;
    }
    assert_eq!(read, report.messages);
}
