//! A pool of chunk indices: the free list of a publisher's data segment.
//!
//! The free chunks form a linked list (a stack) threaded through a per-chunk array of `u32`
//! links, with the first free index in the header. The link word of an allocated chunk
//! holds [`ALLOCATED`], which makes a double release (or the release of a chunk that was
//! never handed out) a detected error instead of a corrupted list.
//!
//! The pool lives in memory written only by the port that owns it (a publisher's data
//! segment, mapped read-only by everyone else): others return chunks through queues, so a
//! crashed peer can never leave the list half-updated, and the owner needs no atomic
//! read-modify-write at all. `allocate` and `release` take `&mut self`, so the type system
//! keeps them to one thread at a time. The words are still atomics (Relaxed loads and
//! stores, plain moves on x86-64) because tools in other processes may read them while the
//! owner writes.
//!
//! ## Layout (`#[repr(C)]`, 64-byte aligned)
//!
//! | word       | type        | written by          | ordering                                   |
//! |------------|-------------|---------------------|--------------------------------------------|
//! | `capacity` | `u32`       | creator, once       | Relaxed                                    |
//! | `free`     | `u32`       | the owner           | Relaxed (a statistic)                      |
//! | `head`     | `u64`       | the owner           | Relaxed; the first free index ([`NIL`]: none) |
//! | `next[i]`  | `u32` × cap | the owner           | Relaxed                                    |
//!
//! `next[i]` is the index of the next free chunk ([`NIL`] ends the list) while `i` is free,
//! and [`ALLOCATED`] while it is allocated. Every value read back is checked against the
//! capacity the caller gives, so a scribbled pool yields errors, never an access out of
//! bounds.

use crate::os::mmap::Region;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::found;
use crate::sync::layout::{CachePadded, LayoutError, MAX_CAPACITY, Placement};

const NAME: &str = "chunk pool";

/// Link value that ends the free list.
pub const NIL: u32 = u32::MAX;
/// Link value of an allocated chunk.
pub const ALLOCATED: u32 = u32::MAX - 1;

#[repr(C)]
struct Header {
    capacity: AtomicU32,
    free: AtomicU32,
    head: CachePadded<AtomicU64>,
}

/// Bytes a pool of `capacity` chunks occupies (a multiple of its alignment).
pub fn size_of(capacity: u32) -> usize {
    let links = capacity as usize * std::mem::size_of::<AtomicU32>();
    (std::mem::size_of::<Header>() + links).next_multiple_of(ALIGN)
}

/// The alignment a pool needs (its offset in the region must be a multiple).
pub const ALIGN: usize = std::mem::align_of::<Header>();

/// The pool's shared state is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A link or the head holds a value out of range.
    #[error(
        "chunk pool is corrupted ({word} holds {value}, capacity {capacity}); the segment was overwritten: recreate the port"
    )]
    Corrupted {
        /// Which word: `"head"` or `"next"`.
        word: &'static str,
        /// The value found.
        value: u32,
        /// The pool's capacity.
        capacity: u32,
    },
    /// The capacity stored in shared memory is not the one the caller expects.
    #[error(
        "chunk pool has capacity {found} in shared memory, expected {expected}; the segment belongs to a different configuration or is corrupted"
    )]
    CapacityMismatch {
        /// Capacity the caller expects.
        expected: u32,
        /// Capacity found in shared memory.
        found: u32,
    },
}

/// Failure of [`ChunkPool::release`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// The index is not a chunk of this pool.
    #[error(
        "chunk {index} is out of range (the pool has {capacity} chunks); it was not allocated from this pool"
    )]
    OutOfRange {
        /// The rejected index.
        index: u32,
        /// The pool's capacity.
        capacity: u32,
    },
    /// The chunk is not allocated: it was released twice, or never allocated.
    #[error("chunk {index} is not allocated (double release?); the pool is unchanged")]
    NotAllocated {
        /// The rejected index.
        index: u32,
    },
}

/// Failure of [`ChunkPool::open`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkPoolOpenError {
    /// The pool does not fit where it should be.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The pool's shared state does not match.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// A handle to a chunk pool in a region, owned by the one port that allocates from it.
#[derive(Debug)]
pub struct ChunkPool<R> {
    place: Placement<R>,
    capacity: u32,
}

impl<R: Region> ChunkPool<R> {
    fn place(region: R, offset: usize, capacity: u32) -> Result<Self, LayoutError> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(LayoutError::Capacity {
                structure: NAME,
                capacity,
            });
        }
        let place = Placement::new(NAME, region, offset, size_of(capacity), ALIGN)?;
        Ok(Self { place, capacity })
    }

    /// Initialises a pool of `capacity` chunks, all free, at `offset` in `region`. Call this
    /// once, before anyone else opens the pool.
    pub fn create(region: R, offset: usize, capacity: u32) -> Result<Self, LayoutError> {
        let pool = Self::place(region, offset, capacity)?;
        #[cfg(loom)]
        // SAFETY: the header sits at offset 0 of the checked, `ALIGN`-aligned placement and
        // each link inside it as argued in `next`. No other access can race with these plain
        // writes: this code exists only in loom models, whose tests call `create` before
        // sharing the region (the documented contract); real builds use atomic stores.
        unsafe {
            pool.place.emplace(
                0,
                Header {
                    capacity: AtomicU32::new(0),
                    free: AtomicU32::new(0),
                    head: CachePadded(AtomicU64::new(0)),
                },
            );
            for i in 0..capacity as usize {
                pool.place.emplace(
                    std::mem::size_of::<Header>() + i * std::mem::size_of::<AtomicU32>(),
                    AtomicU32::new(0),
                );
            }
        }
        for i in 0..capacity {
            let link = if i + 1 == capacity { NIL } else { i + 1 };
            pool.next(i).store(link, Ordering::Relaxed);
        }
        let header = pool.header();
        header.free.store(capacity, Ordering::Relaxed);
        header.capacity.store(capacity, Ordering::Relaxed);
        // SYNC(release): a `ChunkPool` moved to another thread is moved with the
        // synchronisation of that move; other processes get the segment through the registry's
        // Release publication. The store orders nothing else.
        header.head.0.store(0, Ordering::Release);
        tracing::trace!(capacity, offset, "created chunk pool");
        Ok(pool)
    }

    /// Opens an existing pool; `capacity` must match the stored one.
    pub fn open(region: R, offset: usize, capacity: u32) -> Result<Self, ChunkPoolOpenError> {
        let pool = Self::place(region, offset, capacity)?;
        let found = pool.header().capacity.load(Ordering::Relaxed);
        if found != capacity {
            tracing::debug!(expected = capacity, found, "chunk pool capacity mismatch");
            return Err(PoolError::CapacityMismatch {
                expected: capacity,
                found,
            }
            .into());
        }
        Ok(pool)
    }

    fn header(&self) -> &Header {
        // SAFETY: offset 0, and `size_of::<Header>() <= size_of(capacity)`, the size
        // `Placement::new` checked; the placement is `ALIGN = align_of::<Header>()` aligned.
        // `Header` is made of atomics and padding only (under loom, `create` built them).
        unsafe { self.place.get::<Header>(0) }
    }

    /// The link word of chunk `index`; `index < capacity` (the caller's capacity).
    fn next(&self, index: u32) -> &AtomicU32 {
        debug_assert!(index < self.capacity);
        let byte_offset =
            std::mem::size_of::<Header>() + index as usize * std::mem::size_of::<AtomicU32>();
        // SAFETY: every caller checks `index < capacity` first, so the word ends at most at
        // `size_of::<Header>() + capacity * 4 <= size_of(capacity)`, the checked size; the
        // header's size is a multiple of 64, so the word is 4-aligned; an `AtomicU32` is
        // valid for any bits.
        unsafe { self.place.get::<AtomicU32>(byte_offset) }
    }

    /// Takes a free chunk, or `None` if every chunk is allocated.
    #[inline]
    pub fn allocate(&mut self) -> Result<Option<u32>, PoolError> {
        let header = self.header();
        // Only the owner writes `head` and the links: Relaxed reads see its own last writes.
        let head = header.head.0.load(Ordering::Relaxed);
        if head == u64::from(NIL) {
            return Ok(None);
        }
        let index = match u32::try_from(head) {
            Ok(index) if index < self.capacity => index,
            _ => {
                return Err(found(PoolError::Corrupted {
                    word: "head",
                    value: u32::try_from(head).unwrap_or(u32::MAX),
                    capacity: self.capacity,
                }));
            }
        };
        let next = self.next(index).load(Ordering::Relaxed);
        if next != NIL && next >= self.capacity {
            return Err(found(PoolError::Corrupted {
                word: "next",
                value: next,
                capacity: self.capacity,
            }));
        }
        self.next(index).store(ALLOCATED, Ordering::Relaxed);
        header.head.0.store(u64::from(next), Ordering::Relaxed);
        let free = header.free.load(Ordering::Relaxed);
        header.free.store(free.saturating_sub(1), Ordering::Relaxed);
        Ok(Some(index))
    }

    /// Returns chunk `index` to the pool. A chunk that is not allocated (double release) or
    /// not in the pool is refused and the pool stays unchanged.
    #[inline]
    pub fn release(&mut self, index: u32) -> Result<(), ReleaseError> {
        if index >= self.capacity {
            return Err(found(ReleaseError::OutOfRange {
                index,
                capacity: self.capacity,
            }));
        }
        if self.next(index).load(Ordering::Relaxed) != ALLOCATED {
            return Err(found(ReleaseError::NotAllocated { index }));
        }
        let header = self.header();
        // A head out of range (scribbled) becomes NIL in the link: the list stays made of
        // valid indices, at the cost of the chunks it no longer reaches.
        let head = header.head.0.load(Ordering::Relaxed);
        let link = u32::try_from(head)
            .ok()
            .filter(|&h| h < self.capacity)
            .unwrap_or(NIL);
        self.next(index).store(link, Ordering::Relaxed);
        header.head.0.store(u64::from(index), Ordering::Relaxed);
        let free = header.free.load(Ordering::Relaxed);
        header.free.store(free.saturating_add(1), Ordering::Relaxed);
        Ok(())
    }

    /// Whether chunk `index` is currently allocated (`None` if out of range). A snapshot,
    /// for diagnostics and cleanup audits.
    pub fn is_allocated(&self, index: u32) -> Option<bool> {
        (index < self.capacity).then(|| self.next(index).load(Ordering::Relaxed) == ALLOCATED)
    }

    /// Number of free chunks (a snapshot; never more than the capacity).
    pub fn free_count(&self) -> u32 {
        self.header()
            .free
            .load(Ordering::Relaxed)
            .min(self.capacity)
    }

    /// Number of chunks.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The region the pool lives in.
    pub fn region(&self) -> &R {
        self.place.region()
    }

    /// The pool's byte offset in its region.
    pub fn offset(&self) -> usize {
        self.place.offset()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::os::mmap::HeapMapping;

    #[test]
    fn allocates_every_chunk_once() {
        let heap = HeapMapping::new(size_of(5)).unwrap();
        let mut pool = ChunkPool::create(&heap, 0, 5).unwrap();
        assert_eq!(pool.free_count(), 5);
        let mut got: Vec<u32> = std::iter::from_fn(|| pool.allocate().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert_eq!(pool.free_count(), 0);
        assert_eq!(pool.allocate().unwrap(), None);
        assert_eq!(pool.is_allocated(3), Some(true));
        pool.release(3).unwrap();
        assert_eq!(pool.is_allocated(3), Some(false));
        assert_eq!(pool.is_allocated(5), None);
        assert_eq!(pool.allocate().unwrap(), Some(3));
        for i in 0..5 {
            pool.release(i).unwrap();
        }
        assert_eq!(pool.free_count(), 5);
    }

    #[test]
    fn double_and_foreign_release_are_refused() {
        let heap = HeapMapping::new(size_of(2)).unwrap();
        let mut pool = ChunkPool::create(&heap, 0, 2).unwrap();
        assert_eq!(
            pool.release(0),
            Err(ReleaseError::NotAllocated { index: 0 })
        );
        let i = pool.allocate().unwrap().unwrap();
        pool.release(i).unwrap();
        assert_eq!(
            pool.release(i),
            Err(ReleaseError::NotAllocated { index: i })
        );
        assert_eq!(
            pool.release(2),
            Err(ReleaseError::OutOfRange {
                index: 2,
                capacity: 2
            })
        );
        assert_eq!(pool.free_count(), 2);
        let mut all: Vec<u32> = std::iter::from_fn(|| pool.allocate().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1]);
    }

    #[test]
    fn open_checks_capacity() {
        let heap = HeapMapping::new(size_of(4)).unwrap();
        ChunkPool::create(&heap, 0, 4).unwrap();
        assert!(ChunkPool::open(&heap, 0, 4).is_ok());
        assert!(matches!(
            ChunkPool::open(&heap, 0, 3),
            Err(ChunkPoolOpenError::Pool(PoolError::CapacityMismatch {
                expected: 3,
                found: 4
            }))
        ));
        assert!(matches!(
            ChunkPool::create(&heap, 0, 0),
            Err(LayoutError::Capacity { .. })
        ));
    }

    #[test]
    fn corruption_is_reported() {
        let heap = HeapMapping::new(size_of(4)).unwrap();
        let mut pool = ChunkPool::create(&heap, 0, 4).unwrap();
        pool.next(0).store(1234, Ordering::Relaxed);
        assert!(matches!(
            pool.allocate(),
            Err(PoolError::Corrupted { word: "next", .. })
        ));
        pool.header().head.0.store(99, Ordering::Relaxed);
        assert!(matches!(
            pool.allocate(),
            Err(PoolError::Corrupted { word: "head", .. })
        ));
        pool.header().free.store(u32::MAX, Ordering::Relaxed);
        assert_eq!(pool.free_count(), 4);
    }

    #[test]
    fn follows_a_model_through_random_operations() {
        const STEPS: usize = if cfg!(miri) { 200 } else { 20_000 };
        let heap = HeapMapping::new(size_of(8)).unwrap();
        let mut pool = ChunkPool::create(&heap, 0, 8).unwrap();
        let mut held: Vec<u32> = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..STEPS {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(2) {
                match pool.allocate().unwrap() {
                    Some(i) => {
                        assert!(!held.contains(&i), "chunk {i} handed out twice");
                        held.push(i);
                    }
                    None => assert_eq!(held.len(), 8),
                }
            } else if !held.is_empty() {
                let i = held.swap_remove((x >> 8) as usize % held.len());
                pool.release(i).unwrap();
            }
            assert_eq!(pool.free_count() as usize, 8 - held.len());
            for i in 0..8 {
                assert_eq!(pool.is_allocated(i), Some(held.contains(&i)));
            }
        }
    }
}
