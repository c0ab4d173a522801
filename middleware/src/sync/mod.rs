//! Lock-free structures that live inside shared memory (and one single-writer list).
//!
//! Every structure here is `#[repr(C)]`, holds only atomics, and refers to other things by
//! index or offset, never by pointer (each process maps memory at its own address). It is
//! placed by the caller in a [`Region`](crate::os::mmap::Region) at a byte offset:
//! a shared-memory [`Mapping`](crate::os::mmap::Mapping) in production, a
//! [`HeapMapping`](crate::os::mmap::HeapMapping) under tests, loom and Miri. The handle
//! types (`IndexQueueProducer`, `ChunkPool`, `Event`, ...) own or borrow the region and
//! offer a safe API.
//!
//! Every index or count read from shared memory is checked before use, because the other
//! side may be dead, buggy or hostile: corruption is an error, never an out-of-bounds access.
//! All atomics come from [`atomic`], which switches to loom under `cfg(loom)`.
//!
//! | module          | structure                                                      |
//! |-----------------|----------------------------------------------------------------|
//! | [`atomic`]      | the atomics facade (core or loom)                              |
//! | [`layout`]      | placing a structure in a region: size, alignment, writability  |
//! | [`index_queue`] | bounded SPSC queue of `u32` indices, reject or overwrite oldest |
//! | [`chunk_pool`]  | free list of chunk indices, written only by its owning port     |
//! | [`event`]       | futex event word: notify without a syscall unless someone sleeps |
//! | [`chunk_store`] | a publisher's data segment: chunks, holder masks, free list     |
//! | [`view`]        | bounds-checked words and bytes at offsets in a region           |
//!
//! Each module documents its words in a table: who writes them, with which ordering; the
//! code marks both sides of each acquire/release pair with a `// SYNC:` comment.
#![allow(unsafe_code)]

/// The atomics facade, from [`crate::os::atomic`] (where the futex wrappers get them too).
pub use crate::os::atomic;
pub mod chunk_pool;
pub mod chunk_store;
pub mod event;
pub mod index_queue;
pub mod layout;
pub mod view;

pub use chunk_pool::ChunkPool;

/// Logs (at debug level) an inconsistency found in shared memory and hands the error back.
/// Out of line and cold, so that the hot paths that check for one stay small enough to be
/// inlined into the ports.
#[cold]
#[inline(never)]
pub(crate) fn found<E: std::fmt::Debug>(error: E) -> E {
    tracing::debug!(?error, "found in shared memory");
    error
}
pub use event::Event;
pub use index_queue::{IndexQueueConsumer, IndexQueueProducer};
pub use layout::LayoutError;

#[cfg(all(test, not(loom)))]
mod scribble_tests {
    //! A hostile peer may write any bytes over a shared structure: every operation must then
    //! return values within bounds or an error, never panic, hang or access out of bounds.

    use super::index_queue::{self, Overflow, Pushed};
    use super::{ChunkPool, Event, IndexQueueConsumer, IndexQueueProducer, chunk_pool, event};
    use crate::os::mmap::HeapMapping;
    use std::time::Duration;

    /// Overwrites `len` bytes at the start of `heap` with pseudo-random words (xorshift),
    /// as a hostile process would. Plain writes, not atomics: Miri (rightly) refuses
    /// atomics of a different size over the same bytes, and this test is single-threaded.
    fn scribble(heap: &HeapMapping, len: usize, seed: u64) {
        assert!(len <= heap.len());
        let mut x = seed | 1;
        for i in 0..len / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mix in small values so that some fields look plausible.
            let value = if x.is_multiple_of(3) { x % 16 } else { x };
            // SAFETY: `i * 8 + 8 <= len <= heap.len()`, so the write is inside the
            // allocation; the base is page-aligned, so the `u64` is aligned. The structure
            // handles form references into the heap only during their calls, and this
            // test is single-threaded, so no reference is live and nothing races.
            unsafe { heap.as_ptr().add(i * 8).cast::<u64>().write(value) };
        }
    }

    /// Puts the expected capacity back (a `u32` at offset 0 in both headers), so that
    /// `open` succeeds and the operations run over the scribbled positions, links and slots.
    fn keep_capacity(heap: &HeapMapping, capacity: u32) {
        // SAFETY: offset 0 of a page-aligned allocation of at least 4 bytes; no reference
        // into it is live and the test is single-threaded (see `scribble`).
        unsafe { heap.as_ptr().cast::<u32>().write(capacity) };
    }

    #[test]
    fn scribbled_queues_pools_and_events_are_survivable() {
        const ROUNDS: u64 = if cfg!(miri) { 4 } else { 300 };
        for seed in 1..=ROUNDS {
            let len = index_queue::size_of(4);
            let heap = HeapMapping::new(len).unwrap();
            let mut producer = IndexQueueProducer::create(&heap, 0, 4, 8).unwrap();
            producer.push(1, Overflow::Reject).unwrap();
            scribble(&heap, len, seed);
            keep_capacity(&heap, 4);
            let mut consumer = IndexQueueConsumer::open(&heap, 0, 4, 8).unwrap();
            let mut producer = IndexQueueProducer::open(&heap, 0, 4, 8).unwrap();
            for _ in 0..8 {
                if let Ok(Pushed::Displaced(i)) = producer.push(2, Overflow::OverwriteOldest) {
                    assert!(i < 8);
                }
                if let Ok(Some(i)) = consumer.pop() {
                    assert!(i < 8);
                }
                assert!(consumer.len() <= 4);
            }

            let len = chunk_pool::size_of(4);
            let heap = HeapMapping::new(len).unwrap();
            ChunkPool::create(&heap, 0, 4).unwrap();
            scribble(&heap, len, seed);
            keep_capacity(&heap, 4);
            let mut pool = ChunkPool::open(&heap, 0, 4).unwrap();
            for _ in 0..8 {
                if let Ok(Some(i)) = pool.allocate() {
                    assert!(i < 4);
                    let _ = pool.release(i);
                }
                assert!(pool.free_count() <= 4);
            }

            let heap = HeapMapping::new(64).unwrap();
            let ev = Event::create(&heap, 0).unwrap();
            scribble(&heap, event::SIZE, seed);
            let _ = ev.notify();
            let _ = ev.wait_until(Some(Duration::ZERO), || None::<()>);
        }
    }
}
