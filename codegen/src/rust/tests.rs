//! The generator over a model built by hand: every construct once, independent of the
//! front end (whose own output is snapshotted in `tests/snapshots.rs`).

use shmbus_idl::hir::*;
use shmbus_idl::source::{FileId, Span};

use crate::{Options, generate};

fn span() -> Span {
    Span::new(FileId(0), 0, 0)
}

fn doc(text: &str) -> Doc {
    Doc {
        comments: if text.is_empty() {
            Vec::new()
        } else {
            vec![text.to_owned()]
        },
        ..Doc::default()
    }
}

fn item(
    name: &str,
    module: ModuleId,
    path: &[&str],
    kind: ItemKind,
    layout: Option<Layout>,
) -> Item {
    Item {
        name: name.to_owned(),
        module,
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        doc: Doc::default(),
        annotations: Vec::new(),
        span: span(),
        kind,
        layout,
    }
}

fn field(name: &str, ty: Type, offset: u64, layout: Layout) -> Field {
    Field {
        name: name.to_owned(),
        ty,
        optional: false,
        key: false,
        external: false,
        id: None,
        default: None,
        min: None,
        max: None,
        doc: Doc::default(),
        annotations: Vec::new(),
        offset,
        layout,
        span: span(),
    }
}

/// `module robot { module geo { struct Point {..}; }; enum Mode {..}; bitmask Perm {..};
/// bitset Flags {..}; struct Pose : geo::Point {..}; union Cmd switch (Mode) {..};
/// typedef double Matrix[2][3]; const long MAX = -5; };` and a top-level constant.
pub(crate) fn sample() -> Hir {
    let root = ModuleId(0);
    let robot = ModuleId(1);
    let geo = ModuleId(2);
    let f64l = Layout::new(8, 8);
    let point = ItemId(0);
    let mode = ItemId(1);
    let perm = ItemId(2);
    let flags = ItemId(3);
    let pose = ItemId(4);
    let cmd = ItemId(5);
    let matrix = ItemId(6);
    let max = ItemId(7);
    let name_const = ItemId(8);
    let self_struct = ItemId(9);
    let items = vec![
        item(
            "Point",
            geo,
            &["robot", "geo", "Point"],
            ItemKind::Struct(Struct {
                base: None,
                fields: vec![
                    field("x", Type::Primitive(Primitive::Float64), 0, f64l),
                    field("y", Type::Primitive(Primitive::Float64), 8, f64l),
                ],
                base_offset: None,
                extensibility: None,
                nested: None,
                topic: false,
            }),
            Some(Layout::new(16, 8)),
        ),
        item(
            "Mode",
            robot,
            &["robot", "Mode"],
            ItemKind::Enum(Enum {
                bit_bound: 32,
                repr: IntRepr::U32,
                enumerators: ["IDLE", "MOVE", "STOP", "HALT"]
                    .iter()
                    .zip([0, 1, 5, 5])
                    .map(|(n, v)| Enumerator {
                        name: (*n).to_owned(),
                        value: v,
                        doc: doc(if *n == "MOVE" { "Moving." } else { "" }),
                        span: span(),
                    })
                    .collect(),
                default_index: 1,
                extensibility: None,
            }),
            Some(Layout::new(4, 4)),
        ),
        item(
            "Perm",
            robot,
            &["robot", "Perm"],
            ItemKind::Bitmask(Bitmask {
                bit_bound: 8,
                repr: IntRepr::U8,
                flags: [("READ", 0), ("WRITE", 1), ("EXEC", 7)]
                    .iter()
                    .map(|(n, p)| BitFlag {
                        name: (*n).to_owned(),
                        position: *p,
                        doc: Doc::default(),
                        span: span(),
                    })
                    .collect(),
            }),
            Some(Layout::new(1, 1)),
        ),
        item(
            "Flags",
            robot,
            &["robot", "Flags"],
            ItemKind::Bitset(Bitset {
                base: None,
                fields: vec![
                    Bitfield {
                        name: "on".into(),
                        offset: 0,
                        width: 1,
                        ty: Primitive::Boolean,
                        doc: Doc::default(),
                        span: span(),
                    },
                    Bitfield {
                        name: "level".into(),
                        offset: 4,
                        width: 4,
                        ty: Primitive::Int16,
                        doc: Doc::default(),
                        span: span(),
                    },
                ],
                total_bits: 8,
                storage: IntRepr::U8,
            }),
            Some(Layout::new(1, 1)),
        ),
        item(
            "Pose",
            robot,
            &["robot", "Pose"],
            ItemKind::Struct(Struct {
                base: Some(point),
                fields: vec![
                    Field {
                        key: true,
                        min: Some(ConstValue::Int(-10)),
                        max: Some(ConstValue::Int(10)),
                        doc: Doc {
                            unit: Some("deg".into()),
                            ..doc("  Heading.\n   ```not code```")
                        },
                        ..field(
                            "type",
                            Type::Primitive(Primitive::Int32),
                            16,
                            Layout::new(4, 4),
                        )
                    },
                    Field {
                        default: Some(ConstValue::Enumerator {
                            item: mode,
                            index: 2,
                            value: 5,
                        }),
                        ..field("mode", Type::Named(mode), 20, Layout::new(4, 4))
                    },
                    Field {
                        optional: true,
                        min: Some(ConstValue::Float(0.0)),
                        ..field(
                            "speed",
                            Type::Primitive(Primitive::Float32),
                            24,
                            Layout::new(8, 4),
                        )
                    },
                    Field {
                        default: Some(ConstValue::String("base".into())),
                        ..field(
                            "frame",
                            Type::String(StringType {
                                wide: false,
                                bound: 8,
                                source: BoundSource::Explicit,
                            }),
                            32,
                            Layout::new(12, 4),
                        )
                    },
                    field(
                        "path",
                        Type::Sequence(SequenceType {
                            element: Box::new(Type::Named(point)),
                            bound: 4,
                            source: BoundSource::DefaultOption,
                            layout: Layout::new(72, 8),
                        }),
                        48,
                        Layout::new(72, 8),
                    ),
                    field("m", Type::Named(matrix), 120, Layout::new(48, 8)),
                    field(
                        "big",
                        Type::Array(ArrayType {
                            element: Box::new(Type::Primitive(Primitive::Octet)),
                            dims: vec![40],
                            layout: Layout::new(40, 1),
                        }),
                        168,
                        Layout::new(40, 1),
                    ),
                    field("perm", Type::Named(perm), 208, Layout::new(1, 1)),
                    field("flags", Type::Named(flags), 209, Layout::new(1, 1)),
                    field(
                        "ok",
                        Type::Primitive(Primitive::Boolean),
                        210,
                        Layout::new(1, 1),
                    ),
                ],
                base_offset: Some(0),
                extensibility: None,
                nested: None,
                topic: true,
            }),
            Some(Layout::new(216, 8)),
        ),
        item(
            "Cmd",
            robot,
            &["robot", "Cmd"],
            ItemKind::Union(Union {
                discriminator: Type::Named(mode),
                discriminator_kind: Discriminator::Enum(mode),
                discriminator_key: false,
                cases: vec![
                    UnionCase {
                        labels: vec![1],
                        is_default: false,
                        name: "target".into(),
                        ty: Type::Named(point),
                        layout: Layout::new(16, 8),
                        offset: 8,
                        doc: Doc::default(),
                        annotations: Vec::new(),
                        span: span(),
                    },
                    UnionCase {
                        labels: vec![],
                        is_default: true,
                        name: "self".into(),
                        ty: Type::Primitive(Primitive::Char),
                        layout: Layout::new(1, 1),
                        offset: 24,
                        doc: Doc::default(),
                        annotations: Vec::new(),
                        span: span(),
                    },
                ],
                default_discriminator: Some(0),
                default_case: Some(1),
                storage_layout: Layout::new(24, 8),
                storage_offset: 8,
                extensibility: None,
            }),
            Some(Layout::new(32, 8)),
        ),
        item(
            "Matrix",
            robot,
            &["robot", "Matrix"],
            ItemKind::Typedef(Typedef {
                ty: Type::Array(ArrayType {
                    element: Box::new(Type::Primitive(Primitive::Float64)),
                    dims: vec![2, 3],
                    layout: Layout::new(48, 8),
                }),
            }),
            Some(Layout::new(48, 8)),
        ),
        item(
            "MAX",
            robot,
            &["robot", "MAX"],
            ItemKind::Const(Const {
                ty: Type::Primitive(Primitive::Int64),
                value: ConstValue::Int(i128::from(i64::MIN)),
            }),
            None,
        ),
        item(
            "NAME",
            root,
            &["NAME"],
            ItemKind::Const(Const {
                ty: Type::String(StringType {
                    wide: false,
                    bound: 5,
                    source: BoundSource::ConstantValue,
                }),
                value: ConstValue::String("robot".into()),
            }),
            None,
        ),
        item(
            "Self",
            root,
            &["Self"],
            ItemKind::Struct(Struct {
                base: None,
                fields: vec![],
                base_offset: None,
                extensibility: None,
                nested: None,
                topic: false,
            }),
            Some(Layout::ZERO),
        ),
    ];
    let module = |name: &str, path: &[&str], parent, entries| Module {
        name: name.to_owned(),
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        parent,
        doc: Doc::default(),
        span: span(),
        entries,
    };
    Hir {
        bound_uses: Vec::new(),
        modules: vec![
            module(
                "",
                &[],
                None,
                vec![
                    ModuleEntry::Item(name_const),
                    ModuleEntry::Module(robot),
                    ModuleEntry::Item(self_struct),
                ],
            ),
            module(
                "robot",
                &["robot"],
                Some(root),
                vec![
                    ModuleEntry::Module(geo),
                    ModuleEntry::Item(mode),
                    ModuleEntry::Item(perm),
                    ModuleEntry::Item(flags),
                    ModuleEntry::Item(matrix),
                    ModuleEntry::Item(pose),
                    ModuleEntry::Item(cmd),
                    ModuleEntry::Item(max),
                ],
            ),
            module(
                "geo",
                &["robot", "geo"],
                Some(robot),
                vec![ModuleEntry::Item(point)],
            ),
        ],
        items,
    }
}

#[test]
fn every_construct_by_hand() {
    let files = generate(
        &sample(),
        &Options {
            file_stem: "sample".into(),
            sources: vec!["sample.idl".into()],
            ..Options::default()
        },
    );
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "sample.rs");
    let text = &files[0].contents;
    assert!(!text.contains("could not format"), "{text}");
    insta::assert_snapshot!(text);
}
