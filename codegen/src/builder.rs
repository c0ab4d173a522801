//! The build-script API: [`Builder`], in the style of `prost_build::Config`.
//!
//! The builder is the only part of this crate that does I/O. It runs the IDL front end
//! over each file given to [`Builder::compile`], generates Rust with
//! [`generate`], and writes `$OUT_DIR/<stem>.rs` (only when the contents
//! changed). Talking to cargo is part of its job, so it prints:
//!
//! - `cargo::rerun-if-changed=PATH` for every file it read, included files and the bounds
//!   file too, so cargo reruns the build script exactly when an input changes;
//! - `cargo::warning=...` for each IDL warning, one line each (`file:line:col:
//!   warning[CODE]: message`), which cargo shows in the build output;
//! - a plain `note: ...` line (shown by `cargo build -vv`) listing the members that took a
//!   default bound.
//!
//! The per-member bounds (bounds files, [`Builder::bound`]) are held against every file
//! of one [`Builder::compile`] together (see `shmbus_idl::bounds::check_bounds`): an entry
//! that names no member of any of them is an error that suggests the closest name.
//!
//! Errors are returned, not printed: [`CompileError::Idl`] carries every diagnostic
//! already rendered like rustc's, so `fn main() -> Result<(), Box<dyn Error>>` in a
//! build script shows them in full.
//!
//! Each IDL file is compiled as its own translation unit, with its includes, into a file
//! named after it (`idl/robot.idl` -> `robot.rs`, included with
//! `shmbus::include_idl!("robot")`). Two files that include the same common file each
//! get a copy of its types in their own output; the copies have the same descriptors
//! (type names and layout hashes), so they interoperate on the bus.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use shmbus_idl::diagnostics::render::{Style, render, render_one_line};
use shmbus_idl::diagnostics::{Diagnostic, Severity};
use shmbus_idl::source::{FileId, SourceMap};

use crate::{GeneratedFile, Options, generate, write_if_changed};

/// Configures and runs IDL compilation from a build script.
///
/// ```no_run
/// # fn main() -> Result<(), shmbus_codegen::CompileError> {
/// shmbus_codegen::Builder::new()
///     .include("idl")
///     .define("WITH_CAMERA")
///     .default_string_bound(64)
///     .default_sequence_bound(256)
///     .compile(&["idl/robot.idl"])?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    front_end: shmbus_idl::Options,
    bounds_files: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    crate_path: Option<String>,
    cargo_output: Option<bool>,
}

/// Why [`Builder::compile`] failed. Every variant says what to do.
///
/// `Debug` prints the same text as `Display`: a build script's `main` returning
/// `Result<(), Box<dyn Error>>` shows its error with `Debug`, and the rendered
/// diagnostics should read there as they do in a terminal, not as an escaped string.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The IDL has errors; `rendered` holds all of them (and the warnings) as rustc would
    /// print them.
    #[error("the IDL has {count} error(s); fix them and rebuild:\n{rendered}")]
    Idl {
        /// Number of errors.
        count: usize,
        /// Every diagnostic, rendered rustc-style without colour.
        rendered: String,
        /// The diagnostics as data.
        diagnostics: Vec<Diagnostic>,
        /// Every file the front end read before it stopped (for `rerun-if-changed`).
        inputs: Vec<PathBuf>,
    },
    /// No output folder: `OUT_DIR` is not set (outside a build script) and
    /// [`Builder::out_dir`] was not called.
    #[error(
        "no output folder: `OUT_DIR` is not set; run from a build script or call `Builder::out_dir`"
    )]
    NoOutDir,
    /// A path given to `compile` has no file name to name the output after.
    #[error(
        "`{0}` has no file name to name the generated Rust after; pass the path of an .idl file"
    )]
    NoFileName(PathBuf),
    /// Two files given to one `compile` call would write the same output file.
    #[error(
        "`{first}` and `{second}` would both generate `{name}`; rename one or compile them with two builders and different out_dir"
    )]
    SameOutput {
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
        /// The output file both map to.
        name: String,
    },
    /// The bounds file could not be read or is not valid.
    #[error(transparent)]
    Bounds(#[from] BoundsFileError),
    /// Writing the generated file failed.
    #[error("cannot write `{path}`: {source}; check that the folder is writable")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A per-member bounds file could not be used. (`Debug` prints the `Display` text, as
/// for [`CompileError`].)
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum BoundsFileError {
    /// The file could not be read.
    #[error("cannot read the bounds file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("the bounds file `{path}` is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said.
        message: String,
    },
    /// A value is not a bound.
    #[error(
        "in the bounds file `{path}`, `{key}` must be a whole number from 1 to 4294967295 (a string or sequence bound), found `{found}`"
    )]
    BadBound {
        /// The file.
        path: PathBuf,
        /// The member (`pkg::msg::Type::member`).
        key: String,
        /// The value as written.
        found: String,
    },
    /// Any other problem the front end found in the file.
    #[error("the bounds file `{path}` cannot be used: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Debug for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for BoundsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Reads a per-member bounds file: TOML whose keys are IDL member paths and whose values
/// are bounds.
///
/// ```toml
/// "std_msgs::msg::Header::frame_id" = 64
///
/// # the same, as tables
/// [std_msgs.msg.Header]
/// frame_id = 64
/// ```
///
/// Nested tables are joined with `::`, so both spellings above give
/// `std_msgs::msg::Header::frame_id -> 64`.
///
/// The front end reads the file ([`shmbus_idl::bounds`]); this adds the file's name to
/// every error.
pub fn read_bounds_file(path: &Path) -> Result<BTreeMap<String, u32>, BoundsFileError> {
    shmbus_idl::bounds::read_bounds_file(path).map_err(|e| BoundsFileError::from_front_end(path, e))
}

impl BoundsFileError {
    /// The front end's error (which parses the file), with the file named in it.
    fn from_front_end(path: &Path, error: shmbus_idl::bounds::BoundsFileError) -> Self {
        use shmbus_idl::bounds::BoundsFileError as E;
        let path = path.to_owned();
        match error {
            E::Read { path, source } => BoundsFileError::Read { path, source },
            E::Syntax { message } => BoundsFileError::Syntax { path, message },
            E::BadBound { key, found } => BoundsFileError::BadBound { path, key, found },
            other => BoundsFileError::Invalid {
                path,
                message: other.to_string(),
            },
        }
    }
}

/// What the front end made of one IDL file.
#[derive(Debug)]
pub struct Checked {
    /// The files read, for rendering the diagnostics.
    pub sources: SourceMap,
    /// The checked model; `None` when there were errors.
    pub hir: Option<shmbus_idl::hir::Hir>,
    /// Every diagnostic, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// How many of them are errors.
    pub errors: usize,
}

impl Checked {
    /// Every file the front end read (the IDL file and its includes), in reading order.
    pub fn inputs(&self) -> Vec<PathBuf> {
        inputs(&self.sources)
    }
}

/// What one successful compilation of one IDL file produced.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The generated file.
    pub file: GeneratedFile,
    /// Every file the front end read (the IDL file and its includes).
    pub inputs: Vec<PathBuf>,
    /// The warnings, one line each (`file:line:col: warning[CODE]: message`).
    pub warning_lines: Vec<String>,
    /// The bounded strings, sequences and maps of the file, with where their bound came
    /// from (for [`Builder::check_bounds`]).
    pub bound_uses: Vec<shmbus_idl::hir::BoundUse>,
}

impl Builder {
    /// A builder with the defaults: no include paths, no macros, no default bounds
    /// (unbounded strings and sequences are errors), strict keywords, `OUT_DIR`.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Adds a folder searched by `#include` (after the including file's own folder).
    pub fn include(mut self, dir: impl Into<PathBuf>) -> Self {
        self.front_end.include_paths.push(dir.into());
        self
    }

    /// Defines a macro for the preprocessor: `"NAME"` or `"NAME=VALUE"` (like `-D`).
    pub fn define(mut self, definition: impl Into<String>) -> Self {
        self.front_end.defines.push(definition.into());
        self
    }

    /// Gives every unbounded `string`, `wstring`, `sequence` and `map` the bound `n`
    /// (the three options below at once).
    pub fn default_bound(self, n: u32) -> Self {
        self.default_string_bound(n)
            .default_sequence_bound(n)
            .default_map_bound(n)
    }

    /// Gives unbounded `string`/`wstring` members the bound `n` instead of rejecting them.
    /// The bound is part of the type's layout hash.
    pub fn default_string_bound(mut self, n: u32) -> Self {
        self.front_end.default_string_bound = Some(n);
        self
    }

    /// Gives unbounded `sequence<T>` members the bound `n` instead of rejecting them.
    pub fn default_sequence_bound(mut self, n: u32) -> Self {
        self.front_end.default_sequence_bound = Some(n);
        self
    }

    /// Gives unbounded `map<K, V>` members the bound `n` instead of rejecting them.
    pub fn default_map_bound(mut self, n: u32) -> Self {
        self.front_end.default_map_bound = Some(n);
        self
    }

    /// Sets the bound of one member: `bound("std_msgs::msg::Header::frame_id", 64)`.
    pub fn bound(mut self, member: impl Into<String>, n: u32) -> Self {
        self.front_end.member_bounds.insert(member.into(), n);
        self
    }

    /// Reads per-member bounds from a TOML file (see [`read_bounds_file`]) when
    /// compiling; the file is watched by cargo like the IDL.
    pub fn bounds_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.bounds_files.push(path.into());
        self
    }

    /// Accepts `long double` as an opaque 16-byte value (`shmbus::message::LongDouble`)
    /// instead of rejecting it.
    pub fn long_double_opaque(mut self, yes: bool) -> Self {
        self.front_end.long_double_opaque = yes;
        self
    }

    /// Accepts IDL keywords as member names, as ROS 2 does.
    pub fn lenient_keywords(mut self, yes: bool) -> Self {
        self.front_end.lenient_keywords = yes;
        self
    }

    /// Writes the generated files to `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The path generated code uses for the shmbus crate (default `::shmbus`).
    pub fn crate_path(mut self, path: impl Into<String>) -> Self {
        self.crate_path = Some(path.into());
        self
    }

    /// Whether to print `cargo::rerun-if-changed` and `cargo::warning=` lines; by default
    /// only when running inside a build script (`OUT_DIR` set and no `out_dir` given).
    pub fn cargo_output(mut self, yes: bool) -> Self {
        self.cargo_output = Some(yes);
        self
    }

    /// The front-end options this builder passes on (bounds files not yet read).
    pub fn front_end_options(&self) -> &shmbus_idl::Options {
        &self.front_end
    }

    /// Compiles each IDL file in `files` and writes `<out_dir>/<stem>.rs` for each.
    ///
    /// Files with errors do not stop the others: the error returned holds the
    /// diagnostics of every file (files without errors are still written). Inside a build
    /// script it prints the `cargo::` lines described in the module docs
    /// (see [`cargo_output`](Self::cargo_output)).
    pub fn compile(&self, files: &[impl AsRef<Path>]) -> Result<(), CompileError> {
        let cargo = self
            .cargo_output
            .unwrap_or(self.out_dir.is_none() && std::env::var_os("OUT_DIR").is_some());
        if cargo {
            self.compile_reporting(files, &mut std::io::stdout().lock())
        } else {
            self.compile_reporting(files, &mut std::io::sink())
        }
    }

    /// [`compile`](Self::compile), writing the `cargo::rerun-if-changed=` and
    /// `cargo::warning=` lines to `cargo` instead of stdout.
    pub fn compile_reporting(
        &self,
        files: &[impl AsRef<Path>],
        cargo: &mut dyn Write,
    ) -> Result<(), CompileError> {
        let mut say = |line: String| {
            // A build script that cannot write to stdout cannot talk to cargo at all;
            // there is nothing better to do than go on.
            let _ = writeln!(cargo, "{line}");
        };
        let rerun = |path: &Path| format!("cargo::rerun-if-changed={}", path.display());
        // Printed first and whatever happens next: a missing file that appears must rerun.
        for bounds in &self.bounds_files {
            say(rerun(bounds));
        }
        for file in files {
            say(rerun(file.as_ref()));
        }
        let out_dir = match (&self.out_dir, std::env::var_os("OUT_DIR")) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => PathBuf::from(dir),
            (None, None) => return Err(CompileError::NoOutDir),
        };
        let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
        for file in files {
            let file = file.as_ref();
            let stem = output_stem(file)?;
            if let Some(first) = names.insert(format!("{stem}.rs"), file.to_owned()) {
                return Err(CompileError::SameOutput {
                    first,
                    second: file.to_owned(),
                    name: format!("{stem}.rs"),
                });
            }
        }
        // Every file is compiled, so that one run reports every error of every file.
        let mut failed: Option<CompileError> = None;
        let mut uses = Vec::new();
        for file in files {
            let file = file.as_ref();
            let compiled = match self.compile_one(file) {
                Ok(compiled) => compiled,
                Err(CompileError::Idl {
                    count,
                    rendered,
                    diagnostics,
                    inputs,
                }) => {
                    // The files read so far still matter: fixing an include must rerun.
                    for input in inputs.iter().filter(|i| i.as_path() != file) {
                        say(rerun(input));
                    }
                    failed = Some(match failed {
                        Some(CompileError::Idl {
                            count: c,
                            rendered: r,
                            diagnostics: mut d,
                            inputs: mut i,
                        }) => {
                            d.extend(diagnostics);
                            i.extend(inputs);
                            CompileError::Idl {
                                count: c + count,
                                rendered: r + &rendered,
                                diagnostics: d,
                                inputs: i,
                            }
                        }
                        _ => CompileError::Idl {
                            count,
                            rendered,
                            diagnostics,
                            inputs,
                        },
                    });
                    continue;
                }
                Err(other) => return Err(other),
            };
            for input in compiled.inputs.iter().filter(|i| i.as_path() != file) {
                say(rerun(input));
            }
            for warning in &compiled.warning_lines {
                say(format!("cargo::warning={warning}"));
            }
            uses.extend(compiled.bound_uses.iter().cloned());
            let path = out_dir.join(&compiled.file.name);
            write_if_changed(&path, &compiled.file.contents)
                .map_err(|source| CompileError::Write { path, source })?;
        }
        if let Some(error) = failed {
            return Err(error);
        }
        let refs: Vec<&shmbus_idl::hir::BoundUse> = uses.iter().collect();
        let bounds = self.check_bounds(&refs)?;
        for diag in bounds.iter().filter(|d| !d.is_error()) {
            let line = render_one_line(diag, &SourceMap::new());
            if diag.is_warning() {
                say(format!("cargo::warning={line}"));
            } else {
                say(line);
            }
        }
        let errors: Vec<Diagnostic> = bounds.into_iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            return Err(CompileError::Idl {
                count: errors.len(),
                rendered: render(&errors, &SourceMap::new(), Style::Plain),
                diagnostics: errors,
                inputs: Vec::new(),
            });
        }
        Ok(())
    }

    /// Holds the per-member bounds (bounds files and [`bound`](Self::bound)) against the
    /// bounded members of every file of a build (`uses`, from [`Compiled::bound_uses`] or
    /// the HIR of [`check`](Self::check)): errors for entries that name no member,
    /// warnings for entries without effect, a note of the default bounds applied (see
    /// `shmbus_idl::bounds::check_bounds`).
    pub fn check_bounds(
        &self,
        uses: &[&shmbus_idl::hir::BoundUse],
    ) -> Result<Vec<Diagnostic>, BoundsFileError> {
        let options = self.resolved_options()?;
        Ok(shmbus_idl::bounds::check_bounds(
            &options.member_bounds,
            uses,
        ))
    }

    /// Runs the front end over one IDL file (its includes too), without generating,
    /// writing or printing anything. `shmbus idl check` and [`compile_one`](Self::compile_one)
    /// build on it.
    pub fn check(&self, file: &Path) -> Result<Checked, BoundsFileError> {
        let options = self.resolved_options()?;
        let (sources, hir, diagnostics) = shmbus_idl::compile_files(&[file.to_owned()], &options);
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        Ok(Checked {
            hir: hir.filter(|_| errors == 0),
            errors,
            sources,
            diagnostics,
        })
    }

    /// The [`Options`] of [`generate`] for the output of `file`.
    pub fn generate_options(&self, file: &Path) -> Result<Options, CompileError> {
        Ok(Options {
            file_stem: output_stem(file)?,
            sources: vec![file.display().to_string()],
            crate_path: self
                .crate_path
                .clone()
                .unwrap_or_else(|| "::shmbus".to_owned()),
        })
    }

    /// Runs the front end and the generator over one IDL file, without writing or
    /// printing anything.
    pub fn compile_one(&self, file: &Path) -> Result<Compiled, CompileError> {
        let options = self.generate_options(file)?;
        let checked = self.check(file)?;
        let Some(hir) = &checked.hir else {
            return Err(CompileError::Idl {
                count: checked.errors.max(1),
                rendered: render(&checked.diagnostics, &checked.sources, Style::Plain),
                inputs: inputs(&checked.sources),
                diagnostics: checked.diagnostics,
            });
        };
        let file = generate(hir, &options).swap_remove(0);
        let warning_lines = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .map(|d| render_one_line(d, &checked.sources))
            .collect();
        Ok(Compiled {
            file,
            inputs: inputs(&checked.sources),
            warning_lines,
            bound_uses: hir.bound_uses.clone(),
        })
    }

    /// The front-end options with the bounds files read in (members set with
    /// [`bound`](Self::bound) win over the files).
    pub fn resolved_options(&self) -> Result<shmbus_idl::Options, BoundsFileError> {
        let mut options = self.front_end.clone();
        for path in &self.bounds_files {
            for (member, bound) in read_bounds_file(path)? {
                options.member_bounds.entry(member).or_insert(bound);
            }
        }
        Ok(options)
    }
}

/// Every file in `sources`, in the order they were read.
fn inputs(sources: &SourceMap) -> Vec<PathBuf> {
    (0..sources.len())
        .filter_map(|i| u32::try_from(i).ok())
        .filter_map(|i| sources.get(FileId(i)))
        .map(|f| f.path().to_owned())
        .collect()
}

/// The generated file's stem: the IDL file's stem (`robot` for `idl/robot.idl`).
fn output_stem(file: &Path) -> Result<String, CompileError> {
    file.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| CompileError::NoFileName(file.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_bounds(path: &Path, text: &str) -> Result<BTreeMap<String, u32>, BoundsFileError> {
        shmbus_idl::bounds::parse_bounds(text).map_err(|e| BoundsFileError::from_front_end(path, e))
    }

    #[test]
    fn bounds_files_flatten_tables() {
        let text = r#"
"std_msgs::msg::Header::frame_id" = 64
[geometry.msg.Path]
frame = 32
"#;
        let bounds = parse_bounds(Path::new("b.toml"), text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bounds.get("std_msgs::msg::Header::frame_id"), Some(&64));
        assert_eq!(bounds.get("geometry::msg::Path::frame"), Some(&32));
    }

    #[test]
    fn bad_bounds_say_what_is_wrong() {
        let err = parse_bounds(Path::new("b.toml"), "\"a::B::c\" = 0").err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(
                "in the bounds file `b.toml`, `a::B::c` must be a whole number from 1 to 4294967295 (a string or sequence bound), found `0`"
            )
        );
        let err = parse_bounds(Path::new("b.toml"), "x = \"64\"").err();
        assert!(err.is_some_and(|e| e.to_string().contains("found `\"64\"`")));
        let err = parse_bounds(Path::new("b.toml"), "x = ").err();
        assert!(matches!(err, Some(BoundsFileError::Syntax { .. })));
    }

    #[test]
    fn output_is_named_after_the_idl_file() {
        assert_eq!(
            output_stem(Path::new("idl/robot.idl")).ok().as_deref(),
            Some("robot")
        );
        assert!(matches!(
            output_stem(Path::new("/")),
            Err(CompileError::NoFileName(_))
        ));
    }
}
