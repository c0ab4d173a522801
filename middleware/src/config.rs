//! Where a domain's shared-memory objects and files live, and who may use them.
//!
//! Everything of one domain sits under one prefix: shared-memory objects are named
//! `/<prefix>.<domain>.<kind>.<id>` (POSIX shared memory is one flat folder, `/dev/shm` on
//! Linux) and files live in `<runtime folder>/<domain>/`. Two domains never see each other,
//! so independent systems (and parallel tests) cannot collide, and a container needs only
//! `/dev/shm` and the runtime folder mounted.
//!
//! Users never share a namespace by accident: the defaults are per user. With the default
//! owner-only permissions the prefix is `shmbus-<uid>` and the runtime folder
//! `$XDG_RUNTIME_DIR/shmbus` (when that folder is the user's own) or else
//! `/tmp/shmbus-<uid>`; so two users' `default` domains never meet, and one user's leftovers
//! are never in another's way. A domain shared with a group ([`Config::with_permissions`])
//! lives under names derived from the group — prefix `shmbus-g<gid>`, runtime folder
//! `/tmp/shmbus-g<gid>` — where the group's members meet on purpose. Every folder, file and
//! object is checked to be ours before use (see [`crate::os::trust`]).
//!
//! Environment overrides: `SHMBUS_DOMAIN` (the domain), `SHMBUS_ROOT` (the runtime folder),
//! `SHMBUS_PREFIX` (the object name prefix) and `SHMBUS_GROUP` (a numeric gid: share the
//! domain with that group).

use std::path::{Path, PathBuf};

use crate::os::dir::{Folder, FolderError};
use crate::os::shm::{self, ShmListError, ShmName};
use crate::os::trust::Permissions;

/// Longest domain name, in bytes.
pub const MAX_DOMAIN_LEN: usize = 64;

/// Configuration shared by every node of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// An explicit prefix; `None`: the default for the permissions.
    prefix: Option<String>,
    domain: String,
    /// An explicit runtime folder; `None`: the default for the permissions.
    runtime_dir: Option<PathBuf>,
    permissions: Permissions,
}

/// An invalid [`Config`] value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The domain or prefix is empty, too long or holds a character outside `[A-Za-z0-9_-]`.
    #[error(
        "invalid {what} {value:?}: use 1 to {MAX_DOMAIN_LEN} characters from A-Z, a-z, 0-9, '_' and '-'"
    )]
    InvalidName {
        /// `"domain"` or `"prefix"`.
        what: &'static str,
        /// The rejected value.
        value: String,
    },
    /// `SHMBUS_GROUP` is not a numeric group id.
    #[error("SHMBUS_GROUP={0:?} is not a numeric group id; set it to a gid such as 1001")]
    InvalidGroup(String),
    /// The runtime folder is not an absolute path.
    #[error("the runtime folder {0:?} must be an absolute path")]
    RelativeRuntimeDir(PathBuf),
}

fn check_name(what: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_DOMAIN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidName {
            what,
            value: value.to_owned(),
        })
    }
}

impl Config {
    /// The defaults, with `SHMBUS_DOMAIN`, `SHMBUS_ROOT`, `SHMBUS_PREFIX` and `SHMBUS_GROUP`
    /// applied when set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Ok(domain) = std::env::var("SHMBUS_DOMAIN") {
            config = config.with_domain(domain)?;
        }
        if let Some(root) = std::env::var_os("SHMBUS_ROOT") {
            config = config.with_runtime_dir(root)?;
        }
        if let Ok(prefix) = std::env::var("SHMBUS_PREFIX") {
            config = config.with_prefix(prefix)?;
        }
        if let Ok(group) = std::env::var("SHMBUS_GROUP") {
            let gid = group
                .parse()
                .map_err(|_| ConfigError::InvalidGroup(group.clone()))?;
            config = config.with_permissions(Permissions::Group { gid });
        }
        Ok(config)
    }

    /// This configuration with another domain.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Result<Self, ConfigError> {
        let domain = domain.into();
        check_name("domain", &domain)?;
        self.domain = domain;
        Ok(self)
    }

    /// This configuration with another shared-memory name prefix (instead of the default
    /// `shmbus-<uid>`, or `shmbus-g<gid>` in group mode).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Result<Self, ConfigError> {
        let prefix = prefix.into();
        check_name("prefix", &prefix)?;
        self.prefix = Some(prefix);
        Ok(self)
    }

    /// This configuration with another runtime folder (absolute).
    pub fn with_runtime_dir(mut self, dir: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let dir = dir.into();
        if !dir.is_absolute() {
            return Err(ConfigError::RelativeRuntimeDir(dir));
        }
        self.runtime_dir = Some(dir);
        Ok(self)
    }

    /// This configuration with other permissions for everything the domain creates: its
    /// folders, lock files, node tokens and (unless a service builder says otherwise) its
    /// shared-memory objects; and for everything it opens, which must match them (see
    /// [`crate::os::trust`]). [`Permissions::Group`] lets the processes of several users in
    /// one group talk; unless set explicitly, the prefix and runtime folder then derive
    /// from the group, so that the members meet. Nothing is ever world-accessible.
    pub fn with_permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// Who may use the domain's files and objects.
    pub fn permissions(&self) -> Permissions {
        self.permissions
    }

    /// The domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The prefix of shared-memory object names.
    pub fn prefix(&self) -> String {
        match (&self.prefix, self.permissions) {
            (Some(prefix), _) => prefix.clone(),
            (None, Permissions::OwnerOnly) => format!("shmbus-{}", crate::os::process::euid()),
            (None, Permissions::Group { gid }) => format!("shmbus-g{gid}"),
        }
    }

    /// The runtime folder shared by all domains of this user (or group).
    pub fn runtime_dir(&self) -> PathBuf {
        match (&self.runtime_dir, self.permissions) {
            (Some(dir), _) => dir.clone(),
            (None, Permissions::OwnerOnly) => xdg_runtime_dir()
                .map(|dir| dir.join("shmbus"))
                .unwrap_or_else(|| {
                    PathBuf::from(format!("/tmp/shmbus-{}", crate::os::process::euid()))
                }),
            (None, Permissions::Group { gid }) => PathBuf::from(format!("/tmp/shmbus-g{gid}")),
        }
    }

    /// The folder of this domain's files (a path for messages and tools; the runtime opens
    /// it checked, with [`Config::open_domain_folder`]).
    pub fn domain_dir(&self) -> PathBuf {
        self.runtime_dir().join(&self.domain)
    }

    /// Opens this domain's folder, making it and the runtime folder first if needed, each
    /// checked to be ours.
    pub fn open_domain_folder(&self) -> Result<Folder, FolderError> {
        retry_races(|| {
            Folder::open_or_create_path(&self.runtime_dir(), self.permissions)?
                .open_or_create(&self.domain)
        })
    }

    /// Opens this domain's folder if it exists, checked; `Ok(None)` if it does not.
    pub fn find_domain_folder(&self) -> Result<Option<Folder>, FolderError> {
        retry_races(
            || match Folder::open_path(&self.runtime_dir(), self.permissions)? {
                Some(runtime) => runtime.open(&self.domain),
                None => Ok(None),
            },
        )
    }

    /// The prefix every shared-memory object of this domain starts with (no leading `/`):
    /// `<prefix>.<domain>.`, or for a group domain `<prefix>/<domain>.` — its objects live in
    /// the group's folder of `/dev/shm` (see [`crate::os::shm`]).
    pub fn shm_prefix(&self) -> String {
        match self.permissions {
            Permissions::OwnerOnly => format!("{}.{}.", self.prefix(), self.domain),
            Permissions::Group { .. } => format!("{}/{}.", self.prefix(), self.domain),
        }
    }

    /// The shared-memory objects of this domain that exist now and are ours (service
    /// objects and data segments), sorted: what tools list and tests check is gone.
    pub fn objects(&self) -> Result<Vec<ShmName>, ShmListError> {
        shm::list(&format!("/{}", self.shm_prefix()), self.permissions)
    }
}

/// Runs `open` again while a folder vanishes under it (the last process of a domain removes
/// the empty folders as it leaves); every round means another process made progress.
pub(crate) fn retry_races<T>(
    mut open: impl FnMut() -> Result<T, FolderError>,
) -> Result<T, FolderError> {
    let mut attempts = 0;
    loop {
        match open() {
            Err(e) if e.is_race() && attempts < 100 => attempts += 1,
            other => return other,
        }
    }
}

/// `$XDG_RUNTIME_DIR`, if it is an absolute path to a folder of this user (a folder of
/// another user, as after `sudo`, is not taken: our runtime folder would sit in it).
fn xdg_runtime_dir() -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    let meta = Path::new(&dir).symlink_metadata().ok()?;
    (dir.is_absolute() && meta.is_dir() && meta.uid() == crate::os::process::euid()).then_some(dir)
}

impl Default for Config {
    fn default() -> Self {
        Self {
            prefix: None,
            domain: "default".to_owned(),
            runtime_dir: None,
            permissions: Permissions::OwnerOnly,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let config = Config::default();
        assert!(config.clone().with_domain("test_1-a").is_ok());
        for bad in ["", "a.b", "a/b", "x y", &"d".repeat(65)] {
            let err = config.clone().with_domain(bad).unwrap_err();
            assert!(err.to_string().contains("invalid domain"), "{err}");
        }
        assert!(config.clone().with_prefix("a.b").is_err());
        assert!(config.clone().with_runtime_dir("relative").is_err());
        let c = config
            .with_domain("d1")
            .unwrap()
            .with_runtime_dir("/run/x")
            .unwrap();
        let uid = crate::os::process::euid();
        assert_eq!(c.shm_prefix(), format!("shmbus-{uid}.d1."));
        assert_eq!(c.domain_dir(), Path::new("/run/x/d1"));
    }

    #[test]
    fn defaults_are_per_user_and_per_group() {
        let uid = crate::os::process::euid();
        let mine = Config::default();
        assert_eq!(mine.prefix(), format!("shmbus-{uid}"));
        let root = mine.runtime_dir();
        assert!(
            root == Path::new(&format!("/tmp/shmbus-{uid}")) || root.ends_with("shmbus"),
            "{}",
            root.display()
        );
        let group = Config::default().with_permissions(Permissions::Group { gid: 4242 });
        assert_eq!(group.prefix(), "shmbus-g4242");
        assert_eq!(group.shm_prefix(), "shmbus-g4242/default.");
        assert_eq!(group.runtime_dir(), Path::new("/tmp/shmbus-g4242"));
        // Explicit values win over the derived ones.
        let explicit = group
            .with_prefix("team")
            .unwrap()
            .with_runtime_dir("/srv/team")
            .unwrap();
        assert_eq!(explicit.shm_prefix(), "team/default.");
        assert_eq!(explicit.runtime_dir(), Path::new("/srv/team"));
    }
}
