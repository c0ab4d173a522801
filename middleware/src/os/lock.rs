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
//!
//! Lock files live in a checked [`Folder`] and are reached relative to its descriptor,
//! without following links, and checked to be ours ([`crate::os::trust`]) before a lock on
//! them means anything.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{AtFlags, CWD, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::os::dir::Folder;
use crate::os::trust::{self, Kind, Permissions, TrustError, Untrusted};

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
    /// The folder was removed (by the last process of a domain) while the file was being
    /// made: opening the folder again and retrying is the remedy.
    #[error("cannot create lock file {path}: its folder was removed meanwhile; try again")]
    FolderGone {
        /// The lock file's path.
        path: PathBuf,
    },
    /// Any other failure (permissions, file-descriptor limit, ...).
    #[error("cannot create lock file {path}: {errno}; check the runtime folder's permissions")]
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
    /// by another process: making the folder again and retrying is the remedy.
    pub fn is_folder_race(&self) -> bool {
        matches!(self, Self::FolderGone { .. })
    }
}

/// Failure of [`try_lock`].
#[derive(Debug, thiserror::Error)]
pub enum LockProbeError {
    /// The file under the lock file's name is not ours (another user's, open to others, a
    /// symbolic link, ...).
    #[error("the lock file {path} cannot be used: {source}; remove it if it should not be there")]
    Untrusted {
        /// The lock file's path.
        path: PathBuf,
        /// Whose it is.
        source: Untrusted,
    },
    /// The lock file could not be tested.
    #[error("cannot test lock file {path}: {errno}; check the runtime folder's permissions")]
    Os {
        /// The lock file's path.
        path: PathBuf,
        /// The error from open(2), flock(2) or stat(2).
        #[source]
        errno: Errno,
    },
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
    folder: Folder,
    name: String,
}

fn lock_exclusive(fd: BorrowedFd<'_>) -> rustix::io::Result<bool> {
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(Errno::WOULDBLOCK) => Ok(false),
        Err(errno) => Err(errno),
    }
}

impl LockFile {
    /// Creates the file `name` in `folder`, already locked, with the folder's permissions
    /// (mode `0600`, or `0660` and the group, set with `fchmod(2)`/`fchown(2)` so the umask
    /// cannot narrow them). Fails with [`LockCreateError::AlreadyExists`] if the name is
    /// taken (by anything: a file, a link, a folder).
    pub fn create(folder: &Folder, name: &str) -> Result<Self, LockCreateError> {
        let path = folder.join(name);
        let os_err = |errno| {
            tracing::debug!(path = %path.display(), %errno, "creating lock file failed");
            match errno {
                Errno::EXIST => LockCreateError::AlreadyExists { path: path.clone() },
                // ENOENT: the folder is gone; EPERM: linkat into a removed folder.
                Errno::NOENT | Errno::PERM => LockCreateError::FolderGone { path: path.clone() },
                errno => LockCreateError::Os {
                    path: path.clone(),
                    errno,
                },
            }
        };
        let permissions = folder.permissions();
        let mode = Mode::from_raw_mode(permissions.mode());
        let flags = OFlags::RDWR | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(folder, ".", flags | OFlags::TMPFILE, mode) {
            Ok(fd) => {
                // Locked before it has a name: nobody can observe it unlocked.
                lock_exclusive(fd.as_fd()).map_err(os_err)?;
                let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
                rustix::fs::linkat(
                    CWD,
                    proc_path.as_str(),
                    folder,
                    name,
                    AtFlags::SYMLINK_FOLLOW,
                )
                .map_err(os_err)?;
                fd
            }
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {
                Self::create_via_temp_name(folder, name, flags, mode).map_err(os_err)?
            }
            Err(errno) => return Err(os_err(errno)),
        };
        if let Err(errno) = apply_permissions(fd.as_fd(), permissions) {
            let _ = folder.remove_file(name);
            return Err(os_err(errno));
        }
        tracing::debug!(path = %path.display(), "created and locked lock file");
        Ok(Self {
            fd,
            folder: folder.clone(),
            name: name.to_owned(),
        })
    }

    fn create_via_temp_name(
        folder: &Folder,
        name: &str,
        flags: OFlags,
        mode: Mode,
    ) -> rustix::io::Result<OwnedFd> {
        let temp = format!(".{name}.{}.tmp", std::process::id());
        let fd = rustix::fs::openat(
            folder,
            &temp,
            flags | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW,
            mode,
        )?;
        let linked = lock_exclusive(fd.as_fd())
            .and_then(|_| rustix::fs::linkat(folder, &temp, folder, name, AtFlags::empty()));
        // The temporary name is not needed whether or not linking worked.
        let _ = folder.remove_file(&temp);
        linked.map(|()| fd)
    }

    /// Writes `bytes` into the file (just created, so from offset 0): what tools show of
    /// the lock's owner.
    pub fn write_contents(&self, mut bytes: &[u8]) -> Result<(), Errno> {
        let mut offset = 0u64;
        while !bytes.is_empty() {
            match rustix::io::pwrite(&self.fd, bytes, offset) {
                Ok(0) => return Err(Errno::IO),
                Ok(n) => {
                    bytes = &bytes[n..];
                    offset += n as u64;
                }
                Err(Errno::INTR) => continue,
                Err(errno) => return Err(errno),
            }
        }
        Ok(())
    }

    /// Replaces the file's contents with `bytes` (written over the old ones, then the rest
    /// cut off). A reader at the same moment may see a mix of both: readers must expect it.
    pub fn replace_contents(&self, bytes: &[u8]) -> Result<(), Errno> {
        self.write_contents(bytes)?;
        rustix::fs::ftruncate(&self.fd, bytes.len() as u64)
    }

    /// The lock file's path.
    pub fn path(&self) -> PathBuf {
        self.folder.join(&self.name)
    }

    /// Deletes the file, then releases the lock.
    pub fn remove(self) -> Result<(), LockRemoveError> {
        self.folder.remove_file(&self.name).map_err(|errno| {
            tracing::debug!(path = %self.path().display(), %errno, "removing lock file failed");
            LockRemoveError {
                path: self.path(),
                errno,
            }
        })?;
        tracing::debug!(path = %self.path().display(), "removed lock file");
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

/// Tests whether the owner of the lock file `name` in `folder` is alive, taking the lock if
/// it is not. The file is opened without following links and checked to be ours before it
/// is locked: a file another user planted is an error, never a lock we rely on.
pub fn try_lock(folder: &Folder, name: &str) -> Result<TryLock, LockProbeError> {
    let path = || folder.join(name);
    let err = |errno| {
        tracing::debug!(path = %path().display(), %errno, "testing lock file failed");
        LockProbeError::Os {
            path: path(),
            errno,
        }
    };
    // A new owner may replace a removed file between our open and our check; a few rounds
    // settle that race (each round means someone else made progress).
    for _ in 0..8 {
        let fd = match folder.open_file(name, OFlags::RDONLY) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(TryLock::Missing),
            Err(errno) => return Err(err(errno)),
        };
        let ours = match trust::check(fd.as_fd(), Kind::File, folder.permissions()) {
            Ok(_) => rustix::fs::fstat(&fd).map_err(err)?,
            Err(TrustError::Untrusted(source)) => {
                return Err(LockProbeError::Untrusted {
                    path: path(),
                    source,
                });
            }
            Err(TrustError::Stat(errno)) => return Err(err(errno)),
        };
        if !lock_exclusive(fd.as_fd()).map_err(err)? {
            return Ok(TryLock::Held);
        }
        match rustix::fs::statat(folder, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(now) if now.st_dev == ours.st_dev && now.st_ino == ours.st_ino => {
                tracing::debug!(path = %path().display(), "lock was free: owner is dead");
                return Ok(TryLock::Acquired(LockFile {
                    fd,
                    folder: folder.clone(),
                    name: name.to_owned(),
                }));
            }
            Ok(_) => continue,
            Err(Errno::NOENT) => return Ok(TryLock::Missing),
            Err(errno) => return Err(err(errno)),
        }
    }
    Ok(TryLock::Held)
}

/// Gives an open file the mode and group of `permissions`.
fn apply_permissions(fd: BorrowedFd<'_>, permissions: Permissions) -> rustix::io::Result<()> {
    if let Some(gid) = permissions.gid() {
        rustix::fs::fchown(fd, None, Some(rustix::fs::Gid::from_raw(gid)))?;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(permissions.mode()))
}
