//! A message with every kind of field a descriptor knows, for the tests that carry it
//! between typed and byte-level ports; and its JSON, written independently of the type.

use shmbus::{FixedString, FixedVec, Optional, ShmMessage};

/// A nested struct.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct Point {
    /// An `f32` before an `f64`: padding between them.
    pub x: f32,
    /// Aligned to 8.
    pub y: f64,
}

/// A closed (Rust) enum.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Gear {
    /// The first.
    #[default]
    Park = 1,
    /// The second.
    Drive = 2,
    /// The third.
    Reverse = 9,
}

/// An open (IDL) enum: any value valid, these named.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[shm(enumeration(NORTH = 0, EAST = 1, SOUTH = 2, WEST = 3))]
#[repr(transparent)]
pub struct Heading(pub i32);

/// A bitmask: named bits by position.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[shm(bitmask(MOTORS = 0, LIDAR = 1, CAMERA = 7))]
#[repr(transparent)]
pub struct Power(pub u16);

/// A union: the discriminator, then the branches at their own offsets.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq)]
#[shm(union(circle = 1, square = [2, 3], text = default))]
#[repr(C)]
pub struct Shape {
    /// Which branch holds the value.
    pub kind: i32,
    /// Selected by 1.
    pub circle: f64,
    /// Selected by 2 and 3.
    pub square: [u16; 2],
    /// Selected by any other value.
    pub text: FixedString<6>,
}

/// Every kind of field.
#[derive(ShmMessage, Debug, Default, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct Everything {
    /// Sequence number.
    pub seq: u64,
    /// `bool`.
    pub flag: bool,
    /// `i8`.
    pub tiny: i8,
    /// `u8`.
    pub byte: u8,
    /// `i16`.
    pub short: i16,
    /// `u16`.
    pub ushort: u16,
    /// `i32`.
    pub int: i32,
    /// `u32`.
    pub uint: u32,
    /// `i64`.
    pub long: i64,
    /// `f32`.
    pub real: f32,
    /// `f64`.
    pub double: f64,
    /// An array of structs.
    pub corners: [Point; 2],
    /// A bounded string.
    pub name: FixedString<16>,
    /// A bounded vector of structs.
    pub path: FixedVec<Point, 4>,
    /// An optional that is present for odd `seq`.
    pub maybe: Optional<u32>,
    /// A closed enum.
    pub gear: Gear,
    /// An open enum, sometimes with a value it does not name.
    pub heading: Heading,
    /// A bitmask, sometimes with a bit it does not name.
    pub power: Power,
    /// A union, each branch in turn.
    pub shape: Shape,
}

impl Everything {
    /// The sample of sequence number `seq`: each field derived from it. Unselected union
    /// branches hold filler (zero), as a byte-level sender writes them.
    pub fn sample(seq: u64) -> Self {
        let s = seq as i64;
        let mut path = FixedVec::new();
        for i in 0..(seq % 5) {
            let _ = path.push(Point {
                x: i as f32 + 0.5,
                y: -(s as f64) * 1e-3,
            });
        }
        let mut shape = Shape::default();
        match seq % 3 {
            0 => {
                shape.kind = 1;
                shape.circle = s as f64 + 0.25;
            }
            1 => {
                shape.kind = 3;
                shape.square = [seq as u16, 7];
            }
            _ => {
                shape.kind = -(s as i32);
                shape.text =
                    FixedString::try_from(format!("t{}", seq % 1000).as_str()).unwrap_or_default();
            }
        }
        Everything {
            seq,
            flag: seq.is_multiple_of(2),
            tiny: -(seq as i8 & 0x3f),
            byte: seq as u8,
            short: -(seq as i16),
            ushort: 60_000u16.wrapping_add(seq as u16),
            int: i32::MIN + seq as i32,
            uint: 4_000_000_000u32.wrapping_add(seq as u32),
            long: -s * 1_000_000_007,
            real: seq as f32 / 8.0,
            double: s as f64 / 3.0,
            corners: [
                Point {
                    x: 1.0,
                    y: -s as f64,
                },
                Point {
                    x: -(seq as f32),
                    y: 1e300,
                },
            ],
            name: FixedString::try_from(format!("ü{seq}").as_str()).unwrap_or_default(),
            path,
            maybe: if seq % 2 == 1 {
                Optional::some(seq as u32 * 3)
            } else {
                Optional::none()
            },
            gear: [Gear::Park, Gear::Drive, Gear::Reverse][(seq % 3) as usize],
            heading: Heading((seq % 6) as i32),
            power: Power(
                ((seq % 4) as u16)
                    | if seq.is_multiple_of(5) {
                        1 << 12
                    } else {
                        1 << 7
                    },
            ),
            shape,
        }
    }

    /// The JSON of [`Everything::sample`], written out field by field as the byte-level
    /// ports' `Value` reads and writes it (not derived from the type).
    pub fn sample_json(seq: u64) -> String {
        let s = seq as i64;
        let f32_json = |v: f32| json_float(f64::from(v));
        let path: Vec<String> = (0..(seq % 5))
            .map(|i| {
                format!(
                    r#"{{"x":{},"y":{}}}"#,
                    f32_json(i as f32 + 0.5),
                    json_float(-(s as f64) * 1e-3)
                )
            })
            .collect();
        let maybe = if seq % 2 == 1 {
            (seq * 3).to_string()
        } else {
            "null".to_owned()
        };
        let gear = ["Park", "Drive", "Reverse"][(seq % 3) as usize];
        let heading = match seq % 6 {
            0 => r#""NORTH""#.to_owned(),
            1 => r#""EAST""#.to_owned(),
            2 => r#""SOUTH""#.to_owned(),
            3 => r#""WEST""#.to_owned(),
            other => other.to_string(),
        };
        let mut power: Vec<String> = Vec::new();
        if (seq % 4) & 1 != 0 {
            power.push(r#""MOTORS""#.into());
        }
        if (seq % 4) & 2 != 0 {
            power.push(r#""LIDAR""#.into());
        }
        if seq.is_multiple_of(5) {
            power.push("12".into());
        } else {
            power.push(r#""CAMERA""#.into());
        }
        let shape = match seq % 3 {
            0 => format!(r#"{{"kind":1,"circle":{}}}"#, json_float(s as f64 + 0.25)),
            1 => format!(r#"{{"kind":3,"square":[{},7]}}"#, seq as u16),
            _ => format!(r#"{{"kind":{},"text":"t{}"}}"#, -(s as i32), seq % 1000),
        };
        format!(
            concat!(
                r#"{{"seq":{seq},"flag":{flag},"tiny":{tiny},"byte":{byte},"short":{short},"#,
                r#""ushort":{ushort},"int":{int},"uint":{uint},"long":{long},"real":{real},"#,
                r#""double":{double},"corners":[{{"x":1.0,"y":{c0y}}},{{"x":{c1x},"y":1e300}}],"#,
                r#""name":"ü{seq}","path":[{path}],"maybe":{maybe},"gear":"{gear}","#,
                r#""heading":{heading},"power":[{power}],"shape":{shape}}}"#
            ),
            seq = seq,
            flag = seq.is_multiple_of(2),
            tiny = -(seq as i8 & 0x3f),
            byte = seq as u8,
            short = -(seq as i16),
            ushort = 60_000u16.wrapping_add(seq as u16),
            int = i32::MIN + seq as i32,
            uint = 4_000_000_000u32.wrapping_add(seq as u32),
            long = -s * 1_000_000_007,
            real = f32_json(seq as f32 / 8.0),
            double = json_float(s as f64 / 3.0),
            c0y = json_float(-s as f64),
            c1x = f32_json(-(seq as f32)),
            path = path.join(","),
            maybe = maybe,
            gear = gear,
            heading = heading,
            power = power.join(","),
            shape = shape,
        )
    }
}

/// A float as JSON writes it (the shortest text that reads back as the same `f64`).
fn json_float(v: f64) -> String {
    let text = format!("{v:?}");
    text
}
