//! The operating-system pieces the benchmarks need beyond the transports' own APIs: core
//! pinning, a plain shared-memory region for the cache-line and futex floors, and counts of
//! shared-memory objects and file descriptors. The only module of the crate with `unsafe`.
#![allow(unsafe_code)]
// The floors measure the machine, not shmbus: they use std's atomics directly, not the
// runtime's loom-aware facade (clippy.toml points runtime code there).
#![allow(clippy::disallowed_types)]

use std::os::fd::OwnedFd;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use rustix::fs::Mode;
use rustix::mm::{MapFlags, ProtFlags};
use rustix::shm;

/// Pins the calling thread to `cpu` (the benchmark process to one core, its peer to the
/// other).
pub fn pin_to(cpu: usize) -> std::io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(())
}

/// A shared-memory object of whole 8-byte words, mapped read-write: both floors' medium.
pub struct Region {
    ptr: NonNull<AtomicU64>,
    words: usize,
    name: String,
    owner: bool,
    _fd: OwnedFd,
}

// SAFETY: the mapping is only accessed through atomics, which are `Sync`.
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` hands out only `&AtomicU64`/`&AtomicU32`.
unsafe impl Sync for Region {}

impl Region {
    /// Creates `/name` with `bytes` (rounded up to 8) zero bytes; it is unlinked on drop.
    pub fn create(name: &str, bytes: usize) -> std::io::Result<Self> {
        let fd = shm::open(
            name,
            shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
            Mode::RUSR | Mode::WUSR,
        )?;
        let words = bytes.div_ceil(8);
        rustix::fs::ftruncate(&fd, (words * 8) as u64)?;
        Self::map(fd, name, words, true)
    }

    /// Opens `/name`, created by the peer with [`Region::create`].
    pub fn open(name: &str) -> std::io::Result<Self> {
        let fd = shm::open(name, shm::OFlags::RDWR, Mode::empty())?;
        let len = rustix::fs::fstat(&fd)?.st_size as usize;
        Self::map(fd, name, len / 8, false)
    }

    fn map(fd: OwnedFd, name: &str, words: usize, owner: bool) -> std::io::Result<Self> {
        // SAFETY: mmap(2) of a shared-memory object of `words * 8` bytes (its size was set
        // by ftruncate or read by fstat) at an address the kernel chooses: no existing
        // memory is replaced. The mapping lives until `drop` unmaps it; the fd may close
        // earlier (mmap(2): closing the descriptor does not unmap the region).
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                words * 8,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        let ptr = NonNull::new(ptr.cast::<AtomicU64>()).ok_or(std::io::ErrorKind::Other)?;
        Ok(Self {
            ptr,
            words,
            name: name.to_owned(),
            owner,
            _fd: fd,
        })
    }

    /// The words of the region.
    pub fn words(&self) -> &[AtomicU64] {
        // SAFETY: the mapping is `words * 8` bytes, page-aligned (so aligned for
        // AtomicU64), readable and writable, and stays mapped while `self` lives. Every
        // access goes through atomics, so the other process writing the same words
        // concurrently is not a data race (AtomicU64 has the layout of u64, and any bit
        // pattern is a valid u64).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.words) }
    }

    /// The low half of word `i`, as a futex word.
    pub fn futex_word(&self, i: usize) -> &AtomicU32 {
        let word = &self.words()[i];
        // SAFETY: an AtomicU64 is 8-byte aligned and 8 bytes long, so its first 4 bytes are
        // a properly aligned AtomicU32 (same layout as u32) inside the mapping; it is only
        // ever accessed atomically (by this crate as a u32 futex word, never also as the
        // u64), and the borrow is tied to `self`, which keeps the mapping alive.
        unsafe { &*(word as *const AtomicU64).cast::<AtomicU32>() }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`words` are exactly the mapping made in `map`, and no reference
        // into it outlives `self` (all borrows are tied to `&self`).
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.words * 8) };
        if self.owner {
            let _ = shm::unlink(self.name.as_str());
        }
    }
}

/// Open file descriptors of this process (entries of /proc/self/fd, less the one that
/// reads it).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(0)
}

/// Objects in /dev/shm whose name starts with `prefix`: how many, the sum of their sizes,
/// and the sum of the memory the kernel allocated for them (tmpfs gives an object pages only
/// where it was written: `st_blocks`).
pub fn shm_objects(prefix: &str) -> (usize, u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let names = shmbus::os::shm::list(
        &format!("/{prefix}"),
        shmbus::os::shm::Permissions::OwnerOnly,
    )
    .unwrap_or_default();
    let (mut bytes, mut allocated) = (0, 0);
    for name in &names {
        let path = std::path::Path::new(shmbus::os::shm::SHM_DIR).join(name.file_name());
        if let Ok(m) = std::fs::metadata(path) {
            bytes += m.len();
            allocated += m.blocks() * 512;
        }
    }
    (names.len(), bytes, allocated)
}

/// Removes every object of /dev/shm whose name starts with `prefix` (what a crashed run
/// left); returns how many there were.
pub fn remove_shm_objects(prefix: &str) -> usize {
    let names = shmbus::os::shm::list(
        &format!("/{prefix}"),
        shmbus::os::shm::Permissions::OwnerOnly,
    )
    .unwrap_or_default();
    let mut n = 0;
    for name in names {
        if shmbus::os::shm::unlink(&name, shmbus::os::shm::Permissions::OwnerOnly).is_ok() {
            eprintln!("removed a left-over /dev/shm/{}", name.file_name());
            n += 1;
        }
    }
    n
}

/// Removes iceoryx2's objects of `prefix` from `/dev/shm`, whatever their mode (its
/// management object is not `0600`, so shmbus's trusted unlink would refuse it); returns
/// their names.
pub fn remove_iox_objects(prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.starts_with(prefix))
        .filter(|name| std::fs::remove_file(Path::new("/dev/shm").join(name)).is_ok())
        .collect()
}

/// CPU time this process has used, all its threads together.
pub fn process_cpu() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    std::time::Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Lets the calling thread (and threads it starts later) run on every CPU again.
pub fn unpin() -> std::io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    for cpu in 0..cpus {
        set.set(cpu);
    }
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(())
}
