use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C, packed)]
struct Pose {
    tag: u8,
    x: f64,
}

fn main() {}
