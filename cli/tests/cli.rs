//! `shmbus idl compile` / `shmbus idl check`, run as a user would: the built binary,
//! spawned in `tests/` so that paths in its output are relative and snapshots stable.

use std::path::Path;
use std::process::{Command, Output};

fn shmbus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shmbus"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"))
        .env_remove("NO_COLOR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run shmbus: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn compile_prints_rust_to_stdout() {
    let out = shmbus(&["idl", "compile", "idl/robot.idl", "-I", "idl/include"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn check_says_what_it_checked() {
    let out = shmbus(&["idl", "check", "idl/robot.idl", "-I", "idl/include"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn defines_select_preprocessor_branches() {
    let without = shmbus(&["idl", "compile", "idl/robot.idl", "-I", "idl/include"]);
    let with = shmbus(&[
        "idl",
        "compile",
        "idl/robot.idl",
        "-I",
        "idl/include",
        "-D",
        "WITH_STATUS",
    ]);
    assert_eq!(with.status.code(), Some(0), "{}", stderr(&with));
    assert!(!stdout(&without).contains("pub struct Status"));
    assert!(stdout(&with).contains("pub struct Status"));
    assert!(stdout(&with).contains("pub stamp: super::common::Stamp"));
}

#[test]
fn compile_writes_into_a_folder_or_a_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let folder = dir.path().display().to_string();
    let out = shmbus(&[
        "idl",
        "compile",
        "idl/robot.idl",
        "idl/unbounded.idl",
        "-I",
        "idl/include",
        "--default-string-bound",
        "8",
        "--default-sequence-bound",
        "2",
        "-o",
        &folder,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let robot = std::fs::read_to_string(dir.path().join("robot.rs")).unwrap_or_default();
    assert!(robot.starts_with("// @generated"));
    let logs = std::fs::read_to_string(dir.path().join("unbounded.rs")).unwrap_or_default();
    assert!(logs.contains("pub text: ::shmbus::FixedString<8>"));

    let file = dir.path().join("named.rs").display().to_string();
    let out = shmbus(&[
        "idl",
        "compile",
        "idl/robot.idl",
        "-I",
        "idl/include",
        "-o",
        &file,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&file).ok().as_deref(),
        Some(robot.as_str())
    );
}

#[test]
fn one_output_file_for_several_inputs_is_an_error() {
    let out = shmbus(&[
        "idl",
        "compile",
        "idl/robot.idl",
        "idl/warnings.idl",
        "-o",
        "x.rs",
    ]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn errors_are_rendered_like_rustc_and_exit_1() {
    let out = shmbus(&["idl", "check", "idl/errors.idl"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    insta::assert_snapshot!(stderr(&out));

    let compile = shmbus(&["idl", "compile", "idl/errors.idl"]);
    assert_eq!(compile.status.code(), Some(1));
    assert_eq!(
        stdout(&compile),
        "",
        "nothing is generated from a file with errors"
    );
    assert_eq!(stderr(&compile), stderr(&out));
}

#[test]
fn warnings_are_shown_and_exit_0() {
    let out = shmbus(&["idl", "check", "idl/warnings.idl"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn unbounded_members_need_a_bound_from_an_option_or_a_bounds_file() {
    let rejected = shmbus(&["idl", "check", "idl/unbounded.idl"]);
    assert_eq!(rejected.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&rejected));

    let defaults = shmbus(&[
        "idl",
        "check",
        "idl/unbounded.idl",
        "--default-string-bound",
        "64",
        "--default-sequence-bound",
        "16",
    ]);
    assert_eq!(defaults.status.code(), Some(0), "{}", stderr(&defaults));

    let file = shmbus(&[
        "idl",
        "compile",
        "idl/unbounded.idl",
        "--bounds",
        "idl/bounds.toml",
    ]);
    assert_eq!(file.status.code(), Some(0), "{}", stderr(&file));
    assert!(stdout(&file).contains("pub text: ::shmbus::FixedString<80>"));
    assert!(stdout(&file).contains("pub codes: ::shmbus::FixedVec<::core::primitive::i32, 4>"));
}

#[test]
fn a_bounds_entry_that_names_no_member_is_an_error_and_default_bounds_are_noted() {
    // `codez` (a typo) next to a default bound: the default would quietly apply to
    // `codes`; the entry is an error that suggests the member.
    let typo = shmbus(&[
        "idl",
        "check",
        "idl/unbounded.idl",
        "--default-bound",
        "16",
        "--bounds",
        "idl/typo.toml",
    ]);
    assert_eq!(typo.status.code(), Some(1), "{}", stderr(&typo));
    insta::assert_snapshot!(stderr(&typo));

    let noted = shmbus(&[
        "idl",
        "check",
        "idl/unbounded.idl",
        "--default-sequence-bound",
        "16",
        "--bounds",
        "idl/bounds.toml",
        "--default-string-bound",
        "8",
    ]);
    assert_eq!(noted.status.code(), Some(0), "{}", stderr(&noted));
    assert!(!stderr(&noted).contains("note:"), "{}", stderr(&noted));
    let defaults = shmbus(&[
        "idl",
        "compile",
        "idl/unbounded.idl",
        "--default-bound",
        "16",
    ]);
    assert_eq!(defaults.status.code(), Some(0), "{}", stderr(&defaults));
    insta::assert_snapshot!(stderr(&defaults));
}

#[test]
fn unreadable_inputs_are_errors() {
    let missing = shmbus(&["idl", "check", "idl/missing.idl"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("cannot read `idl/missing.idl`"),
        "{}",
        stderr(&missing)
    );

    let bounds = shmbus(&[
        "idl",
        "check",
        "idl/unbounded.idl",
        "--bounds",
        "idl/nope.toml",
    ]);
    assert_eq!(bounds.status.code(), Some(1));
    assert!(stderr(&bounds).starts_with("error: cannot read the bounds file `idl/nope.toml`"));
}

#[test]
fn usage_errors_exit_2() {
    let out = shmbus(&["idl", "compile"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("FILES"), "{}", stderr(&out));
    let out = shmbus(&["idl", "check", "x.idl", "--default-string-bound", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = shmbus(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("idl"));
}
