//! A bounds-checked window of words and bytes in a region.
//!
//! The service layer describes its shared structures (headers, registries) as offsets; this
//! view turns an offset into an atomic word only after checking that the word lies inside
//! the window and is aligned, so safe code above this layer can never reach outside its
//! mapping, whatever offsets it computes from values another process wrote.
//!
//! Stores need a writable region ([`View::u64`] and [`View::u32`] refuse read-only ones);
//! loads work on both ([`View::load_u64`]).

use crate::os::mmap::Region;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::layout::LayoutError;

const NAME: &str = "view";

/// A checked window of `len` bytes at `offset` in a region.
#[derive(Debug, Clone)]
pub struct View<R> {
    region: R,
    offset: usize,
    len: usize,
}

impl<R: Region> View<R> {
    /// A window of `len` bytes at `offset`; the start must be 8-byte aligned.
    pub fn new(region: R, offset: usize, len: usize) -> Result<Self, LayoutError> {
        let available = region.len();
        if offset.checked_add(len).is_none_or(|end| end > available) {
            return Err(LayoutError::TooSmall {
                structure: NAME,
                offset,
                size: len,
                available,
            });
        }
        if !(region.as_ptr() as usize)
            .wrapping_add(offset)
            .is_multiple_of(8)
        {
            return Err(LayoutError::Misaligned {
                structure: NAME,
                offset,
                align: 8,
            });
        }
        Ok(Self {
            region,
            offset,
            len,
        })
    }

    /// The region the window lies in.
    pub fn region(&self) -> &R {
        &self.region
    }

    /// Length of the window in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offset of the window in its region.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn check(&self, at: usize, size: usize) -> Result<*mut u8, LayoutError> {
        if at.checked_add(size).is_none_or(|end| end > self.len) {
            return Err(LayoutError::TooSmall {
                structure: NAME,
                offset: at,
                size,
                available: self.len,
            });
        }
        if !at.is_multiple_of(size.min(8)) {
            return Err(LayoutError::Misaligned {
                structure: NAME,
                offset: at,
                align: size.min(8),
            });
        }
        // SAFETY: `offset + len <= region.len()` (checked in `new`) and `at + size <= len`,
        // so the address stays inside the region's allocation (`pointer::add`'s condition).
        Ok(unsafe { self.region.as_ptr().add(self.offset + at) })
    }

    fn writable(&self) -> Result<(), LayoutError> {
        if self.region.is_writable() {
            Ok(())
        } else {
            Err(LayoutError::ReadOnly { structure: NAME })
        }
    }

    /// The 64-bit word at byte `at` of the window, for loads and stores.
    pub fn u64(&self, at: usize) -> Result<&AtomicU64, LayoutError> {
        self.writable()?;
        let ptr = self.check(at, 8)?;
        // SAFETY: in bounds and 8-aligned (the window start is 8-aligned and `at % 8 == 0`,
        // checked above); the `Region` contract keeps the bytes allocated and initialised
        // while `self.region` lives, which outlives the borrow of `self`; any bits are a
        // valid `AtomicU64`, and concurrent access by other processes is atomic.
        Ok(unsafe { &*ptr.cast::<AtomicU64>() })
    }

    /// The 32-bit word at byte `at` of the window, for loads and stores.
    pub fn u32(&self, at: usize) -> Result<&AtomicU32, LayoutError> {
        self.writable()?;
        let ptr = self.check(at, 4)?;
        // SAFETY: as in `u64`, with 4-byte alignment.
        Ok(unsafe { &*ptr.cast::<AtomicU32>() })
    }

    /// Loads the 64-bit word at byte `at` (Acquire); works on read-only regions too.
    pub fn load_u64(&self, at: usize) -> Result<u64, LayoutError> {
        let ptr = self.check(at, 8)?;
        // SAFETY: as in `u64`. Only a load is made through the reference, which is allowed
        // on read-only memory for naturally aligned words of at most pointer size (see
        // "Atomic accesses to read-only memory" in `core::sync::atomic`).
        let word = unsafe { &*ptr.cast::<AtomicU64>() };
        // SYNC(acquire): pairs with the release stores of whoever published the word.
        Ok(word.load(Ordering::Acquire))
    }

    /// `N` consecutive 64-bit words at byte `at`, for loads and stores, with one check for
    /// all of them (a chunk header is written this way on every send).
    pub fn u64s<const N: usize>(&self, at: usize) -> Result<&[AtomicU64; N], LayoutError> {
        self.writable()?;
        let ptr = self.check(at, 8 * N)?;
        // SAFETY: `8 * N` bytes at `at` are in the window and 8-aligned (checked as in
        // `u64`); an array of `AtomicU64` has the layout of `N` consecutive words, each
        // valid for any bits; the borrow of `self` bounds the reference as in `u64`.
        Ok(unsafe { &*ptr.cast::<[AtomicU64; N]>() })
    }

    /// Loads `N` consecutive 64-bit words at byte `at` (one check), on read-only windows too.
    pub fn load_u64s<const N: usize>(&self, at: usize) -> Result<[u64; N], LayoutError> {
        let ptr = self.check(at, 8 * N)?;
        // SAFETY: as in `u64s`; only loads are made through the reference, as `load_u64`
        // argues for read-only memory.
        let words = unsafe { &*ptr.cast::<[AtomicU64; N]>() };
        // SYNC(acquire): as in `load_u64`.
        Ok(std::array::from_fn(|i| words[i].load(Ordering::Acquire)))
    }

    /// Copies `len` bytes at byte `at` out of the window (byte-wise atomic loads, so a
    /// concurrent writer cannot make this a data race; the bytes may be torn).
    pub fn read_bytes(&self, at: usize, len: usize) -> Result<Vec<u8>, LayoutError> {
        // One check for the whole range (`size` 1: no alignment needed).
        if at.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(LayoutError::TooSmall {
                structure: NAME,
                offset: at,
                size: len,
                available: self.len,
            });
        }
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            // SAFETY: `at + i < at + len <= len <= region.len() - offset` (checked above and
            // in `new`), so the address is inside the region's allocation.
            let ptr = unsafe { self.region.as_ptr().add(self.offset + at + i) };
            // SAFETY: in bounds (above); `u8` atomics need no alignment; a load only, as
            // allowed on read-only memory (see `load_u64`).
            let byte = unsafe { &*ptr.cast::<crate::sync::atomic::AtomicU8>() };
            out.push(byte.load(Ordering::Relaxed));
        }
        Ok(out)
    }

    /// Writes `bytes` at byte `at` of the window (byte-wise atomic stores).
    pub fn write_bytes(&self, at: usize, bytes: &[u8]) -> Result<(), LayoutError> {
        self.writable()?;
        for (i, b) in bytes.iter().enumerate() {
            let ptr = self.check(at + i, 1)?;
            // SAFETY: in bounds (checked), region writable (checked); `u8` atomics need no
            // alignment and any byte is a valid `AtomicU8`.
            let byte = unsafe { &*ptr.cast::<crate::sync::atomic::AtomicU8>() };
            byte.store(*b, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::os::mmap::HeapMapping;

    #[test]
    fn words_and_bytes_are_bounds_checked() {
        let heap = HeapMapping::new(128).unwrap();
        let view = View::new(&heap, 64, 64).unwrap();
        view.u64(0).unwrap().store(7, Ordering::Release);
        assert_eq!(view.load_u64(0).unwrap(), 7);
        assert!(view.u64(60).is_err());
        assert!(view.u64(4).is_err());
        assert!(view.u32(4).is_ok());
        assert!(view.load_u64(64).is_err());
        assert!(view.load_u64(usize::MAX).is_err());
        view.write_bytes(8, b"hello").unwrap();
        assert_eq!(view.read_bytes(8, 5).unwrap(), b"hello");
        assert!(view.read_bytes(60, 8).is_err());
        assert!(View::new(&heap, 64, 65).is_err());
        assert!(View::new(&heap, 4, 8).is_err());
        view.u64s::<2>(48).unwrap()[1].store(9, Ordering::Relaxed);
        assert_eq!(view.load_u64s::<2>(48).unwrap(), [0, 9]);
        assert!(view.u64s::<2>(56).is_err());
        assert!(view.load_u64s::<3>(48).is_err());
        assert!(view.load_u64s::<1>(4).is_err());
    }
}
