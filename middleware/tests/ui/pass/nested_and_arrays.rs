use shmbus::ShmMessage;

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
struct Vec3 {
    x: f32,
    y: f32,
    z: f32,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Joint {
    position: Vec3,
    enabled: bool,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Arm {
    joints: [Joint; 6],
    grid: [[u8; 4]; 4],
    origin: Vec3,
}

fn main() {
    assert_eq!(Arm::DESCRIPTOR.fields().len(), 3);
    assert_eq!(Arm::DESCRIPTOR.size(), core::mem::size_of::<Arm>());
    assert!(!Arm::ANY_BIT_PATTERN);
    assert!(Vec3::ANY_BIT_PATTERN);
}
