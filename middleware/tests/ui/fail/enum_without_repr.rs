use shmbus::ShmMessage;

#[derive(ShmMessage)]
enum Mode {
    Idle,
    Run,
}

fn main() {}
