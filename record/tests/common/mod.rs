//! What the record tests share: reading IDL back with our own front end, and serde types
//! that let the `cdr` crate (a CDR implementation we did not write) read what we write.

#![allow(dead_code)] // each test file uses a part

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use shmbus::message::Descriptor;
use shmbus::message::dynamic::Kind;
use shmbus_idl::hir::{Hir, ItemKind, Type};

/// Compiles IDL text with our own front end.
pub(crate) fn compile(text: &str) -> Result<Hir, String> {
    let mut sources = shmbus_idl::source::SourceMap::new();
    let id = sources.add("recorded.idl", text);
    let (hir, diags) = shmbus_idl::compile_sources(&mut sources, &[id], &Default::default());
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| shmbus_idl::diagnostics::render::render_one_line(d, &sources))
        .collect();
    match hir {
        Some(hir) if errors.is_empty() => Ok(hir),
        _ => Err(errors.join("\n")),
    }
}

/// Whether the IDL type `ty` (in `hir`) is the same type as `d` for a reader of the CDR
/// stream: the same kinds, names, bounds, lengths, enumerators, flags and union cases.
/// (Widths that CDR does not carry — an enum stored in 1 byte — are not compared.)
pub(crate) fn same(hir: &Hir, ty: &Type, d: &Descriptor, path: &str) {
    let resolved = resolve(hir, ty);
    match (resolved, d.kind()) {
        (Type::Primitive(p), Kind::Primitive(q)) => {
            assert_eq!(p.layout().size as usize, q.size(), "{path}: {p:?} vs {q:?}")
        }
        (Type::String(s), Kind::FixedString { capacity }) => {
            assert_eq!(s.bound as usize, *capacity, "{path}")
        }
        (Type::Sequence(s), Kind::FixedVec { capacity, element }) => {
            assert_eq!(s.bound as usize, *capacity, "{path}");
            same(hir, &s.element, element, &format!("{path}[]"));
        }
        (Type::Array(a), Kind::Array { .. }) => {
            let mut d = d.clone();
            for &n in &a.dims {
                let Kind::Array { len, element } = d.kind().clone() else {
                    panic!("{path}: fewer dimensions in the descriptor")
                };
                assert_eq!(n as usize, len, "{path}");
                d = element;
            }
            same(hir, &a.element, &d, &format!("{path}[]"));
        }
        (Type::Named(id), kind) => {
            let item = hir.item(id);
            match (&item.kind, kind) {
                (ItemKind::Struct(s), Kind::Struct { fields }) => {
                    assert_eq!(s.fields.len(), fields.len(), "{path}: {}", item.name);
                    for (f, g) in s.fields.iter().zip(fields) {
                        let p = format!("{path}.{}", g.name);
                        assert_eq!(
                            f.name.trim_start_matches('_'),
                            g.name.trim_start_matches('_'),
                            "{p}"
                        );
                        match g.ty.kind() {
                            Kind::Optional { element } if f.optional => {
                                same(hir, &f.ty, element, &p)
                            }
                            _ => {
                                assert!(!f.optional, "{p}");
                                same(hir, &f.ty, &g.ty, &p)
                            }
                        }
                    }
                }
                (ItemKind::Struct(s), _) => {
                    // A wrapper: one member `value` of the type.
                    assert_eq!(s.fields.len(), 1, "{path}");
                    let f = &s.fields[0];
                    match d.kind() {
                        Kind::Optional { element } if f.optional => same(hir, &f.ty, element, path),
                        _ => same(hir, &f.ty, d, path),
                    }
                }
                (ItemKind::Enum(e), Kind::Enum { variants, .. }) => {
                    let names: Vec<(String, i128)> = e
                        .enumerators
                        .iter()
                        .map(|en| (en.name.clone(), i128::from(en.value)))
                        .collect();
                    let ours: Vec<(String, i128)> =
                        variants.iter().map(|v| (v.name.clone(), v.value)).collect();
                    assert_eq!(names, ours, "{path}");
                }
                (ItemKind::Union(u), Kind::Union { fields, cases }) => {
                    same(
                        hir,
                        &u.discriminator,
                        &fields[0].ty,
                        &format!("{path}.{}", fields[0].name),
                    );
                    let selectable: Vec<_> = cases
                        .iter()
                        .filter(|c| !c.labels.is_empty() || c.is_default)
                        .collect();
                    assert_eq!(u.cases.len(), selectable.len(), "{path}");
                    for (c, ours) in u.cases.iter().zip(selectable) {
                        let branch = &fields[ours.field];
                        assert_eq!(c.name, branch.name, "{path}");
                        assert_eq!(c.labels, ours.labels, "{path}.{}", c.name);
                        assert_eq!(c.is_default, ours.is_default, "{path}.{}", c.name);
                        same(hir, &c.ty, &branch.ty, &format!("{path}.{}", c.name));
                    }
                }
                (other, kind) => panic!("{path}: IDL {other:?} vs {}", kind.word()),
            }
        }
        (ty, Kind::Bitmask { repr, .. } | Kind::Enum { repr, .. }) => {
            // A bitmask (and an enum without enumerators) is its integer.
            assert!(
                matches!(ty, Type::Primitive(p) if p.layout().size as usize == repr.size()),
                "{path}: {ty:?}"
            );
        }
        (ty, kind) => panic!("{path}: IDL {ty:?} vs {}", kind.word()),
    }
}

/// The root type of an IDL (the message, or the struct that wraps it) is `d`.
pub(crate) fn same_root(hir: &Hir, root: shmbus_idl::hir::ItemId, d: &Descriptor) {
    match (&hir.item(root).kind, d.kind()) {
        (ItemKind::Struct(_), Kind::Struct { .. })
        | (_, Kind::Union { .. } | Kind::Enum { .. }) => same(hir, &Type::Named(root), d, d.name()),
        (ItemKind::Struct(s), _) => same(hir, &s.fields[0].ty, d, "value"),
        _ => same(hir, &Type::Named(root), d, d.name()),
    }
}

/// `ty` with typedefs resolved.
pub(crate) fn resolve(hir: &Hir, ty: &Type) -> Type {
    match ty {
        Type::Named(id) => match &hir.item(*id).kind {
            ItemKind::Typedef(t) => resolve(hir, &t.ty),
            _ => ty.clone(),
        },
        other => other.clone(),
    }
}

// ---- an independent decoder: the `cdr` crate, with serde types mirroring the IDL ----

#[derive(Debug, Deserialize, PartialEq)]
pub(crate) struct CdrPoint {
    pub(crate) x: f64,
    pub(crate) y: f64,
}

/// `@optional int16`: a parameter header (id, length), then the value when the length
/// is not 0.
#[derive(Debug, PartialEq)]
pub(crate) struct CdrOptionalI16(pub(crate) Option<i16>);

impl<'de> Deserialize<'de> for CdrOptionalI16 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CdrOptionalI16;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an XCDR1 optional int16")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let _id: u16 = seq.next_element()?.unwrap_or_default();
                let len: u16 = seq.next_element()?.unwrap_or_default();
                Ok(CdrOptionalI16(if len == 0 {
                    None
                } else {
                    seq.next_element()?
                }))
            }
        }
        // Three elements at most; a tuple reads them one after the other.
        d.deserialize_tuple(3, V)
    }
}

#[derive(Debug, Deserialize, PartialEq)]
pub(crate) struct CdrEntry {
    pub(crate) key: u8,
    pub(crate) value: i32,
}

/// `rt::Sample` as its IDL says, read by the `cdr` crate.
#[derive(Debug, Deserialize, PartialEq)]
pub(crate) struct CdrSample {
    pub(crate) id: u32,
    pub(crate) at: CdrPoint,
    pub(crate) name: String,
    pub(crate) values: Vec<f32>,
    pub(crate) level: CdrOptionalI16,
    pub(crate) ok: bool,
    pub(crate) mode: u32,
    pub(crate) raw: [u8; 3],
    pub(crate) wide: u16,
    pub(crate) table: Vec<CdrEntry>,
}

/// `rt::Choice` (`union Choice switch (short) { case 1: case 2: long small; case 3:
/// geo::Point point; default: octet other; }`): the discriminator, then the branch.
#[derive(Debug, PartialEq)]
pub(crate) enum CdrChoice {
    Small(i16, i32),
    Point(CdrPoint),
    Other(i16, u8),
}

impl<'de> Deserialize<'de> for CdrChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CdrChoice;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an rt::Choice")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = || serde::de::Error::custom("union cut short");
                let discriminator: i16 = seq.next_element()?.ok_or_else(missing)?;
                Ok(match discriminator {
                    1 | 2 => {
                        CdrChoice::Small(discriminator, seq.next_element()?.ok_or_else(missing)?)
                    }
                    3 => CdrChoice::Point(seq.next_element()?.ok_or_else(missing)?),
                    _ => CdrChoice::Other(discriminator, seq.next_element()?.ok_or_else(missing)?),
                })
            }
        }
        d.deserialize_tuple(2, V)
    }
}

/// `bytes` copied into memory aligned for any message type.
pub(crate) fn aligned(bytes: &[u8]) -> AlignedBytes {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    for (i, b) in bytes.iter().enumerate() {
        let word = &mut words[i / 8];
        *word |= u64::from(*b) << (8 * (i % 8));
    }
    AlignedBytes {
        words,
        len: bytes.len(),
    }
}

pub(crate) struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl std::ops::Deref for AlignedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let all: &[u8] = bytemuck_like(&self.words);
        &all[..self.len]
    }
}

pub(crate) fn bytemuck_like(words: &[u64]) -> &[u8] {
    // Little-endian words hold the bytes in order (the test machines are little-endian).
    zerocopy::IntoBytes::as_bytes(words)
}
