//! Dynamic values: a message's bytes decoded through a [`Descriptor`] into a tree, and a
//! tree encoded back into bytes.
//!
//! A [`Value`] is shaped like JSON, with the number kinds kept apart, and serde's
//! `Serialize` and `Deserialize` are implemented for it, so JSON (or any serde format) in
//! and out is one call. How each kind of field appears:
//!
//! | kind | value |
//! |------|-------|
//! | `bool` | `Bool` |
//! | signed, unsigned integers | `Int`, `UInt` |
//! | `f32`, `f64` | `F32`, `Float` (non-finite ones serialize as `"NaN"`, `"inf"`, `"-inf"`) |
//! | array, `FixedVec` | `Array` |
//! | `FixedString` | `String` |
//! | `Optional` | `Null` when absent, else the value |
//! | enum | the variant's name as a `String`; a value no variant has (open enums) as a number |
//! | bitmask | an `Array` of the set flags' names, and of the positions of unknown set bits |
//! | struct | a `Map` of every field, in order |
//! | union | a `Map` of the discriminator (by its field name) and the branch it selects |
//!
//! Encoding is strict where a mistake would go unnoticed: every field of a struct must be
//! given and no other; numbers must fit their field; strings and vectors their capacity;
//! enum and flag names must exist. Numbers may be given for floats, and a number for an
//! enum or bitmask. A union takes its branch by name, with or without the discriminator
//! (without it, the branch's first label is used). Every error names the field path. The
//! bytes of parts a value does not carry — the unused capacity of strings and vectors, the
//! value of an absent optional, the branches a union does not select — are written as the
//! type's filler: zero, or for a closed enum its first variant, so the result always
//! validates.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use zerocopy::FromBytes;

use super::descriptor::{ContainerLayout, Descriptor, Kind};
use super::validate::{container_len, part};
use crate::message::descriptor::Primitive;
use crate::message::validate::{ValidationError, read_discriminant};

/// A message's value, as a tree (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Nothing: an absent optional.
    Null,
    /// A `bool`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// An `f32` (kept apart from `f64` so that it prints as written).
    F32(f32),
    /// An `f64`.
    Float(f64),
    /// A string, or a name (of an enum variant or a flag).
    String(String),
    /// An array, a vector, or a bitmask's flags.
    Array(Vec<Value>),
    /// A struct's fields, or a union's discriminator and branch, in order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The entry `key` of a map (the first one), if this is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at a dotted path of field names and indices: `pose.x`, `points[2]`,
    /// `points.2` — what `shmbus echo --field` shows.
    pub fn pointer(&self, path: &str) -> Option<&Value> {
        let mut at = self;
        for segment in path
            .split(['.', '['])
            .map(|s| s.trim_end_matches(']'))
            .filter(|s| !s.is_empty())
        {
            at = match at {
                Value::Map(_) => at.get(segment)?,
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(at)
    }

    /// A word for the kind of value, for messages.
    fn word(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a bool",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::F32(_) | Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Map(_) => "a map",
        }
    }

    /// The value as an integer, if it is one (floats with no fraction included).
    fn as_i128(&self) -> Option<i128> {
        match *self {
            Value::Int(i) => Some(i128::from(i)),
            Value::UInt(u) => Some(i128::from(u)),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => Some(f as i128),
            Value::F32(f) if f.fract() == 0.0 && f.abs() < 1e38 => Some(f as i128),
            _ => None,
        }
    }
}

/// A value that does not fit the type it is encoded as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ValueError {
    path: String,
    problem: String,
}

impl ValueError {
    fn new(problem: impl Into<String>) -> Self {
        Self {
            path: String::new(),
            problem: problem.into(),
        }
    }

    fn in_field(mut self, name: &str) -> Self {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, name);
        self
    }

    fn in_element(mut self, index: usize) -> Self {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, &format!("[{index}]"));
        self
    }

    /// The path of the field at fault (`pose.x`, `points[2]`); empty for the whole value.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    fn describe(&self) -> String {
        if self.path.is_empty() {
            self.problem.clone()
        } else {
            format!("field `{}`: {}", self.path, self.problem)
        }
    }
}

impl Descriptor {
    /// Decodes a value of this type from `bytes` (exactly [`size`](Self::size) long), after
    /// validating them exactly as a typed receiver would.
    pub fn decode_value(&self, bytes: &[u8]) -> Result<Value, ValidationError> {
        self.validate(bytes)?;
        Ok(decode(self, bytes))
    }

    /// Encodes `value` as this type (see the module docs): the bytes a typed sender would
    /// have written, with filler in the parts the value does not carry.
    pub fn encode_value(&self, value: &Value) -> Result<Vec<u8>, ValueError> {
        let mut out = vec![0; self.size()];
        self.encode_value_into(value, &mut out)?;
        Ok(out)
    }

    /// [`encode_value`](Self::encode_value) into `out`, which must be exactly
    /// [`size`](Self::size) long (a loaned chunk, say).
    pub fn encode_value_into(&self, value: &Value, out: &mut [u8]) -> Result<(), ValueError> {
        if out.len() != self.size() {
            return Err(ValueError::new(format!(
                "{} bytes given for a {}-byte `{self}`",
                out.len(),
                self.size()
            )));
        }
        // Whatever `out` held (a recycled chunk's earlier message) goes: filler first.
        out.fill(0);
        fill(self, out);
        encode(self, value, out)
    }

    /// Which bytes of a valid message of this type carry its value: all but the padding,
    /// the unused bytes of strings and elements of vectors, the value of an absent
    /// optional, and the branches a union does not select. Two messages that agree on
    /// these bytes decode to the same [`Value`], and encoding a decoded value gives them
    /// back (the rest is filler): what "equal up to padding" means for messages.
    pub fn meaningful_bytes(&self, bytes: &[u8]) -> Result<Vec<bool>, ValidationError> {
        self.validate(bytes)?;
        let mut mask = vec![false; bytes.len()];
        mark(self, bytes, &mut mask);
        Ok(mask)
    }

    /// The filler bytes of this type: every part zero, except closed enums, which hold
    /// their first variant. Always a valid value.
    pub fn filler(&self) -> Vec<u8> {
        let mut out = vec![0; self.size()];
        fill(self, &mut out);
        out
    }
}

// ---- decoding -----------------------------------------------------------------------

/// Sets `mask` (as long as `bytes`) where `bytes`, a valid message of `d`, carry its value.
fn mark(d: &Descriptor, bytes: &[u8], mask: &mut [bool]) {
    fn sub(bytes: &[u8], mask: &mut [bool], at: usize, d: &Descriptor) {
        let range = at..at.saturating_add(d.size());
        if let (Some(bytes), Some(mask)) = (bytes.get(range.clone()), mask.get_mut(range)) {
            mark(d, bytes, mask);
        }
    }
    match d.kind() {
        Kind::Primitive(_) | Kind::Enum { .. } | Kind::Bitmask { .. } => mask.fill(true),
        Kind::Array { len, element } => {
            for i in 0..*len {
                sub(bytes, mask, i * element.size(), element);
            }
        }
        Kind::FixedString { capacity } => {
            let len = container_len(bytes, *capacity).unwrap_or(0);
            let data = ContainerLayout::with_length(1).data;
            mask.iter_mut().take(4).for_each(|m| *m = true);
            mask.iter_mut().skip(data).take(len).for_each(|m| *m = true);
        }
        Kind::FixedVec { capacity, element } => {
            let len = container_len(bytes, *capacity).unwrap_or(0);
            mask.iter_mut().take(4).for_each(|m| *m = true);
            let start = ContainerLayout::with_length(element.align()).data;
            for i in 0..len {
                sub(bytes, mask, start + i * element.size(), element);
            }
        }
        Kind::Optional { element } => {
            if let Some(flag) = mask.first_mut() {
                *flag = true;
            }
            if bytes.first() == Some(&1) {
                let data = ContainerLayout::with_flag(element.align()).data;
                sub(bytes, mask, data, element);
            }
        }
        Kind::Struct { fields } => {
            for f in fields {
                sub(bytes, mask, f.offset, &f.ty);
            }
        }
        Kind::Union { fields, .. } => {
            let Some(discriminator) = fields.first() else {
                return;
            };
            let raw = part(bytes, discriminator.offset, discriminator.ty.size()).unwrap_or(&[]);
            let selected = selected_branch(d, raw);
            sub(bytes, mask, discriminator.offset, &discriminator.ty);
            if let Some(branch) = selected.and_then(|i| fields.get(i)) {
                sub(bytes, mask, branch.offset, &branch.ty);
            }
        }
    }
}

/// Reads a primitive in native byte order (zerocopy reads it out of the bytes).
fn primitive(p: Primitive, bytes: &[u8]) -> Value {
    fn read<T: FromBytes>(bytes: &[u8]) -> Option<T> {
        T::read_from_prefix(bytes).ok().map(|(v, _)| v)
    }
    let value = match p {
        Primitive::Bool => read::<u8>(bytes).map(|b| Value::Bool(b != 0)),
        Primitive::U8 => read::<u8>(bytes).map(|v| Value::UInt(v.into())),
        Primitive::U16 => read::<u16>(bytes).map(|v| Value::UInt(v.into())),
        Primitive::U32 => read::<u32>(bytes).map(|v| Value::UInt(v.into())),
        Primitive::U64 => read::<u64>(bytes).map(Value::UInt),
        Primitive::I8 => read::<i8>(bytes).map(|v| Value::Int(v.into())),
        Primitive::I16 => read::<i16>(bytes).map(|v| Value::Int(v.into())),
        Primitive::I32 => read::<i32>(bytes).map(|v| Value::Int(v.into())),
        Primitive::I64 => read::<i64>(bytes).map(Value::Int),
        Primitive::F32 => read::<f32>(bytes).map(Value::F32),
        Primitive::F64 => read::<f64>(bytes).map(Value::Float),
    };
    value.unwrap_or(Value::Null)
}

/// An integer of `repr` as a value: `Int` for signed, `UInt` for unsigned.
fn integer(repr: Primitive, value: i128) -> Value {
    if repr.is_signed() {
        i64::try_from(value).map_or(Value::Null, Value::Int)
    } else {
        u64::try_from(value).map_or(Value::Null, Value::UInt)
    }
}

/// Decodes validated bytes (so nothing can fail; an impossible part reads as `Null`).
fn decode(d: &Descriptor, bytes: &[u8]) -> Value {
    let sub = |at: usize, len: usize| part(bytes, at, len).unwrap_or(&[]);
    match d.kind() {
        Kind::Primitive(p) => primitive(*p, bytes),
        Kind::Array { len, element } => Value::Array(
            (0..*len)
                .map(|i| decode(element, sub(i * element.size(), element.size())))
                .collect(),
        ),
        Kind::FixedString { capacity } => {
            let len = container_len(bytes, *capacity).unwrap_or(0);
            let live = sub(ContainerLayout::with_length(1).data, len);
            Value::String(String::from_utf8_lossy(live).into_owned())
        }
        Kind::FixedVec { capacity, element } => {
            let len = container_len(bytes, *capacity).unwrap_or(0);
            let start = ContainerLayout::with_length(element.align()).data;
            Value::Array(
                (0..len)
                    .map(|i| decode(element, sub(start + i * element.size(), element.size())))
                    .collect(),
            )
        }
        Kind::Optional { element } => match bytes.first() {
            Some(1) => decode(
                element,
                sub(
                    ContainerLayout::with_flag(element.align()).data,
                    element.size(),
                ),
            ),
            _ => Value::Null,
        },
        Kind::Enum { repr, variants, .. } => {
            let value = read_discriminant(bytes, *repr).unwrap_or(0);
            match variants.iter().find(|v| v.value == value) {
                Some(v) => Value::String(v.name.clone()),
                None => integer(*repr, value),
            }
        }
        Kind::Bitmask { repr, flags } => {
            let bits = read_discriminant(bytes, *repr).unwrap_or(0) as u128;
            let mut known = 0u128;
            let mut out: Vec<Value> = flags
                .iter()
                .filter(|f| {
                    known |= 1 << f.position;
                    bits & (1 << f.position) != 0
                })
                .map(|f| Value::String(f.name.clone()))
                .collect();
            for position in 0..128u32 {
                if bits & !known & (1 << position) != 0 {
                    out.push(Value::UInt(u64::from(position)));
                }
            }
            Value::Array(out)
        }
        Kind::Struct { fields } => Value::Map(
            fields
                .iter()
                .map(|f| (f.name.clone(), decode(&f.ty, sub(f.offset, f.ty.size()))))
                .collect(),
        ),
        Kind::Union { fields, .. } => {
            let Some(discriminator) = fields.first() else {
                return Value::Map(Vec::new());
            };
            let raw = sub(discriminator.offset, discriminator.ty.size());
            let mut entries = vec![(discriminator.name.clone(), decode(&discriminator.ty, raw))];
            if let Some(branch) = selected_branch(d, raw).and_then(|i| fields.get(i)) {
                entries.push((
                    branch.name.clone(),
                    decode(&branch.ty, sub(branch.offset, branch.ty.size())),
                ));
            }
            Value::Map(entries)
        }
    }
}

/// The discriminator value stored in `raw` (the discriminator's bytes).
fn discriminator_value(d: &Descriptor, raw: &[u8]) -> Option<i128> {
    match d.fields().first()?.ty.kind() {
        Kind::Primitive(p) => read_discriminant(raw, *p).or_else(|| {
            (*p == Primitive::Bool).then(|| i128::from(raw.first().copied().unwrap_or(0) != 0))
        }),
        Kind::Enum { repr, .. } | Kind::Bitmask { repr, .. } => read_discriminant(raw, *repr),
        _ => None,
    }
}

/// The index of the branch of union `d` that the discriminator bytes `raw` select.
fn selected_branch(d: &Descriptor, raw: &[u8]) -> Option<usize> {
    let Kind::Union { cases, .. } = d.kind() else {
        return None;
    };
    let value = discriminator_value(d, raw)?;
    cases
        .iter()
        .find(|c| c.labels.contains(&value))
        .or_else(|| cases.iter().find(|c| c.is_default))
        .map(|c| c.field)
}

// ---- filler and encoding ------------------------------------------------------------

/// Writes the filler of `d` into `out` (zeroed by the caller).
fn fill(d: &Descriptor, out: &mut [u8]) {
    match d.kind() {
        Kind::Enum {
            repr,
            variants,
            open: false,
        } => {
            if let Some(first) = variants.first() {
                let _ = write_int(*repr, first.value, out);
            }
        }
        Kind::Array { len, element } if !element.any_bit_pattern() => {
            for i in 0..*len {
                if let Some(slot) = out.get_mut(i * element.size()..(i + 1) * element.size()) {
                    fill(element, slot);
                }
            }
        }
        Kind::Struct { fields } | Kind::Union { fields, .. } => {
            for f in fields {
                if let Some(slot) = out.get_mut(f.offset..f.offset + f.ty.size()) {
                    fill(&f.ty, slot);
                }
            }
        }
        _ => {}
    }
}

/// Writes integer `value` as `repr` (native byte order) if it fits.
fn write_int(repr: Primitive, value: i128, out: &mut [u8]) -> Result<(), String> {
    let bits = 8 * repr.size() as u32;
    let fits = if repr == Primitive::Bool {
        value == 0 || value == 1
    } else if repr.is_signed() {
        let min = -(1i128 << (bits - 1));
        (min..=-min - 1).contains(&value)
    } else {
        (0..=(1i128 << bits) - 1).contains(&value)
    };
    if !fits || !repr.is_integer() && repr != Primitive::Bool {
        return Err(format!("{value} does not fit {repr}"));
    }
    let bytes = value.to_ne_bytes();
    let width = repr.size();
    // Native order: the low `width` bytes are first on little-endian, last on big-endian.
    let low = if cfg!(target_endian = "little") {
        &bytes[..width]
    } else {
        &bytes[16 - width..]
    };
    out.get_mut(..width)
        .ok_or_else(|| "no room".to_owned())?
        .copy_from_slice(low);
    Ok(())
}

fn write_u32(value: usize, out: &mut [u8]) -> Result<(), ValueError> {
    let value = u32::try_from(value).map_err(|_| ValueError::new("too long"))?;
    out.get_mut(..4)
        .ok_or_else(|| ValueError::new("no room for a length"))?
        .copy_from_slice(&value.to_ne_bytes());
    Ok(())
}

fn expected(what: &str, found: &Value) -> ValueError {
    ValueError::new(format!("expected {what}, found {}", found.word()))
}

/// A float given as a number, or as `"NaN"`, `"inf"`, `"-inf"`.
fn float(value: &Value) -> Option<f64> {
    match value {
        Value::F32(f) => Some(f64::from(*f)),
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "inf" | "+inf" | "Infinity" => Some(f64::INFINITY),
            "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// Encodes `value` as `d` into `out` (exactly `d.size()` long, holding the filler).
fn encode(d: &Descriptor, value: &Value, out: &mut [u8]) -> Result<(), ValueError> {
    match d.kind() {
        Kind::Primitive(p) => encode_primitive(*p, value, out),
        Kind::Array { len, element } => {
            let Value::Array(items) = value else {
                return Err(expected(&format!("an array of {len}"), value));
            };
            if items.len() != *len {
                return Err(ValueError::new(format!(
                    "expected {len} elements, found {}",
                    items.len()
                )));
            }
            encode_elements(element, items, out, 0)
        }
        Kind::FixedString { capacity } => {
            let Value::String(s) = value else {
                return Err(expected("a string", value));
            };
            if s.len() > *capacity {
                return Err(ValueError::new(format!(
                    "a string of {} bytes does not fit the capacity of {capacity}",
                    s.len()
                )));
            }
            write_u32(s.len(), out)?;
            let start = ContainerLayout::with_length(1).data;
            out.get_mut(start..start + s.len())
                .ok_or_else(|| ValueError::new("no room"))?
                .copy_from_slice(s.as_bytes());
            Ok(())
        }
        Kind::FixedVec { capacity, element } => {
            let Value::Array(items) = value else {
                return Err(expected("an array", value));
            };
            if items.len() > *capacity {
                return Err(ValueError::new(format!(
                    "{} elements do not fit the capacity of {capacity}",
                    items.len()
                )));
            }
            write_u32(items.len(), out)?;
            let start = ContainerLayout::with_length(element.align()).data;
            encode_elements(element, items, out, start)
        }
        Kind::Optional { element } => {
            if *value == Value::Null {
                return Ok(());
            }
            out[0] = 1;
            let start = ContainerLayout::with_flag(element.align()).data;
            let slot = out
                .get_mut(start..start + element.size())
                .ok_or_else(|| ValueError::new("no room"))?;
            fill(element, slot);
            encode(element, value, slot)
        }
        Kind::Enum {
            repr,
            variants,
            open,
        } => {
            let number = match value {
                Value::String(name) => variants
                    .iter()
                    .find(|v| &v.name == name)
                    .map(|v| v.value)
                    .ok_or_else(|| {
                    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                    ValueError::new(format!(
                        "`{name}` is not a value of enum `{}`; it has {}",
                        d.name(),
                        names.join(", ")
                    ))
                })?,
                other => {
                    let n = other
                        .as_i128()
                        .ok_or_else(|| expected("a variant name or a number", other))?;
                    if !*open && !variants.iter().any(|v| v.value == n) {
                        return Err(ValueError::new(format!(
                            "{n} is not a value of enum `{}`",
                            d.name()
                        )));
                    }
                    n
                }
            };
            write_int(*repr, number, out).map_err(ValueError::new)
        }
        Kind::Bitmask { repr, flags } => {
            let bits: i128 = match value {
                Value::Array(items) => {
                    let mut bits = 0i128;
                    for (i, item) in items.iter().enumerate() {
                        let position = match item {
                            Value::String(name) => flags
                                .iter()
                                .find(|f| &f.name == name)
                                .map(|f| f.position)
                                .ok_or_else(|| {
                                    ValueError::new(format!(
                                        "`{name}` is not a flag of bitmask `{}`",
                                        d.name()
                                    ))
                                    .in_element(i)
                                })?,
                            other => other
                                .as_i128()
                                .and_then(|p| u32::try_from(p).ok())
                                .filter(|&p| p < 8 * repr.size() as u32)
                                .ok_or_else(|| {
                                    expected("a flag name or a bit position", other).in_element(i)
                                })?,
                        };
                        bits |= 1 << position;
                    }
                    bits
                }
                other => other
                    .as_i128()
                    .ok_or_else(|| expected("an array of flag names, or a number", other))?,
            };
            write_int(*repr, bits, out).map_err(ValueError::new)
        }
        Kind::Struct { fields } => {
            let Value::Map(entries) = value else {
                return Err(expected(
                    &format!("a map of the fields of `{}`", d.name()),
                    value,
                ));
            };
            if let Some((key, _)) = entries
                .iter()
                .find(|(k, _)| !fields.iter().any(|f| &f.name == k))
            {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(ValueError::new(format!(
                    "`{key}` is not a field of `{}`; it has {}",
                    d.name(),
                    names.join(", ")
                )));
            }
            for f in fields {
                let given = value
                    .get(&f.name)
                    .ok_or_else(|| ValueError::new("missing").in_field(&f.name))?;
                let slot = out
                    .get_mut(f.offset..f.offset + f.ty.size())
                    .ok_or_else(|| ValueError::new("no room").in_field(&f.name))?;
                encode(&f.ty, given, slot).map_err(|e| e.in_field(&f.name))?;
            }
            Ok(())
        }
        Kind::Union { fields, cases } => encode_union(d, fields, cases, value, out),
    }
}

fn encode_primitive(p: Primitive, value: &Value, out: &mut [u8]) -> Result<(), ValueError> {
    match p {
        Primitive::Bool => match value {
            Value::Bool(b) => {
                out[0] = u8::from(*b);
                Ok(())
            }
            other => Err(expected("true or false", other)),
        },
        Primitive::F32 => {
            // An `f32` value is written as it is: through `f64` a NaN's payload could
            // change (a signalling NaN comes back quiet).
            let f = match value {
                Value::F32(f) => *f,
                other => float(other).ok_or_else(|| expected("a number", other))? as f32,
            };
            out[..4].copy_from_slice(&f.to_ne_bytes());
            Ok(())
        }
        Primitive::F64 => {
            let f = float(value).ok_or_else(|| expected("a number", value))?;
            out[..8].copy_from_slice(&f.to_ne_bytes());
            Ok(())
        }
        _ => {
            let n = value
                .as_i128()
                .ok_or_else(|| expected(&format!("an integer ({p})"), value))?;
            write_int(p, n, out).map_err(ValueError::new)
        }
    }
}

fn encode_elements(
    element: &Descriptor,
    items: &[Value],
    out: &mut [u8],
    start: usize,
) -> Result<(), ValueError> {
    for (i, item) in items.iter().enumerate() {
        let at = start + i * element.size();
        let slot = out
            .get_mut(at..at + element.size())
            .ok_or_else(|| ValueError::new("no room").in_element(i))?;
        fill(element, slot);
        encode(element, item, slot).map_err(|e| e.in_element(i))?;
    }
    Ok(())
}

fn encode_union(
    d: &Descriptor,
    fields: &[super::descriptor::Field],
    cases: &[super::descriptor::Case],
    value: &Value,
    out: &mut [u8],
) -> Result<(), ValueError> {
    let Value::Map(entries) = value else {
        return Err(expected(
            &format!("a map with one branch of union `{}`", d.name()),
            value,
        ));
    };
    let Some(discriminator) = fields.first() else {
        return Err(ValueError::new("a union without a discriminator"));
    };
    let mut branch = None;
    for (key, given) in entries {
        if key == &discriminator.name {
            continue;
        }
        let Some(i) = fields.iter().position(|f| &f.name == key) else {
            let names: Vec<&str> = fields[1..].iter().map(|f| f.name.as_str()).collect();
            return Err(ValueError::new(format!(
                "`{key}` is not a branch of union `{}`; it has {}",
                d.name(),
                names.join(", ")
            )));
        };
        if branch.is_some() {
            return Err(ValueError::new(format!(
                "a union holds one branch; `{key}` is a second one"
            )));
        }
        branch = Some((i, given));
    }
    let slot = |f: &super::descriptor::Field, out: &mut [u8]| -> Result<(), ValueError> {
        out.get_mut(f.offset..f.offset + f.ty.size())
            .map(drop)
            .ok_or_else(|| ValueError::new("no room").in_field(&f.name))
    };
    slot(discriminator, out)?;
    let at = discriminator.offset..discriminator.offset + discriminator.ty.size();
    match value.get(&discriminator.name) {
        Some(given) => encode(&discriminator.ty, given, &mut out[at.clone()])
            .map_err(|e| e.in_field(&discriminator.name))?,
        None => {
            // The branch's first label, or for the default case a value no case names.
            let label = match branch {
                Some((i, _)) => {
                    let case = cases.iter().find(|c| c.field == i).ok_or_else(|| {
                        ValueError::new("no case selects this branch").in_field(&fields[i].name)
                    })?;
                    match case.labels.first() {
                        Some(&label) => label,
                        None => (0i128..)
                            .find(|v| !cases.iter().any(|c| c.labels.contains(v)))
                            .unwrap_or(0),
                    }
                }
                None => {
                    return Err(ValueError::new(format!(
                        "give a branch of union `{}`, or its discriminator `{}`",
                        d.name(),
                        discriminator.name
                    )));
                }
            };
            let disc = match discriminator.ty.kind() {
                Kind::Enum { repr, .. } => *repr,
                Kind::Primitive(p) => *p,
                _ => return Err(ValueError::new("the discriminator is not an integer")),
            };
            write_int(disc, label, &mut out[at.clone()])
                .map_err(|e| ValueError::new(e).in_field(&discriminator.name))?;
        }
    }
    let selected = selected_branch(d, &out[at]);
    if let Some((i, given)) = branch {
        if selected != Some(i) {
            return Err(ValueError::new(format!(
                "the discriminator does not select branch `{}`",
                fields[i].name
            )));
        }
        let f = &fields[i];
        slot(f, out)?;
        encode(&f.ty, given, &mut out[f.offset..f.offset + f.ty.size()])
            .map_err(|e| e.in_field(&f.name))?;
    } else if let Some(i) = selected {
        return Err(ValueError::new(format!(
            "the discriminator selects branch `{}`, which is not given",
            fields[i].name
        )));
    }
    Ok(())
}

// ---- serde --------------------------------------------------------------------------

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// Formats like JSON have no NaN or infinity: those are written as strings.
        fn non_finite(f: f64) -> &'static str {
            if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "inf"
            } else {
                "-inf"
            }
        }
        match self {
            Value::Null => serializer.serialize_none(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::UInt(u) => serializer.serialize_u64(*u),
            Value::F32(f) if f.is_finite() => serializer.serialize_f32(*f),
            Value::F32(f) => serializer.serialize_str(non_finite(f64::from(*f))),
            Value::Float(f) if f.is_finite() => serializer.serialize_f64(*f),
            Value::Float(f) => serializer.serialize_str(non_finite(*f)),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message value (a map, array, string, number, bool or null)")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}
