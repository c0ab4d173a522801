use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Handle {
    id: u32,
}

impl Drop for Handle {
    fn drop(&mut self) {}
}

fn main() {}
