//! Service names: validated, and mapped to operating-system object names through a hash.
//!
//! A name is 1 to 255 bytes of segments separated by `/`; a segment is non-empty and made
//! of ASCII letters, digits, `_`, `-` and `.` (`robot/camera/front`, `planner/plan.v2`).
//! One leading `/`, as ROS 2 topic names have (`/scan`), is accepted and dropped: `/scan`
//! and `scan` are the same service. Empty segments inside a name (`a//b`, `a/`) are errors.
//! The same name can host a publish-subscribe and a request-response service: the pattern
//! is part of the hash. The hash (FNV-1a 64) only names the objects; the full name is
//! stored in the service and compared on open, so a collision is an error, never a mix-up.

/// Longest service name, in bytes.
pub const MAX_SERVICE_NAME_LEN: usize = 255;

/// A validated service name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceName(String);

/// Why a service name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceNameError {
    /// The name is empty.
    #[error("service name is empty; use segments like \"robot/camera/front\"")]
    Empty,
    /// The name is too long.
    #[error("service name is {len} bytes long; the limit is {MAX_SERVICE_NAME_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A segment is empty (leading, trailing or double `/`).
    #[error(
        "service name {name:?} has an empty segment at byte {at}; remove the leading, trailing or double '/'"
    )]
    EmptySegment {
        /// The name.
        name: String,
        /// Byte offset of the empty segment.
        at: usize,
    },
    /// A character outside the allowed set.
    #[error(
        "service name {name:?} has {found:?} at byte {at}; use A-Z, a-z, 0-9, '_', '-', '.' and '/' between segments"
    )]
    InvalidCharacter {
        /// The name.
        name: String,
        /// The character.
        found: char,
        /// Its byte offset.
        at: usize,
    },
}

impl ServiceName {
    /// Validates `name`; one leading `/` is dropped (`"/scan"` is `"scan"`).
    pub fn new(name: impl Into<String>) -> Result<Self, ServiceNameError> {
        let mut name = name.into();
        if name.starts_with('/') && name.len() > 1 && !name[1..].starts_with('/') {
            name.remove(0);
        }
        if name.is_empty() {
            return Err(ServiceNameError::Empty);
        }
        if name.len() > MAX_SERVICE_NAME_LEN {
            return Err(ServiceNameError::TooLong { len: name.len() });
        }
        if let Some((at, found)) = name
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || "_-./".contains(c)))
        {
            return Err(ServiceNameError::InvalidCharacter { name, found, at });
        }
        let mut at = 0;
        for segment in name.split('/') {
            if segment.is_empty() {
                return Err(ServiceNameError::EmptySegment { name, at });
            }
            at += segment.len() + 1;
        }
        Ok(Self(name))
    }

    /// A name the caller built from valid parts (letters, digits and one `/`).
    pub(crate) fn from_checked(name: String) -> Self {
        debug_assert!(Self::new(name.clone()).is_ok(), "{name}");
        Self(name)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64-bit hash naming the service's objects for `pattern`.
    pub(crate) fn object_id(&self, pattern: u8) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in std::iter::once(pattern).chain(self.0.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }
}

impl std::fmt::Display for ServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for ServiceName {
    type Error = ServiceNameError;
    fn try_from(name: &str) -> Result<Self, Self::Error> {
        Self::new(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_names() {
        assert!(ServiceName::new("robot/camera/front").is_ok());
        assert!(ServiceName::new("a.b-c_d/e2").is_ok());
        assert_eq!(ServiceName::new(""), Err(ServiceNameError::Empty));
        assert!(matches!(
            ServiceName::new("x".repeat(256)),
            Err(ServiceNameError::TooLong { len: 256 })
        ));
        assert!(matches!(
            ServiceName::new("a//b"),
            Err(ServiceNameError::EmptySegment { at: 2, .. })
        ));
        // ROS 2 names: one leading slash is the same name.
        assert_eq!(
            ServiceName::new("/scan").unwrap(),
            ServiceName::new("scan").unwrap()
        );
        assert_eq!(
            ServiceName::new("/robot/scan").unwrap().as_str(),
            "robot/scan"
        );
        assert!(matches!(
            ServiceName::new("//a"),
            Err(ServiceNameError::EmptySegment { at: 0, .. })
        ));
        assert!(matches!(
            ServiceName::new("/"),
            Err(ServiceNameError::EmptySegment { at: 0, .. })
        ));
        assert!(matches!(
            ServiceName::new("a/"),
            Err(ServiceNameError::EmptySegment { .. })
        ));
        assert!(matches!(
            ServiceName::new("a b"),
            Err(ServiceNameError::InvalidCharacter {
                found: ' ',
                at: 1,
                ..
            })
        ));
        let name = ServiceName::new("x").unwrap();
        assert_ne!(name.object_id(1), name.object_id(2));
    }
}
