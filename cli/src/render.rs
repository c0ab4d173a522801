//! Output for people (tables that fit the terminal, values as indented text) and for
//! scripts (JSON).

use std::fmt::Write as _;

use serde_json::{Value as Json, json};
use shmbus::message::dynamic::Kind;
use shmbus::message::{Descriptor, Value};

/// A table: a header row, then rows, in columns as wide as their widest cell; the last
/// column is cut (`…`) when the table would be wider than the terminal.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, at most `width` columns wide (`None`: no limit).
    pub(crate) fn render(&self, width: Option<usize>) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                if i + 1 == columns {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
                }
            }
            out.push_str(&cut(line.trim_end(), width));
            out.push('\n');
        }
        out
    }

    /// Prints the table, fitted to the terminal.
    pub(crate) fn print(&self) {
        print!("{}", self.render(terminal_width()));
    }
}

/// `line` cut to `width` characters, the last one `…`.
fn cut(line: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if w > 1 && line.chars().count() > w => {
            let mut s: String = line.chars().take(w - 1).collect();
            s.push('…');
            s
        }
        _ => line.to_owned(),
    }
}

/// The terminal's width when standard output is one (`None`: no limit, as for a pipe).
pub(crate) fn terminal_width() -> Option<usize> {
    if !crate::common::stdout_is_terminal() {
        return None;
    }
    shmbus::os::system::terminal_width()
        .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
}

/// A value as indented text: `name: value` per field, nested structs indented, arrays as
/// `- ` items, strings quoted, `~` for an absent optional.
pub(crate) fn value_text(value: &Value) -> String {
    let mut out = String::new();
    match scalar(value) {
        Some(text) => out.push_str(&text),
        None => write_value(&mut out, value, 0, false),
    }
    out
}

fn scalar(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => "~".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::F32(f) => format!("{f:?}"),
        Value::Float(f) => format!("{f:?}"),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Array(items) if items.iter().all(|i| scalar(i).is_some() && !is_nested(i)) => {
            let parts: Vec<String> = items.iter().filter_map(scalar).collect();
            let inline = format!("[{}]", parts.join(", "));
            if inline.len() > 100 {
                return None;
            }
            inline
        }
        Value::Map(entries) if entries.is_empty() => "{}".to_owned(),
        _ => return None,
    })
}

fn is_nested(value: &Value) -> bool {
    matches!(value, Value::Array(_) | Value::Map(_))
}

/// Starts a line at `indent` (unless `inline`: then the text goes on after `- `).
fn line(out: &mut String, indent: usize, inline: bool) {
    if inline {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&"  ".repeat(indent));
}

fn write_value(out: &mut String, value: &Value, indent: usize, inline: bool) {
    match value {
        Value::Map(entries) if !entries.is_empty() => {
            for (i, (name, v)) in entries.iter().enumerate() {
                line(out, indent, inline && i == 0);
                match scalar(v) {
                    Some(text) => {
                        let _ = write!(out, "{name}: {text}");
                    }
                    None => {
                        let _ = write!(out, "{name}:");
                        write_value(out, v, indent + 1, false);
                    }
                }
            }
        }
        Value::Array(items) if scalar(value).is_none() => {
            for item in items {
                line(out, indent, false);
                out.push_str("- ");
                match scalar(item) {
                    Some(text) => out.push_str(&text),
                    None => write_value(out, item, indent + 1, true),
                }
            }
        }
        other => {
            line(out, indent, inline);
            if let Some(text) = scalar(other) {
                out.push_str(&text);
            }
        }
    }
}

/// A descriptor as JSON: name, kind, size, alignment, layout hash, and its parts.
pub(crate) fn descriptor_json(d: &Descriptor) -> Json {
    let mut object = json!({
        "name": d.name(),
        "kind": d.kind().word(),
        "size": d.size(),
        "align": d.align(),
        "layout_hash": format!("{:#018x}", d.layout_hash()),
    });
    let fields = |fields: &[shmbus::message::dynamic::Field]| -> Json {
        fields
            .iter()
            .map(|f| json!({ "name": f.name, "offset": f.offset, "type": descriptor_json(&f.ty) }))
            .collect()
    };
    let extra = match d.kind() {
        Kind::Primitive(_) => json!({}),
        Kind::Array { len, element } => json!({ "len": len, "element": descriptor_json(element) }),
        Kind::FixedString { capacity } => json!({ "capacity": capacity }),
        Kind::FixedVec { capacity, element } => {
            json!({ "capacity": capacity, "element": descriptor_json(element) })
        }
        Kind::Optional { element } => json!({ "element": descriptor_json(element) }),
        Kind::Enum {
            repr,
            variants,
            open,
        } => json!({
            "repr": repr.name(),
            "open": open,
            "variants": variants.iter().map(|v| json!({ "name": v.name, "value": v.value.to_string() })).collect::<Vec<_>>(),
        }),
        Kind::Bitmask { repr, flags } => json!({
            "repr": repr.name(),
            "flags": flags.iter().map(|f| json!({ "name": f.name, "position": f.position })).collect::<Vec<_>>(),
        }),
        Kind::Struct { fields: f } => json!({ "fields": fields(f) }),
        Kind::Union { fields: f, cases } => json!({
            "fields": fields(f),
            "cases": cases.iter().map(|c| json!({
                "branch": f.get(c.field).map(|b| b.name.clone()),
                "labels": c.labels.iter().map(i128::to_string).collect::<Vec<_>>(),
                "default": c.is_default,
            })).collect::<Vec<_>>(),
        }),
        _ => json!({}),
    };
    if let (Json::Object(object), Json::Object(extra)) = (&mut object, extra) {
        object.extend(extra);
    }
    object
}

/// Bytes for people.
pub(crate) fn bytes(n: u64) -> String {
    shmbus::os::shm::bytes(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_fit_the_width() {
        let mut table = Table::new(&["NAME", "WHAT"]);
        table.row(vec!["a".into(), "short".into()]);
        table.row(vec!["longer".into(), "a rather long description".into()]);
        assert_eq!(
            table.render(None),
            "NAME    WHAT\na       short\nlonger  a rather long description\n"
        );
        assert_eq!(
            table.render(Some(16)),
            "NAME    WHAT\na       short\nlonger  a rathe…\n"
        );
    }

    #[test]
    fn values_read_as_indented_text() {
        let value = Value::Map(vec![
            ("id".into(), Value::UInt(7)),
            (
                "pose".into(),
                Value::Map(vec![
                    ("x".into(), Value::F32(1.5)),
                    ("y".into(), Value::Null),
                ]),
            ),
            ("tags".into(), Value::Array(vec![Value::String("a".into())])),
            (
                "path".into(),
                Value::Array(vec![
                    Value::Map(vec![
                        ("x".into(), Value::Int(-1)),
                        ("y".into(), Value::Int(2)),
                    ]),
                    Value::Map(vec![
                        ("x".into(), Value::Int(3)),
                        ("y".into(), Value::Int(4)),
                    ]),
                ]),
            ),
        ]);
        assert_eq!(
            value_text(&value),
            "id: 7\npose:\n  x: 1.5\n  y: ~\ntags: [\"a\"]\npath:\n  - x: -1\n    y: 2\n  - x: 3\n    y: 4"
        );
        assert_eq!(value_text(&Value::Bool(true)), "true");
    }
}
