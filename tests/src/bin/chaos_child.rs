//! A worker of the kill test (`shmbus_tests::chaos`):
//! `chaos-child ROLE DOMAIN ROOT SERVICE SEED`. It works until it is killed; it exits by
//! itself only when it finds wrong data (status 1) or, for role `exit`, on purpose
//! without dropping its ports (status 0).

use std::path::Path;
use std::time::Duration;

use shmbus::Node;
use shmbus::port::{RequestSendError, ResponseError};
use shmbus_tests::chaos::{Rng, ps_builder, rr_builder};
use shmbus_tests::{Answer, Ask, Counted, checksum, config};

type Error = Box<dyn std::error::Error>;

fn fail(what: String) -> ! {
    eprintln!("{what}");
    std::process::exit(1);
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, role, domain, root, service, seed] = args.as_slice() else {
        return Err("usage: chaos-child ROLE DOMAIN ROOT SERVICE SEED".into());
    };
    let mut rng = Rng::new(seed.parse()?);
    let node = Node::builder()
        .name(role.as_str())
        .config(config(domain, Path::new(root)))
        .create()?;
    match role.as_str() {
        "publisher" => publisher(&node, service, &mut rng),
        "subscriber" => subscriber(&node, service, &mut rng),
        "client" => client(&node, service, &mut rng),
        "server" => server(&node, service, &mut rng),
        "cleaner" => loop {
            node.cleanup_dead_nodes()?;
            std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        },
        "churn" => loop {
            // Creation and removal over and over: kills land inside both.
            let service = ps_builder(&node, service).open_or_create()?;
            let publisher = service.publisher().create()?;
            publisher.send_copy(&Counted {
                seq: 1,
                checksum: checksum(1),
            })?;
            drop(publisher);
            drop(service);
        },
        "exit" => {
            // Ports made, then `exit` with them in hand: no destructor runs, like a crash.
            let pause = Duration::from_micros(rng.below(5_000));
            if service.contains("/rr") {
                let s = rr_builder(&node, service).open_or_create()?;
                let server = s.server().create()?;
                let client = s.client().create()?;
                let _pending = client.send_copy(&Ask {
                    client: 9,
                    seq: 1,
                    stream: 0,
                });
                let _request = server.receive();
                std::thread::sleep(pause);
                std::process::exit(0);
            }
            let s = ps_builder(&node, service).open_or_create()?;
            let publisher = s.publisher().create()?;
            let subscriber = s.subscriber().create()?;
            publisher.send_copy(&Counted {
                seq: 1,
                checksum: checksum(1),
            })?;
            let _sample = subscriber.receive()?;
            std::thread::sleep(pause);
            std::process::exit(0);
        }
        other => Err(format!("unknown role {other}").into()),
    }
}

fn publisher(node: &Node, name: &str, rng: &mut Rng) -> Result<(), Error> {
    let service = ps_builder(node, name).open_or_create()?;
    let publisher = service.publisher().create()?;
    let base = rng.next_u64() >> 16;
    for seq in base.. {
        match publisher.loan() {
            Ok(mut sample) => {
                sample.seq = seq;
                sample.checksum = checksum(seq);
                if rng.below(50) == 0 {
                    // Hold the loan a while: kills land mid-loan.
                    std::thread::sleep(Duration::from_micros(rng.below(2_000)));
                }
                sample.send()?;
            }
            // Loans are bounded; a full pool means subscribers hold chunks: wait.
            Err(_) => std::thread::sleep(Duration::from_micros(100)),
        }
        if rng.below(20) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(1_000)));
        }
    }
    Ok(())
}

fn subscriber(node: &Node, name: &str, rng: &mut Rng) -> Result<(), Error> {
    let service = ps_builder(node, name).open_or_create()?;
    let subscriber = service.subscriber().create()?;
    loop {
        let Some(first) = subscriber.receive_timeout(Duration::from_millis(50))? else {
            continue;
        };
        if first.checksum != checksum(first.seq) {
            fail(format!("corrupt sample {:?}", *first));
        }
        // Sometimes hold two samples for a while: kills land while holding them.
        if rng.below(10) == 0 {
            let second = subscriber.receive()?;
            std::thread::sleep(Duration::from_micros(rng.below(3_000)));
            drop(second);
        }
        drop(first);
    }
}

fn client(node: &Node, name: &str, rng: &mut Rng) -> Result<(), Error> {
    let service = rr_builder(node, name).open_or_create()?;
    let client = service.client().create()?;
    let me = u64::from(std::process::id());
    for seq in 1.. {
        let ask = Ask {
            client: me,
            seq,
            stream: rng.below(4),
        };
        let pending = match client.send_copy(&ask) {
            Ok(p) => p,
            Err(RequestSendError::NoServer) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let cancel_after = if rng.below(5) == 0 {
            rng.below(3)
        } else {
            u64::MAX
        };
        let mut index = 0;
        while index < cancel_after {
            match pending.receive_timeout(Duration::from_millis(500)) {
                Ok(Some(answer)) => {
                    if *answer != Answer::to(&ask, index) {
                        fail(format!("wrong answer {:?} to {ask:?}", *answer));
                    }
                    index += 1;
                }
                Ok(None) | Err(ResponseError::ServerGone) => break,
                Err(e) => return Err(e.into()),
            }
        }
        drop(pending); // cancels when cut short
    }
    Ok(())
}

fn server(node: &Node, name: &str, rng: &mut Rng) -> Result<(), Error> {
    let service = rr_builder(node, name).open_or_create()?;
    let server = service
        .server()
        .send_timeout(Duration::from_millis(50))
        .create()?;
    loop {
        let Some(request) = server.receive_timeout(Duration::from_millis(50))? else {
            continue;
        };
        for index in 0..request.stream.max(1) {
            if request.is_cancelled() {
                break;
            }
            if request.respond_copy(&Answer::to(&request, index)).is_err() {
                break; // its client is gone or slow: serve the next one
            }
            if rng.below(10) == 0 {
                std::thread::sleep(Duration::from_micros(rng.below(2_000)));
            }
        }
    }
}
