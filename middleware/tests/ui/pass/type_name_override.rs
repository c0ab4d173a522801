use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
#[shm(type_name = "geometry::msg::Pose")]
struct Pose {
    x: f64,
    y: f64,
}

mod other {
    // The same definition under another module path: the default name is the bare
    // identifier, so the two descriptors are equal.
    #[derive(shmbus::ShmMessage)]
    #[repr(C)]
    pub struct Pose {
        x: f64,
        y: f64,
    }
}

#[derive(ShmMessage)]
#[repr(u8)]
#[shm(type_name = "geometry::msg::Mode")]
enum Mode {
    Idle,
}

fn main() {
    assert_eq!(Pose::DESCRIPTOR.name(), "geometry::msg::Pose");
    assert_eq!(<other::Pose as ShmMessage>::DESCRIPTOR.name(), "Pose");
    assert_eq!(Mode::DESCRIPTOR.name(), "geometry::msg::Mode");
    let _ = Mode::Idle;
}
