//! loom model of the event word: a notification sent after the condition became true is
//! never lost, whatever the interleaving (the futex is modelled in `os::futex` under loom;
//! a lost wake-up shows up as a deadlock, which loom reports).
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p shmbus --release --test loom_event`
#![cfg(loom)]

use std::sync::Arc;

use shmbus::os::mmap::HeapMapping;
use shmbus::sync::Event;
use shmbus::sync::atomic::{AtomicU32, Ordering};

/// Where the second event goes: loom's atomics are larger than the real ones.
const SECOND: usize = shmbus::sync::event::SIZE.next_multiple_of(shmbus::sync::event::ALIGN);

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[test]
fn no_lost_wakeup() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(64).unwrap());
        let event = Arc::new(Event::create(Arc::clone(&heap), 0).unwrap());
        let flag = Arc::new(AtomicU32::new(0));
        let waiter = {
            let (event, flag) = (Arc::clone(&event), Arc::clone(&flag));
            loom::thread::spawn(move || {
                event
                    .wait_until(None, || (flag.load(Ordering::Acquire) == 1).then_some(()))
                    .unwrap()
            })
        };
        flag.store(1, Ordering::Release);
        event.notify().unwrap();
        assert_eq!(waiter.join().unwrap(), Some(()));
    });
}

#[test]
fn two_waiters_two_notifications() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(64).unwrap());
        let event = Arc::new(Event::create(Arc::clone(&heap), 0).unwrap());
        let count = Arc::new(AtomicU32::new(0));
        let waiters: Vec<_> = (1..=2)
            .map(|target| {
                let (event, count) = (Arc::clone(&event), Arc::clone(&count));
                loom::thread::spawn(move || {
                    event
                        .wait_until(None, || {
                            (count.load(Ordering::Acquire) >= target).then_some(())
                        })
                        .unwrap()
                })
            })
            .collect();
        for _ in 0..2 {
            count.fetch_add(1, Ordering::Release);
            event.notify().unwrap();
        }
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), Some(()));
        }
        assert_eq!(event.sleepers(), 0);
    });
}

/// A waiter on two events at once (the `WaitSet`'s sleep) misses no notification of the
/// second one, whatever the interleaving.
#[test]
fn wait_any_no_lost_wakeup() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(2 * SECOND).unwrap());
        let first = Arc::new(Event::create(Arc::clone(&heap), 0).unwrap());
        let second = Arc::new(Event::create(Arc::clone(&heap), SECOND).unwrap());
        let flag = Arc::new(AtomicU32::new(0));
        let waiter = {
            let (first, second, flag) =
                (Arc::clone(&first), Arc::clone(&second), Arc::clone(&flag));
            loom::thread::spawn(move || {
                loop {
                    let tickets = [(&*first, first.ticket()), (&*second, second.ticket())];
                    if flag.load(Ordering::Acquire) == 1 {
                        break;
                    }
                    Event::wait_any(&tickets, None).unwrap();
                }
            })
        };
        flag.store(1, Ordering::Release);
        second.notify().unwrap();
        waiter.join().unwrap();
        assert_eq!((first.sleepers(), second.sleepers()), (0, 0));
    });
}
