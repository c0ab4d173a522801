//! The shared-memory layout of a publish-subscribe service: one object per service.
//!
//! Every participant maps the service object read-write. Its static part is written once
//! by the creator, under the service lock, before `state` becomes `READY`; nothing of it is
//! trusted by an opener before it checked magic, ABI version, sizes and QoS ranges, and
//! every offset below is recomputed from validated QoS, never read from memory.
//!
//! ## Header (16 KiB)
//!
//! | word (u64 index) | field                  | written by           | ordering |
//! |------------------|------------------------|----------------------|----------|
//! | 0                | magic `SHMBUSS1`       | creator, once        | before `state` (Release) |
//! | 1                | shm ABI version        | creator, once        | " |
//! | 2                | `state`: 0 initialising, 1 ready | creator | Release; openers Acquire |
//! | 3                | pattern (1 = publish-subscribe) | creator, once | " |
//! | 4                | creating node id       | creator, once        | " |
//! | 5, 6, 7          | type layout hash, size, alignment | creator, once | " |
//! | 8..=14           | QoS: history, buffer, publishers, subscribers, nodes, loans, borrowed | creator, once | " |
//! | 15               | overflow policy        | creator, once        | " |
//! | 16               | registry generation    | any port, `fetch_add` on each join/leave | Release; readers Acquire |
//! | 17, 18, 19       | lengths of service name, type name, type listing | creator, once | " |
//! | bytes 256..512   | service name           | creator, once        | " |
//! | bytes 512..1024  | type name              | creator, once        | " |
//! | bytes 1024..16384 | type listing (`TypeDescriptor::listing`, truncated) | creator, once | " |
//!
//! ## Registry (after the header, 64-byte aligned)
//!
//! | part            | size                       | word | written by |
//! |-----------------|----------------------------|------|------------|
//! | node table      | `max_nodes` x 8            | id of a node holding a service handle, 0 = free | CAS by the joining node; cleared by it or a cleaner |
//! | publisher slots | `max_publishers` x 64      | `owner` (node id, CAS from 0), `epoch` (+1 per claim), `state` (1 = ready), `port` (segment id), event for backpressure at byte 32 | owner; cleaner after death |
//! | subscriber slots | `max_subscribers` x 64    | same, event for wake-ups at byte 32 | owner; cleaner after death |
//! | queues          | per (publisher, subscriber) slot pair: a delivery queue (publisher -> subscriber, `subscriber_buffer` entries) and a return queue (subscriber -> publisher, `subscriber_buffer + max_borrowed + 1` entries) | see `sync::index_queue` | created once with the service |
//!
//! Queues are created once and never reset: a new port in a reused slot continues from the
//! positions it finds. Each entry carries the 8-bit epochs of both ends besides a 16-bit
//! chunk index ([`Entry`]), so an entry left over from a previous occupant of either slot is
//! recognised and dropped instead of being read as a chunk of the new publisher.

use crate::service::qos::{OverflowPolicy, PubSubQos};
use crate::sync::index_queue;
use crate::sync::layout::align_up;

/// Version of this layout; services of another version are refused on open.
pub const SHM_ABI_VERSION: u64 = 1;
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"SHMBUSS1");
pub(crate) const HEADER_SIZE: usize = 16 * 1024;

pub(crate) const W_MAGIC: usize = 0;
pub(crate) const W_ABI: usize = 1;
pub(crate) const W_STATE: usize = 2;
pub(crate) const W_PATTERN: usize = 3;
pub(crate) const W_CREATOR: usize = 4;
pub(crate) const W_TYPE_HASH: usize = 5;
pub(crate) const W_TYPE_SIZE: usize = 6;
pub(crate) const W_TYPE_ALIGN: usize = 7;
pub(crate) const W_QOS: usize = 8;
pub(crate) const W_OVERFLOW: usize = 15;
pub(crate) const W_GENERATION: usize = 16;
pub(crate) const W_NAME_LEN: usize = 17;
pub(crate) const W_TYPE_NAME_LEN: usize = 18;
pub(crate) const W_LISTING_LEN: usize = 19;
pub(crate) const NAME_AT: usize = 256;
pub(crate) const TYPE_NAME_AT: usize = 512;
pub(crate) const TYPE_NAME_MAX: usize = 512;
pub(crate) const LISTING_AT: usize = 1024;
pub(crate) const LISTING_MAX: usize = HEADER_SIZE - LISTING_AT;

pub(crate) const STATE_READY: u64 = 1;
/// A departed publisher whose samples are still queued for subscribers.
pub(crate) const STATE_DRAINING: u64 = 2;
pub(crate) const PATTERN_PUBSUB: u64 = 1;

/// Byte offsets inside a port slot.
pub(crate) const SLOT_SIZE: usize = 64;
pub(crate) const SLOT_OWNER: usize = 0;
pub(crate) const SLOT_EPOCH: usize = 8;
pub(crate) const SLOT_STATE: usize = 16;
pub(crate) const SLOT_PORT: usize = 24;
pub(crate) const SLOT_EVENT: usize = 32;

/// Where everything of a service lives, computed from its QoS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) qos: PubSubQos,
    pub(crate) nodes_at: usize,
    pub(crate) publishers_at: usize,
    pub(crate) subscribers_at: usize,
    pub(crate) queues_at: usize,
    pub(crate) deliver_capacity: u32,
    pub(crate) return_capacity: u32,
    deliver_size: usize,
    pair_size: usize,
    pub(crate) total: usize,
}

impl Geometry {
    /// The layout for `qos`, which must have passed `PubSubQos::check`.
    pub(crate) fn new(qos: PubSubQos) -> Self {
        let nodes_at = HEADER_SIZE;
        let publishers_at = align64(nodes_at + 8 * qos.max_nodes as usize);
        let subscribers_at = publishers_at + SLOT_SIZE * qos.max_publishers as usize;
        let queues_at = align64(subscribers_at + SLOT_SIZE * qos.max_subscribers as usize);
        let deliver_capacity = qos.subscriber_buffer;
        let return_capacity = qos.subscriber_buffer + qos.max_borrowed + 1;
        let deliver_size = align64(index_queue::size_of(deliver_capacity));
        let pair_size = deliver_size + align64(index_queue::size_of(return_capacity));
        let pairs = qos.max_publishers as usize * qos.max_subscribers as usize;
        let total = align_up(queues_at + pairs * pair_size, 4096).unwrap_or(usize::MAX);
        Self {
            qos,
            nodes_at,
            publishers_at,
            subscribers_at,
            queues_at,
            deliver_capacity,
            return_capacity,
            deliver_size,
            pair_size,
            total,
        }
    }

    pub(crate) fn node_at(&self, i: usize) -> usize {
        self.nodes_at + 8 * i
    }

    pub(crate) fn publisher_at(&self, p: usize) -> usize {
        self.publishers_at + SLOT_SIZE * p
    }

    pub(crate) fn subscriber_at(&self, s: usize) -> usize {
        self.subscribers_at + SLOT_SIZE * s
    }

    pub(crate) fn deliver_at(&self, p: usize, s: usize) -> usize {
        self.queues_at + (p * self.qos.max_subscribers as usize + s) * self.pair_size
    }

    pub(crate) fn return_at(&self, p: usize, s: usize) -> usize {
        self.deliver_at(p, s) + self.deliver_size
    }
}

fn align64(n: usize) -> usize {
    n.div_ceil(64) * 64
}

/// A queue entry: chunk index (16 bits) and the epochs of the publisher and subscriber
/// slots it was made for (8 bits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) index: u16,
    pub(crate) publisher_epoch: u8,
    pub(crate) subscriber_epoch: u8,
}

impl Entry {
    pub(crate) fn encode(self) -> u32 {
        u32::from(self.publisher_epoch) << 24
            | u32::from(self.subscriber_epoch) << 16
            | u32::from(self.index)
    }

    pub(crate) fn decode(raw: u32) -> Self {
        Self {
            index: (raw & 0xffff) as u16,
            subscriber_epoch: (raw >> 16) as u8,
            publisher_epoch: (raw >> 24) as u8,
        }
    }
}

/// The epoch tag carried in entries: the low 8 bits of a slot's epoch.
pub(crate) fn tag(epoch: u64) -> u8 {
    (epoch & 0xff) as u8
}

/// Reads the QoS stored in a header (raw values; the caller checks them).
pub(crate) fn qos_from_words(words: [u64; 8]) -> Option<PubSubQos> {
    let v = |i: usize| u32::try_from(words[i]).ok();
    Some(PubSubQos {
        history: v(0)?,
        subscriber_buffer: v(1)?,
        max_publishers: v(2)?,
        max_subscribers: v(3)?,
        max_nodes: v(4)?,
        max_loans: v(5)?,
        max_borrowed: v(6)?,
        overflow: OverflowPolicy::from_code(words[7])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let e = Entry {
            index: 0xbeef,
            publisher_epoch: 3,
            subscriber_epoch: 250,
        };
        assert_eq!(Entry::decode(e.encode()), e);
        assert_eq!(tag(0x1ff), 0xff);
    }

    #[test]
    fn geometry_is_ordered_and_aligned() {
        let g = Geometry::new(PubSubQos::default());
        assert!(g.publishers_at >= g.nodes_at + 8 * 16);
        assert_eq!(g.queues_at % 64, 0);
        assert_eq!(g.deliver_at(0, 1) % 64, 0);
        assert!(g.return_at(1, 7) + index_queue::size_of(g.return_capacity) <= g.total);
        assert_eq!(g.total % 4096, 0);
    }
}
