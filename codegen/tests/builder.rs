//! `Builder`: what a build script gets, without running one.

use std::path::Path;

use shmbus_codegen::{Builder, CompileError};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn compile_writes_one_file_per_idl_file_only_when_changed() {
    let dir = tempdir();
    write(
        dir.path(),
        "idl/common.idl",
        "module c { struct Stamp { unsigned long long ns; }; };",
    );
    let robot = write(
        dir.path(),
        "robot.idl",
        "#include \"common.idl\"\nmodule robot { struct Pose { c::Stamp t; double x; }; };",
    );
    let out = dir.path().join("out");
    let builder = Builder::new().include(dir.path().join("idl")).out_dir(&out);
    builder.compile(&[&robot]).unwrap_or_else(|e| panic!("{e}"));
    let generated = out.join("robot.rs");
    let text = std::fs::read_to_string(&generated).unwrap_or_default();
    assert!(text.contains("pub t: super::c::Stamp"), "{text}");
    let modified = std::fs::metadata(&generated)
        .and_then(|m| m.modified())
        .ok();

    builder.compile(&[&robot]).unwrap_or_else(|e| panic!("{e}"));
    let again = std::fs::metadata(&generated)
        .and_then(|m| m.modified())
        .ok();
    assert_eq!(modified, again, "an unchanged output is not rewritten");

    // Every file read is reported, for `cargo:rerun-if-changed`: the include too.
    let compiled = builder
        .compile_one(&robot)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(compiled.inputs.len(), 2);
    assert!(compiled.inputs.iter().any(|p| p.ends_with("common.idl")));
    assert_eq!(compiled.file.contents, text);
}

#[test]
fn idl_errors_are_returned_rendered_with_every_input() {
    let dir = tempdir();
    let bad = write(dir.path(), "bad.idl", "struct A { string s; Missing m; };");
    let err = Builder::new()
        .out_dir(dir.path())
        .compile(&[&bad])
        .err()
        .unwrap_or_else(|| panic!("bad.idl compiled"));
    let CompileError::Idl {
        count,
        rendered,
        diagnostics,
        inputs,
    } = &err
    else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(*count, 2);
    assert_eq!(diagnostics.len(), 2);
    assert_eq!(inputs, std::slice::from_ref(&bad));
    assert!(rendered.contains("error[E-UNBOUNDED-STRING]"), "{rendered}");
    assert!(rendered.contains("error[E-UNDECLARED]"), "{rendered}");
    assert!(
        err.to_string()
            .starts_with("the IDL has 2 error(s); fix them and rebuild:\n")
    );
    assert!(!dir.path().join("bad.rs").exists());
}

#[test]
fn options_reach_the_front_end() {
    let dir = tempdir();
    let idl = write(
        dir.path(),
        "logs.idl",
        "module logs {\n#ifdef EXTRA\n struct Extra { long e; };\n#endif\n struct Line { string text; sequence<long> codes; wstring w; }; };",
    );
    let bounds = write(dir.path(), "bounds.toml", "\"logs::Line::codes\" = 3\n");
    let compiled = Builder::new()
        .define("EXTRA")
        .default_string_bound(12)
        .default_sequence_bound(99)
        .bounds_file(&bounds)
        .bound("logs::Line::w", 5)
        .compile_one(&idl)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = &compiled.file.contents;
    assert!(text.contains("pub struct Extra"));
    assert!(
        text.contains("pub text: ::shmbus::FixedString<12>"),
        "{text}"
    );
    assert!(
        text.contains("pub codes: ::shmbus::FixedVec<::core::primitive::i32, 3>"),
        "{text}"
    );
    assert!(
        text.contains("pub w: ::shmbus::FixedVec<::core::primitive::u16, 5>"),
        "{text}"
    );
}

#[test]
fn every_file_is_compiled_and_every_error_reported() {
    let dir = tempdir();
    let a = write(dir.path(), "a.idl", "struct A { string s; };");
    let ok = write(dir.path(), "ok.idl", "struct Ok { long x; };");
    let b = write(dir.path(), "b.idl", "struct B { Missing m; };");
    let err = Builder::new()
        .out_dir(dir.path().join("out"))
        .compile(&[&a, &ok, &b])
        .err();
    let Some(CompileError::Idl {
        count, rendered, ..
    }) = &err
    else {
        panic!("unexpected: {err:?}");
    };
    assert_eq!(*count, 2);
    assert!(
        rendered.contains("a.idl:1:12") && rendered.contains("b.idl:1:12"),
        "{rendered}"
    );
    assert!(dir.path().join("out/ok.rs").exists());
    // `Debug` is the readable text, for build scripts' `main() -> Result<..>`.
    let texts = err.as_ref().map(|e| (format!("{e:?}"), e.to_string()));
    assert!(texts.is_some_and(|(debug, display)| debug == display));
}

#[test]
fn lenient_keywords_and_a_crate_path() {
    let dir = tempdir();
    let idl = write(
        dir.path(),
        "ros.idl",
        "module m { struct S { long sequence; }; };",
    );
    assert!(matches!(
        Builder::new().compile_one(&idl),
        Err(CompileError::Idl { .. })
    ));
    let compiled = Builder::new()
        .lenient_keywords(true)
        .crate_path("::sdk::shmbus")
        .compile_one(&idl)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = &compiled.file.contents;
    assert!(
        text.contains("pub sequence: ::core::primitive::i32"),
        "{text}"
    );
    assert!(
        text.contains("#[derive(::sdk::shmbus::ShmMessage)]"),
        "{text}"
    );
    assert!(text.contains("#[shm(crate = \"::sdk::shmbus\")]"), "{text}");
}

#[test]
fn misuse_is_reported_with_what_to_do() {
    let dir = tempdir();
    let a = write(dir.path(), "a/x.idl", "struct A { long a; };");
    let b = write(dir.path(), "b/x.idl", "struct B { long b; };");
    let err = Builder::new().out_dir(dir.path()).compile(&[&a, &b]).err();
    assert!(matches!(err, Some(CompileError::SameOutput { ref name, .. }) if name == "x.rs"));

    let missing = dir.path().join("nope.toml");
    let err = Builder::new()
        .bounds_file(&missing)
        .out_dir(dir.path())
        .compile(&[&a])
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.starts_with("cannot read the bounds file")),
        "{err:?}"
    );

    if std::env::var_os("OUT_DIR").is_none() {
        let err = Builder::new().compile(&[&a]).err();
        assert!(matches!(err, Some(CompileError::NoOutDir)));
    }
}

#[test]
fn cargo_hears_of_every_input_and_warning() {
    let dir = tempdir();
    write(
        dir.path(),
        "inc/common.idl",
        "module c { struct T { long t; }; };",
    );
    let root = write(
        dir.path(),
        "w.idl",
        "#include \"common.idl\"\nmodule w { struct S { @mystery long x; }; };",
    );
    let bounds = write(dir.path(), "b.toml", "");
    let mut lines = Vec::new();
    Builder::new()
        .include(dir.path().join("inc"))
        .bounds_file(&bounds)
        .default_bound(4)
        .out_dir(dir.path().join("out"))
        .compile_reporting(&[&root], &mut lines)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&lines).replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(
        text,
        "cargo::rerun-if-changed=DIR/b.toml\n\
         cargo::rerun-if-changed=DIR/w.idl\n\
         cargo::rerun-if-changed=DIR/inc/common.idl\n\
         cargo::warning=DIR/w.idl:2:23: warning[W-UNKNOWN-ANNOTATION]: unknown annotation `@mystery` is ignored\n"
    );

    // A missing root file is watched too, so creating it reruns the build script.
    let missing = dir.path().join("later.idl");
    let mut lines = Vec::new();
    let err = Builder::new()
        .out_dir(dir.path())
        .compile_reporting(&[&missing], &mut lines)
        .err();
    assert!(matches!(err, Some(CompileError::Idl { .. })));
    let text = String::from_utf8_lossy(&lines).into_owned();
    assert_eq!(
        text,
        format!("cargo::rerun-if-changed={}\n", missing.display())
    );
}

#[test]
fn bounds_entries_are_held_against_every_file_of_the_build() {
    let dir = tempdir();
    let scan = write(
        dir.path(),
        "scan.idl",
        "module robot { struct LaserScan { sequence<float> ranges; }; };",
    );
    let log = write(
        dir.path(),
        "log.idl",
        "module robot { struct Log { string text; }; };",
    );
    // One bounds file for both files: each entry names a member of one of them.
    let bounds = write(
        dir.path(),
        "bounds.toml",
        "[robot.LaserScan]\nranges = 1080\n[robot.Log]\ntext = 80\n",
    );
    let out = dir.path().join("out");
    let builder = Builder::new().out_dir(&out).bounds_file(&bounds);
    let mut cargo = Vec::new();
    builder
        .compile_reporting(&[&scan, &log], &mut cargo)
        .unwrap_or_else(|e| panic!("{e}"));

    // A typo next to a default bound is an error, not a quiet default.
    let typo = write(
        dir.path(),
        "typo.toml",
        "\"robot::LaserScan::rangez\" = 1080\n",
    );
    let builder = Builder::new()
        .out_dir(&out)
        .default_bound(100)
        .bounds_file(&typo);
    let mut cargo = Vec::new();
    let error = builder
        .compile_reporting(&[&scan], &mut cargo)
        .expect_err("a bounds entry that names no member");
    let text = error.to_string();
    assert!(
        matches!(error, CompileError::Idl { count: 1, .. }),
        "{text}"
    );
    assert!(
        text.contains("`robot::LaserScan::rangez` names no"),
        "{text}"
    );
    assert!(
        text.contains("did you mean `robot::LaserScan::ranges`?"),
        "{text}"
    );
    // The default bound that was applied is noted (a plain line: `cargo build -vv`).
    let said = String::from_utf8_lossy(&cargo);
    assert!(
        said.lines()
            .any(|l| l.starts_with("note") && l.contains("robot::LaserScan::ranges")),
        "{said}"
    );
}
