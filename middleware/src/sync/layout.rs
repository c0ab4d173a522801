//! Placing a shared structure in a [`Region`]: bounds, alignment and writability checks,
//! done once when a handle is made, so that the handle's accesses are always in bounds.

use std::mem::align_of;

use crate::os::mmap::Region;

/// Largest capacity (number of slots or chunks) a shared structure accepts. Keeps every
/// index below the sentinel values and every size computation far from overflow.
pub const MAX_CAPACITY: u32 = 1 << 30;

/// Aligns a field to its own cache line so that words written by different parties do not
/// share one (false sharing).
#[repr(C, align(64))]
#[derive(Debug)]
pub(crate) struct CachePadded<T>(pub(crate) T);

/// A structure does not fit where the caller wants to place it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The region may not be written, but the structure is written by its users.
    #[error("cannot place a {structure} in a read-only region; map the memory read-write")]
    ReadOnly {
        /// The structure's name.
        structure: &'static str,
    },
    /// `offset + size` exceeds the region.
    #[error(
        "a {structure} needs {size} bytes at offset {offset}, but the region has only {available} bytes; enlarge the region or lower the capacity"
    )]
    TooSmall {
        /// The structure's name.
        structure: &'static str,
        /// Requested offset.
        offset: usize,
        /// Bytes the structure needs.
        size: usize,
        /// Bytes the region has.
        available: usize,
    },
    /// The placement address is not aligned for the structure.
    #[error(
        "a {structure} must be placed at a multiple of {align} bytes, offset {offset} is not; round the offset up"
    )]
    Misaligned {
        /// The structure's name.
        structure: &'static str,
        /// Requested offset.
        offset: usize,
        /// Required alignment.
        align: usize,
    },
    /// The capacity is 0 or above [`MAX_CAPACITY`].
    #[error("a {structure} cannot have capacity {capacity}; use 1 to {MAX_CAPACITY}")]
    Capacity {
        /// The structure's name.
        structure: &'static str,
        /// The rejected capacity.
        capacity: u32,
    },
}

/// Rounds `offset` up to a multiple of `align` (a power of two); `None` on overflow.
pub fn align_up(offset: usize, align: usize) -> Option<usize> {
    offset.checked_add(align - 1).map(|o| o & !(align - 1))
}

/// A checked place for a structure of `size` bytes at `offset` in a region.
#[derive(Debug)]
pub(crate) struct Placement<R> {
    region: R,
    offset: usize,
}

impl<R: Region> Placement<R> {
    /// Checks that `size` bytes at `offset` fit in `region`, are aligned to `align` and are
    /// writable.
    pub(crate) fn new(
        structure: &'static str,
        region: R,
        offset: usize,
        size: usize,
        align: usize,
    ) -> Result<Self, LayoutError> {
        if !region.is_writable() {
            return Err(LayoutError::ReadOnly { structure });
        }
        let available = region.len();
        if offset.checked_add(size).is_none_or(|end| end > available) {
            return Err(LayoutError::TooSmall {
                structure,
                offset,
                size,
                available,
            });
        }
        if !(region.as_ptr() as usize)
            .wrapping_add(offset)
            .is_multiple_of(align)
        {
            return Err(LayoutError::Misaligned {
                structure,
                offset,
                align,
            });
        }
        Ok(Self { region, offset })
    }

    /// The same place through another handle `map` makes of the region (an `Arc` of a
    /// mapping as an `Arc` of any region, say); `None` if that handle is not the very same
    /// memory (base and length), so the checks of [`Placement::new`] carry over.
    pub(crate) fn rehandle<S: Region>(&self, map: impl FnOnce(&R) -> S) -> Option<Placement<S>> {
        let region = map(&self.region);
        (region.as_ptr() == self.region.as_ptr() && region.len() == self.region.len()).then_some(
            Placement {
                region,
                offset: self.offset,
            },
        )
    }

    /// A reference to the `T` at `byte_offset` from the start of this placement.
    ///
    /// # Safety
    ///
    /// - `byte_offset + size_of::<T>()` must not exceed the `size` checked in
    ///   [`Placement::new`], and `byte_offset` must keep the address aligned for `T`
    ///   (`align_of::<T>()` must divide both the checked `align` and `byte_offset`);
    /// - `T` must consist only of atomics (and padding), so that every bit pattern is a valid
    ///   `T` and concurrent writes by other threads or processes are atomic accesses, not
    ///   data races; under `cfg(loom)` the atomics must have been constructed by
    ///   [`Placement::emplace`] first.
    pub(crate) unsafe fn get<T>(&self, byte_offset: usize) -> &T {
        debug_assert_eq!(byte_offset % align_of::<T>(), 0);
        // SAFETY: `Placement::new` checked `offset + size <= region.len()`, and the caller
        // guarantees `byte_offset + size_of::<T>() <= size`, so the sum stays inside the
        // region's allocation (the requirement of `pointer::add`, Rust Reference / std docs).
        let ptr = unsafe { self.region.as_ptr().add(self.offset + byte_offset) };
        // SAFETY: the pointer is in bounds (above) and aligned (checked in `new` plus the
        // caller's promise); the `Region` contract keeps the memory allocated, initialised
        // and unmoved while `self.region` lives, which outlives the returned borrow of
        // `self`; `T` is made of atomics only (caller's promise), so any bytes are a valid
        // `T` and shared mutation through `&T` is the interior mutability atomics allow.
        unsafe { &*ptr.cast::<T>() }
    }

    /// Moves `value` into the memory at `byte_offset` (under loom, atomics are objects that
    /// must be constructed before use).
    ///
    /// # Safety
    ///
    /// The same bounds and alignment conditions as [`Placement::get`], and no other thread
    /// may access those bytes during the write (the structure is being created).
    #[cfg(loom)]
    pub(crate) unsafe fn emplace<T>(&self, byte_offset: usize, value: T) {
        // SAFETY: in bounds and aligned as argued in `get`, by the caller's promise; the
        // region is writable (checked in `new`); no concurrent access (caller's promise), so
        // this plain write cannot race. The old bytes need no drop (raw memory).
        unsafe {
            let ptr = self.region.as_ptr().add(self.offset + byte_offset);
            std::ptr::write(ptr.cast::<T>(), value);
        }
    }

    /// The region this placement lives in.
    pub(crate) fn region(&self) -> &R {
        &self.region
    }

    /// The placement's offset in its region.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::mmap::HeapMapping;

    #[test]
    fn placement_checks() {
        let heap = HeapMapping::new(256).unwrap();
        assert!(Placement::new("x", &heap, 0, 256, 64).is_ok());
        assert!(matches!(
            Placement::new("x", &heap, 8, 256, 8),
            Err(LayoutError::TooSmall { .. })
        ));
        assert!(matches!(
            Placement::new("x", &heap, usize::MAX, 2, 8),
            Err(LayoutError::TooSmall { .. })
        ));
        assert!(matches!(
            Placement::new("x", &heap, 4, 8, 8),
            Err(LayoutError::Misaligned { .. })
        ));
        assert_eq!(align_up(65, 64), Some(128));
        assert_eq!(align_up(64, 64), Some(64));
        assert_eq!(align_up(usize::MAX, 64), None);
    }
}
