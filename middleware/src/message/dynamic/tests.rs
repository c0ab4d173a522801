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
    for cut in (0..good.len()).step_by(if cfg!(miri) { 37 } else { 1 }) {
        assert!(Descriptor::decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..if cfg!(miri) { 200 } else { 20_000 } {
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

/// A type of 1,000 fields nested 10 deep: each level 999 fields of every primitive kind
/// and one of the level below (10,000 fields in all).
fn thousand_fields_ten_deep() -> Descriptor {
    let primitives = [
        Descriptor::of::<u8>(),
        Descriptor::of::<i16>(),
        Descriptor::of::<u32>(),
        Descriptor::of::<f64>(),
        Descriptor::of::<bool>(),
    ];
    let mut level: Option<Descriptor> = None;
    for depth in 0..10 {
        let mut fields = Vec::new();
        let mut offset: usize = 0;
        for i in 0..1000 {
            let ty = match (&level, i) {
                (Some(inner), 500) => inner.clone(),
                _ => primitives[i % primitives.len()].clone(),
            };
            offset = offset.next_multiple_of(ty.align());
            fields.push(Field {
                name: format!("field_{depth}_{i}"),
                offset,
                ty: ty.clone(),
            });
            offset += ty.size();
        }
        let align = fields.iter().map(|f| f.ty.align()).max().unwrap_or(1);
        level = Some(Descriptor::assemble(
            format!("Level{depth}"),
            offset.next_multiple_of(align),
            align,
            Kind::Struct { fields },
        ));
    }
    level.unwrap()
}

#[test]
#[cfg_attr(miri, ignore = "10,000 fields take minutes under Miri; safe code only")]
fn a_thousand_fields_nested_ten_deep_round_trip() {
    let deep = thousand_fields_ten_deep();
    let bytes = deep.encode().unwrap();
    let back = Descriptor::decode(&bytes).unwrap();
    assert_eq!(back, deep);
    assert_eq!(back.render(), deep.render());
    assert!(back.render().lines().count() > 10_000);
    // Its values too.
    let value = deep.decode_value(&deep.filler()).unwrap();
    assert_eq!(
        value.pointer("field_9_500.field_8_500.field_7_999"),
        Some(&Value::Bool(false))
    );
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot call shm_open")]
fn a_service_stores_a_thousand_fields_nested_ten_deep() {
    use crate::service::{Pattern, Service};
    let deep = thousand_fields_ten_deep();
    let root = std::env::temp_dir().join(format!("shmbus-deep-{}", std::process::id()));
    let config = crate::Config::default()
        .with_domain(format!("deep_{}", std::process::id()))
        .unwrap()
        .with_runtime_dir(&root)
        .unwrap();
    let node = crate::Node::builder()
        .config(config.clone())
        .create()
        .unwrap();
    {
        let service = Service::raw_publish_subscribe(&node, "deep")
            .message_type(deep.clone())
            .create()
            .unwrap();
        // Another handle, without the type: it reads it from the service.
        let opened = Service::raw_publish_subscribe(&node, "deep")
            .open()
            .unwrap();
        assert_eq!(opened.message_type(), &deep);
        assert_eq!(opened.message_type().render(), deep.render());
        let listed = Service::inspect(&config, "deep", Pattern::PublishSubscribe)
            .unwrap()
            .unwrap();
        assert_eq!(listed.types[0].render(), deep.render());
        let publisher = service.publisher().create().unwrap();
        let subscriber = opened.subscriber().create().unwrap();
        let mut value = deep.decode_value(&deep.filler()).unwrap();
        if let Value::Map(fields) = &mut value {
            fields[0].1 = Value::UInt(42);
        }
        assert_eq!(publisher.send_value(&value).unwrap(), 1);
        let sample = subscriber.receive().unwrap().unwrap();
        assert_eq!(sample.value().unwrap(), value);
    }
    drop(node);
    assert!(config.objects().unwrap().is_empty());
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
    // Into a buffer holding an earlier message (a recycled chunk): the same bytes.
    let mut dirty = vec![0x5a; original.len()];
    d.encode_value_into(&parsed, &mut dirty).unwrap();
    assert_eq!(dirty, original);
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

/// Random well-formed descriptors, built as the layout rules say.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn name(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", self.below(1000))
    }

    fn primitive(&mut self) -> Descriptor {
        use crate::message::Primitive as P;
        let p = [
            P::Bool,
            P::U8,
            P::U16,
            P::U32,
            P::U64,
            P::I8,
            P::I16,
            P::I32,
            P::I64,
            P::F32,
            P::F64,
        ][self.below(11) as usize];
        Descriptor::assemble(p.name().to_owned(), p.size(), p.size(), Kind::Primitive(p))
    }

    fn integer(&mut self) -> crate::message::Primitive {
        use crate::message::Primitive as P;
        [P::U8, P::U16, P::U32, P::U64, P::I8, P::I16, P::I32, P::I64][self.below(8) as usize]
    }

    /// A struct's (or union's) fields laid out in order: `(fields, size, align)`.
    fn layout(&mut self, types: Vec<(String, Descriptor)>) -> (Vec<Field>, usize, usize) {
        let mut offset: usize = 0;
        let mut align = 1;
        let mut fields = Vec::new();
        for (name, ty) in types {
            offset = offset.next_multiple_of(ty.align());
            align = align.max(ty.align());
            fields.push(Field {
                name,
                offset,
                ty: ty.clone(),
            });
            offset += ty.size();
        }
        (fields, offset.next_multiple_of(align), align)
    }

    fn descriptor(&mut self, depth: u32) -> Descriptor {
        let leaf = depth == 0 || self.below(3) == 0;
        let choice = if leaf {
            self.below(4)
        } else {
            4 + self.below(6)
        };
        match choice {
            0 | 1 => self.primitive(),
            2 => {
                let repr = self.integer();
                let open = self.below(2) == 0;
                // A closed enum has a value at least.
                let n = self.below(5) + u64::from(!open);
                let variants = (0..n)
                    .map(|i| Variant {
                        name: format!("V{i}"),
                        value: i128::from(i as u8) * 3,
                    })
                    .collect();
                Descriptor::assemble(
                    self.name("E"),
                    repr.size(),
                    repr.size(),
                    Kind::Enum {
                        repr,
                        variants,
                        open,
                    },
                )
            }
            3 => {
                use crate::message::Primitive as P;
                let repr = [P::U8, P::U16, P::U32, P::U64][self.below(4) as usize];
                let flags = (0..self.below(4) as u32)
                    .map(|i| Flag {
                        name: format!("F{i}"),
                        position: i * 2,
                    })
                    .collect();
                Descriptor::assemble(
                    self.name("B"),
                    repr.size(),
                    repr.size(),
                    Kind::Bitmask { repr, flags },
                )
            }
            4 => {
                let element = self.descriptor(depth - 1);
                let len = 1 + self.below(4) as usize;
                let (size, align) = (element.size() * len, element.align());
                Descriptor::assemble(
                    format!("[{element}; {len}]"),
                    size,
                    align,
                    Kind::Array { len, element },
                )
            }
            5 => {
                let capacity = self.below(20) as usize;
                let size = (ContainerLayout::with_length(1).data + capacity).next_multiple_of(4);
                Descriptor::assemble(
                    format!("FixedString<{capacity}>"),
                    size,
                    4,
                    Kind::FixedString { capacity },
                )
            }
            6 => {
                let element = self.descriptor(depth - 1);
                let capacity = self.below(4) as usize;
                let align = element.align().max(4);
                let data = ContainerLayout::with_length(element.align()).data;
                let size = (data + element.size() * capacity).next_multiple_of(align);
                Descriptor::assemble(
                    format!("FixedVec<{element}, {capacity}>"),
                    size,
                    align,
                    Kind::FixedVec { capacity, element },
                )
            }
            7 => {
                let element = self.descriptor(depth - 1);
                let align = element.align().max(1);
                let data = ContainerLayout::with_flag(element.align()).data;
                let size = (data + element.size()).next_multiple_of(align);
                Descriptor::assemble(
                    format!("Optional<{element}>"),
                    size,
                    align,
                    Kind::Optional { element },
                )
            }
            8 => {
                let n = 1 + self.below(5);
                let types = (0..n)
                    .map(|i| (format!("f{i}"), self.descriptor(depth - 1)))
                    .collect();
                let (fields, size, align) = self.layout(types);
                Descriptor::assemble(self.name("S"), size, align, Kind::Struct { fields })
            }
            _ => {
                let repr = self.integer();
                let discriminator = Descriptor::assemble(
                    repr.name().to_owned(),
                    repr.size(),
                    repr.size(),
                    Kind::Primitive(repr),
                );
                let n = 1 + self.below(4) as usize;
                let mut types = vec![("kind".to_owned(), discriminator)];
                types.extend((0..n).map(|i| (format!("b{i}"), self.descriptor(depth - 1))));
                let (fields, size, align) = self.layout(types);
                let default = self.below(2) == 0;
                let cases = (1..=n)
                    .map(|field| Case {
                        field,
                        labels: if default && field == n {
                            Vec::new()
                        } else {
                            vec![field as i128, 10 + field as i128]
                        },
                        is_default: default && field == n,
                    })
                    .collect();
                Descriptor::assemble(self.name("U"), size, align, Kind::Union { fields, cases })
            }
        }
    }
}

/// Property: any well-formed descriptor encodes, decodes to itself (hash, render and all),
/// and its filler is a valid value that decodes and encodes back to itself.
#[test]
fn random_descriptors_round_trip_through_the_encoding() {
    let rounds = if cfg!(miri) { 40 } else { 3000 };
    let mut g = Gen(0x2545_f491_4f6c_dd1d);
    for round in 0..rounds {
        let d = g.descriptor(4);
        let bytes = d.encode().unwrap();
        let back = Descriptor::decode(&bytes)
            .unwrap_or_else(|e| panic!("round {round}: {e}\n{}", d.render()));
        assert_eq!(back, d, "round {round}");
        assert_eq!(back.render(), d.render(), "round {round}");
        assert_eq!(back.encode().unwrap(), bytes, "round {round}");
        let filler = d.filler();
        let value = d.decode_value(&filler).unwrap();
        assert_eq!(d.encode_value(&value).unwrap(), filler, "round {round}");
    }
}

#[test]
fn an_f32_nan_keeps_its_payload() {
    let d = Descriptor::of::<f32>();
    let signalling = f32::from_bits(0x7f80_0001);
    let value = d.decode_value(&signalling.to_ne_bytes()).unwrap();
    assert_eq!(
        d.encode_value(&value).unwrap(),
        signalling.to_ne_bytes(),
        "found by the message_bytes fuzz target"
    );
}
