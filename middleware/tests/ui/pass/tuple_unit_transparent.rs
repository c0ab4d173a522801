use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Point(f32, f32);

#[derive(ShmMessage)]
#[repr(C)]
struct Heartbeat;

#[derive(ShmMessage)]
#[repr(C)]
struct Empty {}

#[derive(ShmMessage)]
#[repr(transparent)]
struct Meters(f64);

#[derive(ShmMessage)]
#[repr(transparent)]
struct Wrapped<T> {
    inner: T,
}

#[derive(ShmMessage)]
#[repr(C, align(64))]
struct CacheLine {
    counter: u64,
}

fn main() {
    assert_eq!(Point::DESCRIPTOR.fields()[1].name(), "1");
    assert_eq!(Heartbeat::DESCRIPTOR.size(), 0);
    assert_eq!(Empty::DESCRIPTOR.fields().len(), 0);
    assert_eq!(Meters::DESCRIPTOR.size(), 8);
    assert_eq!(<Wrapped<Point>>::DESCRIPTOR.size(), 8);
    assert_eq!(CacheLine::DESCRIPTOR.align(), 64);
}
