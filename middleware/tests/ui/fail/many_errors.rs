use shmbus::ShmMessage;

// Every problem of an item is reported in one build.
#[derive(ShmMessage)]
#[shm(name = "Robot")]
struct Robot {
    name: String,
    joints: Vec<f32>,
    index: usize,
    initial: char,
    parts: [Option<u8>; 2],
}

fn main() {}
