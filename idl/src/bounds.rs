//! Per-member bounds files: TOML whose keys are IDL member (or typedef) paths and whose
//! values are bounds, so third-party IDL never needs editing.
//!
//! ```toml
//! "std_msgs::msg::Header::frame_id" = 64
//!
//! # the same, as tables: nested tables are joined with `::`
//! [std_msgs.msg.Header]
//! frame_id = 64
//! ```
//!
//! [`check_bounds`] holds the entries against what the IDL files of a build use: an entry
//! that names no string, sequence or map member or typedef (a typo) is an error that
//! suggests the closest name, one whose member is bounded in the IDL already is a warning,
//! and the members that took a default bound are listed in a note.
//!
//! ```
//! let bounds = shmbus_idl::bounds::parse_bounds(
//!     "\"pkg::A::name\" = 16\n[pkg.B]\nitems = 8\n",
//! ).unwrap();
//! assert_eq!(bounds["pkg::A::name"], 16);
//! assert_eq!(bounds["pkg::B::items"], 8);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::Options;
use crate::diagnostics::{Diagnostic, Severity};
use crate::hir::{BoundSource, BoundUse};

/// Why a bounds file could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum BoundsFileError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not TOML.
    Syntax {
        /// What the TOML parser said.
        message: String,
    },
    /// A value is not a bound.
    BadBound {
        /// The member (`pkg::msg::Type::member`).
        key: String,
        /// The value as written.
        found: String,
    },
}

impl fmt::Display for BoundsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundsFileError::Read { path, source } => {
                write!(
                    f,
                    "cannot read the bounds file `{}`: {source}",
                    path.display()
                )
            }
            BoundsFileError::Syntax { message } => {
                write!(f, "the bounds file is not valid TOML: {message}")
            }
            BoundsFileError::BadBound { key, found } => write!(
                f,
                "`{key}` must be a bound, a whole number from 1 to {}, found `{found}`",
                u32::MAX
            ),
        }
    }
}

impl std::error::Error for BoundsFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BoundsFileError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Parses the text of a bounds file.
pub fn parse_bounds(text: &str) -> Result<BTreeMap<String, u32>, BoundsFileError> {
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| BoundsFileError::Syntax {
                message: e.message().to_owned(),
            })?;
    let mut out = BTreeMap::new();
    flatten("", &table, &mut out)?;
    Ok(out)
}

/// Reads and parses a bounds file.
pub fn read_bounds_file(path: &Path) -> Result<BTreeMap<String, u32>, BoundsFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| BoundsFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_bounds(&text)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, u32>,
) -> Result<(), BoundsFileError> {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}::{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&full, inner, out)?,
            toml::Value::Integer(n) => match u32::try_from(*n) {
                Ok(bound) if bound >= 1 => {
                    out.insert(full, bound);
                }
                _ => {
                    return Err(BoundsFileError::BadBound {
                        key: full,
                        found: n.to_string(),
                    });
                }
            },
            other => {
                return Err(BoundsFileError::BadBound {
                    key: full,
                    found: other.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Holds the per-member bounds `member_bounds` against `uses`, the bounded strings,
/// sequences and maps of every IDL file of one build ([`crate::hir::Hir::bound_uses`] of
/// each): an entry that names none of them is an error (with the closest name), an entry
/// whose member has a bound written in the IDL is a warning (it has no effect), and one
/// note lists the members that took a default bound.
pub fn check_bounds(member_bounds: &BTreeMap<String, u32>, uses: &[&BoundUse]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for key in member_bounds.keys() {
        let matching: Vec<&&BoundUse> = uses.iter().filter(|u| &u.key == key).collect();
        if matching.is_empty() {
            let closest = uses
                .iter()
                .map(|u| (crate::parser::edit_distance(key, &u.key), u.key.as_str()))
                .min();
            let mut diag = Diagnostic::without_span(
                Severity::Error,
                "E-UNKNOWN-BOUND",
                format!(
                    "the bounds entry `{key}` names no string, sequence or map member or typedef of the IDL files"
                ),
            );
            diag = match closest {
                Some((distance, name)) if distance <= key.len().max(4) / 3 => {
                    diag.with_help(format!("did you mean `{name}`?"))
                }
                _ => diag.with_help(
                    "a key is the scoped name of a member (`pkg::Type::member`) or of a typedef (`pkg::Name`); remove the entry or correct it",
                ),
            };
            out.push(diag);
        } else if matching.iter().all(|u| u.source == BoundSource::Explicit) {
            out.push(
                Diagnostic::without_span(
                    Severity::Warning,
                    "W-UNUSED-BOUND",
                    format!("the bounds entry `{key}` has no effect: the IDL gives it a bound"),
                )
                .with_help("remove the entry, or the bound in the IDL"),
            );
        }
    }
    let mut defaulted: Vec<String> = uses
        .iter()
        .filter(|u| u.source == BoundSource::DefaultOption)
        .map(|u| format!("`{}` ({} <{}>)", u.key, u.kind, u.bound))
        .collect();
    defaulted.sort();
    defaulted.dedup();
    if !defaulted.is_empty() {
        out.push(
            Diagnostic::without_span(
                Severity::Note,
                "N-DEFAULT-BOUND",
                format!(
                    "a default bound was applied to {} unbounded member{}: {}",
                    defaulted.len(),
                    if defaulted.len() == 1 { "" } else { "s" },
                    defaulted.join(", ")
                ),
            )
            .with_help(
                "give a member its own bound in the IDL or a bounds file to override the default",
            ),
        );
    }
    out
}

impl Options {
    /// Adds the bounds of a bounds file to [`Options::member_bounds`] (later files win).
    pub fn load_bounds_file(&mut self, path: &Path) -> Result<(), BoundsFileError> {
        self.member_bounds.extend(read_bounds_file(path)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tables() {
        let b = parse_bounds(
            "\"std_msgs::msg::Header::frame_id\" = 64\n[a.b]\nc = 2\n[a.b.d]\ne = 3\n",
        )
        .unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b["std_msgs::msg::Header::frame_id"], 64);
        assert_eq!(b["a::b::c"], 2);
        assert_eq!(b["a::b::d::e"], 3);
    }

    #[test]
    fn bad_values_and_syntax() {
        for text in ["x = 0", "x = -1", "x = 4294967296", "x = \"64\"", "x = 1.5"] {
            let e = parse_bounds(text).unwrap_err();
            assert!(
                matches!(&e, BoundsFileError::BadBound { key, .. } if key == "x"),
                "{e}"
            );
        }
        let e = parse_bounds("x = ").unwrap_err();
        assert!(matches!(e, BoundsFileError::Syntax { .. }));
        let e = read_bounds_file(Path::new("/nonexistent/bounds.toml")).unwrap_err();
        assert!(e.to_string().contains("cannot read the bounds file"));
    }

    fn uses_of(text: &str, options: &Options) -> Vec<BoundUse> {
        let mut sources = crate::source::SourceMap::new();
        let id = sources.add("b.idl", text);
        let (hir, diags) = crate::compile_sources(&mut sources, &[id], options);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        hir.unwrap().bound_uses
    }

    #[test]
    fn a_typo_is_an_error_with_the_closest_name() {
        let idl =
            "module robot { struct LaserScan { sequence<float> ranges; string<8> frame; }; };";
        let mut options = Options {
            default_sequence_bound: Some(100),
            ..Options::default()
        };
        options
            .member_bounds
            .insert("robot::LaserScan::rangez".into(), 1080);
        options
            .member_bounds
            .insert("robot::LaserScan::frame".into(), 16);
        let uses = uses_of(idl, &options);
        let refs: Vec<&BoundUse> = uses.iter().collect();
        let diags = check_bounds(&options.member_bounds, &refs);
        let messages: Vec<String> = diags
            .iter()
            .map(|d| {
                format!(
                    "{:?} {} {}",
                    d.severity,
                    d.message,
                    d.help.clone().unwrap_or_default()
                )
            })
            .collect();
        // In key order: `frame` before `rangez`; the note last.
        assert_eq!(diags.len(), 3, "{messages:#?}");
        assert_eq!(diags[0].code, "W-UNUSED-BOUND");
        assert!(messages[0].contains("`robot::LaserScan::frame` has no effect"));
        assert_eq!(diags[1].code, "E-UNKNOWN-BOUND");
        assert!(
            messages[1].contains("did you mean `robot::LaserScan::ranges`?"),
            "{messages:#?}"
        );
        assert_eq!(diags[2].severity, Severity::Note);
        assert!(
            messages[2].contains("1 unbounded member: `robot::LaserScan::ranges` (sequence <100>)"),
            "{messages:#?}"
        );
        // A far-off key gets no suggestion, only what a key is.
        let mut far = BTreeMap::new();
        far.insert("totally::Different".to_owned(), 3);
        let diags = check_bounds(&far, &refs);
        assert!(
            diags[0]
                .help
                .as_deref()
                .unwrap()
                .contains("scoped name of a member")
        );
        // Correct keys: nothing but the note.
        let mut right = BTreeMap::new();
        right.insert("robot::LaserScan::ranges".to_owned(), 3);
        let options = Options {
            member_bounds: right.clone(),
            ..Options::default()
        };
        let uses = uses_of(idl, &options);
        let refs: Vec<&BoundUse> = uses.iter().collect();
        assert!(check_bounds(&right, &refs).is_empty());
    }

    #[test]
    fn loaded_bounds_apply() {
        let dir = std::env::temp_dir().join(format!("shmbus-idl-bounds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bounds.toml");
        std::fs::write(&path, "[m.S]\nname = 12\n").unwrap();
        let mut options = Options::default();
        options.load_bounds_file(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut sources = crate::source::SourceMap::new();
        let id = sources.add("b.idl", "module m { struct S { string name; }; };");
        let (hir, diags) = crate::compile_sources(&mut sources, &[id], &options);
        assert!(diags.is_empty(), "{diags:?}");
        let hir = hir.unwrap();
        assert_eq!(hir.item(hir.find("m::S").unwrap()).layout.unwrap().size, 16);
    }
}
