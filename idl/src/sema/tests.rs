//! Unit tests of the semantic checks: they assert on the HIR and on diagnostic data; the
//! rendered text is covered by the golden tests in `tests/ui`.

use crate::diagnostics::Diagnostic;
use crate::hir::{
    BoundSource, ConstValue, Discriminator, Hir, IntRepr, ItemKind, Layout, ModuleEntry, Type,
};
use crate::source::SourceMap;
use crate::{Options, compile_sources};

fn compile_with(text: &str, options: &Options) -> (Option<Hir>, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let id = sources.add("t.idl", text);
    compile_sources(&mut sources, &[id], options)
}

fn ok(text: &str) -> Hir {
    let (hir, diags) = compile_with(text, &Options::default());
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    hir.expect("a model without errors")
}

fn codes(text: &str) -> Vec<&'static str> {
    let (hir, diags) = compile_with(text, &Options::default());
    assert!(hir.is_none() || diags.iter().all(|d| !d.is_error()));
    diags.iter().map(|d| d.code).collect()
}

fn item<'h>(hir: &'h Hir, name: &str) -> &'h crate::hir::Item {
    hir.item(hir.find(name).unwrap_or_else(|| panic!("no item {name}")))
}

fn const_value(hir: &Hir, name: &str) -> ConstValue {
    match &item(hir, name).kind {
        ItemKind::Const(c) => c.value.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

#[test]
fn struct_layout_follows_repr_c_with_base_first() {
    let hir = ok("module m {
        struct Base { octet tag; };
        struct S : Base { @optional double d; string<5> s; sequence<short, 3> v; boolean b; };
    };");
    let s = item(&hir, "m::S");
    let ItemKind::Struct(st) = &s.kind else {
        panic!()
    };
    assert_eq!(st.base, hir.find("m::Base"));
    assert_eq!(st.base_offset, Some(0));
    let offsets: Vec<u64> = st.fields.iter().map(|f| f.offset).collect();
    // base (1) | pad | Optional<f64> (16, align 8) | FixedString<5> (12, align 4)
    // | FixedVec<i16, 3> (4 + 6 = 10 -> 12, align 4) | bool
    assert_eq!(offsets, vec![8, 24, 36, 48]);
    assert_eq!(st.fields[0].layout, Layout::new(16, 8));
    assert_eq!(s.layout, Some(Layout::new(56, 8)));
}

#[test]
fn constants_are_evaluated_with_promotion_and_width() {
    let hir = ok("const long A = (1 << 4) + 3 * 2 - 10 / 3 % 2;
        const unsigned short B = ~0;
        const short C = ~0;
        const long long D = -9223372036854775807 - 1;
        const unsigned long long E = 0xFFFFFFFFFFFFFFFF;
        const double F = A / 2.0;
        const string S = \"ab\" \"c\";
        enum Color { RED, @value(7) GREEN, BLUE };
        const Color K = Color::BLUE;");
    assert_eq!(const_value(&hir, "A"), ConstValue::Int(16 + 6 - 1));
    assert_eq!(const_value(&hir, "B"), ConstValue::Int(0xFFFF));
    assert_eq!(const_value(&hir, "C"), ConstValue::Int(-1));
    assert_eq!(
        const_value(&hir, "D"),
        ConstValue::Int(i128::from(i64::MIN))
    );
    assert_eq!(
        const_value(&hir, "E"),
        ConstValue::Int(i128::from(u64::MAX))
    );
    assert_eq!(const_value(&hir, "F"), ConstValue::Float(10.5));
    assert_eq!(const_value(&hir, "S"), ConstValue::String("abc".into()));
    let ConstValue::Enumerator { value, index, .. } = const_value(&hir, "K") else {
        panic!()
    };
    assert_eq!((index, value), (2, 8));
    // An enumerator is not an integer constant.
    assert_eq!(codes("enum E { X }; const long G = X;"), ["E-CONST-TYPE"]);
    let ItemKind::Const(c) = &item(&hir, "S").kind else {
        panic!()
    };
    assert!(
        matches!(c.ty, Type::String(s) if s.bound == 3 && s.source == BoundSource::ConstantValue)
    );
}

#[test]
fn constant_errors() {
    assert_eq!(codes("const long X = 1 / (2 - 2);"), ["E-CONST-DIV-ZERO"]);
    assert_eq!(
        codes("const long long X = 0x7FFFFFFFFFFFFFFF * 4;"),
        ["E-CONST-OVERFLOW"]
    );
    assert_eq!(codes("const octet X = 256;"), ["E-CONST-TYPE"]);
    assert_eq!(codes("const char X = 0x00;"), ["E-CONST-TYPE"]);
    assert_eq!(codes("const boolean X = 1;"), ["E-CONST-TYPE"]);
    assert_eq!(
        codes("const long X = Y; const long Y = X;").first(),
        Some(&"E-CONST-CYCLE")
    );
    assert_eq!(codes("const long X = 1 << 64;"), ["E-CONST-OVERFLOW"]);
    assert_eq!(codes("const long X = \"a\" + 1;"), ["E-CONST-TYPE"]);
    assert_eq!(codes("struct S { long a[0]; };"), ["E-CONST-TYPE"]);
}

#[test]
fn enumerators_live_in_the_enclosing_scope() {
    let hir = ok("module m { enum E { A, B }; struct S { E e; }; const E C = B; };");
    let ConstValue::Enumerator { index, .. } = const_value(&hir, "m::C") else {
        panic!()
    };
    assert_eq!(index, 1);
    let hir = ok("module m { const long N = 2; struct S { long a[N + 1]; }; };");
    let ItemKind::Struct(s) = &item(&hir, "m::S").kind else {
        panic!()
    };
    assert!(matches!(&s.fields[0].ty, Type::Array(a) if a.dims == [3]));
    let (_, diags) = compile_with("enum E1 { X }; enum E2 { X };", &Options::default());
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "E-REDEFINITION");
    assert_eq!(diags[0].secondary.len(), 1, "both locations are shown");
}

#[test]
fn lookup_goes_outward_and_through_modules() {
    let hir =
        ok("module a { typedef long T; module b { struct S { T x; a::T y; ::a::T z; }; }; };");
    let ItemKind::Struct(s) = &item(&hir, "a::b::S").kind else {
        panic!()
    };
    let t = hir.find("a::T").unwrap();
    assert!(
        s.fields.iter().all(|f| f.ty == Type::Named(t)),
        "typedefs stay typedefs"
    );
    assert_eq!(codes("struct S { Missing m; };"), ["E-UNDECLARED"]);
    assert_eq!(
        codes("union U switch (u8) { case 1: long a; };"),
        ["E-UNDECLARED"]
    );
}

#[test]
fn reopened_modules_merge_in_source_order() {
    let hir =
        ok("module m { struct A { long x; }; }; struct Top {}; module m { struct B { A a; }; };");
    let root = hir.root();
    assert_eq!(root.entries.len(), 2);
    let ModuleEntry::Module(m) = root.entries[0] else {
        panic!()
    };
    let names: Vec<&str> = hir
        .module(m)
        .entries
        .iter()
        .map(|e| match e {
            ModuleEntry::Item(i) => hir.item(*i).name.as_str(),
            ModuleEntry::Module(_) => "module",
        })
        .collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(item(&hir, "m::B").scoped_name(), "m::B");
}

#[test]
fn unbounded_types_need_a_bound() {
    let text = "module pkg { struct H { string frame_id; sequence<long> v; map<long, long> m; wstring w; }; };";
    assert_eq!(
        codes(text),
        [
            "E-UNBOUNDED-STRING",
            "E-UNBOUNDED-SEQUENCE",
            "E-UNBOUNDED-MAP",
            "E-UNBOUNDED-WSTRING"
        ]
    );
    let mut options = Options {
        default_string_bound: Some(32),
        default_sequence_bound: Some(4),
        default_map_bound: Some(2),
        ..Options::default()
    };
    options.member_bounds.insert("pkg::H::frame_id".into(), 64);
    let (hir, diags) = compile_with(text, &options);
    assert!(diags.is_empty(), "{diags:#?}");
    let hir = hir.unwrap();
    let ItemKind::Struct(s) = &item(&hir, "pkg::H").kind else {
        panic!()
    };
    assert!(
        matches!(s.fields[0].ty, Type::String(t) if t.bound == 64 && t.source == BoundSource::MemberBound)
    );
    assert!(
        matches!(&s.fields[1].ty, Type::Sequence(t) if t.bound == 4 && t.source == BoundSource::DefaultOption)
    );
    assert!(
        matches!(&s.fields[2].ty, Type::Map(t) if t.bound == 2 && t.entry_layout == Layout::new(8, 4))
    );
    assert!(matches!(s.fields[3].ty, Type::String(t) if t.wide && t.bound == 32));
}

#[test]
fn unbounded_through_a_nested_type_shows_the_path() {
    let (_, diags) = compile_with(
        "typedef sequence<long> Seq; struct Inner { Seq s; }; struct Outer { Inner i; };",
        &Options::default(),
    );
    assert_eq!(diags.len(), 1);
    let d = &diags[0];
    assert_eq!(d.code, "E-UNBOUNDED-SEQUENCE");
    assert!(d.message.contains("typedef `Seq`"), "{}", d.message);
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("`Outer::i` -> `Inner::s`")),
        "{:?}",
        d.notes
    );
    assert!(
        d.help
            .as_deref()
            .is_some_and(|h| h.contains("sequence<long, 100>"))
    );
}

#[test]
fn recursive_types_are_found_however_hidden() {
    assert_eq!(
        codes("struct S; typedef S Arr[2]; struct S { Arr a; };"),
        ["E-RECURSIVE-TYPE"]
    );
    assert_eq!(
        codes(
            "struct A; union U switch (long) { case 1: sequence<A, 2> a; }; struct A { @optional U u; };"
        ),
        ["E-RECURSIVE-TYPE"]
    );
    assert_eq!(codes("struct N { N next; };"), ["E-RECURSIVE-TYPE"]);
    assert_eq!(codes("struct F; struct G { F f; };"), ["E-INCOMPLETE-TYPE"]);
}

#[test]
fn unions_labels_and_layout() {
    let hir = ok("enum K { K0, K1, K2 };
        union U switch (K) { case K0: case K1: octet a; default: double d; };
        union V switch (char) { case 'a': long x; case 'b': short y; };");
    let u = item(&hir, "U");
    let ItemKind::Union(un) = &u.kind else {
        panic!()
    };
    assert_eq!(
        un.discriminator_kind,
        Discriminator::Enum(hir.find("K").unwrap())
    );
    assert_eq!(un.cases[0].labels, vec![0, 1]);
    assert_eq!(un.default_case, Some(1));
    assert_eq!(un.default_discriminator, Some(2));
    // u32 discriminator, octet at 4, double at 8.
    assert_eq!(
        un.cases.iter().map(|c| c.offset).collect::<Vec<_>>(),
        vec![4, 8]
    );
    assert_eq!(u.layout, Some(Layout::new(16, 8)));
    let ItemKind::Union(v) = &item(&hir, "V").kind else {
        panic!()
    };
    assert_eq!(v.cases[1].labels, vec![i128::from(b'b')]);
    assert_eq!(v.default_discriminator, Some(0));
    assert_eq!(
        codes("union W switch (long) { case 1: long a; case 1: long b; };"),
        ["E-UNION-LABEL"]
    );
    assert_eq!(
        codes("union W switch (float) { case 1: long a; };"),
        ["E-UNION-DISCRIMINATOR"]
    );
}

#[test]
fn enums_bitmasks_bitsets() {
    let hir = ok("@bit_bound(8) enum Small { A, @value(5) B, C };
        @bit_bound(16) enum Neg { @value(-3) N, P };
        @bit_bound(40) bitmask Wide { F0, @position(39) F39 };
        bitset Bits { bitfield<3> a; bitfield<2>; bitfield<12, short> b; bitfield<1> flag; };");
    let ItemKind::Enum(e) = &item(&hir, "Small").kind else {
        panic!()
    };
    assert_eq!(e.repr, IntRepr::U8);
    assert_eq!(
        e.enumerators.iter().map(|x| x.value).collect::<Vec<_>>(),
        vec![0, 5, 6]
    );
    let ItemKind::Enum(n) = &item(&hir, "Neg").kind else {
        panic!()
    };
    assert_eq!(n.repr, IntRepr::I16);
    let ItemKind::Bitmask(b) = &item(&hir, "Wide").kind else {
        panic!()
    };
    assert_eq!((b.repr, b.flags[1].position), (IntRepr::U64, 39));
    let bits = item(&hir, "Bits");
    let ItemKind::Bitset(bs) = &bits.kind else {
        panic!()
    };
    assert_eq!(
        bs.fields
            .iter()
            .map(|f| (f.offset, f.width))
            .collect::<Vec<_>>(),
        vec![(0, 3), (5, 12), (17, 1)]
    );
    assert_eq!((bs.total_bits, bs.storage), (18, IntRepr::U32));
    assert_eq!(bits.layout, Some(Layout::new(4, 4)));
    // The flag at bit 63 stands for 2^63, beyond i64 (it used to become i64::MIN and be
    // rejected as out of range).
    let hir = ok("@bit_bound(64) bitmask Top { F0, @position(63) F63 };
        const unsigned long long TOP = F63;
        const unsigned long long BOTH = F0 | F63;");
    assert_eq!(const_value(&hir, "TOP"), ConstValue::Int(1i128 << 63));
    assert_eq!(
        const_value(&hir, "BOTH"),
        ConstValue::Int((1i128 << 63) | 1)
    );
    assert_eq!(codes("@bit_bound(100) enum E { A };"), ["E-ANNOTATION"]);
    assert_eq!(
        codes("enum E { @value(1) A, @value(1) B };"),
        ["E-ANNOTATION"]
    );
    assert_eq!(
        codes("@bit_bound(2) bitmask M { A, B, C };"),
        ["E-ANNOTATION"]
    );
    assert_eq!(
        codes("bitset B { bitfield<40> a; bitfield<40> b; };"),
        ["E-BITSET"]
    );
}

#[test]
fn annotations_are_checked_where_they_apply() {
    assert_eq!(codes("@key struct S { long a; };"), ["E-ANNOTATION"]);
    assert_eq!(
        codes("@appendable(\"x\") struct S { long a; };"),
        ["E-ANNOTATION"]
    );
    assert_eq!(codes("struct S { @id long a; };"), ["E-ANNOTATION"]);
    assert_eq!(
        codes("struct S { @key(value = TRUE, other = 1) long a; };"),
        ["E-ANNOTATION"]
    );
    assert_eq!(
        codes("struct S { @default(\"x\") long a; };"),
        ["E-ANNOTATION"]
    );
    assert_eq!(
        codes("struct S { @id(3) long a; string<4> b; @id(4) long c; };"),
        ["E-ANNOTATION"]
    );
    assert_eq!(
        codes("struct S { @Key long a; };"),
        ["W-UNKNOWN-ANNOTATION"]
    );
    assert!(codes("@annotation mine { long v; }; struct S { @mine(v = 1) long a; };").is_empty());
    let hir = ok("struct S { @key @default(3) @range(min = 1, max = 9) @unit(\"m\") long a; };");
    let ItemKind::Struct(s) = &item(&hir, "S").kind else {
        panic!()
    };
    let f = &s.fields[0];
    assert!(f.key);
    assert_eq!(
        (f.default.clone(), f.min.clone(), f.max.clone()),
        (
            Some(ConstValue::Int(3)),
            Some(ConstValue::Int(1)),
            Some(ConstValue::Int(9))
        )
    );
    assert_eq!(f.doc.unit.as_deref(), Some("m"));
}

#[test]
fn keylist_pragma_marks_keys() {
    let hir = ok("module m { struct A { long id; long other; }; };\n#pragma keylist m::A id\n");
    let ItemKind::Struct(s) = &item(&hir, "m::A").kind else {
        panic!()
    };
    assert_eq!(
        s.fields.iter().map(|f| f.key).collect::<Vec<_>>(),
        vec![true, false]
    );
    assert_eq!(
        codes("struct A { long id; };\n#pragma keylist A nope\n"),
        ["E-UNDECLARED"]
    );
}

#[test]
fn long_double_needs_the_opt_in() {
    let text = "struct S { long double x; octet o; };";
    assert_eq!(codes(text), ["E-LONG-DOUBLE"]);
    let options = Options {
        long_double_opaque: true,
        ..Options::default()
    };
    let (hir, diags) = compile_with(text, &options);
    assert!(diags.is_empty());
    assert_eq!(item(&hir.unwrap(), "S").layout, Some(Layout::new(32, 16)));
}

#[test]
fn redefinitions_and_duplicate_members() {
    let (_, diags) = compile_with(
        "struct S { long a; }; struct S { long b; };",
        &Options::default(),
    );
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "E-REDEFINITION");
    assert!(diags[0].secondary[0].span.lo < diags[0].primary.as_ref().unwrap().span.lo);
    assert_eq!(
        codes("struct B { long a; }; struct S : B { long a; };"),
        ["E-REDEFINITION"]
    );
    assert!(codes("struct F; struct F { long a; }; struct F;").is_empty());
    assert_eq!(
        codes("struct S { long a; }; const long S = 1;"),
        ["E-REDEFINITION"]
    );
}

#[test]
fn long_forward_chains_are_an_error_not_a_stack_overflow() {
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!("const long c{i} = c{} + 1;\n", i + 1));
    }
    text.push_str("const long c3000 = 0;\n");
    let (hir, diags) = compile_with(&text, &Options::default());
    assert!(hir.is_none());
    assert!(
        diags.iter().any(|d| d.code == "E-NESTING"),
        "{:?}",
        diags.first()
    );
    // A chain in declaration order is fine however long.
    let mut text = String::from("const long c0 = 0;\n");
    for i in 1..3000 {
        text.push_str(&format!("const long c{i} = c{} + 1;\n", i - 1));
    }
    let hir = ok(&text);
    assert_eq!(const_value(&hir, "c2999"), ConstValue::Int(2999));
}

#[test]
fn long_inheritance_chains_and_base_cycles() {
    let mut text = String::from("struct S0 { long m0; };\n");
    for i in 1..1000 {
        text.push_str(&format!("struct S{i} : S{} {{ long m{i}; }};\n", i - 1));
    }
    let hir = ok(&text);
    assert_eq!(item(&hir, "S999").layout, Some(Layout::new(4000, 4)));
    assert_eq!(
        codes("struct A; struct B : A { long b; }; struct A : B { long a; };"),
        ["E-RECURSIVE-TYPE"]
    );
}

#[test]
fn defaults_on_unbounded_strings_discriminators_and_fixed_literals() {
    // Only the missing bound is reported, not a bound mismatch of the default.
    assert_eq!(
        codes("struct S { @default(\"foo\") string s; };"),
        ["E-UNBOUNDED-STRING"]
    );
    let hir = ok("const octet NONE = 0;
        union U switch (@default(NONE) octet) { case 1: long a; };
        struct F { @default(8.7d) float f; @default(.5d) double g; };");
    let ItemKind::Struct(f) = &item(&hir, "F").kind else {
        panic!()
    };
    assert_eq!(f.fields[0].default, Some(ConstValue::Float(8.7)));
    assert_eq!(f.fields[1].default, Some(ConstValue::Float(0.5)));
    assert_eq!(
        codes("struct S { @default(1.5d) long a; };"),
        ["E-ANNOTATION"]
    );
}

#[test]
fn too_large_types_are_reported_with_other_errors() {
    let text = "typedef string<1600000000> Huge;
        struct Big { Huge a, b, c; };
        struct Bigger { Big big; };
        struct Other { string unbounded; };
        struct UsesOther { Other o; Huge h[4]; };";
    // Big is reported (not Bigger, which is large only because of it); Other is unbounded;
    // UsesOther is not sized, since Other has no layout yet.
    assert_eq!(codes(text), ["E-TYPE-TOO-LARGE", "E-UNBOUNDED-STRING"]);
    let (_, diags) = compile_with(text, &Options::default());
    assert!(diags[0].message.contains("`Big`"), "{}", diags[0].message);
}
