//! The waker threads: threads that sleep in `futex_waitv(2)` on behalf of async tasks.
//!
//! An async task cannot sleep in the kernel itself (that would block its executor), and
//! the publisher in another process cannot reach the executor's own wake-up mechanism (an
//! eventfd, an epoll set): it only bumps an event word in shared memory ([`Event`]). So a
//! thread of ours sleeps on the words for the tasks and calls their [`Waker`]s. Nothing
//! changes for publishers: they notify the same words as for blocking waits and make the
//! wake-up system call only when the word has a sleeper, which is the case while a task
//! waits on it (its entry is *armed*: between the task's `Pending` and the wake-up), and
//! at most once more after each wake-up (the entry *lingers*, see below).
//!
//! A [`Shard`] is one such thread's table: at most [`SHARD_WORDS`] entries (one event
//! word each) plus its own control word, so one `futex_waitv` covers all. The
//! [`Reactor`] adds shards (and threads) as registrations grow: 1,000 waiting subscribers
//! take 8 threads, each asleep and costing no CPU. Threads are made on first use and stay
//! for the life of the process.
//!
//! ## No lost wake-ups
//!
//! The futex sequence of [`Event::wait`], split over two threads. The task takes a ticket
//! (the word's counter), checks its condition (a sample to take?), and if it must wait,
//! *arms* its entry with that ticket and its waker, under the shard's lock, and returns
//! `Pending`. The thread, under the same lock, first fires every armed entry whose word
//! moved past its ticket (or whose deadline passed), then snapshots the entries in its
//! sleep with their tickets, and sleeps on all of them and on the control word, whose own
//! ticket it took *before* locking. A fired entry *lingers* in the sleep with the counter
//! it fired at, until the word moves again: a task that awaits the port in a loop arms
//! it again before that, at no cost; a word that moves while nobody waits costs its
//! publisher one wake-up syscall (the thread's), and the entry leaves the sleep. Then:
//!
//! - an entry armed while the thread sleeps without it (new, or out of the sleep) makes
//!   the task bump the control word after unlocking: the thread's control ticket
//!   predates that, so its sleep ends (woken, or the kernel's compare refuses) and the
//!   next snapshot has the entry;
//! - an entry armed while already in the sleep (armed before, or lingering) keeps the
//!   thread asleep: if the new ticket equals the one being slept on, the sleep is exactly
//!   what the task wants; if it differs, the word moved since the sleep began, so the
//!   sleep ends by itself and the next turn compares against the new ticket;
//! - a notification after the task's ticket either finds the thread asleep on the word
//!   (`sleepers > 0`, so the notifier wakes it) or changes the counter before the
//!   thread's compare: either way the next turn sees the counter differ from the ticket
//!   and fires the waker.
//!
//! `tests/loom_waker.rs` checks these interleavings over this very code.

use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use crate::os::futex::{FutexError, WAIT_ANY_MAX};
use crate::os::mmap::{HeapAllocError, HeapMapping, Region};
use crate::os::process::monotonic_ns;
use crate::sync::Event;
use crate::sync::event::Ticket;

#[cfg(loom)]
use loom::sync::Mutex;
#[cfg(not(loom))]
use std::sync::Mutex;

/// An event word any port's memory can carry (a shared-memory mapping, or the heap).
pub type SharedEvent = Event<Arc<dyn Region + Send + Sync>>;

/// Entries one thread watches: `futex_waitv`'s limit less the thread's control word.
pub const SHARD_WORDS: usize = WAIT_ANY_MAX - 1;

/// Failure to start waiting asynchronously.
#[derive(Debug, thiserror::Error)]
pub enum WakerError {
    /// A waker thread could not be started.
    #[error(
        "could not start a thread to wake async tasks: {0}; the process may have reached its thread limit (ulimit -u)"
    )]
    Spawn(#[source] std::io::Error),
    /// The memory for a waker thread's control word could not be allocated.
    #[error("could not allocate a waker thread's control word: {0}")]
    Memory(#[from] HeapAllocError),
    /// The port has no usable event word (its service's memory is corrupted).
    #[error(
        "this port has no event word to wait on (its service's shared memory is unusable); poll it with receive() instead"
    )]
    NoEvent,
    /// A waker thread's sleep failed (futex_waitv(2) needs Linux 5.16 or later and no
    /// seccomp filter against it).
    #[error("the thread that wakes async tasks failed: {0}; use the blocking or polling receives")]
    Futex(#[from] FutexError),
}

/// One watched event word.
struct Entry {
    id: u64,
    event: Arc<SharedEvent>,
    /// The counter the task saw before its check (armed), or the thread saw when it fired.
    ticket: Ticket,
    /// Armed: the task waits and this wakes it.
    waker: Option<Waker>,
    /// In the thread's sleep: armed, or *lingering* — fired, and kept in the sleep with
    /// the counter it fired at until the word moves again, so that a task that waits again
    /// before that (a loop awaiting the port) needs no kick of the thread.
    in_sleep: bool,
    /// Look again at least this often although nobody notifies (a pending response whose
    /// server may die without a word).
    interval: Option<Duration>,
    /// When the armed entry fires without a notification (monotonic ns).
    deadline: Option<u64>,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    next_id: u64,
    /// The thread's sleep failed: every arm fails with this from now on.
    failed: Option<FutexError>,
    /// The thread is asked to end (tests and loom models).
    closed: bool,
}

/// The table of one waker thread (see the module docs).
pub struct Shard {
    control: SharedEvent,
    state: Mutex<State>,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("entries", &self.len())
            .finish()
    }
}

/// What a thread keeps between turns, so that a turn allocates nothing in the steady state.
#[derive(Default)]
pub struct Scratch {
    sleep: Vec<(Arc<SharedEvent>, Ticket)>,
    fire: Vec<Waker>,
}

impl Shard {
    /// An empty table.
    pub fn new() -> Result<Self, WakerError> {
        let heap: Arc<dyn Region + Send + Sync> = Arc::new(HeapMapping::new(64)?);
        let control = Event::create(heap, 0)
            .expect("offset 0 of a 64-byte heap allocation, aligned to 64, fits an event");
        Ok(Self {
            control,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> impl std::ops::DerefMut<Target = State> + '_ {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Entries in the table (armed or not).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds an unarmed entry for `event`; `None` when the table is full.
    pub fn insert(&self, event: Arc<SharedEvent>, interval: Option<Duration>) -> Option<u64> {
        let mut state = self.lock();
        if state.entries.len() >= SHARD_WORDS {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        let ticket = event.ticket();
        state.entries.push(Entry {
            id,
            event,
            ticket,
            waker: None,
            in_sleep: false,
            interval,
            deadline: None,
        });
        Some(id)
    }

    /// Removes entry `id` (a future or stream that ends or is dropped). A sleep that still
    /// covers its word ends at the word's next notification and does not come back to it.
    pub fn remove(&self, id: u64) {
        let mut state = self.lock();
        if let Some(i) = state.entries.iter().position(|e| e.id == id) {
            state.entries.swap_remove(i);
        }
    }

    /// Arms entry `id`: the task saw nothing to take after taking `ticket`, and `waker`
    /// wakes it once the word moves past `ticket` (or its interval passes).
    pub fn arm(&self, id: u64, ticket: Ticket, waker: &Waker) -> Result<(), WakerError> {
        let kick = {
            let mut state = self.lock();
            if let Some(error) = &state.failed {
                return Err(WakerError::Futex(FutexError {
                    operation: error.operation,
                    errno: error.errno,
                }));
            }
            let Some(entry) = state.entries.iter_mut().find(|e| e.id == id) else {
                return Ok(());
            };
            entry.ticket = ticket;
            match &mut entry.waker {
                Some(armed) if !armed.will_wake(waker) => armed.clone_from(waker),
                Some(_) => {}
                none => {
                    *none = Some(waker.clone());
                    entry.deadline = entry.interval.map(|i| {
                        monotonic_ns()
                            .saturating_add(u64::try_from(i.as_nanos()).unwrap_or(u64::MAX))
                    });
                }
            }
            // Already in the sleep (armed, or lingering): the thread sleeps on the ticket
            // or wakes by itself because the word moved past it (module docs).
            !std::mem::replace(&mut entry.in_sleep, true)
        };
        if kick {
            // After unlocking: the thread's control ticket predates this bump (module docs).
            self.control.notify()?;
        }
        Ok(())
    }

    /// One turn of the thread: fires the entries whose word moved or whose deadline passed,
    /// then sleeps on the armed rest and the control word. Returns `false` once closed.
    pub fn turn(&self, scratch: &mut Scratch) -> Result<bool, FutexError> {
        // Before the snapshot: an arm after the snapshot bumps it (module docs).
        let control = self.control.ticket();
        let mut next_deadline: Option<u64> = None;
        {
            let mut state = self.lock();
            if state.closed {
                return Ok(false);
            }
            let now = monotonic_ns();
            for entry in &mut state.entries {
                if !entry.in_sleep {
                    continue;
                }
                let current = entry.event.ticket();
                if current != entry.ticket || entry.deadline.is_some_and(|d| d <= now) {
                    entry.ticket = current;
                    entry.deadline = None;
                    match entry.waker.take() {
                        // Fired; it lingers in the sleep with the new counter.
                        Some(waker) => scratch.fire.push(waker),
                        // Lingering, and the word moved while nobody waited: out of the
                        // sleep, so the publisher's next notification costs no syscall.
                        None => entry.in_sleep = false,
                    }
                    continue;
                }
                if let Some(d) = entry.deadline {
                    next_deadline = Some(next_deadline.map_or(d, |n| n.min(d)));
                }
                scratch.sleep.push((Arc::clone(&entry.event), entry.ticket));
            }
        }
        let fired = !scratch.fire.is_empty();
        for waker in scratch.fire.drain(..) {
            waker.wake();
        }
        if fired {
            // Let a woken task that shares this core run before this thread goes back to
            // sleep; then look again (wakers ran for a while).
            scratch.sleep.clear();
            #[cfg(not(loom))]
            std::thread::yield_now();
            return Ok(true);
        }
        let timeout = next_deadline.map(|d| Duration::from_nanos(d.saturating_sub(monotonic_ns())));
        let result = {
            let mut words: Vec<(&SharedEvent, Ticket)> =
                Vec::with_capacity(scratch.sleep.len() + 1);
            words.push((&self.control, control));
            words.extend(scratch.sleep.iter().map(|(e, t)| (&**e, *t)));
            Event::wait_any(&words, timeout)
        };
        scratch.sleep.clear();
        result.map(|_| true)
    }

    /// Ends the thread's loop at its next turn.
    pub fn close(&self) -> Result<(), FutexError> {
        self.lock().closed = true;
        self.control.notify().map(|_| ())
    }

    /// The thread's sleep failed: every waiting task is woken (its next poll gets the
    /// error from `arm`), and so is every later one.
    fn fail(&self, error: FutexError) {
        let wakers: Vec<Waker> = {
            let mut state = self.lock();
            state.failed = Some(error);
            state
                .entries
                .iter_mut()
                .filter_map(|e| e.waker.take())
                .collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// The thread's loop: turns until closed; a failed sleep fails the shard.
    pub fn run(&self) {
        let mut scratch = Scratch::default();
        loop {
            match self.turn(&mut scratch) {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(%error, "a waker thread stopped");
                    self.fail(error);
                    return;
                }
            }
        }
    }
}

/// The shards of a process (or of a test), and the threads that turn them.
#[derive(Debug)]
pub struct Reactor {
    shards: Mutex<Vec<Arc<Shard>>>,
    /// Whether new shards get a thread (`false`: the caller turns them, in tests).
    threads: bool,
}

impl Reactor {
    /// A reactor whose shards each get a thread of their own.
    pub fn new() -> Self {
        Self {
            shards: Mutex::new(Vec::new()),
            threads: true,
        }
    }

    /// A reactor without threads: the caller turns its shards ([`Reactor::shards`]).
    pub fn manual() -> Self {
        Self {
            shards: Mutex::new(Vec::new()),
            threads: false,
        }
    }

    /// The reactor of this process, shared by every async port.
    #[cfg(not(loom))]
    pub fn global() -> &'static Reactor {
        static GLOBAL: std::sync::OnceLock<Reactor> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(Reactor::new)
    }

    /// The shards so far.
    pub fn shards(&self) -> Vec<Arc<Shard>> {
        self.shards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many waker threads this reactor has started.
    pub fn threads(&self) -> usize {
        if self.threads {
            self.shards.lock().unwrap_or_else(|p| p.into_inner()).len()
        } else {
            0
        }
    }

    /// Watches `events` for one future or stream (unarmed until it polls `Pending`).
    pub fn register(
        &self,
        events: &[Arc<SharedEvent>],
        interval: Option<Duration>,
    ) -> Result<Registration, WakerError> {
        let mut registration = Registration {
            entries: Vec::with_capacity(events.len()),
        };
        for event in events {
            let (shard, id) = self.place(event, interval)?;
            registration.entries.push((shard, id, Arc::clone(event)));
        }
        Ok(registration)
    }

    fn place(
        &self,
        event: &Arc<SharedEvent>,
        interval: Option<Duration>,
    ) -> Result<(Arc<Shard>, u64), WakerError> {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        for shard in shards.iter() {
            if let Some(id) = shard.insert(Arc::clone(event), interval) {
                return Ok((Arc::clone(shard), id));
            }
        }
        let shard = Arc::new(Shard::new()?);
        if self.threads {
            self.spawn(&shard, shards.len())?;
        }
        let id = shard
            .insert(Arc::clone(event), interval)
            .expect("a new shard has room");
        shards.push(Arc::clone(&shard));
        Ok((shard, id))
    }

    #[cfg(not(loom))]
    fn spawn(&self, shard: &Arc<Shard>, n: usize) -> Result<(), WakerError> {
        let shard = Arc::clone(shard);
        std::thread::Builder::new()
            .name(format!("shmbus-waker-{n}"))
            .stack_size(64 * 1024)
            .spawn(move || shard.run())
            .map(drop)
            .map_err(WakerError::Spawn)
    }

    #[cfg(loom)]
    fn spawn(&self, _: &Arc<Shard>, _: usize) -> Result<(), WakerError> {
        Err(WakerError::Spawn(std::io::Error::other(
            "loom models turn their shards themselves: use Reactor::manual",
        )))
    }
}

impl Default for Reactor {
    fn default() -> Self {
        Self::new()
    }
}

/// The entries of one future or stream; dropping it removes them.
pub struct Registration {
    entries: Vec<(Arc<Shard>, u64, Arc<SharedEvent>)>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("words", &self.entries.len())
            .finish()
    }
}

impl Registration {
    /// The heart of every future and stream here: takes the tickets, runs `check`, and if
    /// it finds nothing arms the entries with `waker` and returns `None` (then the caller
    /// returns `Pending`). A notification after the tickets wakes `waker` (module docs).
    pub fn poll<T>(
        &self,
        waker: &Waker,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<Option<T>, WakerError> {
        let mut tickets = [None; 2];
        for (slot, (_, _, event)) in tickets.iter_mut().zip(&self.entries) {
            *slot = Some(event.ticket());
        }
        let mut more = Vec::new();
        for (_, _, event) in self.entries.iter().skip(2) {
            more.push(event.ticket());
        }
        if let Some(value) = check() {
            return Ok(Some(value));
        }
        for (i, (shard, id, _)) in self.entries.iter().enumerate() {
            let ticket = match tickets.get(i) {
                Some(Some(t)) => *t,
                _ => more[i - 2],
            };
            shard.arm(*id, ticket, waker)?;
        }
        Ok(None)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        for (shard, id, _) in &self.entries {
            shard.remove(*id);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn heap_event() -> Arc<SharedEvent> {
        let heap: Arc<dyn Region + Send + Sync> = Arc::new(HeapMapping::new(64).unwrap());
        Arc::new(Event::create(heap, 0).unwrap())
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "the thread's sleep is futex_waitv(2), which Miri cannot run"
    )]
    fn an_armed_entry_fires_once_when_its_word_moves() {
        let reactor = Reactor::manual();
        let event = heap_event();
        let registration = reactor.register(&[Arc::clone(&event)], None).unwrap();
        let shard = &reactor.shards()[0];
        let count = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&count));
        // Nothing to take: armed, and the control word was bumped for the thread.
        assert_eq!(registration.poll(&waker, || None::<()>).unwrap(), None);
        event.notify().unwrap();
        let mut scratch = Scratch::default();
        assert!(shard.turn(&mut scratch).unwrap());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // Fired, the entry lingers in the sleep; a notification while nobody waits takes
        // it out, and from then on notifications find no sleeper: no system call.
        assert!(shard.lock().entries[0].in_sleep);
        event.notify().unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut scratch = Scratch::default();
                while shard.turn(&mut scratch).unwrap() {}
            });
            while shard.lock().entries[0].in_sleep {
                std::thread::yield_now();
            }
            shard.close().unwrap();
        });
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(!event.notify().unwrap());
        // A check that finds something returns it without arming.
        assert_eq!(registration.poll(&waker, || Some(7)).unwrap(), Some(7));
        drop(registration);
        assert!(shard.is_empty());
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "the thread's sleep is futex_waitv(2), which Miri cannot run"
    )]
    fn an_entry_with_an_interval_fires_without_a_notification() {
        let reactor = Reactor::manual();
        let registration = reactor
            .register(&[heap_event()], Some(Duration::from_millis(1)))
            .unwrap();
        let count = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&count));
        assert_eq!(registration.poll(&waker, || None::<()>).unwrap(), None);
        let shard = &reactor.shards()[0];
        let mut scratch = Scratch::default();
        // The first turn sleeps at most until the deadline, the next fires.
        while count.0.load(Ordering::SeqCst) == 0 {
            assert!(shard.turn(&mut scratch).unwrap());
        }
    }

    #[test]
    fn shards_fill_up_and_more_are_added() {
        let reactor = Reactor::manual();
        let registrations: Vec<_> = (0..SHARD_WORDS + 1)
            .map(|_| reactor.register(&[heap_event()], None).unwrap())
            .collect();
        let shards = reactor.shards();
        assert_eq!(shards.len(), 2);
        assert_eq!(shards[0].len(), SHARD_WORDS);
        assert_eq!(shards[1].len(), 1);
        assert_eq!(reactor.threads(), 0);
        drop(registrations);
        assert!(shards.iter().all(|s| s.is_empty()));
    }

    #[test]
    fn polls_arm_and_a_turn_fires_without_sleeping() {
        // What Miri checks here: the events behind `Arc<dyn Region>`, the wakers and the
        // table, with no sleep (a turn that fires returns before sleeping).
        let reactor = Reactor::manual();
        let events = [heap_event(), heap_event()];
        let registration = reactor.register(&events, None).unwrap();
        let count = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&count));
        for round in 1..=3 {
            assert_eq!(registration.poll(&waker, || None::<()>).unwrap(), None);
            events[round % 2].notify().unwrap();
            let mut scratch = Scratch::default();
            assert!(reactor.shards()[0].turn(&mut scratch).unwrap());
            assert_eq!(count.0.load(Ordering::SeqCst), round);
        }
        drop(registration);
        assert!(reactor.shards()[0].is_empty());
    }

    #[test]
    fn a_closed_shard_ends_its_thread() {
        let shard = Shard::new().unwrap();
        shard.close().unwrap();
        let mut scratch = Scratch::default();
        assert!(!shard.turn(&mut scratch).unwrap());
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "the thread's sleep is futex_waitv(2), which Miri cannot run"
    )]
    fn threads_wake_tasks_under_stress() {
        const N: usize = 20_000;
        let reactor = Reactor::new();
        let event = heap_event();
        let produced = Arc::new(AtomicUsize::new(0));
        let registration = reactor.register(&[Arc::clone(&event)], None).unwrap();
        let producer = {
            let (event, produced) = (Arc::clone(&event), Arc::clone(&produced));
            std::thread::spawn(move || {
                for _ in 0..N {
                    produced.fetch_add(1, Ordering::Release);
                    event.notify().unwrap();
                }
            })
        };
        // A thread-parking waker: the consumer sleeps until the waker thread wakes it.
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut seen = 0;
        while seen < N {
            let check = || Some(produced.load(Ordering::Acquire)).filter(|&now| now > seen);
            match registration.poll(&waker, check).unwrap() {
                Some(now) => seen = now,
                None => std::thread::park(),
            }
        }
        producer.join().unwrap();
        assert_eq!(reactor.threads(), 1);
    }
}
