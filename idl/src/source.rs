//! Source files and spans: the [`SourceMap`] owns every file read during a run, a [`Span`]
//! is a cheap `Copy` byte range into one of them, and line/column are computed on demand.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Index of a file inside a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range `lo..hi` inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The file the range belongs to.
    pub file: FileId,
    /// First byte offset (inclusive).
    pub lo: u32,
    /// Last byte offset (exclusive).
    pub hi: u32,
}

impl Span {
    /// A span over `lo..hi` in `file`.
    pub fn new(file: FileId, lo: u32, hi: u32) -> Self {
        Span {
            file,
            lo,
            hi: hi.max(lo),
        }
    }

    /// The smallest span covering `self` and `other` (same file; otherwise `self`).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span::new(self.file, self.lo.min(other.lo), self.hi.max(other.hi))
    }

    /// An empty span at the end of `self`.
    pub fn end(self) -> Span {
        Span::new(self.file, self.hi, self.hi)
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// One file of a [`SourceMap`].
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: OnceLock<Vec<u32>>,
}

impl SourceFile {
    /// The path the file was read from (or given as, for in-memory files).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The full text of the file.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0];
            for (i, b) in self.text.bytes().enumerate() {
                if b == b'\n' {
                    starts.push(clamp_u32(i + 1));
                }
            }
            starts
        })
    }

    /// The 0-based index of the line holding byte `offset`.
    pub fn line_index(&self, offset: u32) -> usize {
        let starts = self.line_starts();
        match starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Byte offset where 0-based line `index` starts.
    pub fn line_start(&self, index: usize) -> u32 {
        self.line_starts().get(index).copied().unwrap_or(0)
    }

    /// Line and column of byte `offset` (clamped to the file).
    pub fn line_col(&self, offset: u32) -> LineCol {
        let offset = offset.min(clamp_u32(self.text.len()));
        let index = self.line_index(offset);
        let start = self.line_start(index) as usize;
        let end = floor_char_boundary(&self.text, offset as usize);
        let column = self.text.get(start..end).map_or(0, |s| s.chars().count());
        LineCol {
            line: clamp_u32(index + 1),
            column: clamp_u32(column + 1),
        }
    }
}

/// All files of one run, indexed by [`FileId`].
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        SourceMap::default()
    }

    /// Adds an in-memory file and returns its id. Later includes of the same path find it.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> FileId {
        let mut text = text.into();
        // Spans are u32: a larger file is cut (the front end reports it too large).
        if text.len() > u32::MAX as usize - 1 {
            let cut = floor_char_boundary(&text, u32::MAX as usize - 1);
            text.truncate(cut);
        }
        let id = FileId(clamp_u32(self.files.len()));
        self.files.push(SourceFile {
            path: path.into(),
            text,
            line_starts: OnceLock::new(),
        });
        id
    }

    /// Reads `path` from disk, or returns the id of a file already added under that path.
    pub fn load(&mut self, path: &Path) -> std::io::Result<FileId> {
        if let Some(id) = self.find(path) {
            return Ok(id);
        }
        let text = std::fs::read_to_string(path)?;
        Ok(self.add(path, text))
    }

    /// The id of a file already in the map under `path`.
    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.path == path)
            .map(|i| FileId(clamp_u32(i)))
    }

    /// The file behind `id`, if it exists.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The text covered by `span` (empty if out of range).
    pub fn snippet(&self, span: Span) -> &str {
        self.get(span.file)
            .and_then(|f| f.text.get(span.lo as usize..span.hi as usize))
            .unwrap_or("")
    }

    /// Line and column of the start of `span`.
    pub fn line_col(&self, span: Span) -> LineCol {
        self.get(span.file)
            .map_or(LineCol { line: 1, column: 1 }, |f| f.line_col(span.lo))
    }

    /// Number of files in the map.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the map holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Converts a length to `u32`, saturating (files are limited to `u32::MAX` bytes).
pub(crate) fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The largest char boundary of `text` that is `<= index`.
pub(crate) fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut i = index.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_on_demand() {
        let mut map = SourceMap::new();
        let id = map.add("a.idl", "ab\ncdé\nf");
        let file = map.get(id).unwrap_or_else(|| unreachable!());
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(file.line_col(3), LineCol { line: 2, column: 1 });
        assert_eq!(file.line_col(7), LineCol { line: 2, column: 4 });
        assert_eq!(file.line_col(8), LineCol { line: 3, column: 1 });
        assert_eq!(file.line_col(100), LineCol { line: 3, column: 2 });
    }

    #[test]
    fn spans_join_and_snippet() {
        let mut map = SourceMap::new();
        let id = map.add("a.idl", "struct A {};");
        let s = Span::new(id, 0, 6).to(Span::new(id, 7, 8));
        assert_eq!(map.snippet(s), "struct A");
        assert_eq!(map.find(Path::new("a.idl")), Some(id));
    }
}
