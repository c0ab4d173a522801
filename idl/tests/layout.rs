//! Golden layouts: a few representative accepted files (ours and the corpus's) are
//! compiled and every item's layout under the Rust mapping is snapshot as text, so a
//! change in size, alignment or offsets shows up in review.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use shmbus_idl::hir::{Hir, ItemKind, ModuleEntry, ModuleId, Type};
use shmbus_idl::{Options, compile_files};

const CORPUS_FILES: &[&str] = &[
    "eclipse-cyclonedds__cyclonedds/src/tools/idlc/xtests/test_struct_inherit.idl",
    "eclipse-cyclonedds__cyclonedds/src/tools/idlc/xtests/test_struct_alignment.idl",
    "eclipse-cyclonedds__cyclonedds/src/core/ddsc/tests/CdrStreamSignedUnion.idl",
    "eProsima__Fast-DDS/test/unittest/dds/xtypes/serializers/idl/types/bitset_struct/bitset_struct.idl",
    "eProsima__Fast-DDS/test/unittest/dds/xtypes/serializers/idl/types/bitmask_struct/bitmask_struct.idl",
    "s2e-systems__dust-dds/interoperability_tests/Union.idl",
    "ros2__rosidl/rosidl_generator_tests/msg/BasicIdl.idl",
];

fn type_text(hir: &Hir, ty: &Type) -> String {
    match ty {
        Type::Primitive(p) => p.idl_name().to_owned(),
        Type::String(s) => format!("{}<{}>", if s.wide { "wstring" } else { "string" }, s.bound),
        Type::Sequence(s) => format!("sequence<{}, {}>", type_text(hir, &s.element), s.bound),
        Type::Map(m) => format!(
            "map<{}, {}, {}>",
            type_text(hir, &m.key),
            type_text(hir, &m.value),
            m.bound
        ),
        Type::Array(a) => {
            let dims: String = a.dims.iter().map(|d| format!("[{d}]")).collect();
            format!("{}{dims}", type_text(hir, &a.element))
        }
        Type::Named(id) => hir.item(*id).scoped_name(),
    }
}

fn dump_module(hir: &Hir, id: ModuleId, out: &mut String) {
    for entry in &hir.module(id).entries {
        match *entry {
            ModuleEntry::Module(m) => dump_module(hir, m, out),
            ModuleEntry::Item(i) => {
                let item = hir.item(i);
                let layout = item.layout.map_or(String::new(), |l| {
                    format!(" size {} align {}", l.size, l.align)
                });
                let kind = match &item.kind {
                    ItemKind::Struct(_) => "struct",
                    ItemKind::Union(_) => "union",
                    ItemKind::Enum(_) => "enum",
                    ItemKind::Bitmask(_) => "bitmask",
                    ItemKind::Bitset(_) => "bitset",
                    ItemKind::Typedef(_) => "typedef",
                    ItemKind::Const(_) => "const",
                };
                let _ = writeln!(out, "{kind} {}{layout}", item.scoped_name());
                match &item.kind {
                    ItemKind::Struct(s) => {
                        if let (Some(b), Some(off)) = (s.base, s.base_offset) {
                            let _ =
                                writeln!(out, "  @{off:<4} base: {}", hir.item(b).scoped_name());
                        }
                        for f in &s.fields {
                            let opt = if f.optional { "optional " } else { "" };
                            let key = if f.key { " (key)" } else { "" };
                            let _ = writeln!(
                                out,
                                "  @{:<4} {}: {opt}{} [{}/{}]{key}",
                                f.offset,
                                f.name,
                                type_text(hir, &f.ty),
                                f.layout.size,
                                f.layout.align
                            );
                        }
                    }
                    ItemKind::Union(u) => {
                        let _ = writeln!(out, "  @0    _d: {}", type_text(hir, &u.discriminator));
                        for c in &u.cases {
                            let labels: Vec<String> =
                                c.labels.iter().map(i128::to_string).collect();
                            let default = if c.is_default { " default" } else { "" };
                            let _ = writeln!(
                                out,
                                "  @{:<4} {}: {} [{}/{}] case {}{default}",
                                c.offset,
                                c.name,
                                type_text(hir, &c.ty),
                                c.layout.size,
                                c.layout.align,
                                labels.join(",")
                            );
                        }
                        let _ = writeln!(
                            out,
                            "  default discriminator: {:?}",
                            u.default_discriminator
                        );
                    }
                    ItemKind::Enum(e) => {
                        let values: Vec<String> = e
                            .enumerators
                            .iter()
                            .map(|x| format!("{}={}", x.name, x.value))
                            .collect();
                        let _ = writeln!(out, "  {:?}: {}", e.repr, values.join(" "));
                    }
                    ItemKind::Bitmask(b) => {
                        let flags: Vec<String> = b
                            .flags
                            .iter()
                            .map(|f| format!("{}@{}", f.name, f.position))
                            .collect();
                        let _ = writeln!(out, "  {:?}: {}", b.repr, flags.join(" "));
                    }
                    ItemKind::Bitset(b) => {
                        let fields: Vec<String> = b
                            .fields
                            .iter()
                            .map(|f| {
                                format!("{}@{}+{}:{}", f.name, f.offset, f.width, f.ty.idl_name())
                            })
                            .collect();
                        let _ = writeln!(
                            out,
                            "  {:?} ({} bits): {}",
                            b.storage,
                            b.total_bits,
                            fields.join(" ")
                        );
                    }
                    ItemKind::Typedef(t) => {
                        let _ = writeln!(out, "  = {}", type_text(hir, &t.ty));
                    }
                    ItemKind::Const(c) => {
                        let _ = writeln!(out, "  {}: {:?}", type_text(hir, &c.ty), c.value);
                    }
                }
            }
        }
    }
}

fn dump(path: &Path, options: &Options) -> String {
    let (_, hir, diags) = compile_files(&[path.to_path_buf()], options);
    let hir = hir.unwrap_or_else(|| panic!("{} does not compile: {diags:#?}", path.display()));
    let mut out = String::new();
    dump_module(&hir, Hir::ROOT, &mut out);
    out
}

#[test]
fn layouts_of_representative_files() {
    // The corpus is others' work, found through SHMBUS_IDL_CORPUS (absolute, or relative
    // to the project root); without it, only our own file is checked.
    let corpus = std::env::var_os("SHMBUS_IDL_CORPUS")
        .map(|dir| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir));
    if corpus.is_none() {
        eprintln!(
            "skipped the corpus files: SHMBUS_IDL_CORPUS is not set (.ci/run sets it to ../shared/idl-corpus)"
        );
    }
    let mut cases: Vec<(String, PathBuf, Options)> = CORPUS_FILES
        .iter()
        .filter_map(|f| corpus.as_ref().map(|dir| (f, dir)))
        .map(|(f, corpus)| {
            let options = Options {
                defines: vec!["__IDLC__".to_owned()],
                lenient_keywords: f.starts_with("ros2__"),
                ..Options::default()
            };
            let name = Path::new(f)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, corpus.join(f), options)
        })
        .collect();
    cases.push((
        "everything".to_owned(),
        PathBuf::from("tests/ui/accept/everything.idl"),
        Options {
            long_double_opaque: true,
            ..Options::default()
        },
    ));
    for (name, path, options) in cases {
        let text = dump(&path, &options);
        insta::with_settings!({
            snapshot_path => "layout/snapshots",
            prepend_module_to_snapshot => false,
            input_file => &path,
        }, {
            insta::assert_snapshot!(name, text);
        });
    }
}
