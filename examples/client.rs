//! Asks `cargo run --example server` for path plans once a second:
//! `cargo run --example client`. Ctrl-C (or SIGTERM) ends it cleanly.

use std::process::ExitCode;
use std::time::Duration;

use shmbus::{Node, Service, ShmMessage};
use shmbus_examples::Error;

/// What a client asks for (declared in both examples).
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
        .name("navigator")
        .signal_handling(true)
        .create()?;
    let service = Service::request_response::<PlanRequest, Waypoint>(&node, "examples/planner")
        .response_buffer(16)
        .open_or_create()?;
    let client = service.client().create()?;
    println!("asking examples/planner for plans; Ctrl-C to stop");
    let mut round = 0u32;
    while node.wait(Duration::from_secs(1)).is_ok() {
        round += 1;
        if !client.has_servers() {
            println!("no server yet: start `cargo run --example server`");
            continue;
        }
        let goal = PlanRequest {
            goal_x: f64::from(round),
            goal_y: -f64::from(round),
            waypoints: 5,
        };
        let pending = client.send_copy(&goal)?;
        let mut got = 0;
        while let Some(waypoint) = pending.receive_timeout(Duration::from_secs(2))? {
            println!(
                "  waypoint {}: ({:.2}, {:.2})",
                waypoint.index, waypoint.x, waypoint.y
            );
            got += 1;
        }
        if pending.is_finished() {
            println!("plan {round}: {got} waypoints, stream ended");
        } else {
            println!("plan {round}: {got} waypoints, then the server went quiet");
        }
    }
    println!("stopped after {round} plans");
    Ok(())
}
