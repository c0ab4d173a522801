//! A publisher's data segment: equal chunks, their holders, and a free list.
//!
//! The owning process (the publisher) is the only writer of the whole segment; readers map
//! it read-only and never write it, so they cannot corrupt it. Each chunk is a
//! [`ChunkHeader`] followed by the payload. Which readers still hold a chunk is recorded
//! in shared memory, in a per-chunk bit mask (`holders`), so that the owner can tell at any
//! time which chunks a departed or dead reader took with it, and tools can inspect it.
//!
//! ## Layout (offsets from the segment start)
//!
//! | bytes                    | field                                   | written by | ordering |
//! |--------------------------|-----------------------------------------|------------|----------|
//! | 0..8                     | magic `SHMBUSD1`                        | owner, once | published by the registry's Release |
//! | 8..16                    | chunk count                             | owner, once | " |
//! | 16..24                   | chunk stride (bytes, multiple of 64)    | owner, once | " |
//! | 24..32                   | offset of chunk 0 (aligned for the payload) | owner, once | " |
//! | 32..40                   | payload offset inside a chunk           | owner, once | " |
//! | 40..48                   | payload size                            | owner, once | " |
//! | 64..64+8n                | `holders[i]`: bit s = reader slot s, bit 63 = the owner (loaned or kept in history) | owner | Relaxed (read by tools only) |
//! | aligned 64               | [`ChunkPool`] of n chunks               | owner | see `chunk_pool` |
//! | chunk 0 offset + i·stride | chunk i: [`ChunkHeader`], payload       | owner while it holds the chunk alone | published by the index queue's Release |
//!
//! A chunk is written only while its holders mask is exactly the owner bit and the chunk
//! is not in any queue (a [`Loan`]), which is what makes handing out `&mut` to it sound;
//! readers read it only between popping its index and returning it.
//!
//! The store knows bytes only: a [`LoanedChunk`] is the payload's bytes, a reader gets the
//! address of a payload; what type they hold is the ports' business.

use std::ptr::NonNull;

use crate::os::mmap::Region;
use crate::sync::chunk_pool::{self, ChunkPool, ChunkPoolOpenError, PoolError, ReleaseError};
use crate::sync::layout::{LayoutError, align_up};
use crate::sync::view::View;

const MAGIC: u64 = u64::from_le_bytes(*b"SHMBUSD1");
/// Bit of the holders mask that stands for the owner itself.
pub const OWNER_BIT: u64 = 1 << 63;
/// The most readers a segment can track (bits 0..63 of the holders mask).
pub const MAX_READERS: u32 = 63;
/// The largest number of chunks a segment may have: the one statement of the limit. A
/// chunk index then fits the 16 bits a queue entry has for it (`port::channel::entry`), and
/// the QoS check refuses limits that would need more chunks.
pub const MAX_CHUNKS: u32 = 1 << 16;

/// Bytes of the header that precedes every payload.
pub const CHUNK_HEADER_SIZE: usize = 32;

/// The metadata the owner writes before a chunk's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkHeader {
    /// Id of the publishing port.
    pub origin: u64,
    /// Sequence number of the sample, per publisher, from 1.
    pub sequence: u64,
    /// Monotonic clock at send (nanoseconds since boot).
    pub timestamp_ns: u64,
    /// What a request-response message answers or asks (0 for publish-subscribe).
    pub correlation: u64,
}

/// The geometry of a segment, derived from the payload type and the chunk count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLayout {
    /// Number of chunks.
    pub count: u32,
    /// Bytes from one chunk to the next.
    pub stride: usize,
    /// Offset of the payload inside a chunk.
    pub payload_offset: usize,
    /// Size of the payload in bytes.
    pub payload_size: usize,
    /// Offset of the first chunk in the segment.
    pub chunks_offset: usize,
    /// Offset of the free list.
    pub pool_offset: usize,
    /// Total size of the segment.
    pub segment_size: usize,
}

/// Failure to compute or check a segment's geometry.
#[derive(Debug, thiserror::Error)]
pub enum ChunkLayoutError {
    /// The chunk count is zero or too large.
    #[error(
        "a data segment needs between 1 and {MAX_CHUNKS} chunks, not {count}; lower the QoS limits (subscribers, buffer, history, loans)"
    )]
    Count {
        /// The count asked for.
        count: u64,
    },
    /// The payload is too large to be addressed.
    #[error(
        "a data segment of {count} chunks of {payload_size} bytes does not fit in the address space; lower the QoS limits"
    )]
    TooLarge {
        /// Chunks.
        count: u32,
        /// Payload bytes.
        payload_size: usize,
    },
    /// The segment's stored geometry differs from the expected one.
    #[error("data segment is corrupted or of another version: {what}")]
    Corrupted {
        /// What differs.
        what: String,
    },
    /// A structure did not fit.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The free list could not be opened.
    #[error(transparent)]
    Pool(#[from] ChunkPoolOpenError),
}

impl ChunkLayout {
    /// The geometry for `count` chunks of payloads of `size` bytes aligned to `align`.
    pub fn new(count: u64, size: usize, align: usize) -> Result<Self, ChunkLayoutError> {
        let count = u32::try_from(count)
            .ok()
            .filter(|c| (1..=MAX_CHUNKS).contains(c))
            .ok_or(ChunkLayoutError::Count { count })?;
        let too_large = ChunkLayoutError::TooLarge {
            count,
            payload_size: size,
        };
        let payload_offset = align_up(CHUNK_HEADER_SIZE, align.max(8)).ok_or(too_large)?;
        let too_large = || ChunkLayoutError::TooLarge {
            count,
            payload_size: size,
        };
        let stride = payload_offset
            .checked_add(size)
            .and_then(|end| align_up(end, 64.max(align)))
            .ok_or_else(too_large)?;
        let pool_offset =
            align_up(64 + 8 * count as usize, chunk_pool::ALIGN).ok_or_else(too_large)?;
        // The chunks follow the free list at their own alignment (not a page: small
        // payloads then share the segment's first page with the bookkeeping).
        let chunks_offset = pool_offset
            .checked_add(chunk_pool::size_of(count))
            .and_then(|end| align_up(end, 64.max(align)))
            .ok_or_else(too_large)?;
        let segment_size = stride
            .checked_mul(count as usize)
            .and_then(|bytes| bytes.checked_add(chunks_offset))
            .filter(|&total| total <= isize::MAX as usize)
            .ok_or_else(too_large)?;
        Ok(Self {
            count,
            stride,
            payload_offset,
            payload_size: size,
            chunks_offset,
            pool_offset,
            segment_size,
        })
    }

    fn chunk_offset(&self, index: u32) -> usize {
        self.chunks_offset + index as usize * self.stride
    }
}

/// The owner's bookkeeping of its segment is inconsistent (the segment was overwritten).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The free list is corrupted.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A chunk could not be returned to the free list.
    #[error(transparent)]
    Release(ReleaseError),
    /// The payload type does not fit the segment.
    #[error(
        "a payload of {size} bytes aligned to {align} does not fit chunks of {payload_size} bytes"
    )]
    PayloadMismatch {
        /// Size of the type.
        size: usize,
        /// Alignment of the type.
        align: usize,
        /// Payload bytes per chunk.
        payload_size: usize,
    },
}

/// A loaned chunk: its token and where its payload is. The owner may read and write the
/// payload while the [`ChunkStore`] that loaned it is alive (the store keeps the segment
/// mapped; the chunk does not, so a loan costs no reference count). Give the chunk back with
/// [`ChunkStore::share`] or [`ChunkStore::discard`] (through [`LoanedChunk::into_loan`]).
#[derive(Debug)]
pub struct LoanedChunk {
    loan: Loan,
    ptr: NonNull<u8>,
    len: usize,
}

impl LoanedChunk {
    /// The chunk's index.
    pub fn index(&self) -> u32 {
        self.loan.index
    }

    /// The payload's address (aligned as the segment's layout says), for writing a value in
    /// place.
    #[inline]
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The payload's address, for reading.
    #[inline]
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The payload's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the payload is empty (a zero-sized message type).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The payload's bytes, to read and write.
    ///
    /// # Safety
    ///
    /// The [`ChunkStore`] that loaned the chunk must still be alive: it keeps the segment
    /// mapped.
    #[inline]
    pub unsafe fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` and `len` were checked by `ChunkStore::loan_chunk` to lie inside the
        // segment, which the store keeps mapped while it lives (the caller's promise);
        // every byte of a segment is initialised (zero-filled by the kernel or the heap,
        // then only ever written), and any bytes are valid `u8`s; the `Loan` proves this
        // process holds the chunk alone (not in any queue, readers map read-only), and
        // `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The token, to give the chunk back.
    #[inline]
    pub fn into_loan(self) -> Loan {
        self.loan
    }
}

// SAFETY: the payload is plain memory owned by this loan alone; moving the handle to another
// thread moves that ownership (as for `Box<[u8]>`); the memory stays mapped as long as the
// store, whose owner decides on which thread it lives.
unsafe impl Send for LoanedChunk {}

/// A chunk the owner holds alone: it may write it. Not `Clone`: one token per chunk.
#[derive(Debug)]
pub struct Loan {
    index: u32,
}

impl Loan {
    /// The chunk's index.
    pub fn index(&self) -> u32 {
        self.index
    }
}

/// The owner's handle to its segment.
#[derive(Debug)]
pub struct ChunkStore<R> {
    view: View<R>,
    pool: ChunkPool<R>,
    layout: ChunkLayout,
}

impl<R: Region + Clone> ChunkStore<R> {
    /// Initialises a segment with `layout` in `region` (which must be at least
    /// `layout.segment_size` long, writable, and not yet shared).
    pub fn create(region: R, layout: ChunkLayout) -> Result<Self, ChunkLayoutError> {
        let view = View::new(region.clone(), 0, layout.segment_size)?;
        let pool = ChunkPool::create(region, layout.pool_offset, layout.count)?;
        for (i, value) in [
            MAGIC,
            u64::from(layout.count),
            layout.stride as u64,
            layout.chunks_offset as u64,
            layout.payload_offset as u64,
            layout.payload_size as u64,
        ]
        .into_iter()
        .enumerate()
        {
            view.u64(i * 8)?
                .store(value, crate::sync::atomic::Ordering::Relaxed);
        }
        for i in 0..layout.count as usize {
            view.u64(64 + 8 * i)?
                .store(0, crate::sync::atomic::Ordering::Relaxed);
        }
        Ok(Self { view, pool, layout })
    }

    /// The segment's geometry.
    pub fn layout(&self) -> &ChunkLayout {
        &self.layout
    }

    /// Takes a free chunk for writing; `None` when every chunk is held.
    pub fn allocate(&mut self) -> Result<Option<Loan>, StoreError> {
        let Some(index) = self.pool.allocate()? else {
            return Ok(None);
        };
        self.set_holders(index, OWNER_BIT);
        Ok(Some(Loan { index }))
    }

    fn holders_word(&self, index: u32) -> Option<&crate::sync::atomic::AtomicU64> {
        if index >= self.layout.count {
            return None;
        }
        self.view.u64(64 + 8 * index as usize).ok()
    }

    fn set_holders(&self, index: u32, mask: u64) {
        if let Some(word) = self.holders_word(index) {
            word.store(mask, crate::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The holders mask of chunk `index` (0 when free or out of range).
    pub fn holders(&self, index: u32) -> u64 {
        self.holders_word(index)
            .map_or(0, |w| w.load(crate::sync::atomic::Ordering::Relaxed))
    }

    /// Writes the header of a loaned chunk.
    pub fn write_header(&mut self, loan: &Loan, header: ChunkHeader) {
        let base = self.layout.chunk_offset(loan.index);
        if let Ok(words) = self.view.u64s::<4>(base) {
            let values = [
                header.origin,
                header.sequence,
                header.timestamp_ns,
                header.correlation,
            ];
            for (word, value) in words.iter().zip(values) {
                word.store(value, crate::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Takes a free chunk for writing, as bytes; `Ok(None)` when every chunk is held.
    pub fn loan_chunk(&mut self) -> Result<Option<LoanedChunk>, StoreError> {
        let Some(loan) = self.allocate()? else {
            return Ok(None);
        };
        let len = self.layout.payload_size;
        let at = self.layout.chunk_offset(loan.index) + self.layout.payload_offset;
        let region = self.view.region();
        let Some(ptr) = at
            .checked_add(len)
            .filter(|&end| end <= region.len())
            // SAFETY: `at + len <= region.len()` (checked), so the address is inside the
            // region's allocation.
            .and_then(|_| NonNull::new(unsafe { region.as_ptr().add(at) }))
        else {
            self.discard(loan)?;
            return Err(StoreError::PayloadMismatch {
                size: len,
                align: 1,
                payload_size: self.layout.payload_size,
            });
        };
        Ok(Some(LoanedChunk { loan, ptr, len }))
    }

    /// Gives up write access to a loaned chunk: from now on it is held by the readers in
    /// `readers` (bit mask) and, if `keep`, by the owner's history. Returns its index.
    pub fn share(&mut self, loan: Loan, readers: u64, keep: bool) -> Result<u32, StoreError> {
        let mask = (readers & !OWNER_BIT) | if keep { OWNER_BIT } else { 0 };
        let index = loan.index;
        if mask == 0 {
            self.set_holders(index, 0);
            self.pool.release(index).map_err(StoreError::Release)?;
        } else {
            self.set_holders(index, mask);
        }
        Ok(index)
    }

    /// Returns an unsent loan to the free list.
    pub fn discard(&mut self, loan: Loan) -> Result<(), StoreError> {
        self.share(loan, 0, false).map(|_| ())
    }

    /// Removes `bits` from the holders of chunk `index`; frees it when nobody holds it any
    /// more. Returns whether it was freed. Bits that were not set are ignored, so a reader
    /// returning a chunk twice, or a chunk it never had, cannot free someone else's chunk.
    pub fn release(&mut self, index: u32, bits: u64) -> Result<bool, StoreError> {
        let Some(word) = self.holders_word(index) else {
            return Err(StoreError::Release(ReleaseError::OutOfRange {
                index,
                capacity: self.layout.count,
            }));
        };
        let before = word.load(crate::sync::atomic::Ordering::Relaxed);
        if before & bits == 0 {
            return Ok(false);
        }
        let after = before & !bits;
        word.store(after, crate::sync::atomic::Ordering::Relaxed);
        if after == 0 {
            self.pool.release(index).map_err(StoreError::Release)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Adds `bits` to the holders of chunk `index` if it is held at all (history replay).
    pub fn add_holders(&mut self, index: u32, bits: u64) -> bool {
        let held = self.holders(index);
        if held == 0 {
            return false;
        }
        self.set_holders(index, held | bits);
        true
    }

    /// Removes reader `bits` from every chunk (the reader left or died); returns how many
    /// chunks were freed.
    pub fn release_everywhere(&mut self, bits: u64) -> Result<u32, StoreError> {
        let mut freed = 0;
        for index in 0..self.layout.count {
            if self.holders(index) & bits != 0 && self.release(index, bits)? {
                freed += 1;
            }
        }
        Ok(freed)
    }

    /// Number of free chunks.
    pub fn free_count(&self) -> u32 {
        self.pool.free_count()
    }
}

/// A reader's read-only handle to somebody else's segment.
#[derive(Debug)]
pub struct ChunkReader<R> {
    view: View<R>,
    layout: ChunkLayout,
}

impl<R: Region> ChunkReader<R> {
    /// Opens a segment and checks that its stored geometry is `expected` and fits the
    /// region. Nothing of the segment is trusted before this check.
    pub fn open(region: R, expected: ChunkLayout) -> Result<Self, ChunkLayoutError> {
        if region.len() < expected.segment_size {
            return Err(ChunkLayoutError::Corrupted {
                what: format!(
                    "{} bytes mapped, {} expected",
                    region.len(),
                    expected.segment_size
                ),
            });
        }
        let view = View::new(region, 0, expected.segment_size)?;
        let found = [
            view.load_u64(0)?,
            view.load_u64(8)?,
            view.load_u64(16)?,
            view.load_u64(24)?,
            view.load_u64(32)?,
            view.load_u64(40)?,
        ];
        let wanted = [
            MAGIC,
            u64::from(expected.count),
            expected.stride as u64,
            expected.chunks_offset as u64,
            expected.payload_offset as u64,
            expected.payload_size as u64,
        ];
        if found != wanted {
            return Err(ChunkLayoutError::Corrupted {
                what: format!("header {found:?}, expected {wanted:?}"),
            });
        }
        Ok(Self {
            view,
            layout: expected,
        })
    }

    /// The header of chunk `index`; `None` if out of range.
    pub fn header(&self, index: u32) -> Option<ChunkHeader> {
        if index >= self.layout.count {
            return None;
        }
        let base = self.layout.chunk_offset(index);
        let [origin, sequence, timestamp_ns, correlation] = self.view.load_u64s(base).ok()?;
        Some(ChunkHeader {
            origin,
            sequence,
            timestamp_ns,
            correlation,
        })
    }

    /// The payload bytes of chunk `index` (`payload_size` long); `None` if out of range.
    ///
    /// The owner does not write a chunk between handing its index to a reader and getting
    /// it back, so the bytes are stable while the reader holds the chunk — for an honest
    /// owner. A hostile owner can still change them (it has the segment writable); types
    /// whose every bit pattern is valid are immune to that, see `message::validate`.
    pub fn payload(&self, index: u32) -> Option<&[u8]> {
        if index >= self.layout.count {
            return None;
        }
        let at = self.layout.chunk_offset(index) + self.layout.payload_offset;
        if at.checked_add(self.layout.payload_size)? > self.view.len() {
            return None;
        }
        let region = self.view.region();
        // SAFETY: `at + payload_size <= view.len() <= region.len()` (the view was checked
        // against the region in `View::new`), so the slice lies inside the mapping, which
        // the `Region` contract keeps mapped and initialised while `self` lives (the borrow
        // of `self` bounds the slice). No one in this process writes it (read-only region
        // or, for tests, a region nobody writes while readers hold the chunk); the owner's
        // protocol above keeps the bytes unchanged while the reader holds the chunk.
        Some(unsafe {
            std::slice::from_raw_parts(region.as_ptr().add(at), self.layout.payload_size)
        })
    }

    /// The segment's geometry.
    pub fn layout(&self) -> &ChunkLayout {
        &self.layout
    }
}

impl<R: Region> ChunkReader<R> {
    /// The address of chunk `index`'s payload (`payload_size` readable bytes, aligned as
    /// the layout says), valid while this reader lives; `None` if out of range.
    #[inline]
    pub fn payload_ptr(&self, index: u32) -> Option<NonNull<u8>> {
        let bytes = self.payload(index)?;
        Some(NonNull::from(bytes).cast::<u8>())
    }
}

/// Why a chunk could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// The index is not a chunk of the segment.
    #[error(
        "chunk index {index} is out of range (the segment has {count}); the publisher's queue entry is corrupted"
    )]
    OutOfRange {
        /// The index.
        index: u32,
        /// Chunks in the segment.
        count: u32,
    },
    /// The chunk's header names another publisher than the one whose queue held its index.
    #[error(
        "chunk {index} carries publisher id {found:016x}, not {expected:016x}; the publisher's segment or queue entry is corrupted"
    )]
    ForeignChunk {
        /// The index.
        index: u32,
        /// The publisher id in the chunk's header.
        found: u64,
        /// The id of the publisher the queue belongs to.
        expected: u64,
    },
    /// The bytes are not a valid message of the service's type.
    #[error(transparent)]
    Invalid(#[from] crate::message::ValidationError),
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::os::mmap::HeapMapping;
    use std::sync::Arc;

    #[test]
    fn loan_share_release_round_trip() {
        let layout = ChunkLayout::new(4, 24, 8).unwrap();
        let heap = Arc::new(HeapMapping::new(layout.segment_size).unwrap());
        let mut store = ChunkStore::create(heap.clone(), layout).unwrap();
        let reader = ChunkReader::open(heap.clone(), layout).unwrap();
        let mut chunk = store.loan_chunk().unwrap().unwrap();
        assert_eq!(chunk.len(), 24);
        assert_eq!(chunk.as_mut_ptr() as usize % 8, 0);
        // SAFETY: `store` lives to the end of the test.
        let bytes = unsafe { chunk.bytes_mut() };
        bytes[8] = 2;
        let loan = chunk.into_loan();
        store.write_header(
            &loan,
            ChunkHeader {
                origin: 9,
                sequence: 1,
                timestamp_ns: 5,
                correlation: 0,
            },
        );
        let index = store.share(loan, 0b101, false).unwrap();
        assert_eq!(store.free_count(), 3);
        assert_eq!(reader.header(index).unwrap().sequence, 1);
        let bytes = reader.payload(index).unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(bytes[8], 2);
        let ptr = reader.payload_ptr(index).unwrap();
        assert_eq!(ptr.as_ptr().cast_const(), bytes.as_ptr());
        assert!(!store.release(index, 0b1).unwrap());
        assert!(
            !store.release(index, 0b1).unwrap(),
            "a second return is ignored"
        );
        assert!(store.release(index, 0b100).unwrap());
        assert_eq!(store.free_count(), 4);
        assert!(reader.payload(4).is_none());
        assert!(reader.header(4).is_none());
    }

    #[test]
    fn exhaustion_and_departed_readers() {
        let layout = ChunkLayout::new(2, 8, 8).unwrap();
        let heap = Arc::new(HeapMapping::new(layout.segment_size).unwrap());
        let mut store = ChunkStore::create(heap, layout).unwrap();
        let a = store.allocate().unwrap().unwrap();
        let b = store.allocate().unwrap().unwrap();
        assert!(store.allocate().unwrap().is_none());
        assert!(store.loan_chunk().unwrap().is_none());
        store.share(a, 0b11, false).unwrap();
        store.share(b, 0b10, true).unwrap();
        assert_eq!(store.release_everywhere(0b10).unwrap(), 0);
        assert_eq!(store.release_everywhere(0b1).unwrap(), 1);
        assert_eq!(store.free_count(), 1);
        assert!(store.release(1, OWNER_BIT).unwrap());
        assert_eq!(store.free_count(), 2);
    }

    #[test]
    fn a_reader_rejects_a_foreign_geometry() {
        let layout = ChunkLayout::new(2, 8, 8).unwrap();
        let heap = Arc::new(HeapMapping::new(layout.segment_size + 4096).unwrap());
        ChunkStore::create(heap.clone(), layout).unwrap();
        let other = ChunkLayout::new(3, 8, 8).unwrap();
        assert!(ChunkReader::open(heap.clone(), other).is_err());
        assert!(ChunkLayout::new(0, 8, 8).is_err());
        assert!(ChunkLayout::new(u64::from(MAX_CHUNKS) + 1, 8, 8).is_err());
        assert!(ChunkLayout::new(1, usize::MAX - 10, 8).is_err());
    }

    #[test]
    fn payloads_are_aligned_as_the_type_needs() {
        for align in [1, 2, 8, 64, 256, 4096] {
            let layout = ChunkLayout::new(3, 5 * align, align).unwrap();
            assert_eq!(layout.payload_offset % align, 0);
            assert_eq!(layout.chunks_offset % align, 0);
            assert_eq!(layout.stride % align, 0);
        }
        // Small payloads share the first page with the bookkeeping.
        let small = ChunkLayout::new(4, 8, 8).unwrap();
        assert!(small.segment_size < 4096, "{small:?}");
    }

    #[test]
    fn a_loan_holds_the_previous_payload_or_zeroes() {
        let layout = ChunkLayout::new(1, 16, 8).unwrap();
        let heap = Arc::new(HeapMapping::new(layout.segment_size).unwrap());
        let mut store = ChunkStore::create(heap, layout).unwrap();
        let mut fresh = store.loan_chunk().unwrap().unwrap();
        // SAFETY: `store` lives to the end of the test.
        let bytes = unsafe { fresh.bytes_mut() };
        assert_eq!(bytes, &[0; 16]);
        bytes[3] = 7;
        store.discard(fresh.into_loan()).unwrap();
        let mut again = store.loan_chunk().unwrap().unwrap();
        // SAFETY: as above.
        let bytes = unsafe { again.bytes_mut() };
        assert_eq!(bytes[3], 7);
        store.discard(again.into_loan()).unwrap();
    }
}
