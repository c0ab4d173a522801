//! A crate that forbids unsafe code can still derive messages: the derive's `unsafe impl`
//! comes from an external macro, and it asks for no lint exemption (an `allow` would be
//! an error under `forbid`).
#![forbid(unsafe_code)]

use shmbus::{FixedString, ShmMessage};

#[derive(ShmMessage)]
#[repr(C)]
struct Reading {
    seq: u64,
    label: FixedString<8>,
}

#[derive(ShmMessage, Clone, Copy)]
#[repr(u8)]
enum Mode {
    Idle = 0,
    Busy = 1,
}

fn main() {
    assert_eq!(<Reading as ShmMessage>::DESCRIPTOR.fields().len(), 2);
    assert_eq!(<Mode as ShmMessage>::DESCRIPTOR.size(), 1);
    let _ = Mode::Idle as u8 + Mode::Busy as u8;
}
