//! Run-time descriptors agree with compile-time ones; encoding round-trips and refuses
//! garbage; values round-trip through bytes and JSON.

use super::*;
use crate::message::{FixedString, FixedVec, Optional, ShmMessage};

#[derive(ShmMessage, Debug, Clone, Copy, PartialEq, Default)]
#[repr(C)]
struct Point {
    x: f32,
    y: f64,
}

#[derive(ShmMessage, Debug, Clone, Copy, PartialEq)]
#[repr(u8)]
enum Mode {
    Idle = 1,
    Driving = 2,
}

/// An IDL-style open enum.
#[derive(ShmMessage, Debug, Clone, Copy, PartialEq)]
#[shm(enumeration(NORTH = 0, SOUTH = 7))]
#[repr(transparent)]
struct Heading(i32);

/// An IDL-style bitmask.
#[derive(ShmMessage, Debug, Clone, Copy, PartialEq)]
#[shm(bitmask(MOTORS = 0, LIDAR = 3))]
#[repr(transparent)]
struct Power(u16);

/// An IDL-style union: branches at their own offsets.
#[derive(ShmMessage, Debug, Clone, Copy, PartialEq)]
#[shm(union(radius = 1, side = [2, 3], label = default))]
#[repr(C)]
struct Shape {
    kind: i16,
    radius: f64,
    side: [u8; 2],
    label: FixedString<4>,
}

#[derive(ShmMessage, Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Everything {
    flag: bool,
    small: i8,
    byte: u8,
    short: i16,
    ushort: u16,
    int: i32,
    uint: u32,
    long: i64,
    big: u64,
    real: f32,
    double: f64,
    points: [Point; 2],
    name: FixedString<12>,
    path: FixedVec<Point, 3>,
    maybe: Optional<u16>,
    nothing: Optional<Point>,
    mode: Mode,
    heading: Heading,
    unknown_heading: Heading,
    power: Power,
    shape: Shape,
    fallback: Shape,
}

fn everything() -> Everything {
    let mut path = FixedVec::new();
    path.push(Point { x: 1.5, y: -2.0 }).unwrap();
    path.push(Point { x: 0.1, y: 1e300 }).unwrap();
    Everything {
        flag: true,
        small: -7,
        byte: 200,
        short: -300,
        ushort: 60_000,
        int: i32::MIN,
        uint: 4_000_000_000,
        long: -1,
        big: u64::MAX,
        real: 0.1,
        double: f64::MIN_POSITIVE,
        points: [Point { x: 1.0, y: 2.0 }, Point { x: 3.0, y: 4.0 }],
        name: FixedString::try_from("héllo").unwrap(),
        path,
        maybe: Optional::some(9),
        nothing: Optional::none(),
        mode: Mode::Driving,
        heading: Heading(7),
        unknown_heading: Heading(-12),
        power: Power(0b1001 | 1 << 14),
        shape: Shape {
            kind: 3,
            radius: 99.0,
            side: [4, 5],
            label: FixedString::try_from("no").unwrap(),
        },
        fallback: Shape {
            kind: -40,
            radius: 0.0,
            side: [0, 0],
            label: FixedString::try_from("dflt").unwrap(),
        },
    }
}

/// `everything()` in JSON, as `Value`'s serde writes it: the fields in order, enums by
/// name (unknown values as numbers), bitmasks as their flags' names (unknown bits as
/// positions), unions as the discriminator and the branch it selects.
const EVERYTHING_JSON: &str = r#"{
    "flag": true, "small": -7, "byte": 200, "short": -300, "ushort": 60000,
    "int": -2147483648, "uint": 4000000000, "long": -1, "big": 18446744073709551615,
    "real": 0.1, "double": 2.2250738585072014e-308,
    "points": [{"x": 1.0, "y": 2.0}, {"x": 3.0, "y": 4.0}],
    "name": "héllo",
    "path": [{"x": 1.5, "y": -2.0}, {"x": 0.1, "y": 1e300}],
    "maybe": 9, "nothing": null, "mode": "Driving",
    "heading": "SOUTH", "unknown_heading": -12,
    "power": ["MOTORS", "LIDAR", 14],
    "shape": {"kind": 3, "side": [4, 5]},
    "fallback": {"kind": -40, "label": "dflt"}
}"#;

/// The bytes of `everything()` made from its JSON (fully initialised: these tests run
/// under Miri, which would rightly refuse to read a typed value's padding).
fn everything_bytes() -> Vec<u8> {
    let value: Value = serde_json::from_str(EVERYTHING_JSON).unwrap();
    Descriptor::of::<Everything>().encode_value(&value).unwrap()
}

/// Reads valid bytes as a typed value.
fn typed<T: ShmMessage>(bytes: &[u8]) -> T {
    crate::message::validate::<T>(bytes).unwrap();
    // SAFETY: `validate` accepted the bytes as a `T` (size and validity); an unaligned read
    // copies them out, and `T` has no drop glue (every `ShmMessage`).
    unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) }
}

#[test]
fn hashes_agree_with_compile_time() {
    for d in [
        Everything::DESCRIPTOR,
        Point::DESCRIPTOR,
        Mode::DESCRIPTOR,
        <[FixedVec<Optional<bool>, 2>; 3] as ShmMessage>::DESCRIPTOR,
    ] {
        let dynamic = Descriptor::from_static(d);
        assert_eq!(dynamic.layout_hash(), d.layout_hash(), "{d}");
        assert_eq!((dynamic.size(), dynamic.align()), (d.size(), d.align()));
        assert_eq!(dynamic.to_string(), d.to_string());
    }
    assert!(Descriptor::of::<Point>().any_bit_pattern());
    assert!(!Descriptor::of::<Everything>().any_bit_pattern());
}

#[test]
fn the_encoding_round_trips_and_shares_nodes() {
    let d = Descriptor::of::<Everything>();
    let bytes = d.encode().unwrap();
    let back = Descriptor::decode(&bytes).unwrap();
    assert_eq!(back, d);
    assert_eq!(back.render(), d.render());
    // `Point` is written once though used three times.
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(text.matches("Point").count(), 1, "{text}");
}

#[test]
fn garbage_encodings_are_errors_not_panics() {
    let good = Descriptor::of::<Everything>().encode().unwrap();
    // Every truncation, and many single-byte corruptions.
    for cut in 0..good.len() {
        assert!(Descriptor::decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bad = good.clone();
        let at = (x % bad.len() as u64) as usize;
        bad[at] = bad[at].wrapping_add(1 + (round % 255) as u8);
        // Either refused, or (when the byte was a name's letter) a different valid type.
        if let Ok(d) = Descriptor::decode(&bad) {
            assert_eq!(d.size(), Everything::DESCRIPTOR.size());
        }
    }
    // A lying hash is refused.
    let mut bad = good.clone();
    bad[12] ^= 1;
    let error = Descriptor::decode(&bad).unwrap_err();
    assert!(error.to_string().contains("layout hash"), "{error}");
}

#[test]
fn a_thousand_fields_nested_ten_deep_round_trip() {
    // Built at run time: ten levels, each a struct of 1,000 fields of the level below.
    let mut level = Descriptor::of::<u8>();
    for depth in 0..10 {
        let fields = (0..1000)
            .map(|i| Field {
                name: format!("f{i}"),
                offset: i * level.size(),
                ty: level.clone(),
            })
            .collect::<Vec<_>>();
        let size = 1000 * level.size();
        if size > 1 << 30 {
            break;
        }
        let _ = depth;
        level = Descriptor::assemble(
            format!("L{depth}"),
            size,
            level.align(),
            Kind::Struct { fields },
        );
    }
    let bytes = level.encode().unwrap();
    let back = Descriptor::decode(&bytes);
    // The weight limit refuses what a value walk could not afford; smaller trees pass.
    match back {
        Ok(back) => assert_eq!(back, level),
        Err(error) => assert!(error.to_string().contains("parts to check"), "{error}"),
    }
    let mut level = Descriptor::of::<u8>();
    for depth in 0..10 {
        let fields = (0..1000)
            .map(|i| Field {
                name: format!("f{i}"),
                offset: 0,
                ty: level.clone(),
            })
            .take(if depth < 2 { 1000 } else { 1 })
            .enumerate()
            .map(|(i, mut f)| {
                f.offset = i * level.size();
                f
            })
            .collect::<Vec<_>>();
        let size = fields.len() * level.size();
        level = Descriptor::assemble(format!("M{depth}"), size, 1, Kind::Struct { fields });
    }
    let back = Descriptor::decode(&level.encode().unwrap()).unwrap();
    assert_eq!(back, level);
    assert_eq!(back.size(), 1_000_000);
}

#[test]
fn validation_agrees_with_the_typed_one() {
    let d = Descriptor::of::<Everything>();
    let good = everything_bytes();
    assert!(d.validate(&good).is_ok());
    let flag = core::mem::offset_of!(Everything, flag);
    let mode = core::mem::offset_of!(Everything, mode);
    let name = core::mem::offset_of!(Everything, name);
    for (at, byte) in [(flag, 2u8), (mode, 0), (mode, 3), (name, 200)] {
        let mut bad = good.clone();
        bad[at] = byte;
        let typed = crate::message::validate::<Everything>(&bad).unwrap_err();
        let dynamic = d.validate(&bad).unwrap_err();
        assert_eq!(typed.to_string(), dynamic.to_string());
    }
}

#[test]
fn values_round_trip_through_bytes_and_json() {
    let d = Descriptor::of::<Everything>();
    let original = everything_bytes();
    // The dynamic encoding is the typed value (the unselected branch holds filler).
    let mut expected = everything();
    expected.shape.radius = 0.0;
    expected.shape.label = FixedString::new();
    assert_eq!(typed::<Everything>(&original), expected);
    let value = d.decode_value(&original).unwrap();
    assert_eq!(value.get("mode"), Some(&Value::String("Driving".into())));
    assert_eq!(value.get("unknown_heading"), Some(&Value::Int(-12)));
    assert_eq!(value.pointer("shape.side[1]"), Some(&Value::UInt(5)));
    assert_eq!(value.pointer("shape.radius"), None, "an unselected branch");
    assert_eq!(value.pointer("path[1].x"), Some(&Value::F32(0.1)));
    let json = serde_json::to_string(&value).unwrap();
    assert!(json.contains("\"real\":0.1"), "{json}");
    let as_json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    assert_eq!(as_json(&json), as_json(EVERYTHING_JSON));
    let parsed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(d.encode_value(&parsed).unwrap(), original);
    // What no value carries (padding, an unselected branch) does not survive, and does not
    // matter: the meaningful bytes are the same.
    let mask = d.meaningful_bytes(&original).unwrap();
    let shape = core::mem::offset_of!(Everything, shape);
    let radius = shape + core::mem::offset_of!(Shape, radius);
    let label = shape + core::mem::offset_of!(Shape, label);
    // (An unselected branch must still be valid: the string's length may not take any
    // value. Padding and the unselected `f64` may.)
    let label = label..label + size_of::<FixedString<4>>();
    let mut scribbled = original.clone();
    for (i, byte) in scribbled.iter_mut().enumerate() {
        if !mask[i] && !label.contains(&i) {
            *byte = 0xa5;
        }
    }
    assert!(!mask[radius] && scribbled[radius] == 0xa5);
    let valid_scribble = scribbled;
    let again = d.decode_value(&valid_scribble).unwrap();
    assert_eq!(again, value);
    assert_eq!(d.meaningful_bytes(&valid_scribble).unwrap(), mask);
    assert_eq!(d.encode_value(&again).unwrap(), original);
}

#[test]
fn bad_values_name_the_field() {
    let d = Descriptor::of::<Everything>();
    let good: Value = d.decode_value(&everything_bytes()).unwrap();
    let with = |key: &str, v: Value| {
        let Value::Map(mut entries) = good.clone() else {
            unreachable!()
        };
        for e in &mut entries {
            if e.0 == key {
                e.1 = v.clone();
            }
        }
        Value::Map(entries)
    };
    let cases = [
        (
            with("small", Value::Int(200)),
            "field `small`: 200 does not fit i8",
        ),
        (
            with("mode", Value::String("Flying".into())),
            "field `mode`: `Flying` is not a value of enum `Mode`; it has Idle, Driving",
        ),
        (
            with("name", Value::String("x".repeat(13))),
            "field `name`: a string of 13 bytes does not fit the capacity of 12",
        ),
        (
            with("points", Value::Array(vec![])),
            "field `points`: expected 2 elements, found 0",
        ),
        (
            with("flag", Value::UInt(1)),
            "field `flag`: expected true or false, found an integer",
        ),
    ];
    for (value, message) in cases {
        assert_eq!(d.encode_value(&value).unwrap_err().to_string(), message);
    }
    let Value::Map(mut entries) = good.clone() else {
        unreachable!()
    };
    entries.retain(|e| e.0 != "big");
    assert_eq!(
        d.encode_value(&Value::Map(entries.clone()))
            .unwrap_err()
            .to_string(),
        "field `big`: missing"
    );
    entries.push(("bigg".into(), Value::UInt(1)));
    let error = d
        .encode_value(&Value::Map(entries))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("`bigg` is not a field of `Everything`"),
        "{error}"
    );
}
