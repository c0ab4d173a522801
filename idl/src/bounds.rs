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
