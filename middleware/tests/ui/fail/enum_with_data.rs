use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(u8)]
enum Command {
    Stop,
    Move { x: f32, y: f32 },
    Turn(f32),
}

fn main() {}
