use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Message {
    id: u32,
    field: fn(u32) -> u32,
}

fn main() {}
