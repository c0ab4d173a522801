//! The entries of delivery and return queues: a chunk index and the epochs of both ends.
//!
//! Queues are created once with the service and never reset, so a port in a reused slot
//! may find entries a previous occupant of either end left behind. Each entry carries the
//! low 8 bits of the epochs of the publisher and subscriber slots it was made for; an entry
//! whose epochs are not the current ones is recognised and dropped instead of being read
//! as a chunk of the new publisher.

use crate::sync::chunk_store::MAX_CHUNKS;

/// Bits of an entry that hold the chunk index.
const INDEX_BITS: u32 = 16;

// Every chunk index of a segment fits the entry: follows from the one statement of the limit.
const _: () = assert!(MAX_CHUNKS <= 1 << INDEX_BITS);

/// A queue entry: chunk index (16 bits) and the epoch tags of the publisher and subscriber
/// slots it was made for (8 bits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) index: u32,
    pub(crate) publisher_epoch: u8,
    pub(crate) subscriber_epoch: u8,
}

impl Entry {
    /// The entry for chunk `index` between the ports of these slot epochs.
    pub(crate) fn new(index: u32, publisher_epoch: u64, subscriber_epoch: u64) -> Self {
        Self {
            index: index & ((1 << INDEX_BITS) - 1),
            publisher_epoch: tag(publisher_epoch),
            subscriber_epoch: tag(subscriber_epoch),
        }
    }

    pub(crate) fn encode(self) -> u32 {
        u32::from(self.publisher_epoch) << 24 | u32::from(self.subscriber_epoch) << 16 | self.index
    }

    pub(crate) fn decode(raw: u32) -> Self {
        Self {
            index: raw & ((1 << INDEX_BITS) - 1),
            subscriber_epoch: (raw >> 16) as u8,
            publisher_epoch: (raw >> 24) as u8,
        }
    }

    /// Whether the entry was made for the ports of these slot epochs.
    pub(crate) fn is_for(self, publisher_epoch: u64, subscriber_epoch: u64) -> bool {
        self.publisher_epoch == tag(publisher_epoch)
            && self.subscriber_epoch == tag(subscriber_epoch)
    }
}

/// The epoch tag carried in entries: the low 8 bits of a slot's epoch.
fn tag(epoch: u64) -> u8 {
    (epoch & 0xff) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_recognise_their_ports() {
        let e = Entry::new(MAX_CHUNKS - 1, 3, 0x1fa);
        assert_eq!(Entry::decode(e.encode()), e);
        assert_eq!(e.index, 0xffff);
        assert!(e.is_for(0x103, 0xfa));
        assert!(!e.is_for(4, 0xfa));
        assert!(!e.is_for(3, 0xfb));
    }
}
