//! A child process for the request-response tests: `rr-child ROLE DOMAIN ROOT SERVICE [N]`.
//! Prints `ready` once its port exists, then what its role reports.
//!
//! - `server`: answers every request (single answers and streams) until stdin closes.
//! - `hang`: takes one request, says `holding`, and never answers (to be killed).
//! - `client N`: makes N calls with its pid as client number, checks that every response
//!   answers exactly its request, prints `ok N`.
//! - `client-hold`: asks for a stream of 3, holds two answers, says `holding`.
//! - `stream-reader N`: asks for a stream of N, reads the first answer, says `streaming`,
//!   and stops reading (to be killed mid-stream).

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use shmbus::{Node, RequestResponseService, Service};
use shmbus_tests::{Answer, Ask, config};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, role, domain, root, service, rest @ ..] = args.as_slice() else {
        return Err("usage: rr-child ROLE DOMAIN ROOT SERVICE [N]".into());
    };
    let n: u64 = rest.first().map(|n| n.parse()).transpose()?.unwrap_or(0);
    let node = Node::builder()
        .name(role.as_str())
        .config(config(domain, Path::new(root)))
        .create()?;
    let service: RequestResponseService<Ask, Answer> =
        Service::request_response(&node, service).open()?;
    match role.as_str() {
        "server" => {
            let server = service
                .server()
                .send_timeout(Duration::from_secs(2))
                .create()?;
            println!("ready");
            let closed = Arc::new(AtomicBool::new(false));
            {
                let closed = Arc::clone(&closed);
                std::thread::spawn(move || {
                    let mut line = String::new();
                    while std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .is_ok_and(|n| n > 0)
                    {}
                    closed.store(true, Ordering::Release);
                });
            }
            let mut served = 0u64;
            while !closed.load(Ordering::Acquire) {
                let Some(request) = server.receive_timeout(Duration::from_millis(50))? else {
                    continue;
                };
                let count = request.stream.max(1);
                for index in 0..count {
                    if request.is_cancelled() {
                        break;
                    }
                    // A client that left mid-stream is no reason to stop serving others.
                    if request.respond_copy(&Answer::to(&request, index)).is_err() {
                        break;
                    }
                }
                served += 1;
            }
            println!("served {served}");
        }
        "hang" => {
            let server = service.server().create()?;
            println!("ready");
            let request = server.receive_blocking()?;
            println!("holding");
            std::thread::sleep(Duration::from_secs(3600));
            drop(request);
        }
        "client" => {
            let client = service.client().create()?;
            let me = u64::from(std::process::id());
            println!("ready");
            for seq in 1..=n {
                let ask = Ask {
                    client: me,
                    seq,
                    stream: 0,
                };
                let answer = client.call(&ask, Duration::from_secs(60))?;
                if *answer != Answer::to(&ask, 0) {
                    println!("wrong answer {:?} to {ask:?}", *answer);
                    std::process::exit(1);
                }
            }
            println!("ok {n}");
        }
        "stream-reader" => {
            let client = service.client().create()?;
            println!("ready");
            let ask = Ask {
                client: 1,
                seq: 1,
                stream: n,
            };
            let pending = client.send_copy(&ask)?;
            let first = pending
                .receive_timeout(Duration::from_secs(60))?
                .ok_or("no first answer")?;
            if *first != Answer::to(&ask, 0) {
                return Err("wrong first answer".into());
            }
            println!("streaming");
            std::thread::sleep(Duration::from_secs(3600));
            drop((first, pending));
        }
        "client-hold" => {
            let client = service.client().create()?;
            println!("ready");
            let ask = Ask {
                client: 5,
                seq: 1,
                stream: 3,
            };
            let pending = client.send_copy(&ask)?;
            let first = pending
                .receive_timeout(Duration::from_secs(60))?
                .ok_or("no answer")?;
            let second = pending
                .receive_timeout(Duration::from_secs(60))?
                .ok_or("no second answer")?;
            println!("holding");
            std::thread::sleep(Duration::from_secs(3600));
            drop((first, second, pending));
        }
        other => return Err(format!("unknown role {other}").into()),
    }
    Ok(())
}
