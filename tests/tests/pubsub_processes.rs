//! Publish-subscribe between real processes (the `pubsub-child` binary).

use std::time::Duration;

use shmbus::service::OverflowPolicy;
use shmbus::{Node, Service};
use shmbus_tests::{Counted, HUGE_BYTES, Huge, Peer, Setup, checksum, leftovers};

fn setup(test: &str) -> Setup {
    Setup::new("pp", test)
}

/// Starts `pubsub-child ROLE DOMAIN ROOT SERVICE`.
fn start(setup: &Setup, role: &str, service: &str) -> Peer {
    Peer::start(
        env!("CARGO_BIN_EXE_pubsub-child"),
        setup,
        role,
        service,
        &[],
    )
}

const LOSSLESS_SAMPLES: u64 = 1_000_000;

#[test]
fn one_publisher_four_subscribers_lossless() {
    let setup = setup("lossless");
    {
        let node = Node::builder()
            .name("pub")
            .config(setup.config.clone())
            .create()
            .unwrap();
        let service = Service::publish_subscribe::<Counted>(&node, "stream")
            .subscriber_buffer(64)
            .overflow(OverflowPolicy::Block)
            .create()
            .unwrap();
        let publisher = service
            .publisher()
            .send_timeout(Duration::from_secs(120))
            .create()
            .unwrap();
        let peers: Vec<Peer> = (0..4)
            .map(|_| start(&setup, "subscribe-lossless", "stream"))
            .collect();
        for seq in 1..=LOSSLESS_SAMPLES {
            assert_eq!(
                publisher
                    .send_copy(&Counted {
                        seq,
                        checksum: checksum(seq)
                    })
                    .unwrap(),
                4
            );
        }
        publisher
            .send_copy(&Counted {
                seq: 0,
                checksum: 0,
            })
            .unwrap();
        for mut peer in peers {
            assert_eq!(peer.line(), format!("ok {LOSSLESS_SAMPLES} 0"));
            peer.finish();
        }
    }
    setup.assert_clean();
}

#[test]
fn overflow_accounting_is_exact_across_processes() {
    let setup = setup("lossy");
    {
        let node = Node::builder()
            .name("pub")
            .config(setup.config.clone())
            .create()
            .unwrap();
        let service = Service::publish_subscribe::<Counted>(&node, "lossy")
            .subscriber_buffer(64)
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let peers: Vec<Peer> = (0..2)
            .map(|_| start(&setup, "subscribe-lossy", "lossy"))
            .collect();
        let sent = 200_000;
        for seq in 1..=sent {
            publisher
                .send_copy(&Counted {
                    seq,
                    checksum: checksum(seq),
                })
                .unwrap();
        }
        publisher
            .send_copy(&Counted {
                seq: 0,
                checksum: 0,
            })
            .unwrap();
        for mut peer in peers {
            let line = peer.line();
            let parts: Vec<u64> = line
                .split(' ')
                .skip(1)
                .map(|p| p.parse().unwrap())
                .collect();
            assert_eq!(
                parts[0] + parts[1],
                sent,
                "received + missed = sent ({line})"
            );
            peer.finish();
        }
    }
    setup.assert_clean();
}

#[test]
fn a_sample_sent_just_before_the_publisher_exits_arrives() {
    let setup = setup("exit");
    {
        let node = Node::builder()
            .name("sub")
            .config(setup.config.clone())
            .create()
            .unwrap();
        let service = Service::publish_subscribe::<Counted>(&node, "last-words")
            .open_or_create()
            .unwrap();
        let mut peer = start(&setup, "publish-and-exit", "last-words");
        let subscriber = service.subscriber().create().unwrap();
        peer.say("go");
        assert_eq!(peer.line(), "sent 1");
        peer.finish();
        let sample = subscriber
            .receive_timeout(Duration::from_secs(60))
            .unwrap()
            .expect("the sample");
        assert_eq!(
            *sample,
            Counted {
                seq: 7,
                checksum: checksum(7)
            }
        );
    }
    setup.assert_clean();
}

#[test]
fn eight_processes_open_or_create_one_service() {
    let setup = setup("race");
    let mut peers: Vec<Peer> = (0..8)
        .map(|_| start(&setup, "open-or-create", "shared"))
        .collect();
    let objects: Vec<String> = leftovers(&setup.config)
        .into_iter()
        .filter(|n| n.contains(".ps."))
        .collect();
    assert_eq!(objects.len(), 1, "one service object: {objects:?}");
    {
        let node = Node::builder()
            .name("pub")
            .config(setup.config.clone())
            .create()
            .unwrap();
        let service = Service::publish_subscribe::<Counted>(&node, "shared")
            .open()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        assert_eq!(
            publisher
                .send_copy(&Counted {
                    seq: 5,
                    checksum: 0
                })
                .unwrap(),
            8
        );
        for peer in &mut peers {
            assert_eq!(peer.line(), "got 5");
        }
    }
    for peer in peers {
        peer.finish();
    }
    setup.assert_clean();
}

#[test]
fn a_16_mib_sample_crosses_processes_in_place() {
    let setup = setup("huge");
    {
        let node = Node::builder()
            .name("sub")
            .config(setup.config.clone())
            .create()
            .unwrap();
        let service = Service::publish_subscribe::<Huge>(&node, "huge")
            .max_subscribers(1)
            .subscriber_buffer(1)
            .max_borrowed(1)
            .max_loans(1)
            .create()
            .unwrap();
        let subscriber = service.subscriber().create().unwrap();
        let mut peer = start(&setup, "publish-huge", "huge");
        assert_eq!(peer.line(), "sent 1");
        let sample = subscriber
            .receive_timeout(Duration::from_secs(60))
            .unwrap()
            .expect("the sample");
        assert_eq!(sample.seq, 1);
        assert_eq!(sample.data[HUGE_BYTES - 9], 0xAB);
        assert!(
            sample.data[..HUGE_BYTES - 9]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (i % 251) as u8)
        );
        drop(sample);
        peer.finish();
    }
    setup.assert_clean();
}

#[test]
fn a_waitset_waits_on_two_services_of_another_process() {
    const N: u64 = 20_000;
    let setup = setup("waitset");
    {
        let node = Node::builder()
            .name("pub")
            .config(setup.config.clone())
            .create()
            .unwrap();
        let create = |name: &str| {
            Service::publish_subscribe::<Counted>(&node, name)
                .subscriber_buffer(64)
                .overflow(OverflowPolicy::Block)
                .create()
                .unwrap()
        };
        let services = [create("ws/a"), create("ws/b")];
        let publishers: Vec<_> = services
            .iter()
            .map(|s| {
                s.publisher()
                    .send_timeout(Duration::from_secs(120))
                    .create()
                    .unwrap()
            })
            .collect();
        let mut peer = start(&setup, "waitset", "ws");
        // Uneven bursts on the two services, so the child sleeps on both, wakes for either,
        // and sometimes finds both ready.
        let mut next = [1u64; 2];
        let mut round = 0u64;
        while next[0] <= N || next[1] <= N {
            round += 1;
            let k = usize::from(round.is_multiple_of(3));
            for _ in 0..(round % 7) + 1 {
                if next[k] <= N {
                    let seq = next[k];
                    assert_eq!(
                        publishers[k]
                            .send_copy(&Counted {
                                seq,
                                checksum: checksum(seq)
                            })
                            .unwrap(),
                        1
                    );
                    next[k] += 1;
                }
            }
            if round.is_multiple_of(64) {
                std::thread::yield_now();
            }
        }
        for publisher in &publishers {
            publisher
                .send_copy(&Counted {
                    seq: 0,
                    checksum: 0,
                })
                .unwrap();
        }
        assert_eq!(peer.line(), format!("ok {N} {N}"));
        peer.finish();
    }
    setup.assert_clean();
}

#[test]
fn a_late_joiner_in_another_process_gets_the_history() {
    let setup = setup("history");
    {
        let node = Node::builder()
            .name("pub")
            .config(setup.config.clone())
            .create()
            .unwrap();
        let service = Service::publish_subscribe::<Counted>(&node, "history")
            .history(3)
            .subscriber_buffer(4)
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        for seq in 1..=5 {
            publisher
                .send_copy(&Counted {
                    seq,
                    checksum: checksum(seq),
                })
                .unwrap();
        }
        let mut late = Peer::start(
            env!("CARGO_BIN_EXE_pubsub-child"),
            &setup,
            "late-joiner",
            "history",
            &["4"],
        );
        // The history goes out when the publisher next looks at its connections; then a
        // sample sent after the join follows it.
        publisher.update_connections();
        publisher
            .send_copy(&Counted {
                seq: 6,
                checksum: checksum(6),
            })
            .unwrap();
        assert_eq!(late.line(), "got 3 4 5 6");
        late.finish();
    }
    setup.assert_clean();
}
