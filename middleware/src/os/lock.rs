//! Liveness tokens: a file held under an exclusive `flock(2)` for the owner's whole life.
//!
//! The kernel releases a `flock` when the last descriptor of the open file is closed, which
//! happens when its process exits or is killed, for any reason. So "can I take the lock?"
//! answers "is the owner dead?" exactly, and PID reuse cannot fool it (no PIDs involved).
//!
//! A lock file appears under its final name only once it is already locked ([`LockFile::create`]
//! locks an unnamed `O_TMPFILE` and then links it into place), so a process that is still
//! starting can never be mistaken for a dead one. When `O_TMPFILE` is not supported by the
//! filesystem, a hidden temporary name (`.<name>.<pid>.tmp`) is used instead; if the process
//! is killed in that short window, that temporary file is left behind.
//!
//! [`try_lock`] hands the lock to the caller when the owner is dead, so exactly one cleaner
//! works on a dead owner at a time; it checks that the file it locked is still the one under
//! the name (a cleaner may have removed it, and a new owner created a new one, meanwhile).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::os::shm::Permissions;

/// Failure of [`LockFile::create`].
#[derive(Debug, thiserror::Error)]
pub enum LockCreateError {
    /// A lock file of this name exists (its owner may be alive, or dead and not yet cleaned).
    #[error(
        "lock file {path} already exists; if its owner is dead, clean it up with try_lock and remove"
    )]
    AlreadyExists {
        /// The lock file's path.
        path: PathBuf,
    },
    /// The directory does not exist.
    #[error(
        "cannot create lock file {path}: its directory does not exist; create the runtime directory first"
    )]
    NoDirectory {
        /// The lock file's path.
        path: PathBuf,
    },
    /// Any other failure (permissions, file-descriptor limit, ...).
    #[error("cannot create lock file {path}: {errno}; check the runtime directory's permissions")]
    Os {
        /// The lock file's path.
        path: PathBuf,
        /// The error from open(2), flock(2) or linkat(2).
        #[source]
        errno: Errno,
    },
}

impl LockCreateError {
    /// Whether the folder the lock file goes in vanished under our feet — removed as empty
    /// by another process (`ENOENT`, or `EPERM` when the file was already made in the
    /// removed folder): making the folder again and retrying is the remedy.
    pub fn is_folder_race(&self) -> bool {
        match self {
            Self::NoDirectory { .. } => true,
            Self::Os { errno, .. } => *errno == Errno::NOENT || *errno == Errno::PERM,
            Self::AlreadyExists { .. } => false,
        }
    }
}

/// Failure of [`try_lock`].
#[derive(Debug, thiserror::Error)]
#[error("cannot test lock file {path}: {errno}; check the runtime directory's permissions")]
pub struct LockProbeError {
    /// The lock file's path.
    pub path: PathBuf,
    /// The error from open(2), flock(2) or stat(2).
    #[source]
    pub errno: Errno,
}

/// Failure of [`LockFile::remove`].
#[derive(Debug, thiserror::Error)]
#[error("cannot remove lock file {path}: {errno}; remove it by hand once its owner is gone")]
pub struct LockRemoveError {
    /// The lock file's path.
    pub path: PathBuf,
    /// The error from unlink(2).
    #[source]
    pub errno: Errno,
}

/// A file of which this process holds the exclusive `flock`. Dropping it releases the lock
/// but keeps the file (so others see a dead owner); [`LockFile::remove`] deletes it first.
#[derive(Debug)]
pub struct LockFile {
    fd: OwnedFd,
    path: PathBuf,
}

fn lock_exclusive(fd: BorrowedFd<'_>) -> rustix::io::Result<bool> {
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(Errno::WOULDBLOCK) => Ok(false),
        Err(errno) => Err(errno),
    }
}

impl LockFile {
    /// Creates the file `path` (mode `0600`) already locked. Fails with
    /// [`LockCreateError::AlreadyExists`] if the name is taken.
    ///
    /// The file gets `permissions` (mode `0600`, or `0660` and the group), set with
    /// `fchmod(2)`/`fchown(2)` so the umask cannot narrow them.
    pub fn create(
        path: impl AsRef<Path>,
        permissions: Permissions,
    ) -> Result<Self, LockCreateError> {
        let path = path.as_ref();
        let os_err = |errno| {
            tracing::debug!(path = %path.display(), %errno, "creating lock file failed");
            match errno {
                Errno::EXIST => LockCreateError::AlreadyExists {
                    path: path.to_owned(),
                },
                Errno::NOENT => LockCreateError::NoDirectory {
                    path: path.to_owned(),
                },
                errno => LockCreateError::Os {
                    path: path.to_owned(),
                    errno,
                },
            }
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mode = Mode::from_raw_mode(permissions.mode());
        let flags = OFlags::RDWR | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(dir, flags | OFlags::TMPFILE, mode) {
            Ok(fd) => {
                // Locked before it has a name: nobody can observe it unlocked.
                lock_exclusive(fd.as_fd()).map_err(os_err)?;
                let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
                rustix::fs::linkat(CWD, proc_path.as_str(), CWD, path, AtFlags::SYMLINK_FOLLOW)
                    .map_err(os_err)?;
                fd
            }
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {
                Self::create_via_temp_name(path, dir, flags, mode).map_err(os_err)?
            }
            Err(errno) => return Err(os_err(errno)),
        };
        if let Err(errno) = apply_permissions(fd.as_fd(), permissions) {
            let _ = rustix::fs::unlink(path);
            return Err(os_err(errno));
        }
        tracing::debug!(path = %path.display(), "created and locked lock file");
        Ok(Self {
            fd,
            path: path.to_owned(),
        })
    }

    fn create_via_temp_name(
        path: &Path,
        dir: &Path,
        flags: OFlags,
        mode: Mode,
    ) -> rustix::io::Result<OwnedFd> {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let fd = rustix::fs::open(&temp, flags | OFlags::CREATE | OFlags::EXCL, mode)?;
        let linked = lock_exclusive(fd.as_fd())
            .and_then(|_| rustix::fs::linkat(CWD, &temp, CWD, path, AtFlags::empty()));
        // The temporary name is not needed whether or not linking worked.
        let _ = rustix::fs::unlink(&temp);
        linked.map(|()| fd)
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the file, then releases the lock.
    pub fn remove(self) -> Result<(), LockRemoveError> {
        rustix::fs::unlink(&self.path).map_err(|errno| {
            tracing::debug!(path = %self.path.display(), %errno, "removing lock file failed");
            LockRemoveError {
                path: self.path.clone(),
                errno,
            }
        })?;
        tracing::debug!(path = %self.path.display(), "removed lock file");
        Ok(())
    }
}

impl AsFd for LockFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What [`try_lock`] found.
#[derive(Debug)]
pub enum TryLock {
    /// The lock was free: the owner is dead. The caller now holds the lock (and is the one
    /// cleaner of this owner) until it drops or removes the returned file.
    Acquired(LockFile),
    /// Someone holds the lock: the owner is alive, or another cleaner is at work.
    Held,
    /// No lock file of this name exists.
    Missing,
}

/// Tests whether the owner of the lock file `path` is alive, taking the lock if it is not.
pub fn try_lock(path: impl AsRef<Path>) -> Result<TryLock, LockProbeError> {
    let path = path.as_ref();
    let err = |errno| {
        tracing::debug!(path = %path.display(), %errno, "testing lock file failed");
        LockProbeError {
            path: path.to_owned(),
            errno,
        }
    };
    // A new owner may replace a removed file between our open and our check; a few rounds
    // settle that race (each round means someone else made progress).
    for _ in 0..8 {
        let fd = match rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(TryLock::Missing),
            Err(errno) => return Err(err(errno)),
        };
        if !lock_exclusive(fd.as_fd()).map_err(err)? {
            return Ok(TryLock::Held);
        }
        let ours = rustix::fs::fstat(&fd).map_err(err)?;
        match rustix::fs::stat(path) {
            Ok(now) if now.st_dev == ours.st_dev && now.st_ino == ours.st_ino => {
                tracing::debug!(path = %path.display(), "lock was free: owner is dead");
                return Ok(TryLock::Acquired(LockFile {
                    fd,
                    path: path.to_owned(),
                }));
            }
            Ok(_) => continue,
            Err(Errno::NOENT) => return Ok(TryLock::Missing),
            Err(errno) => return Err(err(errno)),
        }
    }
    Ok(TryLock::Held)
}

/// Creates the directory `path` and its missing parents, as a runtime directory should be:
/// owner-only (`0700`) by default, or for a group (`02770` and the group: members may create
/// files, which inherit the group). Folders that exist already are left as they are.
/// Succeeds if `path` exists.
pub fn create_runtime_dir(path: impl AsRef<Path>, permissions: Permissions) -> std::io::Result<()> {
    let path = path.as_ref();
    // Another process may remove an empty folder of ours (the last participant of a service
    // or domain does) between our creating it and our using it: start over, a few times.
    let mut attempts = 0;
    loop {
        match create_missing_dirs(path, permissions) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 16 => attempts += 1,
            other => return other,
        }
    }
}

fn create_missing_dirs(path: &Path, permissions: Permissions) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(path);
    while let Some(dir) = at {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            break;
        }
        missing.push(dir);
        at = dir.parent();
    }
    let mode = match permissions {
        Permissions::OwnerOnly => 0o700,
        Permissions::Group { .. } => 0o2770,
    };
    for dir in missing.into_iter().rev() {
        match rustix::fs::mkdir(dir, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            // Another process made it meanwhile: theirs is as good as ours. (If it is gone
            // again already, the next step fails with ENOENT and we start over.)
            Err(Errno::EXIST) => continue,
            Err(errno) => return Err(errno.into()),
        }
        let fd = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        if let Permissions::Group { gid } = permissions {
            rustix::fs::fchown(&fd, None, Some(rustix::fs::Gid::from_raw(gid)))?;
        }
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    }
    Ok(())
}

/// Gives an open file the mode and group of `permissions`.
fn apply_permissions(fd: BorrowedFd<'_>, permissions: Permissions) -> rustix::io::Result<()> {
    rustix::fs::fchmod(fd, Mode::from_raw_mode(permissions.mode()))?;
    if let Permissions::Group { gid } = permissions {
        rustix::fs::fchown(fd, None, Some(rustix::fs::Gid::from_raw(gid)))?;
    }
    Ok(())
}
