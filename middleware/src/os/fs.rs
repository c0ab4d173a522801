//! Plain files of the runtime folder: read, write, list, remove.

use std::path::{Path, PathBuf};

/// Reads a whole file.
pub fn read(path: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Writes `bytes` to the file behind `fd` from offset 0 (the file was just created).
pub fn write_all(fd: std::os::fd::BorrowedFd<'_>, mut bytes: &[u8]) -> std::io::Result<()> {
    let mut offset = 0u64;
    while !bytes.is_empty() {
        let n = rustix::io::pwrite(fd, bytes, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

/// The entries of `dir` whose file name ends with `suffix`, sorted; an absent folder has
/// no entries.
pub fn list(dir: impl AsRef<Path>, suffix: &str) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(suffix))
        {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Removes a file; an absent file is not an error.
pub fn remove(path: impl AsRef<Path>) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes an empty folder; an absent or non-empty folder is not an error.
pub fn remove_dir_if_empty(path: impl AsRef<Path>) {
    let _ = std::fs::remove_dir(path);
}
