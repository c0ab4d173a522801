//! Request-response within one process (clients and servers over real shared memory):
//! correlation, streams, cancellation, one-way requests, limits, type checks, wait sets
//! and cleanup. The cross-process and death cases are in the workspace `tests/` crate.

use std::time::Duration;

use shmbus::port::{CallError, RequestSendError, RespondError, ResponseError, WaitError};
use shmbus::service::{JoinError, ServiceOpenError};
use shmbus::{Service, ShmMessage, WaitSet};

mod common;
use common::{leftovers, node};

#[derive(ShmMessage, Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Plan {
    goal: u64,
    steps: u32,
}

#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq)]
#[repr(C)]
struct Step {
    goal: u64,
    index: u32,
}

const LONG: Duration = Duration::from_secs(30);

#[test]
fn a_call_gets_its_answer_and_nothing_is_left_behind() {
    let node = node("rr_call");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/plan")
            .open_or_create()
            .unwrap();
        let server = service.server().create().unwrap();
        let client = service.client().create().unwrap();
        assert!(client.has_servers());
        let pending = client.send_copy(&Plan { goal: 7, steps: 1 }).unwrap();
        let request = server.receive().unwrap().expect("a request");
        assert_eq!(request.goal, 7);
        assert!(request.expects_response() && !request.is_cancelled());
        let mut response = request.loan().unwrap();
        response.goal = request.goal;
        response.index = 1;
        response.send().unwrap();
        drop(request);
        let got = pending.receive().unwrap().expect("the response");
        assert_eq!(*got, Step { goal: 7, index: 1 });
        drop(got);
        assert!(pending.receive().unwrap().is_none());
        assert!(pending.is_finished());
        drop(pending);
        assert_eq!(client.active_requests(), 0);
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn responses_carry_a_send_time_only_from_servers_that_stamp() {
    let node = node("rr_stamps");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/stamped")
            .open_or_create()
            .unwrap();
        for stamping in [false, true] {
            let server = service.server().timestamps(stamping).create().unwrap();
            let client = service.client().create().unwrap();
            let pending = client.send_copy(&Plan { goal: 1, steps: 1 }).unwrap();
            let request = server.receive().unwrap().expect("a request");
            let before = shmbus::os::process::monotonic_ns();
            request.respond_copy(&Step { goal: 1, index: 0 }).unwrap();
            let after = shmbus::os::process::monotonic_ns();
            drop(request);
            let got = pending.receive().unwrap().expect("the response");
            match got.timestamp_ns() {
                None => assert!(!stamping, "a stamping server's response has no time"),
                Some(t) => assert!(stamping && (before..=after).contains(&t), "{t}"),
            }
        }
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn streams_arrive_in_order_and_interleaved_requests_are_told_apart() {
    let node = node("rr_stream");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/stream")
            .response_buffer(8)
            .create()
            .unwrap();
        let server = service.server().create().unwrap();
        let client = service.client().create().unwrap();
        let first = client.send_copy(&Plan { goal: 1, steps: 3 }).unwrap();
        let second = client.send_copy(&Plan { goal: 2, steps: 3 }).unwrap();
        let a = server.receive().unwrap().unwrap();
        let b = server.receive().unwrap().unwrap();
        // Interleave the two streams.
        for index in 0..3 {
            for request in [&a, &b] {
                request
                    .respond_copy(&Step {
                        goal: request.goal,
                        index,
                    })
                    .unwrap();
            }
        }
        drop((a, b));
        for (pending, goal) in [(&second, 2), (&first, 1)] {
            for index in 0..3 {
                let step = pending.receive_timeout(LONG).unwrap().expect("a step");
                assert_eq!(*step, Step { goal, index });
            }
            assert!(pending.receive_timeout(LONG).unwrap().is_none());
            assert!(pending.is_finished());
        }
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn cancel_by_drop_one_way_requests_and_limits() {
    let node = node("rr_limits");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/limits")
            .max_active_requests_per_client(2)
            .create()
            .unwrap();
        let client = service.client().create().unwrap();
        // No server yet.
        assert!(matches!(
            client.send_copy(&Plan { goal: 0, steps: 0 }),
            Err(RequestSendError::NoServer)
        ));
        assert_eq!(client.active_requests(), 0);
        let server = service.server().create().unwrap();
        let a = client.send_copy(&Plan { goal: 1, steps: 0 }).unwrap();
        let _b = client.send_copy(&Plan { goal: 2, steps: 0 }).unwrap();
        let err = client.send_copy(&Plan { goal: 3, steps: 0 }).unwrap_err();
        assert!(
            matches!(err, RequestSendError::TooManyActiveRequests { max: 2 }),
            "{err}"
        );
        assert!(err.to_string().contains("max_active_requests_per_client"));
        // The client drops the first request: the server sees it cancelled.
        drop(a);
        let first = server.receive().unwrap().unwrap();
        assert_eq!(first.goal, 1);
        assert!(first.is_cancelled());
        // A response to a cancelled request is accepted and dropped by the client.
        first.respond_copy(&Step { goal: 1, index: 0 }).unwrap();
        drop(first);
        let second = server.receive().unwrap().unwrap();
        assert!(!second.is_cancelled());
        drop(second);
        // One-way: no slot taken, no response possible.
        client
            .send_copy_oneway(&Plan { goal: 9, steps: 0 })
            .unwrap();
        let oneway = server.receive().unwrap().unwrap();
        assert_eq!(oneway.goal, 9);
        assert!(!oneway.expects_response());
        assert!(matches!(
            oneway.respond_copy(&Step { goal: 9, index: 0 }),
            Err(RespondError::NoResponseExpected)
        ));
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn call_times_out_or_reports_no_response() {
    let node = node("rr_callerr");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/err")
            .create()
            .unwrap();
        let server = service.server().create().unwrap();
        let client = service.client().create().unwrap();
        let err = client
            .call(&Plan { goal: 1, steps: 0 }, Duration::from_millis(10))
            .unwrap_err();
        assert!(matches!(err, CallError::Timeout(_)), "{err}");
        // The timed-out request was cancelled when `call` returned.
        let stale = server.receive().unwrap().unwrap();
        assert!(stale.is_cancelled());
        drop(stale);
        // A server that ends a request without answering.
        let pending = client.send_copy(&Plan { goal: 2, steps: 0 }).unwrap();
        drop(server.receive().unwrap().unwrap());
        assert!(pending.receive_timeout(LONG).unwrap().is_none());
        assert!(pending.is_finished());
        // A server that abandons a request and leaves: the client hears ServerGone, as
        // from a server that died (what a bridge's proxy does when the far one is lost).
        let pending = client.send_copy(&Plan { goal: 3, steps: 0 }).unwrap();
        server.receive().unwrap().unwrap().abandon();
        assert!(!pending.is_finished());
        drop(server);
        assert!(matches!(
            pending.receive_timeout(LONG),
            Err(ResponseError::ServerGone)
        ));
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn wait_sets_wait_on_servers_and_pending_responses() {
    let node = node("rr_waitset");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/ws")
            .create()
            .unwrap();
        let server = service.server().create().unwrap();
        let client = service.client().create().unwrap();
        let mut on_server = WaitSet::new();
        let id = on_server.attach(&server).unwrap();
        assert!(
            on_server
                .wait_timeout(Duration::from_millis(5))
                .unwrap()
                .is_empty()
        );
        let pending = client.send_copy(&Plan { goal: 4, steps: 1 }).unwrap();
        assert!(on_server.wait_timeout(LONG).unwrap().contains(id));
        let mut on_client = WaitSet::new();
        let pid = on_client.attach(&pending).unwrap();
        assert!(on_client.ready().is_empty());
        let request = server.receive().unwrap().unwrap();
        request.respond_copy(&Step { goal: 4, index: 0 }).unwrap();
        assert!(on_client.wait_timeout(LONG).unwrap().contains(pid));
        assert_eq!(pending.receive().unwrap().unwrap().goal, 4);
        drop(request);
        // The end of the stream makes it ready too.
        assert!(on_client.wait_timeout(LONG).unwrap().contains(pid));
        assert!(pending.is_finished());
        assert!(matches!(
            WaitSet::new().wait_blocking(),
            Err(WaitError::Empty)
        ));
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

#[test]
fn a_departed_client_makes_responses_fail_and_types_are_checked() {
    let node = node("rr_gone");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/gone")
            .create()
            .unwrap();
        let server = service.server().create().unwrap();
        let client = service.client().create().unwrap();
        let pending = client.send_copy(&Plan { goal: 5, steps: 0 }).unwrap();
        let request = server.receive().unwrap().unwrap();
        drop(pending);
        drop(client);
        assert!(request.is_cancelled());
        assert!(matches!(
            request.respond_copy(&Step { goal: 5, index: 0 }),
            Err(RespondError::ClientGone)
        ));
        drop(request);
        // Both types are checked on open, and the mismatch names the side.
        let err = Service::request_response::<Plan, Plan>(&node, "planner/gone")
            .open()
            .unwrap_err();
        assert!(
            matches!(err, ServiceOpenError::Join(JoinError::TypeMismatch(_))),
            "{err}"
        );
        assert!(err.to_string().contains("response type"), "{err}");
        let err = Service::request_response::<Plan, Step>(&node, "planner/gone")
            .max_servers(5)
            .open()
            .unwrap_err();
        assert!(err.to_string().contains("max_servers = 2, but 5"), "{err}");
        // The same name hosts a publish-subscribe service independently.
        let ps = Service::publish_subscribe::<Plan>(&node, "planner/gone")
            .create()
            .unwrap();
        drop(ps);
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

/// A monitor sees every request and response with what ties them, takes no part (it is no
/// server: the requests still go to the real one, and `server_count` does not count it),
/// and never holds anyone up: when it falls behind it loses its oldest messages.
#[test]
fn a_monitor_sees_every_request_and_response_and_holds_nobody_up() {
    use shmbus::port::Direction;
    use shmbus::service::{Pattern, PortRole};
    let node = node("rr_monitor");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/watched")
            .response_buffer(2)
            .open_or_create()
            .unwrap();
        let raw = Service::raw_request_response(&node, "planner/watched")
            .open()
            .unwrap();
        let monitor = raw.monitor().create().unwrap();
        let server = service.server().create().unwrap();
        let client = service.client().create().unwrap();
        assert_eq!(client.server_count(), 1);
        let info = Service::inspect(node.config(), "planner/watched", Pattern::RequestResponse)
            .unwrap()
            .unwrap();
        assert_eq!(
            (info.count(PortRole::Server), info.count(PortRole::Monitor)),
            (1, 1)
        );

        let pending = client.send_copy(&Plan { goal: 3, steps: 2 }).unwrap();
        let request = server.receive().unwrap().expect("the server gets it");
        for index in 0..2 {
            request.respond_copy(&Step { goal: 3, index }).unwrap();
        }
        drop(request);
        let mut seen = Vec::new();
        while let Some(observed) = monitor.receive_timeout(Duration::from_millis(1)).unwrap() {
            seen.push((
                observed.direction(),
                observed.correlation(),
                observed.value().unwrap(),
            ));
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0].0, Direction::Request);
        assert_eq!(seen[0].2.get("goal"), Some(&shmbus::Value::UInt(3)));
        assert!(
            seen[1..]
                .iter()
                .all(|(d, c, _)| *d == Direction::Response && *c == seen[0].1)
        );
        assert_eq!(seen[2].2.get("index"), Some(&shmbus::Value::UInt(1)));
        while pending.receive().unwrap().is_some() {}
        drop(pending);

        // It falls behind: the client and server do not notice.
        for goal in 0..50 {
            let pending = client.send_copy(&Plan { goal, steps: 1 }).unwrap();
            let request = server.receive().unwrap().unwrap();
            request.respond_copy(&Step { goal, index: 0 }).unwrap();
            drop(request);
            assert_eq!(pending.receive().unwrap().unwrap().goal, goal);
        }
        assert!(monitor.missed() > 0);
        let mut latest = None;
        while let Some(observed) = monitor.receive().unwrap() {
            latest = Some(observed.value().unwrap());
        }
        assert_eq!(latest.unwrap().get("goal"), Some(&shmbus::Value::UInt(49)));
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}

/// A byte-level client sends bytes one-way after the same checks as `send_bytes`.
#[test]
fn a_raw_client_sends_checked_bytes_one_way() {
    let node = node("rr_raw_oneway");
    {
        let service = Service::request_response::<Plan, Step>(&node, "planner/oneway")
            .open_or_create()
            .unwrap();
        let server = service.server().create().unwrap();
        let raw = Service::raw_request_response(&node, "planner/oneway")
            .open()
            .unwrap();
        let client = raw.client().create().unwrap();
        let mut bytes = vec![0u8; std::mem::size_of::<Plan>()];
        bytes[..8].copy_from_slice(&7u64.to_ne_bytes());
        bytes[8..12].copy_from_slice(&2u32.to_ne_bytes());
        client.send_bytes_oneway(&bytes).unwrap();
        let request = server.receive().unwrap().expect("the one-way request");
        assert!(!request.expects_response());
        assert_eq!(*request, Plan { goal: 7, steps: 2 });
        drop(request);
        assert!(matches!(
            client.send_bytes_oneway(&bytes[..8]),
            Err(RequestSendError::Invalid(_))
        ));
        assert!(server.receive().unwrap().is_none());
    }
    assert!(leftovers(&node).is_empty(), "{:?}", leftovers(&node));
}
