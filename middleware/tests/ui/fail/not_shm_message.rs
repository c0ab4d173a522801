use shmbus::ShmMessage;

struct Plain {
    x: f32,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Wrapper {
    id: u32,
    plain: Plain,
    list: [Plain; 2],
}

fn main() {}
