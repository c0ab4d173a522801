//! POSIX shared-memory objects (`shm_open(3)`), by name.
//!
//! A [`SharedMemory`] is an open file descriptor on an object in the shared-memory
//! filesystem (`/dev/shm` on Linux). Objects are created exclusively (`O_CREAT | O_EXCL`),
//! owner-only (`0600`) by default or for a group (`0660` plus `fchown` to a gid), so two
//! creators can never both believe they own one object. Mapping an object is
//! [`crate::os::mmap::Mapping`]'s job.
//!
//! `/dev/shm` is one folder for every user of the machine, writable by all. So an object is
//! opened without following links (`O_NOFOLLOW`: `shm_open(3)` of glibc does the same, the
//! raw one of rustix does not) and used only once `fstat` on the descriptor says it is ours
//! ([`crate::os::trust`]); listing and removing skip what is not ours.
//!
//! [`SharedMemory::allocate`] gives an object its size *and its memory* (`fallocate(2)`):
//! with `ftruncate(2)` alone, tmpfs hands out pages only when they are first touched, and a
//! full `/dev/shm` then kills the process that touches one with `SIGBUS`. Reserving at
//! creation turns that into an error that says how much was needed and how much is free.
//!
//! Names follow `shm_overview(7)`: a leading `/`, then 1 to 254 bytes that are neither `/`
//! nor NUL; `.` and `..` are refused. One extension: a name may have one folder,
//! `/<folder>/<object>`. Domains shared with a group keep their objects in a folder of the
//! group (`/dev/shm/shmbus-g<gid>`, mode `02770`): `/dev/shm` itself is sticky, so there only
//! an object's creator could remove it, while in the group's folder any member can — the
//! last one to leave a service removes it, whoever made it. [`ShmName`] holds only valid
//! names. The folder is made on first use, checked like every folder
//! ([`crate::os::dir`]), and stays (it is the group's, like `/tmp/.X11-unix`).

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, CWD, FallocateFlags, Gid, Mode, OFlags};
use rustix::io::Errno;

use crate::os::dir::{Folder, FolderError};
pub use crate::os::trust::Permissions;
use crate::os::trust::{self, Kind, TrustError, Untrusted};

/// The directory where Linux exposes shared-memory objects.
pub const SHM_DIR: &str = "/dev/shm";

/// Longest valid object name in bytes, including the leading `/` (`NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// A validated shared-memory object name such as `/shmbus.domain.1f2e`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShmName(String);

/// Why a string is not a valid shared-memory object name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShmNameError {
    /// The name does not start with `/`.
    #[error("shared-memory name {name:?} must start with '/' (for example \"/shmbus.demo\")")]
    MissingLeadingSlash {
        /// The rejected name.
        name: String,
    },
    /// Nothing follows the leading `/`, or the name is `/.` or `/..`.
    #[error(
        "shared-memory name {name:?} is empty or a dot name; put at least one ordinary character after '/'"
    )]
    Empty {
        /// The rejected name.
        name: String,
    },
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    #[error(
        "shared-memory name is {len} bytes long, the limit is {MAX_NAME_LEN}; use a shorter prefix or hash the name"
    )]
    TooLong {
        /// Length of the rejected name in bytes.
        len: usize,
    },
    /// The name contains a NUL byte, or a `/` beyond the one folder allowed.
    #[error(
        "shared-memory name {name:?} contains {found:?} at byte {at}; a name is '/' and a file name, or '/', a folder, '/' and a file name, and NUL is never allowed"
    )]
    InvalidCharacter {
        /// The rejected name.
        name: String,
        /// The offending character.
        found: char,
        /// Its byte offset.
        at: usize,
    },
}

impl ShmName {
    /// Validates `name` (see the module docs for the rules).
    pub fn new(name: impl Into<String>) -> Result<Self, ShmNameError> {
        let name = name.into();
        if !name.starts_with('/') {
            return Err(ShmNameError::MissingLeadingSlash { name });
        }
        if name.len() > MAX_NAME_LEN {
            return Err(ShmNameError::TooLong { len: name.len() });
        }
        let mut slashes = 0;
        if let Some((at, found)) = name.char_indices().skip(1).find(|&(_, c)| {
            slashes += usize::from(c == '/');
            c == '\0' || slashes > 1
        }) {
            return Err(ShmNameError::InvalidCharacter { name, found, at });
        }
        if name[1..]
            .split('/')
            .any(|part| matches!(part, "" | "." | ".."))
        {
            return Err(ShmNameError::Empty { name });
        }
        Ok(Self(name))
    }

    /// The name, with its leading `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without its leading `/`: the path under [`SHM_DIR`].
    pub fn file_name(&self) -> &str {
        &self.0[1..]
    }

    /// The folder under [`SHM_DIR`] the object is in, if any.
    pub fn folder(&self) -> Option<&str> {
        self.file_name().split_once('/').map(|(folder, _)| folder)
    }

    /// The object's own name (in its folder, or in [`SHM_DIR`]).
    pub fn leaf(&self) -> &str {
        let name = self.file_name();
        name.split_once('/').map_or(name, |(_, leaf)| leaf)
    }
}

impl fmt::Display for ShmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ShmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for ShmName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// How [`SharedMemory::open`] opens an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Open for reading and writing (`O_RDWR`).
    ReadWrite,
    /// Open for reading only (`O_RDONLY`); such an object can only be mapped read-only.
    ReadOnly,
}

/// Failure of [`SharedMemory::create`].
#[derive(Debug, thiserror::Error)]
pub enum ShmCreateError {
    /// An object with this name already exists.
    #[error(
        "shared-memory object {name} already exists; open it instead, or remove it if its owner is dead"
    )]
    AlreadyExists {
        /// The object's name.
        name: ShmName,
    },
    /// The kernel refused to create the object for this user.
    #[error(
        "not allowed to create shared-memory object {name}; check the permissions of {SHM_DIR}"
    )]
    PermissionDenied {
        /// The object's name.
        name: ShmName,
    },
    /// The object was created but could not be given the requested permissions; it has been
    /// removed again.
    #[error(
        "could not give shared-memory object {name} mode {mode:o} and group {gid:?} ({errno}); the object was removed; check that this user belongs to the group"
    )]
    SetPermissions {
        /// The object's name.
        name: ShmName,
        /// The requested mode.
        mode: u32,
        /// The requested group, if any.
        gid: Option<u32>,
        /// The error from `fchmod(2)`/`fchown(2)`.
        #[source]
        errno: Errno,
    },
    /// The group's folder in [`SHM_DIR`] cannot be made or used.
    #[error("cannot create shared-memory object {name}: {source}")]
    Folder {
        /// The object's name.
        name: ShmName,
        /// The cause.
        source: FolderError,
    },
    /// Any other failure of `shm_open(3)` (too many open files, out of memory, ...).
    #[error("could not create shared-memory object {name}: {errno}")]
    Os {
        /// The object's name.
        name: ShmName,
        /// The error from `shm_open(3)`.
        #[source]
        errno: Errno,
    },
}

/// Failure of [`SharedMemory::open`].
#[derive(Debug, thiserror::Error)]
pub enum ShmOpenError {
    /// No object has this name.
    #[error(
        "shared-memory object {name} does not exist; create it first (or its creator has removed it)"
    )]
    NotFound {
        /// The object's name.
        name: ShmName,
    },
    /// The object exists but this user may not open it with the requested access.
    #[error(
        "not allowed to open shared-memory object {name} {access:?}; it belongs to another user or group"
    )]
    PermissionDenied {
        /// The object's name.
        name: ShmName,
        /// The requested access.
        access: Access,
    },
    /// The object exists but is not ours: another user's, or open to others. It was not
    /// used.
    #[error(
        "shared-memory object {name} is not used: {source}. Someone else made it under a name \
         of this user's domain (to read or feed its messages?): remove it (rm {SHM_DIR}/{}) if \
         nobody should have it, or ask its owner",
        name.file_name()
    )]
    NotOurs {
        /// The object's name.
        name: ShmName,
        /// Whose it is.
        source: Untrusted,
    },
    /// The group's folder in [`SHM_DIR`] cannot be used.
    #[error("cannot open shared-memory object {name}: {source}")]
    Folder {
        /// The object's name.
        name: ShmName,
        /// The cause.
        source: FolderError,
    },
    /// Any other failure of `shm_open(3)`.
    #[error("could not open shared-memory object {name}: {errno}")]
    Os {
        /// The object's name.
        name: ShmName,
        /// The error from `shm_open(3)`.
        #[source]
        errno: Errno,
    },
}

/// Failure of [`SharedMemory::allocate`].
#[derive(Debug, thiserror::Error)]
pub enum ShmAllocateError {
    /// The object was opened read-only.
    #[error("cannot size shared-memory object {name}: it was opened read-only")]
    ReadOnly {
        /// The object's name.
        name: ShmName,
    },
    /// `/dev/shm` has not enough free memory for the object.
    #[error(
        "{SHM_DIR} has no room for shared-memory object {name}: it needs {} but only {} of {} \
         are free. Enlarge {SHM_DIR} (a container's default is 64 MiB: `docker run \
         --shm-size=1g`, or `mount -o remount,size=1G {SHM_DIR}`), or lower the QoS limits \
         or the message size",
        bytes(*needed), bytes(*free), bytes(*total)
    )]
    NoSpace {
        /// The object's name.
        name: ShmName,
        /// Bytes the object needs.
        needed: u64,
        /// Bytes free in the filesystem when it failed.
        free: u64,
        /// Size of the filesystem.
        total: u64,
    },
    /// `fallocate(2)` or `ftruncate(2)` failed otherwise.
    #[error("could not give shared-memory object {name} {len} bytes: {errno}")]
    Os {
        /// The object's name.
        name: ShmName,
        /// The requested length.
        len: u64,
        /// The error.
        #[source]
        errno: Errno,
    },
}

/// Failure of [`SharedMemory::len`].
#[derive(Debug, thiserror::Error)]
#[error("could not read the size of shared-memory object {name}: {errno}")]
pub struct ShmStatError {
    /// The object's name.
    pub name: ShmName,
    /// The error from `fstat(2)`.
    #[source]
    pub errno: Errno,
}

/// Failure of [`unlink`].
#[derive(Debug, thiserror::Error)]
pub enum ShmUnlinkError {
    /// No object has this name (perhaps someone else removed it first).
    #[error("shared-memory object {name} does not exist (already removed?)")]
    NotFound {
        /// The object's name.
        name: ShmName,
    },
    /// The object is not ours: it is left alone.
    #[error("shared-memory object {name} is not removed: {source}")]
    NotOurs {
        /// The object's name.
        name: ShmName,
        /// Whose it is.
        source: Untrusted,
    },
    /// This user may not remove the object.
    #[error("not allowed to remove shared-memory object {name}; it belongs to another user")]
    PermissionDenied {
        /// The object's name.
        name: ShmName,
    },
    /// The group's folder in [`SHM_DIR`] cannot be used.
    #[error("cannot remove shared-memory object {name}: {source}")]
    Folder {
        /// The object's name.
        name: ShmName,
        /// The cause.
        source: FolderError,
    },
    /// Any other failure of `shm_unlink(3)`.
    #[error("could not remove shared-memory object {name}: {errno}")]
    Os {
        /// The object's name.
        name: ShmName,
        /// The error from `shm_unlink(3)`.
        #[source]
        errno: Errno,
    },
}

/// Failure of [`list`].
#[derive(Debug, thiserror::Error)]
pub enum ShmListError {
    /// The folder could not be read.
    #[error("could not list shared-memory objects in {SHM_DIR}: {0}; is /dev/shm mounted?")]
    Read(#[from] std::io::Error),
    /// The group's folder in [`SHM_DIR`] cannot be used.
    #[error("could not list shared-memory objects: {0}")]
    Folder(#[from] FolderError),
}

/// How large an object is, and how much memory it occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// Its size in bytes (what it was given).
    pub size: u64,
    /// The memory it occupies, in bytes (`st_blocks` × 512: pages reserved or touched).
    pub allocated: u64,
}

impl Footprint {
    fn of(stat: &rustix::fs::Stat) -> Self {
        Self {
            size: u64::try_from(stat.st_size).unwrap_or(0),
            allocated: u64::try_from(stat.st_blocks)
                .unwrap_or(0)
                .saturating_mul(512),
        }
    }
}

/// The footprint of object `name` if it is ours under `permissions` (`None` otherwise, or
/// when it is gone).
pub fn footprint(name: &ShmName, permissions: Permissions) -> Option<Footprint> {
    let place = Place::of(name, permissions, false).ok()?;
    let stat = place.stat().ok()?;
    trust::judge(trust::Ownership::of(&stat), Kind::File, permissions).ok()?;
    Some(Footprint::of(&stat))
}

/// Bytes for people: `4.0 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Where an object is reached: a checked folder of a group and the object's name in it,
/// or [`SHM_DIR`] itself (the system's, not checked) and the object's path.
struct Place {
    folder: Option<Folder>,
    path: String,
}

impl Place {
    /// The place of `name`; its folder, if it has one, is made first with `create`.
    fn of(name: &ShmName, permissions: Permissions, create: bool) -> Result<Self, FolderError> {
        let Some(folder) = name.folder() else {
            return Ok(Self {
                folder: None,
                path: format!("{SHM_DIR}/{}", name.file_name()),
            });
        };
        let path = std::path::Path::new(SHM_DIR).join(folder);
        let folder = if create {
            Folder::open_or_create_path(&path, permissions)?
        } else {
            Folder::open_path(&path, permissions)?.ok_or(FolderError::Vanished { path })?
        };
        Ok(Self {
            folder: Some(folder),
            path: name.leaf().to_owned(),
        })
    }

    fn dir(&self) -> BorrowedFd<'_> {
        self.folder.as_ref().map_or(CWD, AsFd::as_fd)
    }

    fn open(&self, flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
        rustix::fs::openat(
            self.dir(),
            self.path.as_str(),
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            mode,
        )
    }

    fn stat(&self) -> Result<rustix::fs::Stat, Errno> {
        rustix::fs::statat(self.dir(), self.path.as_str(), AtFlags::SYMLINK_NOFOLLOW)
    }

    fn unlink(&self) -> Result<(), Errno> {
        rustix::fs::unlinkat(self.dir(), self.path.as_str(), AtFlags::empty())
    }
}

/// An open POSIX shared-memory object. Closing (dropping) it does not remove the object;
/// [`unlink`] does.
#[derive(Debug)]
pub struct SharedMemory {
    fd: OwnedFd,
    name: ShmName,
    access: Access,
}

impl SharedMemory {
    /// Creates a new, empty object exclusively: fails with
    /// [`ShmCreateError::AlreadyExists`] if the name is taken (by anything, a planted link
    /// included). The mode is set with `fchmod(2)` after creation, so the process umask
    /// cannot narrow it. Give it a size with [`allocate`](Self::allocate).
    pub fn create(name: &ShmName, permissions: Permissions) -> Result<Self, ShmCreateError> {
        let mode = permissions.mode();
        let place =
            Place::of(name, permissions, true).map_err(|source| ShmCreateError::Folder {
                name: name.clone(),
                source,
            })?;
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR;
        let fd = place
            .open(flags, Mode::from_raw_mode(mode))
            .map_err(|errno| {
                tracing::debug!(%name, %errno, "shm_open(O_CREAT|O_EXCL) failed");
                match errno {
                    Errno::EXIST => ShmCreateError::AlreadyExists { name: name.clone() },
                    Errno::ACCESS | Errno::PERM => {
                        ShmCreateError::PermissionDenied { name: name.clone() }
                    }
                    errno => ShmCreateError::Os {
                        name: name.clone(),
                        errno,
                    },
                }
            })?;
        let gid = permissions.gid();
        let applied = gid
            .map_or(Ok(()), |gid| {
                rustix::fs::fchown(&fd, None, Some(Gid::from_raw(gid)))
            })
            .and_then(|()| rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)));
        if let Err(errno) = applied {
            tracing::debug!(%name, %errno, "setting permissions failed; removing the object");
            // Do not leak the half-made object; a failure here leaves nothing we could fix.
            let _ = place.unlink();
            return Err(ShmCreateError::SetPermissions {
                name: name.clone(),
                mode,
                gid,
                errno,
            });
        }
        tracing::debug!(%name, mode = format_args!("{mode:o}"), ?gid, "created shared-memory object");
        Ok(Self {
            fd,
            name: name.clone(),
            access: Access::ReadWrite,
        })
    }

    /// Opens an existing object that is ours under `permissions` (see
    /// [`crate::os::trust`]); an object of another user, or open to others, is refused with
    /// [`ShmOpenError::NotOurs`] before anything of it is read.
    pub fn open(
        name: &ShmName,
        access: Access,
        permissions: Permissions,
    ) -> Result<Self, ShmOpenError> {
        let flags = match access {
            Access::ReadWrite => OFlags::RDWR,
            Access::ReadOnly => OFlags::RDONLY,
        };
        let place = match Place::of(name, permissions, false) {
            Ok(place) => place,
            Err(FolderError::Vanished { .. }) => {
                return Err(ShmOpenError::NotFound { name: name.clone() });
            }
            Err(source) => {
                return Err(ShmOpenError::Folder {
                    name: name.clone(),
                    source,
                });
            }
        };
        let fd = place.open(flags, Mode::empty()).map_err(|errno| {
            tracing::debug!(%name, %errno, ?access, "shm_open failed");
            match errno {
                Errno::NOENT => ShmOpenError::NotFound { name: name.clone() },
                Errno::ACCESS | Errno::PERM => ShmOpenError::PermissionDenied {
                    name: name.clone(),
                    access,
                },
                errno => ShmOpenError::Os {
                    name: name.clone(),
                    errno,
                },
            }
        })?;
        match trust::check(fd.as_fd(), Kind::File, permissions) {
            Ok(_) => {}
            Err(TrustError::Untrusted(source)) => {
                return Err(ShmOpenError::NotOurs {
                    name: name.clone(),
                    source,
                });
            }
            Err(TrustError::Stat(errno)) => {
                return Err(ShmOpenError::Os {
                    name: name.clone(),
                    errno,
                });
            }
        }
        Ok(Self {
            fd,
            name: name.clone(),
            access,
        })
    }

    /// Gives the object `len` bytes and reserves their memory (`fallocate(2)`), so that
    /// no later access can fail for lack of memory. A filesystem without `fallocate` gets
    /// `ftruncate(2)` instead (then pages are found only when touched).
    pub fn allocate(&self, len: u64) -> Result<(), ShmAllocateError> {
        if self.access == Access::ReadOnly {
            return Err(ShmAllocateError::ReadOnly {
                name: self.name.clone(),
            });
        }
        let result = match rustix::fs::fallocate(&self.fd, FallocateFlags::empty(), 0, len) {
            Err(Errno::OPNOTSUPP | Errno::NOSYS) => {
                tracing::debug!(name = %self.name, "fallocate unsupported; the memory is not reserved");
                rustix::fs::ftruncate(&self.fd, len)
            }
            other => other,
        };
        result.map_err(|errno| {
            tracing::debug!(name = %self.name, len, %errno, "allocating a shared-memory object failed");
            match errno {
                Errno::NOSPC | Errno::FBIG => {
                    let (free, total) = rustix::fs::fstatvfs(&self.fd)
                        .map(|s| (s.f_bavail * s.f_frsize, s.f_blocks * s.f_frsize))
                        .unwrap_or((0, 0));
                    ShmAllocateError::NoSpace {
                        name: self.name.clone(),
                        needed: len,
                        free,
                        total,
                    }
                }
                errno => ShmAllocateError::Os {
                    name: self.name.clone(),
                    len,
                    errno,
                },
            }
        })
    }

    /// The object's current size in bytes (`fstat(2)`).
    pub fn len(&self) -> Result<u64, ShmStatError> {
        let stat = rustix::fs::fstat(&self.fd).map_err(|errno| {
            tracing::debug!(name = %self.name, %errno, "fstat failed");
            ShmStatError {
                name: self.name.clone(),
                errno,
            }
        })?;
        // A regular file's st_size is never negative; treat a nonsensical value as empty.
        Ok(u64::try_from(stat.st_size).unwrap_or(0))
    }

    /// The object's nominal size and the memory it occupies (`fstat(2)`).
    pub fn footprint(&self) -> Result<Footprint, ShmStatError> {
        let stat = rustix::fs::fstat(&self.fd).map_err(|errno| ShmStatError {
            name: self.name.clone(),
            errno,
        })?;
        Ok(Footprint::of(&stat))
    }

    /// Whether the object is empty (size 0), as [`SharedMemory::len`] reports it.
    pub fn is_empty(&self) -> Result<bool, ShmStatError> {
        self.len().map(|len| len == 0)
    }

    /// The object's name.
    pub fn name(&self) -> &ShmName {
        &self.name
    }

    /// The access this handle was opened with.
    pub fn access(&self) -> Access {
        self.access
    }
}

impl AsFd for SharedMemory {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Removes the object called `name` (`shm_unlink(3)`) if it is ours under `permissions`;
/// another user's object under that name is left alone ([`ShmUnlinkError::NotOurs`]).
/// Processes that have it open or mapped keep using it; the memory is freed when the last
/// of them lets go.
pub fn unlink(name: &ShmName, permissions: Permissions) -> Result<(), ShmUnlinkError> {
    let place = match Place::of(name, permissions, false) {
        Ok(place) => place,
        Err(FolderError::Vanished { .. }) => {
            return Err(ShmUnlinkError::NotFound { name: name.clone() });
        }
        Err(source) => {
            return Err(ShmUnlinkError::Folder {
                name: name.clone(),
                source,
            });
        }
    };
    let fail = |errno| {
        tracing::debug!(%name, %errno, "shm_unlink failed");
        match errno {
            Errno::NOENT => ShmUnlinkError::NotFound { name: name.clone() },
            Errno::ACCESS | Errno::PERM => ShmUnlinkError::PermissionDenied { name: name.clone() },
            errno => ShmUnlinkError::Os {
                name: name.clone(),
                errno,
            },
        }
    };
    // `/dev/shm` is sticky: once we found the entry ours, only we (or root) can replace it;
    // a group's folder is the group's alone.
    let stat = place.stat().map_err(fail)?;
    if let Err(source) = trust::judge(trust::Ownership::of(&stat), Kind::File, permissions) {
        return Err(ShmUnlinkError::NotOurs {
            name: name.clone(),
            source,
        });
    }
    place.unlink().map_err(fail)?;
    tracing::debug!(%name, "removed shared-memory object");
    Ok(())
}

/// The names of the objects whose name (with its leading `/`) starts with `prefix` and that
/// are ours under `permissions`, sorted. Entries that are not valid object names, or not
/// ours, are skipped. A prefix with a folder (`/<folder>/<start>`) lists that folder.
pub fn list(prefix: &str, permissions: Permissions) -> Result<Vec<ShmName>, ShmListError> {
    let mut names = Vec::new();
    let body = prefix.strip_prefix('/').unwrap_or(prefix);
    let mut candidates = Vec::new();
    let folder = match body.split_once('/') {
        Some((folder, start)) => {
            let path = std::path::Path::new(SHM_DIR).join(folder);
            let Some(found) = Folder::open_path(&path, permissions)? else {
                return Ok(Vec::new());
            };
            let entries = found
                .list("")
                .map_err(|errno| std::io::Error::from_raw_os_error(errno.raw_os_error()))?;
            for entry in entries {
                if entry.starts_with(start) {
                    candidates.push(format!("/{folder}/{entry}"));
                }
            }
            Some(found)
        }
        None => {
            for entry in std::fs::read_dir(SHM_DIR)? {
                let entry = entry?;
                if let Some(file) = entry.file_name().to_str()
                    && file.starts_with(body)
                {
                    candidates.push(format!("/{file}"));
                }
            }
            None
        }
    };
    for candidate in candidates {
        let Ok(name) = ShmName::new(candidate) else {
            continue;
        };
        let stat = match &folder {
            Some(folder) => rustix::fs::statat(folder, name.leaf(), AtFlags::SYMLINK_NOFOLLOW),
            None => rustix::fs::statat(
                CWD,
                format!("{SHM_DIR}/{}", name.file_name()).as_str(),
                AtFlags::SYMLINK_NOFOLLOW,
            ),
        };
        let ours = stat.is_ok_and(|stat| {
            trust::judge(trust::Ownership::of(&stat), Kind::File, permissions).is_ok()
        });
        if ours {
            names.push(name);
        } else {
            tracing::debug!(%name, "skipped a shared-memory object that is not ours");
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        assert_eq!(ShmName::new("/a").unwrap().file_name(), "a");
        assert!(ShmName::new(format!("/{}", "x".repeat(254))).is_ok());
        assert!(ShmName::new("/a.b-c_d").is_ok());
    }

    #[test]
    fn invalid_names() {
        assert!(matches!(
            ShmName::new("a"),
            Err(ShmNameError::MissingLeadingSlash { .. })
        ));
        assert!(matches!(
            ShmName::new(""),
            Err(ShmNameError::MissingLeadingSlash { .. })
        ));
        assert!(matches!(ShmName::new("/"), Err(ShmNameError::Empty { .. })));
        assert!(matches!(
            ShmName::new("/.."),
            Err(ShmNameError::Empty { .. })
        ));
        let folded = ShmName::new("/a/b").unwrap();
        assert_eq!(
            (folded.folder(), folded.leaf(), folded.file_name()),
            (Some("a"), "b", "a/b")
        );
        assert_eq!(ShmName::new("/b").unwrap().folder(), None);
        assert!(matches!(
            ShmName::new("/a/b/c"),
            Err(ShmNameError::InvalidCharacter {
                found: '/',
                at: 4,
                ..
            })
        ));
        assert!(matches!(
            ShmName::new("/a/"),
            Err(ShmNameError::Empty { .. })
        ));
        assert!(matches!(
            ShmName::new("/../b"),
            Err(ShmNameError::Empty { .. })
        ));
        assert!(matches!(
            ShmName::new("/a\0"),
            Err(ShmNameError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            ShmName::new(format!("/{}", "x".repeat(255))),
            Err(ShmNameError::TooLong { len: 256 })
        ));
    }

    #[test]
    fn sizes_are_readable() {
        assert_eq!(bytes(100), "100 bytes");
        assert_eq!(bytes(4 << 20), "4.0 MiB");
        assert_eq!(bytes(243 << 20), "243.0 MiB");
    }
}
