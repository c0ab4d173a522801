//! Termination requests: SIGINT (Ctrl-C) and SIGTERM (a process manager) recorded instead
//! of killing the process, so that it can drop its ports and leave nothing behind.
//!
//! Nothing happens unless a program asks: [`install_termination_handler`] (called by
//! [`NodeBuilder::signal_handling`](crate::node::NodeBuilder::signal_handling)) installs,
//! once per process, a handler for both signals that only stores the signal's number in an
//! atomic word — the one thing a signal handler may safely do. Everything else reads that
//! word:
//!
//! - [`termination_requested`] says whether (and by which signal) the process was asked to
//!   stop; `Node::wait` and every blocking wait of shmbus end with
//!   [`TerminationRequested`] once it is set;
//! - the handler is installed without `SA_RESTART`, so a thread sleeping in a system call
//!   (a futex wait, a sleep) returns with `EINTR` at once and looks at the word; and with
//!   `SA_RESETHAND`, so a second Ctrl-C kills a program that does not stop;
//! - a program that has its own handler (the `ctrlc` crate, `tokio::signal`) forwards to
//!   shmbus with [`request_termination`].
//!
//! A process-directed signal interrupts one thread. Other threads of the program notice the
//! request at their next wake-up or timeout; give their blocking waits a timeout, or end
//! them from the thread that saw the request.
#![allow(clippy::disallowed_types)] // a static word of a signal handler, never in a loom model

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use rustix::io::Errno;

/// The number of the first termination signal received, 0 while none was.
static REQUESTED: AtomicU32 = AtomicU32::new(0);
/// Whether the handler was installed.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Marks a [`request_termination`] without a signal.
const BY_REQUEST: u32 = u32::MAX;

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `SIGINT`: Ctrl-C in a terminal.
    Interrupt,
    /// `SIGTERM`: a process manager or `kill`.
    Terminate,
    /// [`request_termination`] was called (the program's own handler, or its own logic).
    Request,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Interrupt => "SIGINT (Ctrl-C)",
            Self::Terminate => "SIGTERM",
            Self::Request => "a termination request",
        })
    }
}

/// The process was asked to terminate: end the loop, drop the ports, return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped by {signal}: the program was asked to terminate")]
pub struct TerminationRequested {
    /// What asked.
    pub signal: Signal,
}

/// Failure of [`install_termination_handler`].
#[derive(Debug, thiserror::Error)]
#[error("cannot install the SIGINT/SIGTERM handler (sigaction): {errno}")]
pub struct SignalError {
    /// The error from `sigaction(2)`.
    #[source]
    pub errno: Errno,
}

extern "C" fn record(signal: libc::c_int) {
    // Async-signal-safe: one lock-free atomic operation, no allocation, no lock, no errno
    // change. The first signal wins; later ones keep it.
    let _ = REQUESTED.compare_exchange(0, signal as u32, Ordering::SeqCst, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM (see the module docs); calling it again
/// does nothing. It replaces whatever handler the program had for these two signals.
pub fn install_termination_handler() -> Result<(), SignalError> {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sigaction` is plain data for which all-zero bytes are a valid value (no
        // handler, empty mask, no flags); every field we rely on is set below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // No SA_RESTART: sleeping system calls end with EINTR and look at the request.
        // SA_RESETHAND: the second signal takes its default action (a stuck program dies).
        action.sa_flags = libc::SA_RESETHAND;
        // SAFETY: `action.sa_mask` is a valid, writable `sigset_t` owned by this frame.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: `action` is fully initialised (above) and outlives the call; the old
        // action is not asked for (null). The handler `record` is an `extern "C"` function
        // that only performs an atomic operation on a static, which is async-signal-safe,
        // so it may interrupt any code of this process at any point.
        let result = unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
        if result != 0 {
            INSTALLED.store(false, Ordering::SeqCst);
            let errno = Errno::from_raw_os_error(
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            );
            tracing::debug!(signal, %errno, "sigaction failed");
            return Err(SignalError { errno });
        }
    }
    tracing::debug!("SIGINT and SIGTERM now request termination");
    Ok(())
}

/// Whether the handler of [`install_termination_handler`] is installed.
pub fn handler_installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Asks this process to terminate, as SIGTERM would with the handler installed: every
/// blocking wait of shmbus ends with [`TerminationRequested`].
pub fn request_termination() {
    let _ = REQUESTED.compare_exchange(0, BY_REQUEST, Ordering::SeqCst, Ordering::SeqCst);
}

/// Whether the process was asked to terminate, and by what. One atomic load.
pub fn termination_requested() -> Option<TerminationRequested> {
    let signal = match REQUESTED.load(Ordering::Relaxed) {
        0 => return None,
        s if s == libc::SIGINT as u32 => Signal::Interrupt,
        s if s == libc::SIGTERM as u32 => Signal::Terminate,
        _ => Signal::Request,
    };
    Some(TerminationRequested { signal })
}

/// The termination request as an error, for `?` in waiting loops.
pub fn check() -> Result<(), TerminationRequested> {
    termination_requested().map_or(Ok(()), Err)
}

/// Sleeps for `duration`, or until the process is asked to terminate.
pub fn sleep(duration: Duration) -> Result<(), TerminationRequested> {
    check()?;
    let deadline = crate::os::process::monotonic_ns()
        .saturating_add(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    loop {
        let left = deadline.saturating_sub(crate::os::process::monotonic_ns());
        if left == 0 {
            return check();
        }
        let request = rustix::thread::Timespec {
            tv_sec: i64::try_from(left / 1_000_000_000).unwrap_or(i64::MAX),
            tv_nsec: (left % 1_000_000_000) as i64,
        };
        // EINTR (a signal) or the end of the sleep: either way, look at the request.
        let _ =
            rustix::thread::clock_nanosleep_relative(rustix::thread::ClockId::Monotonic, &request);
        check()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_named() {
        assert_eq!(
            TerminationRequested {
                signal: Signal::Interrupt
            }
            .to_string(),
            "stopped by SIGINT (Ctrl-C): the program was asked to terminate"
        );
        assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
    }

    #[test]
    fn a_sleep_without_a_request_sleeps() {
        // (The request itself is process-wide: the cross-process signal tests cover it.)
        if termination_requested().is_none() {
            assert!(sleep(Duration::from_millis(1)).is_ok());
        }
    }
}
