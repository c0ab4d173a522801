//! What travels on Zenoh: the per-sample header (the attachment) and a service's
//! announcement (the reply of its descriptor queryable). Both are little-endian, versioned,
//! and decoded with every length checked: the other side may be buggy or hostile.
//!
//! ## Sample attachment (32 bytes)
//!
//! | bytes | field |
//! |-------|-------|
//! | 0..4  | magic `SHZ1` |
//! | 4..8  | flags (`u32`, 0; reserved) |
//! | 8..16 | the publisher's sequence number (`u64`) |
//! | 16..24 | the publisher's timestamp in ns of its `CLOCK_MONOTONIC`, 0 if it does not stamp (`u64`) |
//! | 24..32 | the message type's layout hash (`u64`) |
//!
//! The payload is the message's bytes in the fixed layout, exactly the type's size.
//!
//! ## Announcement
//!
//! | bytes | field |
//! |-------|-------|
//! | 0..4  | magic `SHZA` |
//! | 4..8  | version (`u32`, 1) |
//! | 8..12 | history (`u32`) |
//! | 12..16 | subscriber buffer (`u32`) |
//! | 16..20 | overflow policy: 0 overwrite oldest, 1 block, 2 discard, 3 error (`u32`) |
//! | 20..24 | n, the length of the descriptor (`u32`) |
//! | 24..24+n | the message type: `shmbus::Descriptor::encode` |

use shmbus::Descriptor;
use shmbus::service::OverflowPolicy;

const SAMPLE_MAGIC: &[u8; 4] = b"SHZ1";
const ANNOUNCE_MAGIC: &[u8; 4] = b"SHZA";
const ANNOUNCE_VERSION: u32 = 1;
/// Bytes of a sample header.
pub const HEADER_LEN: usize = 32;
/// The largest announcement accepted (a descriptor of 1,000 fields nested 10 deep is far
/// below it).
pub const ANNOUNCE_MAX: usize = 16 << 20;

/// Why bytes from the network were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not the expected length.
    #[error("{what} of {len} bytes; expected {expected}")]
    Length {
        /// What was read.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length expected.
        expected: usize,
    },
    /// The magic or version is not ours.
    #[error(
        "{what} does not start with shmbus's magic and version: not from a shmbus bridge, or of another version"
    )]
    Foreign {
        /// What was read.
        what: &'static str,
    },
    /// A field has a value outside its range.
    #[error("{what}: {problem}")]
    Invalid {
        /// What was read.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The per-sample header carried in the attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleHeader {
    /// The publisher's sequence number.
    pub sequence: u64,
    /// The publisher's timestamp (ns, its `CLOCK_MONOTONIC`); 0 if it does not stamp.
    pub timestamp_ns: u64,
    /// The message type's layout hash.
    pub layout_hash: u64,
}

impl SampleHeader {
    /// Its 32 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(SAMPLE_MAGIC);
        out[8..16].copy_from_slice(&self.sequence.to_le_bytes());
        out[16..24].copy_from_slice(&self.timestamp_ns.to_le_bytes());
        out[24..32].copy_from_slice(&self.layout_hash.to_le_bytes());
        out
    }

    /// Reads a header.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let what = "a sample header";
        if bytes.len() != HEADER_LEN {
            return Err(WireError::Length {
                what,
                len: bytes.len(),
                expected: HEADER_LEN,
            });
        }
        if &bytes[0..4] != SAMPLE_MAGIC {
            return Err(WireError::Foreign { what });
        }
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(w)
        };
        Ok(Self {
            sequence: word(8),
            timestamp_ns: word(16),
            layout_hash: word(24),
        })
    }
}

/// What an exporting bridge says about a publish-subscribe service.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    /// The message type.
    pub message: Descriptor,
    /// History for late joiners.
    pub history: u32,
    /// Subscriber buffer.
    pub subscriber_buffer: u32,
    /// Overflow policy.
    pub overflow: OverflowPolicy,
}

impl Announcement {
    /// Its bytes.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let descriptor = self.message.encode().map_err(|e| WireError::Invalid {
            what: "the message type",
            problem: e.to_string(),
        })?;
        let overflow = self.overflow.code() as u32;
        let len = u32::try_from(descriptor.len()).map_err(|_| WireError::Invalid {
            what: "the message type",
            problem: "its encoding exceeds 4 GiB".into(),
        })?;
        let mut out = Vec::with_capacity(24 + descriptor.len());
        out.extend_from_slice(ANNOUNCE_MAGIC);
        for word in [
            ANNOUNCE_VERSION,
            self.history,
            self.subscriber_buffer,
            overflow,
            len,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&descriptor);
        Ok(out)
    }

    /// Reads an announcement.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let what = "a service announcement";
        if bytes.len() < 24 || bytes.len() > ANNOUNCE_MAX {
            return Err(WireError::Length {
                what,
                len: bytes.len(),
                expected: 24,
            });
        }
        let word = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[at..at + 4]);
            u32::from_le_bytes(w)
        };
        if &bytes[0..4] != ANNOUNCE_MAGIC || word(4) != ANNOUNCE_VERSION {
            return Err(WireError::Foreign { what });
        }
        let overflow =
            OverflowPolicy::from_code(u64::from(word(16))).ok_or_else(|| WireError::Invalid {
                what,
                problem: format!("overflow policy {} is unknown", word(16)),
            })?;
        let len = word(20) as usize;
        if bytes.len() != 24 + len {
            return Err(WireError::Length {
                what,
                len: bytes.len(),
                expected: 24 + len,
            });
        }
        let message = Descriptor::decode(&bytes[24..]).map_err(|e| WireError::Invalid {
            what: "the announced message type",
            problem: e.to_string(),
        })?;
        Ok(Self {
            message,
            history: word(8),
            subscriber_buffer: word(12),
            overflow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_foreign_bytes_are_refused() {
        let header = SampleHeader {
            sequence: 7,
            timestamp_ns: 123,
            layout_hash: 0xdead_beef,
        };
        assert_eq!(SampleHeader::decode(&header.encode()), Ok(header));
        assert!(matches!(
            SampleHeader::decode(&[0; 31]),
            Err(WireError::Length { .. })
        ));
        assert!(matches!(
            SampleHeader::decode(&[0; 32]),
            Err(WireError::Foreign { .. })
        ));
    }

    #[test]
    fn announcements_round_trip_and_damage_is_refused() {
        let announcement = Announcement {
            message: Descriptor::from_static(<u64 as shmbus::ShmMessage>::DESCRIPTOR),
            history: 1,
            subscriber_buffer: 8,
            overflow: OverflowPolicy::Block,
        };
        let bytes = announcement.encode().unwrap();
        assert_eq!(Announcement::decode(&bytes), Ok(announcement));
        for cut in 0..bytes.len() {
            assert!(Announcement::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[16] = 9;
        assert!(Announcement::decode(&flipped).is_err());
        let mut longer = bytes;
        longer.push(0);
        assert!(Announcement::decode(&longer).is_err());
    }
}
