//! Parser unit tests.

use super::parse;
use crate::ast::*;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::lexer::lex;
use crate::source::FileId;

fn parse_text(text: &str, lenient: bool) -> (Specification, Vec<Diagnostic>) {
    let mut diags = Diagnostics::new();
    let spec = parse(lex(FileId(0), text), lenient, &mut diags);
    (spec, diags.into_sorted())
}

fn ok(text: &str) -> Specification {
    let (spec, diags) = parse_text(text, false);
    assert!(diags.is_empty(), "{diags:#?}");
    spec
}

fn messages(text: &str) -> Vec<String> {
    parse_text(text, false)
        .1
        .into_iter()
        .map(|d| d.message)
        .collect()
}

#[test]
fn structs_modules_and_members() {
    let spec = ok(
        "// doc\nmodule a { module b { struct S : ::a::Base { long x, y[2][3]; unsigned long long z; \
                   sequence<sequence<long, 3>> s; string<8> t; wstring w; map<long, string<4>, 5> m; }; \
                   struct E {}; struct F; }; };",
    );
    let DefinitionKind::Module(a) = &spec.definitions[0].kind else {
        panic!("not a module")
    };
    assert_eq!(spec.definitions[0].attrs.doc, vec![" doc".to_owned()]);
    let DefinitionKind::Module(b) = &a.definitions[0].kind else {
        panic!("not a module")
    };
    let DefinitionKind::Struct(s) = &b.definitions[0].kind else {
        panic!("not a struct")
    };
    assert!(
        s.base
            .as_ref()
            .is_some_and(|b| b.absolute && b.parts.len() == 2)
    );
    assert_eq!(s.members.len(), 6);
    assert_eq!(s.members[0].declarators[1].array.len(), 2);
    assert_eq!(
        s.members[1].ty.kind,
        TypeKind::Primitive(Primitive::ULongLong)
    );
    assert!(matches!(
        b.definitions[2].kind,
        DefinitionKind::StructForward(_)
    ));
}

#[test]
fn unions_enums_bitsets_and_annotations() {
    ok(
        "@final union U switch (@key long) { case 1: case 2: long a; default: @id(3) double b; };\
        enum E { @value(1) A, B };\
        bitmask M { @position(0) F1, F2 };\
        bitset BS { bitfield<3> a, b; bitfield<2>; bitfield<4, short> c; };\
        typedef long T1, T2[4];\
        const long C = (1 + 2) * 3 << 1 | ~0 % 5 - -1;\
        const string S = \"a\" \"b\";\
        @annotation MyAnn { long value default 3; string name; };\
        struct V { @verbatim(language=\"comment\", text=\"hi\") @range(min=0, max=10) long x; };",
    );
}

#[test]
fn annotation_name_stops_at_space() {
    let spec = ok("struct S { @key ::foo::Bar qux; @a::b long y; };");
    let DefinitionKind::Struct(s) = &spec.definitions[0].kind else {
        panic!("not a struct")
    };
    assert_eq!(s.members[0].attrs.annotations[0].name.parts.len(), 1);
    assert!(
        matches!(&s.members[0].ty.kind, TypeKind::Named(n) if n.absolute && n.parts.len() == 2)
    );
    assert_eq!(s.members[1].attrs.annotations[0].name.parts.len(), 2);
}

#[test]
fn typedef_of_constructed_type() {
    let spec = ok("typedef struct S { long a; } T, U[2]; typedef @external long L;");
    let DefinitionKind::Typedef(t) = &spec.definitions[0].kind else {
        panic!("not a typedef")
    };
    assert!(
        matches!(&t.ty.kind, TypeKind::Inline(d) if matches!(d.kind, DefinitionKind::Struct(_)))
    );
    assert_eq!(t.declarators.len(), 2);
    let DefinitionKind::Typedef(t) = &spec.definitions[1].kind else {
        panic!("not a typedef")
    };
    assert_eq!(t.ty.annotations.len(), 1);
}

#[test]
fn shift_in_parens_and_nested_close() {
    let spec = ok("typedef sequence<sequence<long, (8 >> 1)>> X;");
    let DefinitionKind::Typedef(t) = &spec.definitions[0].kind else {
        panic!("not a typedef")
    };
    assert!(matches!(t.ty.kind, TypeKind::Sequence { .. }));
}

#[test]
fn keywords_and_lenient_mode() {
    assert!(messages("struct S { long port; long map; map<long, long, 2> m; };").is_empty());
    assert_eq!(messages("struct S { long string; };").len(), 1);
    assert!(
        parse_text("struct S { long string; long module; };", true)
            .1
            .is_empty()
    );
    ok("struct _struct { long _long; };");
    assert!(
        parse_text("struct S { long long; long double; };", true)
            .1
            .is_empty()
    );
}

#[test]
fn unsupported_constructs_report_once() {
    let msgs = messages(
        "interface I { void f(in long x); attribute long y; }; exception X { long a; };\
                         valuetype V { public long x; }; struct S { any a; fixed<5,2> f; }; native N;",
    );
    assert_eq!(msgs.len(), 6, "{msgs:#?}");
    assert!(
        msgs.iter()
            .all(|m| m == "only data types can become fixed-layout messages")
    );
}

#[test]
fn errors_recover_and_report_all() {
    let msgs =
        messages("struct A { long ; long b; }; struct B { foo bar baz; }; struct C { long c; }");
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(msgs[0].starts_with("expected identifier"), "{msgs:#?}");
    assert!(msgs[1].starts_with("expected one of"), "{msgs:#?}");
    assert!(msgs[2].contains("expected `;`"), "{msgs:#?}");
}

#[test]
fn deep_nesting_does_not_overflow() {
    let text = format!("const long X = {}1{};", "(".repeat(5000), ")".repeat(5000));
    assert_eq!(messages(&text).len(), 1);
    let text = format!(
        "typedef {}long{} X;",
        "sequence<".repeat(3000),
        ">".repeat(3000)
    );
    assert!(!messages(&text).is_empty());
    let text = "module m { ".repeat(3000);
    assert!(!messages(&text).is_empty());
}

#[test]
fn doc_comments_attach_to_the_next_declaration() {
    let spec = ok(
        "/// Pose doc\n/* more */\nstruct Pose {\n  // x doc\n  double x; // trailing\n  double y;\n};",
    );
    assert_eq!(
        spec.definitions[0].attrs.doc,
        vec!["/ Pose doc".to_owned(), " more ".to_owned()]
    );
    let DefinitionKind::Struct(s) = &spec.definitions[0].kind else {
        panic!("not a struct")
    };
    assert_eq!(s.members[0].attrs.doc, vec![" x doc".to_owned()]);
    assert!(s.members[1].attrs.doc.is_empty());
}

#[test]
fn keylist_pragma_and_reopened_modules() {
    let mut diags = Diagnostics::new();
    let mut map = crate::source::SourceMap::new();
    let id = map.add("k.idl", "module m { struct A { long id; }; };\n#pragma keylist m::A id\nmodule m { struct B {}; };\n");
    let toks = crate::preprocess::preprocess(&mut map, &[id], &Default::default(), &mut diags);
    let spec = parse(toks, false, &mut diags);
    assert!(!diags.has_errors());
    assert_eq!(spec.definitions.len(), 3);
    assert!(matches!(&spec.definitions[1].kind,
        DefinitionKind::Keylist(k) if k.type_name == "m::A" && k.keys == ["id"]));
}
