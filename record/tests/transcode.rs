//! Messages go from their fixed layout to CDR and back unchanged, for every kind of field
//! and every type generated from the IDL corpus; the IDL made from a descriptor is read by
//! our own front end as the same type; and a CDR decoder we did not write reads what we
//! write.

mod common;

use common::{CdrSample, aligned, compile, same_root};
use shmbus::message::{Descriptor, Value};
use shmbus::{FixedString, FixedVec, ShmMessage};
use shmbus_record::cdr::{from_cdr, to_cdr};
use shmbus_record::idl::idl_of;
use shmbus_test_idl_corpus::corpus::checks;
use shmbus_test_idl_corpus::random::{Rng, random};
use shmbus_test_idl_corpus::round_trip::{geo, rt};
use shmbus_tests::everything::Everything;

/// The canonical bytes of a value (filler where nothing is carried).
fn bytes_of(d: &Descriptor, value: &Value) -> Vec<u8> {
    d.encode_value(value).unwrap_or_else(|e| panic!("{d}: {e}"))
}

fn everything_bytes(seq: u64) -> Vec<u8> {
    let value: Value = serde_json::from_str(&Everything::sample_json(seq)).unwrap();
    bytes_of(&Descriptor::of::<Everything>(), &value)
}

#[test]
fn every_kind_of_field_round_trips_through_cdr() {
    let d = Descriptor::of::<Everything>();
    for seq in 0..40 {
        let bytes = everything_bytes(seq);
        let cdr = to_cdr(&d, &bytes);
        assert_eq!(&cdr[..4], &[0, 1, 0, 0]);
        assert_eq!(from_cdr(&d, &cdr).unwrap(), bytes, "sample {seq}");
    }
}

#[test]
fn every_generated_type_round_trips_through_cdr_and_its_idl_parses() {
    let mut rng = Rng(0x5eed_cd00_0001);
    let mut types = 0;
    for check in checks() {
        let d = Descriptor::from_static(check.type_descriptor);
        // The IDL of the type is read back by our front end, without an error.
        let idl = idl_of(&d);
        let hir =
            compile(&idl.text).unwrap_or_else(|e| panic!("{}:\n{e}\n{}", check.idl_name, idl.text));
        let root = hir
            .find(&idl.root)
            .unwrap_or_else(|| panic!("{} in\n{}", idl.root, idl.text));
        same_root(&hir, root, &d);
        if d.size() > 1 << 20 {
            continue;
        }
        for _ in 0..3 {
            let bytes = bytes_of(&d, &random(&d, &mut rng));
            let cdr = to_cdr(&d, &bytes);
            let back = from_cdr(&d, &cdr).unwrap_or_else(|e| panic!("{}: {e}", check.idl_name));
            assert_eq!(back, bytes, "{}", check.idl_name);
        }
        types += 1;
    }
    assert!(types > 10, "{types}");
}

#[test]
fn the_idl_of_a_type_describes_the_same_type() {
    for d in [
        Descriptor::of::<Everything>(),
        Descriptor::of::<rt::Sample>(),
        Descriptor::of::<rt::Derived>(),
        Descriptor::of::<rt::Choice>(),
        Descriptor::of::<rt::ByMode>(),
        Descriptor::of::<rt::Caps>(),
        Descriptor::of::<[FixedVec<Optional3, 2>; 2]>(),
        Descriptor::of::<u64>(),
    ] {
        let idl = idl_of(&d);
        let hir = compile(&idl.text).unwrap_or_else(|e| panic!("{e}\n{}", idl.text));
        let root = hir
            .find(&idl.root)
            .unwrap_or_else(|| panic!("{} in\n{}", idl.root, idl.text));
        same_root(&hir, root, &d);
    }
    insta_like(&idl_of(&Descriptor::of::<Everything>()).text);
}

/// A type whose IDL needs wrappers: optionals in a sequence in an array.
#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
struct Optional3 {
    inner: shmbus::Optional<[u8; 3]>,
    name: FixedString<3>,
}

/// The IDL of `Everything`, as Foxglove reads it.
fn insta_like(text: &str) {
    for expected in [
        "@final struct Everything {",
        "  @optional uint32 maybe;",
        "  string<16> name;",
        "  sequence<Point, 4> path;",
        "  Point corners[2];",
        "enum Gear {\n  @value(1) Park,",
        "typedef uint16 Power;",
        "const uint16 Power_CAMERA = 0x80;",
        "@final union Shape switch (int32) {\n  case 1:\n    double circle;",
        "  default:\n    string<6> text;",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
}

#[test]
fn an_independent_cdr_decoder_reads_what_we_write() {
    let d = Descriptor::of::<rt::Sample>();
    let mut rng = Rng(7);
    for round in 0..50 {
        let value = random(&d, &mut rng);
        let bytes = bytes_of(&d, &value);
        let cdr = to_cdr(&d, &bytes);
        let theirs: CdrSample =
            cdr::deserialize(&cdr).unwrap_or_else(|e| panic!("round {round}: {e}"));
        // Compared with the typed value of the same bytes, field by field.
        let ours: rt::Sample = *shmbus::message::try_ref_from_bytes::<rt::Sample>(&aligned(&bytes))
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(theirs.id, ours.id);
        assert_eq!((theirs.at.x, theirs.at.y), (ours.at.x, ours.at.y));
        assert_eq!(theirs.name, ours.name.as_str());
        assert_eq!(
            theirs.values,
            ours.values.iter().copied().collect::<Vec<_>>()
        );
        assert_eq!(theirs.level.0, ours.level.get().copied());
        assert_eq!(theirs.ok, ours.ok.get());
        assert_eq!(theirs.mode, ours.mode.0);
        assert_eq!(theirs.raw, ours.raw);
        assert_eq!(theirs.wide, ours.wide);
        let table: Vec<(u8, i32)> = ours.table.iter().map(|e| (e.key, e.value)).collect();
        assert_eq!(
            theirs
                .table
                .iter()
                .map(|e| (e.key, e.value))
                .collect::<Vec<_>>(),
            table
        );
    }
    let _ = geo::Point::default();
}
