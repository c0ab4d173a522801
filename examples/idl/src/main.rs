//! Message types generated from IDL at build time and used like hand-written ones.
//!
//! `build.rs` compiles `idl/robot.idl` (which includes `idl/geometry.idl`) with
//! `shmbus_codegen::Builder`; `shmbus::include_idl!("robot")` includes the result. Run it
//! with `cargo run -p shmbus-example-idl`.

/// The types generated from `idl/robot.idl`.
pub mod idl {
    shmbus::include_idl!("robot");
}

use idl::geometry::Point;
use idl::robot::msg::{Command, CommandBranch, MAX_WAYPOINTS, Mode, ModeKind, Path, Power, Status};
use shmbus::ShmMessage;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The error's own sentence, not its `Debug` form.
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Types derive `Default`, with the IDL's `@default` values applied.
    let mut status = Status::default();
    assert!(status.enabled.get());
    status.base.frame_id = "base_link".try_into()?;
    status.mode = Mode::DRIVING;
    status.power = Power::MOTORS | Power::LIDAR;
    status.battery = 87;
    status.temperature.set(41.5);
    status.validate()?;

    // The enum is open (any value is valid in shared memory); `kind()` closes it.
    match status.mode.kind() {
        Some(ModeKind::DRIVING) => println!("driving, battery {}%", status.battery),
        Some(other) => println!("mode {other:?}"),
        None => println!("unknown mode {}", status.mode.0),
    }

    // Inheritance: the base is the first field, and `Deref` reaches its members.
    let mut path = Path::default();
    path.base.frame_id = "map".try_into()?;
    for i in 0..3 {
        path.waypoints.push(Point {
            x: f64::from(i),
            y: 0.5,
        })?;
    }
    println!(
        "path in `{}`: {} of {MAX_WAYPOINTS} waypoints",
        path.frame_id,
        path.waypoints.len()
    );

    // A union has checked accessors: a branch is readable only when selected; `branch()`
    // gives the selected one for `match`.
    let command = Command::from_go_to(Point { x: 1.0, y: 2.0 });
    assert!(command.stop().is_none());
    match command.branch() {
        CommandBranch::go_to(target) => println!("go to ({}, {})", target.x, target.y),
        CommandBranch::stop(_) => println!("stop"),
        CommandBranch::Empty(d) => println!("no command (discriminator {d})"),
    }

    // Descriptors carry the IDL scoped names, so tools and peers see `robot::msg::Status`.
    let descriptor = <Status as ShmMessage>::DESCRIPTOR;
    println!(
        "{}: {} bytes, layout hash {:#018x}",
        descriptor.name(),
        descriptor.size(),
        descriptor.layout_hash()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_types_behave() {
        assert_eq!(
            <Status as ShmMessage>::DESCRIPTOR.name(),
            "robot::msg::Status"
        );
        const { assert!(<Status as ShmMessage>::ZEROED_IS_VALID) };
        let mut status = Status {
            battery: 101,
            ..Status::default()
        };
        let error = status.validate().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "`robot::msg::Status::battery` is 101, outside its IDL range 0 ..= 100; set a value within the range before sending"
            )
        );
        status.battery = 100;
        assert!(status.validate().is_ok());
        assert_eq!(ModeKind::try_from(Mode(10)), Ok(ModeKind::FAULT));
        assert_eq!(Mode::from(ModeKind::DRIVING), Mode::DRIVING);
        assert_eq!(ModeKind::try_from(Mode(7)), Err(Mode(7)));
        assert_eq!(
            format!("{:?}", Power::MOTORS | Power::CAMERA),
            "Power(MOTORS | CAMERA)"
        );
        let mut command = Command::default();
        assert_eq!(command.stop().map(|b| b.get()), Some(false));
        command.set_go_to(Point { x: 3.0, y: 4.0 });
        assert_eq!(command.discriminator(), 1);
        assert_eq!(command.go_to().map(|p| p.y), Some(4.0));
        assert!(command.stop().is_none());
    }
}
