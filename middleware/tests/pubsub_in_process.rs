//! Publish-subscribe within one process (two ports over real shared memory): the data
//! path, history, overflow accounting, QoS and type checks, and cleanup.

use std::time::Duration;

use shmbus::service::{JoinError, OverflowPolicy, ServiceCreateError, ServiceOpenError};
use shmbus::{FixedString, Service, ShmMessage};

mod common;
use common::{leftovers, node};

#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq)]
#[repr(C)]
struct Reading {
    seq: u64,
    value: f64,
    label: FixedString<16>,
}

#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq)]
#[repr(C)]
struct Other {
    seq: u64,
    value: f32,
}

#[test]
fn samples_flow_in_order_and_nothing_is_left_behind() {
    let node = node("flow");
    {
        let service = Service::publish_subscribe::<Reading>(&node, "sensors/temp")
            .subscriber_buffer(8)
            .open_or_create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let subscriber = service.subscriber().create().unwrap();
        // The service object and the publisher's segment.
        let objects = node.config().objects().unwrap();
        assert_eq!(objects.len(), 2, "{objects:?}");
        for i in 1..=100u64 {
            let mut sample = publisher.loan().unwrap();
            sample.seq = i;
            sample.value = i as f64 * 0.5;
            sample.label = FixedString::try_from("celsius").unwrap();
            assert_eq!(sample.send().unwrap(), 1);
            let got = subscriber.receive().unwrap().expect("a sample");
            assert_eq!(got.seq, i);
            assert_eq!(got.sequence(), i);
            assert_eq!(got.publisher_id(), publisher.id());
            assert_eq!(&*got.label, "celsius");
        }
        assert!(subscriber.receive().unwrap().is_none());
        let total = service.qos().max_loans
            + service.qos().history
            + service.qos().max_subscribers * (8 + service.qos().max_borrowed + 1);
        assert_eq!(publisher.free_chunks(), total, "every chunk came back");
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

/// The publisher takes returned chunks back lazily (when its free list is empty, or when a
/// subscriber's return queue could fill up): whatever the subscribers hold and return, and
/// in whichever order, no return is lost and every chunk comes back.
#[test]
fn lazily_taken_back_chunks_are_never_lost() {
    let node = node("lazy_returns");
    for overflow in [OverflowPolicy::OverwriteOldest, OverflowPolicy::Discard] {
        let service = Service::publish_subscribe::<Other>(&node, "lazy")
            .max_subscribers(2)
            .subscriber_buffer(2)
            .max_borrowed(3)
            .overflow(overflow)
            .create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let subscribers = [
            service.subscriber().create().unwrap(),
            service.subscriber().create().unwrap(),
        ];
        let mut held = [Vec::new(), Vec::new()];
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for seq in 1..=20_000u64 {
            publisher.send_copy(&Other { seq, value: 0.0 }).unwrap();
            for (s, subscriber) in subscribers.iter().enumerate() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Hold up to max_borrowed samples, let go of a random one now and then.
                if (held[s].len() == 3 || x.is_multiple_of(3)) && !held[s].is_empty() {
                    let i = (x >> 8) as usize % held[s].len();
                    held[s].swap_remove(i);
                }
                if !x.is_multiple_of(5)
                    && held[s].len() < 3
                    && let Some(sample) = subscriber.receive().unwrap()
                {
                    held[s].push(sample);
                }
            }
        }
        drop(held);
        for subscriber in &subscribers {
            while subscriber.receive().unwrap().is_some() {}
        }
        let qos = service.qos();
        let total = qos.max_loans + qos.history + 2 * (2 + 3 + 1);
        assert_eq!(
            publisher.free_chunks(),
            total,
            "{overflow:?}: every chunk came back"
        );
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn samples_carry_a_send_time_only_from_publishers_that_stamp() {
    let node = node("timestamps");
    {
        let service = Service::publish_subscribe::<Other>(&node, "stamped")
            .max_publishers(2)
            .open_or_create()
            .unwrap();
        let subscriber = service.subscriber().create().unwrap();
        let plain = service.publisher().create().unwrap();
        let stamping = service.publisher().timestamps(true).create().unwrap();
        plain.send_copy(&Other { seq: 1, value: 0.0 }).unwrap();
        let got = subscriber.receive().unwrap().expect("a sample");
        assert_eq!((got.seq, got.timestamp_ns()), (1, None));
        drop(got);
        let before = shmbus::os::process::monotonic_ns();
        stamping.send_copy(&Other { seq: 2, value: 0.0 }).unwrap();
        let after = shmbus::os::process::monotonic_ns();
        let got = subscriber.receive().unwrap().expect("a sample");
        let stamp = got.timestamp_ns().expect("a stamped sample");
        assert_eq!(got.seq, 2);
        assert!(
            (before..=after).contains(&stamp),
            "{before} <= {stamp} <= {after}"
        );
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn overflow_is_counted_exactly_and_history_reaches_late_joiners() {
    let node = node("overflow");
    let service = Service::publish_subscribe::<Other>(&node, "fast")
        .subscriber_buffer(4)
        .history(2)
        .create()
        .unwrap();
    let publisher = service.publisher().create().unwrap();
    let early = service.subscriber().create().unwrap();
    for i in 1..=10 {
        publisher.send_copy(&Other { seq: i, value: 0.0 }).unwrap();
    }
    let late = service.subscriber().create().unwrap();
    publisher.update_connections();
    let mut got = Vec::new();
    while let Some(s) = early.receive().unwrap() {
        got.push(s.seq);
    }
    assert_eq!(got, [7, 8, 9, 10]);
    assert_eq!(early.missed(), 6);
    let mut got = Vec::new();
    while let Some(s) = late.receive().unwrap() {
        got.push(s.seq);
    }
    assert_eq!(got, [9, 10], "history of 2");
    assert_eq!(late.missed(), 0);
}

#[test]
fn backpressure_policies() {
    let node = node("backpressure");
    let discard = Service::publish_subscribe::<Other>(&node, "discard")
        .subscriber_buffer(2)
        .overflow(OverflowPolicy::Discard)
        .create()
        .unwrap();
    let publisher = discard.publisher().create().unwrap();
    let subscriber = discard.subscriber().create().unwrap();
    for i in 1..=5 {
        publisher.send_copy(&Other { seq: i, value: 0.0 }).unwrap();
    }
    assert_eq!(publisher.discarded(), 3);
    assert_eq!(subscriber.receive().unwrap().unwrap().seq, 1);

    let error = Service::publish_subscribe::<Other>(&node, "error")
        .subscriber_buffer(1)
        .overflow(OverflowPolicy::Error)
        .create()
        .unwrap();
    let publisher = error.publisher().create().unwrap();
    let _subscriber = error.subscriber().create().unwrap();
    publisher.send_copy(&Other { seq: 1, value: 0.0 }).unwrap();
    let err = publisher
        .send_copy(&Other { seq: 2, value: 0.0 })
        .unwrap_err();
    assert!(err.to_string().contains("buffer full"), "{err}");

    let block = Service::publish_subscribe::<Other>(&node, "block")
        .subscriber_buffer(1)
        .overflow(OverflowPolicy::Block)
        .create()
        .unwrap();
    let publisher = block
        .publisher()
        .send_timeout(Duration::from_millis(20))
        .create()
        .unwrap();
    let _subscriber = block.subscriber().create().unwrap();
    publisher.send_copy(&Other { seq: 1, value: 0.0 }).unwrap();
    let err = publisher
        .send_copy(&Other { seq: 2, value: 0.0 })
        .unwrap_err();
    assert!(err.to_string().contains("made no room"), "{err}");
}

#[test]
fn type_and_qos_mismatches_are_explained() {
    let node = node("mismatch");
    let _service = Service::publish_subscribe::<Reading>(&node, "typed")
        .max_subscribers(2)
        .create()
        .unwrap();
    let err = Service::publish_subscribe::<Other>(&node, "typed")
        .open()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ServiceOpenError::Join(JoinError::TypeMismatch(_))),
        "{text}"
    );
    assert!(
        text.contains("field `value`: f64 at offset 8 vs f32 at offset 8"),
        "{text}"
    );
    let err = Service::publish_subscribe::<Reading>(&node, "typed")
        .max_subscribers(4)
        .open()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("offers max_subscribers = 2, but 4 was requested"),
        "{err}"
    );
    assert!(
        Service::publish_subscribe::<Reading>(&node, "typed")
            .max_subscribers(1)
            .open()
            .is_ok()
    );
    let err = Service::publish_subscribe::<Reading>(&node, "typed")
        .create()
        .unwrap_err();
    assert!(
        matches!(err, ServiceCreateError::AlreadyExists { .. }),
        "{err}"
    );
    let err = Service::publish_subscribe::<Reading>(&node, "absent")
        .open()
        .unwrap_err();
    assert!(matches!(err, ServiceOpenError::NotFound { .. }), "{err}");
    let err = Service::publish_subscribe::<Reading>(&node, "bad//name")
        .open_or_create()
        .unwrap_err();
    assert!(err.to_string().contains("empty segment"), "{err}");
}

#[test]
fn limits_are_errors() {
    let node = node("limits");
    let service = Service::publish_subscribe::<Other>(&node, "limits")
        .max_publishers(1)
        .max_subscribers(1)
        .max_loans(1)
        .max_borrowed(1)
        .create()
        .unwrap();
    let publisher = service.publisher().create().unwrap();
    assert!(
        service
            .publisher()
            .create()
            .unwrap_err()
            .to_string()
            .contains("maximum of 1 publishers")
    );
    let subscriber = service.subscriber().create().unwrap();
    assert!(service.subscriber().create().is_err());
    let loan = publisher.loan().unwrap();
    assert!(
        publisher
            .loan()
            .unwrap_err()
            .to_string()
            .contains("loaned samples")
    );
    drop(loan);
    publisher.send_copy(&Other { seq: 1, value: 1.0 }).unwrap();
    publisher.send_copy(&Other { seq: 2, value: 1.0 }).unwrap();
    let first = subscriber.receive().unwrap().unwrap();
    assert!(
        subscriber
            .receive()
            .unwrap_err()
            .to_string()
            .contains("holds 1 samples")
    );
    drop(first);
    assert_eq!(subscriber.receive().unwrap().unwrap().seq, 2);
    let err = Service::publish_subscribe::<Other>(&node, "q")
        .max_subscribers(64)
        .create()
        .unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
}

#[test]
fn timeouts_return_none() {
    let node = node("timeout");
    let service = Service::publish_subscribe::<Other>(&node, "quiet")
        .create()
        .unwrap();
    let subscriber = service.subscriber().create().unwrap();
    assert!(
        subscriber
            .receive_timeout(Duration::from_millis(5))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_publisher_leaving_with_queued_samples_leaves_nothing_behind() {
    let node = node("drain");
    {
        let service = Service::publish_subscribe::<Other>(&node, "drain")
            .create()
            .unwrap();
        let subscriber = service.subscriber().create().unwrap();
        let publisher = service.publisher().create().unwrap();
        publisher.send_copy(&Other { seq: 1, value: 0.0 }).unwrap();
        drop(publisher);
        drop(subscriber);
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn a_waitset_reports_exactly_the_ready_subscribers() {
    use shmbus::WaitSet;
    use shmbus::port::{AttachError, WaitError};
    let node = node("waitset");
    {
        let a = Service::publish_subscribe::<u64>(&node, "ws/a")
            .create()
            .unwrap();
        let b = Service::publish_subscribe::<u64>(&node, "ws/b")
            .create()
            .unwrap();
        let (sub_a, sub_b) = (
            a.subscriber().create().unwrap(),
            b.subscriber().create().unwrap(),
        );
        let pub_b = b.publisher().create().unwrap();
        let mut waitset = WaitSet::new();
        let id_a = waitset.attach(&sub_a).unwrap();
        let id_b = waitset.attach(&sub_b).unwrap();
        assert_eq!((id_a.index(), id_b.index(), waitset.len()), (0, 1, 2));
        // Nothing sent: the wait times out with nothing ready.
        let ready = waitset.wait_timeout(Duration::from_millis(10)).unwrap();
        assert!(ready.is_empty());
        // A sample from another thread wakes the sleeping wait set; only `b` is ready.
        std::thread::scope(|s| {
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                pub_b.send_copy(&42).unwrap();
            });
            let ready = waitset.wait_blocking().unwrap();
            assert!(ready.contains(id_b) && !ready.contains(id_a), "{ready:?}");
            assert_eq!(ready.iter().collect::<Vec<_>>(), vec![id_b]);
        });
        assert_eq!(*sub_b.receive().unwrap().unwrap(), 42);
        assert!(waitset.ready().is_empty());
        // A publisher that joins later with history makes its subscriber ready too.
        let late = Service::publish_subscribe::<u64>(&node, "ws/c")
            .history(1)
            .create()
            .unwrap();
        let pub_c = late.publisher().create().unwrap();
        pub_c.send_copy(&7).unwrap();
        let sub_c = late.subscriber().create().unwrap();
        pub_c.update_connections();
        let mut three = WaitSet::new();
        three.attach(&sub_a).unwrap();
        let id_c = three.attach(&sub_c).unwrap();
        assert!(
            three
                .wait_timeout(Duration::from_secs(10))
                .unwrap()
                .contains(id_c)
        );
        // Limits and misuse are errors, not hangs.
        let mut full = WaitSet::new();
        for _ in 0..128 {
            full.attach(&sub_a).unwrap();
        }
        assert!(matches!(
            full.attach(&sub_a),
            Err(AttachError::TooMany { max: 128 })
        ));
        assert!(matches!(
            WaitSet::new().wait_blocking(),
            Err(WaitError::Empty)
        ));
        assert!(
            WaitSet::new()
                .wait_timeout(Duration::from_millis(1))
                .unwrap()
                .is_empty()
        );
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn services_coming_and_going_at_once_do_not_trip_over_their_folder() {
    // The last participant of a service removes the (then empty) services folder; another
    // service being opened at that moment must make it again, not fail.
    let node = node("folder_race");
    std::thread::scope(|s| {
        for t in 0..2 {
            let node = &*node;
            s.spawn(move || {
                for i in 0..300 {
                    let service = Service::publish_subscribe::<u64>(node, &format!("race/{t}"))
                        .open_or_create()
                        .unwrap_or_else(|e| panic!("thread {t}, round {i}: {e}"));
                    drop(service);
                }
            });
        }
    });
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn a_ros_style_leading_slash_names_the_same_service() {
    let node = node("ros_names");
    {
        let service = Service::publish_subscribe::<Other>(&node, "scan")
            .open_or_create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let ros = Service::publish_subscribe::<Other>(&node, "/scan")
            .open()
            .unwrap();
        assert_eq!(ros.name().as_str(), "scan");
        let subscriber = ros.subscriber().create().unwrap();
        publisher.send_copy(&Other { seq: 3, value: 1.5 }).unwrap();
        assert_eq!(subscriber.receive().unwrap().map(|s| s.seq), Some(3));
        // Empty segments inside a name are still refused.
        let error = Service::publish_subscribe::<Other>(&node, "/robot//scan")
            .open_or_create()
            .unwrap_err();
        assert!(error.to_string().contains("empty segment"), "{error}");
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn shared_raw_samples_outlive_the_receive_and_go_back_from_any_thread() {
    let node = node("shared");
    {
        let service = Service::publish_subscribe::<Reading>(&node, "sensors/shared")
            .subscriber_buffer(8)
            .open_or_create()
            .unwrap();
        let publisher = service.publisher().create().unwrap();
        let raw = Service::raw_publish_subscribe(&node, "sensors/shared")
            .open()
            .unwrap();
        let subscriber = raw.subscriber().create().unwrap();
        let id = subscriber.id();
        let subscriber = subscriber.into_shared();
        assert_eq!(subscriber.id(), id);
        let send = |seq: u64| {
            let mut sample = publisher.loan().unwrap();
            sample.seq = seq;
            sample.send().unwrap();
        };
        // Far more samples than the publisher has chunks: each is read and dropped on
        // another thread, and its chunk must come back for the next loans.
        let (to_worker, worker_gets) = std::sync::mpsc::channel::<shmbus::port::SharedRawSample>();
        let (to_main, dropped) = std::sync::mpsc::channel::<u64>();
        let worker = std::thread::spawn(move || {
            for sample in worker_gets {
                let seq = u64::from_ne_bytes(sample.bytes()[..8].try_into().unwrap());
                assert_eq!(sample.sequence(), seq);
                drop(sample);
                to_main.send(seq).unwrap();
            }
        });
        for seq in 1..=200u64 {
            send(seq);
            let sample = subscriber
                .receive_timeout(Duration::from_secs(10))
                .unwrap()
                .expect("a sample");
            assert_eq!(sample.publisher_id(), publisher.id());
            to_worker.send(sample).unwrap();
            assert_eq!(dropped.recv().unwrap(), seq);
        }
        drop(to_worker);
        worker.join().unwrap();

        // Held samples count against max_borrowed (2) until dropped.
        for seq in 201..=203 {
            send(seq);
        }
        let first = subscriber.receive().unwrap().expect("201");
        let second = subscriber.receive().unwrap().expect("202");
        assert!(matches!(
            subscriber.receive(),
            Err(shmbus::port::ReceiveError::TooManyBorrowed { max: 2 })
        ));
        std::thread::spawn(move || drop(first)).join().unwrap();
        let third = subscriber.receive().unwrap().expect("203");
        assert_eq!(third.sequence(), 203);

        // A sample keeps its subscriber's memory: still readable after the subscriber
        // and its service handle are gone.
        drop((subscriber, raw));
        assert_eq!(
            u64::from_ne_bytes(second.bytes()[..8].try_into().unwrap()),
            202
        );
        drop((second, third));
        let total = service.qos().max_loans
            + service.qos().history
            + service.qos().max_subscribers * (8 + service.qos().max_borrowed + 1);
        assert_eq!(publisher.free_chunks(), total, "every chunk came back");
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}
