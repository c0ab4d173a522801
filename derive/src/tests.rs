//! Expansion snapshots (prettyplease + insta) and unit tests of the fallible core.

use syn::{DeriveInput, parse_quote};

use crate::expand;

/// Expands `input` and pretty-prints the result.
fn expand_pretty(input: &DeriveInput) -> String {
    let tokens = expand::derive(input).unwrap_or_else(|e| panic!("expansion failed: {e}"));
    let file: syn::File = syn::parse2(tokens).expect("the expansion is a valid file");
    prettyplease::unparse(&file)
}

/// The messages of all errors reported for `input`, in order.
fn errors(input: &DeriveInput) -> Vec<String> {
    match expand::derive(input) {
        Ok(_) => Vec::new(),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn snapshot_struct() {
    let input: DeriveInput = parse_quote! {
        #[repr(C)]
        pub struct Pose {
            x: f64,
            valid: bool,
            r#type: [u8; 4],
        }
    };
    insta::assert_snapshot!(expand_pretty(&input));
}

#[test]
fn snapshot_tuple_struct() {
    let input: DeriveInput = parse_quote! {
        #[repr(C)]
        #[shm(type_name = "geometry::Point")]
        struct Point(f32, f32);
    };
    insta::assert_snapshot!(expand_pretty(&input));
}

#[test]
fn snapshot_generic_struct() {
    let input: DeriveInput = parse_quote! {
        #[repr(C)]
        #[shm(crate = "my_bus::shmbus")]
        struct Buffer<T: Copy, const N: usize> where T: Default {
            items: [T; N],
            used: u32,
        }
    };
    insta::assert_snapshot!(expand_pretty(&input));
}

#[test]
fn snapshot_enum() {
    let input: DeriveInput = parse_quote! {
        #[repr(i16)]
        enum Mode {
            Reverse = -1,
            Idle,
            Run = 10,
        }
    };
    insta::assert_snapshot!(expand_pretty(&input));
}

#[test]
fn snapshot_unit_struct() {
    let input: DeriveInput = parse_quote! {
        #[repr(C)]
        struct Heartbeat;
    };
    insta::assert_snapshot!(expand_pretty(&input));
}

#[test]
fn all_errors_of_an_item_are_reported_at_once() {
    let input: DeriveInput = parse_quote! {
        #[shm(colour = "red", type_name = "")]
        struct Bad<'a> {
            a: String,
            b: &'a u8,
            c: [usize; 2],
            #[shm(type_name = "x")]
            d: (u8, u8),
        }
    };
    let errors = errors(&input);
    assert_eq!(errors.len(), 9, "{errors:#?}");
    assert!(
        errors[0].starts_with("unknown `#[shm]` key `colour`"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("`type_name` must be"),
        "{}",
        errors[1]
    );
    assert!(errors[2].contains("needs `#[repr(C)]`"), "{}", errors[2]);
    assert!(
        errors[3].starts_with("messages cannot borrow"),
        "{}",
        errors[3]
    );
    assert!(errors[4].contains("FixedString<N>"), "{}", errors[4]);
    assert!(errors[5].starts_with("a reference (`&T`)"), "{}", errors[5]);
    assert!(errors[6].starts_with("`usize`"), "{}", errors[6]);
    assert!(
        errors[7].starts_with("`#[shm]` is not supported on fields"),
        "{}",
        errors[7]
    );
    assert!(errors[8].starts_with("a tuple"), "{}", errors[8]);
}

#[test]
fn repr_states() {
    let ok: [DeriveInput; 4] = [
        parse_quote! { #[repr(C)] struct A { x: u8 } },
        parse_quote! { #[repr(C, align(8))] struct A { x: u8 } },
        parse_quote! { #[repr(transparent)] struct A(u8); },
        parse_quote! { #[repr(u64)] enum A { X } },
    ];
    for input in &ok {
        assert_eq!(errors(input), Vec::<String>::new());
    }
    let rejected: [(DeriveInput, &str); 7] = [
        (parse_quote! { struct A { x: u8 } }, "needs `#[repr(C)]`"),
        (
            parse_quote! { #[repr(Rust)] struct A { x: u8 } },
            "`#[repr(Rust)]`",
        ),
        (
            parse_quote! { #[repr(C, packed(2))] struct A { x: u8 } },
            "`#[repr(packed)]`",
        ),
        (
            parse_quote! { #[repr(u8)] struct A { x: u8 } },
            "applies only to enums",
        ),
        (
            parse_quote! { #[repr(C)] enum A { X } },
            "explicit integer repr",
        ),
        (
            parse_quote! { #[repr(isize)] enum A { X } },
            "`#[repr(isize)]`",
        ),
        (
            parse_quote! { #[repr(u128)] enum A { X } },
            "at most 64 bits",
        ),
    ];
    for (input, expected) in &rejected {
        let errors = errors(input);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].contains(expected),
            "{} should contain {expected}",
            errors[0]
        );
    }
}

#[test]
fn enum_rejections() {
    let input: DeriveInput = parse_quote! {
        #[repr(u8)]
        enum E { A(u8), B { x: u8 }, C }
    };
    assert_eq!(errors(&input).len(), 2);
    let input: DeriveInput = parse_quote! { #[repr(u8)] enum E {} };
    assert!(errors(&input)[0].contains("no variants"));
    let input: DeriveInput = parse_quote! { #[repr(C)] union U { a: u8 } };
    assert!(errors(&input)[0].starts_with("a union cannot"));
}

#[test]
fn nested_field_types_are_checked() {
    let input: DeriveInput = parse_quote! {
        #[repr(C)]
        struct A {
            a: FixedVec<Box<u8>, 4>,
            b: [[char; 2]; 2],
            c: Optional<(u8,)>,
            d: fn(),
            e: *mut u8,
            f: core::marker::PhantomData<u8>,
        }
    };
    let errors = errors(&input);
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(errors[0].starts_with("`Box`"));
    assert!(errors[1].starts_with("`char`"));
    assert!(errors[2].starts_with("a tuple"));
}

#[test]
fn duplicate_and_malformed_attributes() {
    let input: DeriveInput = parse_quote! {
        #[repr(C)]
        #[shm(type_name = "A", type_name = "B")]
        #[shm(crate = "not a path")]
        struct A { x: u8 }
    };
    let errors = errors(&input);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].contains("duplicate"));
}
