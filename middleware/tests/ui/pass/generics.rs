use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
struct Stamped<T> {
    stamp: u64,
    value: T,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Buffer<T, const N: usize>
where
    T: Copy,
{
    items: [T; N],
    used: u32,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Nested<A, B: Copy> {
    a: Stamped<A>,
    b: Buffer<B, 3>,
}

fn descriptor<T: ShmMessage>() -> &'static shmbus::message::TypeDescriptor {
    T::DESCRIPTOR
}

fn main() {
    assert_eq!(descriptor::<Stamped<f64>>().name(), "Stamped");
    assert_eq!(
        descriptor::<Buffer<u16, 8>>().size(),
        core::mem::size_of::<Buffer<u16, 8>>()
    );
    assert_eq!(descriptor::<Nested<bool, i8>>().fields().len(), 2);
    assert!(!<Nested<bool, i8>>::ANY_BIT_PATTERN);
    assert!(<Nested<u8, i8>>::ANY_BIT_PATTERN);
}
