//! Message bytes are read from another process's memory: whatever they are, checking them
//! through a descriptor returns a verdict without panicking, agrees with the typed check of
//! the same type, and bytes that pass decode to a value that encodes to bytes meaning the
//! same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmbus::message::{Descriptor, validate};
use shmbus::{FixedString, FixedVec, Optional, ShmMessage};

#[derive(ShmMessage, Clone, Copy)]
#[repr(u8)]
enum Mode {
    Idle = 1,
    Run = 4,
}

#[derive(ShmMessage, Clone, Copy)]
#[shm(bitmask(A = 0, B = 9))]
#[repr(transparent)]
struct Flags(u16);

#[derive(ShmMessage, Clone, Copy)]
#[shm(union(small = 1, text = [2, 3], other = default))]
#[repr(C)]
struct Choice {
    kind: i16,
    small: u8,
    text: FixedString<5>,
    other: Optional<bool>,
}

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
struct Point {
    x: f32,
    ok: bool,
}

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
struct Message {
    flag: bool,
    mode: Mode,
    flags: Flags,
    name: FixedString<7>,
    points: FixedVec<Point, 3>,
    maybe: Optional<Mode>,
    choice: [Choice; 2],
    wide: u64,
}

fuzz_target!(|data: &[u8]| {
    let d = Descriptor::of::<Message>();
    let mut bytes = vec![0; d.size()];
    let n = data.len().min(bytes.len());
    bytes[..n].copy_from_slice(&data[..n]);
    let dynamic = d.validate(&bytes);
    let typed = validate::<Message>(&bytes);
    assert_eq!(dynamic.is_ok(), typed.is_ok(), "{dynamic:?} vs {typed:?}");
    if let (Err(a), Err(b)) = (&dynamic, &typed) {
        assert_eq!(a.to_string(), b.to_string());
    }
    if dynamic.is_err() {
        return;
    }
    let value = d.decode_value(&bytes).expect("valid bytes decode");
    let again = d.encode_value(&value).expect("a decoded value encodes");
    let mask = d.meaningful_bytes(&bytes).expect("valid");
    assert_eq!(mask, d.meaningful_bytes(&again).expect("encoded bytes are valid"));
    for (i, meaningful) in mask.iter().enumerate() {
        assert!(!meaningful || bytes[i] == again[i], "byte {i}");
    }
});
