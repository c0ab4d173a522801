//! Checked folders: the runtime folder and the folders below it, held open.
//!
//! A [`Folder`] is an open descriptor on a directory that [`trust::check`] found to be
//! ours. Everything below it is reached *relative to that descriptor* (`openat(2)` and
//! friends, always with `O_NOFOLLOW`), never by path again, so a folder that is removed
//! and replaced by someone else's under the same name between two steps cannot be
//! entered: the old descriptor keeps pointing at ours (where new files then fail with
//! `ENOENT`, which the callers answer by opening the path again, and checking again).
//!
//! The runtime folder itself is opened by path, as tmux and ssh-agent open theirs: each
//! missing component is made with the domain's mode, the last one is opened with
//! `O_NOFOLLOW | O_DIRECTORY` and checked. A folder of that name that another user made
//! beforehand, or that is open to others, is refused with an error that names it, its
//! owner and mode, and what to do. Folders above the runtime folder (`/tmp`,
//! `$XDG_RUNTIME_DIR`) are the system's and are not checked.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, CWD, Gid, Mode, OFlags};
use rustix::io::Errno;

use crate::os::trust::{self, Kind, Permissions, TrustError, Untrusted};

/// Failure of opening or creating a [`Folder`].
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder exists but is not ours.
    #[error(
        "the folder {path} cannot be used: {source}. Another user may have made it to watch or \
         disturb this one's processes: remove it if it should not be there, or set SHMBUS_ROOT \
         to a folder of your own"
    )]
    Untrusted {
        /// The folder.
        path: PathBuf,
        /// Whose it is, and why it is refused.
        source: Untrusted,
    },
    /// A symbolic link (or another non-folder) is where the folder goes.
    #[error(
        "{path} is not a folder (a symbolic link or a file is in its place); shmbus never follows \
         links for its folders: remove it, or set SHMBUS_ROOT to a folder of your own"
    )]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// The folder was removed while it was being opened (by the last process of a domain
    /// leaving): opening it again is the remedy.
    #[error("the folder {path} was removed while it was being opened; try again")]
    Vanished {
        /// The folder.
        path: PathBuf,
    },
    /// Any other failure of the system calls.
    #[error(
        "cannot {operation} the folder {path}: {errno}; check its permissions, or set SHMBUS_ROOT to a writable folder"
    )]
    Os {
        /// The folder.
        path: PathBuf,
        /// What was being done (`"create"`, `"open"`, ...).
        operation: &'static str,
        /// The error.
        #[source]
        errno: Errno,
    },
}

impl FolderError {
    /// Whether the folder (or one it lies in) vanished under our feet: opening it again
    /// from the top is the remedy.
    pub fn is_race(&self) -> bool {
        matches!(self, Self::Vanished { .. })
    }
}

/// Failure of reading a file of a [`Folder`].
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file is not ours.
    #[error("the file {path} is not used: {source}")]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// Whose it is.
        source: Untrusted,
    },
    /// The file is absent.
    #[error("the file {path} does not exist")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// Any other failure.
    #[error("cannot read {path}: {errno}")]
    Os {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        errno: Errno,
    },
}

#[derive(Debug)]
struct Inner {
    fd: OwnedFd,
    path: PathBuf,
    permissions: Permissions,
}

/// An open folder that was checked to be ours (see the module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Folder {
    inner: Arc<Inner>,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl Folder {
    /// Opens the folder `path` (absolute), making it and its missing parents with the mode
    /// of `permissions` first, and checks it.
    pub fn open_or_create_path(path: &Path, permissions: Permissions) -> Result<Self, FolderError> {
        let mut missing = Vec::new();
        let mut at = Some(path);
        while let Some(dir) = at {
            if dir.as_os_str().is_empty() || dir.symlink_metadata().is_ok() {
                break;
            }
            missing.push(dir);
            at = dir.parent();
        }
        let mut made = false;
        for dir in missing.into_iter().rev() {
            match rustix::fs::mkdir(dir, Mode::from_raw_mode(0o700)) {
                Ok(()) => made = true,
                // Someone made it meanwhile: it is checked like any existing folder.
                Err(Errno::EXIST) => made = false,
                Err(Errno::NOENT) => return Err(FolderError::Vanished { path: dir.into() }),
                Err(errno) => return Err(os_error(dir, "create", errno)),
            }
            if dir != path && made {
                // A parent we made: give it the domain's mode too, and check it.
                let fd = open_dir(CWD, dir, dir)?;
                finish(&fd, dir, permissions)?;
            }
        }
        let fd = open_dir(CWD, path, path)?;
        if made {
            finish(&fd, path, permissions)?;
        }
        Self::checked(fd, path.to_owned(), permissions)
    }

    /// Opens the existing folder `path` and checks it; `Ok(None)` if it does not exist.
    pub fn open_path(path: &Path, permissions: Permissions) -> Result<Option<Self>, FolderError> {
        match open_dir(CWD, path, path) {
            Ok(fd) => Self::checked(fd, path.to_owned(), permissions).map(Some),
            Err(FolderError::Vanished { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens the sub-folder `name` (one path component), making it first if needed.
    pub fn open_or_create(&self, name: &str) -> Result<Self, FolderError> {
        let path = self.join(name);
        let made = match rustix::fs::mkdirat(&self.inner.fd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            // This folder was removed (by the last process of a domain) meanwhile.
            Err(Errno::NOENT) => return Err(FolderError::Vanished { path }),
            Err(errno) => return Err(os_error(&path, "create", errno)),
        };
        let fd = open_dir(&self.inner.fd, name, &path)?;
        if made {
            finish(&fd, &path, self.inner.permissions)?;
        }
        Self::checked(fd, path, self.inner.permissions)
    }

    /// Opens the existing sub-folder `name` and checks it; `Ok(None)` if it does not exist.
    pub fn open(&self, name: &str) -> Result<Option<Self>, FolderError> {
        let path = self.join(name);
        match open_dir(&self.inner.fd, name, &path) {
            Ok(fd) => Self::checked(fd, path, self.inner.permissions).map(Some),
            Err(FolderError::Vanished { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn checked(fd: OwnedFd, path: PathBuf, permissions: Permissions) -> Result<Self, FolderError> {
        match trust::check(fd.as_fd(), Kind::Folder, permissions) {
            Ok(_) => Ok(Self {
                inner: Arc::new(Inner {
                    fd,
                    path,
                    permissions,
                }),
            }),
            Err(TrustError::Untrusted(source)) => Err(FolderError::Untrusted { path, source }),
            Err(TrustError::Stat(errno)) => Err(os_error(&path, "inspect", errno)),
        }
    }

    /// The folder's path (for messages; operations go through the descriptor).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The path of entry `name` of this folder (for messages).
    pub fn join(&self, name: &str) -> PathBuf {
        self.inner.path.join(name)
    }

    /// The permissions this folder and everything in it were checked against.
    pub fn permissions(&self) -> Permissions {
        self.inner.permissions
    }

    /// Removes the sub-folder `name` if it is empty; an absent or non-empty folder is not
    /// an error (another process may be using it).
    pub fn remove_dir_if_empty(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.inner.fd, name, AtFlags::REMOVEDIR);
    }

    /// Removes the file `name`; an absent file is not an error.
    pub fn remove_file(&self, name: &str) -> Result<(), Errno> {
        match rustix::fs::unlinkat(&self.inner.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(errno) => Err(errno),
        }
    }

    /// The names of the entries whose name ends with `suffix`, sorted; a folder removed
    /// meanwhile has none.
    pub fn list(&self, suffix: &str) -> Result<Vec<String>, Errno> {
        let mut dir = match rustix::fs::Dir::read_from(&self.inner.fd) {
            Ok(dir) => dir,
            Err(Errno::NOENT) => return Ok(Vec::new()),
            Err(errno) => return Err(errno),
        };
        let mut names = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry?;
            if let Ok(name) = entry.file_name().to_str()
                && name.ends_with(suffix)
                && name != "."
                && name != ".."
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads at most `max` bytes of the regular file `name`, after checking it is ours.
    pub fn read_file(&self, name: &str, max: usize) -> Result<Vec<u8>, ReadError> {
        let path = self.join(name);
        let fd = match self.open_file(name, OFlags::RDONLY) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Err(ReadError::Missing { path }),
            Err(errno) => return Err(ReadError::Os { path, errno }),
        };
        match trust::check(fd.as_fd(), Kind::File, self.inner.permissions) {
            Ok(_) => {}
            Err(TrustError::Untrusted(source)) => {
                return Err(ReadError::Untrusted { path, source });
            }
            Err(TrustError::Stat(errno)) => return Err(ReadError::Os { path, errno }),
        }
        let mut out = vec![0; max];
        let mut filled = 0;
        while filled < max {
            match rustix::io::read(&fd, &mut out[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(Errno::INTR) => continue,
                Err(errno) => return Err(ReadError::Os { path, errno }),
            }
        }
        out.truncate(filled);
        Ok(out)
    }

    /// Opens the entry `name` with `flags` plus `O_NOFOLLOW | O_CLOEXEC` (a symbolic link
    /// there fails with `ELOOP`). The caller checks what it opened.
    pub fn open_file(&self, name: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        rustix::fs::openat(
            &self.inner.fd,
            name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }
}

impl AsFd for Folder {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }
}

/// Removes the folder `path` if it is empty; an absent or non-empty folder is not an error.
/// (For the runtime folder itself, whose parent is not ours: `rmdir(2)` never follows a
/// link, and in a sticky parent it cannot remove another user's folder.)
pub fn remove_dir_if_empty(path: &Path) {
    let _ = rustix::fs::unlinkat(CWD, path, AtFlags::REMOVEDIR);
}

fn os_error(path: &Path, operation: &'static str, errno: Errno) -> FolderError {
    tracing::debug!(path = %path.display(), operation, %errno, "folder operation failed");
    FolderError::Os {
        path: path.to_owned(),
        operation,
        errno,
    }
}

/// Opens a folder without following a link in its last component.
fn open_dir<P: rustix::path::Arg>(
    at: impl AsFd,
    name: P,
    path: &Path,
) -> Result<OwnedFd, FolderError> {
    match rustix::fs::openat(at, name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) => Err(FolderError::Vanished { path: path.into() }),
        Err(Errno::LOOP | Errno::NOTDIR) => Err(FolderError::NotAFolder { path: path.into() }),
        Err(errno) => Err(os_error(path, "open", errno)),
    }
}

/// Gives a folder we just made the mode (and group) of `permissions`: `mkdir` applied the
/// umask, and group mode needs the group and the set-gid bit.
fn finish(fd: &OwnedFd, path: &Path, permissions: Permissions) -> Result<(), FolderError> {
    if let Some(gid) = permissions.gid() {
        rustix::fs::fchown(fd, None, Some(Gid::from_raw(gid)))
            .map_err(|errno| os_error(path, "give the group to", errno))?;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(permissions.dir_mode()))
        .map_err(|errno| os_error(path, "set the mode of", errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "shmbus-dir-{tag}-{}-{:x}",
            std::process::id(),
            crate::os::process::random_u64().unwrap()
        ))
    }

    #[test]
    fn made_folders_are_ours_and_checked() {
        let root = scratch("made");
        let nested = root.join("a/b");
        let folder = Folder::open_or_create_path(&nested, Permissions::OwnerOnly).unwrap();
        let child = folder.open_or_create("c").unwrap();
        assert_eq!(child.path(), nested.join("c"));
        for dir in [&root, &root.join("a"), &nested, &nested.join("c")] {
            let meta = std::fs::metadata(dir).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!(meta.mode() & 0o7777, 0o700, "{}", dir.display());
        }
        assert!(folder.open("missing").unwrap().is_none());
        assert!(folder.open("c").unwrap().is_some());
        folder.remove_dir_if_empty("c");
        assert!(!nested.join("c").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_folder_open_to_others_or_a_link_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = scratch("open");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = Folder::open_or_create_path(&root, Permissions::OwnerOnly).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, FolderError::Untrusted { .. }), "{text}");
        assert!(
            text.contains("mode 0777") && text.contains("SHMBUS_ROOT"),
            "{text}"
        );
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
        let folder = Folder::open_path(&root, Permissions::OwnerOnly)
            .unwrap()
            .unwrap();
        // A link where a sub-folder goes is not followed.
        std::os::unix::fs::symlink("/", root.join("link")).unwrap();
        assert!(matches!(
            folder.open_or_create("link"),
            Err(FolderError::NotAFolder { .. })
        ));
        let link = root.join("link");
        assert!(matches!(
            Folder::open_path(&link, Permissions::OwnerOnly),
            Err(FolderError::NotAFolder { .. })
        ));
        // A link where a file goes is not followed either.
        std::os::unix::fs::symlink("/etc/passwd", root.join("file")).unwrap();
        assert!(matches!(
            folder.read_file("file", 10),
            Err(ReadError::Os {
                errno: Errno::LOOP,
                ..
            })
        ));
        std::fs::write(root.join("plain"), b"hello").unwrap();
        std::fs::set_permissions(root.join("plain"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert!(matches!(
            folder.read_file("plain", 10),
            Err(ReadError::Untrusted { .. })
        ));
        std::fs::set_permissions(root.join("plain"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        assert_eq!(folder.read_file("plain", 3).unwrap(), b"hel");
        assert_eq!(folder.list("").unwrap(), ["file", "link", "plain"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
