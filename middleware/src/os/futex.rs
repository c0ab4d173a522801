//! Cross-process wait and wake on a 32-bit word in shared memory (`futex(2)`).
//!
//! [`wait`] sleeps only while the word still holds the value the caller expects: the kernel
//! compares and enqueues atomically, so a [`wake`] that follows a change of the word can
//! never be lost between the caller's own check and its sleep. This is the primitive under
//! [`crate::sync::event`]. The operations are `FUTEX_WAIT`/`FUTEX_WAKE` *without*
//! `FUTEX_PRIVATE_FLAG`, because waiter and waker are usually different processes mapping
//! the same object (futex(2): private futexes only work within one process).
//!
//! Under `cfg(loom)` the same API is modelled by a loom mutex and condition variable that play
//! the role of the kernel's futex hash bucket: the comparison and the sleep happen under the
//! mutex, and a wake notifies every sleeper (spurious wake-ups are allowed by futex(2) too).
//! A timed wait in the model times out at once if the value has not changed.

use std::time::Duration;

use rustix::io::Errno;

use crate::os::atomic::AtomicU32;

/// How a [`wait`] ended. Callers always re-check their condition: every outcome may be
/// spurious.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A [`wake`] (or a spurious wake-up) ended the sleep.
    Woken,
    /// The word did not hold the expected value, so the call did not sleep (`EAGAIN`).
    ValueChanged,
    /// The timeout elapsed (`ETIMEDOUT`).
    TimedOut,
    /// A signal interrupted the sleep (`EINTR`); recompute the remaining time and retry.
    Interrupted,
}

/// A futex operation failed for a reason other than the expected outcomes (for example
/// `ENOSYS` in a sandbox that forbids futex, or `EFAULT` for a bad address).
#[derive(Debug, thiserror::Error)]
#[error(
    "futex {operation} failed: {errno}; blocking waits are unavailable here (a seccomp sandbox?), use non-blocking receives"
)]
pub struct FutexError {
    /// `"wait"` or `"wake"`.
    pub operation: &'static str,
    /// The error from futex(2).
    #[source]
    pub errno: Errno,
}

#[cfg(not(loom))]
fn timespec(timeout: Duration) -> rustix::thread::futex::Timespec {
    rustix::thread::futex::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    }
}

/// Sleeps while `word` holds `expected`, at most `timeout` (relative) if given.
#[cfg(not(loom))]
pub fn wait(
    word: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
) -> Result<WaitOutcome, FutexError> {
    use rustix::thread::futex;
    let timeout = timeout.map(timespec);
    match futex::wait(word, futex::Flags::empty(), expected, timeout.as_ref()) {
        Ok(()) => Ok(WaitOutcome::Woken),
        Err(Errno::AGAIN) => Ok(WaitOutcome::ValueChanged),
        Err(Errno::TIMEDOUT) => Ok(WaitOutcome::TimedOut),
        Err(Errno::INTR) => Ok(WaitOutcome::Interrupted),
        Err(errno) => {
            tracing::debug!(%errno, "futex wait failed");
            Err(FutexError {
                operation: "wait",
                errno,
            })
        }
    }
}

/// Wakes at most `count` processes or threads sleeping on `word`; returns how many woke.
#[cfg(not(loom))]
pub fn wake(word: &AtomicU32, count: u32) -> Result<usize, FutexError> {
    use rustix::thread::futex;
    // futex(2) reads the count as a signed int: clamp so u32::MAX still means "all".
    let count = count.min(i32::MAX as u32);
    futex::wake(word, futex::Flags::empty(), count).map_err(|errno| {
        tracing::debug!(%errno, "futex wake failed");
        FutexError {
            operation: "wake",
            errno,
        }
    })
}

/// The most words one [`wait_any`] can watch (`FUTEX_WAITV_MAX` in the kernel).
pub const WAIT_ANY_MAX: usize = 128;

/// Sleeps while *every* word of `words` holds its expected value, at most `timeout`
/// (relative) if given: a wake on any of them, or a change of any of them, ends it.
///
/// This is `futex_waitv(2)` (Linux 5.16 or later) with 32-bit shared (not private) futexes
/// and an absolute `CLOCK_MONOTONIC` deadline. As with [`wait`], the kernel compares all
/// words and enqueues atomically, so a wake that follows a change is never lost. At most
/// [`WAIT_ANY_MAX`] words; an empty slice just sleeps for the timeout.
#[cfg(not(loom))]
pub fn wait_any(
    words: &[(&AtomicU32, u32)],
    timeout: Option<Duration>,
) -> Result<WaitOutcome, FutexError> {
    use rustix::thread::futex;
    if words.len() > WAIT_ANY_MAX {
        return Err(FutexError {
            operation: "waitv",
            errno: Errno::INVAL,
        });
    }
    if words.is_empty() {
        if let Some(timeout) = timeout {
            std::thread::sleep(timeout);
        }
        return Ok(WaitOutcome::TimedOut);
    }
    let mut waiters = [futex::Wait::new(); WAIT_ANY_MAX];
    for (waiter, (word, expected)) in waiters.iter_mut().zip(words) {
        waiter.val = u64::from(*expected);
        waiter.uaddr = futex::WaitPtr::new(word.as_ptr().cast());
        waiter.flags = futex::WaitFlags::SIZE_U32;
    }
    let deadline = timeout.map(|t| {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let nanos = u128::try_from(now.tv_nsec).unwrap_or(0) + t.as_nanos();
        let secs = u64::try_from(now.tv_sec)
            .unwrap_or(0)
            .saturating_add(u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX));
        futex::Timespec {
            tv_sec: i64::try_from(secs).unwrap_or(i64::MAX),
            tv_nsec: (nanos % 1_000_000_000) as i64,
        }
    });
    match futex::waitv(
        &waiters[..words.len()],
        futex::WaitvFlags::empty(),
        deadline.as_ref(),
        rustix::time::ClockId::Monotonic,
    ) {
        Ok(_) => Ok(WaitOutcome::Woken),
        Err(Errno::AGAIN) => Ok(WaitOutcome::ValueChanged),
        Err(Errno::TIMEDOUT) => Ok(WaitOutcome::TimedOut),
        Err(Errno::INTR) => Ok(WaitOutcome::Interrupted),
        Err(errno) => {
            tracing::debug!(%errno, "futex waitv failed");
            Err(FutexError {
                operation: "waitv",
                errno,
            })
        }
    }
}

/// Whether the kernel has `futex_waitv(2)` (Linux 5.16 or later; a seccomp filter may
/// also refuse it), which wait sets need: asked with a word whose value differs from the
/// expected one, so it returns at once.
#[cfg(not(loom))]
pub fn wait_any_supported() -> bool {
    let word = AtomicU32::new(0);
    !matches!(
        wait_any(&[(&word, 1)], Some(Duration::ZERO)),
        Err(FutexError {
            errno: Errno::NOSYS | Errno::PERM,
            ..
        })
    )
}

/// Sleeps while every word holds its expected value (loom model: like [`wait`]).
#[cfg(loom)]
pub fn wait_any(
    words: &[(&AtomicU32, u32)],
    timeout: Option<Duration>,
) -> Result<WaitOutcome, FutexError> {
    use crate::os::atomic::Ordering;
    let (lock, queue) = &*model::BUCKET;
    let guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if words
        .iter()
        .any(|(word, expected)| word.load(Ordering::SeqCst) != *expected)
    {
        return Ok(WaitOutcome::ValueChanged);
    }
    if timeout.is_some() {
        return Ok(WaitOutcome::TimedOut);
    }
    drop(queue.wait(guard));
    Ok(WaitOutcome::Woken)
}

#[cfg(loom)]
mod model {
    use loom::sync::{Condvar, Mutex};

    loom::lazy_static! {
        /// The model's hash bucket: one lock and one queue for every futex word.
        pub(super) static ref BUCKET: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
    }
}

/// Sleeps while `word` holds `expected` (loom model; see the module docs).
#[cfg(loom)]
pub fn wait(
    word: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
) -> Result<WaitOutcome, FutexError> {
    use crate::os::atomic::Ordering;
    let (lock, queue) = &*model::BUCKET;
    let guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if word.load(Ordering::SeqCst) != expected {
        return Ok(WaitOutcome::ValueChanged);
    }
    if timeout.is_some() {
        return Ok(WaitOutcome::TimedOut);
    }
    drop(queue.wait(guard));
    Ok(WaitOutcome::Woken)
}

/// Wakes the sleepers on `word` (loom model: all of them; see the module docs).
#[cfg(loom)]
pub fn wake(word: &AtomicU32, count: u32) -> Result<usize, FutexError> {
    let _ = (word, count);
    let (lock, queue) = &*model::BUCKET;
    let _guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    queue.notify_all();
    Ok(0)
}

/// Wakes every process or thread sleeping on `word`; returns how many woke.
pub fn wake_all(word: &AtomicU32) -> Result<usize, FutexError> {
    wake(word, u32::MAX)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::os::atomic::Ordering;
    use std::sync::Arc;

    #[test]
    fn wait_returns_at_once_when_the_value_differs() {
        let word = AtomicU32::new(1);
        assert_eq!(wait(&word, 0, None).unwrap(), WaitOutcome::ValueChanged);
    }

    #[test]
    fn wait_times_out() {
        let word = AtomicU32::new(0);
        let outcome = wait(&word, 0, Some(Duration::from_millis(1))).unwrap();
        assert!(matches!(
            outcome,
            WaitOutcome::TimedOut | WaitOutcome::Interrupted
        ));
    }

    #[test]
    fn wake_without_sleepers_wakes_nobody() {
        let word = AtomicU32::new(0);
        assert_eq!(wake_all(&word).unwrap(), 0);
    }

    #[test]
    fn wait_any_returns_at_once_when_one_value_differs() {
        let (a, b) = (AtomicU32::new(0), AtomicU32::new(7));
        let outcome = wait_any(&[(&a, 0), (&b, 6)], Some(Duration::from_secs(10))).unwrap();
        assert_eq!(outcome, WaitOutcome::ValueChanged);
    }

    #[test]
    fn wait_any_times_out() {
        let (a, b) = (AtomicU32::new(0), AtomicU32::new(0));
        let outcome = wait_any(&[(&a, 0), (&b, 0)], Some(Duration::from_millis(1))).unwrap();
        assert!(matches!(
            outcome,
            WaitOutcome::TimedOut | WaitOutcome::Interrupted
        ));
        let too_many: Vec<(&AtomicU32, u32)> = (0..=WAIT_ANY_MAX).map(|_| (&a, 0)).collect();
        assert!(wait_any(&too_many, None).is_err());
    }

    #[test]
    fn wake_on_the_second_word_ends_a_wait_any() {
        let words = Arc::new((AtomicU32::new(0), AtomicU32::new(0)));
        let sleeper = {
            let words = Arc::clone(&words);
            std::thread::spawn(move || {
                while words.1.load(Ordering::Acquire) == 0 {
                    wait_any(
                        &[(&words.0, 0), (&words.1, 0)],
                        Some(Duration::from_secs(10)),
                    )
                    .unwrap();
                }
            })
        };
        words.1.store(1, Ordering::Release);
        wake_all(&words.1).unwrap();
        sleeper.join().unwrap();
    }

    #[test]
    fn wake_ends_a_wait() {
        let word = Arc::new(AtomicU32::new(0));
        let sleeper = {
            let word = Arc::clone(&word);
            std::thread::spawn(move || {
                while word.load(Ordering::Acquire) == 0 {
                    wait(&word, 0, Some(Duration::from_secs(10))).unwrap();
                }
            })
        };
        word.store(1, Ordering::Release);
        wake_all(&word).unwrap();
        sleeper.join().unwrap();
    }
}
