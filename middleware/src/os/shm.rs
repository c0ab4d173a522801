//! POSIX shared-memory objects (`shm_open(3)`), by name.
//!
//! A [`SharedMemory`] is an open file descriptor on an object in the shared-memory
//! filesystem (`/dev/shm` on Linux). Objects are created exclusively (`O_CREAT | O_EXCL`),
//! owner-only (`0600`) by default or for a group (`0660` plus `fchown` to a gid), so two
//! creators can never both believe they own one object. Mapping an object is
//! [`crate::os::mmap::Mapping`]'s job.
//!
//! Names follow `shm_overview(7)`: a leading `/`, then 1 to 254 bytes that are neither `/`
//! nor NUL; `.` and `..` are refused. [`ShmName`] holds only valid names.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Gid, Mode};
use rustix::io::Errno;
use rustix::shm as rshm;

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
    /// The name contains a `/` after the first byte, or a NUL byte.
    #[error(
        "shared-memory name {name:?} contains {found:?} at byte {at}; only the first byte may be '/', and NUL is never allowed"
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
        if let Some((at, found)) = name
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == '/' || c == '\0')
        {
            return Err(ShmNameError::InvalidCharacter { name, found, at });
        }
        if matches!(&name[1..], "" | "." | "..") {
            return Err(ShmNameError::Empty { name });
        }
        Ok(Self(name))
    }

    /// The name, with its leading `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without its leading `/`: the file name under [`SHM_DIR`].
    pub fn file_name(&self) -> &str {
        &self.0[1..]
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

/// Who may open an object that [`SharedMemory::create`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Permissions {
    /// Mode `0600`: only the creating user (the default).
    #[default]
    OwnerOnly,
    /// Mode `0660` and group ownership `gid`: the creating user and members of `gid`.
    Group {
        /// The group that may read and write the object.
        gid: u32,
    },
}

impl Permissions {
    /// The file mode these permissions stand for.
    pub fn mode(self) -> u32 {
        match self {
            Self::OwnerOnly => 0o600,
            Self::Group { .. } => 0o660,
        }
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

/// Failure of [`SharedMemory::set_len`].
#[derive(Debug, thiserror::Error)]
pub enum ShmResizeError {
    /// The object was opened read-only.
    #[error("cannot resize shared-memory object {name}: it was opened read-only")]
    ReadOnly {
        /// The object's name.
        name: ShmName,
    },
    /// `ftruncate(2)` failed (for example: no space left in {SHM_DIR}).
    #[error(
        "could not resize shared-memory object {name} to {len} bytes: {errno}; check free space in {SHM_DIR} (df -h {SHM_DIR})"
    )]
    Os {
        /// The object's name.
        name: ShmName,
        /// The requested length.
        len: u64,
        /// The error from `ftruncate(2)`.
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
    /// This user may not remove the object.
    #[error("not allowed to remove shared-memory object {name}; it belongs to another user")]
    PermissionDenied {
        /// The object's name.
        name: ShmName,
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
#[error("could not list shared-memory objects in {SHM_DIR}: {source}; is /dev/shm mounted?")]
pub struct ShmListError {
    /// The error from reading the directory.
    #[from]
    pub source: std::io::Error,
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
    /// [`ShmCreateError::AlreadyExists`] if the name is taken. The mode is set with
    /// `fchmod(2)` after creation, so the process umask cannot narrow it.
    pub fn create(name: &ShmName, permissions: Permissions) -> Result<Self, ShmCreateError> {
        let mode = permissions.mode();
        let flags = rshm::OFlags::CREATE | rshm::OFlags::EXCL | rshm::OFlags::RDWR;
        let fd = rshm::open(name.as_str(), flags, Mode::from_raw_mode(mode)).map_err(|errno| {
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
        let gid = match permissions {
            Permissions::OwnerOnly => None,
            Permissions::Group { gid } => Some(gid),
        };
        let applied = rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).and_then(|()| match gid {
            Some(gid) => rustix::fs::fchown(&fd, None, Some(Gid::from_raw(gid))),
            None => Ok(()),
        });
        if let Err(errno) = applied {
            tracing::debug!(%name, %errno, "setting permissions failed; removing the object");
            // Do not leak the half-made object; a failure here leaves nothing we could fix.
            let _ = rshm::unlink(name.as_str());
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

    /// Opens an existing object.
    pub fn open(name: &ShmName, access: Access) -> Result<Self, ShmOpenError> {
        let flags = match access {
            Access::ReadWrite => rshm::OFlags::RDWR,
            Access::ReadOnly => rshm::OFlags::RDONLY,
        };
        let fd = rshm::open(name.as_str(), flags, Mode::empty()).map_err(|errno| {
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
        Ok(Self {
            fd,
            name: name.clone(),
            access,
        })
    }

    /// Sets the object's size in bytes (`ftruncate(2)`); new bytes read as zero.
    pub fn set_len(&self, len: u64) -> Result<(), ShmResizeError> {
        if self.access == Access::ReadOnly {
            return Err(ShmResizeError::ReadOnly {
                name: self.name.clone(),
            });
        }
        rustix::fs::ftruncate(&self.fd, len).map_err(|errno| {
            tracing::debug!(name = %self.name, len, %errno, "ftruncate failed");
            ShmResizeError::Os {
                name: self.name.clone(),
                len,
                errno,
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

/// Removes the object called `name` (`shm_unlink(3)`). Processes that have it open or
/// mapped keep using it; the memory is freed when the last of them lets go.
pub fn unlink(name: &ShmName) -> Result<(), ShmUnlinkError> {
    rshm::unlink(name.as_str()).map_err(|errno| {
        tracing::debug!(%name, %errno, "shm_unlink failed");
        match errno {
            Errno::NOENT => ShmUnlinkError::NotFound { name: name.clone() },
            Errno::ACCESS | Errno::PERM => ShmUnlinkError::PermissionDenied { name: name.clone() },
            errno => ShmUnlinkError::Os {
                name: name.clone(),
                errno,
            },
        }
    })?;
    tracing::debug!(%name, "removed shared-memory object");
    Ok(())
}

/// The names of all objects whose name (with its leading `/`) starts with `prefix`,
/// sorted. Entries of [`SHM_DIR`] that are not valid object names are skipped.
pub fn list(prefix: &str) -> Result<Vec<ShmName>, ShmListError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(SHM_DIR)? {
        let entry = entry?;
        let Some(file) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Ok(name) = ShmName::new(format!("/{file}"))
            && name.as_str().starts_with(prefix)
        {
            names.push(name);
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
        assert!(matches!(
            ShmName::new("/a/b"),
            Err(ShmNameError::InvalidCharacter {
                found: '/',
                at: 2,
                ..
            })
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
    fn permissions_modes() {
        assert_eq!(Permissions::default().mode(), 0o600);
        assert_eq!(Permissions::Group { gid: 5 }.mode(), 0o660);
    }
}
