//! What the machine offers shmbus: the shared-memory filesystem, limits and kernel
//! features, as `shmbus doctor` reports them.

use std::path::Path;

use rustix::io::Errno;

/// The filesystem type of tmpfs (`TMPFS_MAGIC` in `linux/magic.h`).
const TMPFS_MAGIC: u64 = 0x0102_1994;

/// A mounted filesystem: its type and space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filesystem {
    /// Whether it is a tmpfs (memory-backed, as `/dev/shm` should be).
    pub is_tmpfs: bool,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes free for an unprivileged user.
    pub available: u64,
}

/// The filesystem at `path` (`/dev/shm` for shared memory).
pub fn filesystem(path: &Path) -> Result<Filesystem, Errno> {
    let fs = rustix::fs::statfs(path)?;
    let vfs = rustix::fs::statvfs(path)?;
    #[allow(clippy::unnecessary_cast)] // the type of `f_type` differs between targets
    let fs_type = fs.f_type as u64;
    Ok(Filesystem {
        is_tmpfs: fs_type == TMPFS_MAGIC,
        size: vfs.f_blocks.saturating_mul(vfs.f_frsize),
        available: vfs.f_bavail.saturating_mul(vfs.f_frsize),
    })
}

/// The soft and hard limits of open file descriptors (`None`: unlimited).
pub fn open_file_limit() -> (Option<u64>, Option<u64>) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    (limit.current, limit.maximum)
}

/// `vm.max_map_count`: how many memory mappings a process may have (each port maps one
/// segment per peer), if it can be read.
pub fn max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// The width in columns of the terminal standard output is, if it is one.
pub fn terminal_width() -> Option<usize> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    (size.ws_col > 0).then_some(usize::from(size.ws_col))
}
