//! The shared-memory layout of a service: one object per service, for both patterns.
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
//! | 3                | pattern (1 publish-subscribe, 2 request-response) | creator, once | " |
//! | 4                | creating node id       | creator, once        | " |
//! | 5, 6, 7          | type 0 (the message, or the request): layout hash, size, alignment | creator, once | " |
//! | 8..=15           | QoS, 8 words (see [`PubSubQos`] / [`RequestResponseQos`] `words`) | creator, once | " |
//! | 16               | registry generation    | any port, `fetch_add` on each join/leave | Release; readers Acquire |
//! | 17               | length of the service name | creator, once   | " |
//! | 18, 19           | type 0: lengths of its name and listing | creator, once | " |
//! | 20, 21, 22       | type 1 (the response): layout hash, size, alignment | creator, once | " |
//! | 23, 24           | type 1: lengths of its name and listing | creator, once | " |
//! | bytes 256..512   | service name           | creator, once        | " |
//! | bytes 512..768, 768..1024 | type names 0 and 1 | creator, once  | " |
//! | bytes 1024..8704, 8704..16384 | type listings 0 and 1 (`TypeDescriptor::listing`, truncated) | creator, once | " |
//!
//! ## Registry (after the header, 64-byte aligned)
//!
//! A node table (`max_nodes` x 8 bytes: the id of a node holding a service handle, 0 =
//! free; CAS by the joining node, cleared by it or a cleaner), then one or two *channels*:
//! publish-subscribe has one (publishers -> subscribers), request-response two (channel 0:
//! clients' requests -> servers, channel 1: servers' responses -> clients). A channel is:
//!
//! | part            | size                       | word | written by |
//! |-----------------|----------------------------|------|------------|
//! | publisher slots | `publishers` x 64          | `owner` (node id, CAS from 0), `epoch` (+1 per claim), `state` (1 = ready, 2 = draining), `port` (segment id), event for backpressure at byte 32 | owner; cleaner after death |
//! | subscriber slots | `subscribers` x 64        | same, event for wake-ups at byte 32 | owner; cleaner after death |
//! | queues          | per (publisher, subscriber) slot pair: a delivery queue (publisher -> subscriber, `subscriber_buffer` entries) and a return queue (subscriber -> publisher, `subscriber_buffer + max_borrowed + 1` entries) | see `sync::index_queue` | created once with the service |
//!
//! Request-response adds the request table after its channels: per client slot,
//! `max_active_requests` words `id << 2 | state` (state 0 free, 1 pending, 2 done: the
//! server ended the stream, 3 cancelled: the client dropped the request). The client writes
//! `pending` (Release) before it sends the request; the server CASes `pending -> done` when
//! it drops the request (Release, then notifies the client); the client CASes `pending ->
//! cancelled` when it drops its `PendingResponse`. Every CAS compares the whole word, so a
//! late server can never end a newer request that reuses the slot.
//!
//! Queues are created once and never reset: a new port in a reused slot continues from the
//! positions it finds. Each entry carries the 8-bit epochs of both ends besides a 16-bit
//! chunk index (`Entry`), so an entry left over from a previous occupant of either slot is
//! recognised and dropped instead of being read as a chunk of the new publisher.

use std::sync::Arc;

use crate::os::mmap::Mapping;
use crate::service::qos::{PubSubQos, RequestResponseQos};
use crate::sync::index_queue;
use crate::sync::layout::align_up;
use crate::sync::view::View;

/// Version of this layout (and of the index queues in it: v3 put the slots in `tail`'s line);
/// services of another version are refused on open.
pub const SHM_ABI_VERSION: u64 = 3;
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"SHMBUSS1");
pub(crate) const HEADER_SIZE: usize = 16 * 1024;

pub(crate) const W_MAGIC: usize = 0;
pub(crate) const W_ABI: usize = 1;
pub(crate) const W_STATE: usize = 2;
pub(crate) const W_PATTERN: usize = 3;
pub(crate) const W_CREATOR: usize = 4;
pub(crate) const W_QOS: usize = 8;
pub(crate) const QOS_WORDS: usize = 8;
pub(crate) const W_GENERATION: usize = 16;
pub(crate) const W_NAME_LEN: usize = 17;
pub(crate) const NAME_AT: usize = 256;

/// Where the words and bytes of type `k` (0 or 1) of a service are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeSlot {
    pub(crate) hash: usize,
    pub(crate) size: usize,
    pub(crate) align: usize,
    pub(crate) name_len: usize,
    pub(crate) listing_len: usize,
    pub(crate) name_at: usize,
    pub(crate) listing_at: usize,
}

pub(crate) const TYPE_NAME_MAX: usize = 256;
pub(crate) const LISTING_MAX: usize = 7680;
pub(crate) const TYPE_SLOTS: [TypeSlot; 2] = [
    TypeSlot {
        hash: 5,
        size: 6,
        align: 7,
        name_len: 18,
        listing_len: 19,
        name_at: 512,
        listing_at: 1024,
    },
    TypeSlot {
        hash: 20,
        size: 21,
        align: 22,
        name_len: 23,
        listing_len: 24,
        name_at: 768,
        listing_at: 1024 + LISTING_MAX,
    },
];

pub(crate) const STATE_READY: u64 = 1;
/// A departed publisher whose samples are still queued for subscribers.
pub(crate) const STATE_DRAINING: u64 = 2;
pub(crate) const PATTERN_PUBSUB: u64 = 1;
pub(crate) const PATTERN_REQUEST_RESPONSE: u64 = 2;

/// The pattern's part of object and file names: `rr` for request-response, `ps` for
/// publish-subscribe.
pub(crate) fn pattern_suffix(pattern: u64) -> &'static str {
    if pattern == PATTERN_REQUEST_RESPONSE {
        "rr"
    } else {
        "ps"
    }
}

/// The geometry of a service of `pattern` whose QoS words are `words`; `None` if they are
/// out of range (or the pattern is unknown).
pub(crate) fn geometry_of(pattern: u64, words: [u64; QOS_WORDS]) -> Option<Geometry> {
    match pattern {
        PATTERN_PUBSUB => PubSubQos::from_words(words).map(Geometry::pubsub),
        PATTERN_REQUEST_RESPONSE => {
            RequestResponseQos::from_words(words).map(Geometry::request_response)
        }
        _ => None,
    }
}

/// Why a service object's static part cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaticFault {
    /// Not `READY`: its creator is at work or died before finishing.
    NotReady,
    /// Not a shmbus service object.
    Magic,
    /// Written by another version of this layout.
    Abi(u64),
    /// Of another pattern than expected.
    Pattern(u64),
    /// QoS words out of range.
    Qos([u64; QOS_WORDS]),
    /// Smaller than its QoS needs.
    TooSmall { len: usize, needs: usize },
}

/// The static part of a service object, checked as far as every reader needs it before
/// trusting an offset: state, magic, ABI version, pattern, QoS ranges, and a size that fits
/// the geometry computed from them. Openers compare names and types on top.
pub(crate) struct StaticPart {
    header: View<Arc<Mapping>>,
    /// The stored QoS words.
    pub(crate) qos: [u64; QOS_WORDS],
    /// The geometry they give.
    pub(crate) geometry: Geometry,
}

impl StaticPart {
    /// Reads and checks the static part of a mapped service object of `pattern`.
    pub(crate) fn read(mapping: &Arc<Mapping>, pattern: u64) -> Result<Self, StaticFault> {
        // Shorter than a header: its creator died before sizing it.
        let header =
            View::new(mapping.clone(), 0, HEADER_SIZE).map_err(|_| StaticFault::NotReady)?;
        let word = |w: usize| header.load_u64(8 * w).unwrap_or(0);
        if word(W_STATE) != STATE_READY {
            return Err(StaticFault::NotReady);
        }
        if word(W_MAGIC) != MAGIC {
            return Err(StaticFault::Magic);
        }
        if word(W_ABI) != SHM_ABI_VERSION {
            return Err(StaticFault::Abi(word(W_ABI)));
        }
        if word(W_PATTERN) != pattern {
            return Err(StaticFault::Pattern(word(W_PATTERN)));
        }
        let qos: [u64; QOS_WORDS] = std::array::from_fn(|i| word(W_QOS + i));
        let geometry = geometry_of(pattern, qos).ok_or(StaticFault::Qos(qos))?;
        if mapping.len() < geometry.total {
            return Err(StaticFault::TooSmall {
                len: mapping.len(),
                needs: geometry.total,
            });
        }
        Ok(Self {
            header,
            qos,
            geometry,
        })
    }

    /// Header word `w` (0 if unreadable).
    pub(crate) fn word(&self, w: usize) -> u64 {
        self.header.load_u64(8 * w).unwrap_or(0)
    }

    /// The text of at most `max` bytes at `at` whose length is header word `len_word`
    /// (invalid UTF-8 replaced).
    pub(crate) fn text(&self, at: usize, len_word: usize, max: usize) -> String {
        let n = usize::try_from(self.word(len_word))
            .unwrap_or(usize::MAX)
            .min(max);
        String::from_utf8_lossy(&self.header.read_bytes(at, n).unwrap_or_default()).into_owned()
    }
}

/// Byte offsets inside a port slot.
pub(crate) const SLOT_SIZE: usize = 64;
pub(crate) const SLOT_OWNER: usize = 0;
pub(crate) const SLOT_EPOCH: usize = 8;
pub(crate) const SLOT_STATE: usize = 16;
pub(crate) const SLOT_PORT: usize = 24;
pub(crate) const SLOT_EVENT: usize = 32;

/// Request-table states (low two bits of a request word).
pub(crate) const REQUEST_PENDING: u64 = 1;
pub(crate) const REQUEST_DONE: u64 = 2;
pub(crate) const REQUEST_CANCELLED: u64 = 3;

/// One pub-sub channel inside a service object: its slots and queues, and the QoS its
/// ports work with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Channel {
    pub(crate) qos: PubSubQos,
    pub(crate) publishers_at: usize,
    pub(crate) subscribers_at: usize,
    pub(crate) queues_at: usize,
    pub(crate) deliver_capacity: u32,
    pub(crate) return_capacity: u32,
    deliver_size: usize,
    pair_size: usize,
    /// First byte after the channel.
    pub(crate) end: usize,
}

impl Channel {
    /// A channel for `qos` starting at `at` (64-byte aligned).
    fn new(qos: PubSubQos, at: usize) -> Self {
        let publishers_at = align64(at);
        let subscribers_at = publishers_at + SLOT_SIZE * qos.max_publishers as usize;
        let queues_at = align64(subscribers_at + SLOT_SIZE * qos.max_subscribers as usize);
        let deliver_capacity = qos.subscriber_buffer;
        let return_capacity = qos.subscriber_buffer + qos.max_borrowed + 1;
        let deliver_size = align64(index_queue::size_of(deliver_capacity));
        let pair_size = deliver_size + align64(index_queue::size_of(return_capacity));
        let pairs = qos.max_publishers as usize * qos.max_subscribers as usize;
        Self {
            qos,
            publishers_at,
            subscribers_at,
            queues_at,
            deliver_capacity,
            return_capacity,
            deliver_size,
            pair_size,
            end: queues_at + pairs * pair_size,
        }
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

    /// Where queue `kind` of the pair (`p`, `s`) is, and its capacity.
    pub(crate) fn queue(&self, kind: QueueKind, p: usize, s: usize) -> (usize, u32) {
        match kind {
            QueueKind::Deliver => (self.deliver_at(p, s), self.deliver_capacity),
            QueueKind::Return => (self.return_at(p, s), self.return_capacity),
        }
    }
}

/// The two queues of a (publisher, subscriber) slot pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueKind {
    /// Publisher -> subscriber: chunks to read.
    Deliver,
    /// Subscriber -> publisher: chunks read.
    Return,
}

/// Where everything of a service lives, computed from its validated QoS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) max_nodes: u32,
    pub(crate) nodes_at: usize,
    channels: [Channel; 2],
    channel_count: usize,
    /// The request table (request-response only).
    pub(crate) requests: Option<RequestTable>,
    pub(crate) total: usize,
}

/// The request table of a request-response service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestTable {
    pub(crate) at: usize,
    pub(crate) clients: u32,
    pub(crate) per_client: u32,
}

impl RequestTable {
    /// The byte offset of the word of request slot `a` of client slot `c`, if in range.
    pub(crate) fn word_at(&self, c: usize, a: usize) -> Option<usize> {
        (c < self.clients as usize && a < self.per_client as usize)
            .then(|| self.at + 8 * (c * self.per_client as usize + a))
    }
}

impl Geometry {
    /// The layout of a publish-subscribe service; `qos` must have passed its check.
    pub(crate) fn pubsub(qos: PubSubQos) -> Self {
        let nodes_at = HEADER_SIZE;
        let channel = Channel::new(qos, nodes_at + 8 * qos.max_nodes as usize);
        Self {
            max_nodes: qos.max_nodes,
            nodes_at,
            channels: [channel, channel],
            channel_count: 1,
            requests: None,
            total: align_up(channel.end, 4096).unwrap_or(usize::MAX),
        }
    }

    /// The layout of a request-response service; `qos` must have passed its check.
    pub(crate) fn request_response(qos: RequestResponseQos) -> Self {
        let nodes_at = HEADER_SIZE;
        let requests = Channel::new(qos.request_channel(), nodes_at + 8 * qos.max_nodes as usize);
        let responses = Channel::new(qos.response_channel(), requests.end);
        let table = RequestTable {
            at: align64(responses.end),
            clients: qos.max_clients,
            per_client: qos.max_active_requests_per_client,
        };
        let end = table.at + 8 * (table.clients * table.per_client) as usize;
        Self {
            max_nodes: qos.max_nodes,
            nodes_at,
            channels: [requests, responses],
            channel_count: 2,
            requests: Some(table),
            total: align_up(end, 4096).unwrap_or(usize::MAX),
        }
    }

    pub(crate) fn node_at(&self, i: usize) -> usize {
        self.nodes_at + 8 * i
    }

    /// The service's channels.
    pub(crate) fn channels(&self) -> &[Channel] {
        &self.channels[..self.channel_count]
    }

    /// Channel `ch` (0 or 1; a missing channel 1 falls back to 0, never out of bounds).
    pub(crate) fn channel(&self, ch: usize) -> &Channel {
        &self.channels[ch.min(self.channel_count - 1)]
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
        let g = Geometry::pubsub(PubSubQos::default());
        let c = g.channel(0);
        assert!(c.publishers_at >= g.nodes_at + 8 * 16);
        assert_eq!(c.queues_at % 64, 0);
        assert_eq!(c.deliver_at(0, 1) % 64, 0);
        assert!(c.return_at(1, 7) + index_queue::size_of(c.return_capacity) <= g.total);
        assert_eq!(g.total % 4096, 0);
        assert_eq!(g.channels().len(), 1);
    }

    #[test]
    fn request_response_channels_and_table_do_not_overlap() {
        let qos = RequestResponseQos::default();
        let g = Geometry::request_response(qos);
        let (requests, responses) = (g.channel(0), g.channel(1));
        assert_eq!(g.channels().len(), 2);
        assert!(requests.end <= responses.publishers_at);
        let table = g.requests.unwrap();
        assert!(responses.end <= table.at);
        let last = table
            .word_at(
                qos.max_clients as usize - 1,
                qos.max_active_requests_per_client as usize - 1,
            )
            .unwrap();
        assert!(last + 8 <= g.total);
        assert_eq!(table.word_at(qos.max_clients as usize, 0), None);
        // Clients publish requests to servers; servers publish responses to clients.
        assert_eq!(requests.qos.max_publishers, qos.max_clients);
        assert_eq!(responses.qos.max_subscribers, qos.max_clients);
    }
}
