//! Tests of descriptors, layout hashes, rendering and first-difference explanations.

use std::fmt::Write as _;

use crate::message::{
    Boolean, FixedString, FixedVec, Optional, Primitive, ShmMessage, TypeDescriptor, TypeKind,
    validate,
};

#[derive(ShmMessage, Debug, Clone, Copy, Default, PartialEq)]
#[repr(C)]
struct Vec3 {
    x: f64,
    y: f64,
    z: f64,
}

#[derive(ShmMessage, Debug, Clone, Copy, Default)]
#[repr(C)]
struct Quaternion {
    x: f64,
    y: f64,
    z: f64,
    w: f64,
}

#[derive(ShmMessage, Debug, Clone, Copy, Default)]
#[repr(C)]
struct Pose {
    position: Vec3,
    orientation: Quaternion,
}

#[derive(ShmMessage, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Idle = 0,
    Driving = 1,
    Fault = 7,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Robot {
    name: FixedString<16>,
    pose: Pose,
    mode: Mode,
    enabled: bool,
    wheels: [f32; 4],
    waypoints: FixedVec<Vec3, 8>,
    battery: Optional<f32>,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Stamped<T> {
    stamp_ns: u64,
    value: T,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Flags(Boolean, u8);

/// The hashes of a fixed set of types. A change here means every process built before
/// it can no longer talk to processes built after it: bump `LAYOUT_HASH_VERSION` and say
/// so in the changelog, or find out what changed by accident.
#[test]
#[cfg_attr(
    miri,
    ignore = "insta reads snapshot files, which Miri's isolation forbids"
)]
fn layout_hashes() {
    let types: [&TypeDescriptor; 17] = [
        u8::DESCRIPTOR,
        u16::DESCRIPTOR,
        u32::DESCRIPTOR,
        u64::DESCRIPTOR,
        i8::DESCRIPTOR,
        i32::DESCRIPTOR,
        f32::DESCRIPTOR,
        f64::DESCRIPTOR,
        bool::DESCRIPTOR,
        <[f32; 3]>::DESCRIPTOR,
        FixedString::<16>::DESCRIPTOR,
        FixedVec::<Vec3, 8>::DESCRIPTOR,
        Optional::<f32>::DESCRIPTOR,
        Mode::DESCRIPTOR,
        Pose::DESCRIPTOR,
        Robot::DESCRIPTOR,
        Stamped::<Pose>::DESCRIPTOR,
    ];
    let mut table = String::new();
    for t in types {
        writeln!(table, "{:#018x}  {t}", t.layout_hash()).unwrap();
    }
    insta::assert_snapshot!(table);
}

#[test]
fn every_hash_in_the_set_is_distinct() {
    let hashes = [
        u8::DESCRIPTOR.layout_hash(),
        i8::DESCRIPTOR.layout_hash(),
        bool::DESCRIPTOR.layout_hash(),
        u32::DESCRIPTOR.layout_hash(),
        i32::DESCRIPTOR.layout_hash(),
        f32::DESCRIPTOR.layout_hash(),
        <[u8; 4]>::DESCRIPTOR.layout_hash(),
        FixedString::<4>::DESCRIPTOR.layout_hash(),
        Vec3::DESCRIPTOR.layout_hash(),
        Stamped::<u32>::DESCRIPTOR.layout_hash(),
        Stamped::<i32>::DESCRIPTOR.layout_hash(),
        Stamped::<f32>::DESCRIPTOR.layout_hash(),
    ];
    for (i, a) in hashes.iter().enumerate() {
        for b in &hashes[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn boolean_and_bool_have_the_same_descriptor_but_different_validity() {
    assert!(Boolean::DESCRIPTOR.same_layout(bool::DESCRIPTOR));
    const { assert!(Boolean::ANY_BIT_PATTERN) };
    const { assert!(!bool::ANY_BIT_PATTERN) };
    assert!(validate::<Boolean>(&[7]).is_ok());
    assert!(validate::<bool>(&[7]).is_err());
}

#[test]
fn descriptor_fields_match_the_layout() {
    let d = Robot::DESCRIPTOR;
    assert_eq!(d.size(), size_of::<Robot>());
    assert_eq!(d.align(), align_of::<Robot>());
    let expected = [
        ("name", core::mem::offset_of!(Robot, name)),
        ("pose", core::mem::offset_of!(Robot, pose)),
        ("mode", core::mem::offset_of!(Robot, mode)),
        ("enabled", core::mem::offset_of!(Robot, enabled)),
        ("wheels", core::mem::offset_of!(Robot, wheels)),
        ("waypoints", core::mem::offset_of!(Robot, waypoints)),
        ("battery", core::mem::offset_of!(Robot, battery)),
    ];
    let actual: Vec<_> = d.fields().iter().map(|f| (f.name(), f.offset())).collect();
    assert_eq!(actual, expected);
    assert!(matches!(d.kind(), TypeKind::Struct { .. }));
    assert!(matches!(
        Mode::DESCRIPTOR.kind(),
        TypeKind::Enum { repr: Primitive::U8, variants, open: false } if variants.len() == 3
    ));
}

#[test]
fn display_spells_each_kind() {
    let spelled: Vec<String> = Robot::DESCRIPTOR
        .fields()
        .iter()
        .map(|f| f.ty().to_string())
        .collect();
    assert_eq!(
        spelled,
        [
            "FixedString<16>",
            "Pose",
            "Mode",
            "bool",
            "[f32; 4]",
            "FixedVec<Vec3, 8>",
            "Optional<f32>"
        ]
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "insta reads snapshot files, which Miri's isolation forbids"
)]
fn render_shows_the_whole_tree() {
    insta::assert_snapshot!(Robot::DESCRIPTOR.render());
}

#[test]
fn flags_validity() {
    const { assert!(Flags::ANY_BIT_PATTERN) };
    const { assert!(!Robot::ANY_BIT_PATTERN) };
    const { assert!(Robot::ZEROED_IS_VALID) };
    const { assert!(Mode::ZEROED_IS_VALID) };
    const { assert!(Vec3::ANY_BIT_PATTERN && Vec3::ZEROED_IS_VALID) };
}

mod other {
    //! Alternative definitions of `Pose` and `Vec3`, each with one mutation.
    use crate::ShmMessage;

    #[derive(ShmMessage)]
    #[repr(C)]
    pub(super) struct Vec3 {
        pub(super) x: f32,
        pub(super) y: f64,
        pub(super) z: f64,
    }

    #[derive(ShmMessage)]
    #[repr(C)]
    pub(super) struct Pose {
        pub(super) position: Vec3,
        pub(super) orientation: super::Quaternion,
    }

    #[derive(ShmMessage)]
    #[repr(C)]
    #[shm(type_name = "Vec3")]
    pub(super) struct Renamed {
        pub(super) x: f64,
        pub(super) why: f64,
        pub(super) z: f64,
    }

    #[derive(ShmMessage)]
    #[repr(C)]
    #[shm(type_name = "Vec3")]
    pub(super) struct Short {
        pub(super) x: f64,
        pub(super) y: f64,
    }

    #[derive(ShmMessage, Clone, Copy)]
    #[repr(u8)]
    pub(super) enum Mode {
        Idle = 0,
        Driving = 1,
        Fault = 8,
    }
}

#[test]
fn first_difference_names_the_nested_field() {
    let d = Pose::DESCRIPTOR
        .first_difference(other::Pose::DESCRIPTOR)
        .unwrap();
    assert_eq!(d.path(), "position.x");
    assert_eq!(
        d.to_string(),
        "field `position.x`: f64 at offset 0 vs f32 at offset 0"
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "insta reads snapshot files, which Miri's isolation forbids"
)]
fn first_difference_explains_each_case() {
    let cases = [
        Vec3::DESCRIPTOR.first_difference(other::Renamed::DESCRIPTOR),
        Vec3::DESCRIPTOR.first_difference(other::Short::DESCRIPTOR),
        Mode::DESCRIPTOR.first_difference(other::Mode::DESCRIPTOR),
        <[f32; 3]>::DESCRIPTOR.first_difference(<[f32; 4]>::DESCRIPTOR),
        FixedVec::<Vec3, 8>::DESCRIPTOR.first_difference(FixedVec::<other::Vec3, 8>::DESCRIPTOR),
        u32::DESCRIPTOR.first_difference(f32::DESCRIPTOR),
        Stamped::<u32>::DESCRIPTOR.first_difference(Stamped::<i32>::DESCRIPTOR),
    ];
    let text: Vec<String> = cases.into_iter().map(|d| d.unwrap().to_string()).collect();
    insta::assert_snapshot!(text.join("\n"));
    assert_eq!(Pose::DESCRIPTOR.first_difference(Pose::DESCRIPTOR), None);
}
