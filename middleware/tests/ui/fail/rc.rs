use shmbus::ShmMessage;
use std::rc::Rc;

#[derive(ShmMessage)]
#[repr(C)]
struct Message {
    id: u32,
    field: Rc<u64>,
}

fn main() {}
