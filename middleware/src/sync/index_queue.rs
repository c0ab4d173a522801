//! A bounded single-producer single-consumer queue of `u32` indices in shared memory.
//!
//! The producer either refuses a push when the queue is full ([`Overflow::Reject`]) or
//! displaces the oldest entry ([`Overflow::OverwriteOldest`]) and hands it back, so the
//! caller can release the chunk it names; every displacement is counted, exactly. Positions
//! are 64-bit counters that never wrap in practice; there are `capacity` rounded up to a
//! power of two slots, and a position's slot is `position & (slots - 1)`, computed from the
//! capacity the *caller* gives (never the one stored in shared memory), so a slot access is
//! always in bounds. Every index read back is checked against the caller's
//! `bound` (for example the number of chunks in a pool).
//!
//! ## Layout (`#[repr(C)]`, 64-byte aligned)
//!
//! | word        | type        | written by                                   | ordering                                   |
//! |-------------|-------------|----------------------------------------------|--------------------------------------------|
//! | `capacity`  | `u32`       | creator, once                                | Relaxed (published with the segment)       |
//! | `reserved`  | `u32`       | nobody (zero)                                | -                                          |
//! | `overflows` | `u64`       | producer `fetch_add`; consumer `swap(0)`     | Relaxed (a counter, orders nothing)        |
//! | `head`      | `u64`       | consumer CAS (pop); producer CAS (overwrite) | CAS AcqRel; loads Acquire                  |
//! | `tail`      | `u64` at 128 | producer only (store)                       | store Release; consumer load Acquire       |
//! | `slots[i]`  | `u32` × cap (rounded up to 2^k) from 136 | producer only (store) | Relaxed, published by `tail` / `head`      |
//!
//! `head` sits on its own cache line; `tail` starts the next one and the slots follow it
//! there (14 of them share `tail`'s line), so the producer's two stores of a push land in
//! one line and the consumer's reads of `tail` and the slot cost one transfer. The
//! producer keeps the last `head` it
//! read and reads it again only when that cached value says the queue is full, so a push
//! normally touches only the producer's own lines and the slot. Invariant (for honest peers):
//! `head <= tail <= head + capacity`; a violation is reported as
//! [`QueueError::Corrupted`].
//!
//! Why `head` is CAS'd by both sides: in overwrite mode the producer takes the oldest entry
//! exactly like a pop, so producer and consumer can never both own one entry; whoever's CAS
//! on `head` wins owns it, and the loser retries. A slot is rewritten only once `head` has
//! moved past its previous position, and the consumer's CAS (release) orders its read of a
//! slot before the producer's acquire of `head` that allows the rewrite.

use crate::os::mmap::Region;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::found;
use crate::sync::layout::{CachePadded, LayoutError, MAX_CAPACITY, Placement};

const NAME: &str = "index queue";

#[repr(C)]
struct Header {
    capacity: AtomicU32,
    reserved: AtomicU32,
    overflows: AtomicU64,
    head: CachePadded<AtomicU64>,
}

/// Offset of `tail`: the line after `head`'s.
const TAIL_OFFSET: usize = std::mem::size_of::<Header>();
/// Offset of the first slot: right after `tail`, in its cache line, so that a push of a
/// small queue writes one line (the slot and `tail`) and a pop reads one.
const SLOTS_OFFSET: usize = TAIL_OFFSET + std::mem::size_of::<AtomicU64>();

/// What the producer does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Displace the oldest entry and return it ([`Pushed::Displaced`]).
    #[default]
    OverwriteOldest,
    /// Refuse the push ([`PushError::Full`]).
    Reject,
}

/// A successful push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The index was stored and nothing was displaced.
    Stored,
    /// The queue was full: the oldest index was displaced (the caller now owns it, e.g. to
    /// release its chunk) and the new one stored.
    Displaced(u32),
    /// The queue was full and the displaced entry was not a valid index (the memory was
    /// corrupted); the new index was stored. The raw value is given for diagnostics.
    DisplacedInvalid(u32),
}

/// Errors common to both ends of a queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The positions in shared memory break the queue's invariant.
    #[error(
        "index queue is corrupted (head {head}, tail {tail}, capacity {capacity}); a peer wrote garbage: drop this connection"
    )]
    Corrupted {
        /// Read position found.
        head: u64,
        /// Write position found.
        tail: u64,
        /// The queue's capacity.
        capacity: u32,
    },
    /// The capacity stored in shared memory is not the one the caller expects.
    #[error(
        "index queue has capacity {found} in shared memory, expected {expected}; the segment belongs to a different configuration or is corrupted"
    )]
    CapacityMismatch {
        /// Capacity the caller expects.
        expected: u32,
        /// Capacity found in shared memory.
        found: u32,
    },
}

/// Failure of [`IndexQueueProducer::push`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The queue is full and the policy is [`Overflow::Reject`]; the index was not stored.
    #[error(
        "index queue is full ({capacity} entries); the consumer is not keeping up: retry later or use Overflow::OverwriteOldest"
    )]
    Full {
        /// The index that was not stored (still owned by the caller).
        index: u32,
        /// The queue's capacity.
        capacity: u32,
    },
    /// The index to push is not below the queue's bound.
    #[error("index {index} is out of range (bound {bound}); this is a bug in the caller")]
    InvalidIndex {
        /// The rejected index.
        index: u32,
        /// The bound.
        bound: u32,
    },
    /// The queue's shared state is corrupted.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Failure of [`IndexQueueConsumer::pop`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PopError {
    /// An entry was taken out of the queue, but it is not a valid index: the producer wrote
    /// garbage. The entry is gone; later pops continue with the next one.
    #[error(
        "index queue held {value}, which is out of range (bound {bound}); the producer is buggy or hostile"
    )]
    InvalidIndex {
        /// The raw value found.
        value: u32,
        /// The bound.
        bound: u32,
    },
    /// The queue's shared state is corrupted.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Failure of the `open` functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexQueueOpenError {
    /// The queue does not fit where it should be.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The queue's shared state does not match.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Bytes an index queue of `capacity` entries occupies (a multiple of its alignment).
pub fn size_of(capacity: u32) -> usize {
    let slots = slot_count(capacity) * std::mem::size_of::<AtomicU32>();
    let size = SLOTS_OFFSET + slots;
    size.next_multiple_of(ALIGN)
}

/// Slots of a queue of `capacity` entries: the next power of two, so that a position's slot
/// is `position & (slots - 1)` (no division on the hot path, and consistent across the wrap
/// of the 64-bit counters). At most `capacity` of them are in use at any time.
fn slot_count(capacity: u32) -> usize {
    (capacity as usize).next_power_of_two()
}

/// The alignment an index queue needs (its offset in the region must be a multiple).
pub const ALIGN: usize = std::mem::align_of::<Header>();

/// The part shared by both ends.
#[derive(Debug)]
struct Queue<R> {
    place: Placement<R>,
    capacity: u32,
    /// `slot_count(capacity) - 1`.
    mask: u64,
    bound: u32,
}

impl<R: Region> Queue<R> {
    fn place(region: R, offset: usize, capacity: u32, bound: u32) -> Result<Self, LayoutError> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(LayoutError::Capacity {
                structure: NAME,
                capacity,
            });
        }
        let place = Placement::new(NAME, region, offset, size_of(capacity), ALIGN)?;
        Ok(Self {
            place,
            capacity,
            mask: slot_count(capacity) as u64 - 1,
            bound,
        })
    }

    fn open(
        region: R,
        offset: usize,
        capacity: u32,
        bound: u32,
    ) -> Result<Self, IndexQueueOpenError> {
        let queue = Self::place(region, offset, capacity, bound)?;
        let found = queue.header().capacity.load(Ordering::Relaxed);
        if found != capacity {
            tracing::debug!(expected = capacity, found, "index queue capacity mismatch");
            return Err(QueueError::CapacityMismatch {
                expected: capacity,
                found,
            }
            .into());
        }
        Ok(queue)
    }

    fn header(&self) -> &Header {
        // SAFETY: offset 0 and `size_of::<Header>() <= size_of(capacity)`, the size
        // `Placement::new` checked; the placement is aligned to `ALIGN = align_of::<Header>()`.
        // `Header` is made of atomics and padding only (under loom, `create` constructed them).
        unsafe { self.place.get::<Header>(0) }
    }

    fn slot(&self, position: u64) -> &AtomicU32 {
        // `mask` comes from the caller's capacity (checked against the region), never the
        // shared one, so `i < slot_count(capacity)` and the slot lies inside the placement.
        let i = (position & self.mask) as usize;
        let byte_offset = SLOTS_OFFSET + i * std::mem::size_of::<AtomicU32>();
        // SAFETY: `i <= mask = slot_count(capacity) - 1`, so `byte_offset + 4` is at most
        // `SLOTS_OFFSET + slot_count(capacity) * 4 <= size_of(capacity)`, the checked size. `SLOTS_OFFSET` is 136, a multiple of `align_of::<AtomicU32>()`, and
        // the placement is 64-aligned. An `AtomicU32` is valid for any bits.
        unsafe { self.place.get::<AtomicU32>(byte_offset) }
    }

    fn tail(&self) -> &AtomicU64 {
        // SAFETY: `TAIL_OFFSET + 8 = SLOTS_OFFSET <= size_of(capacity)`, the checked size;
        // `TAIL_OFFSET = size_of::<Header>()` is a multiple of 64, and the placement is
        // 64-aligned, so the word is 8-aligned. An `AtomicU64` is valid for any bits (under
        // loom, `create` constructed it).
        unsafe { self.place.get::<AtomicU64>(TAIL_OFFSET) }
    }

    fn check(&self, head: u64, tail: u64) -> Result<u64, QueueError> {
        let used = tail.wrapping_sub(head);
        if used > u64::from(self.capacity) {
            return Err(QueueError::Corrupted {
                head,
                tail,
                capacity: self.capacity,
            });
        }
        Ok(used)
    }

    fn len(&self) -> usize {
        let header = self.header();
        loop {
            let head = header.head.0.load(Ordering::Acquire);
            let tail = self.tail().load(Ordering::Acquire);
            match self.check(head, tail) {
                Ok(used) => return used as usize,
                // The producer may have moved both positions between our two loads.
                Err(_) if header.head.0.load(Ordering::Acquire) != head => continue,
                Err(_) => return self.capacity as usize,
            }
        }
    }
}

/// The producing end of an index queue. Not `Clone`, and `push` takes `&mut self`: a
/// process holds one producer per queue (the runtime's registry hands out the ends).
#[derive(Debug)]
pub struct IndexQueueProducer<R> {
    queue: Queue<R>,
    /// The last `head` this producer read. `head` only grows, so while
    /// `tail - cached_head < capacity` there is room without reading `head` again, which
    /// spares a cache-line transfer from the consumer on almost every push.
    cached_head: u64,
}

impl<R: Region> IndexQueueProducer<R> {
    /// Initialises an empty queue of `capacity` entries at `offset` in `region` and returns
    /// its producer. Indices pushed and popped must be below `bound`. Call this once, before
    /// any other party opens the queue.
    pub fn create(
        region: R,
        offset: usize,
        capacity: u32,
        bound: u32,
    ) -> Result<Self, LayoutError> {
        let queue = Queue::place(region, offset, capacity, bound)?;
        #[cfg(loom)]
        // SAFETY: every emplaced field lies inside the checked placement at its own
        // offset, aligned as a field of the aligned `Header`, or is a slot as argued in
        // `Queue::slot`. No other access can race with these plain writes: this code
        // exists only in loom models, whose tests call `create` before sharing the region
        // (the documented contract of `create`); in real builds `create` uses atomic stores.
        unsafe {
            let p = &queue.place;
            p.emplace(
                0,
                Header {
                    capacity: AtomicU32::new(0),
                    reserved: AtomicU32::new(0),
                    overflows: AtomicU64::new(0),
                    head: CachePadded(AtomicU64::new(0)),
                },
            );
            p.emplace(TAIL_OFFSET, AtomicU64::new(0));
            for i in 0..slot_count(capacity) {
                p.emplace(
                    SLOTS_OFFSET + i * std::mem::size_of::<AtomicU32>(),
                    AtomicU32::new(0),
                );
            }
        }
        let header = queue.header();
        header.reserved.store(0, Ordering::Relaxed);
        header.overflows.store(0, Ordering::Relaxed);
        header.head.0.store(0, Ordering::Relaxed);
        queue.tail().store(0, Ordering::Relaxed);
        header.capacity.store(capacity, Ordering::Relaxed);
        tracing::trace!(capacity, offset, "created index queue");
        Ok(Self {
            queue,
            cached_head: 0,
        })
    }

    /// Opens the producing end of an existing queue; `capacity` must match the stored one.
    pub fn open(
        region: R,
        offset: usize,
        capacity: u32,
        bound: u32,
    ) -> Result<Self, IndexQueueOpenError> {
        let queue = Queue::open(region, offset, capacity, bound)?;
        // SYNC(acquire): as in `push`.
        let cached_head = queue.header().head.0.load(Ordering::Acquire);
        Ok(Self { queue, cached_head })
    }

    /// Appends `index`. When the queue is full, `overflow` decides: displace the oldest
    /// entry (returned in [`Pushed::Displaced`]) or fail with [`PushError::Full`].
    #[inline]
    pub fn push(&mut self, index: u32, overflow: Overflow) -> Result<Pushed, PushError> {
        let q = &self.queue;
        if index >= q.bound {
            return Err(PushError::InvalidIndex {
                index,
                bound: q.bound,
            });
        }
        let header = q.header();
        // Only the producer writes `tail`, so our own last store is the current value.
        let tail = q.tail().load(Ordering::Relaxed);
        let mut head = self.cached_head;
        // A cached `head` that says full is read again, except when overwriting: the CAS
        // below then checks it anyway (and, failing, yields the current one), and the load
        // would be a second cache miss per push on a saturated queue.
        let reload = match q.check(head, tail) {
            Ok(used) => used >= u64::from(q.capacity) && overflow == Overflow::Reject,
            Err(_) => true,
        };
        if reload {
            head = Self::load_head(q, &mut self.cached_head, tail);
        }
        let mut pushed = Pushed::Stored;
        loop {
            let used = q.check(head, tail)?;
            if used < u64::from(q.capacity) {
                break;
            }
            if overflow == Overflow::Reject {
                self.cached_head = head;
                return Err(PushError::Full {
                    index,
                    capacity: q.capacity,
                });
            }
            let oldest = q.slot(head).load(Ordering::Relaxed);
            // SYNC(acq_rel): the same `head` word as `pop`'s CAS; winning it makes the oldest
            // entry ours, and a consumer that wins instead makes us retry with its `head`.
            match header.head.0.compare_exchange(
                head,
                head.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    header.overflows.fetch_add(1, Ordering::Relaxed);
                    pushed = if oldest < q.bound {
                        Pushed::Displaced(oldest)
                    } else {
                        found(Pushed::DisplacedInvalid(oldest))
                    };
                    head = head.wrapping_add(1);
                    break;
                }
                Err(now) => head = now,
            }
        }
        self.cached_head = head;
        q.slot(tail).store(index, Ordering::Relaxed);
        // SYNC(release): pairs with the consumer's acquire load of `tail` in `pop`: the slot
        // store above is visible to a consumer that sees the new `tail`.
        let tail = tail.wrapping_add(1);
        q.tail().store(tail, Ordering::Release);
        // If the cached `head` now says full, read the real one at once: the load (a cache
        // miss, the consumer wrote it) then overlaps with whatever the caller does next
        // instead of stalling the next push before its stores.
        if tail.wrapping_sub(head) >= u64::from(q.capacity) {
            Self::load_head(q, &mut self.cached_head, tail);
        }
        Ok(pushed)
    }

    /// Reads the consumer's `head` (a cache miss when it moved) and caches it if it is
    /// consistent with `tail`; returns what it read.
    fn load_head(q: &Queue<R>, cached_head: &mut u64, tail: u64) -> u64 {
        // SYNC(acquire): pairs with the consumer's release CAS on `head` in `pop`: the
        // consumer's read of every slot before `head` happens-before our rewrite of it. A
        // cached value came from such a load too, and a slot below an older `head` was
        // read earlier still.
        let head = q.header().head.0.load(Ordering::Acquire);
        if q.check(head, tail).is_ok() {
            *cached_head = head;
        }
        head
    }

    /// Number of entries displaced by overwrite since creation or the consumer's last
    /// [`IndexQueueConsumer::take_overflows`].
    pub fn overflows(&self) -> u64 {
        self.queue.header().overflows.load(Ordering::Relaxed)
    }

    /// Number of entries in the queue (a snapshot).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether a push would find room now (a snapshot). Like [`push`](Self::push), it
    /// reads the consumer's `head` only when the cached one says full, so asking costs no
    /// cache-line transfer while there is room; corrupted positions read as no room.
    #[inline]
    pub fn has_room(&mut self) -> bool {
        let q = &self.queue;
        // Only the producer writes `tail`, so our own last store is the current value.
        let tail = q.tail().load(Ordering::Relaxed);
        let room = |head: u64| {
            q.check(head, tail)
                .is_ok_and(|used| used < u64::from(q.capacity))
        };
        room(self.cached_head) || room(Self::load_head(q, &mut self.cached_head, tail))
    }

    /// Whether the queue is empty (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> u32 {
        self.queue.capacity
    }
}

/// The consuming end of an index queue.
#[derive(Debug)]
pub struct IndexQueueConsumer<R> {
    queue: Queue<R>,
}

impl<R: Region> IndexQueueConsumer<R> {
    /// Opens the consuming end of an existing queue; `capacity` must match the stored one,
    /// and popped indices are checked against `bound`. Also used by a cleaner to drain the
    /// queue of a dead consumer.
    pub fn open(
        region: R,
        offset: usize,
        capacity: u32,
        bound: u32,
    ) -> Result<Self, IndexQueueOpenError> {
        Ok(Self {
            queue: Queue::open(region, offset, capacity, bound)?,
        })
    }

    /// Takes the oldest index, or `None` if the queue is empty.
    #[inline]
    pub fn pop(&mut self) -> Result<Option<u32>, PopError> {
        let q = &self.queue;
        let header = q.header();
        loop {
            let head = header.head.0.load(Ordering::Acquire);
            // SYNC(acquire): pairs with the producer's release store of `tail` in `push`:
            // the slot at `head` was written before `tail` passed it.
            let tail = q.tail().load(Ordering::Acquire);
            let used = match q.check(head, tail) {
                Ok(used) => used,
                // The producer may have displaced and pushed between our two loads.
                Err(_) if header.head.0.load(Ordering::Acquire) != head => continue,
                Err(error) => return Err(found(error).into()),
            };
            if used == 0 {
                return Ok(None);
            }
            let value = q.slot(head).load(Ordering::Relaxed);
            // SYNC(release): pairs with the producer's acquire loads of `head` in `push`: our
            // slot read happens-before the producer rewrites this slot. A failed CAS means the
            // producer displaced this entry (or another consumer took it): retry.
            if header
                .head
                .0
                .compare_exchange(
                    head,
                    head.wrapping_add(1),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                if value >= q.bound {
                    return Err(found(PopError::InvalidIndex {
                        value,
                        bound: q.bound,
                    }));
                }
                return Ok(Some(value));
            }
        }
    }

    /// Returns and resets the number of entries the producer displaced since the last call:
    /// the number of samples this consumer missed.
    #[inline]
    pub fn take_overflows(&mut self) -> u64 {
        let overflows = &self.queue.header().overflows;
        // A load first: the swap is a locked instruction, and the count is nearly always 0.
        // One that lands after the load is taken by the next call.
        if overflows.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        overflows.swap(0, Ordering::Relaxed)
    }

    /// Number of entries displaced and not yet taken with [`Self::take_overflows`].
    pub fn overflows(&self) -> u64 {
        self.queue.header().overflows.load(Ordering::Relaxed)
    }

    /// Number of entries in the queue (a snapshot).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether the queue is empty (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> u32 {
        self.queue.capacity
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::os::mmap::HeapMapping;

    fn pair(
        heap: &HeapMapping,
        capacity: u32,
        bound: u32,
    ) -> (
        IndexQueueProducer<&HeapMapping>,
        IndexQueueConsumer<&HeapMapping>,
    ) {
        let producer = IndexQueueProducer::create(heap, 0, capacity, bound).unwrap();
        let consumer = IndexQueueConsumer::open(heap, 0, capacity, bound).unwrap();
        (producer, consumer)
    }

    #[test]
    fn capacity_not_a_power_of_two_holds_exactly_that_many_across_the_wrap() {
        let heap = HeapMapping::new(size_of(3)).unwrap();
        assert_eq!(size_of(3), size_of(4), "3 entries take 4 slots");
        let (mut p, mut c) = pair(&heap, 3, 1000);
        // Start near the wrap of the 64-bit positions, where `% 3` would jump.
        let spy = Queue::place(&heap, 0, 3, 1000).unwrap();
        spy.header().head.0.store(u64::MAX - 5, Ordering::Relaxed);
        spy.tail().store(u64::MAX - 5, Ordering::Relaxed);
        let mut next = 0;
        let mut expected = std::collections::VecDeque::new();
        for round in 0..40u32 {
            // Fill to exactly 3, overwrite once, then drain part of it.
            while expected.len() < 3 {
                assert_eq!(p.push(next, Overflow::Reject).unwrap(), Pushed::Stored);
                expected.push_back(next);
                next += 1;
            }
            assert!(matches!(
                p.push(next, Overflow::Reject),
                Err(PushError::Full { .. })
            ));
            let oldest = expected.pop_front().unwrap();
            assert_eq!(
                p.push(next, Overflow::OverwriteOldest).unwrap(),
                Pushed::Displaced(oldest)
            );
            expected.push_back(next);
            next += 1;
            for _ in 0..=(round % 3) {
                assert_eq!(c.pop().unwrap(), expected.pop_front());
            }
        }
    }

    #[test]
    fn fifo_and_reject_when_full() {
        let heap = HeapMapping::new(size_of(3)).unwrap();
        let (mut p, mut c) = pair(&heap, 3, 100);
        assert_eq!(c.pop().unwrap(), None);
        for i in 0..3 {
            assert_eq!(p.push(i, Overflow::Reject).unwrap(), Pushed::Stored);
        }
        assert_eq!(p.len(), 3);
        assert_eq!(
            p.push(7, Overflow::Reject),
            Err(PushError::Full {
                index: 7,
                capacity: 3
            })
        );
        assert_eq!(c.pop().unwrap(), Some(0));
        assert_eq!(p.push(3, Overflow::Reject).unwrap(), Pushed::Stored);
        assert_eq!(c.pop().unwrap(), Some(1));
        assert_eq!(c.pop().unwrap(), Some(2));
        assert_eq!(c.pop().unwrap(), Some(3));
        assert_eq!(c.pop().unwrap(), None);
        assert!(c.is_empty());
        assert_eq!(c.take_overflows(), 0);
    }

    #[test]
    fn overwrite_returns_displaced_and_counts_exactly() {
        let heap = HeapMapping::new(size_of(2)).unwrap();
        let (mut p, mut c) = pair(&heap, 2, 100);
        assert_eq!(
            p.push(10, Overflow::OverwriteOldest).unwrap(),
            Pushed::Stored
        );
        assert_eq!(
            p.push(11, Overflow::OverwriteOldest).unwrap(),
            Pushed::Stored
        );
        assert_eq!(
            p.push(12, Overflow::OverwriteOldest).unwrap(),
            Pushed::Displaced(10)
        );
        assert_eq!(
            p.push(13, Overflow::OverwriteOldest).unwrap(),
            Pushed::Displaced(11)
        );
        assert_eq!(p.overflows(), 2);
        assert_eq!(c.pop().unwrap(), Some(12));
        assert_eq!(c.pop().unwrap(), Some(13));
        assert_eq!(c.take_overflows(), 2);
        assert_eq!(c.take_overflows(), 0);
    }

    #[test]
    fn rejects_bad_placement_and_capacity() {
        let heap = HeapMapping::new(512).unwrap();
        assert!(matches!(
            IndexQueueProducer::create(&heap, 0, 0, 1),
            Err(LayoutError::Capacity { .. })
        ));
        assert!(matches!(
            IndexQueueProducer::create(&heap, 0, 100, 1),
            Err(LayoutError::TooSmall { .. })
        ));
        assert!(matches!(
            IndexQueueProducer::create(&heap, 4, 1, 1),
            Err(LayoutError::Misaligned { .. })
        ));
        IndexQueueProducer::create(&heap, 0, 4, 1).unwrap();
        assert!(matches!(
            IndexQueueConsumer::open(&heap, 0, 3, 1),
            Err(IndexQueueOpenError::Queue(QueueError::CapacityMismatch {
                expected: 3,
                found: 4
            }))
        ));
    }

    #[test]
    fn push_checks_the_bound() {
        let heap = HeapMapping::new(size_of(2)).unwrap();
        let (mut p, _) = pair(&heap, 2, 5);
        assert_eq!(
            p.push(5, Overflow::Reject),
            Err(PushError::InvalidIndex { index: 5, bound: 5 })
        );
    }

    #[test]
    fn hostile_writes_are_errors_not_ub() {
        let heap = HeapMapping::new(size_of(4)).unwrap();
        let (mut p, mut c) = pair(&heap, 4, 10);
        // A peer with a larger bound writes indices this consumer does not accept.
        let mut hostile = IndexQueueProducer::open(&heap, 0, 4, u32::MAX).unwrap();
        hostile.push(4_000_000, Overflow::Reject).unwrap();
        assert_eq!(
            c.pop(),
            Err(PopError::InvalidIndex {
                value: 4_000_000,
                bound: 10
            })
        );
        // Positions that break the invariant.
        let spy = Queue::place(&heap, 0, 4, 10).unwrap();
        let header = spy.header();
        spy.tail().store(1000, Ordering::Relaxed);
        assert!(matches!(
            c.pop(),
            Err(PopError::Queue(QueueError::Corrupted { .. }))
        ));
        assert!(matches!(
            p.push(1, Overflow::OverwriteOldest),
            Err(PushError::Queue(_))
        ));
        assert_eq!(c.len(), 4);
        header.head.0.store(u64::MAX - 1, Ordering::Relaxed);
        spy.tail().store(u64::MAX - 1, Ordering::Relaxed);
        // Positions near the wrap still work (wrapping arithmetic, slot = position & mask).
        for i in 0..4 {
            p.push(i, Overflow::Reject).unwrap();
        }
        assert_eq!(
            p.push(9, Overflow::OverwriteOldest).unwrap(),
            Pushed::Displaced(0)
        );
        for i in 1..4 {
            assert_eq!(c.pop().unwrap(), Some(i));
        }
        assert_eq!(c.pop().unwrap(), Some(9));
        // A displaced garbage entry is reported, not returned as an index.
        header.head.0.store(0, Ordering::Relaxed);
        spy.tail().store(0, Ordering::Relaxed);
        for i in 0..4 {
            p.push(i, Overflow::Reject).unwrap();
        }
        spy.slot(0).store(77, Ordering::Relaxed);
        assert_eq!(
            p.push(4, Overflow::OverwriteOldest).unwrap(),
            Pushed::DisplacedInvalid(77)
        );
    }

    #[test]
    fn producer_and_consumer_threads_keep_order() {
        const N: u32 = if cfg!(miri) { 200 } else { 100_000 };
        let heap = HeapMapping::new(size_of(8)).unwrap();
        let (mut p, mut c) = pair(&heap, 8, N);
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut expected = 0;
                while expected < N {
                    if let Some(v) = c.pop().unwrap() {
                        assert_eq!(v, expected);
                        expected += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
            });
            for i in 0..N {
                while p.push(i, Overflow::Reject).is_err() {
                    std::thread::yield_now();
                }
            }
        });
    }

    #[test]
    fn overwriting_producer_loses_nothing_uncounted() {
        const N: u32 = if cfg!(miri) { 200 } else { 100_000 };
        let heap = HeapMapping::new(size_of(4)).unwrap();
        let (mut p, mut c) = pair(&heap, 4, N);
        let (received, displaced) = std::thread::scope(|s| {
            let consumer = s.spawn(move || {
                let mut received = Vec::new();
                loop {
                    match c.pop().unwrap() {
                        Some(v) if v == N - 1 => {
                            received.push(v);
                            return (received, c.take_overflows());
                        }
                        Some(v) => received.push(v),
                        None => std::thread::yield_now(),
                    }
                }
            });
            let mut displaced = Vec::new();
            for i in 0..N {
                if let Pushed::Displaced(old) = p.push(i, Overflow::OverwriteOldest).unwrap() {
                    displaced.push(old);
                }
            }
            let (received, overflows) = consumer.join().unwrap();
            assert_eq!(overflows, displaced.len() as u64);
            (received, displaced)
        });
        // Every index was either received (in order) or displaced, exactly once.
        assert!(received.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<u32> = received.iter().chain(&displaced).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..N).collect::<Vec<_>>());
    }
}
