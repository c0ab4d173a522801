use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct View<'a> {
    len: u32,
    data: &'a [u8],
}

fn main() {}
