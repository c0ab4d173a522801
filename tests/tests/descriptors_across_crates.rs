//! The same message definitions compiled in two crates (`fixtures/msgs-a` and
//! `fixtures/msgs-b`, in differently named modules) have equal descriptors and hashes,
//! and each single mutation of a definition changes the hash.

use shmbus::{FixedString, FixedVec, ShmMessage};
use shmbus_test_msgs_a::geometry as a;
use shmbus_test_msgs_b::flat as b;

#[test]
fn same_definition_in_two_crates_has_equal_hashes() {
    assert_eq!(
        a::Point::DESCRIPTOR.layout_hash(),
        b::Point::DESCRIPTOR.layout_hash()
    );
    assert_eq!(
        a::Path::DESCRIPTOR.layout_hash(),
        b::Path::DESCRIPTOR.layout_hash()
    );
    assert_eq!(
        a::Gear::DESCRIPTOR.layout_hash(),
        b::Gear::DESCRIPTOR.layout_hash()
    );
    assert_eq!(
        a::Path::DESCRIPTOR.first_difference(b::Path::DESCRIPTOR),
        None
    );
    assert_eq!(a::Path::DESCRIPTOR.render(), b::Path::DESCRIPTOR.render());
}

/// Each module holds `Point` or `Path` with exactly one change from the fixtures.
mod mutated {
    use super::*;

    pub(super) mod renamed_field {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        #[shm(type_name = "Point")]
        pub(crate) struct Point {
            pub(crate) x: f64,
            pub(crate) y: f64,
            pub(crate) height: f64,
        }
    }

    pub(super) mod reordered {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        #[shm(type_name = "Point")]
        pub(crate) struct Point {
            pub(crate) y: f64,
            pub(crate) x: f64,
            pub(crate) z: f64,
        }
    }

    pub(super) mod same_size_other_type {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        #[shm(type_name = "Point")]
        pub(crate) struct Point {
            pub(crate) x: f64,
            pub(crate) y: u64,
            pub(crate) z: f64,
        }
    }

    pub(super) mod signedness {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        #[shm(type_name = "Point")]
        pub(crate) struct Point {
            pub(crate) x: f64,
            pub(crate) y: i64,
            pub(crate) z: f64,
        }
    }

    pub(super) mod renamed_type {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        pub(crate) struct Point3 {
            pub(crate) x: f64,
            pub(crate) y: f64,
            pub(crate) z: f64,
        }
    }

    pub(super) mod string_bound {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        #[shm(type_name = "Path")]
        pub(crate) struct Path {
            pub(crate) frame: FixedString<33>,
            pub(crate) points: FixedVec<shmbus_test_msgs_a::geometry::Point, 16>,
            pub(crate) closed: bool,
        }
    }

    pub(super) mod vec_bound {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        #[shm(type_name = "Path")]
        pub(crate) struct Path {
            pub(crate) frame: FixedString<32>,
            pub(crate) points: FixedVec<shmbus_test_msgs_a::geometry::Point, 17>,
            pub(crate) closed: bool,
        }
    }

    pub(super) mod nested_change {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        #[shm(type_name = "Path")]
        pub(crate) struct Path {
            pub(crate) frame: FixedString<32>,
            pub(crate) points: FixedVec<super::reordered::Point, 16>,
            pub(crate) closed: bool,
        }
    }

    pub(super) mod flag_type {
        use super::*;
        #[derive(ShmMessage)]
        #[repr(C)]
        #[shm(type_name = "Path")]
        pub(crate) struct Path {
            pub(crate) frame: FixedString<32>,
            pub(crate) points: FixedVec<shmbus_test_msgs_a::geometry::Point, 16>,
            pub(crate) closed: u8,
        }
    }

    pub(super) mod enum_value {
        use super::*;
        #[derive(ShmMessage, Clone, Copy)]
        #[repr(u8)]
        #[shm(type_name = "Gear")]
        pub(crate) enum Gear {
            Park = 0,
            Drive = 1,
            Reverse = 3,
        }
    }

    pub(super) mod enum_variant_name {
        use super::*;
        #[derive(ShmMessage, Clone, Copy)]
        #[repr(u8)]
        #[shm(type_name = "Gear")]
        pub(crate) enum Gear {
            Park = 0,
            Forward = 1,
            Reverse = 2,
        }
    }

    pub(super) mod enum_repr {
        use super::*;
        #[derive(ShmMessage, Clone, Copy)]
        #[repr(i8)]
        #[shm(type_name = "Gear")]
        pub(crate) enum Gear {
            Park = 0,
            Drive = 1,
            Reverse = 2,
        }
    }
}

#[test]
fn each_single_mutation_changes_the_hash_and_is_explained() {
    use shmbus::message::TypeDescriptor;
    let point = a::Point::DESCRIPTOR;
    let path = a::Path::DESCRIPTOR;
    let gear = a::Gear::DESCRIPTOR;
    let cases: [(&str, &TypeDescriptor, &TypeDescriptor, &str); 12] = [
        (
            "rename a field",
            point,
            mutated::renamed_field::Point::DESCRIPTOR,
            "field 2 is `z: f64` at offset 16 vs `height: f64` at offset 16",
        ),
        (
            "reorder fields",
            point,
            mutated::reordered::Point::DESCRIPTOR,
            "field 0 is `x: f64` at offset 0 vs `y: f64` at offset 0",
        ),
        (
            "same size, other type",
            point,
            mutated::same_size_other_type::Point::DESCRIPTOR,
            "field `y`: f64 at offset 8 vs u64 at offset 8",
        ),
        (
            "signedness",
            mutated::same_size_other_type::Point::DESCRIPTOR,
            mutated::signedness::Point::DESCRIPTOR,
            "field `y`: u64 at offset 8 vs i64 at offset 8",
        ),
        (
            "rename the type",
            point,
            mutated::renamed_type::Point3::DESCRIPTOR,
            "type name `Point` vs `Point3`",
        ),
        (
            "string bound",
            path,
            mutated::string_bound::Path::DESCRIPTOR,
            "field `frame`: FixedString<32> at offset 0 vs FixedString<33> at offset 0",
        ),
        (
            "vec bound",
            path,
            mutated::vec_bound::Path::DESCRIPTOR,
            "field `points`: FixedVec<Point, 16> at offset 40 vs FixedVec<Point, 17> at offset 40",
        ),
        (
            "nested type changed",
            path,
            mutated::nested_change::Path::DESCRIPTOR,
            "field 0 is `x: f64` at offset 0 vs `y: f64` at offset 0",
        ),
        (
            "bool vs u8",
            path,
            mutated::flag_type::Path::DESCRIPTOR,
            "field `closed`: bool at offset 432 vs u8 at offset 432",
        ),
        (
            "enum value",
            gear,
            mutated::enum_value::Gear::DESCRIPTOR,
            "enum `Gear`: variant `Reverse` = 2 vs `Reverse` = 3",
        ),
        (
            "enum variant name",
            gear,
            mutated::enum_variant_name::Gear::DESCRIPTOR,
            "enum `Gear`: variant `Drive` = 1 vs `Forward` = 1",
        ),
        (
            "enum repr",
            gear,
            mutated::enum_repr::Gear::DESCRIPTOR,
            "enum `Gear` stored as u8 vs i8",
        ),
    ];
    for (what, original, changed, explanation) in cases {
        assert_ne!(
            original.layout_hash(),
            changed.layout_hash(),
            "{what}: hash unchanged"
        );
        let diff = original.first_difference(changed).expect(what);
        assert!(
            diff.to_string().ends_with(explanation),
            "{what}: explanation was `{diff}`, expected it to end with `{explanation}`"
        );
    }
}
