//! Discovery across processes: `Service::list` shows exactly the live services of a domain,
//! with their types, QoS, ports and nodes; after a node is killed with SIGKILL and cleaned
//! up, its services are gone from the list. And ports see their counterparts come, leave
//! and die.

use shmbus::port::{Departure, PortEvent};
use shmbus::service::{Pattern, PortRole, ServiceInfo, ServiceQos};
use shmbus::{Service, ShmMessage};
use shmbus_tests::everything::Everything;
use shmbus_tests::{Answer, Ask, Counted, Peer, Setup};

fn child(setup: &Setup, role: &str, service: &str) -> Peer {
    Peer::start(
        env!("CARGO_BIN_EXE_pubsub-child"),
        setup,
        role,
        service,
        &[],
    )
}

/// The listed services, all readable, as (name, pattern).
fn listed(setup: &Setup) -> Vec<ServiceInfo> {
    Service::list(&setup.config)
        .unwrap()
        .into_iter()
        .map(|s| s.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn names(services: &[ServiceInfo]) -> Vec<(String, Pattern)> {
    services
        .iter()
        .map(|s| (s.name.to_string(), s.pattern))
        .collect()
}

#[test]
fn the_list_shows_exactly_the_live_services_and_forgets_the_dead() {
    let setup = Setup::new("dy", "list");
    {
        let node = setup.node("lister");
        assert!(listed(&setup).is_empty());
        let stream = Service::publish_subscribe::<Everything>(&node, "robot/state")
            .history(1)
            .create()
            .unwrap();
        let publisher = stream.publisher().create().unwrap();
        let _subscribers = [
            stream.subscriber().create().unwrap(),
            stream.subscriber().create().unwrap(),
        ];
        let calls = Service::request_response::<Ask, Answer>(&node, "robot/plan")
            .max_clients(3)
            .create()
            .unwrap();
        let _server = calls.server().create().unwrap();
        // Another process, with a service of its own (a publisher and a subscriber).
        let other = child(&setup, "own-service", "other/counter");

        let services = listed(&setup);
        assert_eq!(
            names(&services),
            [
                ("other/counter".to_owned(), Pattern::PublishSubscribe),
                ("robot/plan".to_owned(), Pattern::RequestResponse),
                ("robot/state".to_owned(), Pattern::PublishSubscribe),
            ]
        );
        let [counter, plan, state] = services.as_slice() else {
            unreachable!()
        };
        // Types: the full descriptors, as the creators' Rust types describe them.
        assert_eq!(state.types.len(), 1);
        assert_eq!(
            state.types[0].layout_hash(),
            Everything::DESCRIPTOR.layout_hash()
        );
        assert_eq!(state.types[0].render(), Everything::DESCRIPTOR.render());
        assert_eq!(
            plan.types.iter().map(|d| d.name()).collect::<Vec<_>>(),
            ["Ask", "Answer"]
        );
        assert_eq!(
            counter.types[0].layout_hash(),
            Counted::DESCRIPTOR.layout_hash()
        );
        // QoS as created.
        let ServiceQos::PublishSubscribe(qos) = state.qos else {
            panic!("{:?}", state.qos)
        };
        assert_eq!(qos.history, 1);
        let ServiceQos::RequestResponse(qos) = plan.qos else {
            panic!("{:?}", plan.qos)
        };
        assert_eq!(qos.max_clients, 3);
        // Ports and their nodes.
        assert_eq!(state.count(PortRole::Publisher), 1);
        assert_eq!(state.count(PortRole::Subscriber), 2);
        assert_eq!(plan.count(PortRole::Server), 1);
        assert_eq!(plan.count(PortRole::Client), 0);
        assert!(state.ports.iter().all(|p| p.node == node.id()));
        assert!(state.ports.iter().any(|p| p.id == publisher.id()));
        assert_eq!(counter.count(PortRole::Publisher), 1);
        assert_eq!(counter.count(PortRole::Subscriber), 1);
        let their_node = counter.ports[0].node;
        assert_ne!(their_node, node.id());
        assert_eq!(
            counter.nodes,
            [(their_node, Some(shmbus::node::NodeState::Alive))]
        );
        assert_eq!(counter.segments.len(), 1, "the publisher's data segment");
        assert!(counter.object.footprint.size > 0);

        // Killed: its service is still there, with a dead node, until a cleaner comes.
        other.kill();
        let services = listed(&setup);
        assert_eq!(services.len(), 3);
        assert_eq!(
            services[0].nodes,
            [(their_node, Some(shmbus::node::NodeState::Dead))]
        );
        let report = node.cleanup_dead_nodes().unwrap();
        assert_eq!(report.services_removed, 1, "{report:?}");
        assert_eq!(
            names(&listed(&setup)),
            [
                ("robot/plan".to_owned(), Pattern::RequestResponse),
                ("robot/state".to_owned(), Pattern::PublishSubscribe),
            ]
        );
        // One service, looked up by name.
        let found = Service::inspect(&setup.config, "robot/state", Pattern::PublishSubscribe)
            .unwrap()
            .expect("robot/state exists");
        assert_eq!(found.count(PortRole::Subscriber), 2);
        assert!(
            Service::inspect(&setup.config, "robot/state", Pattern::RequestResponse)
                .unwrap()
                .is_none()
        );
        assert!(
            Service::inspect(&setup.config, "other/counter", Pattern::PublishSubscribe)
                .unwrap()
                .is_none()
        );
    }
    // Listing joined nothing: the last handles took everything with them.
    assert!(listed(&setup).is_empty());
    setup.assert_clean();
}

#[test]
fn a_subscriber_sees_its_publishers_connect_leave_and_die() {
    let setup = Setup::new("dy", "events");
    {
        let node = setup.node("watcher");
        let service = Service::publish_subscribe::<Counted>(&node, "watched")
            .create()
            .unwrap();
        let subscriber = service.subscriber().create().unwrap();
        assert_eq!(subscriber.publisher_count(), 0);
        assert!(subscriber.take_events().is_empty());

        // One that leaves: dropped by its (this) process.
        let local = service.publisher().create().unwrap();
        let local_id = local.id();
        assert_eq!(subscriber.publisher_count(), 1);
        assert_eq!(local.subscriber_count(), 1);
        assert_eq!(
            local.take_events(),
            [PortEvent::Connected {
                port: subscriber.id()
            }]
        );
        drop(local);
        assert_eq!(subscriber.publisher_count(), 0);
        assert_eq!(
            subscriber.take_events(),
            [
                PortEvent::Connected { port: local_id },
                PortEvent::Disconnected {
                    port: local_id,
                    departure: Departure::Left
                }
            ]
        );

        // One that dies: another process, killed with SIGKILL.
        let mut remote = child(&setup, "publish-then-sleep", "watched");
        remote.say("go");
        assert_eq!(remote.line(), "sent");
        let sample = subscriber.receive().unwrap().expect("its sample");
        let remote_id = sample.publisher_id();
        drop(sample);
        assert_eq!(subscriber.publishers(), [remote_id]);
        assert_eq!(
            subscriber.take_events(),
            [PortEvent::Connected { port: remote_id }]
        );
        remote.kill();
        // Its slot stays until a cleaner notices: the receive path makes no system call.
        assert_eq!(subscriber.publisher_count(), 1);
        assert_eq!(subscriber.check_liveness(), 1);
        assert_eq!(subscriber.publisher_count(), 0);
        assert_eq!(
            subscriber.take_events(),
            [PortEvent::Disconnected {
                port: remote_id,
                departure: Departure::Died
            }]
        );
        assert!(subscriber.receive().unwrap().is_none());
    }
    setup.assert_clean();
}

#[test]
fn a_client_sees_its_servers_leave_and_die() {
    let setup = Setup::new("dy", "rr_events");
    {
        let node = setup.node("client");
        let service = Service::request_response::<Ask, Answer>(&node, "rec/rr")
            .create()
            .unwrap();
        let client = service.client().create().unwrap();
        let server = service.server().create().unwrap();
        assert_eq!((client.server_count(), server.client_count()), (1, 1));
        let server_events = server.take_events();
        assert!(
            matches!(server_events.as_slice(), [PortEvent::Connected { .. }]),
            "{server_events:?}"
        );
        drop(server);
        assert_eq!(client.server_count(), 0);
        let events = client.take_events();
        assert!(
            matches!(
                events.as_slice(),
                [
                    PortEvent::Connected { .. },
                    PortEvent::Disconnected {
                        departure: Departure::Left,
                        ..
                    }
                ]
            ),
            "{events:?}"
        );
        let remote = Peer::start(
            env!("CARGO_BIN_EXE_rr-child"),
            &setup,
            "hang",
            "rec/rr",
            &["0"],
        );
        assert_eq!(client.server_count(), 1);
        remote.kill();
        assert_eq!(client.check_liveness(), 1);
        let events = client.take_events();
        assert!(
            matches!(
                events.as_slice(),
                [
                    PortEvent::Connected { .. },
                    PortEvent::Disconnected {
                        departure: Departure::Died,
                        ..
                    }
                ]
            ),
            "{events:?}"
        );
    }
    setup.assert_clean();
}
