// The IDL-kind keys need the shape their kind has.
use shmbus::ShmMessage;

// A bitmask of a signed integer.
#[derive(ShmMessage)]
#[shm(bitmask(A = 0))]
#[repr(transparent)]
struct Signed(i32);

// An enumeration of a repr(C) struct.
#[derive(ShmMessage)]
#[shm(enumeration(A = 0))]
#[repr(C)]
struct NotTransparent(u8);

// A union naming a field that is not a branch, and forgetting one.
#[derive(ShmMessage)]
#[shm(union(circle = 1, sqare = 2))]
#[repr(C)]
struct Shape {
    kind: i32,
    circle: f32,
    square: f32,
}

// Two kinds at once.
#[derive(ShmMessage)]
#[shm(enumeration(A = 0), bitmask(B = 1))]
#[repr(transparent)]
struct Both(u8);

fn main() {}
