use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Message {
    id: u32,
    field: core::marker::PhantomData<u32>,
}

fn main() {}
