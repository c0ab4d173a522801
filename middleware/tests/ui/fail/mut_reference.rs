use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Message {
    id: u32,
    field: &'static mut u32,
}

fn main() {}
