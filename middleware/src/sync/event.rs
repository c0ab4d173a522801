//! An event word for blocking waits across processes, without a system call on the
//! notifying side unless somebody actually sleeps.
//!
//! The protocol is the classic futex sequence. A waiter takes a [`Ticket`] (the counter),
//! re-checks its condition (say, "my queue is not empty"), and only if it is still false
//! announces itself in `sleepers` and sleeps on the counter *with the ticket value*. A
//! notifier first makes the condition true, then bumps the counter, then looks at
//! `sleepers` and calls `futex(FUTEX_WAKE)` only if it is non-zero.
//!
//! No lost wake-up: if the notifier reads `sleepers == 0`, its read-modify-write on
//! `sleepers` precedes the waiter's increment in that word's modification order, so (both
//! being acq-rel RMWs) the counter bump happens-before the waiter's sleep, whose atomic
//! compare in the kernel then sees a counter different from the ticket and returns at once.
//! If it reads `sleepers > 0`, it wakes. The loom test `tests/loom_event.rs` checks this.
//!
//! A waiter that dies while asleep leaves `sleepers` too high: notifications then cost a
//! syscall each but are never lost. The counter wraps after 2^32 notifications; a waiter
//! would have to miss exactly 2^32 of them between ticket and sleep to sleep wrongly, and
//! then only until the next notification or its timeout.
//!
//! ## Layout (`#[repr(C)]`, 8 bytes, 4-byte aligned)
//!
//! | word       | type  | written by                             | ordering                                       |
//! |------------|-------|----------------------------------------|------------------------------------------------|
//! | `counter`  | `u32` | notifiers (`fetch_add`)                | Release; waiters load Acquire; futex compares it |
//! | `sleepers` | `u32` | waiters (+1 before, -1 after sleeping); notifiers RMW +0 to read it | AcqRel |

use std::time::Duration;

use crate::os::futex::{self, FutexError, WaitOutcome};
use crate::os::mmap::Region;
use crate::os::process::monotonic_ns;
use crate::os::signal::{self, TerminationRequested};
use crate::sync::atomic::{AtomicU32, Ordering};
use crate::sync::layout::{LayoutError, Placement};

const NAME: &str = "event";

#[repr(C)]
struct Words {
    counter: AtomicU32,
    sleepers: AtomicU32,
}

/// Bytes an event occupies.
pub const SIZE: usize = std::mem::size_of::<Words>();
/// The alignment an event needs.
pub const ALIGN: usize = std::mem::align_of::<Words>();

/// Failure of [`Event::wait_until`].
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// Sleeping failed.
    #[error(transparent)]
    Futex(#[from] FutexError),
    /// The process was asked to terminate (SIGINT, SIGTERM; see [`crate::os::signal`]).
    #[error(transparent)]
    Terminated(#[from] TerminationRequested),
}

/// The counter value a waiter saw before checking its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u32);

/// A handle to an event word in a region.
#[derive(Debug)]
pub struct Event<R> {
    place: Placement<R>,
}

impl<R: Region> Event<R> {
    /// Initialises an event at `offset` in `region` (counter and sleepers zero).
    pub fn create(region: R, offset: usize) -> Result<Self, LayoutError> {
        let event = Self {
            place: Placement::new(NAME, region, offset, SIZE, ALIGN)?,
        };
        #[cfg(loom)]
        // SAFETY: offset 0 of the checked `SIZE`-byte, `ALIGN`-aligned placement; the event
        // is being created: this code exists only in loom models, whose tests call `create`
        // before sharing the region, so no access races with this plain write.
        unsafe {
            event.place.emplace(
                0,
                Words {
                    counter: AtomicU32::new(0),
                    sleepers: AtomicU32::new(0),
                },
            );
        }
        let words = event.words();
        words.counter.store(0, Ordering::Relaxed);
        words.sleepers.store(0, Ordering::Relaxed);
        Ok(event)
    }

    /// Opens an existing event at `offset` in `region`. Any contents are valid: a garbage
    /// counter only causes one spurious wake-up, a garbage `sleepers` only extra syscalls.
    pub fn open(region: R, offset: usize) -> Result<Self, LayoutError> {
        Ok(Self {
            place: Placement::new(NAME, region, offset, SIZE, ALIGN)?,
        })
    }

    fn words(&self) -> &Words {
        // SAFETY: offset 0 of a placement checked for `SIZE = size_of::<Words>()` bytes and
        // `ALIGN = align_of::<Words>()`; `Words` is two atomics (under loom, built by
        // `create`).
        unsafe { self.place.get::<Words>(0) }
    }

    /// Wakes every waiter, issuing the wake syscall only if one sleeps. Call it *after*
    /// making the waiters' condition true. Returns whether a syscall was made.
    pub fn notify(&self) -> Result<bool, FutexError> {
        let words = self.words();
        // SYNC(release): pairs with the acquire load in `ticket`: a waiter that sees the new
        // counter also sees the condition the caller made true before notifying.
        words.counter.fetch_add(1, Ordering::Release);
        // SYNC(acq_rel): an RMW so that it reads the latest `sleepers` in modification order,
        // and pairs with the waiter's increment in `wait` (see the module docs).
        if words.sleepers.fetch_add(0, Ordering::AcqRel) == 0 {
            return Ok(false);
        }
        futex::wake_all(&words.counter)?;
        Ok(true)
    }

    /// Takes a ticket: call it *before* checking the condition you wait for.
    pub fn ticket(&self) -> Ticket {
        // SYNC(acquire): pairs with the release `fetch_add` in `notify`.
        Ticket(self.words().counter.load(Ordering::Acquire))
    }

    /// Sleeps until a notification newer than `ticket`, at most `timeout`. Returns at once if
    /// one happened already. Spurious returns are possible: re-check the condition.
    pub fn wait(
        &self,
        ticket: Ticket,
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome, FutexError> {
        let words = self.words();
        // SYNC(acq_rel): pairs with the notifier's RMW on `sleepers` (see the module docs).
        words.sleepers.fetch_add(1, Ordering::AcqRel);
        let outcome = futex::wait(&words.counter, ticket.0, timeout);
        words.sleepers.fetch_sub(1, Ordering::Release);
        outcome
    }

    /// Sleeps until a notification newer than its ticket reaches *any* of `events`, at most
    /// `timeout`; returns at once if one happened already. The protocol of
    /// [`wait`](Self::wait), word by word: every event's `sleepers` is raised before the one
    /// `futex_waitv` sleep and lowered after it, so a notifier of any of them either sees
    /// the sleeper and wakes it, or its counter bump is seen by the kernel's compare.
    /// Spurious returns are possible: re-check the conditions. At most
    /// [`futex::WAIT_ANY_MAX`] events (more is an `EINVAL` error); none just sleeps.
    pub fn wait_any(
        events: &[(&Event<R>, Ticket)],
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome, FutexError> {
        let Some((first, _)) = events.first() else {
            return futex::wait_any(&[], timeout);
        };
        if events.len() > futex::WAIT_ANY_MAX {
            return Err(FutexError {
                operation: "waitv",
                errno: rustix::io::Errno::INVAL,
            });
        }
        let mut words = [(&first.words().counter, 0u32); futex::WAIT_ANY_MAX];
        for (slot, (event, ticket)) in words.iter_mut().zip(events) {
            let w = event.words();
            // SYNC(acq_rel): pairs with the notifier's RMW on `sleepers` (module docs).
            w.sleepers.fetch_add(1, Ordering::AcqRel);
            *slot = (&w.counter, ticket.0);
        }
        let outcome = futex::wait_any(&words[..events.len()], timeout);
        for (event, _) in events {
            event.words().sleepers.fetch_sub(1, Ordering::Release);
        }
        outcome
    }

    /// Waits until `condition` returns `Some`, at most `timeout` (`None`: forever). Returns
    /// `Ok(None)` on timeout. Follows the ticket / check / sleep sequence, so a notification
    /// sent after the condition became true is never missed. A termination request (see
    /// [`crate::os::signal`]) ends the wait with [`WaitError::Terminated`] unless the
    /// condition holds.
    pub fn wait_until<T>(
        &self,
        timeout: Option<Duration>,
        mut condition: impl FnMut() -> Option<T>,
    ) -> Result<Option<T>, WaitError> {
        let deadline = timeout.map(|t| {
            monotonic_ns().saturating_add(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
        });
        let mut yielded = false;
        loop {
            let ticket = self.ticket();
            if let Some(value) = condition() {
                return Ok(Some(value));
            }
            signal::check()?;
            if !yielded {
                // Once, before the first sleep, the CPU goes to whoever else can run here.
                // The other end, if it runs on this core (a bridge's thread beside a
                // publisher, a receiver pinned beside its sender), then runs on and makes
                // the condition true for many items at once, and neither side pays a sleep
                // and a wake-up (microseconds each) per item: a sleeper here would make
                // every notification of the other end a system call. With nobody else to
                // run, the yield returns at once.
                yielded = true;
                std::thread::yield_now();
                continue;
            }
            let remaining = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_sub(monotonic_ns()) {
                    Some(left) if left > 0 => Some(Duration::from_nanos(left)),
                    _ => return Ok(None),
                },
            };
            if self.wait(ticket, remaining)? == WaitOutcome::TimedOut {
                return Ok(condition());
            }
        }
    }

    /// Number of waiters currently announced (a snapshot, for diagnostics).
    pub fn sleepers(&self) -> u32 {
        self.words().sleepers.load(Ordering::Relaxed)
    }
}

impl<R: Region + Send + Sync + 'static> Event<std::sync::Arc<R>> {
    /// The same event word, held through an `Arc` of any region: what the waker threads of
    /// async ports keep (`port::asynchronous::waker`), whatever memory the port maps.
    pub fn to_shared(&self) -> Event<std::sync::Arc<dyn Region + Send + Sync>> {
        let place = self
            .place
            .rehandle(|r| std::sync::Arc::clone(r) as std::sync::Arc<dyn Region + Send + Sync>)
            .expect("an Arc clone is the same region");
        Event { place }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::os::mmap::HeapMapping;

    #[test]
    fn notify_without_sleepers_makes_no_syscall() {
        let heap = HeapMapping::new(64).unwrap();
        let event = Event::create(&heap, 0).unwrap();
        let ticket = event.ticket();
        assert!(!event.notify().unwrap());
        assert_ne!(event.ticket(), ticket);
        // The notification came after the ticket: no sleep.
        assert_eq!(event.wait(ticket, None).unwrap(), WaitOutcome::ValueChanged);
        assert_eq!(event.sleepers(), 0);
    }

    #[test]
    fn wait_until_times_out() {
        let heap = HeapMapping::new(64).unwrap();
        let event = Event::create(&heap, 0).unwrap();
        let got: Option<()> = event
            .wait_until(Some(Duration::from_millis(5)), || None)
            .unwrap();
        assert_eq!(got, None);
        assert_eq!(
            event.wait_until(Some(Duration::ZERO), || Some(3)).unwrap(),
            Some(3)
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "futex_waitv(2) is a system call Miri cannot run")]
    fn wait_any_sees_a_notification_on_any_event() {
        let heap = HeapMapping::new(64).unwrap();
        let a = Event::create(&heap, 0).unwrap();
        let b = Event::create(&heap, 8).unwrap();
        let tickets = (a.ticket(), b.ticket());
        // A notification after the tickets: no sleep at all.
        b.notify().unwrap();
        let outcome = Event::wait_any(
            &[(&a, tickets.0), (&b, tickets.1)],
            Some(Duration::from_secs(10)),
        )
        .unwrap();
        assert_eq!(outcome, WaitOutcome::ValueChanged);
        assert_eq!((a.sleepers(), b.sleepers()), (0, 0));
        // Nothing newer than fresh tickets: the wait times out.
        let fresh = [(&a, a.ticket()), (&b, b.ticket())];
        let outcome = Event::wait_any(&fresh, Some(Duration::from_millis(1))).unwrap();
        assert!(matches!(
            outcome,
            WaitOutcome::TimedOut | WaitOutcome::Interrupted
        ));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "sleeps in futex_waitv(2), a system call Miri cannot run"
    )]
    fn wait_any_loses_no_wakeups_under_stress() {
        const N: u32 = 20_000;
        let heap = HeapMapping::new(64).unwrap();
        let events = [
            Event::create(&heap, 0).unwrap(),
            Event::create(&heap, 8).unwrap(),
        ];
        let produced = [AtomicU32::new(0), AtomicU32::new(0)];
        std::thread::scope(|s| {
            s.spawn(|| {
                let total = |p: &[AtomicU32; 2]| {
                    p[0].load(Ordering::Acquire) + p[1].load(Ordering::Acquire)
                };
                let mut seen = 0;
                while seen < 2 * N {
                    let tickets = [
                        (&events[0], events[0].ticket()),
                        (&events[1], events[1].ticket()),
                    ];
                    let now = total(&produced);
                    if now > seen {
                        seen = now;
                        continue;
                    }
                    Event::wait_any(&tickets, None).unwrap();
                }
            });
            for i in 0..2 * N {
                let k = (i % 2) as usize;
                produced[k].fetch_add(1, Ordering::Release);
                events[k].notify().unwrap();
            }
        });
        assert_eq!(events[0].sleepers() + events[1].sleepers(), 0);
    }

    #[test]
    fn misplaced_event_is_refused() {
        let heap = HeapMapping::new(64).unwrap();
        assert!(matches!(
            Event::create(&heap, 2),
            Err(LayoutError::Misaligned { .. })
        ));
        assert!(matches!(
            Event::create(&heap, 60),
            Err(LayoutError::TooSmall { .. })
        ));
    }

    #[test]
    #[cfg_attr(miri, ignore = "sleeps in futex(2), a system call Miri cannot run")]
    fn no_lost_wakeups_under_stress() {
        const N: u32 = if cfg!(miri) { 20 } else { 20_000 };
        let heap = HeapMapping::new(64).unwrap();
        let event = Event::create(&heap, 0).unwrap();
        let produced = AtomicU32::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut seen = 0;
                while seen < N {
                    seen = event
                        .wait_until(None, || {
                            let now = produced.load(Ordering::Acquire);
                            (now > seen).then_some(now)
                        })
                        .unwrap()
                        .unwrap();
                }
            });
            for _ in 0..N {
                produced.fetch_add(1, Ordering::Release);
                event.notify().unwrap();
            }
        });
    }
}
