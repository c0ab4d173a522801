//! Layout and validation of derived `ShmMessage` types: every descriptor offset, size and
//! alignment equals what the compiler chose, fields are listed in declaration order under
//! their own names, and invalid bytes are reported at the right field.

use core::mem::{align_of, offset_of, size_of};

use shmbus::message::{Primitive, Problem, TypeDescriptor, TypeKind, validate};
use shmbus::{FixedString, FixedVec, Optional, ShmMessage};

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
struct Inner {
    a: u8,
    flag: bool,
    b: u32,
}

#[derive(ShmMessage, Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Mode {
    Idle,
    Run = 5,
    Stop,
}

#[derive(ShmMessage, Clone, Copy)]
#[repr(i16)]
enum Signed {
    Low = -300,
    Zero = 0,
    High = 300,
}

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
struct Item {
    id: u16,
    mode: Mode,
    weight: f64,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Outer {
    head: u8,
    inner: Inner,
    items: [Item; 4],
    tail: u64,
    signed: Signed,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Pair<T, U, const N: usize> {
    first: T,
    rest: [U; N],
}

#[derive(ShmMessage)]
#[repr(C)]
struct Tuple(u8, f64, Inner);

#[derive(ShmMessage)]
#[repr(C)]
struct Unit;

#[derive(ShmMessage)]
#[repr(transparent)]
struct Meters(f64);

#[derive(ShmMessage)]
#[repr(C, align(16))]
struct Aligned {
    x: u8,
}

#[derive(ShmMessage)]
#[repr(C)]
struct Containers {
    name: FixedString<8>,
    points: FixedVec<Inner, 4>,
    range: Optional<f64>,
    #[allow(dead_code)]
    r#type: u8,
}

/// `(ANY_BIT_PATTERN, ZEROED_IS_VALID)` of `T`.
fn flags<T: ShmMessage>() -> (bool, bool) {
    (T::ANY_BIT_PATTERN, T::ZEROED_IS_VALID)
}

/// Checks one descriptor against the compiler: names in order, offsets, size, alignment.
fn check_struct<T: ShmMessage>(expected: &[(&str, usize, &'static TypeDescriptor)]) {
    let d = T::DESCRIPTOR;
    assert_eq!(d.size(), size_of::<T>(), "size of {}", d.name());
    assert_eq!(d.align(), align_of::<T>(), "align of {}", d.name());
    assert!(
        matches!(d.kind(), TypeKind::Struct { .. }),
        "{} is a struct",
        d.name()
    );
    let found: Vec<_> = d.fields().iter().map(|f| (f.name(), f.offset())).collect();
    let wanted: Vec<_> = expected.iter().map(|&(n, o, _)| (n, o)).collect();
    assert_eq!(found, wanted, "fields of {}", d.name());
    for (field, &(_, _, ty)) in d.fields().iter().zip(expected) {
        assert!(
            field.ty().same_layout(ty),
            "field `{}` of {} has type {}, expected {}",
            field.name(),
            d.name(),
            field.ty(),
            ty
        );
    }
}

#[test]
fn nested_struct_layout() {
    check_struct::<Inner>(&[
        ("a", offset_of!(Inner, a), u8::DESCRIPTOR),
        ("flag", offset_of!(Inner, flag), bool::DESCRIPTOR),
        ("b", offset_of!(Inner, b), u32::DESCRIPTOR),
    ]);
    check_struct::<Outer>(&[
        ("head", offset_of!(Outer, head), u8::DESCRIPTOR),
        ("inner", offset_of!(Outer, inner), Inner::DESCRIPTOR),
        ("items", offset_of!(Outer, items), <[Item; 4]>::DESCRIPTOR),
        ("tail", offset_of!(Outer, tail), u64::DESCRIPTOR),
        ("signed", offset_of!(Outer, signed), Signed::DESCRIPTOR),
    ]);
    assert_eq!(Outer::DESCRIPTOR.name(), "Outer");
    assert!(core::ptr::eq(
        Outer::DESCRIPTOR.fields()[1].ty(),
        Inner::DESCRIPTOR
    ));
}

#[test]
fn array_of_structs_layout() {
    check_struct::<Item>(&[
        ("id", offset_of!(Item, id), u16::DESCRIPTOR),
        ("mode", offset_of!(Item, mode), Mode::DESCRIPTOR),
        ("weight", offset_of!(Item, weight), f64::DESCRIPTOR),
    ]);
    let items = <[Item; 4]>::DESCRIPTOR;
    assert_eq!(items.size(), size_of::<[Item; 4]>());
    match items.kind() {
        TypeKind::Array { len, element } => {
            assert_eq!(*len, 4);
            assert!(core::ptr::eq(*element, Item::DESCRIPTOR));
        }
        other => panic!("expected an array, got {other:?}"),
    }
}

#[test]
fn generic_struct_layout() {
    type A = Pair<u8, f64, 3>;
    type B = Pair<Item, Mode, 2>;
    check_struct::<A>(&[
        ("first", offset_of!(A, first), u8::DESCRIPTOR),
        ("rest", offset_of!(A, rest), <[f64; 3]>::DESCRIPTOR),
    ]);
    check_struct::<B>(&[
        ("first", offset_of!(B, first), Item::DESCRIPTOR),
        ("rest", offset_of!(B, rest), <[Mode; 2]>::DESCRIPTOR),
    ]);
    assert_eq!(A::DESCRIPTOR.name(), "Pair");
    assert_ne!(A::DESCRIPTOR.layout_hash(), B::DESCRIPTOR.layout_hash());
    assert_eq!(flags::<A>(), (true, true));
    assert_eq!(flags::<B>(), (false, true));
}

#[test]
fn tuple_unit_transparent_aligned_layout() {
    check_struct::<Tuple>(&[
        ("0", offset_of!(Tuple, 0), u8::DESCRIPTOR),
        ("1", offset_of!(Tuple, 1), f64::DESCRIPTOR),
        ("2", offset_of!(Tuple, 2), Inner::DESCRIPTOR),
    ]);
    check_struct::<Unit>(&[]);
    assert_eq!(Unit::DESCRIPTOR.size(), 0);
    check_struct::<Meters>(&[("0", 0, f64::DESCRIPTOR)]);
    check_struct::<Aligned>(&[("x", 0, u8::DESCRIPTOR)]);
    assert_eq!(Aligned::DESCRIPTOR.align(), 16);
}

#[test]
fn containers_layout() {
    check_struct::<Containers>(&[
        (
            "name",
            offset_of!(Containers, name),
            FixedString::<8>::DESCRIPTOR,
        ),
        (
            "points",
            offset_of!(Containers, points),
            FixedVec::<Inner, 4>::DESCRIPTOR,
        ),
        (
            "range",
            offset_of!(Containers, range),
            Optional::<f64>::DESCRIPTOR,
        ),
        ("type", offset_of!(Containers, r#type), u8::DESCRIPTOR),
    ]);
}

#[test]
fn enum_descriptors() {
    let d = Mode::DESCRIPTOR;
    assert_eq!((d.name(), d.size(), d.align()), ("Mode", 1, 1));
    let TypeKind::Enum { repr, variants, .. } = d.kind() else {
        panic!("not an enum: {d:?}")
    };
    assert_eq!(*repr, Primitive::U8);
    let values: Vec<_> = variants.iter().map(|v| (v.name(), v.value())).collect();
    assert_eq!(values, [("Idle", 0), ("Run", 5), ("Stop", 6)]);
    assert_eq!(flags::<Mode>(), (false, true));

    let d = Signed::DESCRIPTOR;
    assert_eq!(
        (d.size(), d.align()),
        (size_of::<Signed>(), align_of::<Signed>())
    );
    let TypeKind::Enum { repr, variants, .. } = d.kind() else {
        panic!("not an enum: {d:?}")
    };
    assert_eq!(*repr, Primitive::I16);
    let values: Vec<_> = variants.iter().map(|v| (v.name(), v.value())).collect();
    assert_eq!(values, [("Low", -300), ("Zero", 0), ("High", 300)]);
}

#[test]
fn flags_combine_over_fields() {
    assert_eq!(flags::<Tuple>(), (false, true), "Inner holds a bool");
    assert_eq!(flags::<Meters>(), (true, true));
    assert_eq!(flags::<Unit>(), (true, true));
    assert_eq!(flags::<Signed>(), (false, true));
    assert_eq!(flags::<Containers>(), (false, true));
}

/// All-zero bytes of an `Outer`: a valid value (every bool false, every enum at its zero
/// variant), which the tests then patch field by field.
fn outer_zeroed() -> Vec<u8> {
    assert_eq!(flags::<Outer>(), (false, true));
    vec![0u8; size_of::<Outer>()]
}

#[test]
fn valid_bytes_pass() {
    let mut bytes = outer_zeroed();
    validate::<Outer>(&bytes).expect("all zeros is a valid Outer");
    bytes[offset_of!(Outer, inner) + offset_of!(Inner, flag)] = 1;
    let item2 = offset_of!(Outer, items) + 2 * size_of::<Item>();
    bytes[item2 + offset_of!(Item, mode)] = Mode::Stop as u8;
    let signed = offset_of!(Outer, signed);
    bytes[signed..signed + 2].copy_from_slice(&(-300i16).to_ne_bytes());
    validate::<Outer>(&bytes).expect("bool 1, mode 6, signed -300 are valid");
}

#[test]
fn invalid_bool_in_nested_struct_names_the_field() {
    let mut bytes = outer_zeroed();
    let at = offset_of!(Outer, inner) + offset_of!(Inner, flag);
    bytes[at] = 7;
    let error = validate::<Outer>(&bytes).unwrap_err();
    assert_eq!(error.path(), "inner.flag");
    assert_eq!(error.offset(), at);
    assert_eq!(error.problem(), &Problem::InvalidBool(7));
}

#[test]
fn unknown_enum_value_in_array_names_the_element() {
    let mut bytes = outer_zeroed();
    let at = offset_of!(Outer, items) + 2 * size_of::<Item>() + offset_of!(Item, mode);
    bytes[at] = 3;
    let error = validate::<Outer>(&bytes).unwrap_err();
    assert_eq!(error.path(), "items[2].mode");
    assert_eq!(error.offset(), at);
    assert_eq!(error.problem(), &Problem::UnknownEnumValue(3));

    let mut bytes = outer_zeroed();
    let at = offset_of!(Outer, signed);
    bytes[at..at + 2].copy_from_slice(&7i16.to_ne_bytes());
    let error = validate::<Outer>(&bytes).unwrap_err();
    assert_eq!(error.path(), "signed");
    assert_eq!(error.problem(), &Problem::UnknownEnumValue(7));
}

#[test]
fn invalid_bytes_in_tuple_and_generic_structs() {
    let mut bytes = vec![0u8; size_of::<Tuple>()];
    bytes[offset_of!(Tuple, 2) + offset_of!(Inner, flag)] = 2;
    assert_eq!(validate::<Tuple>(&bytes).unwrap_err().path(), "2.flag");

    type B = Pair<Item, Mode, 2>;
    let mut bytes = vec![0u8; size_of::<B>()];
    validate::<B>(&bytes).expect("zeros are valid");
    bytes[offset_of!(B, rest) + 1] = 200;
    let error = validate::<B>(&bytes).unwrap_err();
    assert_eq!(error.path(), "rest[1]");
    assert!(error.to_string().contains("Pair"), "{error}");
}

#[test]
fn enum_validation_and_wrong_size() {
    validate::<Mode>(&[5]).expect("5 is Run");
    assert_eq!(
        validate::<Mode>(&[1]).unwrap_err().problem(),
        &Problem::UnknownEnumValue(1)
    );
    let error = validate::<Inner>(&[0; 3]).unwrap_err();
    assert_eq!(
        error.problem(),
        &Problem::WrongSize {
            expected: size_of::<Inner>(),
            found: 3
        }
    );
}
