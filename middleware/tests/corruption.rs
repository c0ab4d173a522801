//! A hostile or buggy process may write anything over the shared memory of a service: its
//! header, node table, port slots and queues, and a publisher's data segment (chunk
//! headers, holder masks, free list). Whatever it writes, every operation of the survivors
//! must return a value or an error — never panic, hang or read out of bounds — and when the
//! last handle goes, nothing of the service may remain.
//!
//! The bytes are scribbled through the object's file in `/dev/shm`, as another process
//! would. Loans and samples are never held at the same time, so the test itself never
//! holds a `&mut` and a `&` to one chunk even when the scribbled free list hands out a
//! chunk twice.

use std::os::unix::fs::FileExt;

use shmbus::service::{Pattern, ServiceOpenError};
use std::time::Duration;

use shmbus::service::OverflowPolicy;
use shmbus::{Boolean, FixedString, Service, ShmMessage};

mod common;
use common::{leftovers, node};

#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq)]
#[repr(C)]
struct Status {
    seq: u64,
    ok: Boolean,
    note: FixedString<24>,
}

/// Which part of which object to scribble.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The service object's static part (header, name, descriptors).
    Header,
    /// The service object after the static part: node table, port slots, queues.
    Registry,
    /// The publisher's data segment.
    Segment,
}

struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Overwrites a random share of the 8-byte words in `range` of the shm object `name` with
/// random values, small numbers and all-ones (the values most likely to look plausible).
fn scribble(name: &str, range: std::ops::Range<u64>, rng: &mut Xorshift, share: u64) {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .unwrap();
    let len = file.metadata().unwrap().len();
    let end = range.end.min(len);
    let mut at = range.start;
    while at + 8 <= end {
        if rng.next() % 100 < share {
            let value = match rng.next() % 4 {
                0 => rng.next(),
                1 => rng.next() % 8,
                2 => u64::MAX,
                _ => 0,
            };
            file.write_all_at(&value.to_le_bytes(), at).unwrap();
        }
        at += 8;
    }
}

/// Reads the little-endian word at `at` of the shm object `name`.
fn word(name: &str, at: u64) -> u64 {
    let file = std::fs::File::open(format!("/dev/shm/{name}")).unwrap();
    let mut bytes = [0; 8];
    file.read_exact_at(&mut bytes, at).unwrap();
    u64::from_le_bytes(bytes)
}

/// Byte offsets of header words (see `shmbus::service::layout`).
const STATIC_SIZE_AT: u64 = 40;
const TYPE0_ENCODING_AT: u64 = 152;
const TYPE0_ENCODING_LEN: u64 = 160;

/// The size of the static part of the service object `name`, before anyone scribbled.
fn static_size(name: &str) -> u64 {
    word(name, STATIC_SIZE_AT)
}

fn object(node: &shmbus::Node, kind: &str) -> String {
    let prefix = format!("{}{kind}.", node.config().shm_prefix());
    let found: Vec<String> = leftovers(node)
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} object: {found:?}");
    found[0].clone()
}

fn status(seq: u64) -> Status {
    Status {
        seq,
        ok: Boolean::from(seq.is_multiple_of(2)),
        note: FixedString::try_from("scribble").unwrap(),
    }
}

/// Runs every operation a survivor might run, some of them many times; each may fail.
fn exercise(node: &shmbus::Node, round: u64) -> usize {
    let mut errors = 0;
    let service = Service::publish_subscribe::<Status>(node, "hostile/target")
        .lock_timeout(Duration::from_secs(5))
        .open_or_create();
    let Ok(service) = service else {
        return 1;
    };
    let publisher = service.publisher().create();
    let subscriber = service.subscriber().create();
    for seq in 0..40 {
        if let Ok(publisher) = &publisher {
            match publisher.loan() {
                Ok(mut sample) => {
                    *sample = status(seq);
                    errors += usize::from(sample.send().is_err());
                }
                Err(_) => errors += 1,
            }
            errors += usize::from(publisher.send_copy(&status(seq)).is_err());
            let _ = publisher.free_chunks();
        }
        if let Ok(subscriber) = &subscriber {
            for _ in 0..4 {
                match subscriber.receive() {
                    Ok(Some(sample)) => {
                        // A sample handed out is a valid `Status`: reading it is defined.
                        let _ = (sample.seq, sample.ok.get(), sample.note.as_str().len());
                        let _ = (sample.publisher_id(), sample.sequence());
                    }
                    Ok(None) => break,
                    Err(_) => errors += 1,
                }
            }
            let _ = subscriber.missed();
            let _ = subscriber.publishers();
        }
    }
    if let Ok(subscriber) = &subscriber {
        errors += usize::from(
            subscriber
                .receive_timeout(Duration::from_millis(1))
                .is_err(),
        );
    }
    let _ = service.remove_dead_nodes();
    let _ = round;
    errors
}

#[test]
fn scribbled_services_and_segments_are_survivable_and_leave_nothing() {
    let seed = std::env::var("SCRIBBLE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001u64);
    let mut rng = Xorshift(seed | 1);
    let mut total_errors = 0;
    let rounds: u64 = std::env::var("SCRIBBLE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    for round in 0..rounds {
        let node = node(&format!("scribble{round}"));
        let target = [Target::Header, Target::Registry, Target::Segment][(round % 3) as usize];
        {
            let service = Service::publish_subscribe::<Status>(&node, "hostile/target")
                .history(2)
                .subscriber_buffer(4)
                .overflow(if round % 2 == 0 {
                    OverflowPolicy::OverwriteOldest
                } else {
                    OverflowPolicy::Discard
                })
                .create()
                .unwrap();
            let publisher = service.publisher().create().unwrap();
            let subscriber = service.subscriber().create().unwrap();
            for seq in 1..=6 {
                publisher.send_copy(&status(seq)).unwrap();
            }
            // Buffer 4, 6 sent: overwriting keeps the newest four, discarding the oldest.
            let first = subscriber.receive().unwrap().unwrap().seq;
            assert_eq!(first, if round % 2 == 0 { 3 } else { 1 });
            let share = 5 + rng.next() % 60;
            let service_object = object(&node, "ps");
            let static_size = static_size(&service_object);
            match target {
                Target::Header => scribble(&service_object, 0..static_size, &mut rng, share),
                Target::Registry => {
                    scribble(&service_object, static_size..u64::MAX, &mut rng, share)
                }
                Target::Segment => scribble(&object(&node, "d.ps"), 0..u64::MAX, &mut rng, share),
            }
            // The ports that were there when it happened...
            for seq in 7..=30 {
                let _ = publisher.send_copy(&status(seq));
                if let Ok(Some(sample)) = subscriber.receive() {
                    let _ = (sample.seq, sample.ok.get(), sample.note.as_str());
                }
            }
            // ... and everything a newcomer does.
            total_errors += exercise(&node, round);
            let other = node.clone();
            total_errors += exercise(&other, round);
        }
        assert!(
            leftovers(&node).is_empty(),
            "round {round} ({target:?}) left {:?}",
            leftovers(&node)
        );
    }
    // The scribbles must have been noticed at least sometimes, or the test tests nothing.
    assert!(
        total_errors > 0,
        "no operation ever failed over {rounds} scribbled rounds"
    );
}

/// Calls on a request-response service whose object or segments were scribbled over:
/// every call, response and drop must end in a value or an error.
fn exercise_calls(node: &shmbus::Node) -> usize {
    let mut errors = 0;
    let Ok(service) = Service::request_response::<Status, Status>(node, "hostile/rpc")
        .lock_timeout(Duration::from_secs(5))
        .open_or_create()
    else {
        return 1;
    };
    let server = service
        .server()
        .send_timeout(Duration::from_millis(5))
        .create();
    let client = service.client().create();
    for seq in 0..20 {
        if let Ok(client) = &client {
            match client.send_copy(&status(seq)) {
                Ok(pending) => {
                    if let Ok(server) = &server {
                        while let Ok(Some(request)) = server.receive() {
                            let _ = (request.seq, request.is_cancelled());
                            errors += usize::from(request.respond_copy(&status(seq)).is_err());
                        }
                    }
                    match pending.receive_timeout(Duration::from_millis(2)) {
                        Ok(Some(response)) => {
                            let _ = (response.seq, response.note.as_str().len());
                        }
                        Ok(None) => {}
                        Err(_) => errors += 1,
                    }
                    let _ = pending.is_finished();
                }
                Err(_) => errors += 1,
            }
            let _ = client.send_copy_oneway(&status(seq));
            let _ = client.free_chunks();
        }
    }
    errors
}

#[test]
fn scribbled_request_response_services_are_survivable_and_leave_nothing() {
    let seed = std::env::var("SCRIBBLE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_4242_0000_0001u64);
    let rounds: u64 = std::env::var("SCRIBBLE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut rng = Xorshift(seed | 1);
    let mut total_errors = 0;
    for round in 0..rounds {
        let node = node(&format!("rpc_scribble{round}"));
        {
            let service = Service::request_response::<Status, Status>(&node, "hostile/rpc")
                .create()
                .unwrap();
            let server = service.server().create().unwrap();
            let client = service.client().create().unwrap();
            let pending = client.send_copy(&status(1)).unwrap();
            let request = server.receive().unwrap().unwrap();
            request.respond_copy(&status(2)).unwrap();
            let share = 5 + rng.next() % 60;
            // Header, registry and request table, or one of the two segments.
            let service_object = object(&node, "rr");
            let static_size = static_size(&service_object);
            match round % 4 {
                0 => scribble(&service_object, 0..static_size, &mut rng, share),
                1 => scribble(&service_object, static_size..u64::MAX, &mut rng, share),
                _ => {
                    let prefix = format!("{}d.rr.", node.config().shm_prefix());
                    let mut segments: Vec<String> = leftovers(&node)
                        .into_iter()
                        .filter(|n| n.starts_with(&prefix))
                        .collect();
                    segments.sort();
                    let pick = (round % 2) as usize % segments.len().max(1);
                    scribble(&segments[pick], 0..u64::MAX, &mut rng, share);
                }
            }
            let _ = pending.receive();
            let _ = request.respond_copy(&status(3));
            drop(request);
            let _ = pending.receive_timeout(Duration::from_millis(2));
            drop(pending);
            total_errors += exercise_calls(&node);
        }
        assert!(
            leftovers(&node).is_empty(),
            "round {round} left {:?}",
            leftovers(&node)
        );
    }
    assert!(
        total_errors > 0,
        "no operation ever failed over {rounds} scribbled rounds"
    );
}

/// A stored descriptor someone wrote over: whoever reads it (an opener with or without the
/// type, discovery) gets an error that names the service, never a panic; the service's own
/// ports go on, and nothing is left.
#[test]
fn a_corrupted_stored_descriptor_is_an_error_naming_the_service() {
    let node = node("descriptor_scribble");
    let mut rng = Xorshift(0x0dd_ba11);
    for round in 0..40u64 {
        {
            let service = Service::publish_subscribe::<Status>(&node, "hostile/described")
                .create()
                .unwrap();
            let publisher = service.publisher().create().unwrap();
            let subscriber = service.subscriber().create().unwrap();
            let name = object(&node, "ps");
            let at = word(&name, TYPE0_ENCODING_AT);
            let len = word(&name, TYPE0_ENCODING_LEN);
            assert!(len > 16, "an encoded descriptor: {len} bytes");
            // One byte changed, or many words.
            if round % 2 == 0 {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(format!("/dev/shm/{name}"))
                    .unwrap();
                let target = at + rng.next() % len;
                file.write_all_at(&[(rng.next() % 255 + 1) as u8 ^ 0x5a], target)
                    .unwrap();
            } else {
                let share = 30 + rng.next() % 70;
                scribble(&name, at..at + len, &mut rng, share);
            }
            let typed = Service::publish_subscribe::<Status>(&node, "hostile/described").open();
            let raw = Service::raw_publish_subscribe(&node, "hostile/described").open();
            let listed = Service::list(node.config()).unwrap();
            let inspected = Service::inspect(
                node.config(),
                "hostile/described",
                Pattern::PublishSubscribe,
            );
            match (typed, raw) {
                (Err(typed), Err(raw)) => {
                    for error in [typed.to_string(), raw.to_string()] {
                        assert!(
                            error.contains("hostile/described"),
                            "round {round}: {error}"
                        );
                    }
                    assert!(
                        matches!(raw, ServiceOpenError::Join(_)),
                        "round {round}: {raw}"
                    );
                    let [Err(listed)] = listed.as_slice() else {
                        panic!("round {round}: {listed:?}")
                    };
                    assert!(listed.to_string().contains("hostile/described"), "{listed}");
                    let error = inspected.expect_err("the same error").to_string();
                    assert!(error.contains("hostile/described"), "{error}");
                }
                // A change the encoding cannot notice (a letter of a name the hash does not
                // cover): both still agree with the stored words.
                (typed, raw) => {
                    assert!(typed.is_ok() == raw.is_ok(), "round {round}");
                }
            }
            // The ports that were there go on: they read nothing more of the static part.
            publisher.send_copy(&status(round)).unwrap();
            assert_eq!(subscriber.receive().unwrap().unwrap().seq, round);
        }
        assert!(
            leftovers(&node).is_empty(),
            "round {round}: {:?}",
            leftovers(&node)
        );
    }
}
