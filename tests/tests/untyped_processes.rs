//! Typed and byte-level ports talk to each other across processes (the `untyped-child`
//! binary is the typed side): a message with every kind of field arrives field by field
//! as it was sent, whichever side knows the Rust type.

use std::time::Duration;

use shmbus::message::{Descriptor, Value};
use shmbus::{Service, ShmMessage};
use shmbus_tests::everything::Everything;
use shmbus_tests::{Peer, Setup};

const SAMPLES: u64 = 60;
/// A guard against hangs only.
const PATIENCE: Duration = Duration::from_secs(60);

fn start(setup: &Setup, role: &str, service: &str, n: u64) -> Peer {
    Peer::start(
        env!("CARGO_BIN_EXE_untyped-child"),
        setup,
        role,
        service,
        &[&n.to_string()],
    )
}

/// The bytes a byte-level sender makes of `Everything::sample(seq)`'s JSON.
fn encoded(d: &Descriptor, seq: u64) -> Vec<u8> {
    let value: Value = serde_json::from_str(&Everything::sample_json(seq))
        .unwrap_or_else(|e| panic!("{e}: {}", Everything::sample_json(seq)));
    d.encode_value(&value)
        .unwrap_or_else(|e| panic!("sample {seq}: {e}"))
}

/// Reads bytes that another process wrote as a typed value (checked first; a chunk's
/// payload is aligned for its type).
fn typed(bytes: &[u8]) -> Everything {
    *shmbus::message::try_ref_from_bytes::<Everything>(bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// `received` (from another process) carries what `expected` carries, byte for byte, on
/// every byte that carries something (padding and unselected branches aside).
fn assert_same_message(d: &Descriptor, received: &[u8], expected: &[u8], seq: u64) {
    let mask = d.meaningful_bytes(received).unwrap();
    assert_eq!(mask, d.meaningful_bytes(expected).unwrap(), "sample {seq}");
    let differing: Vec<usize> = (0..mask.len())
        .filter(|&i| mask[i] && received[i] != expected[i])
        .collect();
    assert!(
        differing.is_empty(),
        "sample {seq}: bytes {differing:?} differ"
    );
}

#[test]
fn a_typed_publisher_reaches_a_byte_level_subscriber() {
    let setup = Setup::new("ut", "typed_to_raw");
    {
        let mut publisher = start(&setup, "typed-publish", "every/kind", SAMPLES);
        let node = setup.node("raw-subscriber");
        let service = Service::raw_publish_subscribe(&node, "every/kind")
            .open()
            .unwrap();
        // The descriptor came from the service: this process never named the type.
        let d = service.message_type().clone();
        assert_eq!(d.name(), "Everything");
        assert_eq!(d.layout_hash(), Everything::DESCRIPTOR.layout_hash());
        let subscriber = service.subscriber().create().unwrap();
        publisher.say("go");
        for seq in 1..=SAMPLES {
            let sample = subscriber
                .receive_timeout(PATIENCE)
                .unwrap()
                .expect("a sample within the patience");
            assert_eq!(sample.sequence(), seq);
            assert_eq!(sample.message_type(), &d);
            // Field by field as the typed sender wrote it ...
            assert_eq!(typed(sample.bytes()), Everything::sample(seq));
            // ... byte for byte as the independent JSON encodes ...
            assert_same_message(&d, sample.bytes(), &encoded(&d, seq), seq);
            // ... and the value tree, through JSON and back, gives the same bytes.
            let value = sample.value().unwrap();
            let json = serde_json::to_string(&value).unwrap();
            let back: Value = serde_json::from_str(&json).unwrap();
            let again = d.encode_value(&back).unwrap();
            assert_same_message(&d, sample.bytes(), &again, seq);
            assert_eq!(again, encoded(&d, seq), "sample {seq}: {json}");
        }
        assert_eq!(publisher.line(), format!("sent {SAMPLES}"));
        publisher.finish();
    }
    setup.assert_clean();
}

#[test]
fn a_byte_level_publisher_reaches_a_typed_subscriber() {
    let setup = Setup::new("ut", "raw_to_typed");
    {
        let mut subscriber = start(&setup, "typed-subscribe", "every/kind", SAMPLES);
        let node = setup.node("raw-publisher");
        let service = Service::raw_publish_subscribe(&node, "every/kind")
            .open()
            .unwrap();
        let d = service.message_type().clone();
        let publisher = service.publisher().create().unwrap();
        for seq in 1..=SAMPLES {
            let value: Value = serde_json::from_str(&Everything::sample_json(seq)).unwrap();
            let delivered = if seq % 2 == 0 {
                publisher.send_value(&value).unwrap()
            } else {
                publisher.send_bytes(&encoded(&d, seq)).unwrap()
            };
            assert_eq!(delivered, 1);
        }
        assert_eq!(subscriber.line(), format!("ok {SAMPLES}"));
        subscriber.finish();
        // What the typed side would refuse is refused before it is sent, naming the field.
        let mut bad = encoded(&d, 1);
        let gear = std::mem::offset_of!(Everything, gear);
        bad[gear] = 5;
        let error = publisher.send_bytes(&bad).unwrap_err().to_string();
        assert!(error.contains("gear"), "{error}");
        let mut value: Value = serde_json::from_str(&Everything::sample_json(1)).unwrap();
        if let Value::Map(fields) = &mut value {
            fields.retain(|(name, _)| name != "heading");
        }
        let error = publisher.send_value(&value).unwrap_err().to_string();
        assert!(error.contains("heading"), "{error}");
    }
    setup.assert_clean();
}

#[test]
fn a_byte_level_client_calls_a_typed_server_and_back() {
    let setup = Setup::new("ut", "raw_client");
    {
        let mut server = start(&setup, "typed-server", "every/call", SAMPLES);
        let node = setup.node("raw-client");
        let service = Service::raw_request_response(&node, "every/call")
            .open()
            .unwrap();
        let (request_type, response_type) = (
            service.request_type().clone(),
            service.response_type().clone(),
        );
        let client = service.client().create().unwrap();
        for seq in 1..=SAMPLES {
            let value: Value = serde_json::from_str(&Everything::sample_json(seq)).unwrap();
            let pending = client.send_value(&value).unwrap();
            let response = pending
                .receive_timeout(PATIENCE)
                .unwrap()
                .expect("a response within the patience");
            assert_eq!(typed(response.bytes()), Everything::sample(seq + 1000));
            assert_same_message(
                &response_type,
                response.bytes(),
                &encoded(&request_type, seq + 1000),
                seq,
            );
            drop(response);
            assert!(pending.receive_timeout(PATIENCE).unwrap().is_none());
            assert!(pending.is_finished());
        }
        assert_eq!(server.line(), format!("served {SAMPLES}"));
        server.finish();
    }
    setup.assert_clean();
}
