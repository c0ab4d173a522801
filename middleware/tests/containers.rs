//! The fixed containers through the public API, as a user and a receiving process see
//! them: errors that convert into `Box<dyn Error>`, samples received as bytes, values
//! built in place in zeroed memory.
#![allow(unsafe_code)] // building a value in place in zeroed memory, as shared memory does

use std::error::Error;

use shmbus::message::{FixedStringError, FixedVecError, Problem, try_ref_from_bytes, validate};
use shmbus::{FixedString, FixedVec, Optional, ShmMessage};

/// A buffer aligned for every type used here, standing in for a shared-memory chunk.
#[repr(C, align(8))]
struct Chunk<const S: usize>([u8; S]);

type Names = FixedVec<FixedString<8>, 3>;

#[test]
fn errors_are_std_errors_and_say_what_to_do() -> Result<(), Box<dyn Error + Send + Sync>> {
    let mut s = FixedString::<4>::try_from("ab")?;
    let e: Box<dyn Error + Send + Sync> = s.push_str("cde").unwrap_err().into();
    assert!(e.to_string().contains("use a larger N"), "{e}");
    assert_eq!(s, "ab");

    let mut v = FixedVec::<u16, 1>::new();
    v.push(1)?;
    let e = v.push(2).unwrap_err();
    assert!(matches!(
        e,
        FixedVecError::Full {
            capacity: 1,
            value: 2
        }
    ));
    let e: Box<dyn Error + Send + Sync> = e.into();
    assert!(e.to_string().contains("use a larger N"), "{e}");

    let parsed: Result<FixedString<2>, FixedStringError> = "abc".parse();
    assert_eq!(
        parsed,
        Err(FixedStringError::CapacityExceeded {
            capacity: 2,
            needed: 3
        })
    );
    Ok(())
}

#[test]
fn received_bytes_are_validated_before_use() {
    // What another process wrote: 2 names, "arm" and "wrist".
    let mut chunk = Chunk([0u8; size_of::<Names>()]);
    let b = &mut chunk.0;
    b[..4].copy_from_slice(&2u32.to_ne_bytes());
    b[4..8].copy_from_slice(&3u32.to_ne_bytes());
    b[8..11].copy_from_slice(b"arm");
    b[16..20].copy_from_slice(&5u32.to_ne_bytes());
    b[20..25].copy_from_slice(b"wrist");
    let names = try_ref_from_bytes::<Names>(&chunk.0).unwrap();
    assert_eq!(names.len(), 2);
    assert_eq!(names[0], "arm");
    assert_eq!(names[1], "wrist");
    assert_eq!(format!("{names:?}"), r#"["arm", "wrist"]"#);

    // The second name claims 9 bytes in a FixedString<8>.
    chunk.0[16..20].copy_from_slice(&9u32.to_ne_bytes());
    let err = validate::<Names>(&chunk.0).unwrap_err();
    assert_eq!(err.path(), "[1].len");
    assert_eq!(err.offset(), 16);
    assert_eq!(
        err.problem(),
        &Problem::LengthExceedsCapacity {
            len: 9,
            capacity: 8
        }
    );
    assert!(err.to_string().contains("`[1].len` (byte 16)"), "{err}");

    // Invalid UTF-8 in the first name.
    chunk.0[16..20].copy_from_slice(&5u32.to_ne_bytes());
    chunk.0[9] = 0xFF;
    let err = validate::<Names>(&chunk.0).unwrap_err();
    assert_eq!(err.path(), "[0].bytes");
    assert_eq!(err.problem(), &Problem::InvalidUtf8 { valid_up_to: 1 });
}

#[test]
fn optional_flag_is_checked() {
    type Reading = Optional<FixedVec<bool, 2>>;
    // Flag 1, then (at offset 4) a vec of 2 bools: 1, 5.
    let mut chunk = Chunk([0u8; size_of::<Reading>()]);
    chunk.0[0] = 1;
    chunk.0[4..8].copy_from_slice(&2u32.to_ne_bytes());
    chunk.0[8] = 1;
    chunk.0[9] = 5;
    let err = validate::<Reading>(&chunk.0).unwrap_err();
    assert_eq!(err.path(), "value[1]");
    assert_eq!(err.problem(), &Problem::InvalidBool(5));
    chunk.0[9] = 0;
    let reading = try_ref_from_bytes::<Reading>(&chunk.0).unwrap();
    assert_eq!(
        reading.get().map(|v| v.as_slice()),
        Some(&[true, false][..])
    );
    chunk.0[0] = 2;
    let err = validate::<Reading>(&chunk.0).unwrap_err();
    assert_eq!(err.problem(), &Problem::InvalidPresentFlag(2));
    assert_eq!(err.path(), "present");
}

#[test]
fn built_in_place_in_zeroed_memory() {
    // A large message is built where it will be sent, never on the stack: zeroed memory
    // is a valid empty value for every container.
    type Big = FixedVec<FixedString<16>, 64>;
    const { assert!(Big::ZEROED_IS_VALID) };
    let mut chunk = Box::new(Chunk([0u8; size_of::<Big>()]));
    {
        let ptr = chunk.0.as_mut_ptr().cast::<Big>();
        // SAFETY: `ptr` points to `size_of::<Big>()` bytes owned by `chunk` and borrowed
        // mutably only through this reference in this block; `Chunk` is aligned to 8,
        // which is at least `align_of::<Big>()` (4); the bytes are all zero, which is a
        // valid `Big` (`ZEROED_IS_VALID`: an empty vector).
        let big: &mut Big = unsafe { &mut *ptr };
        assert!(big.is_empty());
        for i in 0..3 {
            let mut name = FixedString::new();
            std::fmt::Write::write_fmt(&mut name, format_args!("joint-{i}")).unwrap();
            big.push(name).unwrap();
        }
        big[1].make_ascii_uppercase();
    }
    let big = try_ref_from_bytes::<Big>(&chunk.0).unwrap();
    assert_eq!(
        big.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ["joint-0", "JOINT-1", "joint-2"]
    );
}

#[test]
fn descriptors_render_their_bounds() {
    assert_eq!(Names::DESCRIPTOR.to_string(), "FixedVec<FixedString<8>, 3>");
    assert_eq!(<Optional<u32>>::DESCRIPTOR.to_string(), "Optional<u32>");
    assert_ne!(
        <FixedString<8>>::DESCRIPTOR.layout_hash(),
        <FixedVec<u8, 8>>::DESCRIPTOR.layout_hash()
    );
}

#[derive(ShmMessage, Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Joint {
    enabled: bool,
    angle: u8,
}

#[derive(ShmMessage, Debug, Clone, PartialEq)]
#[repr(C)]
struct Arm {
    name: FixedString<8>,
    joints: FixedVec<Joint, 4>,
    speed: Optional<u32>,
}

#[test]
fn containers_inside_a_derived_message() {
    // name: 0..12, joints: 12..(12 + 4 + 8) = 24, speed: 24..32.
    const SIZE: usize = size_of::<Arm>();
    assert_eq!(SIZE, 32);
    let mut chunk = Chunk([0u8; SIZE]);
    assert!(
        validate::<Arm>(&chunk.0).is_ok(),
        "all zeros is a valid (empty) Arm"
    );

    chunk.0[..4].copy_from_slice(&3u32.to_ne_bytes());
    chunk.0[4..7].copy_from_slice(b"elb");
    chunk.0[12..16].copy_from_slice(&3u32.to_ne_bytes());
    chunk.0[16..22].copy_from_slice(&[1, 10, 0, 20, 1, 30]);
    chunk.0[24] = 1;
    chunk.0[28..32].copy_from_slice(&7u32.to_ne_bytes());
    let arm = try_ref_from_bytes::<Arm>(&chunk.0).unwrap();
    assert_eq!(arm.name, "elb");
    assert_eq!(
        arm.joints.iter().map(|j| j.angle).collect::<Vec<_>>(),
        [10, 20, 30]
    );
    assert_eq!(arm.speed.get(), Some(&7));
    let copy = arm.clone();
    assert_eq!(&copy, arm);

    let mut bad = Chunk(chunk.0);
    bad.0[20] = 4; // joints[2].enabled
    let err = validate::<Arm>(&bad.0).unwrap_err();
    assert_eq!(err.path(), "joints[2].enabled");
    assert_eq!(err.offset(), 20);
    assert_eq!(err.problem(), &Problem::InvalidBool(4));

    let mut bad = Chunk(chunk.0);
    bad.0[12..16].copy_from_slice(&5u32.to_ne_bytes());
    let err = validate::<Arm>(&bad.0).unwrap_err();
    assert_eq!(err.path(), "joints.len");
    assert_eq!(err.offset(), 12);

    let mut bad = Chunk(chunk.0);
    bad.0[24] = 3;
    let err = validate::<Arm>(&bad.0).unwrap_err();
    assert_eq!(err.path(), "speed.present");
    assert_eq!(err.offset(), 24);

    let mut bad = Chunk(chunk.0);
    bad.0[5] = 0xC0;
    let err = validate::<Arm>(&bad.0).unwrap_err();
    assert_eq!(err.path(), "name.bytes");
    assert!(
        err.to_string()
            .starts_with("invalid `Arm` received at `name.bytes` (byte 4)"),
        "{err}"
    );
}
