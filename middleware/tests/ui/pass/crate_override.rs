// `shmbus` reachable only through a re-export, as in a crate that wraps it.
mod reexport {
    pub use ::shmbus as bus;
}

use reexport::bus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
#[shm(crate = "reexport::bus")]
struct Sample {
    value: u32,
}

#[derive(ShmMessage)]
#[repr(u8)]
#[shm(crate = "crate::reexport::bus", type_name = "pkg::Kind")]
enum Kind {
    A,
}

fn main() {
    assert_eq!(Sample::DESCRIPTOR.name(), "Sample");
    assert_eq!(Kind::DESCRIPTOR.name(), "pkg::Kind");
    let _ = Kind::A;
}
