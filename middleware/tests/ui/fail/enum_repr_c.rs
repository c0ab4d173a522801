use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
enum Mode {
    Idle,
    Run,
}

fn main() {}
