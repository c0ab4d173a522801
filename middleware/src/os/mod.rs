//! The operating-system layer: the only place in shmbus that makes system calls.
//!
//! Everything above this module (the lock-free structures in [`crate::sync`], nodes,
//! services, ports) reaches the kernel through these small, safe wrappers over
//! [rustix](https://docs.rs/rustix):
//!
//! | file          | concern                                                               |
//! |---------------|-----------------------------------------------------------------------|
//! | [`atomic`]    | the atomics facade (core, or loom's models under `cfg(loom)`)          |
//! | [`trust`]     | whether an opened file, folder or object is ours (`fstat` on the fd)  |
//! | [`dir`]       | checked folders, held open; files reached relative to them, no links  |
//! | [`shm`]       | POSIX shared-memory objects: create exclusive, open checked, reserve memory, unlink, list |
//! | [`mmap`]      | mapping an object read-write or read-only; a heap stand-in for tests   |
//! | [`lock`]      | liveness tokens: a file held under an exclusive `flock` for a life     |
//! | [`futex`]     | cross-process wait/wake on a 32-bit word in shared memory              |
//! | [`signal`]    | SIGINT/SIGTERM recorded as a termination request (on request)         |
//! | [`process`]   | pid, uids, random process-unique ids, the monotonic clock              |
//! | [`system`]    | the shared-memory filesystem, file and mapping limits, the kernel      |
//! | [`thread`]    | this process's threads by name, and their scheduling policy            |
//!
//! Each operation has its own error enum whose message says what happened and what to do;
//! errors are logged with `tracing::debug!` where they are born. Nothing here panics on bad
//! input or prints.
#![allow(unsafe_code)]

pub mod atomic;
pub mod dir;
pub mod futex;
pub mod lock;
pub mod mmap;
pub mod process;
pub mod shm;
pub mod signal;
pub mod system;
pub mod thread;
pub mod trust;
