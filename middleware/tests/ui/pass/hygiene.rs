// The expansion uses only absolute paths: shadowing `core`, `Result`, `Ok` and the
// prelude's names in the user's module does not break it.
#![allow(dead_code, non_camel_case_types)]

mod core {}
struct Result;
struct Ok;
struct Option;
struct bytes;

#[derive(shmbus::ShmMessage)]
#[repr(C)]
struct Shadowed {
    r#type: u8,
    flag: bool,
    offset: u32,
    field: u16,
    error: i8,
}

fn main() {
    let d = <Shadowed as shmbus::ShmMessage>::DESCRIPTOR;
    assert_eq!(d.fields()[0].name(), "type");
}
