use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Message {
    id: u32,
    field: dyn core::fmt::Debug,
}

fn main() {}
