//! The calling process: its pid, random ids, and the monotonic clock.

use rustix::io::Errno;

/// The calling process's id. Never use it alone to decide whether a process is alive
/// (pids are reused); that is what [`crate::os::lock`] is for.
pub fn pid() -> u32 {
    rustix::process::getpid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs()
}

/// The calling process's real user id (names the default runtime folder).
pub fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The calling process's effective user id (0: it may act for other users).
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The calling process's effective group id (the group of the files it creates).
pub fn egid() -> u32 {
    rustix::process::getegid().as_raw()
}

/// Asks process `pid` to terminate (`SIGTERM`), as a process manager does. A shmbus
/// program with [signal handling](crate::node::NodeBuilder::signal_handling) leaves its
/// loop and removes what it made.
pub fn terminate(pid: u32) -> Result<(), Errno> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or(Errno::SRCH)?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
}

/// The random source could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "could not read random bytes from the kernel (getrandom(2)): {errno}; is this kernel older than 3.17 or a sandbox blocking getrandom?"
)]
pub struct RandomError {
    /// The error from getrandom(2).
    #[source]
    pub errno: Errno,
}

/// Fills `buf` from the kernel's random source (`getrandom(2)`, blocking only until the
/// pool is initialised at boot).
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(Errno::INTR) => continue,
            Err(errno) => {
                tracing::debug!(%errno, "getrandom failed");
                return Err(RandomError { errno });
            }
        }
    }
    Ok(())
}

/// A random 64-bit value.
pub fn random_u64() -> Result<u64, RandomError> {
    let mut bytes = [0; 8];
    fill_random(&mut bytes)?;
    Ok(u64::from_ne_bytes(bytes))
}

/// A random 128-bit id: unique among the processes of one boot (and well beyond) with
/// overwhelming probability, so it names nodes without any coordination. Never zero, so
/// zero can mean "no id" in shared memory.
pub fn unique_id() -> Result<u128, RandomError> {
    loop {
        let mut bytes = [0; 16];
        fill_random(&mut bytes)?;
        let id = u128::from_ne_bytes(bytes);
        if id != 0 {
            return Ok(id);
        }
    }
}

/// Nanoseconds of `CLOCK_MONOTONIC`: the same clock in every process of one boot, never
/// going backwards, not affected by changes of the wall-clock time. Use it for timestamps
/// in sample headers and deadlines.
pub fn monotonic_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_is_ours() {
        assert_eq!(pid(), std::process::id());
    }

    #[test]
    fn ids_differ() {
        let a = unique_id().unwrap();
        let b = unique_id().unwrap();
        assert_ne!(a, b);
        assert_ne!(random_u64().unwrap(), random_u64().unwrap());
    }

    #[test]
    fn clock_is_monotonic() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a);
        assert!(a > 0);
    }
}
