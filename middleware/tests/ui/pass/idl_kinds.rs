// Structs that describe themselves as IDL kinds: an open enum, a bitmask and a union.
use shmbus::ShmMessage;
use shmbus::message::TypeKind;

#[derive(ShmMessage, Clone, Copy)]
#[shm(enumeration(IDLE = 0, DRIVING = 1, r#type = -3))]
#[repr(transparent)]
struct Mode(i32);

#[derive(ShmMessage, Clone, Copy)]
#[shm(bitmask(MOTORS = 0, LIDAR = 5))]
#[repr(transparent)]
struct Power(u16);

#[derive(ShmMessage, Clone, Copy)]
#[shm(union(circle = 1, square = [2, 3], other = default))]
#[repr(C)]
struct Shape {
    kind: i32,
    circle: f32,
    square: [f32; 2],
    other: u8,
}

fn main() {
    let TypeKind::Enum { variants, open, .. } = Mode::DESCRIPTOR.kind() else {
        panic!("not an enum")
    };
    assert!(*open);
    assert_eq!(variants[2].name(), "type");
    assert_eq!(variants[2].value(), -3);
    assert!(matches!(Power::DESCRIPTOR.kind(), TypeKind::Bitmask { .. }));
    let TypeKind::Union { cases, .. } = Shape::DESCRIPTOR.kind() else {
        panic!("not a union")
    };
    assert_eq!(cases.len(), 3);
}
