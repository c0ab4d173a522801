use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Status {
    battery: f32,
    name: String,
}

fn main() {}
