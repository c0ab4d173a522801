//! Where a domain's shared-memory objects and files live.
//!
//! Everything of one domain sits under one prefix: shared-memory objects are named
//! `/<prefix>.<domain>.<kind>.<id>` (POSIX shared memory is one flat folder, `/dev/shm` on
//! Linux) and files live in `<runtime dir>/<domain>/`. Two domains never see each other, so
//! independent systems (and parallel tests) cannot collide, and a container needs only
//! `/dev/shm` and the runtime folder mounted.
//!
//! Defaults work for an unprivileged user: prefix `shmbus`, domain `default`, runtime folder
//! `$XDG_RUNTIME_DIR/shmbus` or else `/tmp/shmbus-<uid>`. Environment overrides:
//! `SHMBUS_DOMAIN` (the domain), `SHMBUS_ROOT` (the runtime folder) and `SHMBUS_GROUP` (a
//! numeric gid: share the domain with that group, see [`Config::with_permissions`]).

use std::path::{Path, PathBuf};

use crate::os::shm::{self, Permissions, ShmListError, ShmName};

/// Longest domain name, in bytes.
pub const MAX_DOMAIN_LEN: usize = 64;

/// Configuration shared by every node of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    prefix: String,
    domain: String,
    runtime_dir: PathBuf,
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
    /// The defaults, with `SHMBUS_DOMAIN` and `SHMBUS_ROOT` applied when set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Ok(domain) = std::env::var("SHMBUS_DOMAIN") {
            config = config.with_domain(domain)?;
        }
        if let Some(root) = std::env::var_os("SHMBUS_ROOT") {
            config = config.with_runtime_dir(root)?;
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

    /// This configuration with another shared-memory name prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Result<Self, ConfigError> {
        let prefix = prefix.into();
        check_name("prefix", &prefix)?;
        self.prefix = prefix;
        Ok(self)
    }

    /// This configuration with another runtime folder (absolute).
    pub fn with_runtime_dir(mut self, dir: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let dir = dir.into();
        if !dir.is_absolute() {
            return Err(ConfigError::RelativeRuntimeDir(dir));
        }
        self.runtime_dir = dir;
        Ok(self)
    }

    /// This configuration with other permissions for everything the domain creates: its
    /// folders, lock files, node tokens and (unless a service builder says otherwise) its
    /// shared-memory objects. [`Permissions::Group`] lets the processes of several users in
    /// one group talk (they must share the runtime folder, e.g. through `SHMBUS_ROOT`);
    /// nothing is ever world-accessible.
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
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The runtime folder shared by all domains.
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// The folder of this domain's files.
    pub fn domain_dir(&self) -> PathBuf {
        self.runtime_dir.join(&self.domain)
    }

    /// The prefix every shared-memory object of this domain starts with (no leading `/`).
    pub fn shm_prefix(&self) -> String {
        format!("{}.{}.", self.prefix, self.domain)
    }

    /// The shared-memory objects of this domain that exist now (service objects and data
    /// segments), sorted: what tools list and tests check is gone.
    pub fn objects(&self) -> Result<Vec<ShmName>, ShmListError> {
        shm::list(&format!("/{}", self.shm_prefix()))
    }
}

impl Default for Config {
    fn default() -> Self {
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.is_dir())
            .map(|p| p.join("shmbus"))
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/shmbus-{}", crate::os::process::uid())));
        Self {
            prefix: "shmbus".to_owned(),
            domain: "default".to_owned(),
            runtime_dir,
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
        assert_eq!(c.shm_prefix(), "shmbus.d1.");
        assert_eq!(c.domain_dir(), Path::new("/run/x/d1"));
    }
}
