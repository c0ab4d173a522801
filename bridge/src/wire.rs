//! What travels on Zenoh: the per-sample header (the attachment) and a service's
//! announcement (the reply of its descriptor queryable). Both are little-endian, versioned,
//! and decoded with every length checked: the other side may be buggy or hostile.
//!
//! ## Sample attachment (32 bytes)
//!
//! | bytes | field |
//! |-------|-------|
//! | 0..4  | magic `SHZ1` |
//! | 4..8  | flags (`u32`): 1 on the reply that ends a response stream, 2 on a one-way request, else 0 |
//! | 8..16 | the publisher's sequence number (`u64`); for requests and replies, the request's id |
//! | 16..24 | the publisher's timestamp in ns of its `CLOCK_MONOTONIC`, 0 if it does not stamp (`u64`) |
//! | 24..32 | the message type's layout hash (`u64`) |
//!
//! The payload is the message's bytes in the fixed layout, exactly the type's size.
//!
//! ## Announcement
//!
//! See [`Announcement::encode`]: the pattern, the byte order, the QoS that an importer
//! copies and the types as `shmbus::Descriptor::encode` bytes.

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

/// Flag of a reply's header: the server ended the response stream (the reply carries no
/// message).
pub const FLAG_END: u32 = 1;
/// Flag of a request's header: sent one-way, no response expected.
pub const FLAG_ONEWAY: u32 = 2;

/// The per-sample header carried in the attachment (also of requests and replies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleHeader {
    /// [`FLAG_END`] or 0.
    pub flags: u32,
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
        out[4..8].copy_from_slice(&self.flags.to_le_bytes());
        out[8..16].copy_from_slice(&self.sequence.to_le_bytes());
        out[16..24].copy_from_slice(&self.timestamp_ns.to_le_bytes());
        out[24..32].copy_from_slice(&self.layout_hash.to_le_bytes());
        out
    }

    /// Reads the header from a Zenoh sample's, query's or reply's attachment (`None`:
    /// there was none).
    pub fn of(attachment: Option<&zenoh::bytes::ZBytes>) -> Result<Self, WireError> {
        match attachment {
            Some(bytes) => Self::decode(&bytes.to_bytes()),
            None => Err(WireError::Length {
                what: "a sample header",
                len: 0,
                expected: HEADER_LEN,
            }),
        }
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
        let mut flags = [0u8; 4];
        flags.copy_from_slice(&bytes[4..8]);
        Ok(Self {
            flags: u32::from_le_bytes(flags),
            sequence: word(8),
            timestamp_ns: word(16),
            layout_hash: word(24),
        })
    }
}

/// What an exporting bridge says about a service: its types and the QoS that matters to
/// an importer.
#[derive(Debug, Clone, PartialEq)]
pub enum Announcement {
    /// A publish-subscribe service.
    PublishSubscribe {
        /// The message type.
        message: Descriptor,
        /// History for late joiners.
        history: u32,
        /// Subscriber buffer.
        subscriber_buffer: u32,
        /// Overflow policy.
        overflow: OverflowPolicy,
    },
    /// A request-response service.
    RequestResponse {
        /// The request type.
        request: Descriptor,
        /// The response type.
        response: Descriptor,
        /// Responses a client's buffer holds.
        response_buffer: u32,
    },
}

/// This host's byte order as announced: 1 little-endian, 2 big-endian.
const BYTE_ORDER: u32 = if cfg!(target_endian = "little") { 1 } else { 2 };

impl Announcement {
    /// Its bytes: magic `SHZA`, then `u32` words (version 1, pattern 0 publish-subscribe
    /// or 1 request-response, byte order 1 little / 2 big, three QoS words, the number of
    /// types), then each type as its length (`u32`) and its `Descriptor::encode` bytes.
    /// QoS words: history, subscriber buffer, overflow policy code; or response buffer,
    /// 0, 0.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let (pattern, qos, types) = match self {
            Self::PublishSubscribe {
                message,
                history,
                subscriber_buffer,
                overflow,
            } => (
                0,
                [*history, *subscriber_buffer, overflow.code() as u32],
                vec![message],
            ),
            Self::RequestResponse {
                request,
                response,
                response_buffer,
            } => (1, [*response_buffer, 0, 0], vec![request, response]),
        };
        let mut out = Vec::new();
        out.extend_from_slice(ANNOUNCE_MAGIC);
        let words = [
            ANNOUNCE_VERSION,
            pattern,
            BYTE_ORDER,
            qos[0],
            qos[1],
            qos[2],
        ];
        for word in words.into_iter().chain([types.len() as u32]) {
            out.extend_from_slice(&word.to_le_bytes());
        }
        for t in types {
            let bytes = t.encode().map_err(|e| WireError::Invalid {
                what: "a type",
                problem: e.to_string(),
            })?;
            let len = u32::try_from(bytes.len()).map_err(|_| WireError::Invalid {
                what: "a type",
                problem: "its encoding exceeds 4 GiB".into(),
            })?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    /// Reads an announcement; one from a host of the other byte order is refused (its
    /// messages' bytes would be read wrongly).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let what = "a service announcement";
        if bytes.len() > ANNOUNCE_MAX {
            return Err(WireError::Length {
                what,
                len: bytes.len(),
                expected: ANNOUNCE_MAX,
            });
        }
        let mut at = 0;
        let mut take = |n: usize| -> Result<&[u8], WireError> {
            let end = at + n;
            let slice = bytes.get(at..end).ok_or(WireError::Length {
                what,
                len: bytes.len(),
                expected: end,
            })?;
            at = end;
            Ok(slice)
        };
        if take(4)? != ANNOUNCE_MAGIC {
            return Err(WireError::Foreign { what });
        }
        let mut words = [0u32; 7];
        for w in &mut words {
            let mut b = [0u8; 4];
            b.copy_from_slice(take(4)?);
            *w = u32::from_le_bytes(b);
        }
        let [version, pattern, order, q0, q1, q2, count] = words;
        if version != ANNOUNCE_VERSION {
            return Err(WireError::Foreign { what });
        }
        if order != BYTE_ORDER {
            return Err(WireError::Invalid {
                what,
                problem: "the exporting host has the other byte order; shmbus carries the fixed layout as it is, and does not convert".into(),
            });
        }
        let expected = if pattern == 1 { 2 } else { 1 };
        if pattern > 1 || count != expected {
            return Err(WireError::Invalid {
                what,
                problem: format!("pattern {pattern} with {count} types"),
            });
        }
        let mut types = Vec::with_capacity(2);
        for _ in 0..count {
            let mut b = [0u8; 4];
            b.copy_from_slice(take(4)?);
            let len = u32::from_le_bytes(b) as usize;
            let descriptor = Descriptor::decode(take(len)?).map_err(|e| WireError::Invalid {
                what: "an announced type",
                problem: e.to_string(),
            })?;
            types.push(descriptor);
        }
        if at != bytes.len() {
            return Err(WireError::Length {
                what,
                len: bytes.len(),
                expected: at,
            });
        }
        let mut types = types.into_iter();
        let mut next = || types.next().ok_or(WireError::Foreign { what });
        Ok(if pattern == 0 {
            Self::PublishSubscribe {
                message: next()?,
                history: q0,
                subscriber_buffer: q1,
                overflow: OverflowPolicy::from_code(u64::from(q2)).ok_or_else(|| {
                    WireError::Invalid {
                        what,
                        problem: format!("overflow policy {q2} is unknown"),
                    }
                })?,
            }
        } else {
            Self::RequestResponse {
                request: next()?,
                response: next()?,
                response_buffer: q0,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_foreign_bytes_are_refused() {
        let header = SampleHeader {
            flags: FLAG_END,
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
        let u64_type = Descriptor::from_static(<u64 as shmbus::ShmMessage>::DESCRIPTOR);
        let u32_type = Descriptor::from_static(<u32 as shmbus::ShmMessage>::DESCRIPTOR);
        for announcement in [
            Announcement::PublishSubscribe {
                message: u64_type.clone(),
                history: 1,
                subscriber_buffer: 8,
                overflow: OverflowPolicy::Block,
            },
            Announcement::RequestResponse {
                request: u64_type,
                response: u32_type,
                response_buffer: 4,
            },
        ] {
            let bytes = announcement.encode().unwrap();
            assert_eq!(Announcement::decode(&bytes), Ok(announcement));
            for cut in 0..bytes.len() {
                assert!(Announcement::decode(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            // Another byte order, pattern, type count: refused.
            for at in [12, 8, 28] {
                let mut flipped = bytes.clone();
                flipped[at] = 9;
                assert!(Announcement::decode(&flipped).is_err(), "byte {at}");
            }
            let mut longer = bytes;
            longer.push(0);
            assert!(Announcement::decode(&longer).is_err());
        }
    }
}
