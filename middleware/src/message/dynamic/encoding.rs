//! The binary encoding of a [`Descriptor`], versioned: how a service stores the full type
//! it carries, so that a process without the Rust type can open it, and how a recording or
//! a bridge carries it.
//!
//! ## Format (version 1, little-endian)
//!
//! | bytes | field |
//! |-------|-------|
//! | 4 | magic `SHMD` |
//! | 2 | format version ([`FORMAT_VERSION`]) |
//! | 2 | reserved, 0 |
//! | 4 | node count `n` |
//! | 8 | the layout hash of the root node (the last one) |
//! | … | `n` nodes |
//!
//! A node is its kind tag (`u8`, [`TypeKind::tag`](crate::message::TypeKind::tag)), size
//! (`u64`), alignment (`u64`) and name (a string: `u32` length, UTF-8 bytes), then by kind:
//!
//! | kind | data |
//! |------|------|
//! | primitive | its code (`u8`, [`Primitive::code`]) |
//! | array | length (`u64`), element (`u32` node index) |
//! | fixed string | capacity (`u64`) |
//! | fixed vec | capacity (`u64`), element (`u32`) |
//! | optional | element (`u32`) |
//! | enum | repr code (`u8`), open (`u8`), count (`u32`), then per variant: name, value (`i128`) |
//! | struct | count (`u32`), then per field: name, offset (`u64`), type (`u32`) |
//! | bitmask | repr code (`u8`), count (`u32`), then per flag: name, position (`u32`) |
//! | union | fields as a struct's, then count (`u32`) and per case: branch (`u32`), default (`u8`), label count (`u32`), labels (`i128` each) |
//!
//! A node refers only to nodes before it, so the encoding is a DAG in topological order and
//! shared types are written once. Decoding trusts nothing: every length is checked against
//! the bytes left, every index against the nodes decoded so far, every size, offset and
//! alignment against the layout rules, nesting is bounded ([`MAX_DEPTH`]); and the layout
//! hash recomputed from the decoded tree must equal the stored one. (The work of checking a
//! value needs no bound of its own: every part checked is at least a byte of the value, and
//! a value exists only in memory that was mapped for it.) A hostile or corrupted encoding is an error
//! naming the byte where decoding stopped, never a panic.

use std::collections::HashMap;
use std::fmt;

use zerocopy::FromBytes;
use zerocopy::little_endian::{I128, U16, U32, U64};

use super::descriptor::{Case, ContainerLayout, Descriptor, Field, Flag, Kind, Variant};
use crate::message::descriptor::Primitive;

/// The version of the format this module writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// The deepest nesting a decoded descriptor may have.
pub const MAX_DEPTH: u32 = 64;
/// The strictest alignment a message type may have (a page).
pub const MAX_ALIGN: usize = 4096;

const MAGIC: &[u8; 4] = b"SHMD";
/// The longest name of a type, field, variant or flag, in bytes.
const MAX_NAME: usize = 4096;
/// The smallest a node can be: tag, size, alignment, empty name.
const MIN_NODE_BYTES: usize = 1 + 8 + 8 + 4;

/// A descriptor that cannot be encoded (it breaks a limit of the format).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the type `{name}` cannot be described for other processes: {problem}")]
pub struct EncodeError {
    /// The type (or the nested type) at fault.
    pub name: String,
    /// What is wrong.
    pub problem: String,
}

/// Stored bytes that are not a valid encoded descriptor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored type description is corrupted at byte {at}: {problem}")]
pub struct DecodeError {
    /// Where decoding stopped.
    pub at: usize,
    /// What is wrong.
    pub problem: String,
}

impl Descriptor {
    /// The encoding of this descriptor (see the module docs).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut writer = Writer {
            out: Vec::new(),
            index: HashMap::new(),
            count: 0,
        };
        writer.out.extend_from_slice(MAGIC);
        writer.out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        writer.out.extend_from_slice(&0u16.to_le_bytes());
        writer.out.extend_from_slice(&0u32.to_le_bytes()); // node count, patched below
        writer
            .out
            .extend_from_slice(&self.layout_hash().to_le_bytes());
        writer.node(self, 0)?;
        let count = writer.count.to_le_bytes();
        writer.out[8..12].copy_from_slice(&count);
        Ok(writer.out)
    }

    /// Decodes an encoded descriptor, checking everything (see the module docs).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader { bytes, at: 0 };
        let magic = reader.take_bytes(4)?;
        if magic != MAGIC {
            return Err(reader.fail_at(0, "it does not start with the magic `SHMD`"));
        }
        let version = reader.take::<U16>()?.get();
        if version != FORMAT_VERSION {
            return Err(reader.fail_at(
                4,
                format!(
                    "format version {version}; this shmbus reads version {FORMAT_VERSION}: upgrade the older side"
                ),
            ));
        }
        reader.take::<U16>()?;
        let count = reader.take::<U32>()?.get() as usize;
        let root_hash = reader.take::<U64>()?.get();
        if count == 0 {
            return Err(reader.fail("it holds no type"));
        }
        if count > reader.left() / MIN_NODE_BYTES {
            return Err(reader.fail(format!(
                "it claims {count} types but only {} bytes follow",
                reader.left()
            )));
        }
        let mut nodes: Vec<Decoded> = Vec::with_capacity(count);
        for _ in 0..count {
            let node = reader.node(&nodes)?;
            nodes.push(node);
        }
        if reader.left() != 0 {
            return Err(reader.fail(format!("{} bytes follow the last type", reader.left())));
        }
        let root = nodes
            .pop()
            .map(|n| n.descriptor)
            .ok_or_else(|| reader.fail("no root"))?;
        if root.layout_hash() != root_hash {
            return Err(reader.fail_at(
                12,
                format!(
                    "the stored layout hash {root_hash:#018x} is not the hash of the stored type ({:#018x})",
                    root.layout_hash()
                ),
            ));
        }
        Ok(root)
    }
}

// ---- writing --------------------------------------------------------------------------

struct Writer {
    out: Vec<u8>,
    /// Node index of every node written, by identity.
    index: HashMap<*const (), u32>,
    count: u32,
}

impl Writer {
    /// Writes `d` after its children, once; returns its index.
    fn node(&mut self, d: &Descriptor, depth: u32) -> Result<u32, EncodeError> {
        let key = std::ptr::from_ref(d.kind()).cast::<()>();
        if let Some(&i) = self.index.get(&key) {
            return Ok(i);
        }
        let fail = |problem: String| EncodeError {
            name: d.to_string(),
            problem,
        };
        if depth >= MAX_DEPTH {
            return Err(fail(format!("it nests deeper than {MAX_DEPTH} levels")));
        }
        if d.align() > MAX_ALIGN {
            return Err(fail(format!(
                "it is aligned to {} bytes; at most {MAX_ALIGN} is supported",
                d.align()
            )));
        }
        // Children first, so that references always point backwards.
        let children = |list: &[&Descriptor], w: &mut Self| -> Result<Vec<u32>, EncodeError> {
            list.iter().map(|c| w.node(c, depth + 1)).collect()
        };
        let elements: Vec<u32> = match d.kind() {
            Kind::Array { element, .. }
            | Kind::FixedVec { element, .. }
            | Kind::Optional { element } => children(&[element], self)?,
            Kind::Struct { fields } | Kind::Union { fields, .. } => {
                let list: Vec<&Descriptor> = fields.iter().map(|f| &f.ty).collect();
                children(&list, self)?
            }
            _ => Vec::new(),
        };
        let out = &mut self.out;
        out.push(d.kind().tag());
        out.extend_from_slice(&(d.size() as u64).to_le_bytes());
        out.extend_from_slice(&(d.align() as u64).to_le_bytes());
        put_str(out, d.name()).map_err(fail)?;
        let count = |n: usize| u32::try_from(n).map_err(|_| format!("{n} entries are too many"));
        match d.kind() {
            Kind::Primitive(p) => out.push(p.code() as u8),
            Kind::Array { len, .. } => {
                out.extend_from_slice(&(*len as u64).to_le_bytes());
                out.extend_from_slice(&elements[0].to_le_bytes());
            }
            Kind::FixedString { capacity } => {
                out.extend_from_slice(&(*capacity as u64).to_le_bytes());
            }
            Kind::FixedVec { capacity, .. } => {
                out.extend_from_slice(&(*capacity as u64).to_le_bytes());
                out.extend_from_slice(&elements[0].to_le_bytes());
            }
            Kind::Optional { .. } => out.extend_from_slice(&elements[0].to_le_bytes()),
            Kind::Enum {
                repr,
                variants,
                open,
            } => {
                out.push(repr.code() as u8);
                out.push(u8::from(*open));
                out.extend_from_slice(&count(variants.len()).map_err(fail)?.to_le_bytes());
                for v in variants {
                    put_str(out, &v.name).map_err(fail)?;
                    out.extend_from_slice(&v.value.to_le_bytes());
                }
            }
            Kind::Struct { fields } => put_fields(out, fields, &elements).map_err(fail)?,
            Kind::Bitmask { repr, flags } => {
                out.push(repr.code() as u8);
                out.extend_from_slice(&count(flags.len()).map_err(fail)?.to_le_bytes());
                for f in flags {
                    put_str(out, &f.name).map_err(fail)?;
                    out.extend_from_slice(&f.position.to_le_bytes());
                }
            }
            Kind::Union { fields, cases } => {
                put_fields(out, fields, &elements).map_err(fail)?;
                out.extend_from_slice(&count(cases.len()).map_err(fail)?.to_le_bytes());
                for c in cases {
                    out.extend_from_slice(&count(c.field).map_err(fail)?.to_le_bytes());
                    out.push(u8::from(c.is_default));
                    out.extend_from_slice(&count(c.labels.len()).map_err(fail)?.to_le_bytes());
                    for label in &c.labels {
                        out.extend_from_slice(&label.to_le_bytes());
                    }
                }
            }
        }
        let i = self.count;
        self.count += 1;
        self.index.insert(key, i);
        Ok(i)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), String> {
    if s.len() > MAX_NAME {
        let mut cut = 32;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        return Err(format!(
            "the name `{}…` is {} bytes long; at most {MAX_NAME} are supported",
            &s[..cut],
            s.len()
        ));
    }
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_fields(out: &mut Vec<u8>, fields: &[Field], types: &[u32]) -> Result<(), String> {
    let n = u32::try_from(fields.len()).map_err(|_| "too many fields".to_owned())?;
    out.extend_from_slice(&n.to_le_bytes());
    for (f, ty) in fields.iter().zip(types) {
        put_str(out, &f.name)?;
        out.extend_from_slice(&(f.offset as u64).to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
    }
    Ok(())
}

// ---- reading --------------------------------------------------------------------------

/// A decoded node with what the limits need.
struct Decoded {
    descriptor: Descriptor,
    depth: u32,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn fail(&self, problem: impl fmt::Display) -> DecodeError {
        self.fail_at(self.at, problem)
    }

    fn fail_at(&self, at: usize, problem: impl fmt::Display) -> DecodeError {
        DecodeError {
            at,
            problem: problem.to_string(),
        }
    }

    /// A fixed-size little-endian value (zerocopy reads it from the bytes).
    fn take<T: FromBytes + zerocopy::KnownLayout + zerocopy::Immutable>(
        &mut self,
    ) -> Result<T, DecodeError> {
        let rest = &self.bytes[self.at..];
        match T::read_from_prefix(rest) {
            Ok((value, _)) => {
                self.at += size_of::<T>();
                Ok(value)
            }
            Err(_) => Err(self.fail(format!(
                "it ends in the middle of a {}-byte value",
                size_of::<T>()
            ))),
        }
    }

    fn take_u8(&mut self) -> Result<u8, DecodeError> {
        self.take::<u8>()
    }

    fn take_usize(&mut self, what: &str) -> Result<usize, DecodeError> {
        let at = self.at;
        let value = self.take::<U64>()?.get();
        usize::try_from(value)
            .ok()
            .filter(|&v| v <= isize::MAX as usize / 2)
            .ok_or_else(|| self.fail_at(at, format!("{what} {value} is out of range")))
    }

    fn take_bytes(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if n > self.left() {
            return Err(self.fail(format!("it ends {} bytes short", n - self.left())));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn take_str(&mut self) -> Result<String, DecodeError> {
        let at = self.at;
        let len = self.take::<U32>()?.get() as usize;
        if len > MAX_NAME {
            return Err(self.fail_at(at, format!("a name of {len} bytes (at most {MAX_NAME})")));
        }
        let bytes = self.take_bytes(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.fail_at(at + 4, "a name is not UTF-8"))
    }

    /// A count of entries that are each at least `entry` bytes long: never more than the
    /// bytes left can hold, so no allocation is larger than the input.
    fn take_count(&mut self, entry: usize, what: &str) -> Result<usize, DecodeError> {
        let at = self.at;
        let n = self.take::<U32>()?.get() as usize;
        if n > self.left() / entry.max(1) {
            return Err(self.fail_at(
                at,
                format!("{n} {what} cannot fit in the {} bytes left", self.left()),
            ));
        }
        Ok(n)
    }

    fn take_ref<'n>(&mut self, nodes: &'n [Decoded]) -> Result<&'n Decoded, DecodeError> {
        let at = self.at;
        let i = self.take::<U32>()?.get() as usize;
        nodes.get(i).ok_or_else(|| {
            self.fail_at(
                at,
                format!(
                    "a reference to type {i}, but only {} come before it",
                    nodes.len()
                ),
            )
        })
    }

    fn take_primitive(&mut self, what: &str) -> Result<Primitive, DecodeError> {
        let at = self.at;
        let code = self.take_u8()?;
        Primitive::from_code(u64::from(code))
            .ok_or_else(|| self.fail_at(at, format!("unknown {what} code {code}")))
    }

    fn take_fields(&mut self, nodes: &[Decoded]) -> Result<Vec<(Field, u32)>, DecodeError> {
        let n = self.take_count(4 + 8 + 4, "fields")?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.take_str()?;
            let offset = self.take_usize("a field offset")?;
            let ty = self.take_ref(nodes)?;
            fields.push((
                Field {
                    name,
                    offset,
                    ty: ty.descriptor.clone(),
                },
                ty.depth,
            ));
        }
        Ok(fields)
    }

    /// One node, checked against the layout rules and the limits.
    fn node(&mut self, nodes: &[Decoded]) -> Result<Decoded, DecodeError> {
        let start = self.at;
        let tag = self.take_u8()?;
        let size = self.take_usize("a size")?;
        let align = self.take_usize("an alignment")?;
        let name = self.take_str()?;
        if !align.is_power_of_two() || align > MAX_ALIGN || !size.is_multiple_of(align) {
            return Err(self.fail_at(
                start,
                format!("`{name}` has size {size} and alignment {align}, which no type can have"),
            ));
        }
        let bad = |this: &Self, what: String| this.fail_at(start, format!("`{name}`: {what}"));
        let mut depth = 1;
        let kind = match tag {
            1 => {
                let p = self.take_primitive("primitive")?;
                if size != p.size() || align != p.size() {
                    return Err(bad(
                        self,
                        format!("{p} must have size and alignment {}", p.size()),
                    ));
                }
                Kind::Primitive(p)
            }
            2 => {
                let len = self.take_usize("an array length")?;
                let element = self.take_ref(nodes)?;
                let e = &element.descriptor;
                if e.size().checked_mul(len) != Some(size) || align != e.align() {
                    return Err(bad(
                        self,
                        format!("{len} elements of {e} do not make {size} bytes"),
                    ));
                }
                depth += element.depth;
                Kind::Array {
                    len,
                    element: e.clone(),
                }
            }
            3 => {
                let capacity = self.take_usize("a string capacity")?;
                let data = ContainerLayout::with_length(1).data;
                if u32::try_from(capacity).is_err()
                    || align != 4
                    || Some(size) != (data + capacity).checked_next_multiple_of(4)
                {
                    return Err(bad(
                        self,
                        format!("not the layout of FixedString<{capacity}>"),
                    ));
                }
                Kind::FixedString { capacity }
            }
            4 => {
                let capacity = self.take_usize("a vector capacity")?;
                let element = self.take_ref(nodes)?;
                let e = &element.descriptor;
                let data = ContainerLayout::with_length(e.align()).data;
                let expected = e
                    .size()
                    .checked_mul(capacity)
                    .and_then(|items| items.checked_add(data))
                    .and_then(|end| end.checked_next_multiple_of(e.align().max(4)));
                if u32::try_from(capacity).is_err()
                    || align != e.align().max(4)
                    || expected != Some(size)
                {
                    return Err(bad(
                        self,
                        format!("not the layout of FixedVec<{e}, {capacity}>"),
                    ));
                }
                depth += element.depth;
                Kind::FixedVec {
                    capacity,
                    element: e.clone(),
                }
            }
            5 => {
                let element = self.take_ref(nodes)?;
                let e = &element.descriptor;
                let data = ContainerLayout::with_flag(e.align()).data;
                let expected = (data + e.size()).checked_next_multiple_of(e.align().max(1));
                if align != e.align().max(1) || expected != Some(size) {
                    return Err(bad(self, format!("not the layout of Optional<{e}>")));
                }
                depth += element.depth;
                Kind::Optional { element: e.clone() }
            }
            6 => {
                let repr = self.take_primitive("enum repr")?;
                let open = self.take_u8()? != 0;
                let n = self.take_count(4 + 16, "variants")?;
                let mut variants = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = self.take_str()?;
                    let value = self.take::<I128>()?.get();
                    variants.push(Variant { name, value });
                }
                if !repr.is_integer() || size != repr.size() || align != repr.size() {
                    return Err(bad(self, format!("an enum cannot be stored as {repr}")));
                }
                if !open && variants.is_empty() {
                    return Err(bad(
                        self,
                        "a closed enum without variants has no value".into(),
                    ));
                }
                if let Some(v) = variants.iter().find(|v| !repr_holds(repr, v.value)) {
                    return Err(bad(
                        self,
                        format!("variant `{}` = {} does not fit {repr}", v.name, v.value),
                    ));
                }
                Kind::Enum {
                    repr,
                    variants,
                    open,
                }
            }
            7 | 9 => {
                let fields = self.take_fields(nodes)?;
                self.check_fields(start, &name, size, align, &fields)?;
                depth += fields.iter().map(|f| f.1).max().unwrap_or(0);
                let fields: Vec<Field> = fields.into_iter().map(|f| f.0).collect();
                if tag == 7 {
                    Kind::Struct { fields }
                } else {
                    let cases = self.take_cases(start, &name, &fields)?;
                    Kind::Union { fields, cases }
                }
            }
            8 => {
                let repr = self.take_primitive("bitmask repr")?;
                let n = self.take_count(4 + 4, "flags")?;
                let mut flags = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = self.take_str()?;
                    let position = self.take::<U32>()?.get();
                    flags.push(Flag { name, position });
                }
                let bits = 8 * repr.size() as u32;
                if !repr.is_integer() || repr.is_signed() || size != repr.size() || align != size {
                    return Err(bad(self, format!("a bitmask cannot be stored as {repr}")));
                }
                if let Some(f) = flags.iter().find(|f| f.position >= bits) {
                    return Err(bad(
                        self,
                        format!(
                            "flag `{}` at bit {} does not fit {repr}",
                            f.name, f.position
                        ),
                    ));
                }
                Kind::Bitmask { repr, flags }
            }
            other => return Err(self.fail_at(start, format!("unknown kind tag {other}"))),
        };
        if depth > MAX_DEPTH {
            return Err(bad(
                self,
                format!("it nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(Decoded {
            descriptor: Descriptor::assemble(name, size, align, kind),
            depth,
        })
    }

    /// Fields lie inside the type, aligned, in order, without overlapping.
    fn check_fields(
        &self,
        start: usize,
        name: &str,
        size: usize,
        align: usize,
        fields: &[(Field, u32)],
    ) -> Result<(), DecodeError> {
        let mut end = 0;
        for (f, _) in fields {
            let t = &f.ty;
            let fits = f.offset >= end
                && f.offset.is_multiple_of(t.align())
                && t.align() <= align
                && f.offset.checked_add(t.size()).is_some_and(|e| e <= size);
            if !fits {
                return Err(self.fail_at(
                    start,
                    format!(
                        "`{name}`: field `{}` ({t}, {} bytes) at offset {} does not fit",
                        f.name,
                        t.size(),
                        f.offset
                    ),
                ));
            }
            end = f.offset + t.size();
        }
        Ok(())
    }

    fn take_cases(
        &mut self,
        start: usize,
        name: &str,
        fields: &[Field],
    ) -> Result<Vec<Case>, DecodeError> {
        let discriminator = fields.first().map(|f| &f.ty);
        let repr = match discriminator.map(Descriptor::kind) {
            Some(Kind::Primitive(p)) if p.is_integer() || *p == Primitive::Bool => *p,
            Some(Kind::Enum { repr, .. } | Kind::Bitmask { repr, .. }) => *repr,
            _ => {
                return Err(self.fail_at(
                    start,
                    format!("`{name}`: a union's first field must be an integer, bool, enum or bitmask discriminator"),
                ));
            }
        };
        let n = self.take_count(4 + 1 + 4, "cases")?;
        let mut cases = Vec::with_capacity(n);
        for _ in 0..n {
            let at = self.at;
            let field = self.take::<U32>()?.get() as usize;
            let is_default = self.take_u8()? != 0;
            let count = self.take_count(16, "labels")?;
            let mut labels = Vec::with_capacity(count);
            for _ in 0..count {
                labels.push(self.take::<I128>()?.get());
            }
            if field == 0 || field >= fields.len() {
                return Err(self.fail_at(
                    at,
                    format!("`{name}`: a case selects field {field}, which is no branch"),
                ));
            }
            if let Some(l) = labels.iter().find(|&&l| !repr_holds(repr, l)) {
                return Err(self.fail_at(at, format!("`{name}`: label {l} does not fit {repr}")));
            }
            cases.push(Case {
                field,
                labels,
                is_default,
            });
        }
        Ok(cases)
    }
}

/// Whether `value` is a value of the integer (or bool) type `repr`.
fn repr_holds(repr: Primitive, value: i128) -> bool {
    if repr == Primitive::Bool {
        return value == 0 || value == 1;
    }
    let bits = 8 * repr.size() as u32;
    if repr.is_signed() {
        let min = -(1i128 << (bits - 1));
        (min..=-min - 1).contains(&value)
    } else {
        (0..=(1i128 << bits) - 1).contains(&value)
    }
}
