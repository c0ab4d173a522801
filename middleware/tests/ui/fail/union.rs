use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
union Value {
    int: u64,
    float: f64,
}

fn main() {}
