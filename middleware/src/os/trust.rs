//! Whether an opened file, folder or shared-memory object is ours to use.
//!
//! The one rule: a thing is ours only after `fstat(2)` on the **opened descriptor** says
//! so — never its path, which another user may swap between a check and a use. A domain
//! belongs to one user ([`Permissions::OwnerOnly`], the default) or to one group
//! ([`Permissions::Group`], opted in):
//!
//! | permissions | owner | group | mode |
//! |-------------|-------|-------|------|
//! | owner-only  | our effective uid | any | no bit for group or others (`0600`, folders `0700`) |
//! | group `g`   | any member | `g` | no bit for others (`0660`, folders `02770`) |
//!
//! and the kind must be the expected one (a folder, or a regular file: shared-memory
//! objects are regular files of `/dev/shm`). Anything else was made by someone else, or
//! was opened up to others since, and is refused: joining it would let its owner read,
//! feed or corrupt what flows through it. The callers open with `O_NOFOLLOW`, so a
//! symbolic link planted under one of our names is refused before this check.

use std::fmt;
use std::os::fd::BorrowedFd;

use rustix::fs::{FileType, Stat};
use rustix::io::Errno;

/// Who may use a domain's folders, files and shared-memory objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Permissions {
    /// Only the effective user: files and objects `0600`, folders `0700` (the default).
    #[default]
    OwnerOnly,
    /// The members of group `gid`: files and objects `0660` and group `gid`, folders
    /// `02770` (new files inherit the group).
    Group {
        /// The group that may read and write.
        gid: u32,
    },
}

impl Permissions {
    /// The mode of the files and shared-memory objects these permissions give.
    pub fn mode(self) -> u32 {
        match self {
            Self::OwnerOnly => 0o600,
            Self::Group { .. } => 0o660,
        }
    }

    /// The mode of the folders these permissions give.
    pub fn dir_mode(self) -> u32 {
        match self {
            Self::OwnerOnly => 0o700,
            Self::Group { .. } => 0o2770,
        }
    }

    /// The group files must belong to, in group mode.
    pub fn gid(self) -> Option<u32> {
        match self {
            Self::OwnerOnly => None,
            Self::Group { gid } => Some(gid),
        }
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OwnerOnly => write!(
                f,
                "owned by uid {}, no access for group or others",
                crate::os::process::euid()
            ),
            Self::Group { gid } => write!(f, "group {gid}, no access for others"),
        }
    }
}

/// The kind of file a check expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A folder.
    Folder,
    /// A regular file (lock files, node tokens, shared-memory objects).
    File,
}

impl Kind {
    fn matches(self, file_type: FileType) -> bool {
        match self {
            Self::Folder => file_type == FileType::Directory,
            Self::File => file_type == FileType::RegularFile,
        }
    }
}

/// What `fstat` said about an opened file: enough to tell whose it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// Its permission bits (with set-uid, set-gid and sticky).
    pub mode: u32,
    /// Whether it is a folder, a regular file or something else.
    pub file_type: FileType,
}

impl Ownership {
    /// The ownership `stat` describes.
    pub fn of(stat: &Stat) -> Self {
        Self {
            uid: stat.st_uid,
            gid: stat.st_gid,
            mode: stat.st_mode & 0o7777,
            file_type: FileType::from_raw_mode(stat.st_mode),
        }
    }
}

impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.file_type {
            FileType::Directory => "folder",
            FileType::RegularFile => "file",
            FileType::Symlink => "symbolic link",
            _ => "special file",
        };
        write!(f, "a {kind} owned by uid {}", self.uid)?;
        if let Some(name) = account_name(self.uid) {
            write!(f, " ({name})")?;
        }
        write!(f, ", group {}, mode {:04o}", self.gid, self.mode)
    }
}

/// Why an opened file is not ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It is not the kind of file expected (a folder where a file goes, a device, ...).
    WrongKind,
    /// Owner-only mode, and another user owns it.
    OtherOwner,
    /// Group mode, and it belongs to another group.
    OtherGroup,
    /// Owner-only mode, and its group has access.
    OpenToGroup,
    /// Others (the world) have access.
    OpenToOthers,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WrongKind => "it is not the kind of file shmbus makes there",
            Self::OtherOwner => "it belongs to another user",
            Self::OtherGroup => "it belongs to another group than the domain's",
            Self::OpenToGroup => "its group may use it, but the domain is owner-only",
            Self::OpenToOthers => "every user on this machine may use it",
        })
    }
}

/// An opened file that is not ours, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("it is {found}, but {reason}; shmbus expects {expected}")]
pub struct Untrusted {
    /// What `fstat` found.
    pub found: Ownership,
    /// What the domain's permissions require.
    pub expected: Permissions,
    /// The first rule it breaks.
    pub reason: Reason,
}

/// Failure of [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// `fstat(2)` failed.
    #[error("fstat failed: {0}")]
    Stat(Errno),
    /// The file is not ours.
    #[error(transparent)]
    Untrusted(#[from] Untrusted),
}

/// Checks that the file behind `fd` is of `kind` and ours under `expected` (see the module
/// docs); returns what `fstat` found.
pub fn check(
    fd: BorrowedFd<'_>,
    kind: Kind,
    expected: Permissions,
) -> Result<Ownership, TrustError> {
    let stat = rustix::fs::fstat(fd).map_err(TrustError::Stat)?;
    let found = Ownership::of(&stat);
    judge(found, kind, expected).map_err(TrustError::Untrusted)?;
    Ok(found)
}

/// The rules of the module docs, applied to what a `stat` found.
pub fn judge(found: Ownership, kind: Kind, expected: Permissions) -> Result<(), Untrusted> {
    let refuse = |reason| {
        tracing::debug!(
            ?found,
            ?expected,
            ?reason,
            "refused a file that is not ours"
        );
        Err(Untrusted {
            found,
            expected,
            reason,
        })
    };
    if !kind.matches(found.file_type) {
        return refuse(Reason::WrongKind);
    }
    match expected {
        Permissions::OwnerOnly => {
            if found.uid != crate::os::process::euid() {
                return refuse(Reason::OtherOwner);
            }
            if found.mode & 0o007 != 0 {
                return refuse(Reason::OpenToOthers);
            }
            if found.mode & 0o070 != 0 {
                return refuse(Reason::OpenToGroup);
            }
        }
        Permissions::Group { gid } => {
            if found.gid != gid {
                return refuse(Reason::OtherGroup);
            }
            if found.mode & 0o007 != 0 {
                return refuse(Reason::OpenToOthers);
            }
        }
    }
    Ok(())
}

/// The account name of `uid` from `/etc/passwd`, for messages (`None` if unknown).
pub fn account_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(uid: u32, gid: u32, mode: u32, file_type: FileType) -> Ownership {
        Ownership {
            uid,
            gid,
            mode,
            file_type,
        }
    }

    #[test]
    fn owner_only_needs_our_uid_and_no_other_bits() {
        let me = crate::os::process::euid();
        let other = me.wrapping_add(1);
        let file = Kind::File;
        let ok = |o| judge(o, file, Permissions::OwnerOnly).map_err(|e| e.reason);
        assert_eq!(ok(owned(me, 5, 0o600, FileType::RegularFile)), Ok(()));
        assert_eq!(
            ok(owned(other, 5, 0o600, FileType::RegularFile)),
            Err(Reason::OtherOwner)
        );
        assert_eq!(
            ok(owned(me, 5, 0o666, FileType::RegularFile)),
            Err(Reason::OpenToOthers)
        );
        assert_eq!(
            ok(owned(me, 5, 0o660, FileType::RegularFile)),
            Err(Reason::OpenToGroup)
        );
        assert_eq!(
            ok(owned(me, 5, 0o600, FileType::Directory)),
            Err(Reason::WrongKind)
        );
        assert_eq!(
            judge(
                owned(me, 5, 0o700, FileType::Symlink),
                Kind::Folder,
                Permissions::OwnerOnly
            )
            .map_err(|e| e.reason),
            Err(Reason::WrongKind)
        );
    }

    #[test]
    fn group_mode_needs_the_group_and_nothing_for_others() {
        let group = Permissions::Group { gid: 77 };
        let ok = |o| judge(o, Kind::Folder, group).map_err(|e| e.reason);
        assert_eq!(ok(owned(1234, 77, 0o2770, FileType::Directory)), Ok(()));
        assert_eq!(
            ok(owned(1234, 78, 0o2770, FileType::Directory)),
            Err(Reason::OtherGroup)
        );
        assert_eq!(
            ok(owned(1234, 77, 0o2777, FileType::Directory)),
            Err(Reason::OpenToOthers)
        );
    }

    #[test]
    fn the_message_says_whose_it_is_and_what_is_expected() {
        let found = owned(0, 0, 0o777, FileType::Directory);
        let error = judge(found, Kind::Folder, Permissions::Group { gid: 4242 }).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("a folder owned by uid 0"), "{text}");
        assert!(text.contains("mode 0777"), "{text}");
        assert!(text.contains("another group"), "{text}");
        assert!(text.contains("group 4242, no access for others"), "{text}");
        assert_eq!(account_name(0).as_deref(), Some("root"));
    }

    #[test]
    fn modes_follow_the_permissions() {
        assert_eq!(Permissions::default().mode(), 0o600);
        assert_eq!(Permissions::OwnerOnly.dir_mode(), 0o700);
        assert_eq!(Permissions::Group { gid: 5 }.mode(), 0o660);
        assert_eq!(Permissions::Group { gid: 5 }.dir_mode(), 0o2770);
    }
}
