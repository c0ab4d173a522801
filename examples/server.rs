//! Serves path plans on `examples/planner`: each request gets a stream of waypoints, one
//! response each. Run it next to `cargo run --example client` in a second terminal:
//! `cargo run --example server`. Ctrl-C (or SIGTERM) ends it cleanly.

use std::process::ExitCode;
use std::time::Duration;

use shmbus::{Node, Service, ShmMessage};
use shmbus_examples::Error;

/// What a client asks for (both examples declare it; the layout hash decides).
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

/// One waypoint of the answer.
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

fn main() -> ExitCode {
    shmbus_examples::main(run)
}

fn run() -> Result<(), Error> {
    let node = Node::builder()
        .name("planner")
        .signal_handling(true)
        .create()?;
    let service = Service::request_response::<PlanRequest, Waypoint>(&node, "examples/planner")
        .response_buffer(16)
        .open_or_create()?;
    let server = service.server().create()?;
    println!(
        "serving examples/planner (domain {:?}); Ctrl-C to stop",
        node.config().domain()
    );
    // A termination request (Ctrl-C, SIGTERM) ends the wait with an error: `?` returns it,
    // dropping the ports and the node on the way, and `main` reports a clean stop.
    loop {
        let Some(request) = server.receive_timeout(Duration::from_secs(1))? else {
            continue;
        };
        let n = request.waypoints.min(1000);
        println!(
            "plan to ({}, {}) in {n} waypoints",
            request.goal_x, request.goal_y
        );
        for index in 0..n {
            if request.is_cancelled() {
                println!("  the client stopped waiting after {index}");
                break;
            }
            let t = f64::from(index + 1) / f64::from(n);
            let mut waypoint = request.loan()?;
            waypoint.index = index;
            waypoint.x = request.goal_x * t;
            waypoint.y = request.goal_y * t;
            waypoint.send()?;
        }
        // Dropping the request ends the stream: the client sees it finished.
    }
}
