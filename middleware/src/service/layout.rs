//! The shared-memory layout of a service: one object per service, for both patterns.
//!
//! Every participant maps the service object read-write (tools map it read-only). Its
//! static part is written once by the creator, under the service lock, before `state`
//! becomes `READY`; nothing of it is trusted by a reader before it checked magic, ABI
//! version, sizes, QoS ranges and the stored descriptors, and every offset below is
//! computed from validated values, never read from memory and used as is.
//!
//! ## Static part
//!
//! A fixed `Header` of 256 bytes, read by copying it out (byte-wise atomic loads: another
//! process may write any byte at any time) and reading the copy as the `#[repr(C)]` struct
//! with zerocopy, so that field offsets come from the struct, not from arithmetic:
//!
//! | field | written by | ordering |
//! |-------|------------|----------|
//! | `magic` `SHMBUSS1`, `abi` ([`SHM_ABI_VERSION`]), `pattern` (1 publish-subscribe, 2 request-response), `creator` node id | creator, once | published by `state` |
//! | `state`: 0 initialising, 1 ready | creator | Release; readers Acquire |
//! | `static_size`: bytes of the static part (a multiple of 64) | creator, once | " |
//! | `generation`: the registry generation | any port, `fetch_add` on each join/leave | Release; readers Acquire |
//! | `name_len`, `qos` (8 words, see [`PubSubQos`] / [`RequestResponseQos`]) | creator, once | published by `state` |
//! | `types[k]` for type 0 (message or request) and 1 (response): layout hash, size, alignment, and where its encoded descriptor lies | creator, once | " |
//!
//! then the service name (at byte 256), then each type's descriptor in the encoding of
//! [`crate::message::dynamic`] at its recorded offset (64-aligned, within `static_size`).
//! The static part is as large as the descriptors need: no cap a real type meets.
//!
//! ## Registry (after the static part, 64-byte aligned)
//!
//! A node table (`max_nodes` x 8 bytes: the id of a node holding a service handle, 0 =
//! free; CAS by the joining node, cleared by it or a cleaner), then one or two *channels*:
//! publish-subscribe has one (publishers -> subscribers), request-response two (channel 0:
//! clients' requests -> servers, channel 1: servers' responses -> clients). A channel is:
//!
//! | part            | size                       | words | written by |
//! |-----------------|----------------------------|------|------------|
//! | publisher slots | `publishers` x 64          | `owner` (node id, CAS from 0), `epoch` (+1 per claim), `state` (1 = ready, 2 = draining), `port` (segment id), event for backpressure at byte 32, `departure` at byte 40, `flags` at byte 48 (1: a monitor) | owner; cleaner after death |
//! | subscriber slots | `subscribers` x 64        | same, event for wake-ups at byte 32 | owner; cleaner after death |
//! | queues          | per (publisher, subscriber) slot pair: a delivery queue (publisher -> subscriber, `subscriber_buffer` entries) and a return queue (subscriber -> publisher, `subscriber_buffer + max_borrowed + 1` entries) | see `sync::index_queue` | created once with the service |
//!
//! A slot's `departure` word says how its last port ended, for the counterparts watching:
//! `epoch << 1` when the port left, `epoch << 1 | 1` when a cleaner removed it after its
//! node died. It is written before the slot is freed (Release).
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
//! positions it finds; their entries carry the epochs of both ends (see
//! `port::channel::entry`), so an entry left over from a previous occupant of either slot
//! is recognised and dropped.

use std::sync::Arc;

use zerocopy::{FromBytes, Immutable, KnownLayout};

use crate::message::Descriptor;
use crate::message::dynamic::DecodeError;
use crate::os::mmap::Mapping;
use crate::service::qos::{PubSubQos, RequestResponseQos};
use crate::sync::index_queue;
use crate::sync::layout::align_up;
use crate::sync::view::View;

/// Version of this layout (and of the index queues in it); services of another version are
/// refused on open. v4: descriptors in the static part, slot departures.
pub const SHM_ABI_VERSION: u64 = 4;
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"SHMBUSS1");
/// The largest static part a reader accepts (descriptors are large only for types with
/// tens of thousands of fields).
pub(crate) const MAX_STATIC_SIZE: usize = 64 << 20;
pub(crate) const QOS_WORDS: usize = 8;

/// Where a type's words and descriptor are in the static part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, KnownLayout, Immutable)]
#[repr(C)]
pub(crate) struct TypeEntry {
    pub(crate) hash: u64,
    pub(crate) size: u64,
    pub(crate) align: u64,
    /// Byte offset of the encoded descriptor in the object.
    pub(crate) encoding_at: u64,
    /// Its length in bytes.
    pub(crate) encoding_len: u64,
}

/// The fixed 256 bytes at the start of every service object (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, KnownLayout, Immutable)]
#[repr(C)]
pub(crate) struct Header {
    pub(crate) magic: u64,
    pub(crate) abi: u64,
    pub(crate) state: u64,
    pub(crate) pattern: u64,
    pub(crate) creator: u64,
    pub(crate) static_size: u64,
    pub(crate) generation: u64,
    pub(crate) name_len: u64,
    pub(crate) qos: [u64; QOS_WORDS],
    pub(crate) types: [TypeEntry; 2],
    reserved: [u64; 6],
}

const _: () = assert!(size_of::<Header>() == 256);

/// Byte offsets of the header's live words, and where the name starts.
pub(crate) const STATE_AT: usize = core::mem::offset_of!(Header, state);
pub(crate) const GENERATION_AT: usize = core::mem::offset_of!(Header, generation);
pub(crate) const NAME_AT: usize = size_of::<Header>();

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

/// The geometry of a service of `pattern` whose QoS words are `words` and whose static part
/// is `static_size` bytes; `None` if they are out of range (or the pattern is unknown).
pub(crate) fn geometry_of(
    pattern: u64,
    words: [u64; QOS_WORDS],
    static_size: usize,
) -> Option<Geometry> {
    if !(NAME_AT..=MAX_STATIC_SIZE).contains(&static_size) || !static_size.is_multiple_of(64) {
        return None;
    }
    match pattern {
        PATTERN_PUBSUB => PubSubQos::from_words(words).map(|q| Geometry::pubsub(q, static_size)),
        PATTERN_REQUEST_RESPONSE => RequestResponseQos::from_words(words)
            .map(|q| Geometry::request_response(q, static_size)),
        _ => None,
    }
}

/// The static part a creator writes: where the name and each encoded descriptor go, and
/// how large it is.
#[derive(Debug, Clone)]
pub(crate) struct StaticPlan {
    /// `(offset, encoding)` per type.
    pub(crate) encodings: Vec<(usize, Vec<u8>)>,
    /// Bytes of the static part.
    pub(crate) size: usize,
}

impl StaticPlan {
    /// Lays out the name and the encodings after the header.
    pub(crate) fn new(name_len: usize, encodings: Vec<Vec<u8>>) -> Self {
        let mut at = align64(NAME_AT + name_len);
        let mut placed = Vec::with_capacity(encodings.len());
        for encoding in encodings {
            let len = encoding.len();
            placed.push((at, encoding));
            at = align64(at + len);
        }
        Self {
            encodings: placed,
            size: at,
        }
    }
}

/// Why a service object's static part cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StaticFault {
    /// Not `READY`: its creator is at work or died before finishing.
    NotReady,
    /// Not a shmbus service object.
    Magic,
    /// Written by another version of this layout.
    Abi(u64),
    /// Of another pattern than expected.
    Pattern(u64),
    /// QoS words or the static size out of range.
    Qos([u64; QOS_WORDS]),
    /// Smaller than its QoS needs.
    TooSmall { len: usize, needs: usize },
    /// The name or a type's words are out of range.
    Static(String),
}

impl StaticFault {
    /// What is wrong, for an error message (not for `NotReady`, which is no error).
    pub(crate) fn describe(&self) -> String {
        match self {
            StaticFault::NotReady => "not ready".to_owned(),
            StaticFault::Magic => "wrong magic number".to_owned(),
            StaticFault::Abi(v) => format!("shared-memory ABI version {v}"),
            StaticFault::Pattern(p) => format!("pattern {p}"),
            StaticFault::Qos(words) => format!("QoS words {words:?} out of range"),
            StaticFault::TooSmall { len, needs } => {
                format!("object is {len} bytes, its QoS needs {needs}")
            }
            StaticFault::Static(what) => what.clone(),
        }
    }
}

/// The static part of a service object, checked as far as every reader needs it before
/// trusting an offset: state, magic, ABI version, pattern, QoS ranges, the name and the
/// descriptors' places, and a size that fits the geometry computed from them.
pub(crate) struct StaticPart {
    view: View<Arc<Mapping>>,
    /// The header, as copied out.
    pub(crate) header: Header,
    /// The geometry it gives.
    pub(crate) geometry: Geometry,
}

impl StaticPart {
    /// Reads and checks the static part of a mapped service object; of `pattern` if given.
    pub(crate) fn read(mapping: &Arc<Mapping>, pattern: Option<u64>) -> Result<Self, StaticFault> {
        // Shorter than a header: its creator died before sizing it.
        let view =
            View::new(mapping.clone(), 0, mapping.len()).map_err(|_| StaticFault::NotReady)?;
        let copy = view
            .read_bytes(0, NAME_AT)
            .map_err(|_| StaticFault::NotReady)?;
        let Ok(header) = Header::read_from_bytes(&copy) else {
            return Err(StaticFault::NotReady);
        };
        // SYNC(acquire): pairs with the creator's release store of `state`; the copy above
        // may predate it, so `state` is read again, atomically, and the copy taken again
        // when it says ready (the rest is written before and never after).
        if view.load_u64(STATE_AT).unwrap_or(0) != STATE_READY {
            return Err(StaticFault::NotReady);
        }
        let copy = view
            .read_bytes(0, NAME_AT)
            .map_err(|_| StaticFault::NotReady)?;
        let header = Header::read_from_bytes(&copy).unwrap_or(header);
        if header.magic != MAGIC {
            return Err(StaticFault::Magic);
        }
        if header.abi != SHM_ABI_VERSION {
            return Err(StaticFault::Abi(header.abi));
        }
        if pattern.is_some_and(|p| header.pattern != p) {
            return Err(StaticFault::Pattern(header.pattern));
        }
        let static_size = usize::try_from(header.static_size).unwrap_or(usize::MAX);
        let geometry = geometry_of(header.pattern, header.qos, static_size)
            .ok_or(StaticFault::Qos(header.qos))?;
        if mapping.len() < geometry.total {
            return Err(StaticFault::TooSmall {
                len: mapping.len(),
                needs: geometry.total,
            });
        }
        let name_end = usize::try_from(header.name_len)
            .ok()
            .filter(|&n| (1..=255).contains(&n))
            .map(|n| NAME_AT + n)
            .filter(|&end| end <= static_size)
            .ok_or_else(|| StaticFault::Static(format!("name length {}", header.name_len)))?;
        for (k, entry) in header.types.iter().enumerate().take(geometry.type_count()) {
            let ok = usize::try_from(entry.encoding_at)
                .ok()
                .zip(usize::try_from(entry.encoding_len).ok())
                .is_some_and(|(at, len)| {
                    at >= name_end && at.checked_add(len).is_some_and(|end| end <= static_size)
                });
            if !ok {
                return Err(StaticFault::Static(format!(
                    "the description of type {k} lies outside the static part"
                )));
            }
        }
        Ok(Self {
            view,
            header,
            geometry,
        })
    }

    /// The stored service name (invalid UTF-8 replaced).
    pub(crate) fn name(&self) -> String {
        let n = usize::try_from(self.header.name_len).unwrap_or(0);
        String::from_utf8_lossy(&self.view.read_bytes(NAME_AT, n).unwrap_or_default()).into_owned()
    }

    /// The entry of type `k` (0 or 1).
    pub(crate) fn type_entry(&self, k: usize) -> Option<&TypeEntry> {
        self.header
            .types
            .get(k)
            .filter(|_| k < self.geometry.type_count())
    }

    /// The stored descriptor of type `k`, decoded and checked against its words.
    pub(crate) fn descriptor(&self, k: usize) -> Result<Descriptor, DecodeError> {
        let fail = |problem: String| DecodeError { at: 0, problem };
        let entry = self
            .type_entry(k)
            .ok_or_else(|| fail(format!("the service has no type {k}")))?;
        let at = usize::try_from(entry.encoding_at).unwrap_or(usize::MAX);
        let len = usize::try_from(entry.encoding_len).unwrap_or(usize::MAX);
        let bytes = self
            .view
            .read_bytes(at, len)
            .map_err(|e| fail(e.to_string()))?;
        let d = Descriptor::decode(&bytes)?;
        if d.layout_hash() != entry.hash
            || d.size() as u64 != entry.size
            || d.align() as u64 != entry.align
        {
            return Err(fail(format!(
                "the description of type {k} is not the type of the service's words (hash {:#018x}, size {}, align {})",
                entry.hash, entry.size, entry.align
            )));
        }
        Ok(d)
    }
}

/// Byte offsets inside a port slot.
/// A port slot's words (module docs), as a struct so that their offsets come from it; the
/// words themselves are only ever accessed atomically, through a view.
#[repr(C)]
struct Slot {
    owner: u64,
    epoch: u64,
    state: u64,
    port: u64,
    event: [u32; 2],
    departure: u64,
    flags: u64,
    reserved: u64,
}

const _: () = assert!(size_of::<Slot>() == 64);

pub(crate) const SLOT_SIZE: usize = size_of::<Slot>();
pub(crate) const SLOT_OWNER: usize = core::mem::offset_of!(Slot, owner);
pub(crate) const SLOT_EPOCH: usize = core::mem::offset_of!(Slot, epoch);
pub(crate) const SLOT_STATE: usize = core::mem::offset_of!(Slot, state);
pub(crate) const SLOT_PORT: usize = core::mem::offset_of!(Slot, port);
pub(crate) const SLOT_EVENT: usize = core::mem::offset_of!(Slot, event);
pub(crate) const SLOT_DEPARTURE: usize = core::mem::offset_of!(Slot, departure);
pub(crate) const SLOT_FLAGS: usize = core::mem::offset_of!(Slot, flags);

/// Slot flag: the port is a monitor — a receiver of a request-response channel that gets
/// a copy of every message without taking part (a recorder), never a server or a client.
pub(crate) const SLOT_MONITOR: u64 = 1;

/// The `departure` word of a port of `epoch` that ended, `died` when a cleaner removed it.
pub(crate) fn departure_word(epoch: u64, died: bool) -> u64 {
    (epoch << 1) | u64::from(died)
}

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
    /// The layout of a publish-subscribe service whose static part is `static_size` bytes;
    /// `qos` must have passed its check.
    pub(crate) fn pubsub(qos: PubSubQos, static_size: usize) -> Self {
        let nodes_at = static_size;
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

    /// The layout of a request-response service whose static part is `static_size` bytes;
    /// `qos` must have passed its check.
    pub(crate) fn request_response(qos: RequestResponseQos, static_size: usize) -> Self {
        let nodes_at = static_size;
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

    /// How many message types the service carries: one per channel.
    pub(crate) fn type_count(&self) -> usize {
        self.channel_count
    }

    /// The service's channels.
    pub(crate) fn channels(&self) -> &[Channel] {
        &self.channels[..self.channel_count]
    }

    /// Channel `ch` (0 or 1; a missing channel 1 falls back to 0, never out of bounds).
    #[inline]
    pub(crate) fn channel(&self, ch: usize) -> &Channel {
        &self.channels[ch.min(self.channel_count - 1)]
    }
}

fn align64(n: usize) -> usize {
    n.div_ceil(64) * 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_part_is_planned_after_the_name() {
        let plan = StaticPlan::new(10, vec![vec![1; 100], vec![2; 3]]);
        assert_eq!(plan.encodings[0].0, 320);
        assert_eq!(plan.encodings[1].0, 448);
        assert_eq!(plan.size, 512);
        assert_eq!(STATE_AT, 16);
        assert_eq!(GENERATION_AT, 48);
    }

    #[test]
    fn geometry_is_ordered_and_aligned() {
        let g = Geometry::pubsub(PubSubQos::default(), 512);
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
        let g = Geometry::request_response(qos, 512);
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
