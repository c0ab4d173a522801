//! Each recovery path of dead-node cleanup, with real processes killed with SIGKILL: a dead
//! publisher, subscriber, client and server, a cleaner killed halfway, and a process that
//! exits without dropping its ports. After each, the survivors work on and nothing leaks.

use std::time::Duration;

use shmbus::port::ResponseError;
use shmbus::{Node, Service};
use shmbus_tests::{Answer, Ask, Counted, Peer, Setup, checksum, leftovers};

fn pubsub_child(setup: &Setup, role: &str, service: &str, extra: &[&str]) -> Peer {
    Peer::start(
        env!("CARGO_BIN_EXE_pubsub-child"),
        setup,
        role,
        service,
        extra,
    )
}

fn rr_child(setup: &Setup, role: &str) -> Peer {
    Peer::start(
        env!("CARGO_BIN_EXE_rr-child"),
        setup,
        role,
        "rec/rr",
        &["0"],
    )
}

#[test]
fn a_dead_publishers_samples_stay_readable_and_it_is_seen_leaving() {
    let setup = Setup::new("rec", "publisher");
    {
        let node = setup.node("survivor");
        let service = Service::publish_subscribe::<Counted>(&node, "rec/ps")
            .subscriber_buffer(8)
            .create()
            .unwrap();
        let subscriber = service.subscriber().create().unwrap();
        let mut publisher = pubsub_child(&setup, "publish-then-sleep", "rec/ps", &["5"]);
        publisher.say("go");
        assert_eq!(publisher.line(), "sent");
        let held = subscriber.receive().unwrap().expect("the first sample");
        publisher.kill();
        // The sample held across the death, and those still queued, are intact.
        assert_eq!(
            *held,
            Counted {
                seq: 1,
                checksum: checksum(1)
            }
        );
        let mut rest = Vec::new();
        while let Some(sample) = subscriber.receive().unwrap() {
            rest.push(sample.seq);
        }
        assert_eq!(rest, vec![2, 3, 4, 5]);
        let report = node.cleanup_dead_nodes().unwrap();
        // The dead publisher: its entry, its segment and its token.
        assert_eq!(
            (
                report.dead_entries_removed,
                report.objects_removed,
                report.tokens_removed
            ),
            (1, 1, 1),
            "{report:?}"
        );
        assert!(subscriber.publishers().is_empty());
        assert_eq!(held.seq, 1);
    }
    setup.assert_clean();
}

#[test]
fn a_dead_subscribers_chunks_return_and_the_others_keep_receiving() {
    let setup = Setup::new("rec", "subscriber");
    {
        let node = setup.node("survivor");
        let service = Service::publish_subscribe::<Counted>(&node, "rec/ps")
            .subscriber_buffer(4)
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let total = publisher.free_chunks();
        let mut holder = pubsub_child(&setup, "hold-two", "rec/ps", &[]);
        let other = service.subscriber().create().unwrap();
        publisher.update_connections();
        for seq in 1..=2 {
            publisher
                .send_copy(&Counted {
                    seq,
                    checksum: checksum(seq),
                })
                .unwrap();
        }
        assert_eq!(holder.line(), "holding");
        while other.receive().unwrap().is_some() {}
        assert_eq!(publisher.free_chunks(), total - 2);
        holder.kill();
        node.cleanup_dead_nodes().unwrap();
        assert_eq!(publisher.free_chunks(), total);
        for seq in 3..=100 {
            assert_eq!(
                publisher
                    .send_copy(&Counted {
                        seq,
                        checksum: checksum(seq)
                    })
                    .unwrap(),
                1
            );
            assert_eq!(other.receive().unwrap().unwrap().seq, seq);
        }
    }
    setup.assert_clean();
}

#[test]
fn a_dead_clients_responses_are_reclaimed() {
    let setup = Setup::new("rec", "client");
    {
        let node = setup.node("server");
        let service = Service::request_response::<Ask, Answer>(&node, "rec/rr")
            .create()
            .unwrap();
        let server = service.server().create().unwrap();
        let total = server.free_chunks();
        let mut client = rr_child(&setup, "client-hold");
        let request = server
            .receive_timeout(Duration::from_secs(60))
            .unwrap()
            .unwrap();
        for index in 0..3 {
            request.respond_copy(&Answer::to(&request, index)).unwrap();
        }
        assert_eq!(client.line(), "holding");
        client.kill();
        node.cleanup_dead_nodes().unwrap();
        // The server sees that nobody waits any more, and gets its chunks back.
        assert!(request.is_cancelled());
        assert!(request.respond_copy(&Answer::to(&request, 3)).is_err());
        drop(request);
        assert_eq!(server.free_chunks(), total);
    }
    setup.assert_clean();
}

#[test]
fn a_dead_server_is_reported_and_its_request_chunk_returns() {
    let setup = Setup::new("rec", "server");
    {
        let node = setup.node("client");
        let service = Service::request_response::<Ask, Answer>(&node, "rec/rr")
            .create()
            .unwrap();
        let client = service.client().create().unwrap();
        let total = client.free_chunks();
        let mut server = rr_child(&setup, "hang");
        let pending = client
            .send_copy(&Ask {
                client: 1,
                seq: 1,
                stream: 0,
            })
            .unwrap();
        assert_eq!(server.line(), "holding");
        server.kill();
        let err = pending
            .receive_timeout(Duration::from_secs(120))
            .unwrap_err();
        assert!(matches!(err, ResponseError::ServerGone), "{err}");
        drop(pending);
        assert_eq!(client.free_chunks(), total);
    }
    setup.assert_clean();
}

#[test]
fn a_cleaner_killed_halfway_leaves_work_the_next_one_finishes() {
    let setup = Setup::new("rec", "cleaner");
    {
        // Twelve dead nodes, each with a service of its own, ports and a held sample.
        let owners: Vec<Peer> = (0..12)
            .map(|i| pubsub_child(&setup, "own-service", &format!("rec/own{i}"), &[]))
            .collect();
        for owner in owners {
            owner.kill();
        }
        // Cleaners killed after a few hundred microseconds to a few milliseconds.
        for delay_us in [300, 800, 1_500, 3_000, 6_000] {
            let mut cleaner = std::process::Command::new(env!("CARGO_BIN_EXE_chaos-child"))
                .args([
                    "cleaner",
                    &setup.domain,
                    setup.root.to_str().unwrap(),
                    "rec/none",
                    "1",
                ])
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_micros(delay_us));
            cleaner.kill().unwrap();
            let _ = cleaner.wait();
        }
        // Whatever state they left, one more cleanup finishes the job.
        let node = Node::builder()
            .name("last")
            .config(setup.config.clone())
            .cleanup(false)
            .create()
            .unwrap();
        let report = node.cleanup_dead_nodes().unwrap();
        assert_eq!(report.busy, 0, "{report:?}");
        // Only our own node token is left; it goes with the node.
        let objects: Vec<String> = leftovers(&setup.config)
            .into_iter()
            .filter(|n| n.starts_with(&setup.config.shm_prefix()))
            .collect();
        assert!(objects.is_empty(), "{objects:?} after {report:?}");
    }
    setup.assert_clean();
}

#[test]
fn exiting_without_dropping_ports_is_a_crash_and_is_cleaned_up() {
    let setup = Setup::new("rec", "exit");
    {
        let node = setup.node("survivor");
        // The QoS `chaos-child` opens with.
        let service = shmbus_tests::chaos::ps_builder(&node, "rec/ps")
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let total = publisher.free_chunks();
        // `chaos-child exit` takes a sample and calls std::process::exit with it in hand.
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_chaos-child"))
            .args([
                "exit",
                &setup.domain,
                setup.root.to_str().unwrap(),
                "rec/ps",
                "3",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        // Its subscriber is still registered: a sample sent now is held for it.
        let delivered = publisher
            .send_copy(&Counted {
                seq: 2,
                checksum: checksum(2),
            })
            .unwrap();
        assert_eq!(delivered, 1);
        assert!(publisher.free_chunks() < total);
        let report = node.cleanup_dead_nodes().unwrap();
        assert!(report.dead_entries_removed >= 1, "{report:?}");
        assert_eq!(publisher.free_chunks(), total);
    }
    setup.assert_clean();
}

#[test]
fn a_lossless_publisher_is_not_held_up_by_a_dead_subscriber() {
    let setup = Setup::new("rec", "lossless");
    {
        let node = setup.node("survivor");
        let service = Service::publish_subscribe::<Counted>(&node, "rec/ps")
            .subscriber_buffer(4)
            .overflow(shmbus::OverflowPolicy::Block)
            .create()
            .unwrap();
        // A wait for room would fail the test: nobody makes room in a dead queue.
        let publisher = service
            .publisher()
            .send_timeout(Duration::from_secs(5))
            .create()
            .unwrap();
        let mut holder = pubsub_child(&setup, "hold-two", "rec/ps", &[]);
        let other = service.subscriber().create().unwrap();
        publisher.update_connections();
        for seq in 1..=4 {
            publisher
                .send_copy(&Counted {
                    seq,
                    checksum: checksum(seq),
                })
                .unwrap();
            assert_eq!(other.receive().unwrap().unwrap().seq, seq);
        }
        assert_eq!(holder.line(), "holding");
        holder.kill();
        // Its queue fills up; then the send notices the dead owner instead of waiting.
        for seq in 5..=1_000 {
            let delivered = publisher
                .send_copy(&Counted {
                    seq,
                    checksum: checksum(seq),
                })
                .unwrap();
            assert!(delivered >= 1);
            assert_eq!(other.receive().unwrap().unwrap().seq, seq);
        }
        let last = Counted {
            seq: 1_001,
            checksum: checksum(1_001),
        };
        assert_eq!(
            publisher.send_copy(&last).unwrap(),
            1,
            "the dead subscriber is gone"
        );
    }
    setup.assert_clean();
}

#[test]
fn the_cleanup_report_counts_what_was_removed() {
    let setup = Setup::new("rec", "report");
    {
        let node = Node::builder()
            .name("survivor")
            .config(setup.config.clone())
            .cleanup(false)
            .create()
            .unwrap();
        let kept = Service::publish_subscribe::<Counted>(&node, "rec/kept")
            .create()
            .unwrap();
        let _subscriber = kept.subscriber().create().unwrap();
        // A publisher of a service we keep, and three nodes with services of their own.
        let mut children = vec![pubsub_child(
            &setup,
            "publish-then-sleep",
            "rec/kept",
            &["1"],
        )];
        for i in 0..3 {
            children.push(pubsub_child(
                &setup,
                "own-service",
                &format!("rec/own{i}"),
                &[],
            ));
        }
        children[0].say("go");
        assert_eq!(children[0].line(), "sent");
        for child in children {
            child.kill();
        }
        let report = node.cleanup_dead_nodes().unwrap();
        // 4 dead nodes, each with a token and a publisher's segment; 3 services nobody
        // uses any more, each with its own object.
        assert_eq!(report.dead_entries_removed, 4, "{report:?}");
        assert_eq!(report.tokens_removed, 4, "{report:?}");
        assert_eq!(report.services_removed, 3, "{report:?}");
        assert_eq!(report.objects_removed, 4 + 3, "{report:?}");
        assert_eq!(report.busy, 0, "{report:?}");
        // The kept service and our node remain: 1 object (no publisher left).
        assert_eq!(setup.config.objects().unwrap().len(), 1);
        // A second cleanup finds nothing to do.
        let again = node.cleanup_dead_nodes().unwrap();
        assert_eq!(
            (
                again.dead_entries_removed,
                again.objects_removed,
                again.tokens_removed
            ),
            (0, 0, 0),
            "{again:?}"
        );
    }
    setup.assert_clean();
}
