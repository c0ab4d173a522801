//! Memory that shared structures live in: a [`Mapping`] of a shared-memory object, or a
//! [`HeapMapping`] with the same interface for tests, loom and Miri.
//!
//! Both implement [`Region`], the one contract the [`crate::sync`] structures need: a base
//! address that stays valid and fixed for as long as the value lives, a length, and whether
//! the memory may be written. The structures only ever form `&Atomic*` references into a
//! region, never `&T` to plain data, because another process may write any byte at any time.
//!
//! A mapping is only as large as the object was when it was mapped: if another process
//! shrinks the object afterwards, touching the lost pages raises `SIGBUS` (mmap(2)). The
//! runtime never shrinks an object that others may have mapped.

use std::alloc::Layout;
use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::Arc;

use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};

use super::shm::{Access, SharedMemory, ShmName, ShmStatError};

/// Alignment guaranteed for the base of every region this module creates (a page on every
/// Linux target shmbus supports; at least a cache line).
pub const REGION_ALIGN: usize = 4096;

/// Memory that lives at a fixed address and can hold shared structures.
///
/// # Safety
///
/// An implementor guarantees that, for as long as the value exists:
/// - [`Region::as_ptr`] always returns the same non-null address, aligned to at least 64
///   bytes, and the `len()` bytes from it stay allocated (not unmapped, freed or moved),
///   initialised (any bit pattern) and readable;
/// - if [`Region::is_writable`] returns `true`, those bytes may also be written through the
///   pointer; if it returns `false`, writing them is forbidden;
/// - the memory may be changed concurrently by other threads or processes, so the
///   implementor itself never creates `&`/`&mut` references to its bytes as plain data.
pub unsafe trait Region {
    /// The base address of the region.
    fn as_ptr(&self) -> *mut u8;
    /// The length of the region in bytes.
    fn len(&self) -> usize;
    /// Whether the region may be written.
    fn is_writable(&self) -> bool;
    /// Whether the region is empty (never true for the regions this module creates).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// SAFETY: forwards to `R`, whose guarantees hold while the borrowed `R` lives, which is at
// least as long as the reference.
unsafe impl<R: Region + ?Sized> Region for &R {
    fn as_ptr(&self) -> *mut u8 {
        (**self).as_ptr()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
    fn is_writable(&self) -> bool {
        (**self).is_writable()
    }
}

// SAFETY: forwards to `R`; the `Arc` keeps `R` alive (and in place: `Arc` never moves its
// contents) at least as long as this handle.
unsafe impl<R: Region + ?Sized> Region for Arc<R> {
    fn as_ptr(&self) -> *mut u8 {
        (**self).as_ptr()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
    fn is_writable(&self) -> bool {
        (**self).is_writable()
    }
}

/// How a [`Mapping`] may be accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// `PROT_READ | PROT_WRITE`, `MAP_SHARED`.
    ReadWrite,
    /// `PROT_READ`, `MAP_SHARED`: this process can read what others write, never write.
    ReadOnly,
}

/// Failure of [`Mapping::new`].
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// A zero-length mapping was requested.
    #[error("cannot map 0 bytes of shared-memory object {name}; give it a size first")]
    ZeroLength {
        /// The object's name.
        name: ShmName,
    },
    /// The object is smaller than the requested mapping.
    #[error(
        "shared-memory object {name} has {actual} bytes but {requested} were to be mapped; it was not fully created or is corrupted"
    )]
    TooSmall {
        /// The object's name.
        name: ShmName,
        /// The requested length.
        requested: usize,
        /// The object's size.
        actual: u64,
    },
    /// A read-write mapping of an object opened read-only was requested.
    #[error("cannot map shared-memory object {name} read-write: it was opened read-only")]
    NotWritable {
        /// The object's name.
        name: ShmName,
    },
    /// The object's size could not be read.
    #[error(transparent)]
    Stat(#[from] ShmStatError),
    /// `mmap(2)` failed (too many mappings, out of address space, ...).
    #[error(
        "could not map {len} bytes of shared-memory object {name}: {errno}; check `ulimit -v` and vm.max_map_count"
    )]
    Os {
        /// The object's name.
        name: ShmName,
        /// The requested length.
        len: usize,
        /// The error from `mmap(2)`.
        #[source]
        errno: Errno,
    },
}

/// A shared mapping of (the start of) a shared-memory object, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    protection: Protection,
}

// SAFETY: a `Mapping` is an address range; it hands out only raw pointers, and the kernel
// lets any thread of the process access or unmap it, so moving it to another thread is fine.
unsafe impl Send for Mapping {}
// SAFETY: `&Mapping` only exposes the address, length and protection (plain values); all
// accesses to the memory go through raw pointers/atomics whose users argue their own safety.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `shm` with `protection` (`MAP_SHARED`, so writes are
    /// seen by every process that maps the object). The object must already be at least
    /// `len` bytes long. The mapping stays valid after `shm` is dropped (mmap(2)).
    pub fn new(shm: &SharedMemory, len: usize, protection: Protection) -> Result<Self, MapError> {
        let name = shm.name();
        if len == 0 {
            return Err(MapError::ZeroLength { name: name.clone() });
        }
        if protection == Protection::ReadWrite && shm.access() == Access::ReadOnly {
            return Err(MapError::NotWritable { name: name.clone() });
        }
        let actual = shm.len()?;
        if (len as u64) > actual {
            tracing::debug!(%name, len, actual, "object smaller than the requested mapping");
            return Err(MapError::TooSmall {
                name: name.clone(),
                requested: len,
                actual,
            });
        }
        let prot = match protection {
            Protection::ReadWrite => ProtFlags::READ | ProtFlags::WRITE,
            Protection::ReadOnly => ProtFlags::READ,
        };
        // SAFETY: mmap(2) with a null hint lets the kernel choose a fresh address range that
        // overlaps nothing this process uses, so no existing Rust object is affected (the
        // only precondition rustix::mm::mmap states concerns a non-null `ptr`). `len` is
        // non-zero and at most the object's size, checked above, so every mapped page is
        // backed by the object; offset 0 is page-aligned. `prot` never asks for more than the
        // fd's access mode allows (checked above).
        let ptr =
            unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, shm, 0) }
                .map_err(|errno| {
                    tracing::debug!(%name, len, %errno, "mmap failed");
                    MapError::Os {
                        name: name.clone(),
                        len,
                        errno,
                    }
                })?;
        let Some(ptr) = NonNull::new(ptr.cast::<u8>()) else {
            // mmap(2) never returns NULL on success for a null hint; refuse it anyway.
            return Err(MapError::Os {
                name: name.clone(),
                len,
                errno: Errno::NOMEM,
            });
        };
        tracing::debug!(%name, len, ?protection, "mapped shared-memory object");
        Ok(Self {
            ptr,
            len,
            protection,
        })
    }

    /// The base address (page-aligned).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapped length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: zero-length mappings are refused.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The protection the mapping was made with.
    pub fn protection(&self) -> Protection {
        self.protection
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what mmap(2) returned and was asked for, and the
        // range has not been unmapped before (only this drop does). munmap(2) requires a
        // page-aligned address (mmap returns one) and forbids nothing else; no reference into
        // the range outlives `self`, because every `Region` user borrows or owns the Mapping.
        let result = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast::<c_void>(), self.len) };
        if let Err(errno) = result {
            tracing::warn!(len = self.len, %errno, "munmap failed; the mapping leaks");
        }
    }
}

// SAFETY: the range [ptr, ptr + len) stays mapped until drop, at a page-aligned address
// (mmap(2)); mapped object pages are always initialised (zero-filled by ftruncate) and
// readable; `is_writable` is true only for PROT_WRITE mappings. `Mapping` never forms
// references into the range.
unsafe impl Region for Mapping {
    fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    fn len(&self) -> usize {
        self.len
    }
    fn is_writable(&self) -> bool {
        self.protection == Protection::ReadWrite
    }
}

/// Failure of [`HeapMapping::new`].
#[derive(Debug, thiserror::Error)]
pub enum HeapAllocError {
    /// A zero-length region was requested.
    #[error("cannot allocate a 0-byte region; ask for at least one byte")]
    ZeroLength,
    /// The length does not form a valid allocation layout, or allocation failed.
    #[error("could not allocate a {len}-byte region on the heap; ask for less memory")]
    OutOfMemory {
        /// The requested length.
        len: usize,
    },
}

/// A zeroed, page-aligned heap allocation with the [`Region`] interface, so the shared
/// structures can run (under loom and Miri too) without `shm_open`.
#[derive(Debug)]
pub struct HeapMapping {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: as for `Mapping`: an owned allocation exposed only through raw pointers.
unsafe impl Send for HeapMapping {}
// SAFETY: as for `Mapping`: `&HeapMapping` exposes only plain values.
unsafe impl Sync for HeapMapping {}

impl HeapMapping {
    /// Allocates `len` zeroed bytes aligned to [`REGION_ALIGN`].
    pub fn new(len: usize) -> Result<Self, HeapAllocError> {
        if len == 0 {
            return Err(HeapAllocError::ZeroLength);
        }
        let layout = Layout::from_size_align(len, REGION_ALIGN)
            .map_err(|_| HeapAllocError::OutOfMemory { len })?;
        // SAFETY: `layout` has a non-zero size (checked above), the one precondition of
        // `GlobalAlloc::alloc_zeroed`.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or(HeapAllocError::OutOfMemory { len })?;
        Ok(Self { ptr, layout })
    }

    /// The base address (aligned to [`REGION_ALIGN`]).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Always `false`: zero-length regions are refused.
    pub fn is_empty(&self) -> bool {
        self.layout.size() == 0
    }
}

impl Drop for HeapMapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` was returned by `alloc_zeroed(self.layout)` with this very layout and
        // is freed only here; no reference into it outlives `self` (see `Region`).
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

// SAFETY: the allocation lives, unmoved, until drop; it is aligned to REGION_ALIGN (>= 64);
// `alloc_zeroed` initialised every byte; the heap is always writable. `HeapMapping` never
// forms references into it.
unsafe impl Region for HeapMapping {
    fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    fn len(&self) -> usize {
        self.layout.size()
    }
    fn is_writable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_mapping_is_zeroed_and_aligned() {
        let heap = HeapMapping::new(100).unwrap();
        assert_eq!(heap.len(), 100);
        assert_eq!(heap.as_ptr() as usize % REGION_ALIGN, 0);
        assert!(Region::is_writable(&heap));
        assert!(matches!(
            HeapMapping::new(0),
            Err(HeapAllocError::ZeroLength)
        ));
        let arc = Arc::new(heap);
        assert_eq!(Region::len(&arc), 100);
        assert_eq!(Region::as_ptr(&&*arc), arc.as_ptr());
    }
}
