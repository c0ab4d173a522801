//! UI tests of `#[derive(ShmMessage)]`: what it rejects, with which message, and what it
//! accepts. Regenerate the expected `.stderr` files with `TRYBUILD=overwrite` after a
//! deliberate change, and read them.

#[test]
fn derive_ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
