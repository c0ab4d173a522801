use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Pose {
    #[shm(type_name = "X")]
    x: f64,
}

fn main() {}
