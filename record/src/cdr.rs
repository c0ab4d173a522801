//! Messages between their fixed layout in shared memory and CDR: XCDR1, little-endian,
//! with the encapsulation header `00 01 00 00` (the `cdr` message encoding of MCAP), as
//! the IDL of [`crate::idl`] describes them.
//!
//! The walk follows the descriptor: each primitive aligned to its size (8 for 64-bit
//! values) from the origin after the header; arrays of primitives in one copy; strings as a
//! length with the terminating NUL, then the bytes and the NUL; sequences as a count, then
//! the elements; enums as 4 bytes whatever their stored width; bitmasks at their width; a
//! union's discriminator, then the branch it selects (nothing when it selects none);
//! optionals as an XCDR1 parameter header (member id, length; length 0 when absent), after
//! which alignment counts from the end of that header, as the XCDR1 rules (and every
//! reader) have it.
//!
//! Decoding trusts nothing: every length and count is checked against the bytes left and
//! the capacity, every value against its type; the result is validated as a typed receiver
//! would before it is used.

use shmbus::message::dynamic::{ContainerLayout, Field, Kind};
use shmbus::message::{Descriptor, Primitive};

/// The encapsulation header of XCDR1 little-endian (`CDR_LE`).
pub const HEADER: [u8; 4] = [0x00, 0x01, 0x00, 0x00];

/// Why CDR bytes are not a message of the type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "CDR bytes do not decode as `{type_name}`: {problem} (field `{path}`, byte {at} of the CDR data)"
)]
pub struct CdrError {
    /// The message type.
    pub type_name: String,
    /// The field, as a path (`pose.position.x`, `points[2]`).
    pub path: String,
    /// Where in the CDR bytes.
    pub at: usize,
    /// What is wrong.
    pub problem: String,
}

// ---- encoding ---------------------------------------------------------------------------

struct Out<'a> {
    buf: &'a mut Vec<u8>,
    origin: usize,
}

impl Out<'_> {
    fn align(&mut self, n: usize) {
        let at = self.buf.len() - self.origin;
        let pad = at.next_multiple_of(n) - at;
        self.buf.resize(self.buf.len() + pad, 0);
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

/// Reads an integer of `size` bytes (native byte order, as the fixed layout stores it).
fn int_at(bytes: &[u8], at: usize, size: usize, signed: bool) -> i128 {
    let mut raw = [0u8; 8];
    if let Some(src) = bytes.get(at..at + size) {
        raw[..size].copy_from_slice(src);
    }
    let u = u64::from_ne_bytes(raw);
    if signed && size < 8 {
        let shift = 64 - 8 * size as u32;
        i128::from(((u << shift) as i64) >> shift)
    } else if signed {
        i128::from(u as i64)
    } else if size < 8 {
        i128::from(u & ((1u64 << (8 * size)) - 1))
    } else {
        i128::from(u)
    }
}

fn length_at(bytes: &[u8], capacity: usize) -> usize {
    (int_at(bytes, 0, 4, false) as usize).min(capacity)
}

/// Appends the CDR stream of the message `bytes` (valid, of type `message`) to `out`,
/// header first.
pub fn encode(message: &Descriptor, bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&HEADER);
    let origin = out.len();
    let mut o = Out { buf: out, origin };
    encode_value(&mut o, message, bytes, 0);
}

/// The CDR stream of the message `bytes`, header first.
pub fn to_cdr(message: &Descriptor, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    encode(message, bytes, &mut out);
    out
}

/// Encodes one value; `member` is its member id if it is an optional member.
fn encode_value(o: &mut Out<'_>, d: &Descriptor, bytes: &[u8], member: u32) {
    let part = |at: usize, len: usize| bytes.get(at..at + len).unwrap_or(&[]);
    match d.kind() {
        Kind::Primitive(p) => encode_primitive(o, *p, bytes),
        Kind::Array { len, element } => {
            if let Kind::Primitive(p) = element.kind()
                && *p != Primitive::Bool
            {
                // The fixed layout is the CDR layout (little-endian host): one copy.
                o.align(p.size().min(8));
                o.put(part(0, len * element.size()));
            } else {
                for i in 0..*len {
                    encode_value(o, element, part(i * element.size(), element.size()), 0);
                }
            }
        }
        Kind::FixedString { capacity } => {
            let len = length_at(bytes, *capacity);
            o.align(4);
            o.put(&(len as u32 + 1).to_le_bytes());
            o.put(part(ContainerLayout::with_length(1).data, len));
            o.put(&[0]);
        }
        Kind::FixedVec { capacity, element } => {
            let len = length_at(bytes, *capacity);
            let data = ContainerLayout::with_length(element.align()).data;
            o.align(4);
            o.put(&(len as u32).to_le_bytes());
            if let Kind::Primitive(p) = element.kind()
                && *p != Primitive::Bool
            {
                if len > 0 {
                    o.align(p.size().min(8));
                }
                o.put(part(data, len * element.size()));
            } else {
                for i in 0..len {
                    encode_value(
                        o,
                        element,
                        part(data + i * element.size(), element.size()),
                        0,
                    );
                }
            }
        }
        Kind::Optional { element } => {
            let present = bytes.first() == Some(&1);
            o.align(4);
            let header_at = o.buf.len();
            o.put(&[0; 4]);
            let value_at = o.buf.len();
            o.origin = value_at;
            if present {
                let data = ContainerLayout::with_flag(element.align()).data;
                encode_value(o, element, part(data, element.size()), 0);
            }
            // (Measured from where the value starts: an optional inside it moved the origin.)
            let size = o.buf.len() - value_at;
            if size <= 0xffff && member <= 0x3f00 {
                o.buf[header_at..header_at + 2].copy_from_slice(&(member as u16).to_le_bytes());
                o.buf[header_at + 2..header_at + 4].copy_from_slice(&(size as u16).to_le_bytes());
            } else {
                // The extended parameter header: 0x3f01, 8, then id and size as u32.
                // (The value moves 8 bytes on; its own alignment counted from its start,
                // which stays its origin, so its bytes are unchanged.)
                let value: Vec<u8> = o.buf.split_off(header_at + 4);
                let moved_origin = o.origin - value_at;
                o.buf[header_at..header_at + 2].copy_from_slice(&0x3f01u16.to_le_bytes());
                o.buf[header_at + 2..header_at + 4].copy_from_slice(&8u16.to_le_bytes());
                o.put(&member.to_le_bytes());
                o.put(&(value.len() as u32).to_le_bytes());
                let new_value_at = o.buf.len();
                o.put(&value);
                o.origin = new_value_at + moved_origin;
            }
        }
        Kind::Enum { repr, .. } => {
            let value = int_at(bytes, 0, repr.size(), repr.is_signed());
            o.align(4);
            o.put(&(value as u32).to_le_bytes());
        }
        Kind::Bitmask { repr, .. } => encode_primitive(o, *repr, bytes),
        Kind::Struct { fields } => {
            for (i, f) in fields.iter().enumerate() {
                encode_value(o, &f.ty, part(f.offset, f.ty.size()), i as u32);
            }
        }
        Kind::Union { fields, .. } => {
            let Some(discriminator) = fields.first() else {
                return;
            };
            let raw = part(discriminator.offset, discriminator.ty.size());
            encode_value(o, &discriminator.ty, raw, 0);
            if let Some(branch) = selected(d, fields, raw) {
                encode_value(o, &branch.ty, part(branch.offset, branch.ty.size()), 0);
            }
        }
        _ => {}
    }
}

fn encode_primitive(o: &mut Out<'_>, p: Primitive, bytes: &[u8]) {
    let size = p.size();
    o.align(size.min(8));
    match p {
        Primitive::Bool => o.put(&[u8::from(bytes.first().is_some_and(|b| *b != 0))]),
        _ => {
            let raw = bytes.get(..size).unwrap_or(&[]);
            // Native to little-endian (a no-op on the little-endian machines shmbus runs on).
            let mut le = [0u8; 8];
            le[..raw.len()].copy_from_slice(raw);
            if cfg!(target_endian = "big") {
                le[..size].reverse();
            }
            o.put(&le[..size]);
        }
    }
}

/// The value of a union's discriminator, by its type.
fn discriminator_value(d: &Descriptor, raw: &[u8]) -> Option<i128> {
    Some(match d.kind() {
        Kind::Primitive(Primitive::Bool) => i128::from(raw.first().is_some_and(|b| *b != 0)),
        Kind::Primitive(p) if p.is_integer() => int_at(raw, 0, p.size(), p.is_signed()),
        Kind::Enum { repr, .. } | Kind::Bitmask { repr, .. } => {
            int_at(raw, 0, repr.size(), repr.is_signed())
        }
        _ => return None,
    })
}

/// The branch the discriminator bytes `raw` select.
fn selected<'f>(d: &Descriptor, fields: &'f [Field], raw: &[u8]) -> Option<&'f Field> {
    let Kind::Union { cases, .. } = d.kind() else {
        return None;
    };
    let value = discriminator_value(&fields.first()?.ty, raw)?;
    let case = cases
        .iter()
        .find(|c| c.labels.contains(&value))
        .or_else(|| cases.iter().find(|c| c.is_default))?;
    fields.get(case.field)
}

// ---- decoding ---------------------------------------------------------------------------

struct In<'a> {
    cdr: &'a [u8],
    at: usize,
    origin: usize,
    path: Vec<String>,
    type_name: &'a str,
}

impl<'a> In<'a> {
    fn fail(&self, problem: impl Into<String>) -> CdrError {
        CdrError {
            type_name: self.type_name.to_owned(),
            path: self.path.join(".").replace(".[", "["),
            at: self.at,
            problem: problem.into(),
        }
    }

    fn align(&mut self, n: usize) -> Result<(), CdrError> {
        let rel = self.at - self.origin;
        let to = self.origin + rel.next_multiple_of(n);
        if to > self.cdr.len() {
            return Err(self.fail("the data ends in padding"));
        }
        self.at = to;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CdrError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.cdr.len())
            .ok_or_else(|| self.fail(format!("{n} more bytes needed, the data ends")))?;
        let cdr: &'a [u8] = self.cdr;
        let bytes = &cdr[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, CdrError> {
        self.align(4)?;
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u16(&mut self) -> Result<u16, CdrError> {
        self.align(2)?;
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
}

/// The message in the CDR stream `cdr` (header first), in its fixed layout, validated as a
/// typed receiver validates it.
pub fn from_cdr(message: &Descriptor, cdr: &[u8]) -> Result<Vec<u8>, CdrError> {
    let fail = |problem: String| CdrError {
        type_name: message.name().to_owned(),
        path: String::new(),
        at: 0,
        problem,
    };
    let header = cdr
        .get(..4)
        .ok_or_else(|| fail("shorter than the encapsulation header".into()))?;
    if header[0] != 0 || header[1] != 1 {
        return Err(fail(format!(
            "encapsulation {:02x} {:02x}: only XCDR1 little-endian (00 01) is read",
            header[0], header[1]
        )));
    }
    let mut input = In {
        cdr,
        at: 4,
        origin: 4,
        path: Vec::new(),
        type_name: message.name(),
    };
    let mut out = message.filler();
    decode_value(&mut input, message, &mut out)?;
    message
        .validate(&out)
        .map_err(|e| fail(format!("the decoded message is not valid: {e}")))?;
    Ok(out)
}

fn decode_value(i: &mut In<'_>, d: &Descriptor, out: &mut [u8]) -> Result<(), CdrError> {
    match d.kind() {
        Kind::Primitive(p) => decode_primitive(i, *p, out),
        Kind::Array { len, element } => {
            if let Kind::Primitive(p) = element.kind()
                && *p != Primitive::Bool
                && cfg!(target_endian = "little")
            {
                i.align(p.size().min(8))?;
                let bytes = i.take(len * element.size())?;
                out[..bytes.len()].copy_from_slice(bytes);
                Ok(())
            } else {
                for k in 0..*len {
                    i.path.push(format!("[{k}]"));
                    let at = k * element.size();
                    decode_value(i, element, &mut out[at..at + element.size()])?;
                    i.path.pop();
                }
                Ok(())
            }
        }
        Kind::FixedString { capacity } => {
            let len = i.u32()? as usize;
            if len == 0 {
                // Some writers send an empty string as a length of 0, no NUL.
                out[..4].copy_from_slice(&0u32.to_ne_bytes());
                return Ok(());
            }
            let bytes = i.take(len)?;
            let (text, nul) = bytes.split_at(len - 1);
            if nul != [0] {
                return Err(i.fail("a string does not end in NUL"));
            }
            if text.len() > *capacity {
                return Err(i.fail(format!(
                    "a string of {} bytes does not fit the capacity of {capacity}",
                    text.len()
                )));
            }
            out[..4].copy_from_slice(&(text.len() as u32).to_ne_bytes());
            let data = ContainerLayout::with_length(1).data;
            out[data..data + text.len()].copy_from_slice(text);
            Ok(())
        }
        Kind::FixedVec { capacity, element } => {
            let len = i.u32()? as usize;
            if len > *capacity {
                return Err(i.fail(format!(
                    "a sequence of {len} elements does not fit the capacity of {capacity}"
                )));
            }
            out[..4].copy_from_slice(&(len as u32).to_ne_bytes());
            let data = ContainerLayout::with_length(element.align()).data;
            for k in 0..len {
                i.path.push(format!("[{k}]"));
                let at = data + k * element.size();
                decode_value(i, element, &mut out[at..at + element.size()])?;
                i.path.pop();
            }
            Ok(())
        }
        Kind::Optional { element } => {
            i.align(4)?;
            let _id = i.u16()?;
            let mut size = usize::from(i.u16()?);
            let pid = u16::from_le_bytes([i.cdr[i.at - 4], i.cdr[i.at - 3]]) & 0x3fff;
            if pid == 0x3f01 {
                let _id = i.u32()?;
                size = i.u32()? as usize;
            }
            i.origin = i.at;
            if size == 0 {
                out[0] = 0;
                return Ok(());
            }
            out[0] = 1;
            let data = ContainerLayout::with_flag(element.align()).data;
            let start = i.at;
            decode_value(i, element, &mut out[data..data + element.size()])?;
            if i.at - start > size {
                return Err(i.fail(format!(
                    "an optional value takes {} bytes, its header says {size}",
                    i.at - start
                )));
            }
            i.at = start + size;
            Ok(())
        }
        Kind::Enum { repr, .. } => {
            let raw = i.u32()?;
            let value = if repr.is_signed() {
                i128::from(raw as i32)
            } else {
                i128::from(raw)
            };
            write_int(i, *repr, value, out)
        }
        Kind::Bitmask { repr, .. } => decode_primitive(i, *repr, out),
        Kind::Struct { fields } => {
            for f in fields {
                i.path.push(f.name.clone());
                decode_value(i, &f.ty, &mut out[f.offset..f.offset + f.ty.size()])?;
                i.path.pop();
            }
            Ok(())
        }
        Kind::Union { fields, .. } => {
            let Some(discriminator) = fields.first() else {
                return Ok(());
            };
            let at = discriminator.offset;
            i.path.push(discriminator.name.clone());
            decode_value(
                i,
                &discriminator.ty,
                &mut out[at..at + discriminator.ty.size()],
            )?;
            i.path.pop();
            let raw = out[at..at + discriminator.ty.size()].to_vec();
            if let Some(branch) = selected(d, fields, &raw) {
                i.path.push(branch.name.clone());
                decode_value(
                    i,
                    &branch.ty,
                    &mut out[branch.offset..branch.offset + branch.ty.size()],
                )?;
                i.path.pop();
            }
            Ok(())
        }
        _ => Err(i.fail(format!("`{d}` is a kind this reader does not know"))),
    }
}

fn decode_primitive(i: &mut In<'_>, p: Primitive, out: &mut [u8]) -> Result<(), CdrError> {
    let size = p.size();
    i.align(size.min(8))?;
    let bytes = i.take(size)?;
    if p == Primitive::Bool && bytes[0] > 1 {
        return Err(i.fail(format!("a boolean of {}", bytes[0])));
    }
    let mut native = [0u8; 8];
    native[..size].copy_from_slice(bytes);
    if cfg!(target_endian = "big") {
        native[..size].reverse();
    }
    out[..size].copy_from_slice(&native[..size]);
    Ok(())
}

fn write_int(i: &In<'_>, repr: Primitive, value: i128, out: &mut [u8]) -> Result<(), CdrError> {
    let size = repr.size();
    let bits = 8 * size as u32;
    let fits = if repr.is_signed() {
        let min = -(1i128 << (bits - 1));
        (min..-min).contains(&value)
    } else {
        (0..1i128 << bits).contains(&value)
    };
    if !fits {
        return Err(i.fail(format!("{value} does not fit {repr}")));
    }
    let bytes = (value as u64).to_ne_bytes();
    let start = if cfg!(target_endian = "big") {
        8 - size
    } else {
        0
    };
    out[..size].copy_from_slice(&bytes[start..start + size]);
    Ok(())
}
