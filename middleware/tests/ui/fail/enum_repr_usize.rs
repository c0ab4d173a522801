use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(usize)]
enum Mode {
    Idle,
    Run,
}

fn main() {}
