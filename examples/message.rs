//! Declares message types, prints their descriptors, and validates bytes "received" from
//! another process: `cargo run --example message`.

use shmbus::message::{self, ShmMessage};
use shmbus::{FixedString, FixedVec};

/// A 2-D point.
#[derive(ShmMessage, Debug, Clone, Copy)]
#[repr(C)]
struct Point {
    x: f32,
    y: f32,
}

/// What the robot is doing.
#[derive(ShmMessage, Debug, Clone, Copy)]
#[repr(u8)]
enum Mode {
    Idle = 0,
    Driving = 1,
}

/// A planned path.
#[derive(ShmMessage, Debug)]
#[repr(C)]
struct Plan {
    frame: FixedString<16>,
    mode: Mode,
    points: FixedVec<Point, 4>,
}

fn main() -> std::process::ExitCode {
    shmbus_examples::main(run)
}

fn run() -> Result<(), shmbus_examples::Error> {
    println!("{}", Plan::DESCRIPTOR.render());

    let mut plan = Plan {
        frame: "map".try_into()?,
        mode: Mode::Driving,
        points: FixedVec::new(),
    };
    plan.points
        .push(Point { x: 1.0, y: 2.0 })
        .map_err(|e| e.to_string())?;
    println!("a valid plan: {plan:?}");

    // Pretend another process wrote these bytes. All-zero bytes are a valid `Plan`
    // (empty frame, `Idle`, no points), which the type declares at compile time.
    const { assert!(Plan::ZEROED_IS_VALID) };
    let mut bytes = vec![0u8; size_of::<Plan>()];
    message::validate::<Plan>(&bytes)?;
    println!("{} zero bytes are a valid Plan", bytes.len());

    bytes[core::mem::offset_of!(Plan, mode)] = 9;
    match message::validate::<Plan>(&bytes) {
        Ok(()) => println!("a corrupted mode was accepted (this is a bug)"),
        Err(e) => println!("corrupted mode rejected: {e}"),
    }
    bytes[core::mem::offset_of!(Plan, mode)] = 1;
    bytes[core::mem::offset_of!(Plan, points)] = 200; // length 200 in a FixedVec<Point, 4>
    match message::validate::<Plan>(&bytes) {
        Ok(()) => println!("a corrupted length was accepted (this is a bug)"),
        Err(e) => println!("corrupted length rejected: {e}"),
    }

    match FixedString::<4>::try_from("too long") {
        Ok(s) => println!("stored {s} (this is a bug)"),
        Err(e) => println!("capacity is checked: {e}"),
    }
    Ok(())
}
