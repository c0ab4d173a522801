use shmbus::ShmMessage;

#[derive(ShmMessage)]
struct Pose {
    x: f64,
    y: f64,
}

fn main() {}
