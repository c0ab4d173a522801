use shmbus::{FixedString, FixedVec, Optional, ShmMessage};

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
struct Point {
    x: f32,
    y: f32,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Path {
    frame: FixedString<8>,
    points: FixedVec<Point, 4>,
    speed: Optional<f64>,
    names: FixedVec<FixedString<16>, 2>,
    maybe_points: Optional<[Point; 2]>,
}

fn main() {
    let d = Path::DESCRIPTOR;
    assert_eq!(d.fields().len(), 5);
    assert_eq!(d.fields()[1].ty().to_string(), "FixedVec<Point, 4>");
    assert!(!Path::ANY_BIT_PATTERN);
}
