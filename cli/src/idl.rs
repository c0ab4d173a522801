//! `shmbus idl compile` and `shmbus idl check`.
//!
//! Both run the IDL front end over each file (with its includes) and print every
//! diagnostic to stderr, rustc-style, in colour only when stderr is a terminal (and
//! `NO_COLOR` is not set). `compile` then writes the generated Rust: to stdout, to the
//! file given with `-o FILE.rs`, or into the folder given with `-o DIR` as
//! `DIR/<stem>.rs` (written only when changed).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use shmbus_codegen::{Builder, CompileError, generate, write_if_changed};
use shmbus_idl::diagnostics::render::{Style, render};

/// `shmbus idl ...`
#[derive(Debug, Subcommand)]
pub(crate) enum IdlCommand {
    /// Generate Rust from IDL files.
    Compile(CompileArgs),
    /// Check IDL files without generating anything.
    Check(FrontEndArgs),
}

/// Options shared by `compile` and `check`.
#[derive(Debug, Args)]
pub(crate) struct FrontEndArgs {
    /// The IDL files; each is compiled with its includes.
    #[arg(required = true, value_name = "FILES")]
    files: Vec<PathBuf>,
    /// Add a folder searched by `#include` (after the including file's folder).
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Define a macro for the preprocessor: NAME or NAME=VALUE.
    #[arg(short = 'D', value_name = "NAME[=VALUE]")]
    define: Vec<String>,
    /// Bound every unbounded string, sequence and map to N (the three options below
    /// override it for their kind).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    default_bound: Option<u32>,
    /// Bound unbounded `string`/`wstring` members to N instead of rejecting them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    default_string_bound: Option<u32>,
    /// Bound unbounded `sequence<T>` members to N instead of rejecting them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    default_sequence_bound: Option<u32>,
    /// Bound unbounded `map<K, V>` members to N instead of rejecting them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    default_map_bound: Option<u32>,
    /// Per-member bounds: a TOML file of `"pkg::Type::member" = N`.
    #[arg(long, value_name = "FILE.toml")]
    bounds: Vec<PathBuf>,
    /// Accept IDL keywords as member names, as ROS 2 does.
    #[arg(long)]
    lenient_keywords: bool,
    /// Accept `long double` as an opaque 16-byte value instead of rejecting it.
    #[arg(long)]
    long_double_opaque: bool,
}

/// `shmbus idl compile`.
#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    #[command(flatten)]
    front_end: FrontEndArgs,
    /// Write to FILE (`.rs`, one input only) or into DIR as `<stem>.rs`; stdout if absent.
    #[arg(short = 'o', value_name = "FILE|DIR")]
    output: Option<PathBuf>,
}

/// Why a command failed, besides errors in the IDL (which are reported as diagnostics).
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Bounds(#[from] shmbus_codegen::BoundsFileError),
    #[error("`-o {0}` names one file but {1} IDL files were given; pass a folder instead")]
    OutputNotADir(PathBuf, usize),
    #[error("cannot write `{path}`: {source}; check that the folder exists and is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(crate) fn run(command: IdlCommand) -> ExitCode {
    let style = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style::Color
    } else {
        Style::Plain
    };
    let result = match command {
        IdlCommand::Compile(args) => compile(&args, style),
        IdlCommand::Check(args) => check(&args, style),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

fn builder(args: &FrontEndArgs) -> Builder {
    let mut builder = Builder::new()
        .lenient_keywords(args.lenient_keywords)
        .long_double_opaque(args.long_double_opaque);
    for dir in &args.include {
        builder = builder.include(dir);
    }
    for define in &args.define {
        builder = builder.define(define);
    }
    if let Some(n) = args.default_bound {
        builder = builder.default_bound(n);
    }
    if let Some(n) = args.default_string_bound {
        builder = builder.default_string_bound(n);
    }
    if let Some(n) = args.default_sequence_bound {
        builder = builder.default_sequence_bound(n);
    }
    if let Some(n) = args.default_map_bound {
        builder = builder.default_map_bound(n);
    }
    for bounds in &args.bounds {
        builder = builder.bounds_file(bounds);
    }
    builder
}

/// Checks every file, prints the diagnostics and, for a file without errors, what was
/// checked in one line (like `cargo check`); `Ok(true)` when none had errors.
fn check(args: &FrontEndArgs, style: Style) -> Result<bool, CliError> {
    let builder = builder(args);
    let mut ok = true;
    let mut uses = Vec::new();
    for file in &args.files {
        let checked = builder.check(file)?;
        report(file, &checked, style);
        if let Some(hir) = &checked.hir {
            eprintln!("{}", summary(file, &checked.inputs(), hir));
            uses.extend(hir.bound_uses.iter().cloned());
        }
        ok &= checked.errors == 0;
    }
    Ok(ok && check_bounds(&builder, &uses, style)?)
}

/// Holds the bounds entries against the files of this run (when they all compiled: a
/// file with errors has no model to hold them against) and prints what that found;
/// `Ok(false)` when an entry names no member.
fn check_bounds(
    builder: &Builder,
    uses: &[shmbus_idl::hir::BoundUse],
    style: Style,
) -> Result<bool, CliError> {
    let refs: Vec<&shmbus_idl::hir::BoundUse> = uses.iter().collect();
    let diagnostics = builder.check_bounds(&refs)?;
    let text = render(&diagnostics, &shmbus_idl::source::SourceMap::new(), style);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    Ok(!diagnostics.iter().any(|d| d.is_error()))
}

/// `checked robot.idl and 1 included file: 3 structs, 1 enum, 1 constant in 2 modules`.
fn summary(file: &Path, inputs: &[PathBuf], hir: &shmbus_idl::hir::Hir) -> String {
    use shmbus_idl::hir::ItemKind;
    let mut counts = [0usize; 7];
    for item in &hir.items {
        let at = match item.kind {
            ItemKind::Struct(_) => 0,
            ItemKind::Union(_) => 1,
            ItemKind::Enum(_) => 2,
            ItemKind::Bitmask(_) => 3,
            ItemKind::Bitset(_) => 4,
            ItemKind::Typedef(_) => 5,
            ItemKind::Const(_) => 6,
        };
        counts[at] += 1;
    }
    let names = [
        ("struct", "structs"),
        ("union", "unions"),
        ("enum", "enums"),
        ("bitmask", "bitmasks"),
        ("bitset", "bitsets"),
        ("typedef", "typedefs"),
        ("constant", "constants"),
    ];
    let mut parts: Vec<String> = counts
        .iter()
        .zip(names)
        .filter(|(n, _)| **n > 0)
        .map(|(&n, (one, many))| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
    if parts.is_empty() {
        parts.push("no declarations".to_owned());
    }
    let included = inputs.len().saturating_sub(1);
    let modules = hir.modules.len().saturating_sub(1);
    format!(
        "checked {}{}: {}{}",
        file.display(),
        match included {
            0 => String::new(),
            1 => " and 1 included file".to_owned(),
            n => format!(" and {n} included files"),
        },
        parts.join(", "),
        match modules {
            0 => String::new(),
            1 => " in 1 module".to_owned(),
            n => format!(" in {n} modules"),
        }
    )
}

fn compile(args: &CompileArgs, style: Style) -> Result<bool, CliError> {
    let files = &args.front_end.files;
    let target = match &args.output {
        None => Target::Stdout,
        Some(path) if is_file_target(path) => {
            if files.len() > 1 {
                return Err(CliError::OutputNotADir(path.clone(), files.len()));
            }
            Target::File(path.clone())
        }
        Some(dir) => Target::Dir(dir.clone()),
    };
    let builder = builder(&args.front_end);
    let mut ok = true;
    let mut uses = Vec::new();
    for file in files {
        let checked = builder.check(file)?;
        report(file, &checked, style);
        let Some(hir) = &checked.hir else {
            ok = false;
            continue;
        };
        uses.extend(hir.bound_uses.iter().cloned());
        let generated = generate(hir, &builder.generate_options(file)?).swap_remove(0);
        match &target {
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(generated.contents.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|source| CliError::Write {
                        path: PathBuf::from("<stdout>"),
                        source,
                    })?;
            }
            Target::File(path) => write(path, &generated.contents)?,
            Target::Dir(dir) => write(&dir.join(&generated.name), &generated.contents)?,
        }
    }
    Ok(ok && check_bounds(&builder, &uses, style)?)
}

enum Target {
    Stdout,
    File(PathBuf),
    Dir(PathBuf),
}

/// `-o x.rs` (or any path that is not a folder and does not end in `/`) names a file.
fn is_file_target(path: &Path) -> bool {
    !path.is_dir()
        && !path.as_os_str().to_string_lossy().ends_with('/')
        && path.extension().is_some_and(|e| e == "rs")
}

fn write(path: &Path, contents: &str) -> Result<(), CliError> {
    write_if_changed(path, contents)
        .map(|_| ())
        .map_err(|source| CliError::Write {
            path: path.to_owned(),
            source,
        })
}

/// Prints the diagnostics of one file and, when there were errors, a closing line like
/// rustc's.
fn report(file: &Path, checked: &shmbus_codegen::builder::Checked, style: Style) {
    let mut err = std::io::stderr().lock();
    let text = render(&checked.diagnostics, &checked.sources, style);
    let warnings = checked.diagnostics.len() - checked.errors;
    // Nothing better to do if stderr is closed than to go on.
    let _ = err.write_all(text.as_bytes());
    if checked.errors > 0 {
        let _ = writeln!(
            err,
            "error: could not compile `{}` ({} error{}{})",
            file.display(),
            checked.errors,
            plural(checked.errors),
            if warnings > 0 {
                format!(", {warnings} warning{}", plural(warnings))
            } else {
                String::new()
            }
        );
    } else if warnings > 0 {
        let _ = writeln!(
            err,
            "warning: `{}` generated {warnings} warning{}",
            file.display(),
            plural(warnings)
        );
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
