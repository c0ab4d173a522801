//! Messages go from their fixed layout to CDR and back unchanged, for every kind of field
//! and every type generated from the IDL corpus; the IDL made from a descriptor is read by
//! our own front end as the same type; and a CDR decoder we did not write reads what we
//! write.

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use shmbus::message::dynamic::Kind;
use shmbus::message::{Descriptor, Value};
use shmbus::{FixedString, FixedVec, ShmMessage};
use shmbus_idl::hir::{Hir, ItemKind, Type};
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

/// Compiles IDL text with our own front end.
fn compile(text: &str) -> Result<Hir, String> {
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
fn same(hir: &Hir, ty: &Type, d: &Descriptor, path: &str) {
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
fn same_root(hir: &Hir, root: shmbus_idl::hir::ItemId, d: &Descriptor) {
    match (&hir.item(root).kind, d.kind()) {
        (ItemKind::Struct(_), Kind::Struct { .. })
        | (_, Kind::Union { .. } | Kind::Enum { .. }) => same(hir, &Type::Named(root), d, d.name()),
        (ItemKind::Struct(s), _) => same(hir, &s.fields[0].ty, d, "value"),
        _ => same(hir, &Type::Named(root), d, d.name()),
    }
}

/// `ty` with typedefs resolved.
fn resolve(hir: &Hir, ty: &Type) -> Type {
    match ty {
        Type::Named(id) => match &hir.item(*id).kind {
            ItemKind::Typedef(t) => resolve(hir, &t.ty),
            _ => ty.clone(),
        },
        other => other.clone(),
    }
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

// ---- an independent decoder: the `cdr` crate, with serde types mirroring the IDL ----

#[derive(Debug, Deserialize, PartialEq)]
struct CdrPoint {
    x: f64,
    y: f64,
}

/// `@optional int16`: a parameter header (id, length), then the value when the length
/// is not 0.
#[derive(Debug, PartialEq)]
struct CdrOptionalI16(Option<i16>);

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
struct CdrEntry {
    key: u8,
    value: i32,
}

/// `rt::Sample` as its IDL says, read by the `cdr` crate.
#[derive(Debug, Deserialize, PartialEq)]
struct CdrSample {
    id: u32,
    at: CdrPoint,
    name: String,
    values: Vec<f32>,
    level: CdrOptionalI16,
    ok: bool,
    mode: u32,
    raw: [u8; 3],
    wide: u16,
    table: Vec<CdrEntry>,
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

/// `bytes` copied into memory aligned for any message type.
fn aligned(bytes: &[u8]) -> AlignedBytes {
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

struct AlignedBytes {
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

fn bytemuck_like(words: &[u64]) -> &[u8] {
    // Little-endian words hold the bytes in order (the test machines are little-endian).
    zerocopy::IntoBytes::as_bytes(words)
}
