//! Request-response between real processes (the `rr-child` binary): many clients and
//! servers with verified correlation, a long stream, and death on either side (SIGKILL).

use std::time::Duration;

use shmbus::port::ResponseError;
use shmbus::{Node, RequestResponseService, Service};
use shmbus_tests::{Answer, Ask, Peer, Setup};

fn start(setup: &Setup, role: &str, n: u64) -> Peer {
    let n = n.to_string();
    Peer::start(env!("CARGO_BIN_EXE_rr-child"), setup, role, "rr/svc", &[&n])
}

fn service(node: &Node) -> RequestResponseService<Ask, Answer> {
    Service::request_response(node, "rr/svc")
        .max_clients(8)
        .max_servers(2)
        .response_buffer(16)
        .create()
        .unwrap()
}

const CALLS: u64 = 100_000;

#[test]
fn four_clients_two_servers_every_response_answers_its_request() {
    let setup = Setup::new("rr", "many");
    {
        let node = setup.node("owner");
        let _service = service(&node);
        let servers: Vec<Peer> = (0..2).map(|_| start(&setup, "server", 0)).collect();
        let clients: Vec<Peer> = (0..4).map(|_| start(&setup, "client", CALLS)).collect();
        for mut client in clients {
            assert_eq!(client.line(), format!("ok {CALLS}"));
            client.finish();
        }
        let mut served = 0;
        for mut server in servers {
            server.close_stdin();
            let line = server.line();
            served += line
                .strip_prefix("served ")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("server said {line:?}"));
            server.finish();
        }
        // Every call was served exactly once, by one of the two servers.
        assert_eq!(served, 4 * CALLS);
    }
    setup.assert_clean();
}

#[test]
fn a_stream_of_ten_thousand_arrives_in_order() {
    let setup = Setup::new("rr", "stream");
    {
        let node = setup.node("client");
        let service = service(&node);
        let server = start(&setup, "server", 0);
        let client = service.client().create().unwrap();
        let ask = Ask {
            client: 3,
            seq: 1,
            stream: 10_000,
        };
        let pending = client.send_copy(&ask).unwrap();
        for index in 0..10_000 {
            let answer = pending
                .receive_timeout(Duration::from_secs(60))
                .unwrap()
                .expect("the next answer");
            assert_eq!(*answer, Answer::to(&ask, index));
        }
        assert!(
            pending
                .receive_timeout(Duration::from_secs(60))
                .unwrap()
                .is_none()
        );
        assert!(pending.is_finished());
        drop(pending);
        server.finish();
    }
    setup.assert_clean();
}

#[test]
fn a_server_killed_mid_call_is_an_error_not_a_hang() {
    let setup = Setup::new("rr", "server_dies");
    {
        let node = setup.node("client");
        let service = service(&node);
        let mut hang = start(&setup, "hang", 0);
        let client = service.client().create().unwrap();
        let total = client.free_chunks();
        let ask = Ask {
            client: 1,
            seq: 1,
            stream: 0,
        };
        let pending = client.send_copy(&ask).unwrap();
        assert_eq!(hang.line(), "holding");
        hang.kill();
        // An error, not a timeout (which would be `Ok(None)`): the liveness probe noticed.
        let err = pending
            .receive_timeout(Duration::from_secs(120))
            .unwrap_err();
        assert!(matches!(err, ResponseError::ServerGone), "{err}");
        drop(pending);
        // The dead server's node is cleaned up and the request chunk comes back.
        assert_eq!(client.free_chunks(), total);
        // A new server takes over.
        let server = start(&setup, "server", 0);
        let answer = client.call(&ask, Duration::from_secs(60)).unwrap();
        assert_eq!(*answer, Answer::to(&ask, 0));
        drop(answer);
        server.finish();
    }
    setup.assert_clean();
}

#[test]
fn a_client_killed_mid_stream_does_not_stop_the_server() {
    let setup = Setup::new("rr", "client_dies");
    {
        let node = setup.node("server");
        let service = service(&node);
        let server = service
            .server()
            .send_timeout(Duration::from_millis(200))
            .create()
            .unwrap();
        let total = server.free_chunks();
        let mut reader = start(&setup, "stream-reader", 1_000_000);
        let request = server
            .receive_timeout(Duration::from_secs(60))
            .unwrap()
            .expect("the stream request");
        // Stream until the reader stops reading and we are told it is gone.
        let mut sent = 0;
        let mut killed = false;
        let result = loop {
            if sent == 1 && !killed {
                assert_eq!(reader.line(), "streaming");
            }
            match request.respond_copy(&Answer::to(&request, sent)) {
                Ok(()) => sent += 1,
                Err(error) if killed => break error,
                Err(_) => {
                    // Its buffer is full: now kill it while it holds a response.
                    reader.child.kill().unwrap();
                    let _ = reader.child.wait();
                    killed = true;
                }
            }
            if sent > 100 && !killed {
                reader.child.kill().unwrap();
                let _ = reader.child.wait();
                killed = true;
            }
        };
        assert!(
            matches!(result, shmbus::port::RespondError::ClientGone),
            "{result}"
        );
        drop(request);
        // Another client is served as if nothing happened, and every chunk is back.
        let other = service.client().create().unwrap();
        let ask = Ask {
            client: 2,
            seq: 9,
            stream: 0,
        };
        let pending = other.send_copy(&ask).unwrap();
        let request = server
            .receive_timeout(Duration::from_secs(60))
            .unwrap()
            .unwrap();
        request.respond_copy(&Answer::to(&request, 0)).unwrap();
        drop(request);
        assert_eq!(
            *pending
                .receive_timeout(Duration::from_secs(60))
                .unwrap()
                .unwrap(),
            Answer::to(&ask, 0)
        );
        // The client returns its last response's chunk at its next receive, or when it
        // leaves, as here.
        drop(pending);
        drop(other);
        assert_eq!(server.free_chunks(), total);
    }
    setup.assert_clean();
}

#[test]
fn a_waitset_wakes_up_for_a_pending_response_whose_server_died() {
    let setup = Setup::new("rr", "waitset_dies");
    {
        let node = setup.node("client");
        let service = service(&node);
        let mut hang = start(&setup, "hang", 0);
        let client = service.client().create().unwrap();
        let pending = client
            .send_copy(&Ask {
                client: 1,
                seq: 1,
                stream: 0,
            })
            .unwrap();
        assert_eq!(hang.line(), "holding");
        let mut waitset = shmbus::WaitSet::new();
        let id = waitset.attach(&pending).unwrap();
        hang.kill();
        // No notification will ever come from the dead server: the wait set looks again
        // after each liveness slice and finds the request's server gone.
        let ready = waitset.wait_timeout(Duration::from_secs(120)).unwrap();
        assert!(ready.contains(id));
        assert!(matches!(pending.receive(), Err(ResponseError::ServerGone)));
    }
    setup.assert_clean();
}
