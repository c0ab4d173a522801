use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Stamped<T> {
    stamp: u64,
    value: T,
}

struct Plain;

fn descriptor<T: ShmMessage>() -> &'static shmbus::message::TypeDescriptor {
    T::DESCRIPTOR
}

fn main() {
    descriptor::<Stamped<Plain>>();
}
