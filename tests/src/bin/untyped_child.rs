//! The typed side of the tests between typed and byte-level ports:
//! `untyped-child ROLE DOMAIN ROOT SERVICE N`. Prints `ready` once its port exists, then
//! one result line. Errors are printed as their sentence.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use shmbus::{Node, Service};
use shmbus_tests::config;
use shmbus_tests::everything::Everything;

type Error = Box<dyn std::error::Error>;

/// A guard against hangs only.
const PATIENCE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, role, domain, root, service, n] = args.as_slice() else {
        return Err("usage: untyped-child ROLE DOMAIN ROOT SERVICE N".into());
    };
    let n: u64 = n.parse()?;
    let node = Node::builder()
        .name(role.as_str())
        .config(config(domain, Path::new(root)))
        .create()?;
    match role.as_str() {
        // Sends samples 1..=N once the parent says so, then waits for the parent to finish.
        "typed-publish" => {
            let service = Service::publish_subscribe::<Everything>(&node, service)
                .subscriber_buffer(64)
                .open_or_create()?;
            let publisher = service.publisher().create()?;
            println!("ready");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            for seq in 1..=n {
                publisher.send_copy(&Everything::sample(seq))?;
            }
            println!("sent {n}");
            std::io::stdin().lock().read_line(&mut line)?;
        }
        // Receives N samples and compares each, field by field, with the one expected.
        "typed-subscribe" => {
            let service = Service::publish_subscribe::<Everything>(&node, service)
                .subscriber_buffer(64)
                .open_or_create()?;
            let subscriber = service.subscriber().create()?;
            println!("ready");
            for _ in 0..n {
                let Some(sample) = subscriber.receive_timeout(PATIENCE)? else {
                    println!("timeout");
                    return Ok(());
                };
                let expected = Everything::sample(sample.seq);
                if *sample != expected {
                    println!("bad {:?} expected {expected:?}", *sample);
                    return Ok(());
                }
            }
            println!("ok {n}");
        }
        // Answers N requests: a request equal to the sample of its `seq` gets the sample of
        // `seq + 1000` back, anything else the default value.
        "typed-server" => {
            let service = Service::request_response::<Everything, Everything>(&node, service)
                .open_or_create()?;
            let server = service.server().create()?;
            println!("ready");
            for _ in 0..n {
                let Some(request) = server.receive_timeout(PATIENCE)? else {
                    println!("timeout");
                    return Ok(());
                };
                let answer = if *request == Everything::sample(request.seq) {
                    Everything::sample(request.seq + 1000)
                } else {
                    eprintln!(
                        "request {:?} is not {:?}",
                        *request,
                        Everything::sample(request.seq)
                    );
                    Everything::default()
                };
                request.respond_copy(&answer)?;
            }
            println!("served {n}");
        }
        other => return Err(format!("unknown role {other:?}").into()),
    }
    Ok(())
}
