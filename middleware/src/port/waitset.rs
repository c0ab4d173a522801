//! Waiting on several ports at once.
//!
//! A [`WaitSet`] sleeps until any of its attached ports has something to take (a
//! subscriber a sample, ...), in one `futex_waitv(2)` call over the ports' event words —
//! the same words a single port's `receive_timeout` sleeps on, so publishers need nothing
//! extra and still make no system call unless somebody sleeps. No thread, no second service,
//! no allocation while waiting (the set of ready attachments is a bit mask).
//!
//! ```no_run
//! # use shmbus::{Node, Service, WaitSet};
//! # use std::time::Duration;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::builder().name("fusion").create()?;
//! let imu = Service::publish_subscribe::<u64>(&node, "robot/imu").open_or_create()?;
//! let gps = Service::publish_subscribe::<u64>(&node, "robot/gps").open_or_create()?;
//! let (imu, gps) = (imu.subscriber().create()?, gps.subscriber().create()?);
//! let mut waitset = WaitSet::new();
//! let imu_id = waitset.attach(&imu)?;
//! let gps_id = waitset.attach(&gps)?;
//! let ready = waitset.wait_timeout(Duration::from_millis(100))?;
//! if ready.contains(imu_id) {
//!     while let Some(sample) = imu.receive()? { /* ... */ let _ = *sample; }
//! }
//! if ready.contains(gps_id) {
//!     while let Some(sample) = gps.receive()? { let _ = *sample; }
//! }
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use crate::os::futex::{FutexError, WAIT_ANY_MAX, WaitOutcome};
use crate::os::mmap::Mapping;
use crate::os::process::monotonic_ns;
use crate::os::signal::{self, TerminationRequested};
use crate::sync::Event;

pub(crate) mod sealed {
    /// Only shmbus ports can be attached.
    pub trait Sealed {}
}

/// Implements [`Waitable`] for a port: `self` is bound to `$s` in the expressions giving
/// its event word (or `events:` its two words, for a port of two channels), whether it
/// is ready, optionally how often to look again, and where its async registration is kept.
macro_rules! waitable {
    (
        $({$($generics:tt)*})? $ty:ty,
        |$s:ident| event: $event:expr, $($rest:tt)*
    ) => {
        $crate::port::waitset::waitable!($({$($generics)*})? $ty, |$s| events: [$event, None], $($rest)*);
    };
    (
        $({$($generics:tt)*})? $ty:ty,
        |$s:ident| events: $events:expr, ready: $ready:expr $(, interval: $interval:expr)?,
        parked: $parked:expr $(,)?
    ) => {
        impl$(<$($generics)*>)? $crate::port::waitset::sealed::Sealed for $ty {}

        impl$(<$($generics)*>)? $crate::port::Waitable for $ty {
            fn wait_events(&self) -> [Option<&$crate::sync::Event<std::sync::Arc<$crate::os::mmap::Mapping>>>; 2] {
                let $s = self;
                $events
            }

            fn is_ready(&self) -> bool {
                let $s = self;
                $ready
            }

            $(
                fn poll_interval(&self) -> Option<std::time::Duration> {
                    $interval
                }
            )?

            fn parked(&self) -> &$crate::port::asynchronous::Parked {
                let $s = self;
                $parked
            }
        }
    };
}
pub(crate) use waitable;

/// A port a [`WaitSet`] can wait on. Implemented by the ports of this crate only.
pub trait Waitable: sealed::Sealed {
    /// The event words the port's peers notify (one, or two for a port of both channels
    /// of a service).
    #[doc(hidden)]
    fn wait_events(&self) -> [Option<&Event<std::sync::Arc<Mapping>>>; 2];
    /// Whether the port has something to take now (connects new peers first).
    #[doc(hidden)]
    fn is_ready(&self) -> bool;
    /// How often a waiter must look again although nobody notified (a pending response
    /// whose server may die without a word); `None`: only on notifications.
    #[doc(hidden)]
    fn poll_interval(&self) -> Option<Duration> {
        None
    }
    /// Where the async futures keep the port's registration with the waker threads
    /// between futures (`port::asynchronous`).
    #[doc(hidden)]
    fn parked(&self) -> &crate::port::asynchronous::Parked;
}

/// Failure of [`WaitSet::attach`].
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The set is full.
    #[error(
        "a wait set waits on at most {max} event words (the kernel's futex_waitv limit; a port has one, a monitor two); use a second wait set in another thread"
    )]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// The port has no usable event word (its service's memory is corrupted).
    #[error(
        "this port has no event word to wait on (its service's shared memory is unusable); poll it with receive() instead"
    )]
    NoEvent,
}

/// Failure of a [`WaitSet`] wait.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// Sleeping failed (futex_waitv(2) needs Linux 5.16 or later, and no seccomp filter
    /// against it).
    #[error("waiting on the wait set failed: {0}")]
    Futex(#[from] FutexError),
    /// The program was asked to terminate (SIGINT or SIGTERM with signal handling on).
    #[error(transparent)]
    Terminated(#[from] TerminationRequested),
    /// `wait_blocking` on a set without ports would never return.
    #[error(
        "the wait set has no ports attached, so a blocking wait would never end; attach a port first"
    )]
    Empty,
}

/// Which attachment a port got; test it against a [`Ready`] set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attachment(u8);

impl Attachment {
    /// Its position in the set, from 0 in the order of attaching.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The attachments that were ready when a wait returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready {
    mask: u128,
}

impl Ready {
    /// Whether `attachment` is ready.
    pub fn contains(&self, attachment: Attachment) -> bool {
        self.mask & (1u128 << attachment.0) != 0
    }

    /// Whether nothing is ready (the wait timed out).
    pub fn is_empty(&self) -> bool {
        self.mask == 0
    }

    /// How many attachments are ready.
    pub fn len(&self) -> usize {
        self.mask.count_ones() as usize
    }

    /// The ready attachments, in the order they were attached.
    pub fn iter(&self) -> impl Iterator<Item = Attachment> + '_ {
        (0..WAIT_ANY_MAX as u8)
            .map(Attachment)
            .filter(|&a| self.contains(a))
    }
}

/// Waits on several ports at once (see the module docs). Borrows the ports it watches.
#[derive(Default)]
pub struct WaitSet<'a> {
    attached: Vec<&'a dyn Waitable>,
    /// Event words of the attached ports, in all.
    events: usize,
}

impl std::fmt::Debug for WaitSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitSet")
            .field("attached", &self.attached.len())
            .finish()
    }
}

impl<'a> WaitSet<'a> {
    /// An empty wait set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Watches `port`; at most 128 event words per set (a port has one, a monitor two).
    pub fn attach(&mut self, port: &'a dyn Waitable) -> Result<Attachment, AttachError> {
        let events = port.wait_events().iter().flatten().count();
        if events == 0 {
            return Err(AttachError::NoEvent);
        }
        if self.events + events > WAIT_ANY_MAX {
            return Err(AttachError::TooMany { max: WAIT_ANY_MAX });
        }
        let id = Attachment(self.attached.len() as u8);
        self.attached.push(port);
        self.events += events;
        Ok(id)
    }

    /// How many ports are attached.
    pub fn len(&self) -> usize {
        self.attached.len()
    }

    /// Whether no port is attached.
    pub fn is_empty(&self) -> bool {
        self.attached.is_empty()
    }

    /// The ports that are ready now, without waiting.
    pub fn ready(&self) -> Ready {
        let mut mask = 0;
        for (i, port) in self.attached.iter().enumerate() {
            if port.is_ready() {
                mask |= 1u128 << i;
            }
        }
        Ready { mask }
    }

    /// Waits until a port is ready, at most `timeout`; an empty [`Ready`] on timeout.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Ready, WaitError> {
        self.wait(Some(timeout))
    }

    /// Waits until a port is ready, however long it takes.
    pub fn wait_blocking(&self) -> Result<Ready, WaitError> {
        loop {
            let ready = self.wait(None)?;
            if !ready.is_empty() {
                return Ok(ready);
            }
        }
    }

    /// The event words of the attached ports.
    fn events(&self) -> impl Iterator<Item = &Event<std::sync::Arc<Mapping>>> {
        self.attached
            .iter()
            .flat_map(|p| p.wait_events().into_iter().flatten())
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<Ready, WaitError> {
        let deadline = timeout.map(|t| {
            monotonic_ns().saturating_add(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
        });
        let Some(first) = self.events().next() else {
            return match timeout {
                Some(timeout) => {
                    std::thread::sleep(timeout);
                    Ok(Ready::default())
                }
                None => Err(WaitError::Empty),
            };
        };
        loop {
            // Tickets first, then the check, then the sleep: a notification after the check
            // changes a counter, so the kernel's compare refuses to sleep (sync::event).
            let mut tickets = [(first, first.ticket()); WAIT_ANY_MAX];
            let mut n = 0;
            for event in self.events() {
                tickets[n] = (event, event.ticket());
                n += 1;
            }
            let ready = self.ready();
            if !ready.is_empty() {
                return Ok(ready);
            }
            signal::check()?;
            let remaining = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_sub(monotonic_ns()) {
                    Some(left) if left > 0 => Some(Duration::from_nanos(left)),
                    _ => return Ok(Ready::default()),
                },
            };
            let interval = self.attached.iter().filter_map(|p| p.poll_interval()).min();
            let sleep = match (remaining, interval) {
                (Some(r), Some(i)) => Some(r.min(i)),
                (r, i) => r.or(i),
            };
            if Event::wait_any(&tickets[..n], sleep)? == WaitOutcome::TimedOut {
                let ready = self.ready();
                if !ready.is_empty() || interval.is_none() || sleep == remaining {
                    return Ok(ready);
                }
            }
        }
    }
}
