//! An async node on tokio: one task per port, each awaiting its port — two subscribers
//! (`examples/counter`, `examples/heading`) and the server of `examples/planner` — all
//! running concurrently on a multi-threaded runtime, with no thread of ours blocked and no
//! polling. The futures of a port the task owns are `Send`, so the tasks are plain
//! `tokio::spawn`s.
//!
//! It feeds itself so that it shows something on its own: three threads publish counters
//! (10 Hz) and headings (4 Hz) and ask the planner for a path every half second. Run
//! `cargo run --example publisher` or `cargo run --example client` beside it, too: they
//! use the same services. `cargo run --example async_node`; Ctrl-C (or SIGTERM) ends it
//! cleanly, `--seconds S` after S seconds.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use shmbus::{Node, Service, ShmMessage};
use shmbus_examples::{Error, sentence};
use tokio::signal::unix::{SignalKind, signal};

/// The publisher example's sample (same name and layout).
#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
pub struct Counter {
    /// Counts up from 0.
    pub count: u64,
    /// `count * count`.
    pub square: u64,
}

/// Where the robot points.
#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
pub struct Heading {
    /// Degrees from north, clockwise.
    pub degrees: f64,
}

/// The server example's request (same name and layout).
#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
pub struct PlanRequest {
    /// Where to go.
    pub goal_x: f64,
    /// Where to go.
    pub goal_y: f64,
    /// How many waypoints to send back.
    pub waypoints: u32,
}

/// The server example's response (same name and layout).
#[derive(ShmMessage, Debug, Default, Clone, Copy)]
#[repr(C)]
pub struct Waypoint {
    /// Position in the path, from 0.
    pub index: u32,
    /// Coordinates.
    pub x: f64,
    /// Coordinates.
    pub y: f64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(stop) => {
            eprintln!("{stop}; everything it made is removed");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", sentence(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// `--seconds S`, if given.
fn seconds() -> Result<Option<Duration>, Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, s] if flag == "--seconds" => Ok(Some(Duration::from_secs_f64(s.parse()?))),
        _ => Err("usage: async_node [--seconds S]".into()),
    }
}

async fn run() -> Result<&'static str, Error> {
    let limit = seconds()?;
    // No `signal_handling`: the runtime's own signal streams end the program.
    let node = Node::builder().name("async-node").create()?;
    let counter = Service::publish_subscribe::<Counter>(&node, "examples/counter")
        .subscriber_buffer(4)
        .open_or_create()?;
    let heading =
        Service::publish_subscribe::<Heading>(&node, "examples/heading").open_or_create()?;
    let planner = Service::request_response::<PlanRequest, Waypoint>(&node, "examples/planner")
        .response_buffer(16)
        .open_or_create()?;

    // One task per port; each owns its port.
    let mut counts = counter.subscriber().create()?;
    let mut headings = heading.subscriber().create()?;
    let mut server = planner.server().create()?;
    let mut tasks = tokio::task::JoinSet::<Result<(), Error>>::new();
    tasks.spawn(async move {
        loop {
            let sample = counts.receive_async().await?;
            println!("counter {} (square {})", sample.count, sample.square);
        }
    });
    tasks.spawn(async move {
        loop {
            let sample = headings.receive_async().await?;
            println!("heading {:.1}°", sample.degrees);
        }
    });
    tasks.spawn(async move {
        loop {
            let request = server.receive_async().await?;
            let n = request.waypoints.min(1000);
            println!(
                "plan to ({}, {}) in {n} waypoints",
                request.goal_x, request.goal_y
            );
            for index in 0..n {
                let t = f64::from(index + 1) / f64::from(n);
                let mut waypoint = request.loan()?;
                waypoint.index = index;
                waypoint.x = request.goal_x * t;
                waypoint.y = request.goal_y * t;
                waypoint.send()?;
            }
            // Dropping the request ends its response stream.
        }
    });
    println!(
        "async node on examples/counter, examples/heading and examples/planner (domain {:?}); Ctrl-C to stop",
        node.config().domain()
    );

    let feeding = Arc::new(AtomicBool::new(true));
    let feeders = feed(&counter, &heading, &planner, &feeding)?;

    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let stop = async {
        match limit {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        _ = interrupt.recv() => Ok("stopped by SIGINT"),
        _ = terminate.recv() => Ok("stopped by SIGTERM"),
        () = stop => Ok("stopped after --seconds"),
        // A task ends only by an error.
        Some(ended) = tasks.join_next() => Err(match ended {
            Ok(Err(error)) => error,
            Ok(Ok(())) => "a task ended".into(),
            Err(panicked) => panicked.into(),
        }),
    };
    // Dropping the tasks' futures drops their ports (cancel-safe: nothing is lost or
    // leaked); then the feeders stop, and the node goes last.
    tasks.shutdown().await;
    feeding.store(false, Ordering::Release);
    for feeder in feeders {
        let _ = feeder.join();
    }
    outcome
}

/// Starts the three feeding threads: they run while `feeding` holds.
fn feed(
    counter: &shmbus::PubSubService<Counter>,
    heading: &shmbus::PubSubService<Heading>,
    planner: &shmbus::RequestResponseService<PlanRequest, Waypoint>,
    feeding: &Arc<AtomicBool>,
) -> Result<Vec<std::thread::JoinHandle<()>>, Error> {
    let counts = counter.publisher().create()?;
    let headings = heading.publisher().create()?;
    let client = planner.client().create()?;
    let running = |f: &Arc<AtomicBool>| {
        let f = Arc::clone(f);
        move || f.load(Ordering::Acquire)
    };
    let (a, b, c) = (running(feeding), running(feeding), running(feeding));
    Ok(vec![
        std::thread::spawn(move || {
            let mut count = 0u64;
            while a() {
                let _ = counts.send_copy(&Counter {
                    count,
                    square: count * count,
                });
                count += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        }),
        std::thread::spawn(move || {
            let mut degrees = 0.0;
            while b() {
                let _ = headings.send_copy(&Heading { degrees });
                degrees = (degrees + 7.5) % 360.0;
                std::thread::sleep(Duration::from_millis(250));
            }
        }),
        std::thread::spawn(move || {
            let mut goal = 1.0;
            while c() {
                let ask = PlanRequest {
                    goal_x: goal,
                    goal_y: 2.0 * goal,
                    waypoints: 3,
                };
                if let Ok(pending) = client.send_copy(&ask) {
                    while let Ok(Some(_)) = pending.receive_timeout(Duration::from_secs(1)) {}
                }
                goal += 1.0;
                std::thread::sleep(Duration::from_millis(500));
            }
        }),
    ])
}
