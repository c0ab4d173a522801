use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Message {
    id: u32,
    field: usize,
}

fn main() {}
