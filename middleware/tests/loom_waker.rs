//! loom model of the async wake-up: a task that polls (ticket, check, arm) while a
//! publisher makes its condition true and notifies and a waker thread turns its shard is
//! always woken, whatever the interleaving. The code under test is the real one
//! (`port::asynchronous::waker`: `Registration::poll`, `Shard::arm`, `Shard::turn`) over
//! the real event word; a lost wake-up leaves the task waiting forever, a deadlock loom
//! reports.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p shmbus --release --test loom_waker`
#![cfg(loom)]

use std::sync::Arc;
use std::task::{Wake, Waker};

use loom::sync::{Condvar, Mutex};
use shmbus::os::mmap::{HeapMapping, Region};
use shmbus::port::asynchronous::waker::{Reactor, Scratch, SharedEvent};
use shmbus::sync::Event;
use shmbus::sync::atomic::{AtomicU32, Ordering};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// A task's waker: a flag and a condition variable the "executor" (the test's main
/// thread) sleeps on until the task is woken.
#[derive(Default)]
struct Task {
    woken: Mutex<bool>,
    wakeup: Condvar,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        *self.woken.lock().unwrap() = true;
        self.wakeup.notify_all();
    }
}

impl Task {
    /// Sleeps until woken, then clears the flag (what an executor does before polling).
    fn park(&self) {
        let mut woken = self.woken.lock().unwrap();
        while !*woken {
            woken = self.wakeup.wait(woken).unwrap();
        }
        *woken = false;
    }
}

fn event() -> Arc<SharedEvent> {
    let heap: Arc<dyn Region + Send + Sync> = Arc::new(HeapMapping::new(64).unwrap());
    Arc::new(Event::create(heap, 0).unwrap())
}

/// Runs `task` as an executor would: poll, and park until woken while it is pending,
/// with a waker thread turning the reactor's only shard; publishes `items` from a second
/// thread. The task must see them all.
fn run(items: u32) {
    let reactor = Reactor::manual();
    let event = event();
    let produced = Arc::new(AtomicU32::new(0));
    let registration = reactor.register(&[Arc::clone(&event)], None).unwrap();
    let shard = Arc::clone(&reactor.shards()[0]);
    let waker_thread = {
        let shard = Arc::clone(&shard);
        loom::thread::spawn(move || {
            let mut scratch = Scratch::default();
            while shard.turn(&mut scratch).unwrap() {}
        })
    };
    let publisher = {
        let (event, produced) = (Arc::clone(&event), Arc::clone(&produced));
        loom::thread::spawn(move || {
            for _ in 0..items {
                produced.fetch_add(1, Ordering::Release);
                event.notify().unwrap();
            }
        })
    };
    let task = Arc::new(Task::default());
    let waker = Waker::from(Arc::clone(&task));
    let mut seen = 0;
    while seen < items {
        let check = || Some(produced.load(Ordering::Acquire)).filter(|&now| now > seen);
        match registration.poll(&waker, check).unwrap() {
            Some(now) => seen = now,
            None => task.park(),
        }
    }
    publisher.join().unwrap();
    shard.close().unwrap();
    waker_thread.join().unwrap();
    drop(registration);
    assert!(shard.is_empty());
}

#[test]
fn a_waiting_task_is_woken() {
    model(|| run(1));
}

#[test]
fn a_task_that_waits_again_is_woken_again() {
    model(|| run(2));
}
