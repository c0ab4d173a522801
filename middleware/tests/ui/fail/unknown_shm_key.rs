use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
#[shm(typename = "geometry::Pose")]
struct Pose {
    x: f64,
}

fn main() {}
