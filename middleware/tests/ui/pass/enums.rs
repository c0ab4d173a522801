use shmbus::ShmMessage;

#[derive(ShmMessage)]
#[repr(u8)]
enum Implicit {
    A,
    B,
    C,
}

#[derive(ShmMessage)]
#[repr(u32)]
enum Explicit {
    Low = 10,
    High = 0xFFFF_0000,
}

#[derive(ShmMessage)]
#[repr(i64)]
enum Negative {
    Min = i64::MIN,
    MinusOne = -1,
    Next,
}

#[derive(ShmMessage)]
#[repr(u16)]
enum Single {
    Only = 7,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Holder {
    implicit: Implicit,
    explicit: Explicit,
    negative: [Negative; 2],
}

fn main() {
    assert!(Implicit::ZEROED_IS_VALID);
    assert!(!Explicit::ZEROED_IS_VALID);
    assert!(Negative::ZEROED_IS_VALID, "`Next` is 0");
    assert!(!Single::ANY_BIT_PATTERN);
    assert!(!Holder::ZEROED_IS_VALID);
    let _ = (
        Implicit::A,
        Implicit::B,
        Implicit::C,
        Explicit::Low,
        Explicit::High,
    );
    let _ = (
        Negative::Min,
        Negative::MinusOne,
        Negative::Next,
        Single::Only,
    );
}
